package parity

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
)

// Promise says whether two paths promise bit-identical results on a model,
// and why or why not.
type Promise struct {
	BitIdentical bool   `json:"bit_identical"`
	Why          string `json:"why"`
}

// BitIdentity returns what paths a and b promise on m. One pair promises
// bit identity: the reference path under the ggml-cpu profile and
// llama.cpp on an AVX-512 build of libggml-cpu, for a model whose every
// projection weight has a reproduced kernel (cpu.GGMLExact; BF16 also
// needs an AVX512_BF16 build). Under plain nothing does: plain backends
// agree with the float64 oracle within bounds, not with each other. Nor
// do two backends: paths on different backends (model.BackendOf; the
// same path on cpu and cuda among them) never promise bit identity, they
// are judged against the oracle. The promise depends on the numerics and
// backends the paths declare, not on the path names alone.
func BitIdentity(a, b model.Path, m *model.Model) Promise {
	if ba, bb := model.BackendOf(a), model.BackendOf(b); ba != bb {
		return Promise{Why: fmt.Sprintf("%s runs on %s and %s on %s: backends agree with the float64 oracle within bounds, never bit for bit with each other; each op is judged against its local oracle", a.Name(), ba, b.Name(), bb)}
	}
	byName := map[string]model.Path{a.Name(): a, b.Name(): b}
	ref, lc := byName["reference"], byName["llamacpp"]
	if ref == nil || lc == nil {
		return Promise{Why: fmt.Sprintf("no bit identity is promised between %s and %s: differences are reported, not failed", a.Name(), b.Name())}
	}
	if n := ref.Numerics(); n != string(backend.GGMLCPU) {
		return Promise{Why: fmt.Sprintf("the reference runs the %s numerics profile, which does not reproduce llama.cpp's kernels (%s does): differences are expected", n, backend.GGMLCPU)}
	}
	v, err := llamacpp.CPUVariant()
	switch {
	case err != nil:
		return Promise{Why: err.Error()}
	case !llamacpp.AVX512Variant(v):
		return Promise{Why: fmt.Sprintf("llama.cpp runs libggml-cpu-%s, not an AVX-512 build: differences in the last bits are expected", v)}
	}
	if bad := inexactWeights(m, llamacpp.AVX512BF16Variant(v)); len(bad) > 0 {
		return Promise{Why: "the reference does not reproduce llama.cpp's kernels for " + strings.Join(bad, ", ") + " on libggml-cpu-" + v + ": differences there are expected"}
	}
	return Promise{BitIdentical: true, Why: fmt.Sprintf("the reference under %s reproduces libggml-cpu-%s's kernels for every weight of this model", backend.GGMLCPU, v)}
}

// inexactWeights lists the matrices (as "name (type)", at most 5, then
// "…") whose matmul backend/cpu does not reproduce bit for bit; BF16 only
// with bf16 (a libggml-cpu build with AVX512_BF16).
func inexactWeights(m *model.Model, bf16 bool) []string {
	var ws []*model.Weight
	w := &m.Weights
	ws = append(ws, &w.Output)
	for i := range w.Layers {
		l := &w.Layers[i]
		ws = append(ws, &l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down)
	}
	var bad []string
	for _, x := range ws {
		if x.Data == nil || cpu.GGMLExact(x.Type, x.N) && (bf16 || x.Type != gguf.TypeBF16) {
			continue
		}
		if len(bad) == 5 {
			bad = append(bad, "…")
			break
		}
		bad = append(bad, fmt.Sprintf("%s (%v)", x.Name, x.Type))
	}
	return bad
}
