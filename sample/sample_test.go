package sample

import (
	"math"
	"slices"
	"testing"
)

// TestRNGSeed1337 checks the first outputs of the generator against values
// computed independently (a 15-line Python transcription of the algorithm in
// the package doc, run outside this code base).
func TestRNGSeed1337(t *testing.T) {
	wantU64 := []uint64{0xad0aa0a04f822edc, 0xd0815851ce885def, 0xc70b17471e263e43, 0xee4d7f13899de194, 0x2de1af701a887873}
	wantF := []float64{0.6759434119590045, 0.8144736480449252, 0.7775129841449137, 0.9308700010966429, 0.17922493445306198}
	r := NewRNG(1337)
	for i, w := range wantU64 {
		if got := r.Uint64(); got != w {
			t.Fatalf("Uint64 #%d = %#x, want %#x", i, got, w)
		}
	}
	r.Seed(1337)
	for i, w := range wantF {
		if got := r.Float64(); got != w {
			t.Fatalf("Float64 #%d = %v, want %v", i, got, w)
		}
	}
}

// TestSplitMix64Published checks the seeding against the published first
// SplitMix64 output for seed 0 (0xE220A8397B1DCDAF).
func TestSplitMix64Published(t *testing.T) {
	r := NewRNG(0)
	if r.s[0] != 0xE220A8397B1DCDAF {
		t.Fatalf("s[0] = %#x, want 0xE220A8397B1DCDAF", r.s[0])
	}
}

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"plain", []float32{0.1, 2, -3, 1.9}, 1},
		{"tie lowest id", []float32{1, 3, 3, 2}, 1},
		{"all equal", []float32{5, 5, 5}, 0},
		{"nan skipped", []float32{nan, 1, nan, 0.5}, 1},
		{"all nan", []float32{nan, nan}, 0},
		{"neg inf", []float32{float32(math.Inf(-1)), -1e30}, 1},
		{"empty", nil, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Greedy(c.logits); got != c.want {
				t.Errorf("Greedy(%v) = %d, want %d", c.logits, got, c.want)
			}
			if got := New(Options{}).Sample(c.logits, nil); got != c.want {
				t.Errorf("Sample greedy(%v) = %d, want %d", c.logits, got, c.want)
			}
		})
	}
}

func TestTopK(t *testing.T) {
	l := []float32{1, 3, 3, 2, -1}
	for _, c := range []struct {
		k    int
		want []int32
	}{
		{1, []int32{1}},
		{3, []int32{1, 2, 3}},
		{9, []int32{1, 2, 3, 0, 4}},
		{0, nil},
	} {
		got := TopK(l, c.k)
		if !equal(got, c.want) {
			t.Errorf("TopK(k=%d) = %v, want %v", c.k, got, c.want)
		}
	}
}

// logs returns ln(p) for each p, as float32 logits.
func logs(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, v := range p {
		l[i] = float32(math.Log(v))
	}
	return l
}

func keptIDs(o Options, logits []float32) []int32 {
	s := New(o)
	l := s.penalized(logits, nil, false)
	r, _, m := s.keep(l, greedy64(l))
	ids := make([]int32, m)
	for i := range ids {
		ids[i] = r.at(i).id
	}
	return ids
}

// TestCutPoints checks top-k, top-p and min-p on the hand-made distribution
// p = (0.1, 0.2, 0.5, 0.2): sorted order is ids 2, 1, 3, 0 (1 before 3 by id).
func TestCutPoints(t *testing.T) {
	l := logs(0.1, 0.2, 0.5, 0.2)
	cases := []struct {
		name string
		o    Options
		want []int32
	}{
		{"none", Options{Temperature: 1}, []int32{2, 1, 3, 0}},
		{"top-k 2 tie by id", Options{Temperature: 1, TopK: 2}, []int32{2, 1}},
		{"top-p 0.4 keeps best", Options{Temperature: 1, TopP: 0.4}, []int32{2}},
		{"top-p 0.65 (0.5+0.2)", Options{Temperature: 1, TopP: 0.65}, []int32{2, 1}},
		{"top-p 0.75 (0.5+0.2+0.2)", Options{Temperature: 1, TopP: 0.75}, []int32{2, 1, 3}},
		{"top-p 0.95", Options{Temperature: 1, TopP: 0.95}, []int32{2, 1, 3, 0}},
		{"top-p 1 off", Options{Temperature: 1, TopP: 1}, []int32{2, 1, 3, 0}},
		{"top-k 3 then top-p 0.8 of renormalized 0.5/0.9", Options{Temperature: 1, TopK: 3, TopP: 0.8}, []int32{2, 1, 3}},
		{"top-k 3 then top-p 0.7", Options{Temperature: 1, TopK: 3, TopP: 0.7}, []int32{2, 1}},
		{"min-p 0.3 (≥0.15)", Options{Temperature: 1, MinP: 0.3}, []int32{2, 1, 3}},
		{"min-p 0.5 (≥0.25)", Options{Temperature: 1, MinP: 0.5}, []int32{2}},
		{"min-p 0.2 (≥0.1)", Options{Temperature: 1, MinP: 0.19}, []int32{2, 1, 3, 0}},
		// temperature 0.5 squares the ratios: weights 0.01,0.04,0.25,0.04 →
		// p(2)=0.25/0.34≈0.735; top-p 0.7 keeps only id 2.
		{"temperature then top-p", Options{Temperature: 0.5, TopP: 0.7}, []int32{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keptIDs(c.o, l); !equal(got, c.want) {
				t.Errorf("kept = %v, want %v", got, c.want)
			}
		})
	}
}

// TestDrawSequence checks the inverse-CDF draw with the known uniforms of
// seed 1337 (0.676, 0.814, 0.778, 0.931, 0.179) on p = (0.5, 0.2, 0.2, 0.1):
// cumulative sums 0.5, 0.7, 0.9, 1.0 give ids 1, 2, 2, 3, 0.
func TestDrawSequence(t *testing.T) {
	s := New(Options{Temperature: 1, Seed: 1337})
	l := logs(0.5, 0.2, 0.2, 0.1)
	want := []int32{1, 2, 2, 3, 0}
	var got []int32
	for range want {
		got = append(got, s.Sample(l, nil))
	}
	if !equal(got, want) {
		t.Fatalf("draws = %v, want %v", got, want)
	}
	// Top-p 0.65 keeps ids 0, 1 (total 0.7): u = 0.676 → 0.473 < 0.5 → id 0.
	s = New(Options{Temperature: 1, TopP: 0.65, Seed: 1337})
	if got := s.Sample(l, nil); got != 0 {
		t.Fatalf("top-p draw = %d, want 0", got)
	}
	s.Reset()
	if got := s.Sample(l, nil); got != 0 {
		t.Fatalf("after Reset draw = %d, want 0", got)
	}
}

// TestTemperatureFrequency checks that temperature 2 turns p = (0.1, 0.9)
// into (0.25, 0.75): ln(9)/2 = ln(3).
func TestTemperatureFrequency(t *testing.T) {
	s := New(Options{Temperature: 2, Seed: 7})
	l := logs(0.1, 0.9)
	n, zeros := 20000, 0
	for range n {
		if s.Sample(l, nil) == 0 {
			zeros++
		}
	}
	f := float64(zeros) / float64(n)
	if math.Abs(f-0.25) > 0.015 { // σ ≈ 0.003
		t.Fatalf("frequency of id 0 = %.4f, want 0.25 ± 0.015", f)
	}
}

func TestRepeatPenalty(t *testing.T) {
	l := []float32{2, -2, 1, 0.5, 3}
	cases := []struct {
		name    string
		last    int
		history []int32
		want    []float64
	}{
		{"distinct ids once", 0, []int32{0, 1, 0, 0}, []float64{1, -4, 1, 0.5, 3}},
		{"window of 2", 2, []int32{4, 0, 2, 2}, []float64{2, -2, 0.5, 0.5, 3}},
		{"whole history", -1, []int32{4, 0, 2, 2}, []float64{1, -2, 0.5, 0.5, 1.5}},
		{"out of range ignored", 0, []int32{-1, 99, 3}, []float64{2, -2, 1, 0.25, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{RepeatPenalty: 2, RepeatLastN: c.last})
			got := s.penalized(l, c.history, true)
			for i := range c.want {
				if got[i] != c.want[i] {
					t.Fatalf("penalized = %v, want %v", got, c.want)
				}
			}
		})
	}
	// Greedy with the penalty: id 4 (3) halves to 1.5, so id 0 (2) wins.
	s := New(Options{RepeatPenalty: 2})
	if got := s.Sample(l, []int32{4}); got != 0 {
		t.Fatalf("penalized greedy = %d, want 0", got)
	}
	if l[4] != 3 {
		t.Fatal("Sample modified its input")
	}
}

func TestDeterministic(t *testing.T) {
	l := make([]float32, 1000)
	r := NewRNG(3)
	for i := range l {
		l[i] = float32(r.Float64()*4 - 2)
	}
	o := Options{Temperature: 0.8, TopK: 40, TopP: 0.9, MinP: 0.05, RepeatPenalty: 1.1, Seed: 42}
	a, b := New(o), New(o)
	var hist []int32
	for i := range 200 {
		x, y := a.Sample(l, hist), b.Sample(l, hist)
		if x != y {
			t.Fatalf("step %d: %d != %d", i, x, y)
		}
		hist = append(hist, x)
	}
}

func TestSampleAllocs(t *testing.T) {
	l := make([]float32, 4096)
	r := NewRNG(5)
	for i := range l {
		l[i] = float32(r.Float64())
	}
	for _, o := range []Options{
		{Temperature: 0.7, Seed: 1},
		{Temperature: 0.7, TopK: 40, TopP: 0.9, RepeatPenalty: 1.1, Seed: 1},
	} {
		s := New(o)
		hist := []int32{1, 2, 3}
		s.Sample(l, hist)
		if n := testing.AllocsPerRun(20, func() { s.Sample(l, hist) }); n != 0 {
			t.Errorf("%+v: %v allocations per Sample, want 0", o, n)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []Options{{}, {Temperature: 1, TopK: 5, TopP: 1, MinP: 1, RepeatPenalty: 1.3}}
	bad := []Options{
		{Temperature: -1}, {Temperature: float32(math.NaN())}, {TopK: -2},
		{TopP: 1.5}, {MinP: -0.1}, {RepeatPenalty: -1},
	}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestInfinities(t *testing.T) {
	inf := float32(math.Inf(1))
	s := New(Options{Temperature: 1})
	if got := s.Sample([]float32{0, inf, inf}, nil); got != 1 {
		t.Errorf("+Inf row: %d, want 1", got)
	}
	if got := New(Options{Temperature: inf}).Sample([]float32{0, 2, 1}, nil); got != 1 {
		t.Errorf("temperature +Inf: %d, want greedy 1", got)
	}
	ninf := float32(math.Inf(-1))
	if got := s.Sample([]float32{ninf, ninf}, nil); got != 0 {
		t.Errorf("-Inf row: %d, want 0", got)
	}
	if got := s.Sample([]float32{ninf, 0}, nil); got != 1 {
		t.Errorf("one finite: %d, want 1", got)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDrawIDOrder checks that the draw walks kept ids in ascending id order:
// p = (0.1, 0.2, 0.5, 0.2) has running sums 0.1, 0.3, 0.8, 1.0, so the
// seed-1337 uniforms (0.676, 0.814, 0.778, 0.931, 0.179) give 2, 3, 2, 3, 1.
func TestDrawIDOrder(t *testing.T) {
	s := New(Options{Temperature: 1, Seed: 1337})
	l := logs(0.1, 0.2, 0.5, 0.2)
	want := []int32{2, 3, 2, 3, 1}
	var got []int32
	for range want {
		got = append(got, s.Sample(l, nil))
	}
	if !equal(got, want) {
		t.Fatalf("draws = %v, want %v", got, want)
	}
}

// naive is the package doc's algorithm written plainly: full sort, cuts,
// id-order sums. It checks that the lazy ranking changes nothing.
func naive(o Options, logits []float32, u float64) int32 {
	n := len(logits)
	l := make([]float64, n)
	for i, v := range logits {
		l[i] = float64(v) / float64(o.Temperature)
	}
	c := make([]cand, n)
	for i := range c {
		c[i] = cand{int32(i), l[i]}
	}
	slices.SortFunc(c, better)
	if o.TopK > 0 && o.TopK < n {
		c = c[:o.TopK]
	}
	maxL := c[0].l
	w := func(x cand) float64 { return math.Exp(x.l - maxL) }
	idSum := func(c []cand) float64 {
		ids := make([]cand, len(c))
		copy(ids, c)
		slices.SortFunc(ids, func(a, b cand) int { return int(a.id - b.id) })
		s := 0.0
		for _, x := range ids {
			s += w(x)
		}
		return s
	}
	if p := float64(o.TopP); p > 0 && p < 1 {
		total, cum := idSum(c), 0.0
		for i, x := range c {
			cum += w(x)
			if cum >= p*total {
				c = c[:i+1]
				break
			}
		}
	}
	if mp := float64(o.MinP); mp > 0 {
		k := 1
		for k < len(c) && c[k].l >= maxL+math.Log(mp) {
			k++
		}
		c = c[:k]
	}
	slices.SortFunc(c, func(a, b cand) int { return int(a.id - b.id) })
	target, cum := u*idSum(c), 0.0
	for _, x := range c {
		cum += w(x)
		if target < cum {
			return x.id
		}
	}
	return c[len(c)-1].id
}

func TestMatchesNaive(t *testing.T) {
	r := NewRNG(11)
	for trial := range 300 {
		n := []int{1, 2, 7, 300, 5000}[trial%5]
		l := make([]float32, n)
		spread := []float64{0.5, 4, 30}[trial%3]
		for i := range l {
			l[i] = float32(math.Round((r.Float64()*2-1)*spread*8) / 8) // rounded: many ties
		}
		o := Options{
			Temperature: float32(0.3 + r.Float64()),
			TopK:        []int{0, 1, 5, 40, 1000}[trial%5],
			TopP:        []float32{0, 0.5, 0.9, 0.99}[trial%4],
			MinP:        []float32{0, 0, 0.05}[trial%3],
			Seed:        uint64(trial),
		}
		s := New(o)
		u := NewRNG(uint64(trial))
		for step := range 5 {
			got := s.Sample(l, nil)
			want := naive(o, l, u.Float64())
			if got != want {
				t.Fatalf("trial %d step %d n=%d %+v: Sample %d, naive %d", trial, step, n, o, got, want)
			}
		}
	}
}

// TestRadixMatchesSort checks the radix sort against slices.SortFunc with
// better, on rows with ties, ±0 and infinities.
func TestRadixMatchesSort(t *testing.T) {
	r := NewRNG(4)
	negZero := math.Copysign(0, -1)
	for _, n := range []int{1024, 3000, 70000} {
		l := make([]float64, n)
		for i := range l {
			switch r.Uint64() % 8 {
			case 0:
				l[i] = 0
			case 1:
				l[i] = negZero
			case 2:
				l[i] = math.Inf(-1)
			case 3:
				l[i] = math.Inf(1)
			default:
				l[i] = math.Round((r.Float64()*2-1)*1e4) / 16
			}
		}
		var s Sampler
		got := s.candidates(l, n)
		want := make([]cand, n)
		for i := range want {
			want[i] = cand{int32(i), l[i]}
		}
		slices.SortFunc(want, better)
		for i := range want {
			if got[i].id != want[i].id {
				t.Fatalf("n=%d rank %d: radix id %d (%v), sort id %d (%v)", n, i, got[i].id, got[i].l, want[i].id, want[i].l)
			}
		}
	}
}
