package replay

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

const examples = "../../examples/replay"

func exampleFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := files
	if len(out) < 6 {
		t.Fatalf("only %d example scripts in %s", len(out), examples)
	}
	return out
}

func mustLoad(t testing.TB, path string) *Script {
	t.Helper()
	s, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func textOf(t testing.TB, res *Result) string {
	t.Helper()
	var rep Report
	rep.Add(res)
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReplayExamplesPass: every example meets every expectation, and gives the
// same JSON bytes on a second run.
func TestReplayExamplesPass(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var first []byte
			for range 2 {
				res, err := Run(mustLoad(t, f))
				if err != nil {
					t.Fatal(err)
				}
				if res.Failed > 0 || res.Met != len(mustLoad(t, f).Expect) || len(res.ActionErrors) > 0 {
					t.Fatalf("%d met, %d failed, action errors %v:\n%s", res.Met, res.Failed, res.ActionErrors, textOf(t, res))
				}
				var rep Report
				rep.Add(res)
				var b bytes.Buffer
				if err := rep.WriteJSON(&b); err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = b.Bytes()
				} else if !bytes.Equal(first, b.Bytes()) {
					t.Fatalf("second run's JSON differs:\n%s\nvs\n%s", first, b.Bytes())
				}
			}
		})
	}
}

// replaced loads example name with old replaced by new (once, and it must
// be there), against the example's own center.
func replaced(t *testing.T, name, old, new string) *Script {
	t.Helper()
	path := filepath.Join(examples, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), old) != 1 {
		t.Fatalf("%s holds %q %d times, want once", name, old, strings.Count(string(data), old))
	}
	center := mustLoad(t, path).Center
	s, err := Parse(path, []byte(strings.Replace(string(data), old, new, 1)), center)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReplayWrongExpectationsFail: a copy of each example with one expectation
// changed fails that expectation only, with a diff that says what
// happened instead.
func TestReplayWrongExpectationsFail(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string
	}{
		{"another agent", "ring-no-answer.yaml",
			"{call: c1, event: EventEstablished, agent: 1002, within: 20s}", "{call: c1, event: EventEstablished, agent: 1003, within: 20s}",
			[]string{"FAIL c1 EventEstablished agent 1003 within 20s: never came by the end", "expected: c1 EventEstablished agent 1003 by 25s",
				"22s  EventEstablished agent agent-02 (1002) queue support", "and to agent agent-03 (1003) from 5s:", "(nothing)"}},
		{"a shorter within", "blended.yaml",
			"{chat: k1, event: EventRinging, agent: liz, within: 51s}", "{chat: k1, event: EventRinging, agent: liz, within: 30s}",
			[]string{"FAIL k1 EventRinging agent liz within 30s: came too late: at 1m0s (+50s after k1 began), want within 30s",
				"got:      EventRinging agent liz (2003) queue chats at 1m0s", "c1 EventReleased agent liz (2003) queue vip"}},
		{"a wrong count", "overflow.yaml",
			"{at_end: {queue: sales, offered: 1, answered: 1, abandoned: 0}}", "{at_end: {queue: sales, offered: 1, answered: 1, abandoned: 1}}",
			[]string{"FAIL at_end queue sales: offered 1, answered 1, abandoned 1: abandoned 0, want 1",
				"got:      offered 1, answered 1, abandoned 0, callback 0, waiting 0", "c1 EventDiverted queue sales reason overflow"}},
		{"a hears that never comes", "chat-routing.yaml",
			`{chat: k1, hears: "You are now chatting with Ann.", within: 20s}`, `{chat: k1, hears: "You are now chatting with Bob.", within: 20s}`,
			[]string{`FAIL k1 hears "You are now chatting with Bob." within 20s: never came by the end`, "what k1 heard:",
				`20s  "You are now chatting with Ann."`, "EventEstablished agent ann queue chat-general"}},
		{"a never that happens", "chat-waits.yaml",
			"{never: {chat: k3, event: EventRinging}}", "{never: {chat: k2, event: EventRinging}}",
			[]string{"FAIL never k2 EventRinging: happened at 3s: EventRinging agent cat queue chat-general", "what happened to k2:"}},
		{"another client", "chat-routing.yaml",
			`agent_has: {skill: chat-general, client: "AliceChat 2.1"}`, `agent_has: {skill: chat-general, client: "BobIM"}`,
			[]string{"FAIL k1 EventRinging agent ann agent_has skill chat-general agent_has client BobIM within 10s", "EventRinging agent ann queue chat-general"}},
		{"an agent's state", "chat-waits.yaml",
			"{at_end: {agent: cat, state: busy}}", "{at_end: {agent: cat, state: ready}}",
			[]string{"FAIL at_end agent cat ready: busy, want ready", "the last events of agent cat:"}},
		{"another device", "callback-presence.yaml",
			`{phone: "+15550003", rings: true, callback: cb2, within: 5s}`, `{phone: "7003", rings: true, callback: cb2, within: 5s}`,
			[]string{"FAIL phone 7003 rings for cb2 within 5s: never came by the end (35s)", "the customers' phones rang:",
				"20s  phone +15550003 for cb2", "22s  cb2 by phone to +15550003: answered"}},
		{"a shorter within for a ring", "callback-presence.yaml",
			`{phone: "7003", rings: true, callback: cb1, within: 5s}`, `{phone: "7003", rings: true, callback: cb1, within: 1s}`,
			[]string{"FAIL phone 7003 rings for cb1 within 1s: came too late: at 3s (+2s after cb1 was requested), want within 1s",
				"3s  phone 7003 for cb1", "EventEstablished agent agent-01 (1001) queue support-callback"}},
		{"a wrong result", "callback-presence.yaml",
			"{callback: cb1, medium: sip, result: answered, within: 10s}", "{callback: cb1, medium: sip, result: busy, within: 10s}",
			[]string{"FAIL cb1 by sip busy within 10s: never came by the end", "5s  cb1 by sip to 7003: answered"}},
		{"a phone that rings", "callback-presence.yaml",
			`{never: {phone: "7003", callback: cb2}}`, `{never: {phone: "7003", callback: cb1}}`,
			[]string{"FAIL never phone 7003 rings for cb1: happened at 3s: phone 7003 rang for cb1", "got:      phone 7003 rang for cb1 at 3s"}},
		{"a callback's state", "callback-presence.yaml",
			"{at_end: {callback: cb2, state: done}}", "{at_end: {callback: cb2, state: failed}}",
			[]string{"FAIL at_end callback cb2 failed: done, want failed", "expected: callback cb2 failed at the end", "got:      done"}},
		{"another queue at the route point", "router.yaml",
			"{call: c1, event: EventRouteUsed, queue: vip, within: 1s}", "{call: c1, event: EventRouteUsed, queue: sales, within: 1s}",
			[]string{"FAIL c1 EventRouteUsed queue sales within 1s", "EventRouteUsed queue vip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := replaced(t, tc.file, tc.old, tc.new)
			res, err := Run(s)
			if err != nil {
				t.Fatal(err)
			}
			out := textOf(t, res)
			if res.Failed != 1 || res.Met != len(s.Expect)-1 {
				t.Fatalf("%d met, %d failed, want exactly the changed one to fail:\n%s", res.Met, res.Failed, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			for _, o := range res.Expectations {
				if !o.Met && len(o.Events) == 0 && len(o.Heard) == 0 && len(o.Rings) == 0 && len(o.Attempts) == 0 {
					t.Errorf("the failure of %s has no events for tools", o.Expect)
				}
			}
		})
	}
}

const brokenCenter = `
queues: [{name: support, media: voice, number: "6000"}, {name: chats, media: im}]
agents: [{group: agent, count: 3, first_number: 1001, skills: {support: 5, chats: 5}}]
im: {bot: {greeting: hi}}
`

// TestReplayBrokenScripts: every error names the file, line and field; all the
// errors of a file come at once.
func TestReplayBrokenScripts(t *testing.T) {
	center, err := config.Parse("center.yaml", []byte(brokenCenter))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, script string
		want         []string
	}{
		{"unknown action", "script:\n  - {at: 1s, dance: tango}\n",
			[]string{`s.yaml:2:14: script[0].dance: unknown field "dance"`, "s.yaml:2:5: script[0]: unknown action: name one of agent, call, chat, presence, router, callback or phone"}},
		{"unknown do", "script:\n  - {at: 1s, agent: 1001, do: dance}\n",
			[]string{`s.yaml:2:31: script[0].do: unknown action "dance" (want one of login_ready`}},
		{"bad time", "script:\n  - {at: 0s, agent: 1001, do: login_ready}\n  - {at: 1x, call: c1, to: \"6000\"}\n",
			[]string{`s.yaml:3:10: script[1].at: bad time "1x"`}},
		{"unknown agent", "script:\n  - {at: 0s, agent: 1099, do: login_ready}\n",
			[]string{"s.yaml:2:21: script[0].agent: no agent 1099 in the center"}},
		{"chat without network", "script:\n  - {at: 0s, chat: k1, from: a@b.test, say: hi}\n",
			[]string{"s.yaml:2:20: script[0]: chat without network"}},
		{"unknown number", "script:\n  - {at: 0s, call: c1, to: \"5999\"}\n",
			[]string{"script[0].to: no route point, queue or extension 5999"}},
		{"all at once", "script:\n  - {at: 1x, agent: 1099, do: login_ready}\n  - {at: 2s, chat: k1, from: x, say: hi}\nexpect:\n  - {call: c9, event: EventNope}\n",
			[]string{`script[0].at: bad time "1x"`, "script[0].agent: no agent 1099", "script[1]: chat without network",
				"s.yaml:5:12: expect[0].call: no call c9 in the script", `expect[0].event: unknown event "EventNope"`}},
		{"hears on a call", "script:\n  - {at: 0s, call: c1, to: \"6000\"}\nexpect:\n  - {call: c1, hears: hello}\n",
			[]string{"expect[0].hears: hears is what a chat customer receives: name the chat"}},
		{"unknown expectation field", "script:\n  - {at: 0s, call: c1, to: \"6000\"}\nexpect:\n  - {call: c1, event: EventQueued, whithin: 3s}\n",
			[]string{`expect[0].whithin: unknown field "whithin"`}},
		{"syntax", "script:\n  - {at: 0s, call: c1\n",
			[]string{"s.yaml:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadError(t, tc.script, center, tc.want...)
		})
	}
}

// wantLoadError parses script (as s.yaml) against center and wants a
// *LoadError holding each of want.
func wantLoadError(t *testing.T, script string, center *config.File, want ...string) {
	t.Helper()
	_, err := Parse("s.yaml", []byte(script), center)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LoadError", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error lacks %q:\n%v", w, err)
		}
	}
}

// TestReplayBrokenCallbackScripts: callbacks and customers' phones that
// cannot be played are errors naming file, line and field.
func TestReplayBrokenCallbackScripts(t *testing.T) {
	center, err := config.Load(filepath.Join(examples, "..", "callback-center.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, script string
		want         []string
	}{
		{"unknown customer", "script:\n  - {at: 1s, callback: cb1, customer: C9999, queue: support}\n",
			[]string{"s.yaml:2:39: script[0].customer: no customer C9999 in the center"}},
		{"customer and number", "script:\n  - {at: 1s, callback: cb1, customer: C1001, number: \"+1555\", queue: support}\n",
			[]string{"s.yaml:2:54: script[0].number: a callback calls back a customer or a number, not both"}},
		{"neither", "script:\n  - {at: 1s, callback: cb1, queue: support}\n",
			[]string{"s.yaml:2:24: script[0].customer: a callback needs customer"}},
		{"a queue without callbacks", "script:\n  - {at: 1s, callback: cb1, number: \"+1555\", queue: nowhere}\n",
			[]string{"s.yaml:2:53: script[0].queue: no queue nowhere taking callbacks"}},
		{"bad mode", "script:\n  - {at: 1s, callback: cb1, number: \"+1555\", queue: support, mode: now}\n",
			[]string{`s.yaml:2:68: script[0].mode: unknown mode "now" (want agent_first or customer_first)`}},
		{"bad number", "script:\n  - {at: 1s, callback: cb1, number: call-me, queue: support}\n",
			[]string{`s.yaml:2:37: script[0].number: bad number "call-me"`}},
		{"unknown phone", "script:\n  - {at: 0s, phone: alice, do: register}\n",
			[]string{"s.yaml:2:21: script[0].phone: no phone alice: want a SIP softphone of the center's customers"}},
		{"a number registers", "script:\n  - {at: 0s, phone: \"+15550001\", do: register}\n",
			[]string{"s.yaml:2:38: script[0].do: +15550001 is a number, not a softphone"}},
		{"unknown phone action", "script:\n  - {at: 0s, phone: \"7001\", do: dial}\n",
			[]string{`s.yaml:2:33: script[0].do: unknown phone action "dial"`}},
		{"answer_after on answer", "script:\n  - {at: 0s, phone: \"7001\", do: answer, answer_after: 1s}\n",
			[]string{"s.yaml:2:55: script[0].answer_after: answer_after goes with register or auto_answer"}},
		{"expectations", "script:\n  - {at: 1s, callback: cb1, customer: C1001, queue: support}\nexpect:\n" +
			"  - {phone: \"7001\", within: 3s}\n  - {callback: cb2, result: answered}\n  - {callback: cb1, medium: fax, result: maybe}\n" +
			"  - {at_end: {callback: cb1, state: ringing}}\n  - {never: {phone: \"7001\", event: EventRinging}}\n  - {callback: cb1, medium: sip}\n",
			[]string{"s.yaml:4:13: expect[0].rings: a phone's expectation says rings: true",
				"s.yaml:5:16: expect[1].callback: no callback cb2 in the script",
				`s.yaml:6:29: expect[2].medium: unknown medium "fax" (want sip or phone)`,
				`s.yaml:6:42: expect[2].result: unknown result "maybe"`,
				`s.yaml:7:37: expect[3].at_end.state: unknown callback state "ringing"`,
				"s.yaml:8:36: expect[4].never.event: event does not go with phone",
				"s.yaml:9:16: expect[5].result: an attempt's expectation needs a result"}},
		{"bad start", "start: monday\nscript:\n  - {at: 0s, phone: \"7001\", do: register}\n",
			[]string{`s.yaml:1:8: start: bad start "monday"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadError(t, tc.script, center, tc.want...)
		})
	}
}

// TestReplayOfferRingsUntilTheRingTimeout: a desk answers only when the script
// says: without an answer the offer rings for the ring timeout, then goes
// back to the queue and the agent becomes not ready.
func TestReplayOfferRingsUntilTheRingTimeout(t *testing.T) {
	center, err := config.Parse("center.yaml", []byte(brokenCenter))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("s.yaml", []byte(`ring_timeout: 7s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 1s, call: c1, to: "6000"}
expect:
  - {call: c1, event: EventReleased, agent: 1001, reason: ring_no_answer, within: 7s}
  - {never: {call: c1, event: EventEstablished}}
  - {at_end: {agent: 1001, state: not_ready}}
  - {at_end: {queue: support, waiting: 1}}
`), center)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 || *res.Expectations[0].AtS != 8 {
		t.Fatalf("released at %v:\n%s", *res.Expectations[0].AtS, textOf(t, res))
	}
}

// TestReplayAnHourInWellUnderASecond: an hour of traffic (a call every 2 s to
// 40 auto-answering agents, chats beside) replays in well under a second.
func TestReplayAnHourInWellUnderASecond(t *testing.T) {
	center, err := config.Load(filepath.Join(examples, "..", "replay-center.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("script:\n  - {at: 0s, agent: bea, do: login_ready}\n  - {at: 0s, agent: bea, do: auto_answer, answer_after: 1s, release_after: 1s}\n")
	b.WriteString("  - {at: 0s, agent: liz, do: login_ready}\n  - {at: 0s, agent: liz, do: auto_answer, answer_after: 1s, release_after: 2s}\n")
	n := 0
	for at := time.Duration(0); at < time.Hour; at += 2 * time.Second {
		n++
		if n%4 == 0 {
			b.WriteString("  - {at: " + at.String() + ", chat: k" + itoa(n) + ", network: webchat, from: v" + itoa(n) + ", say: [hi, \"1\"]}\n")
		} else {
			b.WriteString("  - {at: " + at.String() + ", call: c" + itoa(n) + ", to: \"7001\"}\n")
		}
	}
	b.WriteString("expect:\n  - {at_end: {queue: backup, waiting: 0}}\n  - {call: c1, event: EventEstablished, agent: bea, within: 2s}\n")
	s, err := Parse("hour.yaml", []byte(b.String()), center)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.Failed > 0 || res.Interactions != n {
		t.Fatalf("%d interactions (want %d):\n%s", res.Interactions, n, textOf(t, res))
	}
	t.Logf("%d interactions, %d events in %v", n, res.Events, took)
	if took > 2*time.Second { // goal well under 1 s; shared machines are slow at times
		t.Errorf("an hour of traffic took %v", took)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzLoad: the loader never panics, and a script it accepts is
// consistent: its times within its end, its agents, queues and
// interactions known, and parsing it again gives the same script.
func FuzzLoad(f *testing.F) {
	for _, p := range exampleFilesForFuzz() {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("script: [{at: 1s, call: c1, to: \"7000\"}]\nexpect: [{never: {event: EventRinging, agent: 2001}}]"))
	f.Add([]byte("script: [{at: 0s, phone: \"7001\", do: register, answer_after: 1s}, {at: 1s, callback: cb1, number: \"+15550100\", queue: support, mode: customer_first}]\n" +
		"expect: [{phone: \"+15550100\", rings: true, callback: cb1, within: 9s}, {callback: cb1, medium: phone, result: answered}, {never: {phone: \"7001\"}}, {at_end: {callback: cb1, state: done}}]"))
	f.Add([]byte("script: [{at: 0s, presence: carol@example.test, show: dnd}, {at: 0s, phone: \"7003\", do: register}, {at: 1s, callback: cb1, customer: C1003, queue: support}, {at: 9s, presence: carol@example.test, show: away}]\n" +
		"expect: [{customer: C1003, status: dnd, within: 1s}, {customer: C1003, status: online}, {never: {customer: C1003, status: offline}}]"))
	// Scripts are parsed against a center with agents and routing and one
	// with customers and callbacks.
	var centers []*config.File
	for _, name := range []string{"replay-center.yaml", "callback-center.yaml"} {
		center, err := config.Load(filepath.Join(examples, "..", name))
		if err != nil {
			f.Fatal(err)
		}
		centers = append(centers, center)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, center := range centers {
			fuzzOne(t, data, center)
		}
	})
}

func fuzzOne(t *testing.T, data []byte, center *config.File) {
	{
		s, err := Parse("fuzz.yaml", data, center)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LoadError", err)
			}
			return
		}
		again, err := Parse("fuzz.yaml", data, center)
		if err != nil || !reflect.DeepEqual(s, again) {
			t.Fatalf("parsed twice: %v, or a different script", err)
		}
		agents := map[string]bool{}
		for _, a := range center.ExpandAgents() {
			agents[a.ID] = true
		}
		started := map[string]bool{}
		for _, a := range s.Actions {
			if a.At > s.End || a.Kind == 0 {
				t.Fatalf("action %+v beyond the end %v or of no kind", a, s.End)
			}
			if a.Kind == AgentAction && !agents[a.Agent] {
				t.Fatalf("action of unknown agent %q", a.Agent)
			}
			if a.Do == "" && (a.Call != "" || a.Chat != "") || a.Kind == CallbackAction {
				started[a.Call+a.Chat+a.Callback] = true
			}
		}
		for _, e := range s.Expect {
			if e.Match.Interaction != "" && !started[e.Match.Interaction] {
				t.Fatalf("expectation about %q, which never starts", e.Match.Interaction)
			}
			if e.Match.Agent != "" && !agents[e.Match.Agent] || e.Kind == ExpectAgent && !agents[e.Agent] {
				t.Fatalf("expectation about an unknown agent")
			}
		}
	}
}

func exampleFilesForFuzz() []string {
	files, _ := filepath.Glob(filepath.Join(examples, "*.yaml"))
	return files
}

const readmeCenter = `
queues:
  - {name: support, media: voice, number: "6000", callback_queue: support-callback}
  - {name: support-callback, media: callback, skill: support}
  - {name: backup, media: voice, number: "7000"}
  - {name: vip, media: voice}
  - {name: chat-general, media: im}
route_points: [{number: "5000", queue: support}]
agents:
  - {group: agent, count: 3, first_number: 1001, skills: {support: 5, backup: 5}}
  - {id: ann, name: Ann, skills: {chat-general: 5, vip: 5}, capacity: {im: 3}, clients: {AliceChat: ">=2"}}
im:
  bot: {greeting: "Welcome!"}
  customers:
    - number: C1001
      name: Alice Example
      devices: [{network: sip, address: "7001", password: alice-phone}, {network: phone, address: "+15550001"}]
      callback: {online: [sip, phone], away: [phone], offline: [phone]}
`

// TestReplayREADMEExamplesParse: every action and expectation sim/replay/README.md
// shows is valid, together in one script, and the README shows every
// agent action.
func TestReplayREADMEExamplesParse(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var actions, expects []string
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = line
		case strings.HasPrefix(line, "- {") && section == "## Actions":
			actions = append(actions, "  "+line)
		case strings.HasPrefix(line, "            ") && section == "## Actions" && len(actions) > 0:
			actions[len(actions)-1] += " " + strings.TrimSpace(line)
		case strings.HasPrefix(line, "- {") && section == "## Expectations":
			expects = append(expects, "  "+line)
		}
	}
	if len(actions) < 25 || len(expects) < 10 {
		t.Fatalf("found %d actions and %d expectations in the README", len(actions), len(expects))
	}
	script := "script:\n" + strings.Join(actions, "\n") + "\nexpect:\n" + strings.Join(expects, "\n") + "\n"
	center, err := config.Parse("center.yaml", []byte(readmeCenter))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("README.md", []byte(script), center)
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	shown := map[string]bool{}
	for _, a := range s.Actions {
		shown[a.Do] = true
	}
	for _, do := range slices.Concat(agentDos, phoneDos, []string{"hangup", "leave", "stop"}) {
		if !shown[do] {
			t.Errorf("the README shows no do: %s", do)
		}
	}
	kinds := map[ExpectKind]bool{}
	for _, e := range s.Expect {
		kinds[e.Kind] = true
	}
	if len(kinds) != int(ExpectPresence) {
		t.Errorf("the README shows %d kinds of expectations, want %d", len(kinds), ExpectPresence)
	}
	if _, err := Run(s); err != nil {
		t.Fatal(err)
	}
}

// TestReplayChatLinesFollowTheAnswers: a chat customer's next line goes 1 s
// after the center's first answer to the line before: Alice opens at 2s
// (the bot greets and asks who she is at once), gives her number at 3s
// (the bot thanks her and asks her reason), her reason at 4s (queued).
func TestReplayChatLinesFollowTheAnswers(t *testing.T) {
	res, err := Run(mustLoad(t, filepath.Join(examples, "chat-routing.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]float64{0: 2, 1: 3, 2: 4} {
		o := res.Expectations[i]
		if !o.Met || o.AtS == nil || *o.AtS != want {
			t.Errorf("%s: met %v at %v, want at %vs", o.Expect, o.Met, o.AtS, want)
		}
	}
}

// runScript parses and runs a script against examples/replay-center.yaml
// (or the center at centerPath) and fails the test on any unmet
// expectation or refused action.
func runScript(t *testing.T, centerPath, script string) *Result {
	t.Helper()
	center, err := config.Load(centerPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("t.yaml", []byte(script), center)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 || len(res.ActionErrors) > 0 || res.Met != len(s.Expect) {
		t.Fatalf("%d met, %d failed, refused %v:\n%s", res.Met, res.Failed, res.ActionErrors, textOf(t, res))
	}
	return res
}

// TestReplayHoldRetrieveTransfer: an agent's hold, retrieve and transfer reach
// tserver; the transferred call rings the target queue's agent.
func TestReplayHoldRetrieveTransfer(t *testing.T) {
	runScript(t, filepath.Join(examples, "..", "replay-center.yaml"), `
script:
  - {at: 0s, agent: liz, do: login_ready}
  - {at: 0s, agent: 2002, do: login_ready}
  - {at: 0s, agent: 2002, do: not_ready, reason: meeting}
  - {at: 1s, call: c1, to: "7002"}
  - {at: 2s, agent: liz, do: answer}
  - {at: 10s, agent: liz, do: hold}
  - {at: 20s, agent: liz, do: retrieve}
  - {at: 30s, agent: liz, do: transfer, target: "7001"}
  - {at: 40s, agent: bea, do: ready}
  - {at: 45s, agent: bea, do: answer, interaction: c1}
  - {at: 50s, call: c1, do: hangup}
  - {at: 55s, agent: bea, do: logout}
expect:
  - {call: c1, event: EventHeld, agent: liz, within: 10s}
  - {call: c1, event: EventRetrieved, agent: liz, within: 20s}
  - {call: c1, event: EventReleased, agent: liz, reason: transferred, within: 30s}
  - {call: c1, event: EventQueued, queue: backup, within: 30s}
  - {call: c1, event: EventRinging, agent: bea, within: 40s}
  - {call: c1, event: EventEstablished, agent: 2002, within: 45s}
  - {never: {event: EventRinging, agent: bea, reason: meeting}}
  - {at_end: {queue: backup, offered: 1, answered: 1}}
  - {at_end: {agent: bea, state: logged_out}}
  - {at_end: {agent: liz, state: ready}}
`)
}

// TestReplayPresenceAndLeave: a waiting chat whose customer goes away on every
// device leaves the queue after the departure grace (60 s); a customer
// who closes the window (leave) ends the chat at once.
func TestReplayPresenceAndLeave(t *testing.T) {
	runScript(t, "../../examples/im-center.yaml", `
script:
  - {at: 0s, chat: k1, network: xmpp, from: alice@example.test, say: [hi, agent]}
  - {at: 10s, presence: alice@example.test, show: unavailable}
  - {at: 0s, chat: k2, network: webchat, from: visitor-2, say: [hi, agent]}
  - {at: 30s, chat: k2, do: leave}
expect:
  - {chat: k1, event: EventQueued, queue: chat-general, within: 3s}   # 1 s, then the 2 s client_wait
  - {chat: k1, event: EventAbandoned, within: 71s}
  - {never: {chat: k1, event: EventAbandoned, queue: chat-tech}}
  - {chat: k2, hears: "Chat ended by you.", within: 30s}
  - {chat: k2, event: EventAbandoned, within: 30s}
  - {at_end: {queue: chat-general, offered: 2, abandoned: 2, waiting: 0}}
`)
}
