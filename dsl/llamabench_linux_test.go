package dsl_test

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// BenchmarkDecodeVsLlamaCPP decodes with the dsl path and llama.cpp, one
// thread each, token by token and alternating, from position 64 after
// the same 64-token prompt (prefilled untimed, again every 32 tokens),
// and reports each one's median process CPU time per token and the
// median over token pairs of llama.cpp's time / the dsl path's (above 1
// the dsl path is faster). CPU time, not wall time: on a shared machine a
// token's wall time also counts the time the process waited for a core,
// which a paired whole-process comparison only averages out over many
// runs. One iteration is one token of each path.
func BenchmarkDecodeVsLlamaCPP(b *testing.B) {
	if err := llamacpp.Available(); err != nil {
		testenv.NeedOracle(b, err.Error())
	}
	m := benchModel(b)
	po := model.PathOptions{Ctx: 128, Threads: 1}
	d, err := dsl.New(m, dsl.Options{PathOptions: po})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	l, err := llamacpp.New(m, llamacpp.Options{PathOptions: po})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	paths := [2]model.Path{d, l}
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32(100 + 37*i)
	}
	cpu := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ts.Nano())
	}
	var toks [2]int32
	var ms [2][]float64
	var ratio []float64
	pos := 96
	for n := 0; n < b.N; n++ {
		if pos == 96 {
			b.StopTimer()
			for i, p := range paths {
				p.Reset()
				logits, err := p.Forward(prompt, 0)
				if err != nil {
					b.Fatal(err)
				}
				toks[i] = sample.Greedy(logits[len(logits)-m.Config.Vocab:])
			}
			pos = 64
			b.StartTimer()
		}
		var t [2]float64
		for i, p := range paths {
			c0 := cpu()
			logits, err := p.Forward([]int32{toks[i]}, pos)
			if err != nil {
				b.Fatal(err)
			}
			t[i] = (cpu() - c0).Seconds() * 1e3
			toks[i] = sample.Greedy(logits)
			ms[i] = append(ms[i], t[i])
		}
		ratio = append(ratio, t[1]/t[0])
		pos++
	}
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	b.ReportMetric(median(ms[0]), "dsl-cpu-ms/tok")
	b.ReportMetric(median(ms[1]), "llamacpp-cpu-ms/tok")
	b.ReportMetric(median(ratio), "llamacpp/dsl")
}
