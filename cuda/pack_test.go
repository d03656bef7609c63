package cuda

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

func TestPackParams(t *testing.T) {
	buf := backend.Arg{Kind: backend.ArgBuffer}
	for _, tc := range []struct {
		name     string
		args     []backend.Arg
		ptrs     []devptr
		wantOffs []int
		want     []byte
	}{
		{"empty", nil, nil, nil, nil},
		{"one int", []backend.Arg{backend.Int(-2)}, []devptr{0}, []int{0}, le32(0xfffffffe)},
		{"buffer then scalars", []backend.Arg{buf, backend.Int(7), backend.Float(1.5)}, []devptr{0x1122334455667788, 0, 0},
			[]int{0, 8, 12}, cat(le64(0x1122334455667788), le32(7), le32(math.Float32bits(1.5)))},
		{"int then buffer pads to 8", []backend.Arg{backend.Int(3), buf}, []devptr{0, 0xabc},
			[]int{0, 8}, cat(le32(3), le32(0), le64(0xabc))},
		{"three ints then buffer", []backend.Arg{backend.Int(1), backend.Int(2), backend.Int(3), buf}, []devptr{0, 0, 0, 0x40},
			[]int{0, 4, 8, 16}, cat(le32(1), le32(2), le32(3), le32(0), le64(0x40))},
		{"rope's argument list", []backend.Arg{buf, buf, backend.Int(8), backend.Int(64), backend.Int(64), buf, backend.Float(1e4), backend.Int(1)},
			[]devptr{0x100, 0x100, 0, 0, 0, 0x208, 0, 0}, []int{0, 8, 16, 20, 24, 32, 40, 44},
			cat(le64(0x100), le64(0x100), le32(8), le32(64), le32(64), le32(0), le64(0x208), le32(math.Float32bits(1e4)), le32(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{9, 9, 9} // earlier launches' bytes: offsets are relative to this launch
			blob, offs, err := packParams(append([]byte(nil), prefix...), []int{99}, tc.args, tc.ptrs)
			if err != nil {
				t.Fatal(err)
			}
			if got := blob[len(prefix):]; !bytes.Equal(got, tc.want) {
				t.Errorf("bytes = % x, want % x", got, tc.want)
			}
			if got := offs[1:]; !equalInts(got, tc.wantOffs) {
				t.Errorf("offsets = %v, want %v", got, tc.wantOffs)
			}
		})
	}
}

func TestPackParamsErrors(t *testing.T) {
	many := make([]backend.Arg, maxParamBytes/4+1)
	for i := range many {
		many[i] = backend.Int(i)
	}
	for _, tc := range []struct {
		name string
		args []backend.Arg
		want string
	}{
		{"int overflow", []backend.Arg{backend.Int(math.MaxInt32 + 1)}, "does not fit a 32-bit int"},
		{"int underflow", []backend.Arg{backend.Int(math.MinInt32 - 1)}, "does not fit a 32-bit int"},
		{"unknown kind", []backend.Arg{{Kind: 7}}, "unknown argument kind 7"},
		{"too many bytes", many, "exceed the 4096-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := packParams(nil, nil, tc.args, make([]devptr, len(tc.args)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckParams(t *testing.T) {
	args := []backend.Arg{{Kind: backend.ArgBuffer}, backend.Int(1), backend.Float(2)}
	_, offs, err := packParams(nil, nil, args, make([]devptr, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []paramSlot
		err  string
	}{
		{"match", []paramSlot{{0, 8}, {8, 4}, {12, 4}}, ""},
		{"count", []paramSlot{{0, 8}, {8, 4}}, "takes 2 parameters, got 3 arguments (bif)"},
		{"size", []paramSlot{{0, 8}, {8, 8}, {16, 4}}, "parameter 1 is 8 bytes, got a 4-byte int argument"},
		{"offset", []paramSlot{{0, 8}, {8, 4}, {16, 4}}, "parameter 2 is at offset 16, packed at 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkParams(args, offs, tc.want)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestBuiltinSigsCoverOps: every built-in op of backend/ops.go has an
// argument signature here.
func TestBuiltinSigsCoverOps(t *testing.T) {
	for _, op := range backend.Ops() {
		if _, ok := builtinSigs[op]; !ok {
			t.Errorf("op %s has no signature", op)
		}
	}
	if len(builtinSigs) != len(backend.Ops()) {
		t.Errorf("%d signatures for %d ops", len(builtinSigs), len(backend.Ops()))
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
