package imgw

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "hello"},
		{"  hi there \n", "hi there"},
		{"a\x00b\x07c\x1b[31md", "abc[31md"},
		{"<b>bold</b> text", "bold text"},
		{"<script>alert(1)</script>ok", "ok"},
		{"<SCRIPT src=x>alert(1)", ""},
		{"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		{"evil\u202Egnp.exe", "evilgnp.exe"},
		{"zero\u200Bwidth", "zerowidth"},
		{"line1\n\n\n\n\nline2", "line1\n\nline2"},
		{"bad \xff\xfe utf8", "bad \uFFFD utf8"},
		{strings.Repeat("!", 100), strings.Repeat("!", 32)},
		{"café ☕ 你好", "café ☕ 你好"},
		{"tab\there", "tab\there"},
		{"crlf\r\nline", "crlf\nline"},
	} {
		got, _ := Sanitize(tc.in)
		if got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"hi", "<b>x</b>", "\x00\xff", "a\u202e", strings.Repeat("x", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := Sanitize(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range out {
			if r < 0x20 && r != '\n' && r != '\t' {
				t.Fatalf("control %U left in %q", r, out)
			}
			if r == '\u202e' || r == '\u200b' {
				t.Fatalf("format character %U left", r)
			}
		}
		if len(out) > 3*len(s) { // U+FFFD is 3 bytes for 1 invalid byte
			t.Fatalf("output grew from %d to %d bytes", len(s), len(out))
		}
		if again, changed := Sanitize(out); changed && again != out {
			// A second pass may only find what removing markup exposed.
			if a2, _ := Sanitize(again); a2 != again {
				t.Fatalf("not idempotent: %q -> %q -> %q", out, again, a2)
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	var l rateLimit
	now := time.Unix(0, 0)
	n := 0
	for range 50 {
		if l.allow(now, 30) {
			n++
		}
	}
	if n != rateBurst {
		t.Fatalf("burst %d, want %d", n, rateBurst)
	}
	now = now.Add(10 * time.Second) // 30/min: 5 more
	n = 0
	for range 50 {
		if l.allow(now, 30) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("after 10s: %d, want 5", n)
	}
	if !l.warn(now) || l.warn(now.Add(30*time.Second)) || !l.warn(now.Add(61*time.Second)) {
		t.Fatal("warn at most once a minute")
	}
}
