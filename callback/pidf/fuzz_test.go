package pidf

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, returns within its bounds, and what it
// reads survives the round trip through Marshal (the same document, the
// same show).
func FuzzParse(f *testing.F) {
	for _, s := range []string{baresipOpen, linphoneAway, briaOnThePhone, xliteAway, xliteOnThePhone,
		doc(tuple("open") + `<dm:person id="p"><rpid:user-input last-input="2026-12-02T08:10:00Z" idle-threshold="600">idle</rpid:user-input></dm:person>`),
		doc(tuple("maybe")), doc(`<note>Busy</note>`), `<!DOCTYPE x>` + doc(""), "<presence", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		d, err := Parse(b)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Parse took %v on %d bytes", elapsed, len(b))
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pidf: ") {
				t.Errorf("error without the package's prefix: %v", err)
			}
			return
		}
		if len(b) > MaxSize || len(d.Tuples) > MaxElements || len(d.Persons) > MaxElements || len(d.Devices) > MaxElements {
			t.Fatalf("past the bounds: %d bytes, %d tuples, %d persons, %d devices", len(b), len(d.Tuples), len(d.Persons), len(d.Devices))
		}
		out := d.Marshal()
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(d)): %v\n%s", err, out)
		}
		if again := d2.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("Marshal not stable through Parse:\n%s\n%s", out, again)
		}
		s1, i1 := d.Show(at)
		s2, i2 := d2.Show(at)
		if s1 != s2 || !i1.Equal(i2) {
			t.Fatalf("the round trip changed the show: %s %v -> %s %v", s1, i1, s2, i2)
		}
	})
}
