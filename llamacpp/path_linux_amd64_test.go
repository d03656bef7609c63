package llamacpp

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// golden48 is stories260K's greedy continuation of BOS (internal/testenv,
// with its provenance: this package's TestGreedyGolden is what shows that
// llama.cpp reproduces it).
var golden48 = testenv.StoriesGreedy()

func TestPinned(t *testing.T) {
	requireLib(t)
	info, err := Info()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(info)
	for _, want := range []string{PinLlamaVersion, PinGGMLVersion, PinGGMLCommit} {
		if !strings.Contains(info, want) {
			t.Errorf("Info() = %q, want it to name %q", info, want)
		}
	}
}

func TestGreedyGolden(t *testing.T) {
	_, p := openStories(t, Options{})
	res, err := model.Generate(p, []int32{1}, model.GenerateOptions{MaxTokens: len(golden48)})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range golden48 {
		if res.Tokens[i] != want {
			t.Fatalf("token %d = %d, want %d (got %v)", i, res.Tokens[i], want, res.Tokens)
		}
	}
	text, err := p.Vocab().Detokenize(res.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimPrefix(text, " ") != strings.TrimPrefix(testenv.StoriesGreedyText, " ") {
		t.Errorf("text = %q", text)
	}
	// Same stream with our sampler driving one-token forwards by hand.
	p.Reset()
	logits, err := p.Forward([]int32{1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range golden48[:8] {
		got := sample.Greedy(logits)
		if got != want {
			t.Fatalf("manual step %d = %d, want %d", i, got, want)
		}
		if logits, err = p.Forward([]int32{got}, i+1); err != nil {
			t.Fatal(err)
		}
	}
}

// directLogits runs tokens through llama.cpp with a C call sequence made
// here (its own symbol lookups and struct set-up), not through Path.
func directLogits(t *testing.T, file string, tokens []int32, threads int) []float32 {
	t.Helper()
	l, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	h, err := purego.Dlopen(l.dir+"/"+fileLlama, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mdp     func() modelParams
		cdp     func() contextParams
		loadM   func(string, modelParams) unsafe.Pointer
		freeM   func(unsafe.Pointer)
		initC   func(unsafe.Pointer, contextParams) unsafe.Pointer
		freeC   func(unsafe.Pointer)
		decode  func(unsafe.Pointer, batch) int32
		logits  func(unsafe.Pointer) unsafe.Pointer
		vocab   func(unsafe.Pointer) unsafe.Pointer
		nTokens func(unsafe.Pointer) int32
	)
	purego.RegisterLibFunc(&mdp, h, "llama_model_default_params")
	purego.RegisterLibFunc(&cdp, h, "llama_context_default_params")
	purego.RegisterLibFunc(&loadM, h, "llama_model_load_from_file")
	purego.RegisterLibFunc(&freeM, h, "llama_model_free")
	purego.RegisterLibFunc(&initC, h, "llama_init_from_model")
	purego.RegisterLibFunc(&freeC, h, "llama_free")
	purego.RegisterLibFunc(&decode, h, "llama_decode")
	purego.RegisterLibFunc(&logits, h, "llama_get_logits")
	purego.RegisterLibFunc(&vocab, h, "llama_model_get_vocab")
	purego.RegisterLibFunc(&nTokens, h, "llama_vocab_n_tokens")

	mp := mdp()
	mp.NGPULayers = 0
	m := loadM(file, mp)
	if m == nil {
		t.Fatal("direct: model load failed")
	}
	defer freeM(m)
	cp := cdp()
	cp.NCtx, cp.NBatch, cp.NUbatch = 64, 64, 64
	cp.NThreads, cp.NThreadsBatch = int32(threads), int32(threads)
	cp.FlashAttnType = 0
	cp.TypeK, cp.TypeV = 0, 0
	cp.Embeddings = false
	ctx := initC(m, cp)
	if ctx == nil {
		t.Fatal("direct: context failed")
	}
	defer freeC(ctx)
	// A batch filled here, asking for the logits of every position.
	nv := int(nTokens(vocab(m)))
	toks := append([]int32(nil), tokens...)
	pos := make([]int32, len(toks))
	nseq := make([]int32, len(toks))
	seq0 := make([]int32, 1)
	seqs := make([]unsafe.Pointer, len(toks))
	want := make([]int8, len(toks))
	for i := range toks {
		pos[i], nseq[i], seqs[i], want[i] = int32(i), 1, unsafe.Pointer(&seq0[0]), 1
	}
	b := batch{NTokens: int32(len(toks)), Token: unsafe.Pointer(&toks[0]), Pos: unsafe.Pointer(&pos[0]),
		NSeqID: unsafe.Pointer(&nseq[0]), SeqID: unsafe.Pointer(&seqs[0]), Logits: unsafe.Pointer(&want[0])}
	if rc := decode(ctx, b); rc != 0 {
		t.Fatalf("direct: llama_decode = %d", rc)
	}
	out := append([]float32(nil), unsafe.Slice((*float32)(logits(ctx)), len(toks)*nv)...)
	return out
}

func TestLogitsMatchDirectCAPI(t *testing.T) {
	_, p := openStories(t, Options{PathOptions: model.PathOptions{Threads: 1, Ctx: 64}})
	tokens := []int32{1, 403, 407, 261, 378, 432}
	got, err := p.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := directLogits(t, storiesPath(t), tokens, 1)
	if len(got) != len(want) || len(got) != len(tokens)*512 {
		t.Fatalf("len = %d, direct %d, want %d", len(got), len(want), len(tokens)*512)
	}
	diff := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			diff++
		}
	}
	if diff != 0 {
		t.Fatalf("%d of %d logits differ bitwise from the direct C API sequence", diff, len(got))
	}
	t.Logf("%d logits bit-identical; logits[0][403] = %v", len(got), got[403])
}

func TestForwardIncrementalAndReset(t *testing.T) {
	_, p := openStories(t, Options{})
	tokens := []int32{1, 403, 407, 261, 378}
	full, err := p.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Reset()
	again, err := p.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		if math.Float32bits(full[i]) != math.Float32bits(again[i]) {
			t.Fatalf("after Reset logit %d = %v, first run %v", i, again[i], full[i])
		}
	}
	// One token at a time, and in chunks of 2 (Batch = 2): the same up to
	// kernel differences between batch sizes.
	_, q := openStories(t, Options{Batch: 2})
	var inc []float32
	for i, tok := range tokens {
		row, err := p.forwardAt(t, tok, i)
		if err != nil {
			t.Fatal(err)
		}
		inc = append(inc, row...)
	}
	chunked, err := q.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, other := range map[string][]float32{"incremental": inc, "batch 2": chunked} {
		var maxd float64
		for i := range full {
			maxd = math.Max(maxd, math.Abs(float64(full[i]-other[i])))
		}
		t.Logf("%s vs one call: max |Δlogit| = %.3g", name, maxd)
		if maxd > 1e-4 {
			t.Errorf("%s logits differ from one call by %g", name, maxd)
		}
	}
}

// forwardAt resets before position 0 and runs one token.
func (p *Path) forwardAt(t *testing.T, tok int32, pos int) ([]float32, error) {
	t.Helper()
	if pos == 0 {
		p.Reset()
	}
	return p.Forward([]int32{tok}, pos)
}

func TestForwardErrors(t *testing.T) {
	_, p := openStories(t, Options{PathOptions: model.PathOptions{Ctx: 8}})
	cases := []struct {
		name   string
		tokens []int32
		pos    int
		want   string
	}{
		{"empty", nil, 0, "no tokens"},
		{"wrong pos", []int32{1}, 3, "position 3"},
		{"negative id", []int32{1, -1}, 0, "out of range"},
		{"id too big", []int32{512}, 0, "out of range"},
		{"too long", make([]int32, 9), 0, "exceed the context"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Forward(c.tokens, c.pos)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := p.Forward([]int32{1, 2}, 0); err != nil {
		t.Fatalf("valid forward after errors: %v", err)
	}
}

func TestThreadsDeterministic(t *testing.T) {
	tokens := []int32{1, 403, 407, 261, 378, 432, 383, 286}
	var runs [][]float32
	for _, th := range []int{1, 2} {
		_, p := openStories(t, Options{PathOptions: model.PathOptions{Threads: th}})
		l, err := p.Forward(tokens, 0)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, l)
	}
	for i := range runs[0] {
		if math.Float32bits(runs[0][i]) != math.Float32bits(runs[1][i]) {
			t.Fatalf("logit %d: 1 thread %v, 2 threads %v", i, runs[0][i], runs[1][i])
		}
	}
}

// embdRow returns row id of token_embd as float64.
func weightF64(t *testing.T, f *gguf.File, name string) ([]float64, []int64) {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	out := make([]float64, ti.Elements())
	if err := gguf.DequantizeF64(ti.Type, f.Data(ti), out); err != nil {
		t.Fatal(err)
	}
	return out, ti.Shape
}
