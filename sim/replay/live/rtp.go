package live

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/switch/media"
)

// The media of the replay's SIP legs: each sipgo caller, agent's phone
// and customer's phone advertises a UDP socket of its own in its SDP and,
// once its call is answered, sends PCMU silence on it (media.Player: 20
// ms packets, random SSRC, sequence and timestamp) to the address and
// port the switch's SDP gives, and reads and counts what the switch sends
// back, until the dialog ends (BYE either way) or the Center closes. So
// serve's --rtp-timeout sees live phones and leaves their calls up.

// RTPStats is what one leg of the replay sent and received.
type RTPStats struct {
	Leg      string // "call c1", "agent 1001's phone", "phone +15551234"
	Remote   string // where it sends: the switch's SDP address and port
	Sent     uint64 // RTP packets sent
	Received uint64 // RTP packets received (datagrams that parse as RTP)
}

// rtpLeg is the media of one answered call leg.
type rtpLeg struct {
	name     string
	remote   string
	player   *media.Player
	received atomic.Uint64
}

// listenRTP opens the RTP socket a leg advertises in its SDP.
func (c *Center) listenRTP() (net.PacketConn, int, error) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(c.host, "0"))
	if err != nil {
		return nil, 0, fmt.Errorf("rtp socket: %w", err)
	}
	return conn, conn.LocalAddr().(*net.UDPAddr).Port, nil
}

// startRTP sends PCMU on conn to where the switch's SDP (its answer to a
// caller, its offer to a phone) says, and counts what arrives on conn,
// until up ends (the dialog's context: BYE sent or received) or the
// Center closes; then conn is closed. Both goroutines are the Center's.
// It takes conn: on an error conn is closed too. An SDP that asks for no
// media from us (port 0, recvonly, inactive, hold address) is still
// read, but nothing is sent.
func (c *Center) startRTP(name string, conn net.PacketConn, remoteSDP []byte, up context.Context) error {
	sdp, err := media.ParseSDP(remoteSDP)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%s: the switch's SDP: %w", name, err)
	}
	send := sdp.Port != 0 && sdp.Address != "0.0.0.0" && (sdp.Direction == media.SendRecv || sdp.Direction == media.RecvOnly)
	remote, err := net.ResolveUDPAddr("udp", net.JoinHostPort(sdp.Address, strconv.Itoa(sdp.Port)))
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%s: the switch's media address: %w", name, err)
	}
	leg := &rtpLeg{name: name, remote: remote.String(),
		player: media.NewPlayer(conn, remote, media.PCMU, rand.Uint32(), uint16(rand.Uint32()), rand.Uint32())}
	ctx, cancel := context.WithCancel(c.ctx)
	stop := context.AfterFunc(up, cancel)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		stop()
		cancel()
		_ = conn.Close()
		return nil
	}
	c.rtpLegs = append(c.rtpLegs, leg)
	c.wg.Go(func() {
		defer stop()
		defer cancel()
		if send {
			_ = leg.player.Run(ctx) // returns when ctx ends or conn is closed
		} else {
			<-ctx.Done()
		}
		_ = conn.Close() // ends the reader
	})
	c.wg.Go(func() { leg.read(conn) })
	return nil
}

// read counts the RTP packets arriving on conn until it is closed.
func (l *rtpLeg) read(conn net.PacketConn) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if _, err := h.Unmarshal(buf[:n]); err == nil && h.Version == 2 {
			l.received.Add(1)
		}
	}
}

// RTP returns what each answered leg of the replay has sent and received
// so far, in the order the legs were answered.
func (c *Center) RTP() []RTPStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RTPStats, 0, len(c.rtpLegs))
	for _, l := range c.rtpLegs {
		out = append(out, RTPStats{Leg: l.name, Remote: l.remote, Sent: l.player.Stats().Packets, Received: l.received.Load()})
	}
	return out
}
