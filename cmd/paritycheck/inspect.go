package main

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"github.com/metallic-go/metallic/gguf"
	"github.com/olekukonko/tablewriter"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "show a GGUF file's metadata and tensor list (reads no tensor data)",
		run:     runInspect,
	})
}

// inspectArrayLimit is the longest metadata array shown in full without
// --full; longer ones are summarized as {"type":"array","elem":…,"len":N}.
const inspectArrayLimit = 16

type inspectTensor struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Shape  []int64 `json:"shape"` // GGUF order: ne0 first
	Bytes  int64   `json:"bytes"`
	Offset int64   `json:"offset"` // relative to the data section
}

type inspectReport struct {
	File        string          `json:"file"`
	Arch        string          `json:"arch"`
	Version     uint32          `json:"version"`
	Alignment   int64           `json:"alignment"`
	TensorCount int             `json:"tensor_count"`
	FileBytes   int64           `json:"file_bytes"`
	DataOffset  int64           `json:"data_offset"`
	Metadata    map[string]any  `json:"metadata"`
	Tensors     []inspectTensor `json:"tensors"`
}

const inspectUsage = `inspect [MODEL] [--json] [--full]

Shows what is inside a GGUF model file: the format version, the metadata
(architecture, hyper-parameters, tokenizer) and every tensor with its type,
shape (contiguous dimension first, as GGUF stores it) and size in bytes.
Only the header is read, so this is instant even on multi-gigabyte files.
MODEL defaults to the embedded stories260K. A malformed file exits with
status 2 and a message naming the problem.`

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", inspectUsage, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of tables")
	full := fs.Bool("full", false, "print long metadata arrays (e.g. the vocabulary) in full")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("inspect", pos)
	if err != nil {
		return err
	}
	path, err := modelPath(arg)
	if err != nil {
		return err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep := buildInspectReport(path, f, *full)
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	return printInspectTables(stdout, f, rep, *full)
}

func buildInspectReport(path string, f *gguf.File, full bool) *inspectReport {
	arch, _ := f.String("general.architecture")
	rep := &inspectReport{
		File: path, Arch: arch, Version: f.Version, Alignment: f.Alignment,
		TensorCount: len(f.Tensors), FileBytes: f.Size, DataOffset: f.DataOffset,
		Metadata: make(map[string]any, len(f.KV)),
		Tensors:  make([]inspectTensor, len(f.Tensors)),
	}
	for _, kv := range f.KV {
		rep.Metadata[kv.Key] = jsonValue(kv.Value, full)
	}
	for i, t := range f.Tensors {
		rep.Tensors[i] = inspectTensor{Name: t.Name, Type: t.Type.String(), Shape: t.Shape, Bytes: t.Bytes, Offset: t.Offset}
	}
	return rep
}

// arraySummary stands in for a long metadata array.
type arraySummary struct {
	Type string `json:"type"` // always "array"
	Elem string `json:"elem"` // GGUF element type: "string", "float32", "array" …
	Len  int    `json:"len"`
}

// valueTypeName returns the GGUF type name of a metadata value.
func valueTypeName(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		return "array"
	}
	return rv.Kind().String() // uint8 … float64, bool, string
}

func elemTypeName(v any) string {
	switch reflect.TypeOf(v).Elem().Kind() {
	case reflect.Interface:
		return "array"
	default:
		return reflect.TypeOf(v).Elem().Kind().String()
	}
}

// jsonValue converts a metadata value to something encoding/json writes:
// long arrays become summaries (unless full), non-finite floats strings.
func jsonValue(v any, full bool) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		x := rv.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return v
	case reflect.Slice:
		if !full && rv.Len() > inspectArrayLimit {
			return arraySummary{Type: "array", Elem: elemTypeName(v), Len: rv.Len()}
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = jsonValue(rv.Index(i).Interface(), full)
		}
		return out
	}
	return v
}

// displayValue renders a metadata value for the table, at most ~70 runes.
func displayValue(v any, full bool) string {
	rv := reflect.ValueOf(v)
	var s string
	if rv.Kind() == reflect.Slice {
		n := rv.Len()
		show := n
		if !full {
			show = min(n, 8)
		}
		parts := make([]string, show)
		for i := range parts {
			parts[i] = fmt.Sprintf("%q", rv.Index(i).Interface())
			if _, isStr := rv.Index(i).Interface().(string); !isStr {
				parts[i] = fmt.Sprint(rv.Index(i).Interface())
			}
		}
		s = fmt.Sprintf("[%d] %s", n, strings.Join(parts, " "))
		if show < n {
			s += " …"
		}
		return s
	}
	if str, ok := v.(string); ok {
		s = fmt.Sprintf("%q", str)
		if r := []rune(s); !full && len(r) > 70 {
			s = string(r[:69]) + "…"
		}
		return s
	}
	return fmt.Sprint(v)
}

func printInspectTables(w io.Writer, f *gguf.File, rep *inspectReport, full bool) error {
	fmt.Fprintf(w, "%s\n  GGUF v%d, %s bytes, arch %q, alignment %d, %d metadata keys, %d tensors (data at offset %d)\n\n",
		rep.File, rep.Version, groupDigits(rep.FileBytes), rep.Arch, rep.Alignment, len(f.KV), rep.TensorCount, rep.DataOffset)
	meta := tablewriter.NewTable(w)
	meta.Header("key", "type", "value")
	for _, kv := range f.KV {
		typ := valueTypeName(kv.Value)
		if typ == "array" {
			typ = "array[" + elemTypeName(kv.Value) + "]"
		}
		if err := meta.Append(kv.Key, typ, displayValue(kv.Value, full)); err != nil {
			return err
		}
	}
	if err := meta.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tens := tablewriter.NewTable(w)
	tens.Header("name", "type", "shape", "bytes")
	var total int64
	for _, t := range rep.Tensors {
		total += t.Bytes
		if err := tens.Append(t.Name, t.Type, fmt.Sprint(t.Shape), groupDigits(t.Bytes)); err != nil {
			return err
		}
	}
	tens.Footer("", "", fmt.Sprintf("%d tensors", len(rep.Tensors)), groupDigits(total))
	return tens.Render()
}

// groupDigits formats n with thousands separators: 1185376 → "1,185,376".
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
