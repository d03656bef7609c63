package synth

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/sample"
)

// tensor is one tensor to generate.
type tensor struct {
	name      string
	shape     []int64 // GGUF order: [K] or [K, N]
	mean, std float64
	typ       gguf.Type // requested; F32 for vectors
	data      []byte
}

// irwinHallStd is the standard deviation of the sum of four uniform 16-bit
// integers: √((65536² − 1)/3).
const irwinHallStd = 37837.22723720648

// fill writes the tensor's elements into x.
func fill(x []float32, seed uint64, name string, mean, std float64) {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := sample.NewRNG(seed ^ h.Sum64())
	scale := std / irwinHallStd
	for i := range x {
		u := r.Uint64()
		s := float64(u&0xffff) + float64(u>>16&0xffff) + float64(u>>32&0xffff) + float64(u>>48)
		x[i] = float32(mean + (s-131070)*scale)
	}
}

// storageType returns the type a matrix with rows of k elements is stored
// in when t is requested: t itself when k is a multiple of its block size,
// else the fallback llama.cpp's quantizer would pick.
func storageType(t gguf.Type, k int) gguf.Type {
	for k%t.BlockSize() != 0 {
		switch t {
		case gguf.TypeQ4_K:
			t = gguf.TypeQ4_0
		case gguf.TypeQ6_K:
			t = gguf.TypeQ8_0
		default:
			t = gguf.TypeF16
		}
	}
	return t
}

// generate fills and encodes every tensor, in parallel over tensors. The
// result does not depend on the number of workers.
func generate(ts []*tensor, seed uint64) error {
	workers := min(runtime.GOMAXPROCS(0), len(ts))
	jobs := make(chan *tensor)
	errs := make([]error, len(ts))
	index := make(map[*tensor]int, len(ts))
	for i, t := range ts {
		index[t] = i
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var buf []float32
			for t := range jobs {
				n := 1
				for _, d := range t.shape {
					n *= int(d)
				}
				if cap(buf) < n {
					buf = make([]float32, n)
				}
				x := buf[:n]
				fill(x, seed, t.name, t.mean, t.std)
				b, err := encode(t.typ, x)
				if err != nil {
					errs[index[t]] = fmt.Errorf("synth: %s: %w", t.name, err)
					continue
				}
				t.data = b
			}
		})
	}
	// Largest first, so one big tensor does not finish last alone.
	order := make([]*tensor, len(ts))
	copy(order, ts)
	sortBySize(order)
	for _, t := range order {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// encode stores x as type t: a direct loop for F32, F16 and BF16 (the
// 0.5b preset's speed depends on it), gguf.Quantize for the others. Both
// give the same bytes (checked by the tests).
func encode(t gguf.Type, x []float32) ([]byte, error) {
	var b []byte
	switch t {
	case gguf.TypeF32:
		b = make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case gguf.TypeF16:
		b = make([]byte, 2*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint16(b[2*i:], gguf.F32ToF16(v))
		}
	case gguf.TypeBF16:
		b = make([]byte, 2*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint16(b[2*i:], gguf.F32ToBF16(v))
		}
	default:
		return gguf.Quantize(t, x)
	}
	return b, nil
}

func sortBySize(ts []*tensor) {
	size := func(t *tensor) int64 {
		n := int64(1)
		for _, d := range t.shape {
			n *= d
		}
		return n
	}
	// Insertion sort by decreasing size, stable (ties keep file order).
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && size(ts[j]) > size(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// tensors lists the model's tensors in llama.cpp's converter order;
// typeOf gives each matrix's stored type from its name, block (−1 outside
// the blocks), row length and the number of attn_v matrices before it.
func tensors(p Preset, vocab int, typeOf func(name string, layer, k, vIndex int) gguf.Type) []*tensor {
	var ts []*tensor
	d, hd := int64(p.Dim), int64(p.HeadDim)
	qd, kvd, ff := int64(p.Heads)*hd, int64(p.KVHeads)*hd, int64(p.FF)
	layer, vIndex := -1, 0
	mat := func(name string, k, n int64, std float64) {
		ts = append(ts, &tensor{name: name, shape: []int64{k, n}, std: std, typ: typeOf(name, layer, int(k), vIndex)})
		if strings.HasSuffix(name, "attn_v.weight") {
			vIndex++
		}
	}
	vec := func(name string, k int64, mean, std float64) {
		ts = append(ts, &tensor{name: name, shape: []int64{k}, mean: mean, std: std, typ: gguf.TypeF32})
	}
	inv := func(k int64) float64 { return 1 / math.Sqrt(float64(k)) }
	embStd := 1.0
	if p.Tied {
		embStd = LogitStd * inv(d)
	}
	mat("token_embd.weight", d, int64(vocab), embStd)
	for i := range p.Layers {
		layer = i
		b := fmt.Sprintf("blk.%d.", i)
		vec(b+"attn_norm.weight", d, 1, 0.1)
		mat(b+"attn_q.weight", d, qd, inv(d))
		mat(b+"attn_k.weight", d, kvd, inv(d))
		mat(b+"attn_v.weight", d, kvd, inv(d))
		if p.Arch == "qwen2" {
			vec(b+"attn_q.bias", qd, 0, 0.5)
			vec(b+"attn_k.bias", kvd, 0, 0.5)
			vec(b+"attn_v.bias", kvd, 0, 0.1)
		}
		if p.Arch == "qwen3" {
			vec(b+"attn_q_norm.weight", hd, 1, 0.1)
			vec(b+"attn_k_norm.weight", hd, 1, 0.1)
		}
		mat(b+"attn_output.weight", qd, d, inv(qd))
		vec(b+"ffn_norm.weight", d, 1, 0.1)
		mat(b+"ffn_gate.weight", d, ff, inv(d))
		mat(b+"ffn_up.weight", d, ff, inv(d))
		mat(b+"ffn_down.weight", ff, d, inv(ff))
	}
	layer = -1
	vec("output_norm.weight", d, 1, 0.1)
	if !p.Tied {
		mat("output.weight", d, int64(vocab), LogitStd*inv(d))
	}
	return ts
}
