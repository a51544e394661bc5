package jsonenc

import (
	"encoding/json"
	"testing"
)

// What AppendString writes decodes as the string, each invalid UTF-8
// byte as U+FFFD, as encoding/json's own output does.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r\x00\x1f\x7f", "ünï©ødé 💬", "bad \xff\xfe utf8", "</script>&<", "\u2028\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := AppendString([]byte("x"), s)[1:]
		var got string
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decodes as %q, encoding/json's as %q", raw, got, want)
		}
	})
}
