package media

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
)

// udpPeer is a real party on loopback UDP: a customer's or an agent's phone.
type udpPeer struct {
	t    *testing.T
	conn net.PacketConn
}

func newUDPPeer(t *testing.T) *udpPeer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpPeer{t: t, conn: c}
}

func (p *udpPeer) send(to net.Addr, h rtp.Header, payload []byte) {
	p.t.Helper()
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteTo(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv waits (with a deadline, never a sleep) for one RTP packet.
func (p *udpPeer) recv() (rtp.Packet, net.Addr) {
	p.t.Helper()
	if err := p.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		p.t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := p.conn.ReadFrom(buf)
	if err != nil {
		p.t.Fatalf("no packet: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatal(err)
	}
	return pkt, from
}

func payloadN(n int) []byte {
	b := make([]byte, FrameSize)
	for i := range b {
		b[i] = byte(n + i)
	}
	return b
}

// End to end on loopback UDP: a customer whose signalled address is wrong
// (NAT) and an agent talk through the relay. Each receives a contiguous
// stream from the switch's address, with the relay's SSRC, never the other
// party's.
func TestRelayLoopbackUDP(t *testing.T) {
	switchA, _, err := ListenRTP("127.0.0.1", 30000, 40000)
	if err != nil {
		t.Fatal(err)
	}
	defer switchA.Close()
	switchB, _, err := ListenRTP("", 40002, 50000)
	if err != nil {
		t.Fatal(err)
	}
	defer switchB.Close()
	customer, agent := newUDPPeer(t), newUDPPeer(t)

	// The customer's SDP named a port nobody listens on.
	wrong := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	relay := NewRelay(Leg{Conn: switchA, Remote: wrong}, Leg{Conn: switchB, Remote: agent.conn.LocalAddr()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	const n = 20
	const custSSRC, agentSSRC = 0xC0FFEE, 0xA6E47
	var toAgent, toCustomer []rtp.Packet
	for i := range n {
		// Customer speaks first: the relay learns where the customer is.
		customer.send(switchA.LocalAddr(), rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(1000 + i),
			Timestamp: uint32(5000 + 160*i), SSRC: custSSRC, Marker: i == 0, CSRC: []uint32{42}}, payloadN(i))
		p, from := agent.recv()
		if from.String() != switchB.LocalAddr().String() {
			t.Fatalf("agent got a packet from %v, not the switch", from)
		}
		toAgent = append(toAgent, p)

		agent.send(switchB.LocalAddr(), rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(65530 + i),
			Timestamp: uint32(1<<32 - 480 + 160*i), SSRC: agentSSRC}, payloadN(100+i))
		p, from = customer.recv()
		if from.String() != switchA.LocalAddr().String() {
			t.Fatalf("customer got a packet from %v, not the switch", from)
		}
		toCustomer = append(toCustomer, p)
	}
	checkRelayed(t, "to agent", toAgent, custSSRC, 0)
	checkRelayed(t, "to customer", toCustomer, agentSSRC, 100)
	if toAgent[0].SSRC == toCustomer[0].SSRC {
		t.Error("both directions use one SSRC")
	}
	a, b := relay.Remotes()
	if a.String() != customer.conn.LocalAddr().String() || b.String() != agent.conn.LocalAddr().String() {
		t.Errorf("remotes %v, %v; want the customer's real address %v and the agent's %v",
			a, b, customer.conn.LocalAddr(), agent.conn.LocalAddr())
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if s := relay.Stats(); s.AToB != n || s.BToA != n || s.Dropped != 0 {
		t.Errorf("stats %+v", s) // counted after the write: read them once Run is done
	}
	// Run cleared its read deadline: the socket still blocks normally.
	if err := switchA.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := switchA.ReadFrom(make([]byte, 10)); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Errorf("read after Run: %v, want a timeout", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkRelayed checks a relayed stream: its own SSRC (not the source's),
// sequence numbers +1 and timestamps +160 per packet, payloads and payload
// type kept, marker on the first, no CSRC.
func checkRelayed(t *testing.T, what string, ps []rtp.Packet, srcSSRC uint32, firstPayload int) {
	t.Helper()
	for i, p := range ps {
		if p.SSRC == srcSSRC || p.SSRC != ps[0].SSRC {
			t.Fatalf("%s %d: SSRC %#x (source %#x, first %#x)", what, i, p.SSRC, srcSSRC, ps[0].SSRC)
		}
		if len(p.CSRC) != 0 || p.Extension {
			t.Fatalf("%s %d: leaks CSRC %v / extension", what, i, p.CSRC)
		}
		if p.PayloadType != 0 || string(p.Payload) != string(payloadN(firstPayload+i)) {
			t.Fatalf("%s %d: payload type %d or payload changed", what, i, p.PayloadType)
		}
		if p.Marker != (i == 0) {
			t.Fatalf("%s %d: marker %v", what, i, p.Marker)
		}
		if i > 0 && (p.SequenceNumber != ps[i-1].SequenceNumber+1 || p.Timestamp != ps[i-1].Timestamp+FrameSize) {
			t.Fatalf("%s %d: seq %d ts %d after seq %d ts %d", what, i, p.SequenceNumber, p.Timestamp,
				ps[i-1].SequenceNumber, ps[i-1].Timestamp)
		}
	}
}

// In virtual time: the relay takes over the stream a Player was sending to
// the customer, the agent's phone changes SSRC mid-call after a pause and
// reorders a packet, and strangers, RTCP and junk are dropped.
func TestRelayRewriteVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		swA, swB := n.listen("switch:a"), n.listen("switch:b")
		cust, agent := n.listen("customer"), n.listen("agent")

		// The customer heard a Player on swA; the relay continues its stream.
		player := NewPlayer(swA, cust.LocalAddr(), PCMU, 77, 100, 16000)
		pctx, pcancel := context.WithCancel(t.Context())
		pdone := make(chan error, 1)
		go func() { pdone <- player.Run(pctx) }()
		time.Sleep(10*Ptime - time.Millisecond)
		pcancel()
		if err := <-pdone; err != nil {
			t.Fatal(err)
		}
		heard := cust.drain()
		if len(heard) != 10 {
			t.Fatalf("player sent %d packets", len(heard))
		}

		relay := NewRelay(Leg{Conn: swA, Remote: cust.LocalAddr()}, Leg{Conn: swB, Remote: agent.LocalAddr()})
		relay.ContinueA(player.Next())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx) }()

		sendFrom := func(c *memConn, to net.Addr, ssrc uint32, seq uint16, ts uint32) {
			b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc},
				Payload: payloadN(int(seq))}).Marshal()
			c.WriteTo(b, to)
		}
		// The agent's phone sends 5 frames, pauses 1 s and restarts with a
		// new SSRC (a transfer, say), then sends one packet out of order.
		for i := range 5 {
			sendFrom(agent, swB.LocalAddr(), 1, uint16(300+i), uint32(9000+160*i))
			time.Sleep(Ptime)
		}
		time.Sleep(time.Second)
		for i := range 5 {
			sendFrom(agent, swB.LocalAddr(), 2, uint16(7+i), uint32(160*i))
			time.Sleep(Ptime)
		}
		sendFrom(agent, swB.LocalAddr(), 2, 13, 160*6)
		sendFrom(agent, swB.LocalAddr(), 2, 12, 160*5)
		// A stranger, RTCP and junk at the customer's socket are dropped.
		stranger := n.listen("stranger")
		sendFrom(cust, swA.LocalAddr(), 5, 1, 1) // the customer latches first
		sendFrom(stranger, swA.LocalAddr(), 6, 1, 1)
		stranger.WriteTo([]byte{0x80, 200, 0, 6, 0, 0, 0, 1}, swA.LocalAddr()) // RTCP SR header
		stranger.WriteTo([]byte("hello"), swA.LocalAddr())
		synctest.Wait()

		var got []rtp.Packet
		for _, m := range cust.drain() {
			var p rtp.Packet
			if err := p.Unmarshal(m.data); err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		if len(got) != 12 {
			t.Fatalf("customer got %d packets, want 12", len(got))
		}
		type hdr struct {
			seq    uint16
			ts     uint32
			marker bool
		}
		want := []hdr{
			// continues the player: seq 110, ts 16000+10*160, marker for the new source
			{110, 17600, true}, {111, 17760, false}, {112, 17920, false}, {113, 18080, false}, {114, 18240, false},
			// new SSRC after 1 s + 20 ms of silence: ts advanced by the elapsed time
			{115, 18240 + 8160, true}, {116, 26560, false}, {117, 26720, false}, {118, 26880, false}, {119, 27040, false},
			{121, 27360, false}, {120, 27200, false}, // reordering is preserved
		}
		for i, p := range got {
			w := want[i]
			if p.SSRC != 77 || p.SequenceNumber != w.seq || p.Timestamp != w.ts || p.Marker != w.marker || p.PayloadType != 8 {
				t.Errorf("packet %d: ssrc %d seq %d ts %d marker %v pt %d; want ssrc 77 seq %d ts %d marker %v pt 8",
					i, p.SSRC, p.SequenceNumber, p.Timestamp, p.Marker, p.PayloadType, w.seq, w.ts, w.marker)
			}
		}
		if got := relay.NextA(); got != (Stream{SSRC: 77, Seq: 122, TS: 27520}) {
			t.Errorf("NextA() = %+v", got)
		}
		if s := relay.Stats(); s.BToA != 12 || s.AToB != 1 || s.Dropped != 3 {
			t.Errorf("stats %+v, want 12 B to A, 1 A to B, 3 dropped", s)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// A leg with no known remote drops until its peer sends; Run fails when a
// socket is closed under it.
func TestRelayUnknownRemoteAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		swA, swB := n.listen("switch:a"), n.listen("switch:b")
		cust, agent := n.listen("customer"), n.listen("agent")
		relay := NewRelay(Leg{Conn: swA}, Leg{Conn: swB, Remote: agent.LocalAddr()})
		done := make(chan error, 1)
		go func() { done <- relay.Run(t.Context()) }()

		pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, SequenceNumber: 1}, Payload: payloadN(0)}).Marshal()
		agent.WriteTo(pkt, swB.LocalAddr())
		synctest.Wait()
		if s := relay.Stats(); s.Dropped != 1 || s.BToA != 0 {
			t.Errorf("stats %+v: want the packet to nowhere dropped", s)
		}
		cust.WriteTo(pkt, swA.LocalAddr())
		synctest.Wait() // the relay has learned where the customer is
		agent.WriteTo(pkt, swB.LocalAddr())
		synctest.Wait()
		if len(cust.drain()) != 1 || len(agent.drain()) != 1 {
			t.Error("after the customer sent, both directions should flow")
		}

		swB.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run after Close = %v, want net.ErrClosed", err)
		}
	})
}
