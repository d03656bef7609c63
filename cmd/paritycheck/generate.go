package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
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

// genRunFlags are the flags generate and logits share: which path runs
// where, and how.
type genRunFlags struct {
	path, backend, act, spec string
	numerics                 string
	ctx, threads             int
	json                     bool
	attn                     *attnFlags
	opts                     model.PathOptions // as opened
}

func genAddRunFlags(fs *flag.FlagSet) *genRunFlags {
	r := &genRunFlags{}
	fs.StringVar(&r.path, "path", "reference", "execution path: "+strings.Join(model.PathNames(), ", "))
	fs.StringVar(&r.backend, "backend", "cpu", "backend: cpu, metal, cuda")
	fs.StringVar(&r.numerics, "numerics", "", numericsHelp)
	fs.StringVar(&r.act, "act", "f32", "activation storage (and the KV cache's unless --kv): f32 or f16")
	fs.IntVar(&r.ctx, "ctx", 0, "KV-cache capacity in positions (0 = min(context length, 4096))")
	fs.IntVar(&r.threads, "threads", 0, "cpu worker threads (0 = GOMAXPROCS); results do not depend on it, except with --flash-attn on over 512 or more cached positions, as llama.cpp's do")
	fs.StringVar(&r.spec, "spec", "", "dsl path: JSON model spec file (default: the embedded spec of the architecture)")
	fs.BoolVar(&r.json, "json", false, "print one JSON object on stdout")
	r.attn = addAttnFlags(fs)
	return r
}

// open loads the model and opens the path over it.
func (r *genRunFlags) open(arg string) (*model.Model, model.Path, error) {
	if r.act != "f32" && r.act != "f16" {
		return nil, nil, usagef("--act %q: want f32 or f16", r.act)
	}
	if r.ctx < 0 || r.threads < 0 {
		return nil, nil, usagef("--ctx and --threads must be ≥ 0")
	}
	if err := checkNumerics(r.numerics, []string{r.path}); err != nil {
		return nil, nil, err
	}
	r.opts = model.PathOptions{Backend: r.backend, Ctx: r.ctx, ActDType: r.act, Threads: r.threads, Spec: r.spec, Numerics: r.numerics}
	if err := r.attn.apply(&r.opts, []string{r.path}); err != nil {
		return nil, nil, err
	}
	file, err := modelPath(arg)
	if err != nil {
		return nil, nil, err
	}
	m, err := model.Open(file)
	if err != nil {
		return nil, nil, err
	}
	p, err := model.OpenPath(r.path, m, r.opts)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, p, nil
}

// genParseTokens parses "1,2,3" into token ids.
func genParseTokens(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, usagef("--tokens: %q is not a token id", f)
		}
		out = append(out, int32(v))
	}
	if len(out) == 0 {
		return nil, usagef("--tokens is empty")
	}
	return out, nil
}

// genCheckVocab rejects ids outside the model's vocabulary.
func genCheckVocab(ids []int32, vocab int) error {
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("token id %d (index %d) is outside the vocabulary 0…%d", id, i, vocab-1)
		}
	}
	return nil
}

type generateOutput struct {
	PromptTokens []int32 `json:"prompt_tokens"`
	Tokens       []int32 `json:"tokens"`
	Text         string  `json:"text"`
	PrefillTokS  float64 `json:"prefill_tok_s"`
	DecodeTokS   float64 `json:"decode_tok_s"`
	Path         string  `json:"path"`
	Backend      string  `json:"backend"`
	Act          string  `json:"act"`
	Numerics     string  `json:"numerics"` // what the path declares: plain, ggml-cpu or llamacpp
	Stopped      string  `json:"stopped"`
	attnJSON
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", generateUsage, stderr)
	run := genAddRunFlags(fs)
	prompt := fs.String("prompt", "", "prompt text (tokenized with the model's vocabulary; BOS when it asks)")
	tokens := fs.String("tokens", "", "prompt token ids, comma-separated")
	n := fs.Int("n", 32, "tokens to generate")
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
	if *prompt != "" && *tokens != "" {
		return usagef("--prompt and --tokens are exclusive")
	}
	if *chat && *prompt == "" {
		return usagef("--chat needs --prompt")
	}
	if *n < 0 {
		return usagef("-n %d must be ≥ 0", *n)
	}
	sopts := sample.Options{Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
		RepeatPenalty: float32(*penalty), RepeatLastN: *lastN, Seed: *seed}
	if err := sopts.Validate(); err != nil {
		return usagef("%v", err)
	}
	var ids []int32
	if *tokens != "" {
		if ids, err = genParseTokens(*tokens); err != nil {
			return err
		}
	}
	m, p, err := run.open(arg)
	if err != nil {
		return err
	}
	defer m.Close()
	defer p.Close()
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
	if err := genCheckVocab(ids, m.Config.Vocab); err != nil {
		return err
	}
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
	fmt.Fprintf(stderr, "%s/%s/%s, numerics %s: prefill %d tokens %.1f tok/s, decode %d tokens %.1f tok/s\n", p.Name(), run.backend, run.act,
		p.Numerics(), len(res.PromptTokens), res.PrefillTokPerSec(), len(res.Tokens), res.DecodeTokPerSec())
	if e := model.EngineOf(p); e != nil {
		fmt.Fprintln(stderr, e)
	}
	if run.json {
		return writeJSON(stdout, generateOutput{
			PromptTokens: res.PromptTokens, Tokens: nonNil(res.Tokens), Text: text,
			PrefillTokS: res.PrefillTokPerSec(), DecodeTokS: res.DecodeTokPerSec(),
			Path: p.Name(), Backend: run.backend, Act: run.act, Numerics: p.Numerics(), Stopped: res.Stopped, attnJSON: attnOf(p, run.opts),
		})
	}
	if strings.HasPrefix(text, printed) {
		fmt.Fprint(stdout, text[len(printed):])
	}
	fmt.Fprintln(stdout)
	return nil
}

// nonNil makes an empty list print as [] rather than null.
func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
