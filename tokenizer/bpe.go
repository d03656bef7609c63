package tokenizer

import (
	"container/heap"
	"fmt"
	"strings"
)

// byteToRune is GPT-2's byte-level alphabet: printable Latin-1 bytes
// ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the other 68 bytes to
// U+0100 and up, in byte order.
var byteToRune = func() [256]rune {
	var m [256]rune
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}()

// ByteLevel maps each byte of s to its GPT-2 alphabet character, the form
// in which byte-level BPE vocabularies store tokens (" the" -> "Ġthe").
func ByteLevel(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToRune[s[i]])
	}
	return sb.String()
}

func (t *Tokenizer) initBPE() error {
	switch t.v.Pre {
	case PreQwen2:
		t.pre = func(s string) []string { return splitLlama3(s, 1) }
	case PreLlama3:
		t.pre = func(s string) []string { return splitLlama3(s, 3) }
		t.wholeWords = true
	default:
		t.pre = splitGPT2
	}
	t.unByte = make(map[rune]byte, 256)
	for b, r := range byteToRune {
		t.unByte[r] = byte(b)
		id, ok := t.ids[string(r)]
		if !ok {
			id = -1
		}
		t.bpeBytes[b] = id
	}
	t.merges = make(map[uint64]mergeRes, len(t.v.Merges))
	for rank, m := range t.v.Merges {
		a, b, _ := strings.Cut(m, " ")
		ia, oka := t.ids[a]
		ib, okb := t.ids[b]
		ir, okr := t.ids[a+b]
		if !oka || !okb || !okr {
			continue
		}
		k := pairKey(ia, ib)
		if _, dup := t.merges[k]; !dup {
			t.merges[k] = mergeRes{rank: int32(rank), id: ir}
		}
	}
	return nil
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// encodeBPE appends the byte-level BPE tokens of raw to out.
func (t *Tokenizer) encodeBPE(out []int32, raw string) ([]int32, error) {
	var err error
	for _, word := range t.pre(raw) {
		if out, err = t.bpeWord(out, word); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type bpeSym struct {
	id         int32
	prev, next int
	dead       bool
}

type bpePair struct {
	rank        int32
	left, right int
	lid, rid    int32
}

// bpeQueue pops the lowest rank first, the leftmost on ties.
type bpeQueue []bpePair

func (q bpeQueue) Len() int { return len(q) }
func (q bpeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].left < q[j].left
}
func (q bpeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bpeQueue) Push(x any)   { *q = append(*q, x.(bpePair)) }
func (q *bpeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// bpeWord merges the bytes of one pre-tokenized word.
func (t *Tokenizer) bpeWord(out []int32, word string) ([]int32, error) {
	if word == "" {
		return out, nil
	}
	if t.wholeWords {
		if id, ok := t.ids[ByteLevel(word)]; ok {
			return append(out, id), nil
		}
	}
	syms := make([]bpeSym, len(word))
	for i := 0; i < len(word); i++ {
		id := t.bpeBytes[word[i]]
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: byte 0x%02X has no token %q in this byte-level vocabulary", word[i], string(byteToRune[word[i]]))
		}
		syms[i] = bpeSym{id: id, prev: i - 1, next: i + 1}
	}
	syms[len(syms)-1].next = -1
	if len(syms) == 1 {
		return append(out, syms[0].id), nil
	}
	var q bpeQueue
	tryAdd := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		if m, ok := t.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			heap.Push(&q, bpePair{rank: m.rank, left: l, right: r, lid: syms[l].id, rid: syms[r].id})
		}
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.Len() > 0 {
		p := heap.Pop(&q).(bpePair)
		l, r := &syms[p.left], &syms[p.right]
		if l.dead || r.dead || l.next != p.right || l.id != p.lid || r.id != p.rid {
			continue // stale
		}
		l.id = t.merges[pairKey(p.lid, p.rid)].id
		r.dead = true
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = p.left
		}
		tryAdd(l.prev, p.left)
		tryAdd(p.left, l.next)
	}
	for i := 0; i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out, nil
}
