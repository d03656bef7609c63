package ggmlnum

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
)

// fattnCase is one flash-attention op: shapes, the causal start, the KV
// storage and ggml's thread count.
type fattnCase struct {
	dk, dv, T, heads, kvh, cells, pos0 int
	f16                                bool
	threads                            int
}

func (c fattnCase) String() string {
	kv := "f32"
	if c.f16 {
		kv = "f16"
	}
	return fmt.Sprintf("dk%d_dv%d_T%d_h%d/%d_cells%d_pos%d_%s_th%d", c.dk, c.dv, c.T, c.heads, c.kvh, c.cells, c.pos0, kv, c.threads)
}

// fattnCases cover the three kernels ggml picks: one chunk (short
// batches, decode under 512 cells, head widths not a multiple of 16),
// tiled (batches of 64 or more) with partial last tiles, and the split
// decode at 512 cells and more with thread counts that leave empty and
// fully masked chunks.
var fattnCases = []fattnCase{
	{8, 8, 5, 8, 4, 256, 0, true, 1},
	{8, 8, 5, 8, 4, 256, 0, false, 1},
	{8, 8, 1, 8, 4, 256, 9, false, 1},
	{8, 8, 1, 8, 4, 256, 37, true, 2},
	{64, 64, 7, 4, 2, 256, 10, true, 1},
	{64, 64, 1, 4, 2, 256, 200, false, 4},
	{16, 16, 3, 2, 1, 256, 0, false, 1},
	{64, 64, 64, 4, 2, 256, 0, true, 1},
	{64, 64, 100, 2, 1, 256, 0, true, 3},
	{32, 32, 70, 4, 4, 512, 300, false, 2},
	{8, 8, 80, 8, 4, 256, 3, true, 1}, // tiled shape, but dv%16 ≠ 0: one chunk
	{64, 64, 1, 4, 2, 512, 300, true, 1},
	{64, 64, 1, 4, 2, 512, 300, true, 4},
	{64, 64, 1, 4, 2, 768, 600, true, 3},
	{128, 128, 1, 2, 1, 1024, 700, false, 5},
	{64, 64, 1, 4, 2, 512, 256, true, 7},
}

// TestFlashAgainstGGML: Flash.Row equals ggml's CPU flash attention (the
// op run by the libggml-cpu variant llama.cpp would pick) bit for bit on
// every case; on another variant it skips (fails under
// METALLIC_REQUIRE_ORACLES=1 on an AVX-512 CPU: needBits).
func TestFlashAgainstGGML(t *testing.T) {
	needBits(t, variant(t), testenv.AVX512)
	bin := testenv.BuildGGMLOracle(t, filepath.Join("backend", "ggmlnum", "testdata", "ggml_fattn_oracle.c"))
	rng := rand.New(rand.NewPCG(21, 22))
	cases := append([]fattnCase(nil), fattnCases...)
	dims := []int{8, 16, 48, 64, 80, 128}
	for range 16 { // and random shapes of every kind
		d, kvh := dims[rng.IntN(len(dims))], 1+rng.IntN(3)
		T := []int{1, 1, 2, 9, 63, 64, 65, 130}[rng.IntN(8)]
		cells := 256 * (1 + rng.IntN(4))
		cases = append(cases, fattnCase{d, d, T, kvh * (1 + rng.IntN(3)), kvh, cells, rng.IntN(cells - T + 1), rng.IntN(2) == 0, 1 + rng.IntN(8)})
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			q := fattnRandom(rng, c.T*c.heads*c.dk, 1.5)
			k := fattnRandom(rng, c.cells*c.kvh*c.dk, 1.5)
			vv := fattnRandom(rng, c.cells*c.kvh*c.dv, 1)
			var in bytes.Buffer
			binary.Write(&in, binary.LittleEndian, q)
			binary.Write(&in, binary.LittleEndian, k)
			binary.Write(&in, binary.LittleEndian, vv)
			kv := "f32"
			if c.f16 {
				kv = "f16"
				for _, x := range [][]float32{k, vv} {
					for i := range x {
						x[i] = f16Round(x[i])
					}
				}
			}
			scale := 1 / float32(math.Sqrt(float64(c.dk))) // 1.0f/sqrtf(head_dim), as llama.cpp
			cmd := exec.Command(bin, testenv.GGMLLib(t), fmt.Sprint(c.dk), fmt.Sprint(c.dv), fmt.Sprint(c.T), fmt.Sprint(c.heads),
				fmt.Sprint(c.kvh), fmt.Sprint(c.cells), fmt.Sprint(c.pos0), kv, fmt.Sprint(c.threads), strconv.FormatFloat(float64(scale), 'x', -1, 32))
			cmd.Stdin = &in
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			raw, err := cmd.Output()
			if err != nil {
				t.Fatalf("ggml_fattn_oracle: %v\n%s", err, stderr.String())
			}
			if len(raw) != 4*c.T*c.heads*c.dv {
				t.Fatalf("oracle wrote %d bytes, want %d", len(raw), 4*c.T*c.heads*c.dv)
			}
			f := Flash{F16: c.f16, Scale: scale, Queries: c.T, Cells: c.cells, Threads: c.threads}
			group := c.heads / c.kvh
			out := make([]float32, c.dv)
			bad := 0
			for tq := range c.T {
				for h := range c.heads {
					g := h / group
					f.Row(out, q[(tq*c.heads+h)*c.dk:][:c.dk], c.pos0+tq+1,
						func(j int) []float32 { return k[(j*c.kvh+g)*c.dk:][:c.dk] },
						func(j int) []float32 { return vv[(j*c.kvh+g)*c.dv:][:c.dv] })
					for d, got := range out {
						want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*((tq*c.heads+h)*c.dv+d):]))
						if math.Float32bits(got) != math.Float32bits(want) {
							if bad++; bad <= 3 {
								requireBits(t, fmt.Sprintf("query %d head %d dim %d", tq, h, d), got, want)
							}
						}
					}
				}
			}
			if bad > 0 {
				t.Logf("%d of %d values differ from ggml", bad, c.T*c.heads*c.dv)
			}
		})
	}
}

// fattnRandom returns n Gaussian values of standard deviation sd with a
// few exact zeros.
func fattnRandom(rng *rand.Rand, n int, sd float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		if rng.IntN(50) != 0 {
			out[i] = float32(rng.NormFloat64() * sd)
		}
	}
	return out
}
