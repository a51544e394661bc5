package config

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
)

// VersionConstraint is a condition on the version of a customer's IM
// client, as an agent's clients map gives it: "*" (any version, or none),
// "2.14" or "=2.14" (that version: 2.14 and 2.14.0, not 2.14.1), ">=2.10",
// ">2", "<=3.1" or "<3". The zero VersionConstraint is "*".
type VersionConstraint struct {
	op      string // "", "=", ">=", ">", "<=", "<"; "" allows everything
	version string
}

// constraintOps lists the operators, longest first so that ">=" is not
// read as ">".
var constraintOps = []string{">=", "<=", ">", "<", "="}

// ParseConstraint parses a version constraint such as ">=2.10". Versions in
// constraints are non-negative integers separated by dots.
func ParseConstraint(s string) (VersionConstraint, error) {
	t := strings.TrimSpace(s)
	if t == "*" {
		return VersionConstraint{}, nil
	}
	op := "="
	for _, o := range constraintOps {
		if rest, ok := strings.CutPrefix(t, o); ok {
			op, t = o, strings.TrimSpace(rest)
			break
		}
	}
	if err := checkVersion(t); err != nil {
		return VersionConstraint{}, fmt.Errorf("version constraint %q: %w", s, err)
	}
	return VersionConstraint{op: op, version: t}, nil
}

// checkVersion reports whether v is non-negative integers separated by
// dots, such as 2.10.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("missing version (want e.g. 2.10)")
	}
	for c := range strings.SplitSeq(v, ".") {
		if !isDigits(c) {
			return fmt.Errorf("version %q: want numbers separated by dots, such as 2.10", v)
		}
	}
	return nil
}

// Allows reports whether a client of the given version meets c. An empty
// version (the client did not say) meets only "*".
func (c VersionConstraint) Allows(version string) bool {
	if c.op == "" {
		return true
	}
	if version == "" {
		return false
	}
	n := CompareVersions(version, c.version)
	switch c.op {
	case "=":
		return n == 0
	case ">=":
		return n >= 0
	case ">":
		return n > 0
	case "<=":
		return n <= 0
	case "<":
		return n < 0
	}
	return false
}

// String returns c in the form ParseConstraint reads, such as ">=2.10".
func (c VersionConstraint) String() string {
	if c.op == "" {
		return "*"
	}
	return c.op + c.version
}

// CompareVersions compares two dot-separated versions component by
// component and returns -1, 0 or +1. Numeric components compare as numbers
// (2.9 < 2.10), a missing component counts as 0 (2.1 == 2.1.0), and a
// component that is not a number compares with its counterpart as a string.
func CompareVersions(a, b string) int {
	as, bs := components(a), components(b)
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if n := compareComponent(x, y); n != 0 {
			return n
		}
	}
	return 0
}

func components(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ".")
}

// compareComponent compares two version components, as numbers of any
// length when both are digits.
func compareComponent(x, y string) int {
	if !isDigits(x) || !isDigits(y) {
		return strings.Compare(x, y)
	}
	x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
