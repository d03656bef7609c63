package model

import "fmt"

// LastForwarder is an optional capability of a Path: ForwardLast is
// Forward returning only the last position's logits, [Vocab] — all that
// generation samples from (llama.cpp likewise computes the LM head of the
// last token alone when generating). A path implementing it may run the
// final norm and LM head for that row only and download one row instead
// of T; the KV cache advances exactly as Forward's does. With a hook
// installed the call is Forward's (every checkpoint, the full logits
// among them, reaches the hook) and only the returned slice is cut to the
// last row, so step parity and the logits command, which use Forward, see
// what they always saw. The returned slice may alias a buffer the path
// reuses: it is valid until the path's next call.
type LastForwarder interface {
	ForwardLast(tokens []int32, pos int) ([]float32, error)
}

// ForwardLast runs tokens at positions pos… on p and returns the last
// position's logits: through p's ForwardLast when p implements
// LastForwarder, else the last row of p.Forward's logits. The slice may
// alias a buffer the path reuses: it is valid until p's next call.
func ForwardLast(p Path, tokens []int32, pos int) ([]float32, error) {
	if lf, ok := p.(LastForwarder); ok {
		logits, err := lf.ForwardLast(tokens, pos)
		if err != nil {
			return nil, err
		}
		if v := p.Config().Vocab; len(logits) != v {
			return nil, fmt.Errorf("model: %s's ForwardLast returned %d logits, want the vocabulary's %d", p.Name(), len(logits), v)
		}
		return logits, nil
	}
	logits, err := p.Forward(tokens, pos)
	if err != nil {
		return nil, err
	}
	return lastRow(logits, len(tokens), p.Config().Vocab)
}
