package live

import (
	"context"
	"net"
	"testing"

	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/switch/media"
)

// TestStartRTP: a leg sends PCMU to the address of the switch's SDP from
// the socket it advertised, counts what the switch sends back, and stops
// and closes its socket when its dialog ends; Close joins it.
func TestStartRTP(t *testing.T) {
	c := &Center{host: "127.0.0.1"}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	sw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	conn, port, err := c.listenRTP()
	if err != nil {
		t.Fatal(err)
	}
	up, hangUp := context.WithCancel(context.Background())
	sdp := media.BuildSDP(1, "127.0.0.1", sw.LocalAddr().(*net.UDPAddr).Port, []media.Codec{media.PCMU}, media.SendRecv)
	if err := c.startRTP("call c1", conn, sdp, up); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	var first rtp.Packet
	for i := range 5 {
		n, from, err := sw.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from.(*net.UDPAddr).Port != port {
			t.Fatalf("packet from port %d, want the advertised %d", from.(*net.UDPAddr).Port, port)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType != media.PCMU.PayloadType() || len(p.Payload) != media.FrameSize {
			t.Fatalf("packet %d: payload type %d, %d bytes; want PCMU, %d", i, p.PayloadType, len(p.Payload), media.FrameSize)
		}
		if i == 0 {
			first = p
			continue
		}
		if p.SSRC != first.SSRC || p.SequenceNumber != first.SequenceNumber+uint16(i) || p.Timestamp != first.Timestamp+uint32(i*media.FrameSize) {
			t.Fatalf("packet %d: ssrc %d seq %d ts %d after ssrc %d seq %d ts %d", i, p.SSRC, p.SequenceNumber, p.Timestamp, first.SSRC, first.SequenceNumber, first.Timestamp)
		}
		// Echo it: the leg counts what arrives.
		if _, err := sw.WriteTo(buf[:n], from); err != nil {
			t.Fatal(err)
		}
	}
	// Wait, on the leg's own packets, until the 4 echoes are counted.
	for c.RTP()[0].Received < 4 {
		if _, _, err := sw.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}
	st := c.RTP()
	if len(st) != 1 || st[0].Leg != "call c1" || st[0].Sent < 5 || st[0].Received != 4 || st[0].Remote != sw.LocalAddr().String() {
		t.Fatalf("RTP() = %+v", st)
	}
	hangUp()
	c.wg.Wait() // the dialog ended: sender and reader are done without Close
	if _, err := conn.WriteTo([]byte{0}, sw.LocalAddr()); err == nil {
		t.Error("the leg's socket is still open after the dialog ended")
	}
	c.Close()
}
