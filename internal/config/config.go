package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at one place of a configuration file. Its message reads
// FILE:LINE:COL: FIELD: MSG, for example
//
//	center.yaml:12:15: queues[0].strategy: unknown strategy "fastest" (want one of ...)
//
// Parts that are unknown (a YAML syntax error has no column and no field)
// are left out.
type Error struct {
	File   string // the name given to Parse, or the path given to Load
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Field  string // path to the field, like agents[2].skills.support
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxFileBytes caps a configuration file: a center with thousands of
// agents and queues fits in a fraction of it; more customers than a
// demonstration's belong in the store, not in the file. Decoding YAML
// takes many times its size in memory, so a larger file is refused before
// it is read.
const MaxFileBytes = 2 << 20

// Load reads the configuration file at path; see Parse. A file larger
// than MaxFileBytes is refused without being read whole.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes the configuration in data, applies defaults and validates
// it. name is the file name that errors and File.Path carry.
//
// Unknown fields are errors. On failure Parse returns a nil File and the
// problems found, each an *Error, joined with errors.Join in the order they
// appear in the file (the first 20, then a count of the rest); errors.As
// finds the first.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("the file is larger than %d MiB: a center file holds the center's description, not data (load customers into the store)", MaxFileBytes>>20)}
	}
	c := &checker{file: name}
	root, ok := c.parseTree(data)
	if !ok {
		return nil, c.err()
	}
	c.root = root

	// The node tree keeps positions; a second, strict decode of the same
	// bytes fills the structs (yaml.Node.Decode cannot reject unknown
	// fields).
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		c.decodeError(err)
		return nil, c.err()
	}
	f.Path = name

	c.setDefaults(&f)
	c.validate(&f)
	if err := c.err(); err != nil {
		return nil, err
	}
	return &f, nil
}

// parseTree parses data into a node tree, which keeps the position of every
// key and value. It reports false, having recorded why, when data is not
// exactly one non-empty YAML document.
func (c *checker) parseTree(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) || err == nil && resolve(&root).ShortTag() == nullTag {
		c.errs = append(c.errs, &Error{File: c.file, Msg: "empty configuration"})
		return nil, false
	}
	if err != nil {
		c.syntaxError(err, data)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &root, true
	case err != nil:
		c.syntaxError(err, data)
	default:
		c.errs = append(c.errs, &Error{File: c.file, Line: next.Line, Column: next.Column,
			Msg: "more than one YAML document (want a single mapping)"})
	}
	return nil, false
}

// maxErrors bounds the errors Parse returns; it counts the rest.
const maxErrors = 20

// checker collects the errors of one Parse.
type checker struct {
	file    string
	root    *yaml.Node
	errs    []*Error
	skipped int // decode errors left out beyond maxErrors
}

// errorf records a problem with the field at p, at p's position, or its
// nearest parent's when p is not in the file.
func (c *checker) errorf(p path, format string, args ...any) {
	e := &Error{File: c.file, Field: p.String(), Msg: fmt.Sprintf(format, args...)}
	if n, _ := lookup(c.root, p); n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	c.errs = append(c.errs, e)
}

// given reports whether the file sets the field at p to something other
// than null.
func (c *checker) given(p path) bool {
	n, found := lookup(c.root, p)
	return found && n.ShortTag() != nullTag
}

// unset reports whether a field that holds its zero value (zero) was left
// out of the file, and so takes its default. An explicit zero is kept, for
// validation to accept or reject.
func (c *checker) unset(p path, zero bool) bool {
	return zero && !c.given(p)
}

// err returns the first maxErrors errors in file order, and how many more
// there are, or nil.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(c.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	shown := c.errs[:min(len(c.errs), maxErrors)]
	errs := make([]error, 0, len(shown)+1)
	for _, e := range shown {
		errs = append(errs, e)
	}
	if more := len(c.errs) - len(shown) + c.skipped; more > 0 {
		errs = append(errs, &Error{File: c.file, Msg: fmt.Sprintf("%d more errors not shown", more)})
	}
	return errors.Join(errs...)
}

var (
	reYAMLError    = regexp.MustCompile(`(?s)^yaml: (?:line (\d+): )?(.*)$`)
	reLine         = regexp.MustCompile(`(?s)^line (\d+): (?:column (\d+): )?(.*)$`)
	reUnknownField = regexp.MustCompile(`(?s)^field (.*) not found in type \S+$`)
	reFieldTwice   = regexp.MustCompile(`(?s)^field (.*) already set in type \S+$`)
	reKeyTwice     = regexp.MustCompile(`(?s)^mapping key (.*) already defined at line (\d+)$`)
	reCannot       = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// decodeError records an error from decoding into File: a *yaml.TypeError,
// whose entries each name a line that typeError maps back to a node, a
// field path and a column, or an error without a place, such as
// "document contains excessive aliasing".
func (c *checker) decodeError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		c.errs = append(c.errs, &Error{File: c.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
		return
	}
	for i, s := range te.Errors {
		if i == maxErrors {
			c.skipped = len(te.Errors) - maxErrors
			break
		}
		c.typeError(s)
	}
}

// parserErrors are the syntax errors for which the YAML library reports
// the 0-based line where the enclosing block or flow collection starts (or,
// when that is the first line, the 0-based line of the problem) where other
// errors give a 1-based line.
var parserErrors = []string{
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
}

// syntaxError records a YAML syntax error such as
// "yaml: line 3: mapping values are not allowed in this context".
func (c *checker) syntaxError(err error, data []byte) {
	e := &Error{File: c.file, Msg: err.Error()}
	c.errs = append(c.errs, e)
	m := reYAMLError.FindStringSubmatch(e.Msg)
	if m == nil {
		return
	}
	e.Line, _ = strconv.Atoi(m[1])
	e.Msg = m[2]
	if slices.Contains(parserErrors, e.Msg) {
		e.Line++
	}
	if lines := bytes.Split(data, []byte("\n")); e.Line > 0 && e.Line <= len(lines) {
		line := lines[e.Line-1]
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			e.Msg += " (indent with spaces, not tabs)"
		}
	}
}

// typeError records one entry of a *yaml.TypeError, such as
// "line 4: field colour not found in type config.Queue".
func (c *checker) typeError(s string) {
	e := &Error{File: c.file, Msg: s}
	c.errs = append(c.errs, e)
	m := reLine.FindStringSubmatch(s)
	if m == nil {
		return
	}
	e.Line, _ = strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	e.Msg = m[3]

	// Which node on the line: a key for field errors, a value otherwise.
	isKey, match := false, func(n *yaml.Node) bool { return n.Column == column }
	switch {
	case column > 0:
	case reUnknownField.MatchString(e.Msg):
		name := reUnknownField.FindStringSubmatch(e.Msg)[1]
		e.Msg = fmt.Sprintf("unknown field %q", name)
		isKey, match = true, func(n *yaml.Node) bool { return n.Value == name }
	case reFieldTwice.MatchString(e.Msg):
		name := reFieldTwice.FindStringSubmatch(e.Msg)[1]
		e.Msg = fmt.Sprintf("field %q given twice", name)
		isKey, match = true, func(n *yaml.Node) bool { return n.Value == name }
	case reKeyTwice.MatchString(e.Msg):
		m := reKeyTwice.FindStringSubmatch(e.Msg)
		name := m[1]
		if u, err := strconv.Unquote(name); err == nil {
			name = u
		}
		e.Msg = fmt.Sprintf("key %q given twice (first at line %s)", name, m[2])
		isKey, match = true, func(n *yaml.Node) bool { return n.Value == name }
	case reCannot.MatchString(e.Msg):
		m := reCannot.FindStringSubmatch(e.Msg)
		tag, value := m[1], m[2]
		e.Msg = fmt.Sprintf("want %s, got %s", describeType(m[3]), describeTag(tag, value))
		if r := resolve(c.root); r != nil && m[3] == "config.File" {
			e.Column = r.Column // the whole file is of the wrong kind
			return
		}
		match = func(n *yaml.Node) bool {
			switch tag {
			case "!!seq":
				return n.Kind == yaml.SequenceNode
			case "!!map":
				return n.Kind == yaml.MappingNode
			}
			// yaml shortens long values to their first 7 bytes and "...".
			v, cut := strings.CutSuffix(value, "...")
			return n.Value == value || cut && strings.HasPrefix(n.Value, v)
		}
	}
	if p, n := findOnLine(c.root, e.Line, isKey, match); n != nil {
		e.Field, e.Column = p.String(), n.Column
	}
}

// findOnLine returns the first node on line for which match is true, or
// failing that the first node on line, and its path. It looks at mapping
// keys when isKey is set, and at values otherwise.
func findOnLine(root *yaml.Node, line int, isKey bool, match func(*yaml.Node) bool) (path, *yaml.Node) {
	var firstPath path
	var first *yaml.Node
	walk(root, nil, func(p path, key, val *yaml.Node) bool {
		n := val
		if isKey {
			n = key
		}
		if n == nil || n.Line != line {
			return true
		}
		if match(n) {
			firstPath, first = p, n
			return false
		}
		if first == nil {
			firstPath, first = p, n
		}
		return true
	})
	return firstPath, first
}

// describeType says in words what a Go type from a yaml error message
// expects.
func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."):
		return "a mapping"
	case strings.HasPrefix(t, "uint"):
		return "a whole number >= 0"
	case strings.HasPrefix(t, "int"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return t
}

// describeTag says in words what a YAML node is, from its tag and value as
// a yaml error message gives them.
func describeTag(tag, value string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	}
	return strconv.Quote(value)
}
