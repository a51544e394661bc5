package main

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// liveRingNoAnswer is examples/replay/ring-no-answer.yaml on a shorter
// timeline (ring timeout 3 s): agent 1001's phone lets the call ring, it
// goes back to the queue and rings at 1002, whose phone answers.
const liveRingNoAnswer = `center: CENTER
ring_timeout: 3s
end: 8s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 0.3s, agent: 1002, do: login_ready}
  - {at: 1s, call: c1, from: "+15551234", to: "5000"}
  - {at: 5s, agent: 1002, do: answer}
  - {at: 6s, call: c1, do: hangup}
expect:
  - {call: c1, event: EventRinging, agent: 1001, within: 1s}
  - {call: c1, event: EventReleased, agent: 1001, reason: ring_no_answer, within: 4s}
  - {call: c1, event: EventRinging, agent: 1002, within: 4s}
  - {call: c1, event: EventEstablished, agent: 1002, within: 5s}
  - {never: {event: EventEstablished, agent: 1001}}
  - {at_end: {agent: 1001, state: not_ready}}
  - {at_end: {agent: 1002, state: ready}}
  - {at_end: {queue: support, offered: 1, answered: 1, abandoned: 0}}
`

// liveCenterWithMonitor is an example center with a monitor user whose
// token serve and the replay read from the environment.
func liveCenterWithMonitor(t *testing.T, example string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/" + example)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCSWITCH_REPLAY_MONITOR_TOKEN", "replay-monitor-token-0123456789")
	return writeFile(t, "center.yaml", string(data)+
		"users:\n  - {name: wallboard, roles: [monitor], token_env: CCSWITCH_REPLAY_MONITOR_TOKEN}\n")
}

// TestReplayLive replays a script against serve running in process: the
// callers and agents' phones over SIP, the agents over CTI, the events
// watched by a monitor; a copy with one wrong expectation exits 1 with
// its diff.
func TestReplayLive(t *testing.T) {
	center := liveCenterWithMonitor(t, "sip-center.yaml")
	for _, tc := range []struct {
		name, center, from, to string
		want                   []string
		fail                   bool
	}{
		{name: "good", want: []string{"8 expectations: 8 met, 0 failed"}},
		// Without a monitor user the agents' own sessions are the stream.
		{name: "no monitor", center: mustAbs(t, "../../examples/sip-center.yaml"), want: []string{"8 expectations: 8 met, 0 failed"}},
		{name: "wrong agent", from: "event: EventEstablished, agent: 1002, within: 5s", to: "event: EventEstablished, agent: 1003, within: 5s",
			fail: true, want: []string{"FAIL c1 EventEstablished agent 1003 within 5s: never came", "what happened to c1:", "EventEstablished agent agent-02 (1002)", "7 met, 1 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			center := cmp.Or(tc.center, center)
			lc := startServe(t, []string{"serve", "--log-level", "warn", "--config", center,
				"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--ring-timeout", "3s"})
			addrs := lc.m.center.Addrs()
			script := strings.Replace(liveRingNoAnswer, "CENTER", center, 1)
			if tc.from != "" {
				script = strings.Replace(script, tc.from, tc.to, 1)
			}
			p := writeFile(t, "live.yaml", script)
			out, _, err := runMain(t, "replay", p, "--live", addrs.HTTP, "--sip", addrs.SIP, "--slack", "1s")
			checkReplay(t, out, err, tc.fail, tc.want...)
		})
	}
}

// TestReplayLiveRefuses: what --live cannot do yet is refused by name,
// with the script's file and line, before anything is played.
func TestReplayLiveRefuses(t *testing.T) {
	p := writeFile(t, "chat.yaml", "center: "+mustAbs(t, "../../examples/im-center.yaml")+`
script:
  - {at: 0s, agent: ann, do: login_ready}
  - {at: 1s, chat: k1, network: sip, from: "sip:carol@example.test", say: hi}
expect:
  - {chat: k1, hears: "hello", within: 5s}
`)
	_, _, err := runMain(t, "replay", p, "--live", "127.0.0.1:1")
	if err == nil || errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "chat.yaml:4: script[1]: --live: chat k1 on network sip needs the switch's SIP address (--sip)") {
		t.Fatalf("err %v, want exit 1 naming the chat", err)
	}
	if _, _, err := runMain(t, "replay", p, "--sip", "127.0.0.1:5060"); !errors.As(err, new(*usageError)) {
		t.Fatalf("--sip without --live: %v, want exit 2", err)
	}
}

// liveWebChat: a web chat customer asks for an agent; Cat's CTI desktop
// answers and writes to her, then ends the chat.
const liveWebChat = `center: CENTER
end: 9s
script:
  - {at: 0s, agent: cat, do: login_ready}
  - {at: 1s, chat: k1, network: webchat, from: visitor-1, client: "Firefox 128", say: ["hi", "agent"]}
  - {at: 5s, agent: cat, do: answer}
  - {at: 6s, agent: cat, say: "Hello, how can I help?"}
  - {at: 7s, agent: cat, do: release}
expect:
  - {chat: k1, event: EventQueued, queue: chat-general, within: 4s}
  - {chat: k1, event: EventRinging, agent: cat, within: 4s}
  - {chat: k1, event: EventEstablished, agent: cat, within: 5s}
  - {chat: k1, hears: "how can I help", within: 6s}
  - {never: {chat: k1, event: EventRinging, agent: ann}}
  - {at_end: {queue: chat-general, offered: 1, answered: 1}}
`

// TestReplayLiveWebChat replays a web chat against the IM center in
// process (no XMPP server needed), and a copy whose customer must hear
// what no one says (exit 1, with what she heard).
func TestReplayLiveWebChat(t *testing.T) {
	center := liveCenterWithMonitor(t, "im-center.yaml")
	for _, tc := range []struct {
		name, from, to string
		want           []string
		fail           bool
	}{
		{name: "good", want: []string{"6 expectations: 6 met, 0 failed"}},
		{name: "wrong hears", from: `hears: "how can I help"`, to: `hears: "how may I help"`, fail: true,
			want: []string{`FAIL k1 hears "how may I help" within 6s`, "what k1 heard:", `"Cat: Hello, how can I help?"`, "5 met, 1 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := startServe(t, []string{"serve", "--config", center, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
				"--log-level", "warn", "--store", filepath.Join(t.TempDir(), "cc.db")})
			script := strings.Replace(liveWebChat, "CENTER", center, 1)
			if tc.from != "" {
				script = strings.Replace(script, tc.from, tc.to, 1)
			}
			p := writeFile(t, "chat.yaml", script)
			out, _, err := runMain(t, "replay", p, "--live", lc.m.center.Addrs().HTTP, "--slack", "1s")
			checkReplay(t, out, err, tc.fail, tc.want...)
		})
	}
}
