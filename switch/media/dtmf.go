package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// DTMFConfig says how the digits of one RTP stream arrive.
type DTMFConfig struct {
	// Codec is the stream's audio codec (PCMU or PCMA), decoded for
	// in-band detection.
	Codec Codec
	// Events: telephone-events (RFC 4733) were negotiated on payload
	// type EventPT. Digits are then read from those packets only; without
	// them, from tones in the audio (in-band).
	Events  bool
	EventPT uint8
}

// DTMFStats counts what a DTMFReceiver read.
type DTMFStats struct {
	Audio   uint64 // audio packets (of the codec's payload type)
	Events  uint64 // telephone-event packets
	Digits  uint64 // digits reported
	Dropped uint64 // not RTP, RTCP, from another address, another payload type, a malformed event
}

// A DTMFReceiver reads the RTP a caller sends while the switch plays to it
// (a Player writes on the same socket; they do not interfere) and reports
// the caller's keypad digits: from telephone-event packets (an
// EventReceiver) when they were negotiated, else from the audio (a
// DTMFDetector). Only RTP from the caller's address counts; RTCP, other
// datagrams and other payload types are dropped.
//
// It is the socket's only reader while it runs: a Relay that takes over
// the socket must start after Run has returned.
type DTMFReceiver struct {
	conn net.PacketConn
	from string // the caller's address; "" takes any source
	cfg  DTMFConfig

	mu    sync.Mutex
	stats DTMFStats
}

// NewDTMFReceiver returns a receiver of the digits sent to conn from the
// address from (nil: from anyone).
func NewDTMFReceiver(conn net.PacketConn, from net.Addr, cfg DTMFConfig) *DTMFReceiver {
	return &DTMFReceiver{conn: conn, from: addrString(from), cfg: cfg}
}

// Stats returns the receiver's counts.
func (r *DTMFReceiver) Stats() DTMFStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run reads the socket until ctx ends and calls digit with each digit
// ('0'-'9', '*', '#', 'A'-'D') on Run's goroutine, in order: digit must
// not block. Run returns nil when ctx ends, or an error if the socket
// fails (is closed). It takes over the socket's read deadline and clears
// it when it returns; the socket stays open. Call Run once.
func (r *DTMFReceiver) Run(ctx context.Context, digit func(rune)) error {
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		_ = r.conn.SetReadDeadline(aLongTimeAgo)
	})
	defer func() {
		if !stopWake() {
			<-woken
		}
		_ = r.conn.SetReadDeadline(time.Time{})
	}()
	var (
		events   EventReceiver
		detector = NewDTMFDetector(r.cfg.Codec)
		buf      = make([]byte, maxPayload)
		found    []rune
		p        rtp.Packet
	)
	for {
		n, src, err := r.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("media: dtmf: read: %w", err)
		}
		b := buf[:n]
		if len(b) < 2 || b[1] >= 192 && b[1] <= 223 || p.Unmarshal(b) != nil || p.Version != 2 ||
			r.from != "" && src.String() != r.from {
			r.count(func(s *DTMFStats) { s.Dropped++ })
			continue
		}
		found = found[:0]
		switch {
		case r.cfg.Events && p.PayloadType == r.cfg.EventPT:
			d, ok, err := events.Receive(p.Timestamp, p.Payload)
			if err != nil {
				r.count(func(s *DTMFStats) { s.Dropped++ })
				continue
			}
			if ok {
				found = append(found, d)
			}
			r.count(func(s *DTMFStats) { s.Events++ })
		case p.PayloadType == r.cfg.Codec.PayloadType():
			if !r.cfg.Events {
				found = detector.Detect(found, p.Payload)
			}
			r.count(func(s *DTMFStats) { s.Audio++ })
		default:
			r.count(func(s *DTMFStats) { s.Dropped++ })
			continue
		}
		for _, d := range found {
			r.count(func(s *DTMFStats) { s.Digits++ })
			digit(d)
		}
	}
}

func (r *DTMFReceiver) count(f func(*DTMFStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}
