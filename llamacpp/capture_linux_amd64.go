package llamacpp

import (
	"fmt"
	"math"
	"slices"
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

// mapping is how the eval callback recognizes checkpoints, derived from
// the checkpoint graph's llama.cpp names (model.Node.Llama). Names repeat
// in llama.cpp's graph (Qcur-L is the projection, its bias ADD, a reshape
// view and the RoPE result), so the op disambiguates; a second match of
// one checkpoint in a forward call is reported as an error.
type mapping struct {
	graph *model.Graph
	// named maps {tensor name without "-L", ggml op} to a checkpoint kind.
	named map[[2]string]string
	// byInput maps a checkpoint kind to the unnamed node computed from it:
	// the tensor of one of its ops that has the kind's tensor as a source
	// (Wo·kqv_out, named attn_out-L in llama's graph and left unnamed in
	// qwen2/qwen3's).
	byInput map[string]unnamed
}

type unnamed struct {
	ops  []string
	kind string
}

func newMapping(cfg *model.Config) *mapping {
	m := &mapping{graph: model.NewGraph(cfg), named: map[[2]string]string{}, byInput: map[string]unnamed{}}
	for _, n := range m.graph.Nodes() {
		if n.Llama.Name == "" {
			m.byInput[n.Inputs[0]] = unnamed{n.Llama.Ops, n.Kind}
			continue
		}
		for _, op := range n.Llama.Ops {
			m.named[[2]string{n.Llama.Name, op}] = n.Kind
		}
	}
	return m
}

// Checkpoints lists the checkpoint kinds the eval callback maps: every kind
// of the model's checkpoint graph (model.NewGraph), in its order.
func (p *Path) Checkpoints() []string { return model.NewGraph(&p.cfg).Kinds() }

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
	p    *Path
	pos  int
	T    int
	m    *mapping
	seen map[string]bool
	// srcs are the tensors seen that an unnamed checkpoint is found by
	// (kqv_out-L), with their kind and layer.
	srcs map[unsafe.Pointer]source
	err  error
}

type source struct {
	kind  string
	layer int
}

func newCapture(p *Path, T int) *capture {
	return &capture{p: p, pos: p.n, T: T, m: newMapping(&p.cfg), seen: map[string]bool{}, srcs: map[unsafe.Pointer]source{}}
}

// match returns the checkpoint kind and layer of a graph tensor, if it is
// one, and remembers the sources of unnamed checkpoints.
func (c *capture) match(t unsafe.Pointer, ti tensorInfo, op string) (string, int, bool) {
	base, layer := splitName(ti.name)
	kind, ok := c.m.named[[2]string{base, op}]
	if ok {
		if _, isSrc := c.m.byInput[kind]; isSrc {
			c.srcs[t] = source{kind, layer}
		}
	} else {
		for _, src := range ti.src {
			s, found := c.srcs[src]
			if u := c.m.byInput[s.kind]; found && slices.Contains(u.ops, op) {
				kind, layer, ok = u.kind, s.layer, true
			}
		}
	}
	if n, known := c.m.graph.Node(kind); ok && known && !n.Block {
		layer = -1
	}
	return kind, layer, ok
}

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
	kind, layer, ok := c.match(t, ti, op)
	if asking {
		if p.trace != nil {
			n := GraphNode{Name: ti.name, Op: op, Type: gguf.Type(ti.typ).String(), Shape: ti.ne}
			if ok {
				n.Checkpoint = model.CheckpointName(kind, layer)
			}
			*p.trace = append(*p.trace, n)
		}
		if ok && c.err == nil {
			return 1
		}
		return 0
	}
	if ok && c.err == nil {
		c.deliver(t, ti, kind, layer)
	}
	return 1
}

// Trace runs tokens from position 0 (after a Reset) and returns every
// node of llama.cpp's compute graph the eval callback was asked about, in
// the order it was asked, each with the checkpoint it maps to: the tool
// for extending the checkpoint graph's llama.cpp names (model.Node.Llama).
// It leaves the cache empty.
func (p *Path) Trace(tokens []int32) ([]GraphNode, error) {
	var nodes []GraphNode
	hook := p.hook
	p.trace = &nodes
	if hook == nil {
		p.hook = func(*model.Tensor) {}
	}
	defer func() { p.hook, p.trace = hook, nil }()
	p.Reset()
	defer p.Reset()
	if _, err := p.Forward(tokens, 0); err != nil {
		return nil, err
	}
	return nodes, nil
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
