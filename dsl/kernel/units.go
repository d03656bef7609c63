package kernel

import (
	"github.com/metallic-go/metallic/gguf"
)

// Types of generated code used by the vectorized GEMV and GEMM.
var (
	// U32x4 is four uints read with one 16-byte load (uint4 in MSL, an
	// aligned struct in CUDA).
	U32x4 = Type{"u32x4", "u32x4"}
	// F4 is four floats in threadgroup memory (float4 in MSL, an aligned
	// struct with operator[] in CUDA).
	F4      = Type{"f4", "f4"}
	ushortT = Type{"ushort", "ushort"}
	wptr    = Type{"const device uchar*", "const uchar*"}
	hptr    = Type{"const device ushort*", "const ushort*"}
)

// unit describes how the GPU GEMV and GEMM read a weight row of one dtype:
// a row is NU units of U values each, read with a few wide loads and
// decoded in registers. Value j of unit u is element elem(u, j) of the
// row; the elements of all units cover the row exactly once. A dtype
// without a unit form is read one element per unit through its accessor
// (U = 1, the scalar fallback).
type unit struct {
	name string
	U    int
	// elem is the row element of value j of unit u.
	elem func(u Expr, j int) Expr
	// load emits the loads of unit u of the row at row (a const GLOBAL
	// uchar*) and returns the loaded registers.
	load func(b *Builder, row, u Expr) []*Var
	// decode emits the decoding of the loaded registers and returns the
	// unit's U values in order.
	decode func(b *Builder, raw []*Var, u Expr) []Expr
}

// unitOf returns the unit form of weight dtype t for rows of k elements.
// Vector forms need k to be a whole number of units and rows a multiple
// of 16 bytes where they use 16-byte loads.
func unitOf(t gguf.Type, k int) unit {
	u := unitForm(t, k)
	// Unit expressions are used inside larger ones: parenthesize them.
	elem, load, decode := u.elem, u.load, u.decode
	u.elem = func(x Expr, j int) Expr { return elem(F("(%s)", x), j) }
	u.load = func(b *Builder, row, x Expr) []*Var { return load(b, row, F("(%s)", x)) }
	u.decode = func(b *Builder, raw []*Var, x Expr) []Expr { return decode(b, raw, F("(%s)", x)) }
	return u
}

func unitForm(t gguf.Type, k int) unit {
	switch {
	case t == gguf.TypeF32 && k%4 == 0:
		return unit{name: "f32x4", U: 4, elem: contiguous(4), load: load16,
			decode: func(b *Builder, raw []*Var, _ Expr) []Expr {
				var out []Expr
				for _, c := range []string{"x", "y", "z", "w"} {
					out = append(out, F("bits_f32(%s.%s)", raw[0], Expr{text: c}))
				}
				return out
			}}
	case (t == gguf.TypeF16 || t == gguf.TypeBF16) && k%8 == 0:
		bf := t == gguf.TypeBF16
		name := "f16x8"
		if bf {
			name = "bf16x8"
		}
		return unit{name: name, U: 8, elem: contiguous(8), load: load16,
			decode: func(b *Builder, raw []*Var, _ Expr) []Expr {
				var out []Expr
				for _, c := range []string{"x", "y", "z", "w"} {
					w := F("%s.%s", raw[0], Expr{text: c})
					if bf {
						out = append(out, F("bits_f32(%s << 16)", w), F("bits_f32(%s & 0xffff0000u)", w))
					} else {
						out = append(out, F("f16_bits(ushort(%s & 0xffffu))", w), F("f16_bits(ushort(%s >> 16))", w))
					}
				}
				return out
			}}
	case t == gguf.TypeQ8_0:
		// Unit u: elements 8u…8u+7, a quarter of block u/4 (34 bytes: f16
		// scale, 32 int8), read as 2-byte words (blocks are 2-aligned).
		return unit{name: "q8_0x8", U: 8, elem: contiguous(8),
			load: func(b *Builder, row, u Expr) []*Var {
				p := b.Let(hptr, "qp", F("(const GLOBAL ushort*)(%s + (%s / 4) * 34)", row, u))
				part := b.Let(Int, "part", F("%s %% 4", u))
				out := []*Var{b.Let(ushortT, "qd", F("%s[0]", p))}
				for i := 0; i < 4; i++ {
					out = append(out, b.Let(ushortT, "qw", F("%s[1 + 4 * %s + %d]", p, part, i)))
				}
				return out
			},
			decode: func(b *Builder, raw []*Var, _ Expr) []Expr {
				d := b.Let(Float, "d", F("f16_bits(%s)", raw[0]))
				var out []Expr
				for j := 0; j < 8; j++ {
					q := F("(int(((uint)%s >> %d) & 0xffu) ^ 0x80) - 128", raw[1+j/2], 8*(j%2))
					out = append(out, F("%s * float(%s)", d, q))
				}
				return out
			}}
	case t == gguf.TypeQ4_0:
		// Unit u: quarter p = u%4 of block u/4 (18 bytes: f16 scale, 16
		// bytes of nibbles): bytes 4p…4p+3, whose low nibbles are elements
		// 4p…4p+3 and high nibbles 16+4p…16+4p+3 of the block.
		return unit{name: "q4_0x8", U: 8,
			elem: func(u Expr, j int) Expr {
				if j < 4 {
					return F("(32 * (%s / 4) + 4 * (%s %% 4) + %d)", u, u, j)
				}
				return F("(32 * (%s / 4) + 4 * (%s %% 4) + %d)", u, u, 16+j-4)
			},
			load: func(b *Builder, row, u Expr) []*Var {
				p := b.Let(hptr, "qp", F("(const GLOBAL ushort*)(%s + (%s / 4) * 18)", row, u))
				part := b.Let(Int, "part", F("%s %% 4", u))
				return []*Var{b.Let(ushortT, "qd", F("%s[0]", p)),
					b.Let(ushortT, "qw", F("%s[1 + 2 * %s]", p, part)),
					b.Let(ushortT, "qw", F("%s[2 + 2 * %s]", p, part))}
			},
			decode: func(b *Builder, raw []*Var, _ Expr) []Expr {
				d := b.Let(Float, "d", F("f16_bits(%s)", raw[0]))
				out := make([]Expr, 8)
				for i := 0; i < 4; i++ {
					by := F("(((uint)%s >> %d) & 0xffu)", raw[1+i/2], 8*(i%2))
					out[i] = F("%s * float(int(%s & 15u) - 8)", d, by)
					out[4+i] = F("%s * float(int(%s >> 4) - 8)", d, by)
				}
				return out
			}}
	case t == gguf.TypeQ5_0:
		// Unit u: quarter p = u%4 of block u/4 (22 bytes: f16 scale, 32
		// high bits, 16 bytes of nibbles; 2-aligned): bytes 4p…4p+3 of
		// the nibbles, whose low nibbles are elements 4p…4p+3 (high bits
		// 4p…4p+3) and high nibbles 16+4p…16+4p+3 (high bits 16+4p…).
		return unit{name: "q5_0x8", U: 8,
			elem: func(u Expr, j int) Expr {
				if j < 4 {
					return F("(32 * (%s / 4) + 4 * (%s %% 4) + %d)", u, u, j)
				}
				return F("(32 * (%s / 4) + 4 * (%s %% 4) + %d)", u, u, 16+j-4)
			},
			load: func(b *Builder, row, u Expr) []*Var {
				p := b.Let(hptr, "qp", F("(const GLOBAL ushort*)(%s + (%s / 4) * 22)", row, u))
				part := b.Let(Int, "part", F("%s %% 4", u))
				return []*Var{b.Let(ushortT, "qd", F("%s[0]", p)),
					b.Let(ushortT, "qh", F("%s[1]", p)), b.Let(ushortT, "qh", F("%s[2]", p)),
					b.Let(ushortT, "qw", F("%s[3 + 2 * %s]", p, part)),
					b.Let(ushortT, "qw", F("%s[4 + 2 * %s]", p, part))}
			},
			decode: func(b *Builder, raw []*Var, u Expr) []Expr {
				d := b.Let(Float, "d", F("f16_bits(%s)", raw[0]))
				hb := b.Let(Uint, "hb", F("((uint)%s | ((uint)%s << 16)) >> (4 * (%s %% 4))", raw[1], raw[2], u))
				out := make([]Expr, 8)
				for i := 0; i < 4; i++ {
					by := F("(((uint)%s >> %d) & 0xffu)", raw[3+i/2], 8*(i%2))
					out[i] = F("%s * float(int((%s & 15u) | (((%s >> %d) & 1u) << 4)) - 16)", d, by, hb, i)
					out[4+i] = F("%s * float(int((%s >> 4) | (((%s >> %d) & 1u) << 4)) - 16)", d, by, hb, 16+i)
				}
				return out
			}}
	case t == gguf.TypeQ4_K && k%256 == 0:
		// Unit u: superblock u/8 (144 bytes, 16-aligned), 64-element group
		// c = (u%8)/2, half hh = u%2: 16 bytes of nibbles at 16+32c+16hh,
		// one 16-byte load. Low nibbles are elements 64c+16hh+j (scale
		// 2c), high nibbles 64c+32+16hh+j (scale 2c+1).
		return unit{name: "q4_kx32", U: 32,
			elem: func(u Expr, j int) Expr {
				off := j
				if j >= 16 {
					off = 32 + j - 16
				}
				return F("(256 * (%s / 8) + 64 * ((%s %% 8) / 2) + 16 * (%s %% 2) + %d)", u, u, u, off)
			},
			load: func(b *Builder, row, u Expr) []*Var {
				blk := b.Let(wptr, "sb", F("%s + (%s / 8) * 144", row, u))
				hdr := b.Let(U32x4, "hdr", F("*(const GLOBAL u32x4*)(%s)", blk))
				qs := b.Let(U32x4, "qs", F("*(const GLOBAL u32x4*)(%s + 16 + 32 * ((%s %% 8) / 2) + 16 * (%s %% 2))", blk, u, u))
				return []*Var{hdr, qs}
			},
			decode: func(b *Builder, raw []*Var, u Expr) []Expr {
				hdr, qs := raw[0], raw[1]
				d := b.Let(Float, "d", F("f16_bits(ushort(%s.x & 0xffffu))", hdr))
				dmin := b.Let(Float, "dmin", F("f16_bits(ushort(%s.x >> 16))", hdr))
				is := b.Let(Int, "is", F("2 * ((%s %% 8) / 2)", u))
				lo := b.Let(Int, "sm", F("q4k_sm(%s.y, %s.z, %s.w, %s)", hdr, hdr, hdr, is))
				hi := b.Let(Int, "sm", F("q4k_sm(%s.y, %s.z, %s.w, %s + 1)", hdr, hdr, hdr, is))
				alo := b.Let(Float, "a", F("%s * float(%s & 255)", d, lo))
				blo := b.Let(Float, "c", F("%s * float(%s >> 8)", dmin, lo))
				ahi := b.Let(Float, "a", F("%s * float(%s & 255)", d, hi))
				bhi := b.Let(Float, "c", F("%s * float(%s >> 8)", dmin, hi))
				out := make([]Expr, 32)
				for i := 0; i < 16; i++ {
					by := F("((%s.%s >> %d) & 0xffu)", qs, Expr{text: []string{"x", "y", "z", "w"}[i/4]}, 8*(i%4))
					out[i] = F("(%s * float(%s & 15u) - %s)", alo, by, blo)
					out[16+i] = F("(%s * float(%s >> 4) - %s)", ahi, by, bhi)
				}
				return out
			}}
	case t == gguf.TypeQ6_K && k%256 == 0:
		// Unit u: superblock u/8 (210 bytes, 2-aligned), half h = (u%8)/4,
		// l0 = 8(u%4): the elements 128h+32g+l0+i (g, i < 4, 8) whose low
		// bits are in ql[64h+l0+i] (g even) and ql[64h+32+l0+i] (g odd),
		// high bits in qh[128+32h+l0+i], scales at 192+8h+l0/16+2g.
		return unit{name: "q6_kx32", U: 32,
			elem: func(u Expr, j int) Expr {
				return F("(256 * (%s / 8) + 128 * ((%s %% 8) / 4) + 8 * (%s %% 4) + %d)", u, u, u, 32*(j/8)+j%8)
			},
			load: func(b *Builder, row, u Expr) []*Var {
				blk := b.Let(wptr, "sb", F("%s + (%s / 8) * 210", row, u))
				h := b.Let(Int, "h", F("(%s %% 8) / 4", u))
				l0 := b.Let(Int, "l0", F("8 * (%s %% 4)", u))
				p := b.Let(hptr, "qp", F("(const GLOBAL ushort*)(%s)", blk))
				var out []*Var
				for _, off := range []string{"64 * %s + %s", "64 * %s + 32 + %s", "128 + 32 * %s + %s"} {
					for i := 0; i < 4; i++ {
						out = append(out, b.Let(ushortT, "qw", F("%s[("+off+") / 2 + %d]", p, h, l0, i)))
					}
				}
				for g := 0; g < 4; g++ {
					out = append(out, b.Let(Int, "sc", F("int(%s[192 + 8 * %s + %s / 16 + %d] ^ 0x80) - 128", blk, h, l0, 2*g)))
				}
				return append(out, b.Let(ushortT, "qd", F("%s[104]", p)))
			},
			decode: func(b *Builder, raw []*Var, _ Expr) []Expr {
				d := b.Let(Float, "d", F("f16_bits(%s)", raw[16]))
				byteOf := func(base, i int) Expr {
					return F("(((uint)%s >> %d) & 0xffu)", raw[base+i/2], 8*(i%2))
				}
				out := make([]Expr, 32)
				for g := 0; g < 4; g++ {
					ds := b.Let(Float, "ds", F("%s * float(%s)", d, raw[12+g]))
					for i := 0; i < 8; i++ {
						ql := byteOf(4*(g&1), i)
						if g >= 2 {
							ql = F("(%s >> 4)", ql)
						} else {
							ql = F("(%s & 15u)", ql)
						}
						qh := F("((%s >> %d) & 3u)", byteOf(8, i), 2*g)
						out[8*g+i] = F("%s * float(int(%s | (%s << 4)) - 32)", ds, ql, qh)
					}
				}
				return out
			}}
	}
	fn := weightFn(t)
	return unit{name: "scalar_" + fn, U: 1, elem: func(u Expr, _ int) Expr { return u },
		load: func(b *Builder, row, u Expr) []*Var {
			return []*Var{b.Let(Float, "wv", F("%s(%s, 0, 0, %s)", Expr{text: fn}, row, u))}
		},
		decode: func(_ *Builder, raw []*Var, _ Expr) []Expr { return []Expr{raw[0].E()} }}
}

// contiguous is the element map of units of n consecutive elements.
func contiguous(n int) func(u Expr, j int) Expr {
	return func(u Expr, j int) Expr { return F("(%d * %s + %d)", n, u, j) }
}

// load16 reads unit u of the row with one 16-byte load.
func load16(b *Builder, row, u Expr) []*Var {
	return []*Var{b.Let(U32x4, "wv", F("((const GLOBAL u32x4*)(%s))[%s]", row, u))}
}

// q4kSrc decodes the 6-bit scale and min of sub-block is of a Q4_K
// superblock from its 12 scale bytes (given as three little-endian words):
// it returns scale | min << 8.
const q4kSrc = `FN int q4k_byte(uint s0, uint s1, uint s2, int i) {
    uint w = i < 4 ? s0 : (i < 8 ? s1 : s2);
    return int((w >> (8 * (i % 4))) & 0xffu);
}
FN int q4k_sm(uint s0, uint s1, uint s2, int is) {
    int sc;
    int m;
    if (is < 4) {
        sc = q4k_byte(s0, s1, s2, is) & 63;
        m = q4k_byte(s0, s1, s2, is + 4) & 63;
    } else {
        sc = (q4k_byte(s0, s1, s2, is + 4) & 15) | ((q4k_byte(s0, s1, s2, is - 4) >> 6) << 4);
        m = (q4k_byte(s0, s1, s2, is + 4) >> 4) | ((q4k_byte(s0, s1, s2, is) >> 6) << 4);
    }
    return sc | (m << 8);
}`

// unitIncludes returns the helpers the unit form of t needs.
func unitIncludes(t gguf.Type, k int) []Include {
	if unitOf(t, k).name == "q4_kx32" {
		return []Include{{Name: "q4k_sm", MSL: q4kSrc, CUDA: q4kSrc}}
	}
	return nil
}
