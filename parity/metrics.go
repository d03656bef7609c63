package parity

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// DType is a storage dtype of activations: "f32", "f16" or "bf16".
type DType string

// Storage dtypes.
const (
	F32  DType = "f32"
	F16  DType = "f16"
	BF16 DType = "bf16"
)

// ParseDType accepts "f32" (or ""), "f16" and "bf16".
func ParseDType(s string) (DType, error) {
	switch s {
	case "", "f32":
		return F32, nil
	case "f16", "bf16":
		return DType(s), nil
	}
	return "", fmt.Errorf("parity: unknown storage dtype %q (want f32, f16 or bf16)", s)
}

// mantissa returns the number of explicit mantissa bits of the dtype.
func (d DType) mantissa() int {
	switch d {
	case F16:
		return 10
	case BF16:
		return 7
	}
	return 23
}

// ULP returns the spacing of the dtype's values at magnitude x (for x in
// the normal range): 2^(⌊log₂|x|⌋ − mantissa bits).
func (d DType) ULP(x float64) float64 {
	x = math.Abs(x)
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	_, e := math.Frexp(x) // x = f·2^e, f in [0.5, 1)
	return math.Ldexp(1, e-1-d.mantissa())
}

// ordered maps v, rounded to the dtype, to an integer whose differences count
// representable values between two numbers.
func (d DType) ordered(v float64) int64 {
	var bits, sign int64
	switch d {
	case F16:
		b := gguf.F32ToF16(float32(v))
		bits, sign = int64(b&0x7fff), int64(b>>15)
	case BF16:
		b := gguf.F32ToBF16(float32(v))
		bits, sign = int64(b&0x7fff), int64(b>>15)
	default:
		b := math.Float32bits(float32(v))
		bits, sign = int64(b&0x7fffffff), int64(b>>31)
	}
	if sign != 0 {
		return -bits
	}
	return bits
}

// Num is a float64 that encodes NaN and ±Inf as JSON null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// Metrics compare a candidate a with a reference b, elementwise.
type Metrics struct {
	N           int   `json:"n"`
	MaxAbs      Num   `json:"max_abs"`
	MaxAbsIndex int   `json:"max_abs_index"` // element index of MaxAbs (row·cols + col)
	MeanAbs     Num   `json:"mean_abs"`
	RMSE        Num   `json:"rmse"`
	MaxRel      Num   `json:"max_rel"` // max |a−b|/(|b|+1e-30)
	NMSE        Num   `json:"nmse"`    // Σ(a−b)²/Σb²
	Cos         Num   `json:"cos"`
	SQNRdB      Num   `json:"sqnr_db"` // 10·log10(Σb²/Σ(a−b)²)
	MaxULP      int64 `json:"max_ulp"` // in the candidate's storage dtype
	NaN         int   `json:"nan"`     // NaNs in a
	Inf         int   `json:"inf"`     // ±Infs in a
	// NonFinite counts elements where a is not finite but b is: any makes
	// the comparison fail.
	NonFinite int `json:"non_finite"`
	// RMSRef is sqrt(mean(b²)), the tensor's scale.
	RMSRef Num `json:"rms_ref"`
}

// Compare computes the metrics of a (stored in dtype d) against b. a and b
// must have the same length. Non-finite pairs are counted and left out of
// the sums.
func Compare(a, b []float64, d DType) Metrics { return compare(a, b, d) }

// compare is Compare for a candidate or reference of either precision:
// float32 values are widened exactly, element by element, so a float32
// capture is compared as its widened copy would be, without the copy.
func compare[A, B float32 | float64](a []A, b []B, d DType) Metrics {
	if len(a) != len(b) {
		panic(fmt.Sprintf("parity: Compare of %d and %d elements", len(a), len(b)))
	}
	m := Metrics{N: len(a), MaxAbsIndex: -1}
	var sumAbs, sumErr2, sumB2, sumA2, sumAB, maxAbs, maxRel float64
	var maxULP int64
	n := 0
	for i := range a {
		av, bv := float64(a[i]), float64(b[i])
		switch {
		case math.IsNaN(av):
			m.NaN++
		case math.IsInf(av, 0):
			m.Inf++
		}
		aFin := !math.IsNaN(av) && !math.IsInf(av, 0)
		bFin := !math.IsNaN(bv) && !math.IsInf(bv, 0)
		if !aFin && bFin {
			m.NonFinite++
		}
		if !aFin || !bFin {
			continue
		}
		n++
		e := math.Abs(av - bv)
		sumAbs += e
		sumErr2 += e * e
		sumB2 += bv * bv
		sumA2 += av * av
		sumAB += av * bv
		if e > maxAbs || m.MaxAbsIndex < 0 {
			maxAbs, m.MaxAbsIndex = e, i
		}
		maxRel = math.Max(maxRel, e/(math.Abs(bv)+1e-30))
		u := d.ordered(av) - d.ordered(bv)
		if u < 0 {
			u = -u
		}
		maxULP = max(maxULP, u)
	}
	m.MaxAbs, m.MaxRel, m.MaxULP = Num(maxAbs), Num(maxRel), maxULP
	if n == 0 {
		nan := Num(math.NaN())
		m.MeanAbs, m.RMSE, m.NMSE, m.Cos, m.SQNRdB, m.RMSRef = nan, nan, nan, nan, nan, nan
		return m
	}
	m.MeanAbs = Num(sumAbs / float64(n))
	m.RMSE = Num(math.Sqrt(sumErr2 / float64(n)))
	m.RMSRef = Num(math.Sqrt(sumB2 / float64(n)))
	switch {
	case sumB2 > 0:
		m.NMSE = Num(sumErr2 / sumB2)
	case sumErr2 == 0:
		m.NMSE = 0
	default:
		m.NMSE = Num(math.Inf(1))
	}
	switch {
	case sumA2 > 0 && sumB2 > 0:
		m.Cos = Num(sumAB / math.Sqrt(sumA2*sumB2))
	case sumA2 == 0 && sumB2 == 0:
		m.Cos = 1
	default:
		m.Cos = 0
	}
	m.SQNRdB = Num(10 * math.Log10(sumB2/sumErr2))
	return m
}

// widen converts float32 values to float64 exactly.
func widen(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}
