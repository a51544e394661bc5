package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// liveExampleCenter writes the center file an example script names
// (examples/NAME) as serve must run it for --live: the same, plus a
// monitor user (and, with router, a router user) whose tokens serve and
// the replay read from the environment, and the agents who would log in
// by themselves at start (no password, no ready) logged out, since
// scripts log their agents in. Tests using it run in parallel, where
// t.Setenv is refused: the variables are the test's own, set with
// os.Setenv and removed when it ends.
func liveExampleCenter(t *testing.T, name string, router bool, change func(map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../examples", name))
	if err != nil {
		t.Fatal(err)
	}
	var center map[string]any
	if err := yaml.Unmarshal(data, &center); err != nil {
		t.Fatal(err)
	}
	prefix := "CCSWITCH_" + strings.ToUpper(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	setenv := func(key, value string) {
		if err := os.Setenv(key, value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Unsetenv(key) })
	}
	setenv(prefix+"_MONITOR_TOKEN", "replay-monitor-token-0123456789")
	users := []any{map[string]any{"name": "wallboard", "roles": []any{"monitor"}, "token_env": prefix + "_MONITOR_TOKEN"}}
	if router {
		setenv(prefix+"_ROUTER_TOKEN", "replay-router-token-0123456789")
		users = append(users, map[string]any{"name": "router", "roles": []any{"router"}, "token_env": prefix + "_ROUTER_TOKEN"})
	}
	center["users"] = users
	if change != nil {
		change(center)
	}
	agents, _ := center["agents"].([]any)
	for _, a := range agents {
		if a, ok := a.(map[string]any); ok && a["ready"] == nil && a["password"] == nil {
			a["ready"] = false
		}
	}
	out, err := yaml.Marshal(center)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "center.yaml", string(out))
}

// voiceOnSIPPhones changes a center's voice queues and agents to VoIP
// and gives every agent who takes calls a SIP phone (password secret):
// serve cannot replay the examples' voice calls as they are, because
//   - every call INVITEd to serve is a VoIP call (serve configures no
//     switched-network trunk, sipgw.Config.SwitchedTrunks), and a queue or
//     route point of media voice refuses it: tserver "queue sales takes
//     voice, not voip", 400 Bad Request to the INVITE;
//   - a call offered to an agent without a registered phone (a CTI-only
//     desk) is refused at once: EventRinging, then EventReleased reason
//     unreachable and the agent EventAgentNotReady reason unreachable;
//     no CTI RequestAnswerCall can take it.
func voiceOnSIPPhones(center map[string]any) {
	queues, _ := center["queues"].([]any)
	for _, q := range queues {
		if q, ok := q.(map[string]any); ok && q["media"] == "voice" {
			q["media"] = "voip"
		}
	}
	agents, _ := center["agents"].([]any)
	for _, a := range agents {
		a, ok := a.(map[string]any)
		if !ok {
			continue
		}
		if capacity, ok := a["capacity"].(map[string]any); ok {
			if n, ok := capacity["voice"]; ok {
				delete(capacity, "voice")
				capacity["voip"] = n
				if n != 0 && a["password"] == nil {
					a["password"] = "secret"
				}
			}
		}
		if block, ok := a["block"].(map[string]any); ok {
			if b, ok := block["voice"]; ok {
				delete(block, "voice")
				block["voip"] = b
			}
		}
	}
}

// scriptRingTimeout is the ring_timeout of script p, "" when it sets
// none: serve must ring as long.
func scriptRingTimeout(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		RingTimeout string `yaml:"ring_timeout"`
	}
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s.RingTimeout
}

// liveExampleCase is one replay of an example: as it is, or with one
// line changed (then it must exit 1 with want in its output).
type liveExampleCase struct {
	name, from, to string
	want           []string
	fail           bool
}

// replayExampleOnCenter replays examples/replay/SCRIPT against serve running
// in process on the example's center (liveExampleCenter), once per case,
// the cases in parallel (each takes the script's wall-clock time).
func replayExampleOnCenter(t *testing.T, script, centerName string, router bool, change func(map[string]any), cases []liveExampleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			center := liveExampleCenter(t, centerName, router, change)
			args := []string{"serve", "--log-level", "warn", "--config", center,
				"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "cc.db")}
			p := filepath.Join("../../examples/replay", script)
			if rt := scriptRingTimeout(t, p); rt != "" {
				args = append(args, "--ring-timeout", rt)
			}
			lc := startServe(t, args)
			if tc.from != "" {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(data), tc.from) {
					t.Fatalf("%s has no %q to change", script, tc.from)
				}
				// The copy names its center by an absolute path.
				changed := strings.Replace(string(data), tc.from, tc.to, 1)
				changed = strings.Replace(changed, "center: ../"+centerName, "center: "+mustAbs(t, "../../examples/"+centerName), 1)
				p = writeFile(t, script, changed)
			}
			addrs := lc.m.center.Addrs()
			out, _, err := runMain(t, "replay", p, "--config", center, "--live", addrs.HTTP, "--sip", addrs.SIP)
			switch {
			case tc.fail && !errors.Is(err, errExpectations):
				t.Errorf("err %v, want exit 1 (%v)", err, errExpectations)
			case !tc.fail && err != nil:
				t.Errorf("err %v, want exit 0", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// TestReplayLiveOverflow replays examples/replay/overflow.yaml as it is
// (three minutes): the call waits in sales, overflows to backup after
// 30 s and Bea answers it (auto_answer) and releases it 2 min later. The
// center's calls are VoIP and Bea has a phone (voiceOnSIPPhones says why).
func TestReplayLiveOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the script's three minutes")
	}
	t.Parallel()
	replayExampleOnCenter(t, "overflow.yaml", "replay-center.yaml", false, voiceOnSIPPhones, []liveExampleCase{
		{name: "as is", want: []string{"8 expectations: 8 met, 0 failed"}},
	})
}

// TestReplayLiveRouter replays examples/replay/router.yaml as it is: the
// external router (a CTI user with role router) sends c1 to vip after
// 1 s; once it stops, c2 waits the route point's timeout and goes to
// sales. A copy whose router targets backup instead exits 1. The
// center's calls are VoIP and Bea has a phone (voiceOnSIPPhones says why).
func TestReplayLiveRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the script's two minutes")
	}
	t.Parallel()
	replayExampleOnCenter(t, "router.yaml", "replay-center.yaml", true, voiceOnSIPPhones, []liveExampleCase{
		{name: "as is", want: []string{"8 expectations: 8 met, 0 failed"}},
		{name: "another target", from: `router: "5000", target: vip`, to: `router: "5000", target: backup`, fail: true,
			want: []string{"FAIL c1 EventRouteUsed queue vip within 1s", "what happened to c1:", "EventRouteUsed queue backup"}},
	})
}

// TestReplayLiveChatWaits replays examples/replay/chat-waits.yaml as it
// is: two web chats keep Cat busy, the third customer writes over SIP
// MESSAGE, waits, hears her position and the callback offer, and takes
// it.
func TestReplayLiveChatWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the script's two and a half minutes")
	}
	t.Parallel()
	replayExampleOnCenter(t, "chat-waits.yaml", "im-center.yaml", false, nil, []liveExampleCase{
		{name: "as is", want: []string{"10 expectations: 10 met, 0 failed"}},
	})
}

// TestReplayLiveRouterNeedsUser: a script with an external router
// against a center without a router user is refused before it plays,
// naming the router action's file and line.
func TestReplayLiveRouterNeedsUser(t *testing.T) {
	_, _, err := runMain(t, "replay", "../../examples/replay/router.yaml", "--live", "127.0.0.1:1", "--sip", "127.0.0.1:5060")
	if err == nil || !strings.Contains(err.Error(), "router.yaml:9: script[2]: the external router at 5000 needs a user with role router") {
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
	center := liveExampleCenter(t, "im-center.yaml", false, nil)
	lc := startServe(t, []string{"serve", "--config", center, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
		"--log-level", "warn", "--store", filepath.Join(t.TempDir(), "cc.db")})
	p := writeFile(t, "auto.yaml", strings.Replace(liveAutoAnswer, "CENTER", center, 1))
	out, _, err := runMain(t, "replay", p, "--live", lc.m.center.Addrs().HTTP, "--slack", "1s")
	if err != nil || !strings.Contains(out, "5 expectations: 5 met, 0 failed") {
		t.Fatalf("err %v, want exit 0 with every expectation met:\n%s", err, out)
	}
}
