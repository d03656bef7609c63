package sample

import "testing"

func benchSample(b *testing.B, o Options) {
	l := make([]float32, 151936)
	r := NewRNG(5)
	for i := range l {
		l[i] = float32(r.Float64()*8 - 4)
	}
	s := New(o)
	hist := make([]int32, 64)
	b.ResetTimer()
	for range b.N {
		s.Sample(l, hist)
	}
}

func BenchmarkSampleTemp(b *testing.B) { benchSample(b, Options{Temperature: 0.8}) }
func BenchmarkSampleTopK(b *testing.B) { benchSample(b, Options{Temperature: 0.8, TopK: 40}) }
func BenchmarkSampleTopP(b *testing.B) {
	benchSample(b, Options{Temperature: 0.8, TopP: 0.9, RepeatPenalty: 1.1})
}
func BenchmarkGreedy(b *testing.B) { benchSample(b, Options{}) }
