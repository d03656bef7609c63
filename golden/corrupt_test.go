package golden

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	out, _ := recordFake(t, dir, RecordOptions{})
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor(fakePath + "/blk.3.l_out")
	last := f.Tensors[len(f.Tensors)-1]
	flip := func(at int64, bit byte) []byte {
		b := slices.Clone(good)
		b[at] ^= bit
		return b
	}
	meta := bytes.Index(good, []byte(Magic))                     // general.type's value
	magic := bytes.Index(good, []byte(KeyMagic)) + len(KeyMagic) // then type, length, value
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"flip in tensor", flip(f.DataOffset+ti.Offset+17, 0x10), []string{`"golden-fake/blk.3.l_out"`, "checksum mismatch"}},
		{"flip in tokens", flip(f.DataOffset+last.Offset, 0x01), []string{`"golden-fake/tokens"`, "checksum mismatch"}},
		{"truncated data", good[:len(good)-10], []string{`"golden-fake/tokens"`, "truncated"}},
		{"truncated mid-tensor", good[:f.DataOffset+ti.Offset+100], []string{`"golden-fake/blk.3.l_out"`, "truncated"}},
		{"truncated header", good[:200], []string{"truncated"}},
		{"flip in general.type", flip(int64(meta+2), 0x01), []string{"metadata checksum mismatch"}},
		{"flip in magic", flip(int64(magic+12+2), 0x01), []string{"not a metallic golden"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".gguf")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
				t.Errorf("error %v is neither ErrCorrupt nor ErrFormat", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestMetadataChecksum edits a provenance value (keeping the file valid
// GGUF) and expects the metadata checksum to catch it.
func TestMetadataChecksum(t *testing.T) {
	dir := t.TempDir()
	out, _ := recordFake(t, dir, RecordOptions{})
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The created time "2026-11-27T01:02:03Z" → "2026-11-27T01:02:04Z".
	i := bytes.Index(good, []byte("2026-11-27T01:02:03Z"))
	if i < 0 {
		t.Fatal("created time not found")
	}
	b := slices.Clone(good)
	b[i+18] = '4'
	p := filepath.Join(dir, "edited.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "metadata checksum") {
		t.Errorf("got %v, want a metadata checksum error", err)
	}
}

func TestVersionHint(t *testing.T) {
	dir := t.TempDir()
	out, _ := recordFake(t, dir, RecordOptions{})
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		version uint32
		hint    string
	}{{Version + 1, "update paritycheck"}, {0, "re-record"}} {
		w := gguf.NewWriter()
		for _, kv := range f.KV {
			v := kv.Value
			if kv.Key == KeyVersion {
				v = tc.version
			}
			if err := w.AddKV(kv.Key, v); err != nil {
				t.Fatal(err)
			}
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, f.Data(ti)); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, "v.gguf")
		if err := w.WriteFile(p); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("version %d: got %v, want ErrFormat with %q", tc.version, err, tc.hint)
		}
	}
	if _, err := Open(repoFile(t, "testdata/stories260K.gguf")); !errors.Is(err, ErrFormat) {
		t.Errorf("a model file: got %v, want ErrFormat", err)
	}
}

// FuzzDecode feeds damaged goldens (bits flipped at two places, the tail
// cut) to the decoder: it must return an error or, for harmless damage
// (alignment padding, GGUF version 3 → 2), the original content; never
// panic.
func FuzzDecode(f *testing.F) {
	out, _ := recordFake(f, f.TempDir(), RecordOptions{N: 2})
	good, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	gf0, err := gguf.Parse(good)
	if err != nil {
		f.Fatal(err)
	}
	want, err := decode(gf0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), byte(0), uint32(0), byte(0), uint32(0))
	f.Add(uint32(100), byte(1), uint32(3000), byte(0x40), uint32(0))
	f.Add(uint32(len(good)/2), byte(0x80), uint32(0), byte(0), uint32(9))
	f.Add(uint32(24), byte(0xff), uint32(16), byte(2), uint32(len(good)/3))
	f.Fuzz(func(t *testing.T, at1 uint32, x1 byte, at2 uint32, x2 byte, cut uint32) {
		data := slices.Clone(good)
		data[int(at1)%len(data)] ^= x1
		data[int(at2)%len(data)] ^= x2
		data = data[:len(data)-int(cut)%len(data)]
		gf, err := gguf.Parse(data)
		if err != nil {
			return
		}
		g, err := decode(gf)
		if err == nil && !reflect.DeepEqual(g, want) {
			t.Errorf("damage at %d/%d (cut %d) changed the content unnoticed", at1, at2, cut)
		}
	})
}
