package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/reference" // registers the "reference" path
	"github.com/metallic-go/metallic/sample"
	"github.com/metallic-go/metallic/tokenizer"
)

func init() {
	register(command{
		name:    "generate",
		summary: "generate text with one path, streaming it (tok/s on stderr)",
		run:     runGenerate,
	})
}

const generateUsage = `generate [MODEL] [--prompt S | --tokens 1,2] [-n N] [--path P] [--backend B] [--numerics plain|ggml-cpu]
       [--temp T --top-k K --top-p P --min-p M --repeat-penalty R --seed S] [--chat]
       [--ctx N] [--act f32|f16] [--kv f32|f16] [--flash-attn on|off] [--threads N] [--ignore-eos] [--json]`

// genRunFlags are the flags generate, logits and bench share: which path
// runs where, and how.
type genRunFlags struct {
	path, backend, act, spec string
	numerics                 string
	ctx, threads             *int
	json                     bool
	attn                     *attnFlags
	opts                     model.PathOptions // as opened (openPath)
	ref                      model.PathRef     // --path with its backend (scope)
}

func genAddRunFlags(fs *flag.FlagSet) *genRunFlags {
	r := &genRunFlags{threads: new(int)}
	fs.StringVar(&r.path, "path", "reference", "execution path: "+strings.Join(model.PathNames(), ", ")+"; PATH@BACKEND names its backend (dsl@cuda)")
	fs.StringVar(&r.backend, "backend", "cpu", "backend of --path when it names none: cpu, metal, cuda")
	fs.StringVar(&r.numerics, "numerics", "", numericsHelp)
	fs.StringVar(&r.act, "act", "f32", "activation storage (and the KV cache's unless --kv): f32 or f16")
	r.ctx = countVar(fs, "ctx", 0, 0, fmt.Sprintf("KV-cache capacity in `N` positions, at most the model's context length (0 = min(context length, %d))", model.MaxDefaultCtx))
	threadsVar(fs, r.threads, 0, threadsFlashNote)
	fs.StringVar(&r.spec, "spec", "", "dsl path: JSON model spec file (default: the embedded spec of the architecture)")
	fs.BoolVar(&r.json, "json", false, "print one JSON object on stdout")
	r.attn = addAttnFlags(fs)
	return r
}

// scope checks the values of --path, --numerics, --kv and --flash-attn
// and returns the run's scope for checkScope; the sampler fields are the
// caller's.
func (r *genRunFlags) scope() (runScope, error) {
	ref, err := model.ParsePathRef(r.path, r.backend)
	if err != nil {
		return runScope{}, usagef("--path %q: %v", r.path, err)
	}
	r.ref = ref
	if err := checkNumerics(r.numerics); err != nil {
		return runScope{}, err
	}
	if err := r.attn.check(); err != nil {
		return runScope{}, err
	}
	return runScope{Paths: []string{r.path}, Backend: r.backend, Numerics: r.numerics, FlashAttn: r.attn.on(), JSON: r.json}, nil
}

// options returns the path options of the flags (the backend of --path).
func (r *genRunFlags) options() model.PathOptions {
	o := model.PathOptions{Backend: r.ref.Backend, Ctx: *r.ctx, ActDType: r.act, Threads: *r.threads, Spec: r.spec, Numerics: r.numerics}
	r.attn.set(&o)
	return o
}

// openModel checks --act and loads the model (MODEL or the embedded one).
func (r *genRunFlags) openModel(arg string) (*model.Model, error) {
	if r.act != "f32" && r.act != "f16" {
		return nil, usagef("--act %q: want f32 or f16", r.act)
	}
	file, err := modelPath(arg)
	if err != nil {
		return nil, err
	}
	return model.Open(file)
}

// openPath checks the run's sizes against the model (checkSizes: s.Opts and
// s.Paths are filled here) and opens the path.
func (r *genRunFlags) openPath(m *model.Model, s runSizes) (model.Path, error) {
	s.Opts, s.Paths = r.options(), 1
	if err := checkSizes(&m.Config, s); err != nil {
		return nil, err
	}
	r.opts = s.Opts
	return model.OpenPath(r.ref.Path, m, s.Opts)
}

type generateOutput struct {
	PromptTokens []int32 `json:"prompt_tokens"`
	Tokens       []int32 `json:"tokens"`
	Text         string  `json:"text"`
	PrefillTokS  float64 `json:"prefill_tok_s"`
	DecodeTokS   float64 `json:"decode_tok_s"`
	Path         string  `json:"path"`
	Backend      string  `json:"backend"`
	// Provenance is the backend's line (model.DescribeBackend).
	Provenance string `json:"provenance"`
	Act        string `json:"act"`
	Numerics   string `json:"numerics"` // what the path declares: plain, ggml-cpu or llamacpp
	// StopReason says why generation ended: "length" (-n tokens),
	// "eos" (the end-of-sequence token) or "context" (the KV cache of
	// --ctx positions is full). Stopped is its older name.
	StopReason string `json:"stop_reason"`
	Stopped    string `json:"stopped"`
	attnJSON
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", generateUsage, stderr)
	run := genAddRunFlags(fs)
	prompt := fs.String("prompt", "", "prompt text (tokenized with the model's vocabulary; BOS when it asks)")
	var tokens tokensValue
	fs.Var(&tokens, "tokens", "prompt token `ids`, comma-separated")
	n := countVar(fs, "n", 32, 0, "`N` tokens to generate, at most; generation stops earlier at end-of-sequence or when the context (--ctx) is full")
	chat := fs.Bool("chat", false, "wrap --prompt in the model's chat template as a user message")
	ignoreEOS := fs.Bool("ignore-eos", false, "keep generating after the end-of-sequence token")
	temp := fs.Float64("temp", 0, "sampling temperature (0 = greedy)")
	topK := fs.Int("top-k", 0, "top-k (0 = off)")
	topP := fs.Float64("top-p", 0, "top-p (0 or 1 = off)")
	minP := fs.Float64("min-p", 0, "min-p (0 = off)")
	penalty := fs.Float64("repeat-penalty", 0, "repetition penalty (0 or 1 = off)")
	lastN := fs.Int("repeat-last-n", 0, "repetition penalty window (0 = 64, -1 = all)")
	seed := fs.Uint64("seed", 0, "sampler seed")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("generate", pos)
	if err != nil {
		return err
	}
	sopts := sample.Options{Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
		RepeatPenalty: float32(*penalty), RepeatLastN: *lastN, Seed: *seed}
	if err := sopts.Validate(); err != nil {
		return usagef("%v", err)
	}
	scope, err := run.scope()
	if err != nil {
		return err
	}
	scope.Generates, scope.Greedy, scope.Penalty = *n > 0, sopts.Greedy(), penaltyOn(sopts.RepeatPenalty)
	if err := checkScope(fs, scope); err != nil {
		return err
	}
	if *chat && *prompt == "" {
		return usagef("--chat needs --prompt")
	}
	m, err := run.openModel(arg)
	if err != nil {
		return err
	}
	defer m.Close()
	ids := tokens.ids
	tok, tokErr := tokenizer.FromGGUF(m.File)
	switch {
	case ids != nil:
	case tokErr != nil:
		return fmt.Errorf("prompt text needs the model's vocabulary: %w", tokErr)
	default:
		text := *prompt
		special := false
		if *chat {
			if text, err = tok.ApplyChat([]tokenizer.Message{{Role: "user", Content: text}}, true); err != nil {
				return err
			}
			special = true
		}
		if ids, err = tok.Encode(text, tokenizer.EncodeOptions{BOS: tok.Vocab().AddBOS, Special: special}); err != nil {
			return err
		}
		if len(ids) == 0 {
			if tok.BOS() < 0 {
				return usagef("the prompt is empty and the vocabulary has no BOS: give --prompt or --tokens")
			}
			ids = []int32{tok.BOS()}
		}
	}
	if err := checkVocab(ids, m.Config.Vocab); err != nil {
		return err
	}
	p, err := run.openPath(m, runSizes{Prompt: len(ids), Generate: *n, StopAtContext: true})
	if err != nil {
		return err
	}
	defer p.Close()
	// Stream text as tokens arrive: print the new suffix of the decoded
	// text whenever it is valid UTF-8 and extends what was printed.
	var out []int32
	printed := ""
	stream := func() {
		if tok == nil || run.json {
			return
		}
		s, err := tok.Decode(out)
		if err == nil && utf8.ValidString(s) && strings.HasPrefix(s, printed) {
			fmt.Fprint(stdout, s[len(printed):])
			printed = s
		}
	}
	gopts := model.GenerateOptions{MaxTokens: *n, Sampler: sopts, OnToken: func(id int32) {
		out = append(out, id)
		stream()
	}}
	if tok != nil && tok.EOS() >= 0 && !*ignoreEOS {
		gopts.StopAtEOS, gopts.EOS = true, tok.EOS()
	}
	res, err := model.Generate(p, ids, gopts)
	if err != nil {
		return err
	}
	text := ""
	if tok != nil {
		text, _ = tok.Decode(res.Tokens)
	}
	fmt.Fprintf(stderr, "%s/%s/%s, numerics %s: prefill %d tokens %.1f tok/s, decode %d tokens %.1f tok/s\n", p.Name(), run.ref.Backend, run.act,
		p.Numerics(), len(res.PromptTokens), res.PrefillTokPerSec(), len(res.Tokens), res.DecodeTokPerSec())
	if e := model.EngineOf(p); e != nil {
		fmt.Fprintln(stderr, e)
	} else {
		fmt.Fprintf(stderr, "backend: %s\n", model.DescribeBackend(p))
	}
	if res.Stopped == "context" {
		ctx, _ := model.ContextSize(&m.Config, run.opts)
		fmt.Fprintf(stderr, "paritycheck: stopped at the context: the %d-token prompt and %d generated tokens fill --ctx %d (asked for -n %d; the model allows --ctx up to %d)\n",
			len(res.PromptTokens), len(res.Tokens), ctx, *n, m.Config.ContextLen)
	}
	if run.json {
		return writeJSON(stdout, generateOutput{
			PromptTokens: res.PromptTokens, Tokens: nonNil(res.Tokens), Text: text,
			PrefillTokS: res.PrefillTokPerSec(), DecodeTokS: res.DecodeTokPerSec(),
			Path: p.Name(), Backend: run.ref.Backend, Provenance: model.DescribeBackend(p), Act: run.act, Numerics: p.Numerics(), StopReason: res.Stopped, Stopped: res.Stopped,
			attnJSON: attnOf(p, run.opts),
		})
	}
	if strings.HasPrefix(text, printed) {
		fmt.Fprint(stdout, text[len(printed):])
	}
	fmt.Fprintln(stdout)
	return nil
}

// penaltyOn reports whether a repetition penalty changes anything (0 and
// 1 are off).
func penaltyOn(p float32) bool { return p != 0 && p != 1 }

// nonNil makes an empty list print as [] rather than null.
func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
