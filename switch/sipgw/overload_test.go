package sipgw

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestOverloadRefusesPastSetups: with as many INVITE server transactions
// in progress as MaxSetups (here a caller that never ACKs the switch's
// 200), a new INVITE is answered 503 with Retry-After at once, without an
// RTP port or any work in the domain; its retransmission gets the same
// 503 from the transaction layer; once the set-up is over, calls are
// admitted again.
func TestOverloadRefusesPastSetups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second, func(c *Config) { c.MaxSetups = 1 })
		defer h.stop()
		slow := h.phone("127.0.0.1:7002")
		slow.Call("setup-1")
		slow.Expect("200", 5*time.Second) // not acknowledged: still a set-up
		if setups, _ := h.gw.Overload(); setups != 1 {
			t.Fatalf("set-ups in progress %d, want 1", setups)
		}
		h.mu.Lock()
		ports := h.rtpPorts
		h.mu.Unlock()

		next := h.phone("127.0.0.1:7003")
		inv := next.Call("setup-2")
		start := time.Now()
		res := next.Expect("503", 5*time.Second).(*sip.Response)
		if d := time.Since(start); d > 0 {
			t.Errorf("503 after %v, want at once", d)
		}
		if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "2" {
			t.Errorf("503 Retry-After %v, want 2", ra)
		}
		if !strings.Contains(res.Reason, "overload") {
			t.Errorf("503 reason %q", res.Reason)
		}
		// The caller's retransmission of the same INVITE: the same 503,
		// from the transaction, without a second refusal by the gateway.
		next.Send(inv)
		next.Expect("503", 5*time.Second)
		if _, refused := h.gw.Overload(); refused != 1 {
			t.Errorf("refused %d INVITEs, want 1 (the retransmission absorbed)", refused)
		}
		h.mu.Lock()
		if h.rtpPorts != ports {
			t.Errorf("the refused INVITE took an RTP port")
		}
		h.mu.Unlock()
		synctest.Wait()
		if got := h.transcript(); strings.Count(got, "EventQueued") != 1 {
			t.Errorf("transcript %q: want only the first call in the domain", got)
		}

		// The first set-up ends (its 200 never acknowledged, retransmitted
		// until 64*T1); new calls are admitted again.
		for slow.Recv(10*time.Second) != nil {
		}
		synctest.Wait()
		if setups, _ := h.gw.Overload(); setups != 0 {
			t.Fatalf("set-ups in progress %d after the first ended, want 0", setups)
		}
		third := h.phone("127.0.0.1:7004")
		inv3 := third.Call("setup-3")
		ok := third.Expect("200", 5*time.Second).(*sip.Response)
		third.Ack(inv3, ok)
		third.HangUp(inv3, ok)
	})
}

// TestOverloadRefusesPastLoopBacklog: with more work waiting on the
// domain's loop than MaxLoopBacklog, a new INVITE gets 503 with
// Retry-After at once, before anything is posted to the loop.
func TestOverloadRefusesPastLoopBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second, func(c *Config) { c.MaxLoopBacklog = 5 })
		defer h.stop()
		block := make(chan struct{})
		h.loop.Post(func() { <-block })
		for range 5 {
			h.loop.Post(func() {})
		}
		synctest.Wait()
		caller := h.phone("127.0.0.1:7002")
		caller.Call("backlog-1")
		res := caller.Expect("503", time.Second).(*sip.Response)
		if res.GetHeader("Retry-After") == nil {
			t.Error("503 without Retry-After")
		}
		h.mu.Lock()
		if h.rtpPorts != 0 {
			t.Errorf("the refused INVITE took an RTP port")
		}
		h.mu.Unlock()
		close(block)
		synctest.Wait()
		// The loop caught up: the next call is taken.
		next := h.phone("127.0.0.1:7003")
		inv := next.Call("backlog-2")
		ok := next.Expect("200", 5*time.Second).(*sip.Response)
		next.Ack(inv, ok)
		next.HangUp(inv, ok)
		synctest.Wait()
		if got := h.transcript(); strings.Count(got, "EventQueued") != 1 {
			t.Errorf("transcript %q: want only the second call in the domain", got)
		}
	})
}

// TestDefaultMaxCallsFitsRTPPorts: the default call limit never exceeds
// what the RTP port range carries (one even port a call).
func TestDefaultMaxCallsFitsRTPPorts(t *testing.T) {
	h := tmStart(t, time.Second, func(c *Config) { c.RTPPortMin, c.RTPPortMax = 20000, 20009 })
	defer h.stop()
	if got := h.gw.cfg.MaxCalls; got != 5 {
		t.Errorf("default MaxCalls with RTP ports 20000-20009 = %d, want 5 (5 ports, room for no set-up)", got)
	}
	h2 := tmStart(t, time.Second)
	defer h2.stop()
	if got := h2.gw.cfg.MaxCalls; got > 5000-200 {
		t.Errorf("default MaxCalls with RTP ports 20000-29999 = %d, want at most 4800 (room for 200 set-ups)", got)
	}
	for _, tt := range []struct{ min, max, want int }{{20000, 29999, 5000}, {20001, 20004, 2}, {20000, 20000, 1}, {1, 65535, 32767}} {
		if got := rtpPortCalls(tt.min, tt.max); got != tt.want {
			t.Errorf("rtpPortCalls(%d, %d) = %d, want %d", tt.min, tt.max, got, tt.want)
		}
	}
}

// TestOverloadRefusesPastWaitingCalls: with MaxPlaying calls already
// waiting on the switch's announcements (no agent is there to take them),
// a new INVITE is answered 503 with Retry-After at once; when a waiting
// caller hangs up, calls are admitted again.
func TestOverloadRefusesPastWaitingCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second, func(c *Config) { c.MaxPlaying = 1 })
		defer h.stop()
		first := h.phone("127.0.0.1:7102")
		inv := first.Call("waiting-1")
		ok := first.Expect("200", 5*time.Second).(*sip.Response)
		first.Ack(inv, ok)
		synctest.Wait()
		if n := h.gw.playing.Load(); n != 1 {
			t.Fatalf("%d calls hearing announcements, want 1", n)
		}

		second := h.phone("127.0.0.1:7103")
		second.Call("waiting-2")
		res := second.Expect("503", 5*time.Second).(*sip.Response)
		if !strings.Contains(res.Reason, "calls waiting") || res.GetHeader("Retry-After") == nil {
			t.Errorf("503 %q, Retry-After %v", res.Reason, res.GetHeader("Retry-After"))
		}

		first.HangUp(inv, ok)
		synctest.Wait()
		if n := h.gw.playing.Load(); n != 0 {
			t.Fatalf("%d calls hearing announcements after the hang-up, want 0", n)
		}
		third := h.phone("127.0.0.1:7104")
		inv3 := third.Call("waiting-3")
		ok3 := third.Expect("200", 5*time.Second).(*sip.Response)
		third.Ack(inv3, ok3)
		third.HangUp(inv3, ok3)
	})
}
