package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/switch/media"
)

// TestQueuedCallerHearsGreetingOverRTP: a caller queued at the live switch
// (no agent is logged in) receives PCMU: payload type 0, 160-byte frames,
// contiguous sequence numbers, timestamps +160 per packet, never faster
// than 50 packets/s, and the audio is the greeting from its first frame.
func TestQueuedCallerHearsGreetingOverRTP(t *testing.T) {
	lc := startCenter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := newGoPhone(t, ctx)
	caller.call(t, ctx, lc, "5000")
	rtpConn := caller.rtp

	greeting := media.Greeting()
	const n = 100
	var first time.Time
	var prev rtp.Packet
	buf := make([]byte, 1500)
	for i := 0; i < n; i++ {
		_ = rtpConn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := rtpConn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		var pkt rtp.Packet
		if err := pkt.Unmarshal(buf[:k]); err != nil {
			t.Fatalf("packet %d is not RTP: %v", i, err)
		}
		switch {
		case pkt.PayloadType != 0:
			t.Fatalf("packet %d: payload type %d, want 0 (PCMU)", i, pkt.PayloadType)
		case len(pkt.Payload) != 160:
			t.Fatalf("packet %d: %d payload bytes, want 160", i, len(pkt.Payload))
		case !bytes.Equal(pkt.Payload, greeting.Frame(i)):
			t.Fatalf("packet %d is not frame %d of the greeting", i, i)
		}
		if i == 0 {
			first = time.Now()
			if !pkt.Marker {
				t.Error("first packet without the marker bit")
			}
		} else {
			if pkt.SSRC != prev.SSRC {
				t.Fatalf("packet %d: SSRC changed", i)
			}
			if pkt.SequenceNumber != prev.SequenceNumber+1 {
				t.Fatalf("packet %d: sequence %d after %d", i, pkt.SequenceNumber, prev.SequenceNumber)
			}
			if pkt.Timestamp != prev.Timestamp+160 {
				t.Fatalf("packet %d: timestamp %d after %d, want +160", i, pkt.Timestamp, prev.Timestamp)
			}
		}
		prev = pkt
	}
	// 99 intervals of 20 ms: never faster than 50 packets/s (a lower bound
	// only; a loaded machine may be slower).
	if took := time.Since(first); took < 99*20*time.Millisecond-50*time.Millisecond {
		t.Fatalf("%d packets in %v: faster than 50 packets/s", n, took)
	}
}
