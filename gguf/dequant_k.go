package gguf

// The k-quants: super-blocks of 256 elements (ggml-common.h block_q*_K).

// Q2_K: scales [16]uint8 (low nibble scale, high nibble min), qs [64]uint8
// (2-bit quants), d f16, dmin f16. Each 128-element half uses 32 bytes of
// qs; 16-element group g takes bits 2·(g/2%4) of qs[16·(g%2) …].
func dqQ2K[F float](b []byte, out []F) {
	scales, qs := b[0:16], b[16:80]
	d, dmin := half[F](b[80:]), half[F](b[82:])
	y, is := 0, 0
	for n := 0; n < qkK; n += 128 {
		q := qs[n/4 : n/4+32]
		for shift := uint(0); shift < 8; shift += 2 {
			for h := 0; h < 2; h++ {
				sc := scales[is]
				is++
				dl, ml := d*F(sc&15), dmin*F(sc>>4)
				for l := 0; l < 16; l++ {
					out[y] = F(dl*F(q[16*h+l]>>shift&3)) - ml
					y++
				}
			}
		}
	}
}

// q3Scales unpacks Q3_K's twelve scale bytes into sixteen 6-bit scales
// (0–63; the caller subtracts 32): the low 4 bits of scale j come from
// byte j%8 (low nibble for j < 8, high nibble otherwise), the high 2 bits
// from byte 8 + j%4, bits 2·(j/4).
func q3Scales(s []byte) [16]int {
	var out [16]int
	for j := 0; j < 16; j++ {
		lo := s[j%8]
		if j >= 8 {
			lo >>= 4
		}
		hi := s[8+j%4] >> (2 * uint(j/4)) & 3
		out[j] = int(lo&15) | int(hi)<<4
	}
	return out
}

// Q3_K: hmask [32]uint8 (third bit, cleared means subtract 4), qs [64]uint8
// (low 2 bits), scales [12]uint8 (16 packed 6-bit scales), d f16.
func dqQ3K[F float](b []byte, out []F) {
	hm, qs := b[0:32], b[32:96]
	sc := q3Scales(b[96:108])
	d := half[F](b[108:])
	y, is := 0, 0
	m := byte(1)
	for n := 0; n < qkK; n += 128 {
		q := qs[n/4 : n/4+32]
		for shift := uint(0); shift < 8; shift += 2 {
			for h := 0; h < 2; h++ {
				dl := d * F(sc[is]-32)
				is++
				for l := 0; l < 16; l++ {
					v := int(q[16*h+l] >> shift & 3)
					if hm[16*h+l]&m == 0 {
						v -= 4
					}
					out[y] = dl * F(v)
					y++
				}
			}
			m <<= 1
		}
	}
}

// scaleMinK4 unpacks scale and min j (0–7) from the twelve scale bytes of
// Q4_K and Q5_K (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&15 | q[j-4]>>6<<4, q[j+4]>>4 | q[j]>>6<<4
}

// Q4_K: d f16, dmin f16, scales [12]uint8, qs [128]uint8. Each 64-element
// chunk uses 32 bytes: low nibbles with scale/min 2c, high nibbles with
// 2c+1; x = d·sc·q − dmin·m.
func dqQ4K[F float](b []byte, out []F) {
	d, dmin := half[F](b), half[F](b[2:])
	scales, qs := b[4:16], b[16:144]
	for c := 0; c < 4; c++ {
		s1, m1 := scaleMinK4(2*c, scales)
		s2, m2 := scaleMinK4(2*c+1, scales)
		d1, dm1 := d*F(s1), dmin*F(m1)
		d2, dm2 := d*F(s2), dmin*F(m2)
		q := qs[32*c : 32*c+32]
		y := out[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			y[l] = F(d1*F(q[l]&15)) - dm1
			y[l+32] = F(d2*F(q[l]>>4)) - dm2
		}
	}
}

// Q5_K: d f16, dmin f16, scales [12]uint8, qh [32]uint8, qs [128]uint8; as
// Q4_K with a fifth bit from qh: bit 2c for the low nibbles of chunk c, bit
// 2c+1 for the high nibbles.
func dqQ5K[F float](b []byte, out []F) {
	d, dmin := half[F](b), half[F](b[2:])
	scales, qh, qs := b[4:16], b[16:48], b[48:176]
	for c := 0; c < 4; c++ {
		s1, m1 := scaleMinK4(2*c, scales)
		s2, m2 := scaleMinK4(2*c+1, scales)
		d1, dm1 := d*F(s1), dmin*F(m1)
		d2, dm2 := d*F(s2), dmin*F(m2)
		q := qs[32*c : 32*c+32]
		y := out[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			lo := q[l]&15 | (qh[l]>>(2*c)&1)<<4
			hi := q[l]>>4 | (qh[l]>>(2*c+1)&1)<<4
			y[l] = F(d1*F(lo)) - dm1
			y[l+32] = F(d2*F(hi)) - dm2
		}
	}
}

// Q6_K: ql [128]uint8 (low 4 bits), qh [64]uint8 (high 2 bits), scales
// [16]int8, d f16; x = d·scale·(q−32). Each 128-element half uses 64 bytes
// of ql, 32 of qh and 8 scales.
func dqQ6K[F float](b []byte, out []F) {
	d := half[F](b[208:])
	for n := 0; n < 2; n++ {
		ql := b[64*n : 64*n+64]
		qh := b[128+32*n : 128+32*n+32]
		sc := b[192+8*n : 192+8*n+8]
		y := out[128*n : 128*n+128]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(ql[l]&15|(qh[l]>>0&3)<<4) - 32
			q2 := int(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			y[l] = F(d*F(int8(sc[is]))) * F(q1)
			y[l+32] = F(d*F(int8(sc[is+2]))) * F(q2)
			y[l+64] = F(d*F(int8(sc[is+4]))) * F(q3)
			y[l+96] = F(d*F(int8(sc[is+6]))) * F(q4)
		}
	}
}
