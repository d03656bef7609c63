package tokenizer

// llamaCppControlTexts are token texts that llama.cpp's vocabulary loader
// treats as control tokens whatever type the GGUF gives them: its
// end-of-turn, end-of-message, fill-in-the-middle and end-of-generation
// lists ("control-looking token … its type will be overridden").
var llamaCppControlTexts = map[string]bool{
	// end of turn / message / generation
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "<|end_of_text|>": true, "<EOT>": true, "_<EOT>": true,
	"[EOT]": true, "[EOS]": true, "<end_of_utterance>": true, "<|eom_id|>": true,
	"</s>": true, "<|return|>": true, "<|call|>": true, "<|flush|>": true, "<|calls|>": true,
	// fill in the middle
	"<|fim_prefix|>": true, "<fim-prefix>": true, "<fim_prefix>": true, "<PRE>": true,
	"<|code_prefix|>": true, "<|prefix|>": true,
	"<|fim_suffix|>": true, "<fim-suffix>": true, "<fim_suffix>": true, "<SUF>": true,
	"<|code_suffix|>": true, "<|suffix|>": true,
	"<|fim_middle|>": true, "<fim-middle>": true, "<fim_middle>": true, "<MID>": true,
	"<|code_middle|>": true, "<|middle|>": true,
	"<|fim_pad|>": true, "<fim-pad>": true, "<fim_pad>": true, "<PAD>": true, "[PAD]": true,
	"<|fim_repo|>": true, "<|repo_name|>": true, "<fim-repo>": true, "<REPO>": true, "<reponame>": true,
	"<|file_sep|>": true,
}

// LlamaCppTypes returns v, or a copy of v with different Types, so that
// tokens llama.cpp's loader promotes to control by their text (such as
// "<|fim_prefix|>" or a plain "</s>" in the Qwen vocabulary) are control
// tokens here too. This keeps Encode with and without Special and Decode in
// step with llama.cpp on GGUF files; FromGGUF applies it, New does not
// (Hugging Face tokenizers do not do this).
func LlamaCppTypes(v *Vocab) *Vocab {
	var types []int32
	for i, s := range v.Tokens {
		if !llamaCppControlTexts[s] || v.Type(int32(i)) == TypeControl {
			continue
		}
		if types == nil {
			types = make([]int32, len(v.Tokens))
			for j := range types {
				types[j] = v.Type(int32(j))
			}
		}
		types[i] = TypeControl
	}
	if types == nil {
		return v
	}
	c := *v
	c.Types = types
	return &c
}
