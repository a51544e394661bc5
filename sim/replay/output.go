package replay

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// Report is the outcome of a replay of one or more scripts: `ccswitch
// replay --json`.
type Report struct {
	Scripts []*Result `json:"scripts"`
	Met     int       `json:"met"`
	Failed  int       `json:"failed"`
}

// Add counts a script's result in the report.
func (r *Report) Add(res *Result) {
	r.Scripts = append(r.Scripts, res)
	r.Met += res.Met
	r.Failed += res.Failed
}

// WriteText writes the report for people: per script, one line per
// expectation (ok or FAIL), a failure's diff indented under it, the
// actions the center refused, and a summary.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, s := range r.Scripts {
		ew.printf("%s (center %s, %s, end %ss)\n", s.File, s.Center, plural(s.Interactions, "interaction"), strconv.FormatFloat(s.EndS, 'f', -1, 64))
		for _, a := range s.ActionErrors {
			where := fmt.Sprintf("script[%d] (line %d)", a.Index, a.Line)
			if a.Index < 0 {
				where = "a router"
			}
			ew.printf("note %s at %ss: %s\n", where, strconv.FormatFloat(a.AtS, 'f', -1, 64), a.Error)
		}
		for _, o := range s.Expectations {
			if o.Met {
				if o.Detail == "" {
					ew.printf("ok   %s\n", o.short)
				} else {
					ew.printf("ok   %s %s\n", o.short, o.Detail)
				}
				continue
			}
			ew.printf("FAIL %s: %s (expect[%d], line %d)\n", o.Expect, o.Detail, o.Index, o.Line)
			for _, l := range o.Diff {
				ew.printf("     %s\n", l)
			}
		}
		ew.printf("%s: %d met, %d failed\n", plural(s.Met+s.Failed, "expectation"), s.Met, s.Failed)
	}
	if len(r.Scripts) > 1 {
		ew.printf("all %d scripts: %d met, %d failed\n", len(r.Scripts), r.Met, r.Failed)
	}
	return ew.err
}

// plural writes n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteJSON writes the report as indented JSON; the same scripts give the
// same bytes.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
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
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML for CI systems: a test suite
// per script, a test case per expectation.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Tests: r.Met + r.Failed, Failures: r.Failed}
	for _, s := range r.Scripts {
		suite := junitSuite{Name: s.File, Tests: s.Met + s.Failed, Failures: s.Failed}
		for _, o := range s.Expectations {
			c := junitCase{Name: fmt.Sprintf("expect[%d] %s", o.Index, o.Expect), ClassName: s.File}
			if !o.Met {
				text := ""
				for _, l := range o.Diff {
					text += l + "\n"
				}
				c.Failure = &junitFailure{Message: o.Detail, Text: text}
			}
			suite.Cases = append(suite.Cases, c)
		}
		out.Suites = append(out.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
