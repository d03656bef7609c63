package dsl

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// runCalls runs a 5-token prefill and two decode steps and returns every
// call's logits and every checkpoint the hook saw, by full name.
func runCalls(t *testing.T, e *Executor) ([][]float32, map[string][]float32, []string) {
	t.Helper()
	got := map[string][]float32{}
	var order []string
	e.SetHook(func(x *model.Tensor) {
		if _, ok := got[x.Name]; !ok {
			order = append(order, x.Name)
		}
		got[x.Name] = append(got[x.Name], x.Data...)
	})
	var logits [][]float32
	for _, c := range []struct {
		toks []int32
		pos  int
	}{{[]int32{1, 40, 7, 12, 90}, 0}, {[]int32{61}, 5}, {[]int32{3}, 6}} {
		lg, err := e.Forward(c.toks, c.pos)
		if err != nil {
			t.Fatal(err)
		}
		logits = append(logits, lg)
	}
	return logits, got, order
}

// On the CPU the unfused program computes bit for bit what the fused one
// does (its temporaries are float32, as the fused kernels' registers),
// for every architecture, weight dtype, activation storage and numerics
// profile (plain runs the tiled GEMM form for the 5-token prefill), and
// materializes the stage checkpoints its steps define.
func TestUnfusedEqualsFused(t *testing.T) {
	cases := []struct {
		name     string
		m        func() *model.Model
		act, num string
		stages   []string // some stage checkpoints it must materialize
	}{
		{"stories260K/f32/plain", func() *model.Model { return openStories(t) }, "f32", "plain",
			[]string{"blk.0.q.rmsnorm", "blk.0.q.gemv", "blk.0.v.gemv", "blk.4.ffn_inp.gemv", "blk.4.ffn_inp.residual",
				"blk.1.ffn_act.rmsnorm", "blk.1.ffn_act.gemv_gate", "blk.1.ffn_act.gemv_up", "blk.1.ffn_act.swiglu",
				"blk.2.l_out.gemv", "blk.2.l_out.residual", "logits.rmsnorm", "logits.gemv"}},
		{"stories260K/f16/ggml-cpu", func() *model.Model { return openStories(t) }, "f16", "ggml-cpu", []string{"blk.3.q.gemv"}},
		{"qwen2/Q8_0/f32/ggml-cpu", func() *model.Model { return tinyOf("qwen2", gguf.TypeQ8_0).open(t) }, "f32", "ggml-cpu",
			[]string{"blk.0.q.bias", "blk.1.v.bias", "blk.1.k.gemv"}},
		{"qwen2/F16/f16/plain", func() *model.Model { return tinyOf("qwen2", gguf.TypeF16).open(t) }, "f16", "plain", []string{"blk.1.v.bias"}},
		{"qwen3/Q4_K/f32/plain", func() *model.Model { return tinyOf("qwen3", gguf.TypeQ4_K).open(t) }, "f32", "plain",
			[]string{"blk.0.q_rope.rmsnorm", "blk.0.q_rope.rope", "blk.1.k_rope.rmsnorm", "blk.1.k_rope.rope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.m()
			opts := model.PathOptions{Ctx: 16, ActDType: c.act, Numerics: c.num}
			fused, err := New(m, Options{PathOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer fused.Close()
			opts.Unfuse = true
			unf, err := New(m, Options{PathOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer unf.Close()
			if unf.Name() != "dsl-unfused" || fused.Name() != "dsl" {
				t.Fatalf("names %q, %q", fused.Name(), unf.Name())
			}
			// The unfused program materializes every checkpoint of the
			// fused one, and may materialize more: a kernel that fuses a
			// checkpoint away (rmsnorm_qkv_rope's q and k) stores it
			// between its stages when unfused.
			for _, k := range fused.Checkpoints() {
				if !slices.Contains(unf.Checkpoints(), k) {
					t.Fatalf("checkpoint kinds: unfused %v lacks %s of fused %v", unf.Checkpoints(), k, fused.Checkpoints())
				}
			}
			lf, cf, _ := runCalls(t, fused)
			lu, cu, order := runCalls(t, unf)
			for i := range lf {
				for j := range lf[i] {
					if math.Float32bits(lf[i][j]) != math.Float32bits(lu[i][j]) {
						t.Fatalf("call %d logit %d: unfused %g, fused %g", i, j, lu[i][j], lf[i][j])
					}
				}
			}
			for name, v := range cf {
				if !slices.Equal(v, cu[name]) {
					t.Errorf("checkpoint %s differs between the fused and unfused runs", name)
				}
			}
			stages := map[string]model.Stage{}
			for _, s := range unf.Stages() {
				stages[s.Name] = s
				if _, ok := cu[s.Name]; !ok {
					t.Errorf("stage %s declared, never materialized", s.Name)
				}
				if s.Op == "" {
					t.Errorf("stage %s has no graph op", s.Name)
				}
			}
			unfKinds := unf.Checkpoints()
			for _, n := range order {
				if _, ok := cf[n]; !ok {
					kind, _, err := model.ParseCheckpoint(n)
					if _, ok := stages[n]; !ok && (err != nil || !slices.Contains(unfKinds, kind)) {
						t.Errorf("materialized %s is neither a checkpoint nor a declared stage", n)
					}
				}
			}
			for _, want := range c.stages {
				if _, ok := stages[want]; !ok {
					t.Errorf("no stage %s (have %d stages)", want, len(stages))
				}
			}
			// Every stage comes before the checkpoint it belongs to.
			at := map[string]int{}
			for i, n := range order {
				at[n] = i
			}
			for _, s := range stages {
				if at[s.Name] > at[s.Of] {
					t.Errorf("stage %s materialized after %s", s.Name, s.Of)
				}
				if !strings.HasPrefix(s.Name, s.Of+".") {
					t.Errorf("stage %s does not belong to %s", s.Name, s.Of)
				}
			}
			if len(fused.Stages()) != 0 {
				t.Errorf("the fused executor declares %d stages", len(fused.Stages()))
			}
		})
	}
}
