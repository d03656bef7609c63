// Package golden freezes a run of one or more execution paths into a file
// and checks later runs against it, so that a nightly job learns exactly
// which checkpoint moved when a change breaks numerics.
//
// # Format
//
// A golden is an ordinary GGUF (version 3) file, readable by any GGUF
// reader. For every recorded path P it holds these tensors, in the order the
// path produced them:
//
//	P/<checkpoint>   F32 or F16 [cols, rows]  one row per prompt position
//	                                          (embd, blk.L.q, …, logits)
//	P/gen_logits     F32 or F16 [vocab, n]    row i: the logits token i was
//	                                          sampled from
//	P/tokens         I32 [n]                  the generated token stream
//
// Provenance lives in metadata under "metallic.golden." (see the Key*
// constants): a magic string and format version (a reader refuses newer
// versions with a hint), the model file's SHA-256, name and architecture,
// the paths, backend, activation dtype and numerics profile (absent in
// goldens older than profiles, which read as ggml-cpu), the sampler
// settings and seed,
// the prompt tokens, the number of generated tokens, the checkpoint
// selection, the storage dtype, the tool version, the creation time (UTC,
// RFC 3339), the tolerance policy (kinds and NMSE thresholds), a SHA-256 per
// tensor ("metallic.golden.sha256.<tensor>") and a SHA-256 over all of the
// above metadata and tensor descriptions ("metallic.golden.meta_sha256").
// Open verifies every checksum and names the tensor or key that does not
// match.
//
// # Verdicts
//
// Verify reruns each path with the recorded settings (the recorded numerics
// profile included: another one is refused unless explicitly allowed),
// teacher-forced on the recorded token stream, and compares every
// checkpoint with the golden: the
// row passes when NMSE = Σ(a−b)²/Σb² is at most the recorded policy's
// threshold for the checkpoint kind and no value is non-finite on one side
// only. When the golden stores f16, the fresh values are rounded to f16
// first, so unchanged code reproduces the golden exactly. The token stream
// passes when every sampled token equals the recorded one.
package golden
