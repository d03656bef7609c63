package model

import (
	"fmt"
	"slices"
)

// Op is the operation that produces a checkpoint, spelled as llama.cpp's
// ggml op where it has one.
type Op string

// The operations of the checkpoint graph.
const (
	OpGetRows   Op = "get_rows"  // rows of Weights[0] picked by the token ids
	OpRMSNorm   Op = "rms_norm"  // RMSNorm of each group of len(Weights[0]) elements, times Weights[0]
	OpMulMat    Op = "mul_mat"   // Weights[0]·Inputs[0], plus the bias Weights[1] when present
	OpRope      Op = "rope"      // RoPE of each head of Inputs[0] (Config's style, base and dimension)
	OpAttention Op = "attention" // causal GQA softmax(q·kᵀ/√hd)·v of Inputs q, k, v
	OpAdd       Op = "add"       // Inputs[0] + Inputs[1]
	OpSwiGLU    Op = "swiglu"    // silu(Inputs[0])·Inputs[1]
)

// Width is a checkpoint's row width as a function of the Config.
type Width int

// The row widths of checkpoints.
const (
	WidthDim   Width = iota // d = Dim
	WidthQ                  // heads·hd = Heads·HeadDim
	WidthKV                 // kv·hd = KVHeads·HeadDim
	WidthFF                 // ff = FF
	WidthVocab              // vocab = Vocab
)

// Of returns the width for c.
func (w Width) Of(c *Config) int {
	switch w {
	case WidthQ:
		return c.Heads * c.HeadDim
	case WidthKV:
		return c.KVHeads * c.HeadDim
	case WidthFF:
		return c.FF
	case WidthVocab:
		return c.Vocab
	}
	return c.Dim
}

// String returns the width's formula: "d", "heads·hd", "kv·hd", "ff" or
// "vocab".
func (w Width) String() string {
	return [...]string{"d", "heads·hd", "kv·hd", "ff", "vocab"}[w]
}

// BlockIn, as an input of a node, is the residual stream entering a block:
// embd before block 0, the previous block's l_out after it, and after the
// last block (for output_norm) that block's l_out.
const BlockIn = "block_in"

// LlamaTensor is how llama.cpp's graph names a checkpoint: the tensor name
// without its "-L" layer suffix, and the ggml ops that may produce it
// (names repeat in llama.cpp's graph, so the op disambiguates; where Ops
// has several, a graph has one of them). An empty Name means llama.cpp
// leaves the tensor unnamed: it is the tensor of one of Ops that takes the
// node's first input as a source.
type LlamaTensor struct {
	Name string
	Ops  []string
}

// Node is one checkpoint kind of the graph.
type Node struct {
	Kind string // "attn_norm", "q", …, "logits"
	Op   Op
	// Block is true for the kinds every block produces ("blk.L.kind"),
	// false for embd, output_norm and logits.
	Block bool
	// Inputs are the kinds of the upstream checkpoints, in the order Op
	// takes them: kinds of the same block, or BlockIn.
	Inputs []string
	// Weights are the GGUF tensors Op reads, named without the "blk.L."
	// prefix ("attn_q.weight", "attn_q.bias"); see Weights.Lookup.
	Weights []string
	Width   Width
	Llama   LlamaTensor
	// Doc is the meaning, as DESIGN.md's checkpoint table gives it.
	Doc string
}

// Graph is the checkpoint graph of one configuration: every checkpoint
// kind its forward produces, in execution order, with the op, inputs,
// weights and width of each. It is the one description of the forward
// that the float64 oracle, the reference path, the llama.cpp capture and
// the dsl spec checks are derived from.
type Graph struct {
	cfg   Config
	nodes []Node
	index map[string]int
}

// NewGraph returns the checkpoint graph of c's architecture: llama,
// qwen2 and qwen3 share it, except that q/k/v carry biases when
// c.QKVBias (qwen2, and llama files that have them) and that q_norm and
// k_norm exist only when c.QKNorm (qwen3).
func NewGraph(c *Config) *Graph {
	g := &Graph{cfg: *c, index: map[string]int{}}
	add := func(n Node) {
		g.index[n.Kind] = len(g.nodes)
		g.nodes = append(g.nodes, n)
	}
	proj := "MUL_MAT"
	projWeights := func(w string) []string { return []string{w + ".weight"} }
	if c.QKVBias {
		proj = "ADD"
		projWeights = func(w string) []string { return []string{w + ".weight", w + ".bias"} }
	}
	add(Node{Kind: "embd", Op: OpGetRows, Weights: []string{"token_embd.weight"}, Width: WidthDim,
		Llama: LlamaTensor{"embd", []string{"GET_ROWS"}}, Doc: "token embedding rows"})
	add(Node{Kind: "attn_norm", Op: OpRMSNorm, Block: true, Inputs: []string{BlockIn}, Weights: []string{"attn_norm.weight"},
		Width: WidthDim, Llama: LlamaTensor{"attn_norm", []string{"MUL"}}, Doc: "RMSNorm(x)·γ"})
	add(Node{Kind: "q", Op: OpMulMat, Block: true, Inputs: []string{"attn_norm"}, Weights: projWeights("attn_q"),
		Width: WidthQ, Llama: LlamaTensor{"Qcur", []string{proj}}, Doc: "query projection incl. bias, before RoPE"})
	add(Node{Kind: "k", Op: OpMulMat, Block: true, Inputs: []string{"attn_norm"}, Weights: projWeights("attn_k"),
		Width: WidthKV, Llama: LlamaTensor{"Kcur", []string{proj}}, Doc: "key projection incl. bias, before RoPE"})
	add(Node{Kind: "v", Op: OpMulMat, Block: true, Inputs: []string{"attn_norm"}, Weights: projWeights("attn_v"),
		Width: WidthKV, Llama: LlamaTensor{"Vcur", []string{proj}}, Doc: "value projection incl. bias"})
	qsrc, ksrc := "q", "k"
	if c.QKNorm {
		add(Node{Kind: "q_norm", Op: OpRMSNorm, Block: true, Inputs: []string{"q"}, Weights: []string{"attn_q_norm.weight"},
			Width: WidthQ, Llama: LlamaTensor{"Qcur_normed", []string{"MUL"}}, Doc: "per-head RMSNorm of q (qwen3)"})
		add(Node{Kind: "k_norm", Op: OpRMSNorm, Block: true, Inputs: []string{"k"}, Weights: []string{"attn_k_norm.weight"},
			Width: WidthKV, Llama: LlamaTensor{"Kcur_normed", []string{"MUL"}}, Doc: "per-head RMSNorm of k (qwen3)"})
		qsrc, ksrc = "q_norm", "k_norm"
	}
	add(Node{Kind: "q_rope", Op: OpRope, Block: true, Inputs: []string{qsrc}, Width: WidthQ,
		Llama: LlamaTensor{"Qcur", []string{"ROPE"}}, Doc: "q after RoPE"})
	add(Node{Kind: "k_rope", Op: OpRope, Block: true, Inputs: []string{ksrc}, Width: WidthKV,
		Llama: LlamaTensor{"Kcur", []string{"ROPE"}}, Doc: "k after RoPE"})
	add(Node{Kind: "attn_out", Op: OpAttention, Block: true, Inputs: []string{"q_rope", "k_rope", "v"}, Width: WidthQ,
		// kqv_out-L is the CONT of the permuted KQ·V, or with flash
		// attention a RESHAPE of the FLASH_ATTN_EXT result.
		Llama: LlamaTensor{"kqv_out", []string{"CONT", "RESHAPE"}}, Doc: "softmax(q·kᵀ/√hd + causal mask)·v, GQA"})
	add(Node{Kind: "attn_proj", Op: OpMulMat, Block: true, Inputs: []string{"attn_out"}, Weights: []string{"attn_output.weight"},
		Width: WidthDim, Llama: LlamaTensor{"", []string{"MUL_MAT"}}, Doc: "Wo·attn_out"})
	add(Node{Kind: "ffn_inp", Op: OpAdd, Block: true, Inputs: []string{BlockIn, "attn_proj"}, Width: WidthDim,
		Llama: LlamaTensor{"ffn_inp", []string{"ADD"}}, Doc: "x + attn_proj"})
	add(Node{Kind: "ffn_norm", Op: OpRMSNorm, Block: true, Inputs: []string{"ffn_inp"}, Weights: []string{"ffn_norm.weight"},
		Width: WidthDim, Llama: LlamaTensor{"ffn_norm", []string{"MUL"}}, Doc: "RMSNorm(ffn_inp)·γ"})
	add(Node{Kind: "ffn_gate", Op: OpMulMat, Block: true, Inputs: []string{"ffn_norm"}, Weights: []string{"ffn_gate.weight"},
		Width: WidthFF, Llama: LlamaTensor{"ffn_gate", []string{"MUL_MAT"}}, Doc: "gate projection"})
	add(Node{Kind: "ffn_up", Op: OpMulMat, Block: true, Inputs: []string{"ffn_norm"}, Weights: []string{"ffn_up.weight"},
		Width: WidthFF, Llama: LlamaTensor{"ffn_up", []string{"MUL_MAT"}}, Doc: "up projection"})
	add(Node{Kind: "ffn_act", Op: OpSwiGLU, Block: true, Inputs: []string{"ffn_gate", "ffn_up"}, Width: WidthFF,
		Llama: LlamaTensor{"ffn_swiglu", []string{"GLU"}}, Doc: "silu(gate)·up"})
	add(Node{Kind: "ffn_out", Op: OpMulMat, Block: true, Inputs: []string{"ffn_act"}, Weights: []string{"ffn_down.weight"},
		Width: WidthDim, Llama: LlamaTensor{"ffn_out", []string{"MUL_MAT"}}, Doc: "Wdown·act"})
	add(Node{Kind: "l_out", Op: OpAdd, Block: true, Inputs: []string{"ffn_inp", "ffn_out"}, Width: WidthDim,
		Llama: LlamaTensor{"l_out", []string{"ADD"}}, Doc: "block output"})
	add(Node{Kind: "output_norm", Op: OpRMSNorm, Inputs: []string{BlockIn}, Weights: []string{"output_norm.weight"},
		Width: WidthDim, Llama: LlamaTensor{"result_norm", []string{"MUL"}}, Doc: "final RMSNorm"})
	add(Node{Kind: "logits", Op: OpMulMat, Inputs: []string{"output_norm"}, Weights: []string{"output.weight"},
		Width: WidthVocab, Llama: LlamaTensor{"result_output", []string{"MUL_MAT"}}, Doc: "LM head (token_embd when tied)"})
	return g
}

// Config returns the configuration the graph was built for.
func (g *Graph) Config() *Config { return &g.cfg }

// Nodes returns the graph's nodes in execution order. The slice is the
// graph's own: do not modify it.
func (g *Graph) Nodes() []Node { return g.nodes }

// Node returns the node of a checkpoint kind, and whether the graph has it.
func (g *Graph) Node(kind string) (Node, bool) {
	i, ok := g.index[kind]
	if !ok {
		return Node{}, false
	}
	return g.nodes[i], true
}

// Has reports whether the graph produces a checkpoint kind.
func (g *Graph) Has(kind string) bool { _, ok := g.index[kind]; return ok }

// Kinds lists the graph's checkpoint kinds in execution order.
func (g *Graph) Kinds() []string {
	out := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		out[i] = n.Kind
	}
	return out
}

// Cols returns the row width of a checkpoint kind (0 for a kind the graph
// does not have).
func (g *Graph) Cols(kind string) int {
	n, ok := g.Node(kind)
	if !ok {
		return 0
	}
	return n.Width.Of(&g.cfg)
}

// Names lists every full checkpoint name of one forward in execution
// order: the kinds before the blocks, each block's kinds, then the rest.
func (g *Graph) Names() []string {
	var before, block, after []string
	seenBlock := false
	for _, n := range g.nodes {
		switch {
		case n.Block:
			seenBlock = true
			block = append(block, n.Kind)
		case seenBlock:
			after = append(after, n.Kind)
		default:
			before = append(before, n.Kind)
		}
	}
	names := slices.Clone(before)
	for l := range g.cfg.Layers {
		for _, k := range block {
			names = append(names, CheckpointName(k, l))
		}
	}
	return append(names, after...)
}

// Check returns the node of a full checkpoint name with its layer, or an
// error when the name is malformed, names a kind this graph does not
// have, or a layer the model does not have.
func (g *Graph) Check(name string) (Node, int, error) {
	kind, l, err := ParseCheckpoint(name)
	if err != nil {
		return Node{}, 0, err
	}
	n, ok := g.Node(kind)
	if !ok {
		return Node{}, 0, fmt.Errorf("model: %s: a %s model has no %s checkpoint", name, g.cfg.Arch, kind)
	}
	if l >= g.cfg.Layers {
		return Node{}, 0, fmt.Errorf("model: %s: the model has %d layers", name, g.cfg.Layers)
	}
	return n, l, nil
}

// Inputs returns the full names of the checkpoints name is computed from,
// in the order its op takes them (BlockIn resolved).
func (g *Graph) Inputs(name string) ([]string, error) {
	n, l, err := g.Check(name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(n.Inputs))
	for i, in := range n.Inputs {
		switch {
		case in != BlockIn:
			out[i] = CheckpointName(in, l)
		case !n.Block:
			out[i] = CheckpointName("l_out", g.cfg.Layers-1)
		case l == 0:
			out[i] = "embd"
		default:
			out[i] = CheckpointName("l_out", l-1)
		}
	}
	return out, nil
}

// universal is the graph of every kind any architecture produces.
var universal = NewGraph(&Config{QKVBias: true, QKNorm: true})

// Kinds lists every checkpoint kind of any supported architecture, in
// execution order.
func Kinds() []string { return universal.Kinds() }

// IsKind reports whether kind is a checkpoint kind of some supported
// architecture.
func IsKind(kind string) bool { return universal.Has(kind) }

// Producers lists the architectures whose graph has a checkpoint kind.
func Producers(kind string) []string {
	var out []string
	for _, a := range Architectures() {
		c := archConfig(a)
		if NewGraph(&c).Has(kind) {
			out = append(out, a)
		}
	}
	return out
}

// archConfig is the structural part of an architecture's Config (no
// sizes): what NewGraph depends on.
func archConfig(name string) Config {
	a := archs[name]
	return Config{Arch: name, RopeStyle: a.rope, QKVBias: a.qkvBias, QKNorm: a.qkNorm}
}

// Lookup returns the weight of a graph node's weight name in block layer
// ("attn_q.weight", "attn_q.bias", …) or, for layer < 0, a global one
// ("token_embd.weight", "output_norm.weight", "output.weight" — the
// embedding when the output is tied). It returns nil for an unknown name
// or layer; an optional weight the model lacks comes back with nil Data.
func (w *Weights) Lookup(layer int, name string) *Weight {
	if layer < 0 {
		switch name {
		case "token_embd.weight":
			return &w.Embd
		case "output_norm.weight":
			return &w.OutputNorm
		case "output.weight":
			return &w.Output
		}
		return nil
	}
	if layer >= len(w.Layers) {
		return nil
	}
	l := &w.Layers[layer]
	switch name {
	case "attn_norm.weight":
		return &l.AttnNorm
	case "attn_q.weight":
		return &l.Q
	case "attn_k.weight":
		return &l.K
	case "attn_v.weight":
		return &l.V
	case "attn_q.bias":
		return &l.QBias
	case "attn_k.bias":
		return &l.KBias
	case "attn_v.bias":
		return &l.VBias
	case "attn_q_norm.weight":
		return &l.QNorm
	case "attn_k_norm.weight":
		return &l.KNorm
	case "attn_output.weight":
		return &l.O
	case "ffn_norm.weight":
		return &l.FFNNorm
	case "ffn_gate.weight":
		return &l.Gate
	case "ffn_up.weight":
		return &l.Up
	case "ffn_down.weight":
		return &l.Down
	}
	return nil
}
