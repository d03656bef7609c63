// Package tokenizer turns text into token ids and back for the two
// vocabulary kinds llama.cpp reads from GGUF files:
//
//   - "llama": SentencePiece as llama.cpp runs it ("SPM"). Spaces become
//     U+2581 "▁", a space is prepended to every run of text that starts the
//     input or follows a special token (when AddSpacePrefix is set), and
//     adjacent pieces are merged greedily by vocabulary score, highest
//     first, leftmost on ties. Characters that never formed a token fall
//     back to their UTF-8 bytes as <0xNN> tokens, or to the unknown token.
//   - "gpt2": byte-level BPE. The text is split by a pre-tokenizer ("qwen2",
//     "llama3" or "default", hand-written equivalents of the published
//     regular expressions), each piece's bytes are mapped to the GPT-2
//     printable byte alphabet, and merges are applied by rank, lowest
//     first, leftmost on ties. With "llama3", as in llama.cpp and the Llama 3
//     tokenizer.json (ignore_merges), a word that is itself a token is
//     emitted whole.
//
// Special tokens: user-defined tokens (type 4) are always matched in the
// input text; control and unknown tokens (types 3 and 2) only when
// EncodeOptions.Special is set, otherwise their text is tokenized like any
// other text.
//
// Decode concatenates token pieces as llama.cpp prints them while
// generating; DecodeOptions.DropPrefixSpace gives llama_detokenize's
// result instead.
//
// No Unicode normalization is applied (llama.cpp applies none either);
// Hugging Face tokenizers whose normalizer is NFC give the same ids for text
// that is already in NFC.
//
// Vocabularies come from GGUF metadata (VocabFromGGUF), from a Hugging Face
// tokenizer.json (VocabFromHFJSON) or from the embedded Qwen
// sub-vocabulary (QwenSubVocab) used by synthetic models.
package tokenizer
