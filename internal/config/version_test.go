package config

import "testing"

func TestParseConstraint(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means an error
	}{
		{"*", "*"},
		{" * ", "*"},
		{"2.14", "=2.14"},
		{"=1.0", "=1.0"},
		{">=2.10", ">=2.10"},
		{">= 2.10", ">=2.10"},
		{">2", ">2"},
		{"<=3.1", "<=3.1"},
		{"<3", "<3"},
		{"007", "=007"},
		{"", ""},
		{">=", ""},
		{"2.x", ""},
		{"v2", ""},
		{"2.", ""},
		{".2", ""},
		{"1..2", ""},
		{"-1", ""},
		{"=>2", ""},
		{"2.14-beta", ""},
		{"**", ""},
	} {
		c, err := ParseConstraint(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseConstraint(%q) = %v, want an error", tc.in, c)
		case tc.want != "" && err != nil:
			t.Errorf("ParseConstraint(%q): %v", tc.in, err)
		case tc.want != "" && c.String() != tc.want:
			t.Errorf("ParseConstraint(%q) = %v, want %s", tc.in, c, tc.want)
		}
	}
}

func TestConstraintAllows(t *testing.T) {
	for _, tc := range []struct {
		constraint, version string
		want                bool
	}{
		{"*", "", true},
		{"*", "1.0", true},
		{">=2.10", "", false},
		{"2.14", "2.14", true},
		{"2.14", "2.14.0", true},
		{"2.14", "2.14.1", false},
		{"2.14", "2.13", false},
		{"=1.0", "1", true},
		{">=2.10", "2.10", true},
		{">=2.10", "2.9", false},
		{">=2.10", "2.11", true},
		{">=2.10", "10", true},
		{">2", "2.0.0", false},
		{">2", "2.0.1", true},
		{"<=3.1", "3.1", true},
		{"<=3.1", "3.1.1", false},
		{"<3", "2.99", true},
		{"<3", "3", false},
		{"<3", "3.0.0", false},
		{">=2.10", "2.10-beta", true}, // "10-beta" > "10" as strings
	} {
		c, err := ParseConstraint(tc.constraint)
		if err != nil {
			t.Fatalf("ParseConstraint(%q): %v", tc.constraint, err)
		}
		if got := c.Allows(tc.version); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.constraint, tc.version, got, tc.want)
		}
	}
	if !(VersionConstraint{}).Allows("") {
		t.Errorf("the zero VersionConstraint does not allow an empty version")
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1", "1", 0},
		{"2.9", "2.10", -1},
		{"2.10", "2.9", 1},
		{"2.1", "2.1.0", 0},
		{"2.1.0.0", "2.1", 0},
		{"2.1.1", "2.1", 1},
		{"02.1", "2.01", 0},
		{"", "0", 0},
		{"", "1", -1},
		{"1.a", "1.b", -1},
		{"1.b", "1.10", 1}, // "b" > "10" as strings
		{"99999999999999999999999", "99999999999999999999998", 1},
		{"1.0.0.0.0.1", "1", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
