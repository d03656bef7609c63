package ggmlnum

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactFMA is x·y+z computed exactly with math/big and rounded once to
// float32 (nearest even): the definition FMA32 must meet.
func exactFMA(x, y, z float32) float32 {
	p := new(big.Float).SetPrec(200).SetFloat64(float64(x))
	p.Mul(p, new(big.Float).SetPrec(200).SetFloat64(float64(y)))
	p.Add(p, new(big.Float).SetPrec(200).SetFloat64(float64(z)))
	f, _ := p.Float32()
	return f
}

func TestFMA32Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	check := func(x, y, z float32) {
		got, want := FMA32(x, y, z), exactFMA(x, y, z)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g, exact %g", x, y, z, got, want)
		}
	}
	halfway := 0
	for range 200000 {
		x := float32(rng.NormFloat64())
		y := float32(rng.NormFloat64())
		z := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-20)))
		check(x, y, z)
		// z chosen so that x·y+z rounds, in float64, exactly halfway
		// between two float32s: the double-rounding trap.
		p := float64(x) * float64(y)
		s := float64(float32(p)) + math.Ldexp(1, math.Ilogb(p)-24)
		zz := float32(s - p)
		if float64(zz) == s-p {
			halfway++
		}
		check(x, y, zz)
		check(x, y, -zz)
	}
	if halfway < 1000 {
		t.Fatalf("only %d exact halfway cases generated", halfway)
	}
	// Results below float32's normal range (the subnormals are multiples
	// of 2^-149, where FMA32 takes its exact path): products near 2^-140
	// plus tiny addends.
	for range 200000 {
		x := float32(math.Ldexp(rng.Float64()+0.5, -70-rng.IntN(5)))
		y := float32(math.Ldexp(rng.Float64()+0.5, -70-rng.IntN(5)))
		if rng.IntN(2) == 0 {
			y = -y
		}
		z := float32(math.Ldexp(rng.NormFloat64(), -130-rng.IntN(20)))
		check(x, y, z)
		// an addend (rounded to float32) that puts x·y+z near a subnormal
		// halfway point
		p := float64(x) * float64(y)
		q := math.Round(p*0x1p150) / 0x1p150
		if math.Mod(math.Abs(q*0x1p150), 2) == 0 {
			q += 0x1p-150
		}
		check(x, y, float32(q-p))
	}
	// Edge values.
	for _, v := range [][3]float32{{0, 0, 0}, {1, 1, -1}, {3, 1.0 / 3, -1}, {float32(math.Inf(1)), 1, 1}, {1e-30, 1e-30, 1e-38}} {
		check(v[0], v[1], v[2])
	}
}

// TestKernelsMatchGo: the vfmadd kernels of kernels_amd64.s and their
// portable definitions agree bit for bit. Without the assembly the kernel
// functions are the definitions, and there is nothing to compare.
func TestKernelsMatchGo(t *testing.T) {
	if ok, why := asmKernels(); !ok {
		t.Skip("nothing to compare the Go definitions with: " + why)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(12)-6)))
		}
		return v
	}
	for _, n := range []int{16, 64, 128, 1024} {
		x, y := vec(n), vec(n)
		var a, b [16]float32
		copy(a[:], vec(16))
		b = a
		fmaAcc16(&a, x, y)
		fmaAcc16Go(&b, x, y)
		if a != b {
			t.Errorf("fmaAcc16 n=%d: %v != %v", n, a, b)
		}
		if n%64 == 0 {
			var c, d [64]float32
			copy(c[:], vec(64))
			d = c
			fmaAcc64(&c, x, y)
			fmaAcc64Go(&d, x, y)
			if c != d {
				t.Errorf("fmaAcc64 n=%d differs", n)
			}
		}
	}
	for _, n := range []int{1, 7, 8, 9, 33, 128} {
		acc, v := vec(n), vec(n)
		acc2 := append([]float32(nil), acc...)
		p := float32(rng.NormFloat64())
		fmaScale(acc, v, p)
		fmaScaleGo(acc2, v, p)
		for i := range acc {
			if math.Float32bits(acc[i]) != math.Float32bits(acc2[i]) {
				t.Fatalf("fmaScale n=%d [%d]: %g != %g", n, i, acc[i], acc2[i])
			}
		}
	}
	for _, blocks := range []int{1, 3, 8, 100} {
		row := randBytes(rng, 34*blocks)
		xq := randQuants(rng, 32*blocks)
		for b := range blocks { // finite f16 scales
			row[34*b+1] &= 0x7b
		}
		d := vec(blocks)
		var a, b [8]float32
		q8Blocks(&a, row, xq, d)
		q8BlocksGo(&b, row, xq, d)
		if a != b {
			t.Errorf("q8Blocks %d blocks: %v != %v", blocks, a, b)
		}
		rows := randBytes(rng, 4*34*blocks+7)
		stride := 34*blocks + 1
		for r := range 4 {
			for b := range blocks {
				rows[r*stride+34*b+1] &= 0x7b
			}
		}
		var a4, b4 [4][8]float32
		q8Blocks4(&a4, rows, stride, xq, d)
		q8Blocks4Go(&b4, rows, stride, xq, d)
		if a4 != b4 {
			t.Errorf("q8Blocks4 %d blocks: %v != %v", blocks, a4, b4)
		}
	}
	for _, blocks := range []int{1, 5, 64, 100} {
		row := randBytes(rng, 144*blocks)
		xq := randQuants(rng, 256*blocks)
		a, b := make([]int32, blocks), make([]int32, blocks)
		q4BlockSums(row[:18*blocks], xq[:32*blocks], a)
		q4BlockSumsGo(row[:18*blocks], xq[:32*blocks], b)
		if !slices.Equal(a, b) {
			t.Errorf("q4BlockSums %d blocks: %v != %v", blocks, a, b)
		}
		r6 := randBytes(rng, 210*blocks)
		a, b = make([]int32, 8*blocks), make([]int32, 8*blocks)
		q6Lanes(r6, xq, a)
		q6LanesGo(r6, xq, b)
		if !slices.Equal(a, b) {
			t.Errorf("q6Lanes %d superblocks: %v != %v", blocks, a, b)
		}
		a, b = make([]int32, 8*blocks), make([]int32, 8*blocks)
		q4KSubSums(row, xq, a)
		q4KSubSumsGo(row, xq, b)
		if !slices.Equal(a, b) {
			t.Errorf("q4KSubSums %d superblocks: %v != %v", blocks, a, b)
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// randQuants returns n int8 quants in [−127, 127], as activations hold.
func randQuants(rng *rand.Rand, n int) []int8 {
	q := make([]int8, n)
	for i := range q {
		q[i] = int8(rng.IntN(255) - 127)
	}
	return q
}
