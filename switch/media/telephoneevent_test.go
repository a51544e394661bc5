package media

import (
	"encoding/hex"
	"testing"
)

// sippDigit1 is the telephone-event payloads of SIPp's
// pcap/dtmf_2833_1.pcap (Debian /usr/share/sip-tester): a "1" at volume
// 10 updated every 20 ms, then its end sent three times, all with the RTP
// timestamp 13280.
var sippDigit1 = []string{"010a0000", "010a0140", "010a0280", "010a03c0", "010a0500", "010a0640", "010a0780", "018a08c0", "018a08c0", "018a08c0"}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTelephoneEvent(t *testing.T) {
	tests := []struct {
		payload string
		want    TelephoneEvent
	}{
		{"010a0000", TelephoneEvent{Event: 1, Volume: 10}},
		{"018a08c0", TelephoneEvent{Event: 1, End: true, Volume: 10, Duration: 2240}},
		{"0bff ffff", TelephoneEvent{Event: 11, End: true, Volume: 63, Duration: 0xFFFF}}, // R bit set: ignored
		{"10000320 dead", TelephoneEvent{Event: EventFlash, Duration: 800}},               // bytes after the fourth ignored
		{"0f4a0000", TelephoneEvent{Event: 15, Volume: 10}},                               // R bit alone
	}
	for _, tt := range tests {
		b := mustHex(t, stripSpaces(tt.payload))
		got, err := ParseTelephoneEvent(b)
		if err != nil {
			t.Errorf("%s: %v", tt.payload, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.payload, got, tt.want)
		}
	}
	for _, short := range []string{"", "01", "010a00"} {
		if _, err := ParseTelephoneEvent(mustHex(t, short)); err == nil {
			t.Errorf("%q: no error for a short payload", short)
		}
	}
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestEventDigit(t *testing.T) {
	const keys = "0123456789*#ABCD"
	for e := range 256 {
		d, ok := EventDigit(uint8(e))
		if e < len(keys) {
			if !ok || d != rune(keys[e]) {
				t.Errorf("event %d: %q %v, want %q", e, d, ok, keys[e])
			}
			if back, ok := DigitEvent(d); !ok || back != uint8(e) {
				t.Errorf("DigitEvent(%q) = %d %v, want %d", d, back, ok, e)
			}
			continue
		}
		if ok {
			t.Errorf("event %d is not a digit, got %q", e, d)
		}
	}
	if _, ok := DigitEvent('x'); ok {
		t.Error("DigitEvent('x') is a digit")
	}
}

// pkt is one telephone-event packet as the receiver sees it.
type pkt struct {
	ts uint32
	e  TelephoneEvent
}

// press returns the packets of one key press from timestamp ts lasting
// frames 20 ms updates, with the end sent three times.
func press(ts uint32, event uint8, frames int) []pkt {
	var ps []pkt
	for i := range frames {
		ps = append(ps, pkt{ts, TelephoneEvent{Event: event, Volume: 10, Duration: uint16(i * FrameSize)}})
	}
	end := pkt{ts, TelephoneEvent{Event: event, End: true, Volume: 10, Duration: uint16(frames * FrameSize)}}
	return append(ps, end, end, end)
}

func receiveAll(t *testing.T, r *EventReceiver, ps []pkt) string {
	t.Helper()
	var got []rune
	for _, p := range ps {
		d, ok, err := r.Receive(p.ts, p.e.Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, d)
		}
	}
	return string(got)
}

func TestEventReceiverReportsEachPressOnce(t *testing.T) {
	var sipp []pkt
	for _, h := range sippDigit1 {
		e, err := ParseTelephoneEvent(mustHex(t, h))
		if err != nil {
			t.Fatal(err)
		}
		sipp = append(sipp, pkt{13280, e})
	}
	concat := func(lists ...[]pkt) []pkt {
		var out []pkt
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	// A long press cut into segments (RFC 4733 §2.5.1.3): 0xFFFF, then
	// the rest on a new timestamp.
	long := concat(
		[]pkt{{1000, TelephoneEvent{Event: 5, Duration: 0}}, {1000, TelephoneEvent{Event: 5, Duration: 0xFFFF}}},
		press(1000+0xFFFF, 5, 10),
	)
	tests := []struct {
		name string
		in   []pkt
		want string
	}{
		{"sipp dtmf_2833_1.pcap", sipp, "1"},
		{"a press with its redundant ends", press(160, 1, 5), "1"},
		{"only the end packets arrived", press(160, 1, 5)[5:], "1"},
		{"two keys", concat(press(160, 1, 5), press(3200, 2, 5)), "12"},
		{"the same key twice", concat(press(160, 9, 5), press(3200, 9, 5)), "99"},
		{"all sixteen keys and flash", concat(press(0, 0, 2), press(1e3, 1, 2), press(2e3, 2, 2), press(3e3, 3, 2),
			press(4e3, 4, 2), press(5e3, 5, 2), press(6e3, 6, 2), press(7e3, 7, 2), press(8e3, 8, 2), press(9e3, 9, 2),
			press(10e3, 10, 2), press(11e3, 11, 2), press(12e3, 12, 2), press(13e3, 13, 2), press(14e3, 14, 2),
			press(15e3, 16, 2), press(16e3, 15, 2)), "0123456789*#ABCD"},
		{"a late packet of the previous press", concat(press(160, 1, 3), press(3200, 2, 3), press(160, 1, 1)), "12"},
		{"timestamps wrap", concat(press(0xFFFFFF00, 3, 3), press(0x100, 4, 3)), "34"},
		{"a long press in segments", long, "5"},
		{"a new press of the same key after a short unended one", concat(press(160, 7, 3)[:3], press(3200, 7, 3)), "77"},
	}
	for _, tt := range tests {
		var r EventReceiver
		if got := receiveAll(t, &r, tt.in); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEventReceiverMalformedChangesNothing(t *testing.T) {
	var r EventReceiver
	if got := receiveAll(t, &r, press(160, 1, 2)); got != "1" {
		t.Fatalf("got %q", got)
	}
	before := r
	if _, ok, err := r.Receive(9999, []byte{2, 0}); err == nil || ok {
		t.Fatalf("short payload: ok %v err %v, want an error", ok, err)
	}
	if r != before {
		t.Fatalf("a malformed packet changed the receiver: %+v -> %+v", before, r)
	}
}

func FuzzParseTelephoneEvent(f *testing.F) {
	for _, h := range sippDigit1 {
		f.Add(uint32(13280), mustHex(f, h))
	}
	f.Add(uint32(0), []byte{})
	f.Add(uint32(1), []byte{0xff, 0xff, 0xff, 0xff, 0xff})
	var r EventReceiver
	f.Fuzz(func(t *testing.T, ts uint32, b []byte) {
		e, err := ParseTelephoneEvent(b)
		if len(b) < TelephoneEventSize {
			if err == nil {
				t.Fatalf("%x: no error for %d bytes", b, len(b))
			}
			return
		}
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if e.Volume > 63 {
			t.Fatalf("%x: volume %d", b, e.Volume)
		}
		// Append gives back the payload, less the reserved bit.
		again := e.Append(nil)
		want := append([]byte(nil), b[:4]...)
		want[1] &^= 0x40
		if string(again) != string(want) {
			t.Fatalf("%x: Append gives %x, want %x", b, again, want)
		}
		d, ok, err := r.Receive(ts, b)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if _, isDigit := DigitEvent(d); !isDigit {
				t.Fatalf("reported %q, not a digit", d)
			}
		}
	})
}
