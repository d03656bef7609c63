package main

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// htmlDoc parses an HTML report and fails unless it is self-contained: no
// script, link, iframe, object or embed element, every href a "#" anchor,
// every src a data: URI, no url() or @import in the CSS.
func htmlDoc(t *testing.T, file string) *html.Node {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s does not parse as HTML: %v", file, err)
	}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script", "link", "iframe", "object", "embed", "base":
			t.Errorf("%s: <%s> element (the report must be self-contained)", file, n.Data)
		case "style":
			if css := text(n); strings.Contains(css, "url(") || strings.Contains(css, "@import") {
				t.Errorf("%s: the CSS references another resource", file)
			}
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "href":
				if !strings.HasPrefix(a.Val, "#") {
					t.Errorf("%s: <%s href=%q> leaves the file", file, n.Data, a.Val)
				}
			case "src", "poster", "action", "data", "background", "srcset":
				if !strings.HasPrefix(a.Val, "data:") {
					t.Errorf("%s: <%s %s=%q> is not a data: URI", file, n.Data, a.Key, a.Val)
				}
			}
		}
	})
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// text is the concatenated text inside n.
func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// byID returns the element with id, or nil.
func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		for _, a := range n.Attr {
			if found == nil && a.Key == "id" && a.Val == id {
				found = n
			}
		}
	})
	return found
}

// elements returns the elements named tag inside n, in document order.
func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(n, func(c *html.Node) {
		if c.Type == html.ElementNode && c.Data == tag {
			out = append(out, c)
		}
	})
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// firstBodyBlock returns the first element of <body> after the <h1>.
func firstBodyBlock(doc *html.Node) *html.Node {
	body := elements(doc, "body")[0]
	seenH1 := false
	for c := body.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		if c.Data == "h1" {
			seenH1 = true
			continue
		}
		if seenH1 {
			return c
		}
	}
	return nil
}

// checkHeatmap fails unless the page has a heatmap section whose image is
// a PNG.
func checkHeatmap(t *testing.T, doc *html.Node) {
	t.Helper()
	sec := byID(doc, "heatmap")
	if sec == nil {
		t.Fatal("no heatmap section")
	}
	imgs := elements(sec, "img")
	if len(imgs) != 1 {
		t.Fatalf("heatmap section has %d images", len(imgs))
	}
	src := attr(imgs[0], "src")
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("heatmap src is not base64 PNG data: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("heatmap is not a PNG: %v", err)
	}
}

// failedRows returns the first cell of each row of table id marked as a
// failure.
func failedRows(doc *html.Node, id string) []string {
	var out []string
	tb := byID(doc, id)
	if tb == nil {
		return nil
	}
	for _, tr := range elements(tb, "tr") {
		if attr(tr, "class") == "fail" {
			out = append(out, text(elements(tr, "td")[0]))
		}
	}
	return out
}

// TestReportHTML: `report --html` writes one self-contained file whose
// first block is the verdict, followed by the summary and checkpoint
// tables, the heatmap, token parity and provenance; a perturbed run's
// verdict is FAIL, naming the perturbed checkpoint, and its row is marked.
func TestReportHTML(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		verdict string
	}{
		{"pass", nil, 0, "PASS"},
		{"perturbed", []string{"--perturb", "dsl:blk.3.ffn_act=1e-3"}, 1, "FAIL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".html")
			args := append([]string{"report", "--paths", "reference,dsl", "-n", "8", "--html", file}, c.args...)
			if code, _, stderr := pctRun(args...); code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, stderr)
			}
			doc := htmlDoc(t, file)
			v := firstBodyBlock(doc)
			if v == nil || attr(v, "id") != "verdict" || !strings.HasPrefix(text(v), c.verdict) {
				t.Fatalf("first block after the title is %v, want the %s verdict", v, c.verdict)
			}
			for _, id := range []string{"summary", "rows", "streams", "pairs"} {
				if tb := byID(doc, id); tb == nil || len(elements(tb, "tr")) < 2 {
					t.Errorf("table %q missing or empty", id)
				}
			}
			if !strings.Contains(text(byID(doc, "rows")), "blk.0.attn_out") {
				t.Error("the checkpoint table lacks blk.0.attn_out")
			}
			checkHeatmap(t, doc)
			prov := text(byID(doc, "provenance"))
			for _, want := range []string{"model sha256", "KV cache f32, flash attention off", "tool", "reference ggml-cpu, dsl ggml-cpu"} {
				if !strings.Contains(prov, want) {
					t.Errorf("provenance lacks %q", want)
				}
			}
			failed := failedRows(doc, "rows")
			if c.code == 0 && len(failed) > 0 {
				t.Errorf("passing run marks rows %v as failed", failed)
			}
			if c.code == 1 {
				if !strings.Contains(text(v), "blk.3.ffn_act") || len(failed) == 0 || failed[0] != "blk.3.ffn_act" {
					t.Errorf("verdict %q, failed rows %v: want blk.3.ffn_act first", text(v), failed)
				}
			}
		})
	}
	if code, _, stderr := pctRun("report", "--html", filepath.Join(dir, "x.txt")); code != 2 || !strings.Contains(stderr, "--html") {
		t.Errorf("--html x.txt: exit %d (%s), want 2", code, stderr)
	}
}

// TestGoldenVerifyHTML: `golden verify --html` writes the same kind of
// page for the committed stories260K golden: verdict first, a table per
// path, the heatmap, the token streams and the golden's provenance; with
// a perturbation the verdict is FAIL and names the moved checkpoint.
func TestGoldenVerifyHTML(t *testing.T) {
	g := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		verdict string
	}{
		{"pass", nil, 0, "PASS"},
		{"perturbed", []string{"--perturb", "reference:blk.2.ffn_act=1e-2"}, 1, "FAIL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".html")
			args := append([]string{"golden", "verify", g, "--html", file}, c.args...)
			if code, _, stderr := goldenRun(args...); code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, stderr)
			}
			doc := htmlDoc(t, file)
			v := firstBodyBlock(doc)
			if v == nil || attr(v, "id") != "verdict" || !strings.HasPrefix(text(v), c.verdict) {
				t.Fatalf("first block after the title is not the %s verdict", c.verdict)
			}
			for _, id := range []string{"rows-reference", "rows-dsl", "streams"} {
				if tb := byID(doc, id); tb == nil || len(elements(tb, "tr")) < 2 {
					t.Errorf("table %q missing or empty", id)
				}
			}
			checkHeatmap(t, doc)
			prov := text(byID(doc, "provenance"))
			for _, want := range []string{"recorded by", "model sha256", "numerics (recorded)ggml-cpu", "numerics (verified)ggml-cpu"} {
				if !strings.Contains(prov, want) {
					t.Errorf("provenance lacks %q:\n%s", want, prov)
				}
			}
			if failed := failedRows(doc, "rows-reference"); c.code == 1 && (len(failed) == 0 || failed[0] != "blk.2.ffn_act") {
				t.Errorf("failed rows %v: want blk.2.ffn_act first", failed)
			}
		})
	}
}
