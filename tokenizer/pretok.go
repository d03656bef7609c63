package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizers below are hand-written equivalents of these regular
// expressions (Go's regexp has no lookahead), with the alternation tried in
// order at each position as a backtracking regex engine would:
//
//	qwen2:   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//	         ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//	llama3:  the same with \p{N}{1,3}
//	default: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (?i:…) is ASCII case folding, as llama.cpp and the JavaScript port spell
// it ('[sS]|…'). \s is Unicode White_Space, \p{L} letters, \p{N} numbers.
// Bytes that are not valid UTF-8 count as "other" characters.

// runeText is text decoded to runes with the byte offset of each rune; off
// has one extra entry, len(text).
type runeText struct {
	r   []rune
	off []int
}

func decodeRunes(s string) runeText {
	rt := runeText{r: make([]rune, 0, len(s)), off: make([]int, 0, len(s)+1)}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		rt.r = append(rt.r, r)
		rt.off = append(rt.off, i)
		i += w
	}
	rt.off = append(rt.off, len(s))
	return rt
}

func isL(r rune) bool  { return unicode.IsLetter(r) }
func isN(r rune) bool  { return unicode.IsNumber(r) }
func isS(r rune) bool  { return unicode.IsSpace(r) }
func isNL(r rune) bool { return r == '\r' || r == '\n' }

// other is [^\s\p{L}\p{N}].
func other(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// contraction returns the length of 's 't 're 've 'm 'll 'd at i (0 if
// none), folding ASCII case when fold is set.
func contraction(r []rune, i int, fold bool) int {
	if r[i] != '\'' || i+1 >= len(r) {
		return 0
	}
	low := func(c rune) rune {
		if fold {
			return asciiLower(c)
		}
		return c
	}
	switch low(r[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 < len(r) {
		switch string([]rune{low(r[i+1]), low(r[i+2])}) {
		case "re", "ve", "ll":
			return 3
		}
	}
	return 0
}

// spaceRun returns the end of the White_Space run starting at i.
func spaceRun(r []rune, i int) int {
	for i < len(r) && isS(r[i]) {
		i++
	}
	return i
}

// whitespace matches \s+(?!\S)|\s+ at i (r[i] is a space): the run, less its
// last character when a non-space follows and the run is longer than one.
func whitespace(r []rune, i int) int {
	k := spaceRun(r, i)
	if k < len(r) && k-1 > i {
		return k - 1
	}
	return k
}

func spanWhile(r []rune, j int, f func(rune) bool) int {
	for j < len(r) && f(r[j]) {
		j++
	}
	return j
}

// splitLlama3 is the qwen2 (maxDigits 1) and llama3 (maxDigits 3) splitter.
func splitLlama3(s string, maxDigits int) []string {
	rt := decodeRunes(s)
	r := rt.r
	var out []string
	for i := 0; i < len(r); {
		end := matchLlama3(r, i, maxDigits)
		out = append(out, s[rt.off[i]:rt.off[end]])
		i = end
	}
	return out
}

func matchLlama3(r []rune, i, maxDigits int) int {
	c := r[i]
	if n := contraction(r, i, true); n > 0 {
		return i + n
	}
	if isL(c) {
		return spanWhile(r, i+1, isL)
	}
	if !isNL(c) && !isN(c) && i+1 < len(r) && isL(r[i+1]) {
		return spanWhile(r, i+2, isL)
	}
	if isN(c) {
		j := i
		for j < len(r) && j-i < maxDigits && isN(r[j]) {
			j++
		}
		return j
	}
	j := i
	if c == ' ' {
		j++
	}
	if k := spanWhile(r, j, other); k > j {
		return spanWhile(r, k, isNL)
	}
	// Here r[i] is a space: \s*[\r\n]+ ends after the run's last newline.
	k := spaceRun(r, i)
	for p := k - 1; p >= i; p-- {
		if isNL(r[p]) {
			return p + 1
		}
	}
	return whitespace(r, i)
}

// splitGPT2 is GPT-2's original splitter.
func splitGPT2(s string) []string {
	rt := decodeRunes(s)
	r := rt.r
	var out []string
	for i := 0; i < len(r); {
		end := matchGPT2(r, i)
		out = append(out, s[rt.off[i]:rt.off[end]])
		i = end
	}
	return out
}

func matchGPT2(r []rune, i int) int {
	if n := contraction(r, i, false); n > 0 {
		return i + n
	}
	j := i
	if r[i] == ' ' {
		j++
	}
	for _, class := range []func(rune) bool{isL, isN, other} {
		if k := spanWhile(r, j, class); k > j {
			return k
		}
	}
	return whitespace(r, i)
}
