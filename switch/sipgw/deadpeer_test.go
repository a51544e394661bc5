package sipgw

import (
	"context"
	"fmt"
	"github.com/ccswitch/ccswitch/internal/siptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/internal/memnet"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
)

// sdpAt is an SDP offering PCMU from 127.0.0.1:port with direction dir.
func sdpAt(port int, dir string) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n", port, dir)
}

// rtpTalker sends a 20 ms RTP packet from conn to the address in sdp
// until ctx ends.
func rtpTalker(t *testing.T, ctx context.Context, conn *memnet.Conn, sdp []byte) <-chan struct{} {
	t.Helper()
	s, err := media.ParseSDP(sdp)
	if err != nil {
		t.Fatal(err)
	}
	to := siptest.Addr(fmt.Sprintf("%s:%d", s.Address, s.Port))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(media.Ptime)
		defer tick.Stop()
		p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 42}, Payload: make([]byte, media.FrameSize)}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p.SequenceNumber++
			p.Timestamp += media.FrameSize
			b, _ := p.Marshal()
			_, _ = conn.WriteTo(b, to)
		}
	}()
	return done
}

// connectCall registers the agent, calls the route point and answers on
// the agent's phone with the given SDP directions; it returns the phones,
// the caller's INVITE and 200, and the RTP sockets of both.
func connectCall(t *testing.T, h *tmHarness, callerDir, agentDir string) (caller, agent *tmPhone, inv *sip.Request, ok *sip.Response, callerRTP, agentRTP *memnet.Conn, agentSDP []byte) {
	t.Helper()
	agent = h.phone("127.0.0.1:7001")
	agent.Register()
	synctest.Wait()
	var err error
	if callerRTP, err = h.net.Listen("127.0.0.1:7102"); err != nil {
		t.Fatal(err)
	}
	if agentRTP, err = h.net.Listen("127.0.0.1:7104"); err != nil {
		t.Fatal(err)
	}
	caller = h.phone("127.0.0.1:7002")
	inv = caller.Request(sip.INVITE, "5000", 1, "dead-1")
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(sdpAt(7102, callerDir)))
	caller.Send(inv)
	ok = caller.Expect("200", 5*time.Second).(*sip.Response)
	caller.Ack(inv, ok)
	offered := agent.Expect("INVITE", 5*time.Second).(*sip.Request)
	agentSDP = offered.Body()
	res := sip.NewSDPResponseFromRequest(offered, []byte(sdpAt(7104, agentDir)))
	res.To().Params.Add("tag", "agent-tag")
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 7001}})
	agent.Send(res)
	agent.Expect("ACK", 5*time.Second)
	synctest.Wait()
	return
}

func (h *tmHarness) agentState(t *testing.T, id string) tserver.AgentState {
	t.Helper()
	var st tserver.AgentState
	if err := h.loop.Do(context.Background(), func() {
		a, _ := h.gw.ts.Agent(id)
		st = a.State()
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRTPTimeoutAgentGoesSilent: the agent's phone answers, sends a little
// RTP and vanishes (no BYE, no RTP) while the customer keeps talking.
// Within RTPTimeout and one check the switch BYEs both legs, releases the
// interaction and makes the agent not ready (rtp_timeout), never ready.
func TestRTPTimeoutAgentGoesSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		h := tmStart(t, 20*time.Second, func(c *Config) { c.RTPTimeout = timeout })
		defer h.stop()
		caller, agent, _, _, callerRTP, agentRTP, agentSDP := connectCall(t, h, media.SendRecv, media.SendRecv)
		ctx, stopTalking := context.WithCancel(context.Background())
		defer stopTalking()
		talking := rtpTalker(t, ctx, callerRTP, caller.LastSDP(t))
		agentCtx, agentDies := context.WithCancel(ctx)
		agentTalking := rtpTalker(t, agentCtx, agentRTP, agentSDP)
		time.Sleep(3 * time.Second) // virtual: the call is connected and both talk
		agentDies()
		<-agentTalking
		silentSince := time.Now()

		bye := agent.Expect("BYE", time.Minute).(*sip.Request)
		agent.Respond(bye, 200, "OK")
		if d := time.Since(silentSince); d < timeout || d > timeout+watchInterval(timeout)+time.Second {
			t.Errorf("agent's leg ended %v after its last packet, want within %v + one check", d, timeout)
		}
		cbye := caller.Expect("BYE", 5*time.Second).(*sip.Request)
		caller.Respond(cbye, 200, "OK")
		stopTalking()
		<-talking
		synctest.Wait()
		got := h.transcript()
		t.Logf("ended %v after the agent's last packet; transcript %s", time.Since(silentSince), got)
		if !strings.Contains(got, "EventAgentNotReady:rtp_timeout EventReleased") {
			t.Errorf("transcript %q: want the agent made not ready (rtp_timeout) before the release", got)
		}
		after := got[strings.LastIndex(got, "EventReleased"):]
		if strings.Contains(after, "EventAgentReady") {
			t.Errorf("transcript %q: the agent was made ready on a dead phone", got)
		}
		if st := h.agentState(t, "a1"); st != tserver.NotReady {
			t.Errorf("agent state %v, want NotReady", st)
		}
	})
}

// TestRTPTimeoutSparesLegsThatDoNotSend: a customer whose SDP says
// inactive sends no RTP, legitimately: the call is not ended for it.
func TestRTPTimeoutSparesLegsThatDoNotSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		h := tmStart(t, 20*time.Second, func(c *Config) { c.RTPTimeout = timeout })
		defer h.stop()
		caller, agent, inv, ok, _, agentRTP, agentSDP := connectCall(t, h, media.Inactive, media.SendRecv)
		ctx, stop := context.WithCancel(context.Background())
		talking := rtpTalker(t, ctx, agentRTP, agentSDP)
		if m := agent.Recv(5 * timeout); m != nil {
			t.Errorf("the agent's phone got %q while the customer is inactive", m.String())
		}
		stop()
		<-talking
		caller.HangUp(inv, ok)
		bye := agent.Expect("BYE", 5*time.Second).(*sip.Request)
		agent.Respond(bye, 200, "OK")
		synctest.Wait()
		if got := h.transcript(); strings.Contains(got, "rtp_timeout") {
			t.Errorf("transcript %q: a leg that does not send was timed out", got)
		}
	})
}
