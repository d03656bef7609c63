package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/olekukonko/tablewriter"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	_ "github.com/metallic-go/metallic/backend/cpu" // the built-in backend
	"github.com/metallic-go/metallic/model"
)

func init() {
	register(command{
		name:    "ops",
		summary: "per-op conformance of a backend against the float64 oracle, per numerics profile",
		run:     runOps,
	})
}

// opsJSON is the ops command's JSON object.
type opsJSON struct {
	Backend string `json:"backend"`
	// Provenance is the backend's line (its Describe: device, driver and
	// compile options on cuda; threads and CPU features on cpu).
	Provenance string `json:"provenance"`
	// Numerics lists the profiles the backend implements; rows are
	// grouped by profile (each row's "numerics"), then the refusal checks.
	Numerics []backend.Numerics   `json:"numerics"`
	Rows     []backendtest.Result `json:"rows"`
	Pass     bool                 `json:"pass"`
	Failed   int                  `json:"failed"`
}

func runOps(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ops", "ops [--backend cpu|metal|cuda] [--threads N] [--json]", stderr)
	name := fs.String("backend", "cpu", "backend to check (linked in: see --help of generate)")
	threads := new(int)
	threadsVar(fs, threads, 0, "")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("ops takes no positional arguments, got %q", pos)
	}
	if err := checkScope(fs, runScope{Backend: *name, JSON: *asJSON}); err != nil {
		return err
	}
	b, err := backend.OpenOptions(*name, backend.Options{Threads: *threads})
	if err != nil {
		return usagef("%v (linked in: %v)", err, backend.Names())
	}
	rows := backendtest.Check(b)
	prov := b.Name()
	if d, ok := b.(model.Describer); ok {
		prov = d.Describe() // after Check: the modules it built are in cuda's line
	}
	out := opsJSON{Backend: *name, Provenance: prov, Numerics: b.Numerics(), Rows: rows, Pass: true}
	for _, r := range rows {
		if !r.Pass {
			out.Pass = false
			out.Failed++
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		color := pcColor(stdout)
		tw := tablewriter.NewTable(stdout)
		fmt.Fprintf(stdout, "backend %s implements numerics %v\n%s\n", *name, b.Numerics(), prov)
		tw.Header("numerics", "op", "shape", "weight", "act", "max_abs", "max_rel", "nmse", "err/tol", "verdict")
		firstFail := ""
		for _, r := range rows {
			v := "pass"
			if !r.Pass {
				v = "FAIL"
				if firstFail == "" {
					firstFail = r.Name()
				}
			}
			cells := []string{r.Numerics, r.Op, r.Shape, r.Weight, r.Act, pcG(r.MaxAbs), pcG(r.MaxRel), pcG(r.NMSE), pcG(r.Ratio), v}
			if r.Err != "" {
				cells[9] = "ERROR: " + r.Err
			}
			if !r.Pass && color {
				for i := range cells {
					cells[i] = "\x1b[1;31m" + cells[i] + "\x1b[0m"
				}
			}
			if err := tw.Append(cells); err != nil {
				return err
			}
		}
		if err := tw.Render(); err != nil {
			return err
		}
		if firstFail != "" {
			fmt.Fprintf(stdout, "%d of %d cases fail; first: %s\n", out.Failed, len(rows), firstFail)
		} else {
			fmt.Fprintf(stdout, "all %d cases pass on %s\n", len(rows), *name)
		}
	}
	if !out.Pass {
		return fmt.Errorf("%w: %d of %d op cases fail on backend %s", errParity, out.Failed, len(rows), *name)
	}
	return nil
}

func pcG(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
