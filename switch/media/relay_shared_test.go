package media

import (
	"context"
	"testing"

	"github.com/pion/rtp"
)

// One socket for both legs: packets are told apart by their source, each
// party gets the other's audio from the switch's one address, rewritten;
// a stranger's packets are dropped.
func TestRelaySharedSocket(t *testing.T) {
	sw, _, err := ListenRTP("127.0.0.1", 30000, 40000)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	customer, agent, stranger := newUDPPeer(t), newUDPPeer(t), newUDPPeer(t)
	relay := NewRelay(Leg{Conn: sw, Remote: customer.conn.LocalAddr()}, Leg{Conn: sw, Remote: agent.conn.LocalAddr()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	const n = 10
	var toAgent, toCustomer []rtp.Packet
	for i := range n {
		stranger.send(sw.LocalAddr(), rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), SSRC: 7}, payloadN(200+i))
		customer.send(sw.LocalAddr(), rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(160 * i), SSRC: 0xC0FFEE, Marker: i == 0}, payloadN(i))
		p, from := agent.recv()
		if from.String() != sw.LocalAddr().String() {
			t.Fatalf("agent got a packet from %v", from)
		}
		toAgent = append(toAgent, p)
		agent.send(sw.LocalAddr(), rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(900 + i),
			Timestamp: uint32(8000 + 160*i), SSRC: 0xA6E47}, payloadN(100+i))
		p, from = customer.recv()
		if from.String() != sw.LocalAddr().String() {
			t.Fatalf("customer got a packet from %v", from)
		}
		toCustomer = append(toCustomer, p)
	}
	checkRelayed(t, "to agent", toAgent, 0xC0FFEE, 0)
	checkRelayed(t, "to customer", toCustomer, 0xA6E47, 100)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if s := relay.Stats(); s.AToB != n || s.BToA != n || s.Dropped != n {
		t.Errorf("stats %+v, want %d each way and the stranger's %d dropped", s, n, n)
	}
}
