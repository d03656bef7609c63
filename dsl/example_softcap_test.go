package dsl_test

import (
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
)

// Softcap is an epilogue computing cap·tanh(v/cap) (logit soft-capping).
// cap is a dynamic parameter: the spec variable "cap", read at dispatch.
type Softcap struct {
	a struct {
		Cap kernel.FloatParam `dsl:"param,dynamic,var=cap"` // softcap_params.cap
	}
}

func (s *Softcap) Name() string               { return "softcap" }
func (s *Softcap) Args() any                  { return &s.a }
func (s *Softcap) Includes() []kernel.Include { return nil }

// Apply emits the GPU code (MSL and CUDA) through the typed builder.
func (s *Softcap) Apply(c *kernel.Ctx, _ int, _, v kernel.Expr) kernel.Expr {
	t := c.B.Call(kernel.Tanh, kernel.F("%s / %s", v, s.a.Cap.E()))
	return kernel.F("(%s * %s)", s.a.Cap.E(), t)
}

// CPU transforms the work item's outputs in place, before the store.
func (s *Softcap) CPU(f *kernel.Frame) {
	c := f.Args[s.a.Cap.Index].F
	for i, v := range f.Out {
		f.Out[i] = c * float32(math.Tanh(float64(v/c)))
	}
}

func init() {
	dsl.RegisterStep("rmsnorm_gemv_softcap", dsl.StepDef{
		Doc: "out = cap·tanh(W·(RMSNorm(input)·γ) / cap), cap the spec variable",
		Fields: []dsl.Field{{Name: "input", Kind: dsl.FBufIn}, {Name: "gamma", Kind: dsl.FTensor},
			{Name: "eps", Kind: dsl.FFloat}, {Name: "w", Kind: dsl.FTensor},
			{Name: "out", Kind: dsl.FBufOut}, {Name: "checkpoint", Kind: dsl.FCheckpoint, Optional: true}},
		Build: func(b *dsl.Build) error {
			x, err := b.In("input")
			if err != nil {
				return err
			}
			eps, err := b.Float("eps") // an error, not 0, if misspelled
			if err != nil {
				return err
			}
			ws, err := b.Weights("gamma", "w")
			if err != nil {
				return err
			}
			bufs, err := b.Buffers(ws...)
			if err != nil {
				return err
			}
			out, err := b.Out("out", ws[1].N, true)
			if err != nil {
				return err
			}
			l, err := b.Kernel("softcap_head", []kernel.Prologue{&kernel.RMSNorm{Gamma: ws[0].Type, Eps: eps}},
				&kernel.Gemv{Round: b.Round(), Types: []gguf.Type{ws[1].Type}, K: x.Width, N: []int{ws[1].N}, In: x.Elem, Out: out.Elem},
				[]kernel.Epilogue{&Softcap{}})
			if err != nil {
				return err
			}
			cps, err := b.CheckpointsOf(out)
			if err != nil {
				return err
			}
			return b.Emit(&dsl.Op{L: l, Checkpoints: cps, Bind: func(r *dsl.Run) kernel.Binding {
				return kernel.Binding{"x": x.At(0), "gamma": backend.Buf(bufs[0]), "w0": backend.Buf(bufs[1]), "y0": out.At(0)}
			}})
		},
	})
}
