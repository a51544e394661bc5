package media

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
)

// playerRig runs a Player toward an in-memory receiver inside a synctest
// bubble.
type playerRig struct {
	t      *testing.T
	player *Player
	rx     *memConn
	cancel context.CancelFunc
	done   chan error
}

const (
	rigSSRC = 0x1234abcd
	rigSeq  = 65530 // wraps within the first second
	rigTS   = 0xFFFFFF00
)

func startPlayer(t *testing.T, codec Codec, setup func(*Player)) *playerRig {
	t.Helper()
	n := newMemNet()
	tx, rx := n.listen("switch:20000"), n.listen("caller:4000")
	p := NewPlayer(tx, rx.LocalAddr(), codec, rigSSRC, rigSeq, rigTS)
	if setup != nil {
		setup(p)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &playerRig{t: t, player: p, rx: rx, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop ends Run and checks it returned nil.
func (r *playerRig) stop() {
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run: %v", err)
	}
	r.done <- nil // stop is idempotent
}

// wait lets virtual time pass (in the bubble, instantly) and returns the
// packets received meanwhile, parsed.
func (r *playerRig) wait(d time.Duration) []rtp.Packet {
	r.t.Helper()
	time.Sleep(d)
	synctest.Wait()
	var ps []rtp.Packet
	for _, m := range r.rx.drain() {
		var p rtp.Packet
		if err := p.Unmarshal(m.data); err != nil {
			r.t.Fatalf("bad RTP packet: %v", err)
		}
		if m.from.String() != "switch:20000" {
			r.t.Fatalf("packet from %v", m.from)
		}
		ps = append(ps, p)
	}
	return ps
}

// checkStream checks that ps continue a stream whose next packet is next:
// one SSRC, sequence +1 and timestamp +160 per packet, 160-byte payloads of
// payload type pt, marker only on the very first packet of the stream.
func checkStream(t *testing.T, ps []rtp.Packet, next Stream, pt uint8, first bool) Stream {
	t.Helper()
	for i, p := range ps {
		h := p.Header
		if h.Version != 2 || h.SSRC != next.SSRC || h.SequenceNumber != next.Seq || h.Timestamp != next.TS {
			t.Fatalf("packet %d: v%d ssrc %#x seq %d ts %d, want ssrc %#x seq %d ts %d",
				i, h.Version, h.SSRC, h.SequenceNumber, h.Timestamp, next.SSRC, next.Seq, next.TS)
		}
		if h.PayloadType != pt || len(p.Payload) != FrameSize {
			t.Fatalf("packet %d: payload type %d, %d bytes; want %d, 160", i, h.PayloadType, len(p.Payload), pt)
		}
		if wantMarker := first && i == 0; h.Marker != wantMarker {
			t.Fatalf("packet %d: marker %v, want %v", i, h.Marker, wantMarker)
		}
		next.Seq++
		next.TS += FrameSize
	}
	return next
}

// frames returns n 20 ms µ-law frames of p starting at frame from, wrapping.
func frames(p Prompt, from, n int) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = p.frame((from + i) % p.Frames())
	}
	return fs
}

func checkPayloads(t *testing.T, what string, ps []rtp.Packet, want [][]byte) {
	t.Helper()
	if len(ps) < len(want) {
		t.Fatalf("%s: %d packets, want at least %d", what, len(ps), len(want))
	}
	for i, w := range want {
		if !bytes.Equal(ps[i].Payload, w) {
			t.Fatalf("%s: packet %d payload differs: % x..., want % x...", what, i, ps[i].Payload[:8], w[:8])
		}
	}
}

// A queued caller hears the greeting as PCMU at exactly 50 packets per
// second of (virtual) time, as one contiguous stream.
func TestPlayerPCMU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startPlayer(t, PCMU, func(p *Player) {
			p.Play(Greeting())
			p.Loop(MusicOnHold())
		})
		next := Stream{SSRC: rigSSRC, Seq: rigSeq, TS: rigTS}
		var all []rtp.Packet
		for sec := range 3 {
			// The first packet goes out at once, then one per tick: at
			// 999 ms after each whole second, 50 more have arrived.
			d := time.Second
			if sec == 0 {
				d = time.Second - time.Millisecond
			}
			ps := r.wait(d)
			if len(ps) != 50 {
				t.Fatalf("second %d: %d packets, want 50", sec, len(ps))
			}
			next = checkStream(t, ps, next, 0, sec == 0)
			all = append(all, ps...)
		}
		checkPayloads(t, "greeting", all, frames(Greeting(), 0, 150))

		if got := r.player.Stats(); got.Packets != 150 || got.WriteErrors != 0 {
			t.Errorf("stats %+v, want 150 packets", got)
		}
		if got := r.player.Next(); got != next {
			t.Errorf("Next() = %+v, want %+v", got, next)
		}
		if want := Greeting().Duration() - 150*Ptime; r.player.Pending() != want {
			t.Errorf("Pending() = %v, want %v", r.player.Pending(), want)
		}

		// After the greeting, the music on hold loops, from its start.
		rest := Greeting().Frames() - 150
		ps := r.wait(time.Duration(rest)*Ptime + MusicOnHold().Duration() + 10*Ptime)
		next = checkStream(t, ps, next, 0, false)
		checkPayloads(t, "greeting end", ps, frames(Greeting(), 150, rest))
		checkPayloads(t, "music, twice round", ps[rest:], frames(MusicOnHold(), 0, MusicOnHold().Frames()+10))
		if r.player.Pending() != 0 {
			t.Errorf("Pending() = %v after the queue ran out", r.player.Pending())
		}
		if got := r.player.Next(); got != next {
			t.Errorf("Next() = %+v, want %+v", got, next)
		}
	})
}

// With PCMA the payloads are G.711's A-law conversion of the µ-law frames.
func TestPlayerPCMA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startPlayer(t, PCMA, func(p *Player) { p.Play(Greeting()) })
		ps := r.wait(time.Second - time.Millisecond)
		if len(ps) != 50 {
			t.Fatalf("%d packets, want 50", len(ps))
		}
		checkStream(t, ps, Stream{SSRC: rigSSRC, Seq: rigSeq, TS: rigTS}, 8, true)
		want := frames(Greeting(), 0, 50)
		for i, f := range want {
			want[i] = TranscodeULawToALaw(make([]byte, FrameSize), f)
			for j, c := range f {
				if want[i][j] != ULawToALaw(c) {
					t.Fatal("TranscodeULawToALaw disagrees with ULawToALaw")
				}
			}
		}
		checkPayloads(t, "A-law greeting", ps, want)
	})
}

// Interrupt drops the rest of the greeting; the position announcement plays
// next, then the loop; when the loop is cleared the player sends silence.
// Sequence numbers and timestamps never skip.
func TestPlayerInterruptLoopSilence(t *testing.T) {
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testInterruptLoopSilence(t, codec) })
		})
	}
}

func testInterruptLoopSilence(t *testing.T, codec Codec) {
	conv := func(f []byte) []byte {
		if codec == PCMA {
			return TranscodeULawToALaw(make([]byte, FrameSize), f)
		}
		return f
	}
	convAll := func(fs [][]byte) [][]byte {
		for i := range fs {
			fs[i] = conv(fs[i])
		}
		return fs
	}
	silence := bytes.Repeat([]byte{codec.silence()}, FrameSize)

	// Idle: silence from the first packet on.
	r := startPlayer(t, codec, nil)
	next := Stream{SSRC: rigSSRC, Seq: rigSeq, TS: rigTS}
	ps := r.wait(5*Ptime - time.Millisecond)
	next = checkStream(t, ps, next, codec.PayloadType(), true)
	checkPayloads(t, "idle", ps, [][]byte{silence, silence, silence, silence, silence})

	// Greeting and music; 10 frames into the greeting, interrupt it.
	r.player.Play(Greeting())
	r.player.Loop(MusicOnHold())
	ps = r.wait(10 * Ptime)
	next = checkStream(t, ps, next, codec.PayloadType(), false)
	checkPayloads(t, "greeting", ps, convAll(frames(Greeting(), 0, 10)))

	announce := PositionAndWait(4, 3*time.Minute)
	var announceFrames [][]byte
	for _, p := range announce {
		announceFrames = append(announceFrames, frames(p, 0, p.Frames())...)
	}
	r.player.Interrupt()
	if r.player.Pending() != 0 {
		t.Errorf("Pending() = %v after Interrupt", r.player.Pending())
	}
	r.player.Play(announce...)
	ps = r.wait(time.Duration(len(announceFrames)+25) * Ptime)
	next = checkStream(t, ps, next, codec.PayloadType(), false)
	checkPayloads(t, "announcement", ps, convAll(announceFrames))
	checkPayloads(t, "music after announcement", ps[len(announceFrames):], convAll(frames(MusicOnHold(), 0, 25)))

	// Interrupt with nothing to say: the music goes on where it was.
	r.player.Interrupt()
	ps = r.wait(5 * Ptime)
	next = checkStream(t, ps, next, codec.PayloadType(), false)
	checkPayloads(t, "music resumes", ps, convAll(frames(MusicOnHold(), 25, 5)))

	// No loop, nothing queued: silence, stream unbroken.
	r.player.Loop(Prompt{})
	ps = r.wait(5 * Ptime)
	checkStream(t, ps, next, codec.PayloadType(), false)
	checkPayloads(t, "silence", ps, [][]byte{silence, silence, silence, silence, silence})
}

// Play, Loop and Interrupt from other goroutines while Run sends (run with
// -race).
func TestPlayerConcurrentControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startPlayer(t, PCMU, nil)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 20 {
					r.player.Play(PositionAndWait(2, time.Minute)...)
					r.player.Loop(MusicOnHold())
					time.Sleep(7 * time.Millisecond)
					r.player.Interrupt()
					_ = r.player.Pending()
				}
			})
		}
		wg.Wait()
		ps := r.wait(0)
		checkStream(t, ps, Stream{SSRC: rigSSRC, Seq: rigSeq, TS: rigTS}, 0, true)
	})
}

// Run returns an error when its socket is closed under it, and returns at
// once if ctx has already ended.
func TestPlayerRunEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		tx := n.listen("switch:1")
		p := NewPlayer(tx, memAddr("caller:2"), PCMU, 1, 2, 3)
		done := make(chan error, 1)
		go func() { done <- p.Run(t.Context()) }()
		time.Sleep(time.Second)
		tx.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run after Close = %v, want net.ErrClosed", err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := NewPlayer(n.listen("switch:3"), memAddr("x"), PCMU, 1, 2, 3).Run(ctx); err != nil {
			t.Errorf("Run(cancelled ctx) = %v", err)
		}
	})
}

// SetRemote moves the stream to a new address without breaking it.
func TestPlayerSetRemote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startPlayer(t, PCMU, nil)
		ps := r.wait(3*Ptime - time.Millisecond)
		next := checkStream(t, ps, Stream{SSRC: rigSSRC, Seq: rigSeq, TS: rigTS}, 0, true)
		moved := r.rx.net.listen("caller:4002")
		r.player.SetRemote(moved.LocalAddr())
		time.Sleep(3 * Ptime)
		synctest.Wait()
		if got := r.rx.drain(); len(got) != 0 {
			t.Errorf("%d packets still reach the old address", len(got))
		}
		var moved3 []rtp.Packet
		for _, m := range moved.drain() {
			var p rtp.Packet
			if err := p.Unmarshal(m.data); err != nil {
				t.Fatal(err)
			}
			moved3 = append(moved3, p)
		}
		if len(moved3) != 3 {
			t.Fatalf("%d packets at the new address, want 3", len(moved3))
		}
		checkStream(t, moved3, next, 0, false)
	})
}
