package reference_test

import (
	"os"
	"testing"

	"github.com/metallic-go/metallic/model"
)

// BenchmarkDecodeStories260K times one-token forward calls on stories260K.
func BenchmarkDecodeStories260K(b *testing.B) {
	m := stories(b)
	c := open(b, m, model.PathOptions{Ctx: 512})
	pos := 0
	for b.Loop() {
		if pos == 200 {
			c.Reset()
			pos = 0
		}
		if _, err := c.Forward([]int32{1}, pos); err != nil {
			b.Fatal(err)
		}
		pos++
	}
}

// benchModel opens METALLIC_BENCH_MODEL (a real-size GGUF, e.g. a synth
// qwen2.5-0.5b) or skips with the reason.
func benchModel(b *testing.B) *model.Model {
	path := os.Getenv("METALLIC_BENCH_MODEL")
	if path == "" {
		b.Skip("METALLIC_BENCH_MODEL is not set: name a real-size GGUF (paritycheck synth --preset qwen2.5-0.5b) to time it")
	}
	m, err := model.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkModel times the reference path on METALLIC_BENCH_MODEL under
// both numerics profiles: decode (one-token ForwardLast calls at
// positions 64…127 after a 64-token prompt, as model.Generate and
// `paritycheck bench` decode, reporting tok/s and allocs/op) and prefill
// (one 64-token forward call).
func BenchmarkModel(b *testing.B) {
	m := benchModel(b)
	const prompt = 64
	ids := make([]int32, prompt)
	for i := range ids {
		ids[i] = int32((1 + 7*i) % m.Config.Vocab)
	}
	for _, num := range []string{"ggml-cpu", "plain"} {
		b.Run(num+"/decode", func(b *testing.B) {
			c := open(b, m, model.PathOptions{Ctx: 256, Numerics: num})
			if _, err := c.Forward(ids, 0); err != nil {
				b.Fatal(err)
			}
			tok := []int32{int32(prompt % 100)}
			if _, err := c.ForwardLast(tok, prompt); err != nil { // grows the one-row logits
				b.Fatal(err)
			}
			pos := prompt + 1
			b.ReportAllocs()
			for b.Loop() {
				if pos == 2*prompt {
					b.StopTimer()
					c.Reset()
					if _, err := c.Forward(ids, 0); err != nil {
						b.Fatal(err)
					}
					pos = prompt
					b.StartTimer()
				}
				tok[0] = int32(pos % 100)
				if _, err := c.ForwardLast(tok, pos); err != nil {
					b.Fatal(err)
				}
				pos++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(num+"/prefill", func(b *testing.B) {
			c := open(b, m, model.PathOptions{Ctx: 256, Numerics: num})
			for b.Loop() {
				c.Reset()
				if _, err := c.Forward(ids, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(prompt*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
