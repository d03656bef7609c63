package reference

// forwardLlama runs T tokens (already in c.ids) at positions pos… through
// a llama model and leaves the logits in c.logits.
//
// Shapes: d = Dim, h = Heads, kv = KVHeads, hd = HeadDim, ff = FF.
func forwardLlama(c *Context, T, pos int) {
	cfg, w := &c.cfg, &c.m.Weights
	d, h, kv, hd, ff := cfg.Dim, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.FF

	c.embed(c.x, T) // x (T, d) = token_embd[ids]
	c.emit("embd", -1, c.x, T, pos, d)

	for l := range cfg.Layers {
		lw := &w.Layers[l]

		// Attention.
		c.rmsnorm(c.xb, c.x, &lw.AttnNorm, T, d) // xb (T, d) = rmsnorm(x)·γ
		c.emit("attn_norm", l, c.xb, T, pos, d)
		c.matmul(c.q, c.xb, &lw.Q, T) // q (T, h·hd) = Wq (h·hd, d) · xb
		c.emit("q", l, c.q, T, pos, h*hd)
		c.matmul(c.k, c.xb, &lw.K, T) // k (T, kv·hd) = Wk (kv·hd, d) · xb
		c.emit("k", l, c.k, T, pos, kv*hd)
		c.matmul(c.v, c.xb, &lw.V, T) // v (T, kv·hd) = Wv (kv·hd, d) · xb
		c.emit("v", l, c.v, T, pos, kv*hd)
		c.rope(c.q, h, T, pos) // rotate adjacent pairs (2i, 2i+1) of each head
		c.emit("q_rope", l, c.q, T, pos, h*hd)
		c.rope(c.k, kv, T, pos)
		c.emit("k_rope", l, c.k, T, pos, kv*hd)
		c.kvWrite(l, c.k, c.v, T, pos)     // cache rows pos…pos+T-1 (cap, kv·hd)
		c.attention(c.att, c.q, l, T, pos) // att (T, h·hd), causal, GQA
		c.emit("attn_out", l, c.att, T, pos, h*hd)
		c.matmul(c.proj, c.att, &lw.O, T) // proj (T, d) = Wo (d, h·hd) · att
		c.emit("attn_proj", l, c.proj, T, pos, d)
		c.add(c.h, c.x, c.proj, T, d) // h (T, d) = x + proj
		c.emit("ffn_inp", l, c.h, T, pos, d)

		// Feed-forward.
		c.rmsnorm(c.xb, c.h, &lw.FFNNorm, T, d) // xb (T, d) = rmsnorm(h)·γ
		c.emit("ffn_norm", l, c.xb, T, pos, d)
		c.matmul(c.gate, c.xb, &lw.Gate, T) // gate (T, ff) = Wg (ff, d) · xb
		c.emit("ffn_gate", l, c.gate, T, pos, ff)
		c.matmul(c.up, c.xb, &lw.Up, T) // up (T, ff) = Wu (ff, d) · xb
		c.emit("ffn_up", l, c.up, T, pos, ff)
		c.swiglu(c.gate, c.gate, c.up, T, ff) // gate (T, ff) = silu(gate)·up
		c.emit("ffn_act", l, c.gate, T, pos, ff)
		c.matmul(c.ffo, c.gate, &lw.Down, T) // ffo (T, d) = Wd (d, ff) · gate
		c.emit("ffn_out", l, c.ffo, T, pos, d)
		c.add(c.x, c.h, c.ffo, T, d) // x (T, d) = h + ffo
		c.emit("l_out", l, c.x, T, pos, d)
	}

	c.rmsnorm(c.xb, c.x, &w.OutputNorm, T, d) // xb (T, d) = rmsnorm(x)·γ
	c.emit("output_norm", -1, c.xb, T, pos, d)
	c.lmHead(c.logits, c.xb, &w.Output, T) // logits (T, vocab) f32 = Wout (vocab, d) · xb
	c.emitAs("logits", -1, c.logits, T, pos, cfg.Vocab, f32)
}
