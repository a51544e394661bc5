package replay

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// callbackCenter is the center the presence scripts play against: Carol
// (C1003) has an XMPP account carol@example.test, a softphone 7003 and a
// mobile +15550003; online she takes callbacks on the softphone, away and
// offline on the mobile.
var callbackCenter = filepath.Join(examples, "..", "callback-center.yaml")

// playRecorded parses script against the callback center and plays it,
// returning the result and the record.
func playRecorded(t *testing.T, script string) (*Script, *Result, *Record) {
	t.Helper()
	s, v, rec := callbackVirtual(t, script)
	return s, Play(s, v, rec), rec
}

// callbackVirtual parses script against the callback center and makes
// its virtual center, reporting to the record it returns.
func callbackVirtual(t *testing.T, script string) (*Script, *Virtual, *Record) {
	t.Helper()
	center, err := config.Load(callbackCenter)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("t.yaml", []byte(script), center)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{}
	v, err := NewVirtual(s, rec)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, rec
}

// mustMeetAll fails t unless every expectation of s was met and no action
// was refused.
func mustMeetAll(t *testing.T, s *Script, res *Result) {
	t.Helper()
	if res.Failed > 0 || len(res.ActionErrors) > 0 || res.Met != len(s.Expect) {
		t.Fatalf("%d met, %d failed, refused %v:\n%s", res.Met, res.Failed, res.ActionErrors, textOf(t, res))
	}
}

// presencesOf writes how customer's presence changed: "0s online [sip]".
func presencesOf(rec *Record, customer string) []string {
	var out []string
	for _, p := range rec.Presences {
		if p.Customer == customer {
			out = append(out, fmt.Sprintf("%s %s", dur(p.At), presenceWords(&p)))
		}
	}
	return out
}

// ringsOf writes the rings of the customers' phones: "2s 7003 cb1".
func ringsOf(rec *Record) []string {
	var out []string
	for _, r := range rec.Rings {
		out = append(out, fmt.Sprintf("%s %s %s", dur(r.At), r.Phone, r.Callback))
	}
	return out
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n  got  %q\n  want %q", what, got, want)
	}
}

// awayScript: Carol's XMPP client says away while her softphone is
// registered; at 15s the softphone unregisters, the XMPP client still
// away.
const awayScript = `end: 40s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 0s, agent: 1001, do: auto_answer, answer_after: 1s, release_after: 5s}
  - {at: 0s, phone: "7003", do: register, answer_after: 2s}
  - {at: 0s, phone: "+15550003", do: auto_answer, answer_after: 2s}
  - {at: 0s, presence: carol@example.test, show: away}
  - {at: 1s, callback: cb1, customer: C1003, queue: support}
  - {at: 15s, phone: "7003", do: unregister}
  - {at: 18s, callback: cb2, customer: C1003, queue: support}
expect:
  - {customer: C1003, status: online, within: 1s}
  - {customer: C1003, status: away, within: 16s}
  - {phone: "7003", rings: true, callback: cb1, within: 5s}
  - {callback: cb1, medium: sip, result: answered, within: 10s}
  - {phone: "+15550003", rings: true, callback: cb2, within: 5s}
  - {callback: cb2, medium: phone, result: answered, within: 10s}
  - {never: {phone: "+15550003", callback: cb1}}
  - {never: {phone: "7003", callback: cb2}}
  - {never: {customer: C1003, status: offline}}
`

// TestReplayXMPPAwayBesideASoftphone: Carol's XMPP presence reaches the
// callback server and is combined with her softphone as serve combines
// them (callback.Rules.Combine): away on XMPP beside a registered
// softphone is online (a device online outranks one away), so cb1 rings
// the softphone; once the softphone unregisters, the XMPP away makes her
// away (not offline), so cb2 goes to her mobile, never to the softphone.
func TestReplayXMPPAwayBesideASoftphone(t *testing.T) {
	s, res, rec := playRecorded(t, awayScript)
	mustMeetAll(t, s, res)
	wantLines(t, "Carol's presence", presencesOf(rec, "C1003"), []string{"0s online [sip]", "15s away [xmpp]"})
	wantLines(t, "the rings", ringsOf(rec), []string{"2s 7003 cb1", "19s +15550003 cb2"})
}

// dndScript: Carol's XMPP client says dnd, then her softphone registers;
// cb1 is requested at 1s; BACK is replaced by how she comes back.
const dndScript = `end: 40s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 0s, agent: 1001, do: auto_answer, answer_after: 1s, release_after: 5s}
  - {at: 0s, presence: carol@example.test, show: dnd}
  - {at: 0s, phone: "7003", do: register, answer_after: 2s}
  - {at: 0s, phone: "+15550003", do: auto_answer, answer_after: 2s}
  - {at: 1s, callback: cb1, customer: C1003, queue: support}
BACK
expect:
  - {customer: C1003, status: dnd, within: 1s}
  - {never: {customer: C1003, status: offline}}
  - {callback: cb1, event: EventQueued, queue: support-callback, within: 20s}
  - {at_end: {callback: cb1, state: done}}
`

// TestReplayXMPPDoNotDisturbPostponesACallback: dnd on Carol's XMPP
// client wins over her registered softphone: cb1 is postponed, not
// queued nor dialled, until she is available again at 20s; then it is
// dialled on the device her presence says: the softphone when she is
// back online, the mobile when she comes back away with the softphone
// gone.
func TestReplayXMPPDoNotDisturbPostponesACallback(t *testing.T) {
	for _, tc := range []struct {
		name, back string
		presences  []string
		rings      []string
		attempt    string
	}{
		{"back online", "  - {at: 20s, presence: carol@example.test, show: available}",
			[]string{"0s dnd []", "20s online [sip, xmpp]"}, []string{"21s 7003 cb1"}, "sip"},
		{"back away without the softphone", "  - {at: 10s, phone: \"7003\", do: unregister}\n  - {at: 20s, presence: carol@example.test, show: away}",
			[]string{"0s dnd []", "20s away [xmpp]"}, []string{"21s +15550003 cb1"}, "phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := strings.Replace(dndScript, "BACK", tc.back, 1) +
				fmt.Sprintf("  - {callback: cb1, medium: %s, result: answered, within: 30s}\n", tc.attempt)
			s, res, rec := playRecorded(t, script)
			mustMeetAll(t, s, res)
			wantLines(t, "Carol's presence", presencesOf(rec, "C1003"), tc.presences)
			wantLines(t, "the rings", ringsOf(rec), tc.rings)
			for _, e := range rec.Events {
				if e.Interaction == "cb1" && e.At < 20*time.Second {
					t.Errorf("cb1 had %s at %s, while Carol was dnd", e.Type, dur(e.At))
				}
			}
			if len(rec.Attempts) != 1 || rec.Attempts[0].Medium != tc.attempt || rec.Attempts[0].Result != "answered" {
				t.Errorf("attempts %+v, want one on %s answered", rec.Attempts, tc.attempt)
			}
		})
	}
}

// TestReplayStrangersPresenceGoesToTheGatewayOnly: the presence of an
// address that is no customer's device reaches the IM gateway (bob's
// waiting chat leaves the queue after the departure grace) and not the
// callback server (no customer's presence changes).
func TestReplayStrangersPresenceGoesToTheGatewayOnly(t *testing.T) {
	s, res, rec := playRecorded(t, `script:
  - {at: 0s, chat: k1, network: xmpp, from: bob@example.test, say: [hi, agent]}
  - {at: 5s, presence: bob@example.test, show: dnd}
  - {at: 10s, presence: bob@example.test, show: unavailable}
expect:
  - {chat: k1, event: EventQueued, within: 5s}
  - {chat: k1, event: EventAbandoned, within: 71s}
`)
	mustMeetAll(t, s, res)
	if len(rec.Presences) != 0 {
		t.Errorf("a stranger's presence changed customers' presence: %+v", rec.Presences)
	}
}

// TestReplayCustomerFirstCallback: a customer-first callback rings
// Carol's softphone first (the callback queue has no wait: agent 1001 is
// ready); once she answers, she waits at the head of support-callback,
// where agent 1001 takes her; the agent never picks whom to call.
func TestReplayCustomerFirstCallback(t *testing.T) {
	s, res, rec := playRecorded(t, `end: 40s
script:
  - {at: 0s, agent: 1001, do: login_ready}
  - {at: 0s, agent: 1001, do: auto_answer, answer_after: 1s, release_after: 10s}
  - {at: 0s, phone: "7003", do: register, answer_after: 2s}
  - {at: 1s, callback: cb1, customer: C1003, queue: support, mode: customer_first}
expect:
  - {phone: "7003", rings: true, callback: cb1, within: 10s}
  - {callback: cb1, medium: sip, result: answered, within: 15s}
  - {callback: cb1, event: EventQueued, queue: support-callback, within: 15s}
  - {callback: cb1, event: EventEstablished, agent: 1001, within: 20s}
  - {callback: cb1, event: EventReleased, agent: 1001, within: 30s}
  - {at_end: {callback: cb1, state: done}}
  - {at_end: {queue: support-callback, offered: 1, answered: 1}}
`)
	mustMeetAll(t, s, res)
	if len(rec.Rings) != 1 || rec.Rings[0].Phone != "7003" {
		t.Fatalf("rings %v, want one on 7003", ringsOf(rec))
	}
	rang, answered := rec.Rings[0].At, rec.Attempts[0].At
	var events []string
	for _, e := range rec.Events {
		if e.Interaction != "cb1" {
			continue
		}
		if e.At < answered {
			t.Errorf("%s at %s, before Carol answered at %s: customer first, the agent comes after", e.Type, dur(e.At), dur(answered))
		}
		events = append(events, e.Type.String()+" "+e.Agent)
	}
	if rang >= answered {
		t.Errorf("the softphone rang at %s, Carol answered at %s", dur(rang), dur(answered))
	}
	wantLines(t, "cb1's events", events, []string{"EventQueued ", "EventDiverted agent-01", "EventRinging agent-01",
		"EventEstablished agent-01", "EventReleased agent-01"})
}

// TestReplayWrongPresenceExpectationsFail: a copy of the presence
// scripts with one expectation changed fails that one only, with a diff
// showing how the customer's presence changed.
func TestReplayWrongPresenceExpectationsFail(t *testing.T) {
	dnd := strings.Replace(dndScript, "BACK", "  - {at: 20s, presence: carol@example.test, show: available}", 1)
	for _, tc := range []struct {
		name, script, old, new string
		want                   []string
	}{
		{"another status", awayScript,
			"{customer: C1003, status: away, within: 16s}", "{customer: C1003, status: dnd, within: 16s}",
			[]string{"FAIL customer C1003 dnd within 16s: never came by the end (40s)", "expected: customer C1003 dnd by 16s",
				"the presence of customer C1003 (offline at the start) changed:", "0s  online [sip]", "15s  away [xmpp]"}},
		{"a shorter within", awayScript,
			"{customer: C1003, status: away, within: 16s}", "{customer: C1003, status: away, within: 10s}",
			[]string{"FAIL customer C1003 away within 10s: came too late: at 15s (+15s after the start), want within 10s",
				"got:      customer C1003 away at 15s", "15s  away [xmpp]"}},
		{"a status that comes", dnd,
			"{never: {customer: C1003, status: offline}}", "{never: {customer: C1003, status: online}}",
			[]string{"FAIL never customer C1003 online: happened at 20s: customer C1003 became online [sip, xmpp]",
				"expected: never customer C1003 online", "got:      customer C1003 online [sip, xmpp] at 20s", "0s  dnd []"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(tc.script, tc.old) != 1 {
				t.Fatalf("the script holds %q %d times, want once", tc.old, strings.Count(tc.script, tc.old))
			}
			_, res, _ := playRecorded(t, strings.Replace(tc.script, tc.old, tc.new, 1))
			out := textOf(t, res)
			if res.Failed != 1 {
				t.Fatalf("%d met, %d failed, want exactly the changed one to fail:\n%s", res.Met, res.Failed, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			for _, o := range res.Expectations {
				if !o.Met && len(o.Presences) == 0 {
					t.Errorf("the failure %q carries no presences for --json", o.Expect)
				}
			}
		})
	}
}

// TestReplayPresenceIsDeterministic: the same script, with a failing
// presence expectation, gives the same JSON bytes twice.
func TestReplayPresenceIsDeterministic(t *testing.T) {
	script := strings.Replace(awayScript, "status: away, within: 16s", "status: away, within: 10s", 1)
	var first []byte
	for range 2 {
		_, res, _ := playRecorded(t, script)
		var rep Report
		rep.Add(res)
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b.Bytes()
			if !bytes.Contains(first, []byte(`"presences"`)) {
				t.Fatalf("the failure's JSON has no presences:\n%s", first)
			}
		} else if !bytes.Equal(first, b.Bytes()) {
			t.Fatalf("two runs differ:\n%s\n---\n%s", first, b.Bytes())
		}
	}
}

// TestReplayBrokenPresenceExpectations: a customer's presence expectation
// that cannot be checked is an error naming file, line and field.
func TestReplayBrokenPresenceExpectations(t *testing.T) {
	center, err := config.Load(callbackCenter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, expect string
		want         []string
	}{
		{"unknown customer", "{customer: C9999, status: away}",
			[]string{"s.yaml:4:16: expect[0].customer: no customer C9999 in the center"}},
		{"unknown status", "{customer: C1003, status: asleep}",
			[]string{`s.yaml:4:31: expect[0].status: unknown status "asleep" (want one of online, away, dnd, offline)`}},
		{"no status", "{customer: C1003, within: 5s}",
			[]string{"s.yaml:4:5: expect[0].status: a customer's expectation needs a status"}},
		{"a field that does not go", "{customer: C1003, status: away, agent: 1001}",
			[]string{"s.yaml:4:44: expect[0].agent: agent does not go with a customer's status"}},
		{"never with a within", "{never: {customer: C1003, status: dnd, within: 5s}}",
			[]string{`s.yaml:4:44: expect[0].never.within: unknown field "within"`}},
		{"never with an unknown status", "{never: {customer: C1003, status: gone}}",
			[]string{`s.yaml:4:39: expect[0].never.status: unknown status "gone"`}},
		{"a status on an event", "{call: c1, event: EventQueued, status: away}",
			[]string{"s.yaml:4:44: expect[0].status: status does not go with an event"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := "script:\n  - {at: 0s, call: c1, to: \"5000\"}\nexpect:\n  - " + tc.expect + "\n"
			wantLoadError(t, script, center, tc.want...)
		})
	}
}

// blindCenter is a center that records no customer's presence, as the
// live one.
type blindCenter struct{ Center }

// TestReplayPresenceNeedsAWatchingCenter: against a center that does not
// record customers' presence, a presence expectation, also a never, fails
// as not checked rather than as a presence that never came.
func TestReplayPresenceNeedsAWatchingCenter(t *testing.T) {
	s, v, rec := callbackVirtual(t, awayScript)
	res := Play(s, blindCenter{v}, rec)
	for _, o := range res.Expectations {
		presence := strings.Contains(o.Expect, "customer C1003")
		switch {
		case presence && (o.Met || !strings.HasPrefix(o.Detail, "not checked")):
			t.Errorf("%s: met %v, %q; want not checked", o.Expect, o.Met, o.Detail)
		case !presence && !o.Met:
			t.Errorf("%s failed: %s", o.Expect, o.Detail)
		}
	}
}
