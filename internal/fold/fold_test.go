package fold

import "testing"

func TestName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  JOSÉ   da Silva ", "josé da silva"},
		{"Straße", "strasse"},
		{"", ""},
	} {
		if got := Name(tc.in); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
