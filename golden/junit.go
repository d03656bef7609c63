package golden

import (
	"encoding/xml"
	"fmt"
	"io"
)

// JUnit XML, the subset CI systems (GitHub, GitLab, Jenkins) read: one
// testsuite per path, one testcase per checkpoint, a failure element with
// the numbers for each regression.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes rep as JUnit XML. name labels the run (e.g. the golden
// file's name).
func WriteJUnit(w io.Writer, rep *Report, name string) error {
	doc := junitSuites{Name: "golden " + name}
	index := map[string]int{}
	for _, r := range rep.Rows {
		i, ok := index[r.Path]
		if !ok {
			i = len(doc.Suites)
			index[r.Path] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: "golden/" + r.Path})
		}
		s := &doc.Suites[i]
		c := junitCase{Name: r.Checkpoint, Classname: "golden." + r.Path}
		if r.Failed() {
			msg := fmt.Sprintf("%s (layer %d): %s", r.Checkpoint, r.Layer, r.Verdict)
			if r.Note != "" {
				msg += ": " + r.Note
			}
			text := fmt.Sprintf("path %s checkpoint %s layer %d\nmax_abs %g\nrmse %g\nnmse %g (limit %g)\ncos %.9g\nmax_ulp %d\n",
				r.Path, r.Checkpoint, r.Layer, float64(r.MaxAbs), float64(r.RMSE), float64(r.NMSE), float64(r.Limit), float64(r.Cos), r.MaxULP)
			if r.Checkpoint == tensorTokens || r.Verdict == Missing || r.Verdict == Shape {
				text = fmt.Sprintf("path %s checkpoint %s: %s\n", r.Path, r.Checkpoint, r.Note)
			}
			c.Failure = &junitFailure{Message: msg, Type: "regression", Text: text}
			s.Failures++
			doc.Failures++
		}
		s.Tests++
		doc.Tests++
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
