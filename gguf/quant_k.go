package gguf

import "math"

// Quantizers for Q4_K and Q6_K. Each 16- or 32-element group gets a scale
// (and for Q4_K a min) chosen by a small search that minimises the squared
// error; the group scales are then quantized against one float16
// super-scale and the elements re-quantized with the scales as stored, so
// the encoding is what dequantization will see.

// fitAffine searches scale s ≥ 0 and offset m ≥ 0 so that x ≈ s·q − m with
// integer q in [0, nmax], minimising Σ(x − (s·q − m))². Each of 21
// candidate grids assigns q, then s and m are the least-squares fit for
// that assignment; the squared error follows from the sums.
func fitAffine(x []float32, nmax int) (s, m float32) {
	lo, hi := minMax(x)
	lo = min(lo, 0)
	if hi == lo {
		return 0, -lo
	}
	var sx, sxx float64
	for _, v := range x {
		sx += float64(v)
		sxx += float64(v) * float64(v)
	}
	n := float64(len(x))
	bestErr := math.Inf(1)
	for step := -10; step <= 10; step++ {
		iscale := (float32(nmax) + 0.05*float32(step)) / (hi - lo)
		var sq, sqq, sxq float64
		for _, v := range x {
			q := min(nmax, int(iscale*(v-lo)+0.5)) // v−lo ≥ 0: round half up
			fq := float64(q)
			sq += fq
			sqq += fq * fq
			sxq += float64(v) * fq
		}
		// Least squares for x ≈ a·q + c.
		det := n*sqq - sq*sq
		if det <= 0 {
			continue
		}
		a := (n*sxq - sq*sx) / det
		c := (sx - a*sq) / n
		if c > 0 { // the offset must be ≤ 0 (m ≥ 0): refit the scale alone
			c = 0
			a = sxq / sqq
		}
		if a < 0 {
			continue
		}
		e := sxx - 2*a*sxq - 2*c*sx + a*a*sqq + 2*a*c*sq + n*c*c
		if e < bestErr {
			bestErr, s, m = e, float32(a), float32(-c)
		}
	}
	if math.IsInf(bestErr, 1) {
		return (hi - lo) / float32(nmax), -lo
	}
	return s, m
}

// roundHalfAway rounds to the nearest integer, halves away from zero (C's
// roundf), for values well inside the int range.
func roundHalfAway(v float32) int {
	if v < 0 {
		return -int(-v + 0.5)
	}
	return int(v + 0.5)
}

// fitSymmetric searches a scale s (of either sign) so that x ≈ s·q with
// integer q in [−nmax, nmax−1], minimising Σ(x − s·q)². For a given
// assignment q the best s is Σxq/Σq² and the error Σx² − (Σxq)²/Σq², so
// the candidate with the largest (Σxq)²/Σq² wins.
func fitSymmetric(x []float32, nmax int) float32 {
	mx := signedMax(x)
	if mx == 0 {
		return 0
	}
	var best float32
	bestGain := -1.0
	for step := -9; step <= 9; step++ {
		iscale := -(float32(nmax) + 0.1*float32(step)) / mx
		var sxq, sqq float64
		for _, v := range x {
			q := float64(clampInt(roundHalfAway(iscale*v), -nmax, nmax-1))
			sxq += float64(v) * q
			sqq += q * q
		}
		if sqq == 0 {
			continue
		}
		if g := sxq * sxq / sqq; g > bestGain {
			bestGain, best = g, float32(sxq/sqq)
		}
	}
	return best
}

// qQ4K encodes one Q4_K super-block (layout at dqQ4K).
func qQ4K(x []float32, b []byte) {
	var sc, mn [8]float32
	var maxSc, maxMn float32
	for j := 0; j < 8; j++ {
		sc[j], mn[j] = fitAffine(x[32*j:32*j+32], 15)
		maxSc, maxMn = max(maxSc, sc[j]), max(maxMn, mn[j])
	}
	d, dmin := roundF16(maxSc/63), roundF16(maxMn/63)
	var ls, lm [8]byte
	for j := 0; j < 8; j++ {
		if d > 0 {
			ls[j] = byte(clampInt(roundHalfAway(sc[j]/d), 0, 63))
		}
		if dmin > 0 {
			lm[j] = byte(clampInt(roundHalfAway(mn[j]/dmin), 0, 63))
		}
	}
	le.PutUint16(b[0:], F32ToF16(d))
	le.PutUint16(b[2:], F32ToF16(dmin))
	s := b[4:16]
	for j := 0; j < 4; j++ {
		s[j] = ls[j] | ls[j+4]>>4<<6
		s[j+4] = lm[j] | lm[j+4]>>4<<6
		s[j+8] = ls[j+4]&15 | lm[j+4]&15<<4
	}
	qs := b[16:144]
	for j := 0; j < 8; j++ {
		es, em := d*float32(ls[j]), dmin*float32(lm[j])
		for l := 0; l < 32; l++ {
			q := 0
			if es > 0 {
				q = clampInt(roundHalfAway((x[32*j+l]+em)/es), 0, 15)
			}
			c, hi := j/2, j%2
			if hi == 0 {
				qs[32*c+l] = byte(q)
			} else {
				qs[32*c+l] |= byte(q) << 4
			}
		}
	}
}

// qQ6K encodes one Q6_K super-block (layout at dqQ6K).
func qQ6K(x []float32, b []byte) {
	var sc [16]float32
	var maxAbs, maxSc float32
	for j := 0; j < 16; j++ {
		sc[j] = fitSymmetric(x[16*j:16*j+16], 32)
		if a := abs32(sc[j]); a > maxAbs {
			maxAbs, maxSc = a, sc[j]
		}
	}
	for i := range b {
		b[i] = 0
	}
	if maxAbs == 0 {
		for i := 0; i < 128; i++ {
			b[i] = 0x00
		}
		// q = 32 everywhere encodes zero: low nibbles 0, high bits 2.
		for i := 0; i < 64; i++ {
			b[128+i] = 0xaa
		}
		return
	}
	d := roundF16(maxSc / -128)
	var ls [16]int8
	for j := 0; j < 16; j++ {
		ls[j] = int8(clampInt(roundHalfAway(sc[j]/d), -128, 127))
		b[192+j] = byte(ls[j])
	}
	le.PutUint16(b[208:], F32ToF16(d))
	for j := 0; j < 16; j++ {
		es := d * float32(ls[j])
		for l := 0; l < 16; l++ {
			q := 32
			if es != 0 {
				q = clampInt(roundHalfAway(x[16*j+l]/es), -32, 31) + 32
			}
			// Element e = 16j+l sits in half n = e/128 at position p = e%128:
			// ql byte 64n + p%64 (low nibble for p < 64… see dqQ6K).
			e := 16*j + l
			n, p := e/128, e%128
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			r, part := p%32, p/32 // part 0..3 ↔ q1..q4
			switch part {
			case 0:
				ql[r] |= byte(q & 15)
			case 1:
				ql[r+32] |= byte(q & 15)
			case 2:
				ql[r] |= byte(q&15) << 4
			case 3:
				ql[r+32] |= byte(q&15) << 4
			}
			qh[r] |= byte(q>>4&3) << (2 * uint(part))
		}
	}
}
