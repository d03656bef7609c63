//go:build !linux || !amd64

package llamacpp

import (
	"errors"
	"runtime"

	"github.com/metallic-go/metallic/model"
)

// errUnavailable is returned by everything on platforms other than
// linux/amd64, where the pinned build does not exist.
var errUnavailable = errors.New("llamacpp: unavailable on " + runtime.GOOS + "/" + runtime.GOARCH + " (the pinned llama.cpp build is linux/amd64 only)")

// Available reports why llama.cpp cannot be used on this platform.
func Available() error { return errUnavailable }

// Info reports why llama.cpp cannot be used on this platform.
func Info() (string, error) { return "", errUnavailable }

// CPUVariant reports why llama.cpp cannot be used on this platform.
func CPUVariant() (string, error) { return "", errUnavailable }

// Path is llama.cpp as a model.Path; on this platform New always fails.
type Path struct{}

// New reports that llama.cpp is unavailable on this platform.
func New(m *model.Model, opts Options) (*Path, error) { return nil, errUnavailable }

// Name returns "llamacpp".
func (p *Path) Name() string { return "llamacpp" }

// Numerics returns model.NumericsLlamaCpp: llama.cpp computes with its own
// kernels, so PathOptions.Numerics does not apply to it.
func (p *Path) Numerics() string { return model.NumericsLlamaCpp }

// Config returns nil: no Path exists on this platform.
func (p *Path) Config() *model.Config { return nil }

// Forward reports that llama.cpp is unavailable.
func (p *Path) Forward(tokens []int32, pos int) ([]float32, error) { return nil, errUnavailable }

// Reset does nothing.
func (p *Path) Reset() {}

// Checkpoints returns nil.
func (p *Path) Checkpoints() []string { return nil }

// SetHook does nothing.
func (p *Path) SetHook(h model.Hook) {}

// Close does nothing.
func (p *Path) Close() error { return nil }

// Trace reports that llama.cpp is unavailable.
func (p *Path) Trace(tokens []int32) ([]GraphNode, error) { return nil, errUnavailable }

// Engine returns llama.cpp's name only: no Path exists on this platform.
func (p *Path) Engine() model.Engine { return model.Engine{Name: "llama.cpp"} }

// Vocab is llama.cpp's tokenizer; on this platform OpenVocab always fails.
type Vocab struct{}

// TokenizeOptions are llama_tokenize's flags.
type TokenizeOptions struct {
	AddSpecial   bool // add BOS/EOS as the vocabulary asks
	ParseSpecial bool // parse special-token text
}

// OpenVocab reports that llama.cpp is unavailable.
func OpenVocab(file string, opts Options) (*Vocab, error) { return nil, errUnavailable }

// Close does nothing.
func (v *Vocab) Close() error { return nil }

// Size returns 0.
func (v *Vocab) Size() int { return 0 }

// Tokenize reports that llama.cpp is unavailable.
func (v *Vocab) Tokenize(text string, opts TokenizeOptions) ([]int32, error) {
	return nil, errUnavailable
}

// Piece reports that llama.cpp is unavailable.
func (v *Vocab) Piece(id int32, special bool) (string, error) { return "", errUnavailable }

// Detokenize reports that llama.cpp is unavailable.
func (v *Vocab) Detokenize(ids []int32) (string, error) { return "", errUnavailable }

func init() {
	model.RegisterPath("llamacpp", func(m *model.Model, opts model.PathOptions) (model.Path, error) {
		return nil, errUnavailable
	})
}
