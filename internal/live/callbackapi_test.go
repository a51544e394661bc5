package live

import (
	"errors"
	"testing"
)

// FuzzDecodeCallback: whatever the body, decodeCallback either gives a
// request the scheduler can take (a queue, a number or a customer, a
// valid mode) or an errBadCallback whose message stays short (what the
// client sent is cut before it is echoed).
func FuzzDecodeCallback(f *testing.F) {
	for _, seed := range []string{
		`{"queue":"support","number":"+15550100"}`,
		`{"queue":"support","customer":"C1001","at":"2026-12-02T15:04:05+01:00","mode":"customer_first"}`,
		`{"queue":"support"}`, `{"queue":1}`, `[]`, `null`, `{}{}`, ``, `{"queue":"q","number":"123","x":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeCallback(body)
		if err != nil {
			if !errors.Is(err, errBadCallback) {
				t.Fatalf("error %v is not errBadCallback", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes: the input is echoed whole", len(err.Error()))
			}
			return
		}
		if r.Queue == "" || (r.Number == "") == (r.Customer == "") || !r.Mode.Valid() {
			t.Fatalf("accepted %+v from %q", r, body)
		}
		if r.Number != "" && !phoneNumber(r.Number) {
			t.Fatalf("accepted number %q", r.Number)
		}
	})
}
