// Package sample turns a row of logits into a token id. Every execution path
// (reference, dsl, llamacpp) samples through this package with the same
// options and seed, so their token streams can be compared exactly.
//
// # Order of operations
//
// Sampler.Sample works on a float64 copy of the logits, in this order:
//
//  1. Repetition penalty (RepeatPenalty ∉ {0, 1}), with llama.cpp's
//     semantics: every distinct id among the last RepeatLastN history tokens
//     has its logit divided by the penalty when positive and multiplied by it
//     otherwise. Ids outside [0, len(logits)) are ignored.
//  2. Temperature ≤ 0 (or NaN or +Inf) means greedy: the highest logit wins, ties go
//     to the lowest id, and no random number is drawn.
//  3. Temperature: every logit is divided by it.
//  4. Candidates are ranked by logit, highest first, ties by lowest id.
//     Top-k (TopK > 0) keeps the first k.
//  5. Top-p (0 < TopP < 1): every remaining candidate gets the weight
//     exp(l − max) in float64, W is the sum of these weights added in
//     ascending id order, and the shortest prefix of the ranking whose
//     running weight sum (added in rank order) reaches TopP × W is kept (at
//     least one candidate).
//  6. Min-p (0 < MinP ≤ 1): candidates whose probability is below
//     MinP × (the highest probability) are dropped, i.e. logit <
//     max + ln(MinP). The best candidate always stays.
//  7. Draw: one uniform u ∈ [0, 1) is taken from the generator; the kept
//     candidates are walked in ascending id order, adding their weights,
//     and the first whose running sum exceeds u × W' is returned, W' being
//     the sum of the kept weights in that same order (the last kept id if
//     rounding leaves none).
//
// Sums in id order make the draw independent of how much of the ranking
// was computed: Sample ranks only as long a prefix as the cuts need, so a
// 151,936-token row costs a few passes over the logits, not a sort.
//
// Exactly one random number is drawn per non-greedy Sample call (even when
// the best logit is infinite and the best-ranked id is returned without a
// draw), so two paths given the same seed consume the generator
// identically.
//
// # Random number generator
//
// The generator is xoshiro256** (Blackman and Vigna, 2018), seeded by
// SplitMix64, written down here so that goldens stay valid across versions:
//
//	SplitMix64 (state x, 64-bit wrapping arithmetic):
//	    x += 0x9E3779B97F4A7C15
//	    z := x
//	    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//	    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//	    return z ^ (z >> 31)
//
//	Seeding: x = seed; s[0], s[1], s[2], s[3] = four successive SplitMix64
//	outputs.
//
//	xoshiro256** next():
//	    result := rotl(s[1]*5, 7) * 9
//	    t := s[1] << 17
//	    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
//	    s[2] ^= t
//	    s[3] = rotl(s[3], 45)
//	    return result
//
//	Uniform float64 in [0, 1): float64(next() >> 11) × 2⁻⁵³.
//
// For seed 1337 the first outputs of next() are listed in the package tests,
// computed independently of this code.
package sample
