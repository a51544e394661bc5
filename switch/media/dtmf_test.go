package media

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/pion/rtp"
)

// receiverRig runs a DTMFReceiver on an in-memory socket, inside a
// synctest bubble, with a caller and a stranger sending to it.
type receiverRig struct {
	t                *testing.T
	rx               *DTMFReceiver
	caller, stranger *memConn
	to               memAddr
	seq              uint16

	mu     sync.Mutex
	digits []rune
	stop   func()
	done   chan error
}

func newReceiverRig(t *testing.T, cfg DTMFConfig) *receiverRig {
	n := newMemNet()
	conn := n.listen("switch:20000")
	r := &receiverRig{t: t, caller: n.listen("caller:4000"), stranger: n.listen("stranger:4000"), to: "switch:20000", done: make(chan error, 1)}
	r.rx = NewDTMFReceiver(conn, memAddr("caller:4000"), cfg)
	ctx, cancel := context.WithCancel(t.Context())
	r.stop = cancel
	go func() {
		r.done <- r.rx.Run(ctx, func(d rune) {
			r.mu.Lock()
			r.digits = append(r.digits, d)
			r.mu.Unlock()
		})
	}()
	return r
}

// send writes raw bytes from conn.
func (r *receiverRig) send(from *memConn, b []byte) {
	if _, err := from.WriteTo(b, r.to); err != nil {
		r.t.Fatal(err)
	}
}

// rtp writes an RTP packet from conn.
func (r *receiverRig) rtp(from *memConn, pt uint8, ts uint32, payload []byte) {
	r.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: r.seq, Timestamp: ts, SSRC: 7}, Payload: payload}).Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	r.send(from, b)
}

// audio sends audio in 20 ms packets from the caller.
func (r *receiverRig) audio(codec Codec, audio []byte) {
	for ts := uint32(0); len(audio) > 0; ts += FrameSize {
		n := min(FrameSize, len(audio))
		r.rtp(r.caller, codec.PayloadType(), ts, audio[:n])
		audio = audio[n:]
	}
}

// finish stops the receiver and returns the digits it reported.
func (r *receiverRig) finish() string {
	synctest.Wait()
	r.stop()
	if err := <-r.done; err != nil {
		r.t.Fatalf("Run: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.digits)
}

func telephoneEvents(ts uint32, event uint8) [][]byte {
	var out [][]byte
	for _, p := range press(ts, event, 4) {
		out = append(out, p.e.Append(nil))
	}
	return out
}

// garbage sends what a receiver must drop: datagrams that are not RTP,
// RTCP, RTP of version 1 and of payload types not negotiated, and a
// stranger's key presses, both as events and as tones.
func (r *receiverRig) garbage(eventPT uint8) {
	r.send(r.caller, nil)
	r.send(r.caller, []byte{0x80})
	r.send(r.caller, []byte("INVITE sip:nobody SIP/2.0\r\n\r\n"))
	r.send(r.caller, []byte{0x80, 200, 0, 6, 0, 0, 0, 7, 1, 2, 3, 4}) // RTCP sender report
	r.send(r.caller, []byte{0x40, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 10, 0, 0})
	r.rtp(r.caller, 13, 0, []byte{1, 10, 0, 0}) // comfort noise
	r.rtp(r.caller, 96, 0, []byte{1, 10, 0, 0}) // a payload type not negotiated
	r.rtp(r.caller, eventPT, 5, []byte{1, 10})  // a truncated event
	for _, p := range telephoneEvents(9000, 3) {
		r.rtp(r.stranger, eventPT, 9000, p)
	}
	tone := signal{}.key(r.t, '3', 100, -10, 0).encode(PCMU)
	for i := 0; i < len(tone); i += FrameSize {
		r.rtp(r.stranger, 0, uint32(i), tone[i:i+FrameSize])
	}
}

func TestDTMFReceiverTelephoneEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReceiverRig(t, DTMFConfig{Codec: PCMU, Events: true, EventPT: 101})
		r.garbage(101)
		// The caller's audio carries a tone too: with events negotiated
		// only the events count.
		r.audio(PCMU, signal{}.key(t, '9', 100, -10, 0).encode(PCMU))
		for _, ts := range []uint32{16000, 32000} {
			for _, p := range telephoneEvents(ts, 1) {
				r.rtp(r.caller, 101, ts, p)
			}
		}
		if got := r.finish(); got != "11" {
			t.Fatalf("digits %q, want \"11\" (two presses, each once)", got)
		}
		st := r.rx.Stats()
		if st.Digits != 2 || st.Events != 14 || st.Audio != 5 {
			t.Errorf("stats %+v, want 2 digits from 14 events, 5 audio packets", st)
		}
		if st.Dropped != 8+7+5 {
			t.Errorf("dropped %d, want the 20 garbage and stranger's packets", st.Dropped)
		}
	})
}

func TestDTMFReceiverInBand(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newReceiverRig(t, DTMFConfig{Codec: codec})
				r.garbage(101)
				r.audio(codec, signal{}.silence(100).key(t, '1', 80, -12, 0).silence(100).encode(codec))
				if got := r.finish(); got != "1" {
					t.Fatalf("digits %q, want \"1\"", got)
				}
			})
		})
	}
}

func TestDTMFReceiverGarbageChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReceiverRig(t, DTMFConfig{Codec: PCMU, Events: true, EventPT: 101})
		r.garbage(101)
		if got := r.finish(); got != "" {
			t.Fatalf("digits %q from garbage", got)
		}
	})
}

// Run gives the socket back: its read deadline is cleared, so a Relay can
// read it next.
func TestDTMFReceiverReleasesTheSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		conn := n.listen("switch:20000")
		caller := n.listen("caller:4000")
		ctx, cancel := context.WithCancel(t.Context())
		rx := NewDTMFReceiver(conn, nil, DTMFConfig{Codec: PCMU})
		done := make(chan error, 1)
		go func() { done <- rx.Run(ctx, func(rune) {}) }()
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := caller.WriteTo([]byte("after"), memAddr("switch:20000")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		n2, _, err := conn.ReadFrom(buf)
		if err != nil || string(buf[:n2]) != "after" {
			t.Fatalf("read after Run: %q %v", buf[:n2], err)
		}
		_ = conn.Close()
		if err := NewDTMFReceiver(conn, nil, DTMFConfig{}).Run(t.Context(), func(rune) {}); err == nil {
			t.Fatal("Run on a closed socket: no error")
		}
	})
}
