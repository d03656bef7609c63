package repro

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
)

// Figures are what a runner printed on its last line.
type Figures struct {
	NMSE, MaxAbs, MeanAbs, Cos float64
	MaxULP                     int64
	// Identical says the figures are bit for bit the step table's;
	// BitExact that the output is bit for bit what the path produced.
	Identical, BitExact bool
	// Output is everything the runner printed.
	Output string
}

// Host dialects of RunHost.
const (
	HostCUDA = "cuda" // host/cuda_runner.cpp over clangcheck.HostCUDALib
	HostMSL  = "msl"  // host/msl_runner.cpp over clangcheck.HostMSLLib
)

// RunHost builds one host runner of the repro in dir with clang (the
// flags of run.sh) and runs it, returning its figures. A runner that
// reports different figures is not an error (Figures.Identical says so);
// one that cannot be built or run is.
func RunHost(dir, dialect string) (*Figures, error) {
	clang, err := clangcheck.Clang()
	if err != nil {
		return nil, err
	}
	src := map[string]string{HostCUDA: "host/cuda_runner.cpp", HostMSL: "host/msl_runner.cpp"}[dialect]
	if src == "" {
		return nil, fmt.Errorf("repro: host dialect %q (want %s or %s)", dialect, HostCUDA, HostMSL)
	}
	bin := strings.TrimSuffix(src, ".cpp")
	build := exec.Command(clang, append(append([]string(nil), hostFlags...), "-o", bin, src)...)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("repro: building %s: %v\n%s", src, err, out)
	}
	run := exec.Command(filepath.Join(".", bin))
	run.Dir = dir
	out, err := run.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("repro: running %s: %v\n%s", bin, err, out)
	}
	return ParseFigures(string(out))
}

// ParseFigures reads the "figures …" line a runner prints last.
func ParseFigures(out string) (*Figures, error) {
	f := &Figures{Output: out}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "figures ") {
		return nil, fmt.Errorf("repro: no figures line in the runner's output:\n%s", out)
	}
	for _, kv := range strings.Fields(last)[1:] {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "nmse":
			f.NMSE, err = strconv.ParseFloat(v, 64)
		case "max_abs":
			f.MaxAbs, err = strconv.ParseFloat(v, 64)
		case "mean_abs":
			f.MeanAbs, err = strconv.ParseFloat(v, 64)
		case "cos":
			f.Cos, err = strconv.ParseFloat(v, 64)
		case "max_ulp":
			f.MaxULP, err = strconv.ParseInt(v, 10, 64)
		case "identical":
			f.Identical = v == "1"
		case "bitexact":
			f.BitExact = v == "1"
		}
		if err != nil {
			return nil, fmt.Errorf("repro: figures line %q: %v", last, err)
		}
	}
	return f, nil
}
