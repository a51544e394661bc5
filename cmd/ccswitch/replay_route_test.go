package main

import (
	"strings"
	"testing"
)

// TestReplayLiveRouterWrongTarget: a copy of examples/replay/router.yaml
// whose external router (a CTI user with role router) sends c1 to backup
// instead of vip, replayed against serve, exits 1 with what happened to
// c1 (TestReplayExamplesLive replays the example itself).
func TestReplayLiveRouterWrongTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("replays on the wall clock")
	}
	t.Parallel()
	p := wrongCopy(t, "router.yaml", `router: "5000", target: vip`, `router: "5000", target: backup`)
	out, err := replayExampleLive(t, p)
	expectFailure(t, out, err, "FAIL c1 EventRouteUsed queue vip within 1s", "what happened to c1:", "EventRouteUsed queue backup")
}

// TestReplayLiveRouterNeedsUser: a script with an external router
// against a center without a router user is refused before it plays,
// naming the router action's file and line.
func TestReplayLiveRouterNeedsUser(t *testing.T) {
	_, _, err := runMain(t, "replay", "../../examples/replay/router.yaml", "--live", "127.0.0.1:1", "--sip", "127.0.0.1:5060")
	if err == nil || !strings.Contains(err.Error(), "router.yaml:10: script[2]: the external router at 5000 needs a user with role router") {
		t.Fatalf("err %v, want the router action refused by file:line", err)
	}
}

// liveAutoAnswer: Cat's desktop answers a web chat 1 s after it rings
// and releases it 2 s later (over CTI); after manual, the next chat
// rings unanswered.
const liveAutoAnswer = `center: CENTER
end: 15s
script:
  - {at: 0s, agent: cat, do: login_ready}
  - {at: 0s, agent: cat, do: auto_answer, answer_after: 1s, release_after: 2s}
  - {at: 1s, chat: k1, network: webchat, from: visitor-1, client: "Firefox 128", say: ["hi", "agent"]}
  - {at: 8s, agent: cat, do: manual}
  - {at: 9s, chat: k2, network: webchat, from: visitor-2, client: "Firefox 128", say: ["hi", "agent"]}
expect:
  - {chat: k1, event: EventRinging, agent: cat, within: 4s}
  - {chat: k1, event: EventEstablished, agent: cat, within: 5s}
  - {chat: k1, event: EventReleased, agent: cat, within: 7s}
  - {chat: k2, event: EventRinging, agent: cat, within: 4s}
  - {never: {chat: k2, event: EventEstablished}}
`

// TestReplayLiveAutoAnswer replays auto_answer and manual over CTI
// against the IM center in process.
func TestReplayLiveAutoAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("replays on the wall clock")
	}
	t.Parallel()
	p := writeFile(t, "auto.yaml", strings.Replace(liveAutoAnswer, "CENTER", mustAbs(t, "../../examples/im-center.yaml"), 1))
	out, err := replayExampleLive(t, p)
	if err != nil || !strings.Contains(out, "5 expectations: 5 met, 0 failed") {
		t.Fatalf("err %v, want exit 0 with every expectation met:\n%s", err, out)
	}
}
