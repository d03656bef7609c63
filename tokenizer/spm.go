package tokenizer

import (
	"container/heap"
	"fmt"
	"strings"
)

// spmSpace is the SentencePiece meta symbol for a space, U+2581.
const spmSpace = "\u2581"

// spmSymbol is a piece of the text in the merge linked list; n == 0 marks a
// symbol merged into its left neighbour.
type spmSymbol struct {
	prev, next int
	start, n   int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// spmQueue pops the highest score first, the leftmost on ties.
type spmQueue []spmBigram

func (q spmQueue) Len() int { return len(q) }
func (q spmQueue) Less(i, j int) bool {
	if q[i].score != q[j].score {
		return q[i].score > q[j].score
	}
	return q[i].left < q[j].left
}
func (q spmQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *spmQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *spmQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// utf8Len is the sequence length announced by a UTF-8 lead byte, 1 for
// continuation or invalid bytes (llama.cpp's rule, so invalid input splits
// the same way).
func utf8Len(b byte) int {
	switch {
	case b < 0x80, b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	case b < 0xF8:
		return 4
	}
	return 1
}

// encodeSPM appends the SentencePiece tokens of raw to out, with a space
// prefixed when prefix is set.
func (t *Tokenizer) encodeSPM(out []int32, raw string, prefix bool) ([]int32, error) {
	if prefix {
		raw = " " + raw
	}
	text := strings.ReplaceAll(raw, " ", spmSpace)
	if text == "" {
		return out, nil
	}
	syms := make([]spmSymbol, 0, len(text))
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		syms = append(syms, spmSymbol{prev: len(syms) - 1, next: len(syms) + 1, start: off, n: n})
		off += n
	}
	syms[len(syms)-1].next = -1

	var q spmQueue
	tryAdd := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		s := text[syms[left].start : syms[right].start+syms[right].n]
		id, ok := t.ids[s]
		if !ok {
			return
		}
		var score float32
		if t.v.Scores != nil {
			score = t.v.Scores[id]
		}
		heap.Push(&q, spmBigram{left: left, right: right, score: score, size: len(s)})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(&q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size || l.next != b.right {
			continue // stale: one side was merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}

	for i := 0; i >= 0; i = syms[i].next {
		s := text[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(s); j++ {
			switch id := t.spmBytes[s[j]]; {
			case id >= 0:
				out = append(out, id)
			case t.v.UNK >= 0:
				out = append(out, t.v.UNK)
			default:
				return nil, fmt.Errorf("tokenizer: byte 0x%02X has no <0x%02X> token and the vocabulary has no unknown token", s[j], s[j])
			}
		}
	}
	return out, nil
}
