package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// A Leg is one side of a relayed call: the switch's own RTP socket for it,
// and the address the peer signalled in its SDP (nil if unknown yet).
type Leg struct {
	Conn   net.PacketConn
	Remote net.Addr
}

// RelayStats counts a relay's packets.
type RelayStats struct {
	AToB, BToA uint64 // packets relayed each way
	Dropped    uint64 // not RTP, RTCP, from a stranger, or with nowhere to go
}

// A Relay anchors the media of two legs in the switch: each party sends its
// RTP to the switch and receives the other party's audio from the switch,
// so neither ever sees the other's address or SSRC (DESIGN.md, privacy by
// construction).
//
// A packet received on leg A's socket goes out of leg B's socket to B's
// remote, and vice versa, rewritten as one contiguous stream per direction:
// the relay's own SSRC, and sequence numbers and timestamps shifted so they
// continue where the outgoing stream stands. Payload type, marker and
// payload are kept; CSRCs, header extensions and padding are not. When the
// sending party changes its SSRC, the outgoing stream still continues (next
// sequence number, timestamp advanced by the time elapsed) and the marker is
// set. Gaps and reordering within one source are preserved. RTCP is not
// relayed.
//
// Symmetric RTP (RFC 4961): the first RTP packet received on a leg's socket
// fixes that leg's remote address, whatever was signalled, so a peer behind
// NAT is reached where it really sends from; later packets from any other
// address are dropped.
type Relay struct {
	legs [2]Leg

	mu      sync.Mutex
	remote  [2]net.Addr
	latched [2]bool
	out     [2]outStream // out[i] is the stream sent to leg i
	stats   RelayStats

	// heard[i] is when leg i last sent an RTP packet the relay accepted
	// (Unix nanoseconds), or when the relay was made: read without the
	// lock by a watchdog, written once per packet.
	heard [2]atomic.Int64
}

// outStream is the state of one outgoing, rewritten stream.
type outStream struct {
	next    Stream // header of the next packet if the source changes now
	sent    bool   // a packet has gone out
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time

	mapped  bool   // a source is mapped
	srcSSRC uint32 // the mapped source
	seqOff  uint16 // out = in + off
	tsOff   uint32
}

// NewRelay returns a relay between legs a and b. Each leg may have its own
// socket, or both may share one (the switch then spends one socket per
// call): packets are told apart by their source, those from A's signalled
// address going to B and those from B's to A; a shared socket needs both
// remotes signalled and does not learn addresses.
// The streams it sends start with a random SSRC, sequence number and
// timestamp, unless ContinueA or ContinueB says otherwise.
func NewRelay(a, b Leg) *Relay {
	r := &Relay{legs: [2]Leg{a, b}, remote: [2]net.Addr{a.Remote, b.Remote}}
	now := time.Now().UnixNano()
	for i := range r.out {
		r.out[i].next = Stream{SSRC: rand.Uint32(), Seq: uint16(rand.Uint32()), TS: rand.Uint32()}
		r.heard[i].Store(now)
	}
	return r
}

// ContinueA makes the stream the relay sends to leg A continue s: same SSRC,
// s.Seq and s.TS on its first packet. Pass the Player's Next() when the
// relay takes over from a Player on the same socket, so A's phone sees one
// unbroken stream. Call it before Run.
func (r *Relay) ContinueA(s Stream) { r.continueStream(0, s) }

// ContinueB is ContinueA for leg B.
func (r *Relay) ContinueB(s Stream) { r.continueStream(1, s) }

func (r *Relay) continueStream(i int, s Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[i] = outStream{next: s}
}

// NextA returns the SSRC, sequence number and timestamp the stream to leg A
// would carry next, for a Player that takes over after the relay stops.
func (r *Relay) NextA() Stream { return r.nextOf(0) }

// NextB is NextA for leg B.
func (r *Relay) NextB() Stream { return r.nextOf(1) }

func (r *Relay) nextOf(i int) Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &r.out[i]
	if !o.sent {
		return o.next
	}
	return Stream{SSRC: o.next.SSRC, Seq: o.lastSeq + 1, TS: o.lastTS + FrameSize}
}

// Remotes returns the addresses the relay sends to: the signalled ones, or
// the learned ones once a leg has sent.
func (r *Relay) Remotes() (a, b net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remote[0], r.remote[1]
}

// LastHeard returns when each leg last sent an RTP packet the relay
// accepted (from its remote, whether or not it could be forwarded), or
// when the relay was made if that leg has sent nothing since. It costs
// two atomic loads: a watchdog may call it often, without the relay's
// lock.
func (r *Relay) LastHeard() (a, b time.Time) {
	return time.Unix(0, r.heard[0].Load()), time.Unix(0, r.heard[1].Load())
}

// Stats returns the relay's packet counts.
func (r *Relay) Stats() RelayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// aLongTimeAgo is a read deadline in the past, to wake blocked reads.
var aLongTimeAgo = time.Unix(1, 0)

// Run relays packets both ways until ctx ends, then returns nil. It returns
// an error if a socket fails (for example, is closed), and then stops both
// directions. Run takes over the sockets' read deadlines and clears them
// when it returns; the sockets stay open and belong to the caller.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		for _, l := range r.legs {
			_ = l.Conn.SetReadDeadline(aLongTimeAgo) // a closed socket wakes its reader anyway
		}
	})

	var wg sync.WaitGroup
	var errs [2]error
	if r.legs[0].Conn == r.legs[1].Conn {
		wg.Go(func() {
			if err := r.pumpShared(ctx); err != nil {
				errs[0] = err
			}
		})
	} else {
		for from := range 2 {
			wg.Go(func() {
				if err := r.pump(ctx, from); err != nil {
					errs[from] = err
					cancel()
				}
			})
		}
	}
	wg.Wait()
	if !stopWake() {
		<-woken
	}
	for _, l := range r.legs {
		_ = l.Conn.SetReadDeadline(time.Time{})
	}
	return errors.Join(errs[0], errs[1])
}

// pump relays what arrives on leg from to the other leg until ctx ends.
func (r *Relay) pump(ctx context.Context, from int) error {
	to := 1 - from
	in := make([]byte, maxPayload)
	out := make([]byte, maxPayload)
	name := [2]string{"a", "b"}
	for {
		n, src, err := r.legs[from].Conn.ReadFrom(in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("media: relay: read leg %s: %w", name[from], err)
		}
		m, dst := r.rewrite(from, to, in[:n], src, out)
		if m == 0 {
			continue
		}
		if _, err := r.legs[to].Conn.WriteTo(out[:m], dst); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("media: relay: write leg %s: %w", name[to], err)
			}
			r.count(func(s *RelayStats) { s.Dropped++ })
			continue
		}
		r.count(func(s *RelayStats) {
			if from == 0 {
				s.AToB++
			} else {
				s.BToA++
			}
		})
	}
}

// pumpShared relays both ways over the one socket both legs share, until
// ctx ends.
func (r *Relay) pumpShared(ctx context.Context) error {
	conn := r.legs[0].Conn
	in := make([]byte, maxPayload)
	out := make([]byte, maxPayload)
	a, b := addrString(r.legs[0].Remote), addrString(r.legs[1].Remote)
	for {
		n, src, err := conn.ReadFrom(in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("media: relay: read shared socket: %w", err)
		}
		from := -1
		switch src.String() {
		case a:
			from = 0
		case b:
			from = 1
		}
		if from < 0 {
			r.count(func(s *RelayStats) { s.Dropped++ })
			continue
		}
		m, dst := r.rewrite(from, 1-from, in[:n], src, out)
		if m == 0 {
			continue
		}
		if _, err := conn.WriteTo(out[:m], dst); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("media: relay: write shared socket: %w", err)
			}
			r.count(func(s *RelayStats) { s.Dropped++ })
			continue
		}
		r.count(func(s *RelayStats) {
			if from == 0 {
				s.AToB++
			} else {
				s.BToA++
			}
		})
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func (r *Relay) count(f func(*RelayStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

// rewrite turns a datagram from leg from into the packet for leg to, in out.
// It returns the packet's length and destination, or 0 to drop it.
func (r *Relay) rewrite(from, to int, b []byte, src net.Addr, out []byte) (int, net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var p rtp.Packet
	if len(b) < 2 || b[1] >= 192 && b[1] <= 223 || p.Unmarshal(b) != nil || p.Version != 2 {
		r.stats.Dropped++ // RTCP (RFC 5761 §4) or not RTP at all
		return 0, nil
	}
	switch {
	case !r.latched[from]:
		r.latched[from] = true
		r.remote[from] = src
	case src.String() != r.remote[from].String():
		r.stats.Dropped++
		return 0, nil
	}
	now := time.Now()
	r.heard[from].Store(now.UnixNano())
	dst := r.remote[to]
	if dst == nil {
		r.stats.Dropped++
		return 0, nil
	}

	o := &r.out[to]
	marker := p.Marker
	if !o.mapped || p.SSRC != o.srcSSRC {
		// A new source: continue the outgoing stream where it stands.
		next := o.next
		if o.sent {
			elapsed := uint32(now.Sub(o.lastAt) * ClockRate / time.Second)
			next.Seq = o.lastSeq + 1
			next.TS = o.lastTS + max(elapsed, FrameSize)
		}
		o.mapped, o.srcSSRC = true, p.SSRC
		o.seqOff = next.Seq - p.SequenceNumber
		o.tsOff = next.TS - p.Timestamp
		marker = true
	}
	seq, ts := p.SequenceNumber+o.seqOff, p.Timestamp+o.tsOff
	if !o.sent || int16(seq-o.lastSeq) > 0 {
		o.sent, o.lastSeq, o.lastTS, o.lastAt = true, seq, ts, now
	}
	h := rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    p.PayloadType,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           o.next.SSRC,
	}
	n, err := h.MarshalTo(out)
	if err != nil || n+len(p.Payload) > len(out) {
		r.stats.Dropped++
		return 0, nil
	}
	n += copy(out[n:], p.Payload)
	return n, dst
}
