// Package doctest keeps generated blocks of documentation (state diagrams
// drawn by looplab/fsm, example outputs) equal to what the code produces:
// tests compare them and rewrite them when run with -update.
package doctest

import (
	"os"
	"strings"
	"testing"
)

// CheckBlock compares the fenced block between the markers
// "<!-- begin NAME -->" and "<!-- end NAME -->" in file with content in a
// block of the given language, and rewrites it when update is set.
func CheckBlock(t testing.TB, file, name, lang, content string, update bool) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- begin "+name+" -->\n", "<!-- end "+name+" -->"
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q markers", file, begin, end)
	}
	block := "```" + lang + "\n" + strings.TrimRight(content, "\n") + "\n```\n"
	if text[i+len(begin):j] == block {
		return
	}
	if !update {
		t.Fatalf("%s: the %s block is out of date; run go test -update", file, name)
	}
	text = text[:i+len(begin)] + block + text[j:]
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
