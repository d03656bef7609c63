package dsl

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/model"
)

// probe is the Build of the test step "probe_fields"; each case sets it.
var probe func(b *Build) error

// errProbed ends a probe that read what it wanted: compilation stops there.
var errProbed = errors.New("probed")

func init() {
	RegisterStep("probe_fields", StepDef{
		Doc: "test step: reads its fields as the case says, emits nothing",
		Fields: []Field{{Name: "n", Kind: FInt}, {Name: "layers", Kind: FInt}, {Name: "x", Kind: FFloat},
			{Name: "s", Kind: FString}, {Name: "w", Kind: FTensor}, {Name: "opt", Kind: FInt, Optional: true},
			{Name: "opt_w", Kind: FTensor, Optional: true}, {Name: "in", Kind: FBufIn}},
		Build: func(b *Build) error { return probe(b) },
	})
}

// compileProbe compiles the embedded llama spec for stories260K with a
// probe_fields step after the embedding, running f as its Build.
func compileProbe(t *testing.T, m *model.Model, f func(b *Build) error) error {
	t.Helper()
	probe = f
	data := mutate(t, func(s map[string]any) {
		fw := s["forward"].([]any)
		p := map[string]any{"op": "probe_fields", "n": 3, "layers": "n_layers", "x": 1.5, "s": "hi", "w": "token_embd", "in": "x"}
		s["forward"] = append([]any{fw[0], p}, fw[1:]...)
	})
	spec, err := Parse(data)
	require.NoError(t, err)
	e, err := newFromSpec(m, spec, Options{PathOptions: model.PathOptions{Ctx: 8}})
	if err == nil {
		e.Close()
	}
	return err
}

// TestBuildReadsDeclaredFields: a step reads its declared fields with
// their values, variables resolved.
func TestBuildReadsDeclaredFields(t *testing.T) {
	m := openStories(t)
	err := compileProbe(t, m, func(b *Build) error {
		n, err := b.Int("n")
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		ns, err := b.Ints("n", "layers")
		require.NoError(t, err)
		assert.Equal(t, []int{3, m.Config.Layers}, ns)
		x, err := b.Float("x")
		require.NoError(t, err)
		assert.Equal(t, float32(1.5), x)
		s, err := b.String("s")
		require.NoError(t, err)
		assert.Equal(t, "hi", s)
		w, err := b.Tensor("w")
		require.NoError(t, err)
		assert.Equal(t, "token_embd.weight", w.Name)
		ow, err := b.Tensor("opt_w")
		assert.NoError(t, err)
		assert.Nil(t, ow, "absent optional tensor")
		in, err := b.In("in")
		require.NoError(t, err)
		assert.Equal(t, m.Config.Dim, in.Width)
		assert.False(t, b.Has("opt"))
		assert.True(t, b.Has("n"))
		return errProbed
	})
	assert.ErrorIs(t, err, errProbed)
}

// TestBuildUndeclaredFieldIsAnError: reading a field the step does not
// declare, or as another kind, or an absent optional one, fails dsl.New
// with a SpecError at the field — never a silent zero (the ancestor's bug).
func TestBuildUndeclaredFieldIsAnError(t *testing.T) {
	m := openStories(t)
	for _, c := range []struct {
		name, field, msg string
		read             func(b *Build) error
	}{
		{"Int of an undeclared field", "heads", `reads field "heads", which it does not declare`,
			func(b *Build) error { _, err := b.Int("heads"); return err }},
		{"Ints with one undeclared", "kv_heads", `reads field "kv_heads", which it does not declare`,
			func(b *Build) error { _, err := b.Ints("n", "kv_heads"); return err }},
		{"Float of an undeclared field", "eps", `reads field "eps", which it does not declare`,
			func(b *Build) error { _, err := b.Float("eps"); return err }},
		{"String of an undeclared field", "style", `reads field "style", which it does not declare`,
			func(b *Build) error { _, err := b.String("style"); return err }},
		{"Tensor of an undeclared field", "gamma", `reads field "gamma", which it does not declare`,
			func(b *Build) error { _, err := b.Tensor("gamma"); return err }},
		{"In of an undeclared field", "input", `reads field "input", which it does not declare`,
			func(b *Build) error { _, err := b.In("input"); return err }},
		{"Float of an int field", "n", `reads its int field "n" as float`,
			func(b *Build) error { _, err := b.Float("n"); return err }},
		{"Int of a float field", "x", `reads its float field "x" as int`,
			func(b *Build) error { _, err := b.Int("x"); return err }},
		{"In of a string field", "s", `reads its string field "s" as buffer`,
			func(b *Build) error { _, err := b.In("s"); return err }},
		{"absent optional field", "opt", `optional field "opt", which the spec does not give`,
			func(b *Build) error { _, err := b.Int("opt"); return err }},
		{"Has of an undeclared field, Build returning nil", "checkpoint", `reads field "checkpoint", which it does not declare`,
			func(b *Build) error { b.Has("checkpoint"); return nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := compileProbe(t, m, c.read)
			var se *SpecError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "forward[1]."+c.field, se.Path)
			assert.Contains(t, se.Msg, c.msg)
		})
	}
}

// posParam is an epilogue that still asks for the position as a launch
// argument (var=pos), which the executor no longer provides.
type posParam struct {
	a struct {
		Pos kernel.IntParam `dsl:"param,dynamic,var=pos"`
	}
}

func (s *posParam) Name() string                                             { return "pos_param" }
func (s *posParam) Args() any                                                { return &s.a }
func (s *posParam) Includes() []kernel.Include                               { return nil }
func (s *posParam) Apply(c *kernel.Ctx, _ int, _, v kernel.Expr) kernel.Expr { return v }
func (s *posParam) CPU(*kernel.Frame)                                        {}

// TestEmitRefusesPositionParameter: a kernel whose parameter asks for the
// position at dispatch fails the compilation with an error pointing at the
// vars buffer (positions are read on the device, so that decode steps
// repeat their launches), never a silent 0.
func TestEmitRefusesPositionParameter(t *testing.T) {
	m := openStories(t)
	err := compileProbe(t, m, func(b *Build) error {
		x, err := b.In("in")
		if err != nil {
			return err
		}
		l, err := b.Kernel("pos_probe", nil, &kernel.Copy{N: x.Width, Segs: 1, SrcStride: x.Width, DstStride: x.Width, In: x.Elem, Out: x.Elem},
			[]kernel.Epilogue{&posParam{}})
		if err != nil {
			return err
		}
		return b.Emit(&Op{L: l, Bind: func(*Run) kernel.Binding { return kernel.Binding{"x": x.At(0), "y": x.At(0)} }})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vars buffer")
}
