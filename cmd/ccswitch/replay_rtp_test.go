package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// liveRTPHold: agent 1001 answers c1 on its phone and the caller hangs up
// 8 s later, against a serve whose --rtp-timeout is 2 s. Only if the
// caller and the agent's phone send RTP does the call last until the
// hangup: else the watchdog ends it after about 2 s and makes 1001 not
// ready (rtp_timeout).
const liveRTPHold = `center: CENTER
ring_timeout: 15s
end: 12s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 1s, call: c1, from: "+15551234", to: "5000"}
  - {at: 2s, agent: 1001, do: answer}
  - {at: 10s, call: c1, do: hangup}
expect:
  - {call: c1, event: EventRinging, agent: 1001, within: 1s}
  - {call: c1, event: EventEstablished, agent: 1001, within: 2s}
  - {call: c1, event: EventReleased, agent: 1001, within: 10s}
  - {never: {event: EventReleased, reason: rtp_timeout}}
  - {never: {event: EventAgentNotReady, reason: rtp_timeout}}
  - {at_end: {agent: 1001, state: ready}}
  - {at_end: {queue: support, offered: 1, answered: 1, abandoned: 0}}
`

// TestReplayRTP: the live callers and agents' phones send RTP, so a call
// held 8 s outlives serve's 2 s --rtp-timeout and ends by the caller's
// hangup.
func TestReplayRTP(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "rtp.yaml", strings.Replace(liveRTPHold, "CENTER", mustAbs(t, "../../examples/sip-center.yaml"), 1))
	out, _, err := replayExampleLiveServe(t, p, []string{"--rtp-timeout", "2s"}, "--slack", "1s")
	if err != nil {
		t.Fatalf("err %v, want every expectation met:\n%s", err, out)
	}
	if !strings.Contains(out, "7 expectations: 7 met, 0 failed") {
		t.Errorf("output lacks 7 met:\n%s", out)
	}
	// The release is the caller's hangup at 10 s, not the watchdog's
	// about 2 s after the answer at 2 s.
	m := regexp.MustCompile(`ok +c1 EventReleased agent 1001 at ([0-9.]+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no EventReleased line:\n%s", out)
	}
	if at, _ := strconv.ParseFloat(m[1], 64); at < 9.5 {
		t.Errorf("c1 released at %ss, want at the caller's hangup (10s):\n%s", m[1], out)
	}
}
