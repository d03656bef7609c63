package gguf

// Quantizers for Q5_K, Q3_K and IQ4_NL (the types of llama.cpp's Q5_K_M
// and Q3_K_M presets and their fallbacks), and IQ4_NL's dequantizer. Like
// the other quantizers here they choose each group's scale by a small
// least-squares search and then encode the elements against the scales as
// stored; they are valid encodings, not llama.cpp's own search.

// qQ5K encodes one Q5_K super-block (layout at dqQ5K): Q4_K's search with
// 5-bit quants.
func qQ5K(x []float32, b []byte) {
	var sc, mn [8]float32
	var maxSc, maxMn float32
	for j := 0; j < 8; j++ {
		sc[j], mn[j] = fitAffine(x[32*j:32*j+32], 31)
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
	qh, qs := b[16:48], b[48:176]
	clear(qh)
	clear(qs)
	for j := 0; j < 8; j++ {
		es, em := d*float32(ls[j]), dmin*float32(lm[j])
		c, hi := j/2, j%2
		for l := 0; l < 32; l++ {
			q := 0
			if es > 0 {
				q = clampInt(roundHalfAway((x[32*j+l]+em)/es), 0, 31)
			}
			qs[32*c+l] |= byte(q&15) << (4 * hi)
			qh[l] |= byte(q>>4) << (2*c + hi)
		}
	}
}

// qQ3K encodes one Q3_K super-block (layout at dqQ3K): sixteen groups of
// 16 with a signed 3-bit quant (−4…3) and a 6-bit group scale (stored +32)
// against one f16 super-scale.
func qQ3K(x []float32, b []byte) {
	var sc [16]float32
	var amax, mx float32
	for j := 0; j < 16; j++ {
		sc[j] = fitSymmetric(x[16*j:16*j+16], 4)
		if a := abs32(sc[j]); a > amax {
			amax, mx = a, sc[j]
		}
	}
	var d float32
	var ls [16]int
	if amax > 0 {
		d = roundF16(-mx / 32)
		for j := range ls {
			ls[j] = clampInt(roundHalfAway(sc[j]/d), -32, 31)
		}
	}
	hm, qs, s := b[0:32], b[32:96], b[96:108]
	clear(hm)
	clear(qs)
	clear(s)
	for j := 0; j < 16; j++ {
		v := byte(ls[j] + 32)
		if j < 8 {
			s[j] |= v & 15
		} else {
			s[j-8] |= (v & 15) << 4
		}
		s[8+j%4] |= (v >> 4) << (2 * uint(j/4))
	}
	le.PutUint16(b[108:], F32ToF16(d))
	// Element y of the block: half n = y/128, shift pair p = (y%128)/32,
	// h = (y%32)/16, l = y%16; group j = 8n + 2p + h (dqQ3K's order).
	for y := 0; y < qkK; y++ {
		n, p, h, l := y/128, (y%128)/32, (y%32)/16, y%16
		j := 8*n + 2*p + h
		q := 0
		if es := d * float32(ls[j]); es != 0 {
			q = clampInt(roundHalfAway(x[y]/es), -4, 3)
		}
		u := q + 4 // 0…7: low 2 bits in qs, bit 2 in hmask (set: no −4)
		qs[32*n+16*h+l] |= byte(u&3) << (2 * uint(p))
		if u&4 != 0 {
			hm[16*h+l] |= 1 << uint(4*n+p)
		}
	}
}

// iq4nlValues is ggml's kvalues_iq4nl: the non-linear 4-bit grid of IQ4_NL.
var iq4nlValues = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// IQ4_NL: d f16, qs [16]uint8; element j < 16 is d·grid[qs[j]&15], element
// j+16 is d·grid[qs[j]>>4].
func dqIQ4NL[F float](b []byte, out []F) {
	d := half[F](b)
	for j := 0; j < 16; j++ {
		out[j] = d * F(iq4nlValues[b[2+j]&15])
		out[j+16] = d * F(iq4nlValues[b[2+j]>>4])
	}
}

// qIQ4NL encodes one IQ4_NL block: d = m/−127 for the element m of
// largest magnitude (rounded to f16), each element the nearest grid value.
func qIQ4NL(x []float32, b []byte) {
	m := signedMax(x)
	d := roundF16(m / -127)
	le.PutUint16(b, F32ToF16(d))
	for j := 0; j < 16; j++ {
		lo, hi := nearestIQ4NL(x[j], d), nearestIQ4NL(x[j+16], d)
		b[2+j] = lo | hi<<4
	}
}

// nearestIQ4NL returns the index of the grid value nearest to v/d.
func nearestIQ4NL(v, d float32) byte {
	if d == 0 {
		return 8 // grid value 1 is the nearest to 0 but for −10; any index dequantizes to 0
	}
	t := v / d
	best, bestErr := 0, float32(1e30)
	for i, g := range iq4nlValues {
		if e := abs32(t - float32(g)); e < bestErr {
			best, bestErr = i, e
		}
	}
	return byte(best)
}
