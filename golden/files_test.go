package golden

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	gguf_parser "github.com/gpustack/gguf-parser-go"

	_ "github.com/metallic-go/metallic/dsl" // registers the "dsl" path
	"github.com/metallic-go/metallic/gguf"
	_ "github.com/metallic-go/metallic/reference" // registers the "reference" path
	"github.com/metallic-go/metallic/sample"
	"github.com/metallic-go/metallic/synth"
	"github.com/metallic-go/metallic/tokenizer"
)

// Refresh the committed goldens (after an intended numerical change) with
//
//	go test ./golden -run TestGoldenFiles -update
var update = flag.Bool("update", false, "re-record testdata/golden/*.golden.gguf")

// SynthSeed is the seed of the synthetic tiny-qwen2 model the second golden
// is recorded on; the model is rebuilt at test time and must hash to the
// recorded SHA-256 (synth is bit-reproducible).
const SynthSeed = 1

// goldenPaths are the paths every committed golden freezes.
var goldenPaths = []string{"reference", "dsl"}

// goldenFile is one committed golden.
type goldenFile struct {
	name   string
	model  func(t *testing.T) string
	prompt string
	n      int
	f16    bool
	samp   sample.Options
	// want, when set, is the generated stream the golden must hold:
	// independent truth, not something the golden recorded itself.
	want []int32
}

var goldenFiles = []goldenFile{
	{
		name:   "stories260K",
		model:  func(t *testing.T) string { return repoFile(t, "testdata/stories260K.gguf") },
		prompt: "Once upon a time", n: 16,
		// Greedy from BOS, tokens 5…20 of the stream llama2.c documents
		// (the prompt is tokens 1…4: 403 407 261 378).
		want: []int32{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337},
	},
	{
		name:   "tiny-qwen2",
		model:  synthTinyQwen2,
		prompt: "Once upon a time", n: 8, f16: true,
		// Sampled, so that the seed and sampler settings are exercised.
		samp: sample.Options{Temperature: 1.5, TopK: 40, Seed: 42},
	},
}

// rowsOf lists the tensor names of g: each path's checkpoints, gen_logits
// and tokens.
func rowsOf(g *Golden) []string {
	var names []string
	for _, r := range g.Runs {
		for _, c := range r.Checkpoints {
			names = append(names, tensorName(r.Path, c.Name))
		}
		names = append(names, tensorName(r.Path, tensorGenLogits), tensorName(r.Path, tensorTokens))
	}
	return names
}

// synthTinyQwen2 builds the synthetic model into the test's temp folder.
func synthTinyQwen2(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny-qwen2.gguf")
	if _, err := synth.WriteFile(p, synth.Options{Preset: "tiny-qwen2", DType: gguf.TypeF32, Seed: SynthSeed}); err != nil {
		t.Fatal(err)
	}
	return p
}

// promptOf tokenizes text with the model's vocabulary (BOS as it asks).
func promptOf(t *testing.T, modelFile, text string) []int32 {
	t.Helper()
	f, err := gguf.Open(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{BOS: tok.Vocab().AddBOS})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestGoldenFiles verifies the committed goldens against the reference path
// on unchanged code, and re-records them with -update.
func TestGoldenFiles(t *testing.T) {
	for _, gf := range goldenFiles {
		t.Run(gf.name, func(t *testing.T) {
			mf := gf.model(t)
			file := repoFile(t, filepath.Join("testdata", "golden", gf.name+".golden.gguf"))
			if *update {
				g, err := Record(RecordOptions{
					Model: mf, Paths: goldenPaths, Prompt: promptOf(t, mf, gf.prompt),
					PromptText: gf.prompt, N: gf.n, F16: gf.f16, Sampler: gf.samp,
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := g.WriteFile(file); err != nil {
					t.Fatal(err)
				}
			}
			st, err := os.Stat(file)
			if err != nil {
				t.Fatalf("%v (record it with go test ./golden -run TestGoldenFiles -update)", err)
			}
			if st.Size() > 1<<20 {
				t.Errorf("%s is %d bytes, keep goldens under 1 MiB", file, st.Size())
			}
			g, err := Open(file)
			if err != nil {
				t.Fatal(err)
			}
			// Any GGUF reader opens it: gguf-parser-go sees every tensor.
			pf, err := gguf_parser.ParseGGUFFile(file)
			if err != nil {
				t.Fatalf("gguf-parser-go: %v", err)
			}
			if nt := uint64(len(pf.TensorInfos)); nt != pf.Header.TensorCount || nt != uint64(len(rowsOf(g))) {
				t.Errorf("gguf-parser-go sees %d tensors (header %d), want %d", nt, pf.Header.TensorCount, len(rowsOf(g)))
			}
			if !slices.Equal(g.Meta.Paths, goldenPaths) {
				t.Errorf("golden paths %v, want %v", g.Meta.Paths, goldenPaths)
			}
			for _, r := range g.Runs {
				if gf.want != nil && !slices.Equal(r.Tokens, gf.want) {
					t.Errorf("%s: golden stream %v, want %v", r.Path, r.Tokens, gf.want)
				}
			}
			rep, err := Verify(g, VerifyOptions{Model: mf})
			var mm *ModelMismatchError
			if errors.As(err, &mm) {
				t.Fatalf("%v\nthe model changed: if that is intended, refresh with go test ./golden -run TestGoldenFiles -update", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				f := rep.FirstFailure
				t.Fatalf("regression: %s (layer %d) moved first: %s %s", f.Checkpoint, f.Layer, f.Verdict, f.Note)
			}
			// Every checkpoint each path materializes is recorded (1 + layers ×
			// kinds + output_norm + logits), then gen_logits and tokens.
			n := 0
			for _, r := range g.Runs {
				n += len(r.Checkpoints) + 2
			}
			if len(rep.Rows) != n || len(g.Runs[0].Checkpoints) < 30 {
				t.Errorf("%d rows for %d checkpoints", len(rep.Rows), n)
			}
			// The reference path promises thread-count independence: one
			// worker gives the same numbers as the default.
			rep1, err := Verify(g, VerifyOptions{Model: mf, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rep1.Rows {
				if r.Metrics != rep.Rows[i].Metrics || r.Verdict != Pass {
					t.Errorf("threads 1: %s nmse %g %s, default threads nmse %g", r.Checkpoint, float64(r.NMSE), r.Verdict, float64(rep.Rows[i].NMSE))
				}
			}
			t.Logf("%s: %d bytes, %d rows × %d positions, stream %v", file, st.Size(), n, len(g.Meta.PromptTokens), g.Runs[0].Tokens)
		})
	}
}
