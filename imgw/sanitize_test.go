package imgw

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "hello"},
		{"  hi there \n", "hi there"},
		{"a\x00b\x07c\x1b[31md", "abc[31md"},
		// Markup is text: kept as typed, shown as typed.
		{"<b>bold</b> text", "<b>bold</b> text"},
		{"<script>alert(1)</script>ok", "<script>alert(1)</script>ok"},
		{"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		{"a <b and c>d", "a <b and c>d"},
		{"evil\u202Egnp.exe", "evilgnp.exe"},
		{"zero\u200Bwidth", "zerowidth"},
		{"line1\n\n\n\n\nline2", "line1\n\nline2"},
		{"bad \xff\xfe utf8", "bad \uFFFD utf8"},
		{strings.Repeat("!", 100), strings.Repeat("!", 32)},
		{"café ☕ 你好", "café ☕ 你好"},
		{"tab\there", "tab\there"},
		{"crlf\r\nline", "crlf\nline"},
		// Dropping what is not text never joins "<" to a tag's start.
		{"<\u200bimg src=x onerror=alert(1)>", "< img src=x onerror=alert(1)>"},
		{"<\x00img>", "< img>"},
		{"<\x00\u202e\r/script>", "< /script>"},
		{"<\u200b!-- x -->", "< !-- x -->"},
		{"<\u200b?xml?>", "< ?xml?>"},
		{"<\u200b1 or <\u200b>", "<1 or <>"},
		{"<\xffimg>", "<\uFFFDimg>"},
		{"<\xff\xfe\xfdimg>", "<\uFFFDimg>"},
		{"a<\r\nb", "a<\nb"},
		{strings.Repeat("<", 40) + "img", strings.Repeat("<", 32) + " img"},
		{strings.Repeat("<", 40) + "\x00img", strings.Repeat("<", 32) + " img"},
	} {
		got, changed := Sanitize(tc.in)
		if got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if changed != (got != tc.in) {
			t.Errorf("Sanitize(%q): changed %v", tc.in, changed)
		}
		if p := newMarkup(tc.in, got); p != "" {
			t.Errorf("Sanitize(%q) = %q: %q is new markup", tc.in, got, p)
		}
	}
}

// hostile are texts that try to become markup on their way: nested tags
// (removing the inner tag once would create the outer one), entities
// (nothing may decode them), tags split by characters a sanitizer drops.
var hostile = []string{
	"<<b>img src=x onerror=alert(1)>",
	"<scr<script>ipt>alert(1)</script>",
	"<scr<b>ipt>alert(1)</scr<b>ipt>",
	"&lt;img src=x onerror=alert(1)&gt;",
	"&#60;img src=x onerror=alert(1)&#62;",
	"<img/src=x onerror=alert(1)>",
	"<\u200bimg src=x onerror=alert(1)>",
	"<\u202eimg src=x>",
	"<\ufeffscript>alert(1)<\u2060/script>",
	"<\x00img>",
	"<\x1b\x7f\u0085img>",
	"<\r/script>",
	"<\xffimg>",
	"<\xc3img>",
	"<!<!---->-- x -->",
	"<?<?php?>php ?>",
	"<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<img>",
	"</</b>script>",
	"<a href=\"javascript:alert(1)\">x</a>",
}

// Hostile text stays what was typed (but for the characters Sanitize
// drops), and no step creates markup.
func TestSanitizeHostileStaysText(t *testing.T) {
	for _, in := range hostile {
		got, _ := Sanitize(in)
		if p := newMarkup(in, got); p != "" {
			t.Errorf("Sanitize(%q) = %q: %q is new markup", in, got, p)
		}
		if again, changed := Sanitize(got); changed || again != got {
			t.Errorf("Sanitize(%q) = %q, then %q: not a fixed point", in, got, again)
		}
	}
	for _, in := range []string{"<<b>img src=x onerror=alert(1)>", "<scr<script>ipt>alert(1)</script>",
		"&lt;img src=x onerror=alert(1)&gt;", "<img/src=x onerror=alert(1)>", "</</b>script>"} {
		if got, changed := Sanitize(in); got != in || changed {
			t.Errorf("Sanitize(%q) = %q, want it as typed", in, got)
		}
	}
}

// newMarkup is the oracle of the tests and fuzzers: it returns the first
// tag start in out — "<" followed by a letter, "/", "!" or "?" — that is
// not in in, or "" when out creates no markup.
func newMarkup(in, out string) string {
	for i := 0; i < len(out); i++ {
		if out[i] != '<' {
			continue
		}
		r, _ := utf8.DecodeRuneInString(out[i+1:])
		if !unicode.IsLetter(r) && r != '/' && r != '!' && r != '?' {
			continue
		}
		if p := "<" + string(r); !strings.Contains(in, p) {
			return p
		}
	}
	return ""
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"hi", "<b>x</b>", "\x00\xff", "a\u202e", strings.Repeat("x", 50)} {
		f.Add(s)
	}
	for _, s := range hostile {
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
			if unicode.IsControl(r) && r != '\n' && r != '\t' || unicode.Is(unicode.Cf, r) {
				t.Fatalf("control or format character %U left in %q", r, out)
			}
		}
		if len(out) > 3*len(s) { // U+FFFD is 3 bytes for 1 invalid byte
			t.Fatalf("output grew from %d to %d bytes", len(s), len(out))
		}
		if p := newMarkup(s, out); p != "" {
			t.Fatalf("Sanitize(%q) = %q: %q is new markup", s, out, p)
		}
		if again, changed := Sanitize(out); changed || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
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
