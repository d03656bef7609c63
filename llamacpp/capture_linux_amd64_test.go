package llamacpp

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// captureRun runs tokens with a hook that copies every checkpoint.
func captureRun(t *testing.T, p *Path, tokens []int32, perturb func(*model.Tensor)) (map[string]*model.Tensor, []string, []float32) {
	t.Helper()
	got := map[string]*model.Tensor{}
	var order []string
	p.SetHook(func(tt *model.Tensor) {
		if perturb != nil {
			perturb(tt)
		}
		c := *tt
		c.Data = append([]float32(nil), tt.Data...)
		got[tt.Name] = &c
		order = append(order, tt.Name)
	})
	defer p.SetHook(nil)
	p.Reset()
	logits, err := p.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got, order, logits
}

// TestCaptureGraph: for each architecture (synth tiny-llama, tiny-qwen2
// with q/k/v biases, tiny-qwen3 with q/k norms and h·hd ≠ d), the eval
// callback delivers exactly the model's checkpoint graph, in order, with
// the graph's widths: the mapping derived from model.Node.Llama finds
// every tensor, attn_proj by its input included.
func TestCaptureGraph(t *testing.T) {
	requireLib(t)
	for _, preset := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		t.Run(preset, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), preset+".gguf")
			_, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: gguf.TypeF32, Seed: 7})
			require.NoError(t, err)
			m, err := model.Open(file)
			require.NoError(t, err)
			defer m.Close()
			p, err := New(m, Options{PathOptions: model.PathOptions{Threads: 1, Ctx: 16}})
			require.NoError(t, err)
			defer p.Close()
			g := model.NewGraph(&m.Config)
			got, order, _ := captureRun(t, p, []int32{1, 2, 3}, nil)
			assert.ElementsMatch(t, g.Names(), order, "checkpoints delivered (in llama.cpp's own order)")
			for _, name := range g.Names() {
				if tt, ok := got[name]; ok {
					assert.Equal(t, g.Cols(tt.Name[strings.LastIndexByte(tt.Name, '.')+1:]), tt.Cols, "%s: width", name)
				}
			}
		})
	}
}

func TestCaptureEveryCheckpoint(t *testing.T) {
	m, p := openStories(t, Options{})
	cfg := m.Config
	tokens := []int32{1, 403, 407, 261}
	T := len(tokens)
	plain, err := p.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, order, logits := captureRun(t, p, tokens, nil)

	// Every checkpoint of the graph, in the graph's order, with its width.
	g := model.NewGraph(&cfg)
	assert.Equal(t, g.Kinds(), p.Checkpoints(), "Checkpoints()")
	assert.ElementsMatch(t, g.Names(), order, "checkpoints delivered (in llama.cpp's own order)")
	for _, name := range g.Names() {
		tt, ok := got[name]
		if !assert.True(t, ok, "checkpoint %s not delivered", name) {
			continue
		}
		node, layer, err := g.Check(name)
		require.NoError(t, err)
		w := node.Width.Of(&cfg)
		assert.Equal(t, [5]int{T, w, T * w, layer, 0}, [5]int{tt.Rows, tt.Cols, len(tt.Data), tt.Layer, tt.Pos},
			"%s: rows, cols, len(data), layer, pos", name)
	}
	for i := range plain {
		if math.Float32bits(plain[i]) != math.Float32bits(logits[i]) || math.Float32bits(got["logits"].Data[i]) != math.Float32bits(logits[i]) {
			t.Fatalf("logit %d: no hook %v, with hook %v, checkpoint %v: capture must not change results", i, plain[i], logits[i], got["logits"].Data[i])
		}
	}

	// Independent checks of the mapping, in float64 from the GGUF file.
	f := m.File
	eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon")
	if !ok {
		t.Fatal("no rms epsilon in metadata")
	}
	emb, _ := weightF64(t, f, "token_embd.weight")
	gain, _ := weightF64(t, f, "blk.0.attn_norm.weight")
	d := cfg.Dim
	var maxEmb, maxNorm float64
	for r, tok := range tokens {
		x := emb[int(tok)*d : int(tok+1)*d]
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		scale := 1 / math.Sqrt(ss/float64(d)+eps)
		for i := range d {
			maxEmb = math.Max(maxEmb, math.Abs(float64(got["embd"].Data[r*d+i])-x[i]))
			maxNorm = math.Max(maxNorm, math.Abs(float64(got["blk.0.attn_norm"].Data[r*d+i])-x[i]*scale*gain[i]))
		}
	}
	t.Logf("embd vs token_embd rows: max |Δ| = %.3g; blk.0.attn_norm vs float64 RMSNorm: max |Δ| = %.3g", maxEmb, maxNorm)
	if maxEmb != 0 || maxNorm > 2e-6 {
		t.Errorf("embd max |Δ| %g (want 0), attn_norm max |Δ| %g (want ≤ 2e-6)", maxEmb, maxNorm)
	}

	// l_out = ffn_inp + ffn_out in float32; ffn_act = silu(gate)·up.
	var maxAct float64
	for l := range cfg.Layers {
		inp, out, lo := got[model.CheckpointName("ffn_inp", l)], got[model.CheckpointName("ffn_out", l)], got[model.CheckpointName("l_out", l)]
		for i := range lo.Data {
			if inp.Data[i]+out.Data[i] != lo.Data[i] {
				t.Fatalf("layer %d: l_out[%d] = %v, ffn_inp+ffn_out = %v", l, i, lo.Data[i], inp.Data[i]+out.Data[i])
			}
		}
		g, u, a := got[model.CheckpointName("ffn_gate", l)], got[model.CheckpointName("ffn_up", l)], got[model.CheckpointName("ffn_act", l)]
		for i := range a.Data {
			x := float64(g.Data[i])
			w := x / (1 + math.Exp(-x)) * float64(u.Data[i])
			maxAct = math.Max(maxAct, math.Abs(float64(a.Data[i])-w)/(math.Abs(w)+1e-3))
		}
	}
	t.Logf("ffn_act vs silu(gate)·up: max rel = %.3g", maxAct)
	if maxAct > 1e-5 {
		t.Errorf("ffn_act max rel error %g", maxAct)
	}

	// q_rope is q rotated pairwise (2i, 2i+1) per head, layout [T, heads·hd].
	hd := cfg.HeadDim
	var maxRope float64
	for _, pair := range [][2]string{{"q", "q_rope"}, {"k", "k_rope"}} {
		for l := range cfg.Layers {
			q, qr := got[model.CheckpointName(pair[0], l)], got[model.CheckpointName(pair[1], l)]
			for r := range T {
				for h := range q.Cols / hd {
					for i := 0; i < cfg.RopeDim; i += 2 {
						th := float64(r) * math.Pow(float64(cfg.RopeBase), -float64(i)/float64(cfg.RopeDim))
						o := r*q.Cols + h*hd + i
						x0, x1 := float64(q.Data[o]), float64(q.Data[o+1])
						y0, y1 := x0*math.Cos(th)-x1*math.Sin(th), x0*math.Sin(th)+x1*math.Cos(th)
						maxRope = math.Max(maxRope, math.Max(math.Abs(float64(qr.Data[o])-y0), math.Abs(float64(qr.Data[o+1])-y1)))
					}
				}
			}
		}
	}
	t.Logf("q_rope/k_rope vs float64 RoPE of q/k: max |Δ| = %.3g", maxRope)
	if maxRope > 1e-5 {
		t.Errorf("rope max |Δ| %g", maxRope)
	}
}

func TestPerturbationPropagates(t *testing.T) {
	_, p := openStories(t, Options{})
	tokens := []int32{1, 403, 407}
	base, _, baseLogits := captureRun(t, p, tokens, nil)
	const target = "blk.2.ffn_act"
	pert, _, pertLogits := captureRun(t, p, tokens, func(tt *model.Tensor) {
		if tt.Name == target {
			for i := range tt.Data {
				tt.Data[i] *= 1.25
			}
		}
	})
	same := func(name string) bool {
		a, b := base[name].Data, pert[name].Data
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	for _, name := range []string{"blk.2.ffn_up", "blk.1.l_out", "blk.2.ffn_inp"} {
		if !same(name) {
			t.Errorf("%s changed, but it is computed before %s", name, target)
		}
	}
	for _, name := range []string{"blk.2.ffn_out", "blk.2.l_out", "blk.4.attn_norm", "logits"} {
		if same(name) {
			t.Errorf("%s unchanged after perturbing %s: the write-back did not propagate", name, target)
		}
	}
	// ffn_out = W_down·act is linear in act: scaling act by 1.25 scales it.
	var maxDiff, maxRef float64
	b, q := base["blk.2.ffn_out"].Data, pert["blk.2.ffn_out"].Data
	for i := range b {
		maxDiff = math.Max(maxDiff, math.Abs(float64(q[i])-1.25*float64(b[i])))
		maxRef = math.Max(maxRef, math.Abs(1.25*float64(b[i])))
	}
	maxRel := maxDiff / maxRef
	t.Logf("perturbed ffn_out vs 1.25·ffn_out: max |Δ| / max |ref| = %.3g", maxRel)
	if maxRel > 1e-5 {
		t.Errorf("perturbed ffn_out is not 1.25× the original (max rel %g)", maxRel)
	}
	changed := 0
	for i := range baseLogits {
		if baseLogits[i] != pertLogits[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("logits unchanged by the perturbation")
	}
}

func TestCaptureChunksAndHookPanic(t *testing.T) {
	_, p := openStories(t, Options{Batch: 2})
	type call struct{ pos, rows int }
	var logits []call
	p.SetHook(func(tt *model.Tensor) {
		if tt.Name == "logits" {
			logits = append(logits, call{tt.Pos, tt.Rows})
		}
	})
	if _, err := p.Forward([]int32{1, 403, 407, 261, 378}, 0); err != nil {
		t.Fatal(err)
	}
	if want := []call{{0, 2}, {2, 2}, {4, 1}}; len(logits) != 3 || logits[0] != want[0] || logits[1] != want[1] || logits[2] != want[2] {
		t.Errorf("logits checkpoints (pos, rows) = %v, want %v", logits, want)
	}
	p.Reset()
	p.SetHook(func(tt *model.Tensor) {
		if tt.Name == "blk.1.ffn_up" {
			panic("boom")
		}
	})
	if _, err := p.Forward([]int32{1, 403}, 0); err == nil || !strings.Contains(err.Error(), "hook panicked on blk.1.ffn_up: boom") {
		t.Fatalf("err = %v, want the hook's panic", err)
	}
	p.SetHook(nil)
	p.Reset()
	if _, err := p.Forward([]int32{1, 403}, 0); err != nil {
		t.Fatalf("forward after a panicking hook: %v", err)
	}
}
