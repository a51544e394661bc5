package sipgw

import (
	"github.com/ccswitch/ccswitch/internal/siptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
)

// timedCall connects a call whose customer asks for a session timer of
// callerSE (none when "") and whose agent's phone answers with the
// Session-Expires agentSE (none when ""); it returns the phones, the
// caller's INVITE and 200, and the INVITE the agent's phone got.
func timedCall(t *testing.T, h *tmHarness, callerSE, agentSE string) (caller, agent *tmPhone, inv *sip.Request, ok *sip.Response, offered *sip.Request) {
	t.Helper()
	agent = h.phone("127.0.0.1:7001")
	agent.Register()
	synctest.Wait()
	caller = h.phone("127.0.0.1:7002")
	inv = caller.Request(sip.INVITE, "5000", 1, "timed-1")
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if callerSE != "" {
		inv.AppendHeader(sip.NewHeader("Supported", "timer"))
		inv.AppendHeader(sip.NewHeader("Session-Expires", callerSE))
	}
	inv.SetBody([]byte(sdpAt(7102, media.SendRecv)))
	caller.Send(inv)
	ok = caller.Expect("200", 5*time.Second).(*sip.Response)
	caller.Ack(inv, ok)
	offered = agent.Expect("INVITE", 5*time.Second).(*sip.Request)
	res := sip.NewSDPResponseFromRequest(offered, []byte(sdpAt(7104, media.SendRecv)))
	res.To().Params.Add("tag", "agent-tag")
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 7001}})
	if agentSE != "" {
		res.AppendHeader(sip.NewHeader("Session-Expires", agentSE))
		res.AppendHeader(sip.NewHeader("Require", "timer"))
	}
	agent.Send(res)
	agent.Expect("ACK", 5*time.Second)
	synctest.Wait()
	return
}

func header(m sip.Message, name string) string {
	if hs := m.GetHeaders(name); len(hs) > 0 {
		return hs[0].Value()
	}
	return ""
}

// TestSessionTimerTooSmall: a customer asking for a session interval under
// 90 s gets 422 with Min-SE: 90 (RFC 4028 §8.1), and no call starts.
func TestSessionTimerTooSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		caller := h.phone("127.0.0.1:7002")
		inv := caller.Request(sip.INVITE, "5000", 1, "small-1")
		inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		inv.AppendHeader(sip.NewHeader("Supported", "timer"))
		inv.AppendHeader(sip.NewHeader("Session-Expires", "30"))
		inv.SetBody([]byte(siptest.SDP))
		caller.Send(inv)
		res := caller.Expect("422", 5*time.Second).(*sip.Response)
		if got := header(res, "Min-SE"); got != "90" {
			t.Errorf("Min-SE %q, want 90", got)
		}
		synctest.Wait()
		if got := h.transcript(); got != "" {
			t.Errorf("transcript %q: want no call", got)
		}
	})
}

// TestSessionTimerCallerRefreshes: a customer who supports session timers
// gets 90 s with refresher=uac and Require: timer. Its UPDATEs keep the
// call up past the interval; when they stop, the switch ends the call
// (BYE to both legs) within the RFC's margin (a third of the interval)
// and one check, and the agent, whose phone is fine, is not made not
// ready for it.
func TestSessionTimerCallerRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		caller, agent, inv, ok, _ := timedCall(t, h, "90", "")
		if got := header(ok, "Session-Expires"); got != "90;refresher=uac" || header(ok, "Require") != "timer" {
			t.Fatalf("200: Session-Expires %q, Require %q", got, header(ok, "Require"))
		}
		var last time.Time
		for i := range 3 {
			time.Sleep(40 * time.Second)
			upd := caller.Request(sip.UPDATE, "5000", uint32(2+i), inv.CallID().Value())
			upd.ReplaceHeader(sip.HeaderClone(ok.To()))
			upd.SetBody(nil)
			caller.Send(upd)
			res := caller.Expect("200", 5*time.Second).(*sip.Response)
			if got := header(res, "Session-Expires"); got != "90;refresher=uac" {
				t.Fatalf("refresh %d: 200's Session-Expires %q", i, got)
			}
			last = time.Now()
		}
		// 120 s after the answer, the call is still up: the refreshes
		// counted. Now the customer's phone goes quiet.
		bye := caller.Expect("BYE", 2*time.Minute).(*sip.Request)
		caller.Respond(bye, 200, "OK")
		if d := time.Since(last); d < 60*time.Second || d > 60*time.Second+watchInterval(0)+5*time.Second {
			t.Errorf("ended %v after the last refresh, want 60 s (90 less 30) and one check", d)
		}
		abye := agent.Expect("BYE", 5*time.Second).(*sip.Request)
		agent.Respond(abye, 200, "OK")
		synctest.Wait()
		if got := h.transcript(); strings.Contains(got, reasonSessionExpired) || !strings.Contains(got, "EventReleased") {
			t.Errorf("transcript %q: want the call released, the agent not blamed", got)
		}
	})
}

// TestSessionTimerAgentPhoneDies: the agent's phone agreed to refresh the
// session (refresher=uas) and never does (it vanished, say while the call
// was on hold and so sent no RTP): the switch ends the call and makes the
// agent not ready (session_expired) rather than offering it the next
// call. The switch's INVITE offered the timer.
func TestSessionTimerAgentPhoneDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		answered := time.Now()
		caller, agent, _, _, offered := timedCall(t, h, "", "90;refresher=uas")
		if !strings.Contains(header(offered, "Supported"), "timer") || header(offered, "Session-Expires") != "1800;refresher=uas" {
			t.Errorf("INVITE to the agent: Supported %q, Session-Expires %q", header(offered, "Supported"), header(offered, "Session-Expires"))
		}
		bye := agent.Expect("BYE", 2*time.Minute).(*sip.Request)
		agent.Respond(bye, 200, "OK")
		if d := time.Since(answered); d < 60*time.Second || d > 70*time.Second {
			t.Errorf("ended %v after the answer, want 60 s and one check", d)
		}
		cbye := caller.Expect("BYE", 5*time.Second).(*sip.Request)
		caller.Respond(cbye, 200, "OK")
		synctest.Wait()
		got := h.transcript()
		if !strings.Contains(got, "EventAgentNotReady:"+reasonSessionExpired+" EventReleased") {
			t.Errorf("transcript %q: want the agent made not ready (session_expired) before the release", got)
		}
		if st := h.agentState(t, "a1"); st != tserver.NotReady {
			t.Errorf("agent state %v, want NotReady", st)
		}
	})
}

// TestSessionTimerSwitchRefreshes: the agent's phone makes the switch the
// refresher (refresher=uac): the switch sends a bodiless UPDATE at half
// the interval; while the phone answers 200 the call goes on; when it
// answers 481 (it lost the call), the call ends and the agent is made
// not ready.
func TestSessionTimerSwitchRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		answered := time.Now()
		caller, agent, _, _, _ := timedCall(t, h, "", "90;refresher=uac")
		upd := agent.Expect("UPDATE", 2*time.Minute).(*sip.Request)
		if d := time.Since(answered); d < 45*time.Second || d > 55*time.Second {
			t.Errorf("first refresh %v after the answer, want 45 s and one check", d)
		}
		if len(upd.Body()) != 0 || header(upd, "Session-Expires") == "" {
			t.Errorf("refresh: body %q, Session-Expires %q", upd.Body(), header(upd, "Session-Expires"))
		}
		res := sip.NewResponseFromRequest(upd, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Session-Expires", "90;refresher=uac"))
		agent.Send(res)
		upd = agent.Expect("UPDATE", 2*time.Minute).(*sip.Request)
		agent.Send(sip.NewResponseFromRequest(upd, 481, "Call/Transaction Does Not Exist", nil))
		bye := agent.Expect("BYE", 10*time.Second).(*sip.Request)
		agent.Respond(bye, 200, "OK")
		cbye := caller.Expect("BYE", 5*time.Second).(*sip.Request)
		caller.Respond(cbye, 200, "OK")
		synctest.Wait()
		if got := h.transcript(); !strings.Contains(got, "EventAgentNotReady:"+reasonSessionExpired+" EventReleased") {
			t.Errorf("transcript %q: want the agent made not ready (session_expired) before the release", got)
		}
	})
}
