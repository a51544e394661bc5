package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
)

// goPhone is a minimal SIP phone in Go for media checks: a sipgo UA with
// its own UDP listener and RTP socket.
type goPhone struct {
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	sip  net.PacketConn
	rtp  net.PacketConn
	port int
}

func newGoPhone(t *testing.T, ctx context.Context) *goPhone {
	t.Helper()
	p := &goPhone{}
	var err error
	if p.sip, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if p.rtp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p.port = p.sip.LocalAddr().(*net.UDPAddr).Port
	if p.ua, err = sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if p.srv, err = sipgo.NewServer(p.ua); err != nil {
		t.Fatal(err)
	}
	if p.cli, err = sipgo.NewClient(p.ua, sipgo.WithClientHostname("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.srv.ServeUDP(p.sip) }()
	t.Cleanup(func() { p.ua.Close(); p.rtp.Close() })
	return p
}

// call dials number at the switch offering PCMU on the phone's RTP socket,
// acknowledges the answer, and hangs up when the test ends.
func (p *goPhone) call(t *testing.T, ctx context.Context, lc *liveCenter, number string) *sipgo.DialogClientSession {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(lc.sipAddr)
	var swPort int
	fmt.Sscan(portStr, &swPort)
	dua := sipgo.DialogUA{Client: p.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "customer", Host: "127.0.0.1", Port: p.port}}}
	offer := media.BuildSDP(1, "127.0.0.1", p.rtp.LocalAddr().(*net.UDPAddr).Port, []media.Codec{media.PCMU}, media.SendRecv)
	dlg, err := dua.Invite(ctx, sip.Uri{Scheme: "sip", User: number, Host: host, Port: swPort}, offer, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dlg.Bye(context.Background()) })
	return dlg
}

// rtpPacket builds a PCMU packet whose payload is all b.
func rtpPacket(seq uint16, ssrc uint32, b byte) []byte {
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
		Payload: bytes.Repeat([]byte{b}, 160)}
	out, _ := pkt.Marshal()
	return out
}

// waitPayload reads from conn until a packet whose payload is all b
// arrives (announcements may come first), and returns its sender.
func waitPayload(t *testing.T, conn net.PacketConn, b byte) net.Addr {
	t.Helper()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			break
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) == nil && len(p.Payload) == 160 && bytes.Equal(p.Payload, bytes.Repeat([]byte{b}, 160)) {
			return from
		}
	}
	t.Fatalf("no RTP with payload %#x arrived", b)
	return nil
}

// TestMediaFlowsThroughTheSwitch: a customer and an agent, both Go SIP
// phones, talk through the switch: each one's RTP reaches the other, sent
// from the switch's address (media anchored), and the agent's SDP never
// reaches the customer.
func TestMediaFlowsThroughTheSwitch(t *testing.T) {
	lc := startCenter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host, portStr, _ := net.SplitHostPort(lc.sipAddr)
	var swPort int
	fmt.Sscan(portStr, &swPort)

	agent := newGoPhone(t, ctx)
	agentAnswered := make(chan *sipgo.DialogServerSession, 1)
	agentContact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: agent.port}}
	agentDialogs := sipgo.NewDialogServerCache(agent.cli, agentContact)
	agent.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		dtx, err := agentDialogs.ReadInvite(req, tx)
		if err != nil {
			return
		}
		sdp := media.BuildSDP(2, "127.0.0.1", agent.rtp.LocalAddr().(*net.UDPAddr).Port, []media.Codec{media.PCMU}, media.SendRecv)
		if err := dtx.RespondSDP(sdp); err == nil {
			agentAnswered <- dtx
		}
	})
	agent.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = agentDialogs.ReadAck(req, tx) })
	agent.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = agentDialogs.ReadBye(req, tx) })
	reg := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", User: "1001", Host: host, Port: swPort})
	reg.AppendHeader(&agentContact)
	reg.AppendHeader(sip.NewHeader("Expires", "600"))
	res, err := agent.cli.Do(ctx, reg, sipgo.ClientRequestRegisterBuild)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = agent.cli.DoDigestAuth(ctx, reg, res, sipgo.DigestAuth{Username: "1001", Password: "secret"}); err != nil || res.StatusCode != 200 {
		t.Fatalf("agent REGISTER: %v %v", res, err)
	}
	lc.waitFor(t, "agent ready", 10*time.Second, func(ev []tserver.Event) bool {
		return countType(ev, tserver.EventAgentReady) >= 1
	})

	customer := newGoPhone(t, ctx)
	dlg := customer.call(t, ctx, lc, "5000")
	answer, err := media.ParseSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatal(err)
	}
	agentPort := agent.rtp.LocalAddr().(*net.UDPAddr).Port
	if answer.Port == agentPort || bytes.Contains(dlg.InviteResponse.Body(), []byte(fmt.Sprint(agentPort))) {
		t.Fatal("the agent's media port reached the customer")
	}
	select {
	case <-agentAnswered:
	case <-ctx.Done():
		t.Fatal("the agent's phone was never called")
	}
	lc.waitFor(t, "call established", 10*time.Second, func(ev []tserver.Event) bool {
		return countType(ev, tserver.EventEstablished) >= 1
	})
	switchMedia := &net.UDPAddr{IP: net.ParseIP(answer.Address), Port: answer.Port}
	// The customer talks until the agent hears it, then the agent answers.
	stop := make(chan struct{})
	go func() {
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, _ = customer.rtp.WriteTo(rtpPacket(seq, 0xC0FFEE, 0x11), switchMedia)
		}
	}()
	from := waitPayload(t, agent.rtp, 0x11)
	close(stop)
	if from.(*net.UDPAddr).Port == customer.rtp.LocalAddr().(*net.UDPAddr).Port {
		t.Fatal("the customer's media reached the agent directly")
	}
	for seq := uint16(1); seq <= 5; seq++ {
		_, _ = agent.rtp.WriteTo(rtpPacket(seq, 0xA6E47, 0x22), from)
	}
	if back := waitPayload(t, customer.rtp, 0x22); back.String() != switchMedia.String() {
		t.Fatalf("the agent's audio came from %v, not the switch's %v", back, switchMedia)
	}
}
