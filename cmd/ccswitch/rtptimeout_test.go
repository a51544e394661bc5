package main

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestSIPRTPTimeoutAgentGoesSilent: the agent's phone (SIPp) answers and
// then vanishes: no RTP, no BYE. The customer (SIPp) keeps talking (a
// G.711 recording). With --rtp-timeout 2s the switch ends the call within
// the timeout and one check: both phones get a BYE, the interaction is
// released, and the agent is left not ready (rtp_timeout), never ready on
// its dead phone.
func TestSIPRTPTimeoutAgentGoesSilent(t *testing.T) {
	const rtpTimeout = 2 * time.Second
	lc := sipCenter(t, "--rtp-timeout", rtpTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	phone := sippPhone(t, ctx, lc, "1001", "agent-goes-silent.xml", "-m", "1")
	caller := sippCall(t, ctx, lc, "caller-talks.xml", "-s", "5000", "-m", "1",
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(cctest.FreeUDPPort(t)), "-timeout", "30s")
	lc.waitFor(t, "the call established", 10*time.Second, hasEvent(tserver.EventEstablished, "1001", ""))
	established := time.Now()
	lc.waitFor(t, "the call released", rtpTimeout+5*time.Second, ended(1))
	took := time.Since(established)
	waitPeer(t, caller, 10*time.Second, "SIPp caller (gets the switch's BYE)")
	waitPeer(t, phone, 10*time.Second, "1001's silent phone (gets the switch's BYE)")
	lc.waitFor(t, "1001 not ready (rtp_timeout)", 5*time.Second, hasEvent(tserver.EventAgentNotReady, "1001", "rtp_timeout"))
	t.Logf("released %v after the agent answered", took)
	if took < rtpTimeout {
		t.Errorf("released %v after the answer, before the RTP timeout %v", took, rtpTimeout)
	}
	events := lc.snapshot()
	wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 "+
		"EventEstablished@1001 EventReleased@1001")
	agent := agentLines(events, "1001")
	if i := slices.Index(agent, "EventAgentNotReady@1001(rtp_timeout)"); i < 0 || slices.Contains(agent[i:], "EventAgentReady@1001") {
		t.Errorf("agent 1001: %v: want not ready (rtp_timeout) and never ready again", agent)
	}
	if state, reason := agentState(t, lc, "1001"); state != tserver.NotReady || reason != "rtp_timeout" {
		t.Errorf("agent 1001 is %v (%q), want NotReady (rtp_timeout)", state, reason)
	}
	checkStats(t, lc, 1, 1, 0)
}
