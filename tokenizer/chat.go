package tokenizer

import (
	"fmt"
	"strings"
)

// Message is one chat turn.
type Message struct {
	Role, Content string
}

// ChatMLTemplate is the Jinja chat template written into synthetic Qwen
// vocabularies; llama.cpp recognises it as ChatML.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// ApplyChat renders msgs as prompt text, to be encoded with
// EncodeOptions{Special: true}. Byte-level vocabularies that have the
// <|im_start|> and <|im_end|> tokens use ChatML:
//
//	<|im_start|>ROLE\nCONTENT<|im_end|>\n …
//
// followed by "<|im_start|>assistant\n" when addGenerationPrompt is set (no
// default system message is inserted). SentencePiece vocabularies use plain
// concatenation of the contents. Other vocabularies are an error, as is a
// message with an empty role or one containing a newline.
func (t *Tokenizer) ApplyChat(msgs []Message, addGenerationPrompt bool) (string, error) {
	for i, m := range msgs {
		if m.Role == "" || strings.ContainsAny(m.Role, "\r\n") {
			return "", fmt.Errorf("tokenizer: chat message %d has bad role %q", i, m.Role)
		}
	}
	var sb strings.Builder
	switch {
	case t.v.Model == ModelSPM:
		for _, m := range msgs {
			sb.WriteString(m.Content)
		}
	case t.hasChatML():
		for _, m := range msgs {
			sb.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
		if addGenerationPrompt {
			sb.WriteString("<|im_start|>assistant\n")
		}
	default:
		return "", fmt.Errorf("tokenizer: no chat template for this %s vocabulary (it has no <|im_start|>/<|im_end|> tokens)", t.v.Model)
	}
	return sb.String(), nil
}

func (t *Tokenizer) hasChatML() bool {
	_, a := t.ids["<|im_start|>"]
	_, b := t.ids["<|im_end|>"]
	return a && b
}
