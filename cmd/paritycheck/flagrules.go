package main

// Flag rules: one mechanism, for every command, that decides whether the
// flags a user set apply to the run, and one parser per kind of value.
//
// A command defines its flags on a FlagSet from newFlags (the shared ones
// with the helpers below: threadsVar, countVar, tokensValue), parses them
// with parseFlags and, once it knows what it will run, describes the run as
// a runScope and calls checkScope before doing any work. checkScope visits
// the flags the user set (flag.FlagSet.Visit: defaults never count) and
//   - refuses a flag whose rule in flagRules says it does not apply to this
//     run: `--spec` without the dsl path, `--top-k` with greedy decoding,
//     `--threads` on a GPU backend, … (exit 2, naming the flag and why);
//   - refuses two flags of an exclusive pair given together (exclusiveFlags).
//
// A flag without a rule applies wherever a command defines it (--html,
// --plot, --junit, --out: they name outputs). To make a new flag
// conditional, register its rule once, next to the code that defines the
// flag, and add to runScope what the rule needs to know (every command
// fills runScope in one place, so a new field is set everywhere):
//
//	func init() {
//		registerFlagRule("kv", flagRule{
//			why:     "it sets the KV cache of the paths, and no path runs",
//			applies: func(s *runScope) bool { return len(s.Paths) > 0 },
//		})
//	}
//
// A rule whose reason depends on the run gives whyNot instead (--flash-attn:
// model.CheckFlashAttn names the path that has no flash kernel). The rules
// of the flags of later issues live beside them: --numerics and
// --allow-numerics-change in numerics.go, --kv and --flash-attn in
// attnflags.go; --threads covers every backend (cpu, cuda, metal) through
// runScope.cpu.
//
// Values are checked as they are parsed, by the flag types, so every
// command refuses the same input with the same words:
//   - threadsVar (--threads): 0 = all cores (GOMAXPROCS), else 1…maxThreads;
//   - countVar (-n, --ctx, --prompt-len, --decode, --reps): a whole number
//     ≥ its minimum (sizes.go then checks it against the model and memory);
//   - tokensValue (--tokens): comma-separated ids; given empty it is an
//     error in every command (--tokens "" never means "start from BOS").

import (
	"errors"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// runScope describes what a run will do, as far as flag rules care.
type runScope struct {
	// Paths are the paths that will run, after defaults, as named: PATH or
	// PATH@BACKEND (model.ParsePathRef); none when the backend runs on its
	// own (ops).
	Paths []string
	// Backend is --backend: the backend of the paths named without one
	// ("cpu" when empty); the llamacpp path always runs on ggml's CPU
	// backend.
	Backend string
	// Numerics is the --numerics profile given ("" when none: each
	// backend's default, backend.DefaultNumerics).
	Numerics string
	// FlashAttn is true with --flash-attn on.
	FlashAttn bool
	// Generates is true when tokens are generated (sampler flags apply).
	Generates bool
	// Greedy is true when generation takes the top logit (--temp 0): the
	// seed and the top-k / top-p / min-p filters then change nothing.
	Greedy bool
	// Penalty is true when a repetition penalty is on.
	Penalty bool
	// Perturbs is true when --perturb is given.
	Perturbs bool
	// JSON is true when the output is the JSON object alone.
	JSON bool
	// BackendOverrides is true when --backend moves every path but
	// llamacpp to it, whatever backend the path names (golden verify);
	// Paths then name where they run now.
	BackendOverrides bool
}

// refs returns the run's paths with their backends (names that do not
// parse are left out: the command refuses them itself).
func (s *runScope) refs() []model.PathRef {
	var out []model.PathRef
	for _, p := range s.Paths {
		if r, err := model.ParsePathRef(p, s.Backend); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// has reports whether path (a bare name) runs, on any backend.
func (s *runScope) has(path string) bool {
	return slices.ContainsFunc(s.refs(), func(r model.PathRef) bool { return r.Path == path })
}

// cpu reports whether something runs on a CPU thread pool: the cpu
// backend (alone, or under a path other than llamacpp), or llama.cpp.
func (s *runScope) cpu() bool {
	if len(s.Paths) == 0 {
		return s.Backend == "" || s.Backend == "cpu"
	}
	return slices.ContainsFunc(s.refs(), func(r model.PathRef) bool { return r.Path == "llamacpp" || r.Backend == "cpu" })
}

// takesBackend reports whether --backend decides where something runs:
// the backend runs alone (ops), or some path other than llamacpp is named
// without a backend.
func (s *runScope) takesBackend() bool {
	if len(s.Paths) == 0 {
		return true
	}
	for _, p := range s.Paths {
		if r, err := model.ParsePathRef(p, s.Backend); err == nil && (s.BackendOverrides || !strings.Contains(p, "@")) && r.Path != "llamacpp" {
			return true
		}
	}
	return false
}

// String summarizes the run for messages.
func (s *runScope) String() string {
	b := s.Backend
	if b == "" {
		b = "cpu"
	}
	parts := []string{"backend " + b}
	if s.Numerics != "" {
		parts = append(parts, "numerics "+s.Numerics)
	}
	if len(s.Paths) > 0 {
		parts = append([]string{"paths " + strings.Join(s.Paths, ",")}, parts...)
	}
	switch {
	case !s.Generates:
		parts = append(parts, "no tokens generated")
	case s.Greedy:
		parts = append(parts, "greedy decoding")
	}
	return strings.Join(parts, "; ")
}

// flagRule says when a flag applies.
type flagRule struct {
	// why completes "--NAME does not apply to this run: …".
	why string
	// applies reports whether the flag applies to a run.
	applies func(s *runScope) bool
	// whyNot, when set, replaces why and applies for a rule whose reason
	// depends on the run: it returns why the flag does not apply to s, or
	// "" when it does.
	whyNot func(s *runScope) string
}

// reason returns why the flag of r does not apply to s, or "".
func (r flagRule) reason(s *runScope) string {
	if r.whyNot != nil {
		return r.whyNot(s)
	}
	if r.applies(s) {
		return ""
	}
	return r.why
}

// flagRules are the conditional flags, by name (without dashes).
var flagRules = map[string]flagRule{}

// registerFlagRule adds the rule of a flag; registering a name twice
// panics (a programming error).
func registerFlagRule(name string, r flagRule) {
	if _, dup := flagRules[name]; dup {
		panic("paritycheck: flag rule for --" + name + " registered twice")
	}
	flagRules[name] = r
}

// exclusiveFlags are pairs of flags that may not be given together.
var exclusiveFlags = [][2]string{{"prompt", "tokens"}}

func init() {
	generates := func(s *runScope) bool { return s.Generates }
	sampling := func(s *runScope) bool { return s.Generates && !s.Greedy }
	type rule struct {
		why     string
		applies func(s *runScope) bool
	}
	for name, r := range map[string]rule{
		"spec": {"it is the dsl path's model spec, and the dsl path does not run",
			func(s *runScope) bool { return s.has("dsl") }},
		"threads": {"it sets the worker threads of the cpu backend and of llama.cpp, and no path runs on them",
			(*runScope).cpu},
		"temp":           {"no tokens are generated", generates},
		"repeat-penalty": {"no tokens are generated", generates},
		"ignore-eos":     {"no tokens are generated", generates},
		"tie-eps":        {"no token streams are compared (token parity needs tokens and two paths)", generates},
		"seed":           {"sampling is greedy (--temp 0 takes the top logit; give --temp > 0 to sample)", sampling},
		"top-k":          {"sampling is greedy (--temp 0 takes the top logit; give --temp > 0 to sample)", sampling},
		"top-p":          {"sampling is greedy (--temp 0 takes the top logit; give --temp > 0 to sample)", sampling},
		"min-p":          {"sampling is greedy (--temp 0 takes the top logit; give --temp > 0 to sample)", sampling},
		"repeat-last-n": {"it is the window of --repeat-penalty, which is off",
			func(s *runScope) bool { return s.Generates && s.Penalty }},
		"backend": {"every path names its own backend (PATH@BACKEND), and llamacpp runs on ggml's CPU backend only",
			(*runScope).takesBackend},
		"perturb-seed": {"it seeds --perturb, which is not given",
			func(s *runScope) bool { return s.Perturbs }},
		"explain": {"it prints the verdict rules in the text report, and --json prints the object alone",
			func(s *runScope) bool { return !s.JSON }},
		"all": {"it prints the drift rows in the text report; --json always has every row",
			func(s *runScope) bool { return !s.JSON }},
	} {
		registerFlagRule(name, flagRule{why: r.why, applies: r.applies})
	}
}

// checkScope refuses flags the user set that do not apply to the run s
// describes, and exclusive flags given together (usage errors, exit 2).
func checkScope(fs *flag.FlagSet, s runScope) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, pair := range exclusiveFlags {
		if set[pair[0]] && set[pair[1]] {
			return usagef("--%s and --%s are exclusive: give one of them", pair[0], pair[1])
		}
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if r, ok := flagRules[n]; ok {
			if why := r.reason(&s); why != "" {
				return usagef("--%s does not apply to this run: %s (%s)", n, why, &s)
			}
		}
	}
	return nil
}

// maxThreads is the most worker threads any command accepts.
const maxThreads = 1024

// threadsValue is --threads: 0 (all cores) or 1…maxThreads.
type threadsValue struct{ p *int }

func (v threadsValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v threadsValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxThreads {
		return fmt.Errorf("want 0 (all cores: GOMAXPROCS, %d here) or a thread count from 1 to %d", runtime.GOMAXPROCS(0), maxThreads)
	}
	*v.p = n
	return nil
}

// threadsFlashNote is the --threads note of the commands with
// --flash-attn: ggml's flash attention splits one query's KV cells into one
// chunk per thread.
const threadsFlashNote = "with --flash-attn on over 512 or more cached positions they do, as llama.cpp's do"

// threadsVar defines --threads with default def, the one way every
// command reads a thread count.
func threadsVar(fs *flag.FlagSet, p *int, def int, note string) {
	*p = def
	usage := fmt.Sprintf("`N` worker threads of the cpu backend and of llama.cpp: 0 = all cores (GOMAXPROCS, %d here), at most %d; results do not depend on it", runtime.GOMAXPROCS(0), maxThreads)
	if note != "" {
		usage += "; " + note
	}
	fs.Var(threadsValue{p}, "threads", usage)
}

// countValue is a whole-number flag with a minimum.
type countValue struct {
	p   *int
	min int
}

func (v countValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is out of range", s)
		}
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < v.min {
		return fmt.Errorf("want ≥ %d", v.min)
	}
	*v.p = n
	return nil
}

// countVar defines a whole-number flag of at least min and returns where
// its value goes. Sizes are checked against the model by checkSizes.
func countVar(fs *flag.FlagSet, name string, def, min int, usage string) *int {
	p := new(int)
	*p = def
	fs.Var(countValue{p, min}, name, usage)
	return p
}

// tokensValue is --tokens: comma-separated token ids. The vocabulary is
// checked once the model is open (checkVocab).
type tokensValue struct{ ids []int32 }

func (v *tokensValue) String() string {
	if v == nil {
		return ""
	}
	s := make([]string, len(v.ids))
	for i, id := range v.ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func (v *tokensValue) Set(s string) error {
	ids, err := parseTokenIDs(s)
	if err != nil {
		return err
	}
	v.ids = ids
	return nil
}

// parseTokenIDs parses "1,403,407" (spaces around ids allowed). An empty
// list or an empty item is an error.
func parseTokenIDs(s string) ([]int32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty: give at least one token id, e.g. --tokens 1")
	}
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

// checkVocab rejects ids outside the model's vocabulary.
func checkVocab(ids []int32, vocab int) error {
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return usagef("--tokens: token id %d (index %d) is outside the vocabulary 0…%d", id, i, vocab-1)
		}
	}
	return nil
}
