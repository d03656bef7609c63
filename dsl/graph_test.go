package dsl

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// TestDecodeStepsRepeatLaunches: consecutive decode steps dispatch the same
// kernels over the same grids with byte-identical arguments (the same
// buffers at the same offsets, the same scalars) — positions travel in the
// vars buffer — after one upload each (vars and token ids together): what
// lets the cuda backend capture a decode step once and replay it as one
// CUDA graph. A prefill runs the tiled GEMM form of the projections, a
// decode step the GEMV form.
func TestDecodeStepsRepeatLaunches(t *testing.T) {
	registerRec()
	for _, num := range []string{"plain", "ggml-cpu"} {
		t.Run(num, func(t *testing.T) {
			m := tinyOf("qwen2", gguf.TypeF16).open(t)
			e, err := New(m, Options{PathOptions: model.PathOptions{Backend: "hostrec", Ctx: 16, Numerics: num}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rec := lastRec
			rec.recording, rec.uploads = true, 0
			if _, err := e.Forward([]int32{1, 2, 3, 4, 5}, 0); err != nil {
				t.Fatal(err)
			}
			rec.recording = false
			tiled := 0
			for _, d := range rec.disp {
				if strings.Contains(d.kernel, "_tiled_") {
					tiled++
				}
			}
			// Four projections per layer (qkv, o, gate/up, down) and the LM head.
			want := 4*m.Config.Layers + 1
			if num == "ggml-cpu" {
				want = 0 // the tiled form does not round its inputs
			}
			if tiled != want {
				t.Errorf("prefill: %d tiled GEMM dispatches, want %d", tiled, want)
			}
			if rec.uploads != 1 {
				t.Errorf("prefill: %d uploads, want 1", rec.uploads)
			}
			var steps [][]recDispatch
			for i := 0; i < 3; i++ {
				rec.recording, rec.disp, rec.snap, rec.uploads = true, nil, nil, 0
				if _, err := e.Forward([]int32{int32(7 + i)}, 5+i); err != nil {
					t.Fatal(err)
				}
				rec.recording = false
				if rec.uploads != 1 {
					t.Errorf("decode step %d: %d uploads, want 1", i, rec.uploads)
				}
				for _, d := range rec.disp {
					if strings.Contains(d.kernel, "_tiled_") {
						t.Errorf("decode step %d dispatches the tiled kernel %s", i, d.kernel)
					}
				}
				steps = append(steps, rec.disp)
			}
			for i := 1; i < len(steps); i++ {
				a, b := steps[0], steps[i]
				if len(a) != len(b) {
					t.Fatalf("decode step %d: %d dispatches, step 0 had %d", i, len(b), len(a))
				}
				for j := range a {
					if a[j].kernel != b[j].kernel || a[j].grid != b[j].grid || len(a[j].args) != len(b[j].args) {
						t.Fatalf("decode step %d dispatch %d: %s %v, step 0: %s %v", i, j, b[j].kernel, b[j].grid, a[j].kernel, a[j].grid)
					}
					for k := range a[j].args {
						if a[j].args[k] != b[j].args[k] {
							t.Errorf("decode step %d dispatch %d (%s) argument %d: %+v, step 0: %+v", i, j, a[j].kernel, k, b[j].args[k], a[j].args[k])
						}
					}
				}
			}
		})
	}
}
