package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// Stream is the header state of an outgoing RTP stream: its SSRC and the
// sequence number and timestamp its next packet carries. It lets a Relay
// continue the stream a Player was sending (see Relay.ContinueA).
type Stream struct {
	SSRC uint32
	Seq  uint16
	TS   uint32
}

// PlayerStats counts what a Player has sent.
type PlayerStats struct {
	Packets     uint64 // packets written
	WriteErrors uint64 // packets the connection refused (the stream skips them)
}

// A Player sends prompts as RTP to one remote address, one 20 ms packet at a
// time: first what was queued with Play, in order; then, once the queue is
// empty, the Loop prompt over and over (music on hold); otherwise silence, so
// the stream never has a gap. Sequence numbers go up by one and timestamps
// by 160 per packet across prompts, loops and Interrupt; the very first
// packet carries the marker bit.
//
// Play, Loop, Interrupt, SetRemote and the accessors may be called from any
// goroutine while Run is running.
type Player struct {
	conn  net.PacketConn
	codec Codec

	mu      sync.Mutex
	remote  net.Addr
	queue   []Prompt // queue[0] is playing
	pos     int      // next frame of queue[0]
	loop    Prompt
	loopPos int
	next    Stream
	marked  bool // the first packet has been built
	stats   PlayerStats
}

// NewPlayer returns a player that writes codec (PCMU or PCMA) RTP packets
// on conn to remote, starting with the given SSRC, sequence number and timestamp
// (choose them at random for a new stream, RFC 3550 §5.1). Nothing is sent
// until Run.
func NewPlayer(conn net.PacketConn, remote net.Addr, codec Codec, ssrc uint32, initialSeq uint16, initialTS uint32) *Player {
	return &Player{
		conn:   conn,
		codec:  codec,
		remote: remote,
		next:   Stream{SSRC: ssrc, Seq: initialSeq, TS: initialTS},
	}
}

// Play queues prompts to play after whatever is already queued.
func (p *Player) Play(prompts ...Prompt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range prompts {
		if pr.Frames() > 0 {
			p.queue = append(p.queue, pr)
		}
	}
}

// Loop sets the prompt played over and over, from its start, whenever the
// queue is empty (music on hold). Loop(Prompt{}) clears it: an idle player
// then sends silence.
func (p *Player) Loop(pr Prompt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loop, p.loopPos = pr, 0
}

// Interrupt drops everything queued, including the prompt playing now, from
// the next packet on. The loop is kept and resumes where it left off when
// the queue is empty again; queue a new announcement with Play right after.
func (p *Player) Interrupt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue, p.pos = nil, 0
}

// Pending returns how long the queued prompts still play (not counting the
// loop).
func (p *Player) Pending() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	frames := -p.pos
	for _, pr := range p.queue {
		frames += pr.Frames()
	}
	return time.Duration(frames) * Ptime
}

// SetRemote changes where the packets go, for example after a re-INVITE.
func (p *Player) SetRemote(remote net.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remote = remote
}

// Next returns the SSRC, sequence number and timestamp of the packet the
// player would send next.
func (p *Player) Next() Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Stats returns what the player has sent so far.
func (p *Player) Stats() PlayerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Run sends one packet at once and then one per 20 ms tick of a
// time.Ticker until ctx ends, and then returns nil. A write the connection
// refuses is counted in Stats and skipped (its sequence number is not
// reused); Run returns an error only when the connection is closed. Call Run
// once.
func (p *Player) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	tick := time.NewTicker(Ptime)
	defer tick.Stop()
	buf := make([]byte, 12+FrameSize)
	payload := make([]byte, FrameSize)
	for {
		if err := p.send(buf, payload); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// send builds the next packet and writes it.
func (p *Player) send(buf, payload []byte) error {
	p.mu.Lock()
	pkt := rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         !p.marked,
			PayloadType:    p.codec.PayloadType(),
			SequenceNumber: p.next.Seq,
			Timestamp:      p.next.TS,
			SSRC:           p.next.SSRC,
		},
		Payload: p.nextFrame(payload),
	}
	p.marked = true
	p.next.Seq++
	p.next.TS += FrameSize
	remote := p.remote
	p.mu.Unlock()

	n, err := pkt.MarshalTo(buf)
	if err != nil {
		return fmt.Errorf("media: player: %w", err) // cannot happen: buf fits a G.711 packet
	}
	_, err = p.conn.WriteTo(buf[:n], remote)

	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("media: player: %w", err)
		}
		p.stats.WriteErrors++
		return nil
	}
	p.stats.Packets++
	return nil
}

// nextFrame fills payload with the next 20 ms of audio in the player's codec
// and advances the queue or loop. p.mu must be held.
func (p *Player) nextFrame(payload []byte) []byte {
	var ulaw []byte
	switch {
	case len(p.queue) > 0:
		ulaw = p.queue[0].frame(p.pos)
		p.pos++
		if p.pos == p.queue[0].Frames() {
			p.queue[0] = Prompt{} // let the prompt be collected
			p.queue, p.pos = p.queue[1:], 0
		}
	case p.loop.Frames() > 0:
		ulaw = p.loop.frame(p.loopPos)
		p.loopPos = (p.loopPos + 1) % p.loop.Frames()
	default:
		s := p.codec.silence()
		for i := range payload {
			payload[i] = s
		}
		return payload
	}
	if p.codec == PCMA {
		return TranscodeULawToALaw(payload, ulaw)
	}
	return ulaw
}
