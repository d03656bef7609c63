package kernel

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// testEpi is a configurable epilogue for validation tests.
type testEpi struct {
	name  string
	args  any
	incs  []Include
	apply func(c *Ctx, v Expr) Expr
}

func (s *testEpi) Name() string        { return s.name }
func (s *testEpi) Args() any           { return s.args }
func (s *testEpi) Includes() []Include { return s.incs }
func (s *testEpi) CPU(*Frame)          {}
func (s *testEpi) Apply(c *Ctx, _ int, _, v Expr) Expr {
	if s.apply == nil {
		return v
	}
	return s.apply(c, v)
}

func plainGemv() *Gemv {
	return &Gemv{Types: []gguf.Type{gguf.TypeF32}, K: 32, N: []int{8}, In: Float, Out: Float}
}

func composeErr(t *testing.T, e Epilogue, want string) {
	t.Helper()
	_, err := Compose("k", nil, plainGemv(), []Epilogue{e})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Compose error = %v, want it to mention %q", err, want)
	}
}

func TestValidationUndefinedVariable(t *testing.T) {
	t.Run("template placeholder", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr {
			c.B.Tmpl("float z = {v} * {scale};", map[string]Expr{"v": v})
			return v
		}}, "undefined variable {scale}")
	})
	t.Run("out of scope", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr {
			var leaked *Var
			c.B.If(Expr{text: "true"}, func() { leaked = c.B.Let(Float, "tmp", v) })
			return F("%s + %s", v, leaked)
		}}, "undefined variable tmp_")
	})
	t.Run("other kernel", func(t *testing.T) {
		var foreign *Var
		grab := &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr { foreign = c.B.Let(Float, "x", v); return v }}
		if _, err := Compose("k", nil, plainGemv(), []Epilogue{grab}); err != nil {
			t.Fatal(err)
		}
		composeErr(t, &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr { return F("%s * %s", v, foreign) }}, "undefined variable x_")
	})
}

func TestValidationUnbalancedBraces(t *testing.T) {
	t.Run("include", func(t *testing.T) {
		src := "FN float broken(float x) { return x;"
		composeErr(t, &testEpi{name: "e", incs: []Include{{Name: "broken", MSL: src, CUDA: src}}}, "unbalanced")
	})
	t.Run("template", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr {
			c.B.Tmpl("if ({v} > 0.0f) {", map[string]Expr{"v": v})
			return v
		}}, "unbalanced")
	})
	t.Run("parenthesis", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr { return F("(%s * 2.0f", v) }}, "unbalanced")
	})
}

func TestValidationArgumentCollisions(t *testing.T) {
	t.Run("explicit index", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", args: &struct {
			A Buf `dsl:"buffer,index=1"`
			B Buf `dsl:"buffer,index=1"`
		}{A: Buf{Elem: Float}, B: Buf{Elem: Float}}}, "collides")
	})
	t.Run("index against another stage", func(t *testing.T) {
		mk := func(name string) Epilogue {
			return &testEpi{name: name, args: &struct {
				A Buf `dsl:"buffer,index=2"`
			}{A: Buf{Elem: Float}}}
		}
		_, err := Compose("k", nil, plainGemv(), []Epilogue{&testEpi{name: "e1", args: &struct {
			A Buf `dsl:"buffer,index=2,name=a1"`
		}{A: Buf{Elem: Float}}}, mk("e2")})
		if err == nil || !strings.Contains(err.Error(), "collides") {
			t.Fatalf("Compose error = %v, want a collision", err)
		}
	})
	t.Run("same name other type", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", args: &struct {
			X Buf `dsl:"buffer"`
		}{X: Buf{Elem: Half}}}, "different kinds or types")
	})
	t.Run("gap", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", args: &struct {
			A Buf `dsl:"buffer,index=9"`
		}{A: Buf{Elem: Float}}}, "gap")
	})
	t.Run("bad tag", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", args: &struct {
			A Buf `dsl:"buffer,outptu"`
		}{A: Buf{Elem: Float}}}, "unknown tag option")
	})
	t.Run("duplicate include", func(t *testing.T) {
		composeErr(t, &testEpi{name: "e", incs: []Include{{Name: "w_f32", MSL: "FN float w_f32() { return 0.0f; }", CUDA: ""}}}, "defined twice")
	})
}

// Arguments are indexed automatically in declaration order, shared by
// name, and skip fields are ignored; Bind checks names and kinds.
func TestArgumentTableAndBind(t *testing.T) {
	e := &testEpi{name: "extra", args: &struct {
		X     Buf        `dsl:"buffer"` // shared with the gemv's x
		Aux   Buf        `dsl:"buffer,output,name=aux_out"`
		Note  string     `dsl:"skip"`
		Scale FloatParam `dsl:"param"`
		Step  IntParam   `dsl:"param,dynamic"`
	}{X: Buf{Elem: Float}, Aux: Buf{Elem: Float}, Scale: FloatParam{Value: 0.5}}}
	k, err := Compose("k", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}}, plainGemv(), []Epilogue{e})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range k.Args {
		got = append(got, a.Name)
	}
	want := "gamma rmsnorm.eps x w0 y0 gemv.k gemv.tokens aux_out extra.scale extra.step"
	if strings.Join(got, " ") != want {
		t.Fatalf("argument order %q, want %q", strings.Join(got, " "), want)
	}
	if !k.Args[4].Output || !k.Args[7].Output || k.Args[2].Output {
		t.Fatalf("output flags wrong: %+v", k.Args)
	}
	if !strings.Contains(k.Structs[MSL], "struct extra_params {\n    float scale;\n    int step;\n};") ||
		!strings.Contains(k.Structs[CUDA], "struct rmsnorm_params {\n    float eps;\n};") {
		t.Fatalf("generated structs:\n%s", k.Structs[MSL])
	}
	if !strings.Contains(k.MSL, "device float* a_aux_out [[buffer(7)]]") || !strings.Contains(k.CUDA, "int a_extra_step") {
		t.Fatalf("signature lacks the declared arguments:\n%s", k.MSL)
	}
	var buf backend.Buffer
	b := Binding{"gamma": backend.Buf(buf), "x": backend.Buf(buf), "w0": backend.Buf(buf), "y0": backend.Buf(buf), "aux_out": backend.Buf(buf),
		"$tokens": backend.Int(5), "$unused": backend.Int(9)}
	if _, err := k.Bind(b); err == nil || !strings.Contains(err.Error(), "extra.step") {
		t.Fatalf("missing dynamic parameter: err = %v", err)
	}
	b["extra.step"] = backend.Int(3)
	args, err := k.Bind(b)
	if err != nil {
		t.Fatal(err)
	}
	if args[8].F != 0.5 || args[9].I != 3 || args[5].I != 32 || args[6].I != 5 || args[1].F != 1e-5 {
		t.Fatalf("bound scalars %+v", args)
	}
	b["typo"] = backend.Int(1)
	if _, err := k.Bind(b); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("unknown argument: err = %v", err)
	}
	delete(b, "typo")
	b["x"] = backend.Int(1)
	if _, err := k.Bind(b); err == nil || !strings.Contains(err.Error(), "wrong kind") {
		t.Fatalf("wrong kind: err = %v", err)
	}
}

// Includes are emitted once each, sorted by name, whatever order the
// stages list them in.
func TestIncludesDeduplicated(t *testing.T) {
	k, err := Compose("k", []Prologue{&RMSNorm{Gamma: gguf.TypeQ8_0}},
		&Gemv{Types: []gguf.Type{gguf.TypeQ8_0, gguf.TypeF16, gguf.TypeQ8_0}, K: 64, N: []int{4, 4, 4}, In: Float, Out: Float},
		[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeBF16}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{k.MSL, k.CUDA} {
		for _, fn := range []string{"w_q8_0(const", "w_f16(const", "w_bf16(const"} {
			if n := strings.Count(src, "FN float "+fn); n != 1 {
				t.Fatalf("%s defined %d times", fn, n)
			}
		}
		if !(strings.Index(src, "w_bf16(const") < strings.Index(src, "w_f16(const") && strings.Index(src, "w_f16(const") < strings.Index(src, "w_q8_0(const")) {
			t.Fatal("includes not in name order")
		}
	}
	k2, _ := Compose("k", []Prologue{&RMSNorm{Gamma: gguf.TypeQ8_0}},
		&Gemv{Types: []gguf.Type{gguf.TypeQ8_0, gguf.TypeF16, gguf.TypeQ8_0}, K: 64, N: []int{4, 4, 4}, In: Float, Out: Float},
		[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeBF16}}})
	if k2.MSL != k.MSL || k2.CUDA != k.CUDA {
		t.Fatal("composition is not deterministic")
	}
}

func TestPresetsAndRowEpilogueRule(t *testing.T) {
	if g := PerElement().Grid(1000, 1); g.X != 8 || g.Y != 1 {
		t.Fatalf("per_element(1000) = %+v", g)
	}
	if g := PerRow().Grid(7, 3); g.X != 7 || g.Y != 3 {
		t.Fatalf("per_row(7) = %+v", g)
	}
	if p := PerRowSIMD(); p.Threads != 32 || p.Grid(5, 1).X != 5 {
		t.Fatalf("per_row_simd = %+v", p)
	}
	if g := (&Gemv{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32}, K: 32, N: []int{10, 3}, Rows: 4}).GridX(); g != 3+1 {
		t.Fatalf("gemv grid x = %d, want 4", g)
	}
	if _, err := Compose("k", nil, plainGemv(), []Epilogue{&Softmax{}}); err == nil {
		t.Fatal("softmax after a gemv composed")
	}
}
