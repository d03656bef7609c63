package llamacpp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// tensorInfo is what the eval callback reads from a struct ggml_tensor.
type tensorInfo struct {
	typ     int32
	buffer  unsafe.Pointer
	ne      [4]int64
	nb      [4]uint64
	op      int32
	src     [2]unsafe.Pointer
	viewSrc unsafe.Pointer
	data    unsafe.Pointer
	name    string
}

// readTensor reads the fields at the offsets checked by checkTensorLayout.
func readTensor(t unsafe.Pointer) tensorInfo {
	var ti tensorInfo
	ti.typ = *(*int32)(unsafe.Add(t, offTensorType))
	ti.buffer = *(*unsafe.Pointer)(unsafe.Add(t, offTensorBuffer))
	ti.ne = *(*[4]int64)(unsafe.Add(t, offTensorNe))
	ti.nb = *(*[4]uint64)(unsafe.Add(t, offTensorNb))
	ti.op = *(*int32)(unsafe.Add(t, offTensorOp))
	ti.src = *(*[2]unsafe.Pointer)(unsafe.Add(t, offTensorSrc))
	ti.viewSrc = *(*unsafe.Pointer)(unsafe.Add(t, offTensorViewSrc))
	ti.data = *(*unsafe.Pointer)(unsafe.Add(t, offTensorData))
	name := unsafe.Slice((*byte)(unsafe.Add(t, offTensorName)), tensorNameLen)
	n := 0
	for n < len(name) && name[n] != 0 {
		n++
	}
	ti.name = string(name[:n])
	return ti
}

// A rule maps a llama.cpp graph tensor, by name (layer suffix removed) and
// ggml op, to a checkpoint kind.
type rule struct {
	name, op, kind string
}

// rules returns the mapping for cfg. Names repeat in llama.cpp's graph
// (Qcur-L is the projection, its bias ADD, a reshape view and the RoPE
// result), so the op disambiguates; a second match of one checkpoint in a
// forward call is reported as an error.
func rules(cfg *model.Config) []rule {
	proj := "MUL_MAT"
	if cfg.QKVBias {
		proj = "ADD"
	}
	r := []rule{
		{"embd", "GET_ROWS", "embd"},
		{"attn_norm", "MUL", "attn_norm"},
		{"Qcur", proj, "q"},
		{"Kcur", proj, "k"},
		{"Vcur", proj, "v"},
	}
	if cfg.QKNorm {
		r = append(r, rule{"Qcur_normed", "MUL", "q_norm"}, rule{"Kcur_normed", "MUL", "k_norm"})
	}
	return append(r,
		rule{"Qcur", "ROPE", "q_rope"},
		rule{"Kcur", "ROPE", "k_rope"},
		// Without flash attention kqv_out-L is the CONT of the permuted
		// KQ·V; with it, a RESHAPE view of the FLASH_ATTN_EXT result. A
		// graph has one or the other.
		rule{"kqv_out", "CONT", "attn_out"},
		rule{"kqv_out", "RESHAPE", "attn_out"},
		rule{"ffn_inp", "ADD", "ffn_inp"},
		rule{"ffn_norm", "MUL", "ffn_norm"},
		rule{"ffn_gate", "MUL_MAT", "ffn_gate"},
		rule{"ffn_up", "MUL_MAT", "ffn_up"},
		rule{"ffn_swiglu", "GLU", "ffn_act"},
		rule{"ffn_out", "MUL_MAT", "ffn_out"},
		rule{"l_out", "ADD", "l_out"},
		rule{"result_norm", "MUL", "output_norm"},
		rule{"result_output", "MUL_MAT", "logits"},
	)
}

// Checkpoints lists the checkpoint kinds the eval callback maps, in
// execution order: embd, attn_norm, q, k, v, (q_norm, k_norm for qwen3),
// q_rope, k_rope, attn_out, attn_proj, ffn_inp, ffn_norm, ffn_gate, ffn_up,
// ffn_act, ffn_out, l_out, output_norm, logits.
func (p *Path) Checkpoints() []string {
	// attn_proj has no rule: it is matched by its input, kqv_out-L (see onEval).
	have := map[string]bool{"attn_proj": true}
	for _, r := range rules(&p.cfg) {
		have[r.kind] = true
	}
	var out []string
	for _, group := range [][]string{model.GlobalBefore, model.PerLayer, model.GlobalAfter} {
		for _, k := range group {
			if have[k] {
				out = append(out, k)
			}
		}
	}
	return out
}

// splitName splits "attn_norm-3" into ("attn_norm", 3) and "result_norm"
// into ("result_norm", -1).
func splitName(s string) (string, int) {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if l, err := strconv.Atoi(s[i+1:]); err == nil && l >= 0 {
			return s[:i], l
		}
	}
	return s, -1
}

// capture is the state of one llama_decode call with a hook installed.
type capture struct {
	p     *Path
	pos   int
	T     int
	rules map[[2]string]string // {name, op} -> kind
	seen  map[string]bool
	kqv   map[unsafe.Pointer]int // kqv_out-L tensors seen, to find Wo·kqv_out (unnamed in qwen2/qwen3)
	err   error
}

func newCapture(p *Path, T int) *capture {
	c := &capture{p: p, pos: p.n, T: T, rules: map[[2]string]string{}, seen: map[string]bool{}, kqv: map[unsafe.Pointer]int{}}
	for _, r := range rules(&p.cfg) {
		c.rules[[2]string{r.name, r.op}] = r.kind
	}
	return c
}

// traceEval, when set (by tests), sees every tensor the eval callback is
// asked about during a capture.
var traceEval func(name, op string, typ int32, ne [4]int64)

var evalCB struct {
	once sync.Once
	ptr  uintptr
}

// evalCallback returns the process's ggml_backend_sched_eval_callback,
// created once; its user data is a Path id.
func evalCallback() uintptr {
	evalCB.once.Do(func() {
		evalCB.ptr = purego.NewCallback(onEval)
	})
	return evalCB.ptr
}

// onEval is bool cb_eval(struct ggml_tensor * t, bool ask, void * user_data).
// Asked (ask = true) it answers whether t is a checkpoint; told (ask =
// false) it delivers t to the hook and returns true to continue.
func onEval(t unsafe.Pointer, ask, ud uintptr) uintptr {
	paths.mu.Lock()
	p := paths.m[ud]
	paths.mu.Unlock()
	asking := ask&0xff != 0
	if p == nil || p.cap == nil || p.hook == nil || t == nil {
		if asking {
			return 0
		}
		return 1
	}
	c := p.cap
	ti := readTensor(t)
	op := p.l.op(ti.op)
	base, layer := splitName(ti.name)
	kind, ok := c.rules[[2]string{base, op}]
	if kind == "attn_out" {
		c.kqv[t] = layer
	}
	if op == "MUL_MAT" {
		// The attention output projection is named attn_out-L in llama's
		// graph and left unnamed in qwen2/qwen3's: find it by its input.
		if l, isProj := c.kqv[ti.src[1]]; isProj {
			kind, layer, ok = "attn_proj", l, true
		}
	}
	if asking {
		if traceEval != nil {
			traceEval(ti.name, op, ti.typ, ti.ne)
		}
		if ok && c.err == nil {
			return 1
		}
		return 0
	}
	if ok && c.err == nil {
		if kind == "embd" || kind == "output_norm" || kind == "logits" {
			layer = -1
		}
		c.deliver(t, ti, kind, layer)
	}
	return 1
}

// deliver copies t into a model.Tensor, calls the hook and writes back what
// the hook changed.
func (c *capture) deliver(t unsafe.Pointer, ti tensorInfo, kind string, layer int) {
	name := model.CheckpointName(kind, layer)
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("llamacpp: hook panicked on %s: %v", name, r)
		}
	}()
	fail := func(format string, args ...any) {
		c.err = fmt.Errorf("llamacpp: capturing %s (llama.cpp tensor %q): %s", name, ti.name, fmt.Sprintf(format, args...))
	}
	if c.seen[name] {
		fail("a second tensor maps to this checkpoint in one forward call (ambiguous mapping)")
		return
	}
	c.seen[name] = true
	if ti.typ != ggmlTypeF32 && ti.typ != ggmlTypeF16 {
		fail("ggml type %d is neither F32 nor F16", ti.typ)
		return
	}
	ne, nb, T := ti.ne, ti.nb, int64(c.T)
	if ne[3] != 1 || !(ne[2] == T || (ne[2] == 1 && ne[1] == T)) {
		fail("shape ne=%v does not end in %d positions", ne, T)
		return
	}
	if ti.buffer == nil && (ti.viewSrc == nil || readTensor(ti.viewSrc).buffer == nil) {
		fail("tensor has no backend buffer")
		return
	}
	size := c.p.l.nbytes(t)
	if size == 0 {
		fail("tensor has no data")
		return
	}
	raw := make([]byte, size)
	c.p.l.tensorGet(t, unsafe.Pointer(&raw[0]), 0, size)
	data, offs, err := gather(raw, ti.typ, ne, nb)
	if err != nil {
		fail("%v", err)
		return
	}
	n := int64(len(data))
	orig := append([]float32(nil), data...)
	tt := &model.Tensor{Name: name, Layer: layer, Pos: c.pos, Rows: c.T, Cols: int(n / T), Data: data}
	c.p.hook(tt)
	if len(tt.Data) != len(orig) {
		fail("hook changed the length of Data from %d to %d", len(orig), len(tt.Data))
		return
	}
	if scatter(raw, ti.typ, offs, orig, tt.Data) {
		c.p.l.tensorSet(t, unsafe.Pointer(&raw[0]), 0, size)
	}
}

// gather reads the F32 or F16 elements of a tensor of shape ne (ne[3] = 1)
// and byte strides nb from raw, in row-major order (ne[0] fastest), and
// returns them with their byte offsets.
func gather(raw []byte, typ int32, ne [4]int64, nb [4]uint64) ([]float32, []uint64, error) {
	esize := uint64(4)
	if typ == ggmlTypeF16 {
		esize = 2
	}
	n := ne[0] * ne[1] * ne[2]
	offs := make([]uint64, 0, n)
	data := make([]float32, 0, n)
	for i2 := range ne[2] {
		for i1 := range ne[1] {
			for i0 := range ne[0] {
				o := uint64(i0)*nb[0] + uint64(i1)*nb[1] + uint64(i2)*nb[2]
				if o+esize > uint64(len(raw)) {
					return nil, nil, fmt.Errorf("element offset %d beyond %d bytes", o, len(raw))
				}
				offs = append(offs, o)
				if esize == 4 {
					data = append(data, math.Float32frombits(le32(raw[o:])))
				} else {
					data = append(data, gguf.F16ToF32(le16(raw[o:])))
				}
			}
		}
	}
	return data, offs, nil
}

// scatter writes the elements of data that differ bitwise from orig back to
// raw at offs (rounded to F16 for F16 tensors) and reports whether any did.
func scatter(raw []byte, typ int32, offs []uint64, orig, data []float32) bool {
	changed := false
	for i, v := range data {
		if math.Float32bits(v) == math.Float32bits(orig[i]) {
			continue
		}
		changed = true
		if typ == ggmlTypeF16 {
			put16(raw[offs[i]:], gguf.F32ToF16(v))
		} else {
			put32(raw[offs[i]:], math.Float32bits(v))
		}
	}
	return changed
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
