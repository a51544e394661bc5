package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// What AppendString writes decodes as the string, each invalid UTF-8
// byte as U+FFFD, as encoding/json's own output does; what
// AppendHTMLString writes is encoding/json's output, byte for byte.
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
		if html := AppendHTMLString([]byte("x"), s)[1:]; !bytes.Equal(html, std) {
			t.Fatalf("AppendHTMLString(%q) = %s, encoding/json writes %s", s, html, std)
		}
	})
}

func TestAppendHTMLString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<<b>img src=x onerror=alert(1)>", `"\u003c\u003cb\u003eimg src=x onerror=alert(1)\u003e"`},
		{"</script><script>alert(1)</script>", `"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"`},
		{"&lt;img&gt; & co", `"\u0026lt;img\u0026gt; \u0026 co"`},
		{"line\u2028sep\u2029para", `"line\u2028sep\u2029para"`},
		{"plain \"q\" \\ \n", `"plain \"q\" \\ \n"`},
	} {
		if got := string(AppendHTMLString(nil, tc.in)); got != tc.want {
			t.Errorf("AppendHTMLString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if std, _ := json.Marshal(tc.in); string(std) != tc.want {
			t.Errorf("encoding/json writes %s for %q, the test wants %s", std, tc.in, tc.want)
		}
	}
}
