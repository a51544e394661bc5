package sipmsg

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ccswitch/ccswitch/imgw"
)

// newMarkup is imgw's test oracle (imgw/sanitize_test.go): the first tag
// start in out — "<" followed by a letter, "/", "!" or "?" — that is not
// in in, or "".
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

// FuzzNoNewMarkup: what the SIP side does to a chat line on its way to a
// phone — cutting a long line into several MESSAGEs (split, for agents'
// and customers' phones alike), clipping history lines (clip), tagging
// lines with the chat's number and the writer's name — never creates
// markup: every part holds only tag starts its text or name had.
func FuzzNoNewMarkup(f *testing.F) {
	for _, s := range []string{
		"<<b>img src=x onerror=alert(1)>",
		"<scr<script>ipt>alert(1)</script>",
		"&lt;img src=x onerror=alert(1)&gt;",
		strings.Repeat("a ", 500) + "<" + strings.Repeat(" ", 10) + "img",
		strings.Repeat("x", 797) + "<img>" + strings.Repeat("y", 900),
		strings.Repeat("é", 400) + "<\xffimg",
	} {
		f.Add(s, "Alice <Example>", uint16(40))
	}
	f.Fuzz(func(t *testing.T, s, name string, size uint16) {
		in := s + "\n" + name
		check := func(what, out string) {
			t.Helper()
			if p := newMarkup(in, out); p != "" {
				t.Fatalf("%s of %q (name %q) = %q: %q is new markup", what, s, name, out, p)
			}
		}
		for _, part := range split(s, int(size)) {
			check("split", part)
		}
		for _, part := range split(s, maxMessageBody) {
			check("split", part)
		}
		check("clip", clip(s, len("…")+int(size)%200)) // clip is called with limits above the ellipsis
		check("tag", tag(3, name))
		for _, from := range []string{"customer", "agent", "system"} {
			for _, part := range lineTexts(3, imgw.AgentChat{From: from, Name: name, Text: s}) {
				check("lineTexts", part)
			}
		}
		check("historyText", historyText(3, imgw.AgentChat{Name: name, Lines: []imgw.Line{
			{From: "customer", Text: s}, {From: "bot", Text: s}, {From: "agent", Text: name},
		}}))
	})
}
