package sipmsg

import (
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ccswitch/ccswitch/imgw"
)

func TestParseSIPUserAgent(t *testing.T) {
	for _, tc := range []struct{ ua, family, version, os string }{
		{"baresip v3.10.0 (x86_64/linux)", "baresip", "3.10.0", "linux"},
		{"Linphone/5.2.0 (belle-sip/5.2.0)", "Linphone", "5.2.0", "5.2.0"},
		{"sipp", "sipp", "", ""},
		{"MicroSIP/3.21.3", "MicroSIP", "3.21.3", ""},
		{"Zoiper rv2.10.20.2", "Zoiper", "rv2.10.20.2", ""},
		{"", "", "", ""},
	} {
		got := ParseSIPUserAgent(tc.ua)
		if got.Family != tc.family || got.Version != tc.version || got.OS != tc.os || got.Source != "sip-user-agent" {
			t.Errorf("%q: %+v", tc.ua, got)
		}
	}
}

func TestIsComposingState(t *testing.T) {
	for doc, want := range map[string]imgw.ChatState{
		`<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`: imgw.StateComposing,
		`<isComposing><state>idle</state></isComposing>`:                                                 imgw.StatePaused,
		`garbage`: imgw.StateActive,
	} {
		if got := isComposingState(doc); got != want {
			t.Errorf("%s: %v, want %v", doc, got, want)
		}
	}
}

// A line too long for one MESSAGE over UDP reaches a SIP customer in
// several, in order, each under RFC 3428's bound (sipgo refused the whole
// datagram, and the line bounced).
func TestLongLineToCustomerIsSplit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		customers := &customerRecorder{}
		var msgs *Messages
		h := start(t, func(h *harness) { msgs = h.messages("support", customers) })
		defer h.stop()
		carol := h.phone("127.0.0.1:7002")
		if res := write(carol, "carol", "hello", 1); res.StatusCode != 200 {
			t.Fatalf("carol's MESSAGE: %d", res.StatusCode)
		}
		synctest.Wait()
		customers.mu.Lock()
		from := customers.ins[0].From
		customers.mu.Unlock()

		var words []string
		for i := range 400 {
			words = append(words, "word"+strconv.Itoa(i))
		}
		long := "Ann: " + strings.Join(words, " ")
		msgs.Send(imgw.Outbound{To: from, Text: long, ID: "o1"})
		var parts []string
		for joined := ""; joined != long; joined = strings.Join(parts, " ") {
			if len(parts) > 10 {
				t.Fatalf("parts %q do not make the line", parts)
			}
			m := messages(carol, 1)[0]
			if n := len(m.Body()); n > maxMessageBody {
				t.Fatalf("a part of %d bytes", n)
			}
			parts = append(parts, string(m.Body()))
		}
		if len(parts) < 2 {
			t.Fatalf("a %d-byte line went in one MESSAGE", len(long))
		}
	})
}
