package model

import (
	"reflect"
	"strings"
	"testing"
)

// lastOnly is a scripted path that also implements LastForwarder and
// records which of the two entry points each call used.
type lastOnly struct {
	*scripted
	lastCalls int
	short     bool // ForwardLast returns one logit too few
}

func (l *lastOnly) ForwardLast(tokens []int32, pos int) ([]float32, error) {
	l.lastCalls++
	all, err := l.scripted.Forward(tokens, pos)
	if err != nil {
		return nil, err
	}
	row := all[(len(tokens)-1)*l.cfg.Vocab:]
	if l.short {
		row = row[1:]
	}
	return row, nil
}

func TestForwardLast(t *testing.T) {
	t.Run("fallback", func(t *testing.T) {
		p := newScripted()
		row, err := ForwardLast(p, []int32{1, 2, 3}, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The last row (position 2) puts 10 on script[2] = 5.
		if want := []float32{0, 0, 0, 0, 0, 10}; !reflect.DeepEqual(row, want) {
			t.Fatalf("got %v, want %v", row, want)
		}
	})
	t.Run("capability", func(t *testing.T) {
		p := &lastOnly{scripted: newScripted()}
		res, err := Generate(p, []int32{1, 2, 3}, GenerateOptions{MaxTokens: 4})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int32{5, 4, 3, 2}; !reflect.DeepEqual(res.Tokens, want) {
			t.Fatalf("tokens %v, want %v", res.Tokens, want)
		}
		// Prefill and the 3 decode steps all went through ForwardLast.
		if p.lastCalls != 4 || len(p.calls) != 4 {
			t.Fatalf("%d ForwardLast calls of %d forward calls, want 4 of 4", p.lastCalls, len(p.calls))
		}
	})
	t.Run("wrong length", func(t *testing.T) {
		p := &lastOnly{scripted: newScripted(), short: true}
		_, err := ForwardLast(p, []int32{1}, 0)
		if err == nil || !strings.Contains(err.Error(), "returned 5 logits, want the vocabulary's 6") {
			t.Fatalf("err = %v", err)
		}
	})
}
