package testenv

import "slices"

// storiesGreedy is the one copy of the stories260K golden ids.
//
// Provenance (DESIGN.md, "Ground truth that nobody here wrote"):
// testdata/stories260K.gguf is the trained TinyStories llama of llama2.c
// (5 layers, d 64, 8/4 heads, SentencePiece vocabulary of 512, F32), and
// these are its first 48 greedy tokens from BOS (token 1), as documented
// with llama2.c and as llama.cpp reproduces: llamacpp's TestGreedyGolden
// checks on every run that the pinned llama.cpp build generates exactly
// these ids, so they are llama.cpp's answer, not ours.
var storiesGreedy = []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395,
	317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
	328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267}

// StoriesBOS is stories260K's BOS token, the start of every golden run.
const StoriesBOS int32 = 1

// StoriesGreedyText is the text of StoriesGreedy as SentencePiece decodes
// it (with the leading space of the first piece).
const StoriesGreedyText = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to"

// StoriesGreedy returns a copy of stories260K's first 48 greedy tokens
// after BOS: the golden stream every path must reproduce (see the
// provenance above).
func StoriesGreedy() []int32 { return slices.Clone(storiesGreedy) }

// StoriesPrompt returns BOS followed by the first n−1 golden tokens: a
// prompt of n tokens that is stories260K's own greedy text. It panics if n
// is not in 1…49.
func StoriesPrompt(n int) []int32 {
	return append([]int32{StoriesBOS}, storiesGreedy[:n-1]...)
}
