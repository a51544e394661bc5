package sipgw

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	pbx "github.com/ccswitch/ccswitch/switch"
)

func TestStatusOfMapsEveryKind(t *testing.T) {
	tests := []struct {
		kind pbx.Kind
		want int
	}{
		{pbx.Invalid, sip.StatusBadRequest},
		{pbx.NotFound, sip.StatusNotFound},
		{pbx.Busy, sip.StatusBusyHere},
		{pbx.Unavailable, sip.StatusTemporarilyUnavailable},
		{pbx.Conflict, 409},
		{pbx.Permission, sip.StatusForbidden},
		{pbx.Internal, sip.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got, _ := statusOf(pbx.Errorf(tt.kind, "x")); got != tt.want {
			t.Errorf("%v -> %d, want %d", tt.kind, got, tt.want)
		}
	}
}

func TestRateLimiterPerSource(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(10, 20, func() time.Time { return now })
	allowed := 0
	for i := 0; i < 100; i++ {
		if l.allow("127.0.0.2") {
			allowed++
		}
	}
	if allowed != 20 {
		t.Fatalf("burst: %d allowed, want 20", allowed)
	}
	if !l.allow("127.0.0.1") {
		t.Fatal("another source was limited by the first one's flood")
	}
	now = now.Add(500 * time.Millisecond) // 5 tokens back
	allowed = 0
	for i := 0; i < 100; i++ {
		if l.allow("127.0.0.2") {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("after 0.5 s: %d allowed, want 5", allowed)
	}
	now = now.Add(2 * time.Minute)
	l.allow("127.0.0.3") // sweeps idle sources
	if _, ok := l.buckets["127.0.0.2"]; ok {
		t.Fatal("idle source not forgotten")
	}
}

func TestMirrorAndReferTo(t *testing.T) {
	for in, want := range map[string]string{"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive", "sendrecv": "sendrecv", "": "sendrecv"} {
		if got := mirror(in); got != want {
			t.Errorf("mirror(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"<sip:6001@127.0.0.1:5060>":             "sip:6001@127.0.0.1:5060",
		"Billing <sip:6001@host>;method=INVITE": "sip:6001@host",
		"sip:6001@host":                         "sip:6001@host",
	} {
		if got := trimAngle(in); got != want {
			t.Errorf("trimAngle(%q) = %q, want %q", in, got, want)
		}
	}
}
