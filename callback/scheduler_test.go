package callback

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// fakeQueues is the center: it records what the scheduler asks of it
// and, when offer is set, offers each callback queued to an agent at
// once (an agent free), as the wiring would: with Pick.
type fakeQueues struct {
	clk    *clock.Virtual
	s      *Scheduler
	known  map[string]bool
	ewt    map[string]time.Duration
	offer  bool
	sync   bool // offer from inside Enqueue
	fail   error
	queued map[string]bool
	calls  []string
	picks  []string // Pick's answers to the offers
}

func (q *fakeQueues) Known(name string) bool { return q.known[name] }

func (q *fakeQueues) Enqueue(r Request) error {
	if q.fail != nil {
		q.calls = append(q.calls, fmt.Sprintf("%s enqueue %s refused", q.clk.Elapsed(), r.ID))
		return q.fail
	}
	q.calls = append(q.calls, fmt.Sprintf("%s enqueue %s requested %s", q.clk.Elapsed(), r.ID, r.Requested.Sub(clock.Epoch)))
	q.queued[r.ID] = true
	if q.offer {
		id := r.ID
		offer := func() {
			if !q.queued[id] {
				return
			}
			delete(q.queued, id)
			t, err := q.s.Pick(id)
			q.picks = append(q.picks, fmt.Sprintf("%s pick %s: %v %v", q.clk.Elapsed(), id, t, err))
		}
		if q.sync {
			offer() // as tserver does: Arrive offers to a free agent at once
		} else {
			q.clk.AfterFunc(0, offer)
		}
	}
	return nil
}

func (q *fakeQueues) Withdraw(id string) {
	delete(q.queued, id)
	q.calls = append(q.calls, fmt.Sprintf("%s withdraw %s", q.clk.Elapsed(), id))
}

func (q *fakeQueues) EWT(name string) (time.Duration, bool) {
	d, ok := q.ewt[name]
	return d, ok
}

// fakeDialer records the dials and reports the results of its script,
// in order, each after its delay; with no script left it reports
// nothing (the attempt times out).
type fakeDialer struct {
	clk    *clock.Virtual
	s      *Scheduler
	script []scripted
	dials  []string
	sync   bool // report from inside Dial
}

type scripted struct {
	res   Result
	after time.Duration
}

func (d *fakeDialer) Dial(id string, attempt int, t Target, mode Mode) {
	d.dials = append(d.dials, fmt.Sprintf("%s dial %s #%d %s %s", d.clk.Elapsed(), id, attempt, t, mode))
	if len(d.script) == 0 {
		return
	}
	next := d.script[0]
	d.script = d.script[1:]
	report := func() {
		if err := d.s.Result(id, attempt, next.res); err != nil {
			panic(err)
		}
	}
	if d.sync {
		report() // from inside Dial
	} else {
		d.clk.AfterFunc(next.after, report)
	}
}

type fakeNotifier struct {
	clk  *clock.Virtual
	sent []string
}

func (n *fakeNotifier) Notify(customer string, m Medium, text string) {
	n.sent = append(n.sent, fmt.Sprintf("%s %s %s: %s", n.clk.Elapsed(), customer, m, text))
}

type rig struct {
	clk *clock.Virtual
	dir MemoryDirectory
	tr  *Tracker
	q   *fakeQueues
	d   *fakeDialer
	n   *fakeNotifier
	j   *MemoryJournal
	s   *Scheduler
}

func newRig(t *testing.T, customers ...Customer) *rig {
	t.Helper()
	clk := clock.NewVirtual(clock.Epoch)
	r := &rig{
		clk: clk,
		dir: MemoryDirectory{},
		tr:  NewTracker(clk, DefaultRules(), nil),
		q:   &fakeQueues{clk: clk, known: map[string]bool{"support": true, "sales": true}, ewt: map[string]time.Duration{}, queued: map[string]bool{}},
		d:   &fakeDialer{clk: clk},
		n:   &fakeNotifier{clk: clk},
		j:   NewMemoryJournal(),
	}
	for _, c := range customers {
		r.dir[c.Number] = c
	}
	r.restart(t)
	return r
}

// restart starts a new scheduler on the same clock, journal, center
// and dialer, as after a crash.
func (r *rig) restart(t *testing.T) {
	t.Helper()
	if r.s != nil {
		r.s.Close()
	}
	s, err := NewScheduler(Config{Clock: r.clk, Directory: r.dir, Tracker: r.tr, Queues: r.q, Dialer: r.d, Notifier: r.n, Journal: r.j})
	cctest.MustOK(t, err, "NewScheduler")
	r.s, r.q.s, r.d.s = s, s, s
}

func (r *rig) mustRequest(t *testing.T, req Request) Request {
	t.Helper()
	got, err := r.s.Request(req)
	cctest.MustOK(t, err, "Request")
	return got
}

// attempts summarises a request's attempts: "medium:target result rN
// @start-end".
func attempts(r Request) string {
	var b strings.Builder
	for i, a := range r.Attempts {
		if i > 0 {
			b.WriteString("; ")
		}
		end := "?"
		if !a.Ended.IsZero() {
			end = a.Ended.Sub(clock.Epoch).String()
		}
		fmt.Fprintf(&b, "%s:%s %s r%d @%s-%s", a.Medium, a.Target, cmp.Or(string(a.Result), "-"), a.Round, a.At.Sub(clock.Epoch), end)
	}
	return b.String()
}

func lines(ss []string) string { return strings.Join(ss, "\n") }

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if lines(got) != lines(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, lines(got), lines(want))
	}
}

// alice is online on SIP and XMPP and wants her softphone, then her
// mobile; away, the mobile; offline, her home number.
func alice() Customer {
	return Customer{Number: "1001", Name: "Alice", Prefs: Preferences{
		ByStatus: map[Status][]Target{
			Online:  {{SIP, "alice"}, {Phone, "+15550101"}},
			Idle:    {{Phone, "+15550101"}},
			Offline: {{Phone, "+15550199"}},
		},
	}}
}

func (r *rig) online(customer string, ms ...Medium) {
	for _, m := range ms {
		r.tr.Report(customer, Report{Medium: m, Device: customer + "-" + string(m), Show: Available})
	}
}

// TestRetriesAndBackOff: the next target at once after a failure, a new
// round after exactly Pause, failed after MaxAttempts attempts with a
// result, done at the first answer.
func TestRetriesAndBackOff(t *testing.T) {
	ring10, ring20 := 10*time.Second, 20*time.Second
	for _, tc := range []struct {
		name     string
		req      Request
		online   []Medium
		script   []scripted
		attempts string
		state    State
		withdraw int
	}{
		{
			name:     "a number, never answering: three attempts, Pause apart",
			req:      Request{Queue: "support", Number: "+15550123"},
			script:   []scripted{{ResultNoAnswer, ring20}, {ResultNoAnswer, ring20}, {ResultNoAnswer, ring20}},
			attempts: "phone:+15550123 no_answer r1 @0s-20s; phone:+15550123 no_answer r2 @5m20s-5m40s; phone:+15550123 no_answer r3 @10m40s-11m0s",
			state:    Failed, withdraw: 3,
		},
		{
			name:     "softphone busy: the mobile at once, answered",
			req:      Request{Queue: "support", Customer: "1001"},
			online:   []Medium{SIP, XMPP},
			script:   []scripted{{ResultBusy, ring10}, {ResultAnswered, ring20}},
			attempts: "sip:alice busy r1 @0s-10s; phone:+15550101 answered r1 @10s-30s",
			state:    Done, withdraw: 0,
		},
		{
			name:     "both fail: a pause, a new round from the softphone, failed at the third",
			req:      Request{Queue: "support", Customer: "1001"},
			online:   []Medium{SIP},
			script:   []scripted{{ResultBusy, ring10}, {ResultUnreachable, ring10}, {ResultNoAnswer, ring20}},
			attempts: "sip:alice busy r1 @0s-10s; phone:+15550101 unreachable r1 @10s-20s; sip:alice no_answer r2 @5m20s-5m40s",
			state:    Failed, withdraw: 2,
		},
		{
			name:     "online on IM only: the softphone is not registered, the mobile",
			req:      Request{Queue: "support", Customer: "1001"},
			online:   []Medium{XMPP},
			script:   []scripted{{ResultAnswered, ring10}},
			attempts: "phone:+15550101 answered r1 @0s-10s",
			state:    Done, withdraw: 0,
		},
		{
			name:     "offline: the home number only",
			req:      Request{Queue: "support", Customer: "1001"},
			script:   []scripted{{ResultBusy, ring10}, {ResultAnswered, ring10}},
			attempts: "phone:+15550199 busy r1 @0s-10s; phone:+15550199 answered r2 @5m10s-5m20s",
			state:    Done, withdraw: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, alice())
			r.q.offer = true
			r.online("1001", tc.online...)
			r.d.script = tc.script
			req := r.mustRequest(t, tc.req)
			r.clk.Run()
			got, _ := r.s.Get(req.ID)
			if s := attempts(got); s != tc.attempts || got.State != tc.state {
				t.Errorf("%s %s\nwant %s %s", got.State, s, tc.state, tc.attempts)
			}
			if n := strings.Count(lines(r.q.calls), "withdraw"); n != tc.withdraw {
				t.Errorf("%d withdrawals, want %d:\n%s", n, tc.withdraw, lines(r.q.calls))
			}
			if n := len(r.d.dials); n != len(tc.script) {
				t.Errorf("%d dials, want %d:\n%s", n, len(tc.script), lines(r.d.dials))
			}
			for i := 1; i < len(got.Attempts); i++ {
				prev, a := got.Attempts[i-1], got.Attempts[i]
				gap := a.At.Sub(prev.Ended)
				if (a.Round == prev.Round && gap != 0) || (a.Round != prev.Round && gap != DefaultPause) {
					t.Errorf("attempt %d starts %v after attempt %d ended (rounds %d, %d)", i+1, gap, i, prev.Round, a.Round)
				}
			}
			if j := r.j.Requests(); len(j) != 1 || attempts(j[0]) != tc.attempts || j[0].State != tc.state {
				t.Errorf("journal: %+v", j)
			}
		})
	}
}

// TestAgentFirst: the callback is queued keeping its place, the
// agent's offer picks the target and dials in agent-first mode, the
// customer online on IM gets a heads-up; the result ends it.
func TestAgentFirst(t *testing.T) {
	r := newRig(t, alice())
	r.online("1001", SIP, XMPP)
	r.clk.Advance(time.Minute)
	req := r.mustRequest(t, Request{Queue: "support", Customer: "1001", Requested: clock.Epoch.Add(20 * time.Second), Origin: OriginVoice})
	if req.ID != "cb-1" || req.State != Pending || req.Mode != AgentFirst {
		t.Fatalf("accepted: %+v", req)
	}
	wantLines(t, "center", r.q.calls, []string{"1m0s enqueue cb-1 requested 20s"})
	r.clk.Advance(2 * time.Minute) // an agent frees up
	target, err := r.s.Pick("cb-1")
	cctest.MustOK(t, err, "Pick")
	if target != (Target{SIP, "alice"}) {
		t.Errorf("target %v", target)
	}
	wantLines(t, "dials", r.d.dials, []string{"3m0s dial cb-1 #1 sip:alice agent_first"})
	wantLines(t, "heads-up", r.n.sent, []string{"3m0s 1001 xmpp: We are calling you now on your SIP phone."})
	if got, _ := r.s.Get("cb-1"); got.State != Dialing || attempts(got) != "sip:alice - r1 @3m0s-?" {
		t.Errorf("dialing: %s %s", got.State, attempts(got))
	}
	if _, err := r.s.Pick("cb-1"); !errors.Is(err, ErrConflict) {
		t.Errorf("second Pick while dialing: %v", err)
	}
	r.clk.Advance(15 * time.Second)
	cctest.MustOK(t, r.s.Result("cb-1", 1, ResultAnswered), "Result")
	got, _ := r.s.Get("cb-1")
	if got.State != Done || attempts(got) != "sip:alice answered r1 @3m0s-3m15s" {
		t.Errorf("done: %s %s", got.State, attempts(got))
	}
	if len(r.q.calls) != 1 {
		t.Errorf("an answered callback is not withdrawn: %v", r.q.calls)
	}
	if err := r.s.Result("cb-1", 1, ResultBusy); !errors.Is(err, ErrConflict) {
		t.Errorf("a second result: %v", err)
	}
	r.clk.Run()
	if len(r.d.dials) != 1 {
		t.Errorf("dialled again: %v", r.d.dials)
	}
}

// TestCustomerFirst: dialled when the queue's EWT reaches the lead, the
// oldest request first, one a queue a tick; never queued as an
// interaction; the tick stops once nothing is watched.
func TestCustomerFirst(t *testing.T) {
	r := newRig(t, alice())
	r.q.ewt["support"] = 3 * time.Minute
	r.q.ewt["sales"] = 0
	r.d.script = []scripted{{ResultAnswered, 10 * time.Second}, {ResultAnswered, 10 * time.Second}, {ResultAnswered, 10 * time.Second}}
	r.mustRequest(t, Request{Queue: "support", Number: "+15550001", Mode: CustomerFirst, Requested: clock.Epoch})
	r.clk.Advance(time.Second)
	r.mustRequest(t, Request{Queue: "support", Number: "+15550002", Mode: CustomerFirst, Requested: clock.Epoch.Add(-time.Minute)}) // asked earlier (voice, waiting)
	r.mustRequest(t, Request{Queue: "sales", Number: "+15550003", Mode: CustomerFirst})
	r.clk.Advance(time.Minute)
	wantLines(t, "dials while support's EWT is 3 min", r.d.dials, []string{"5s dial cb-3 #1 phone:+15550003 customer_first"})
	r.q.ewt["support"] = 0
	r.clk.Run()
	wantLines(t, "dials", r.d.dials, []string{
		"5s dial cb-3 #1 phone:+15550003 customer_first",
		"1m5s dial cb-2 #1 phone:+15550002 customer_first",
		"1m10s dial cb-1 #1 phone:+15550001 customer_first",
	})
	if len(r.q.calls) != 0 {
		t.Errorf("customer-first callbacks went to the center: %v", r.q.calls)
	}
	if n := len(r.s.List(Done)); n != 3 {
		t.Errorf("%d done, want 3", n)
	}
	if at := r.clk.Elapsed(); at != time.Minute+20*time.Second {
		t.Errorf("the clock ran until %v: the tick went on", at)
	}
}

// TestDoNotDisturbPostponesAndResumes: a customer in do-not-disturb is
// not called, nor queued, not even at the number the request gave; the
// request waits, and is queued again (its
// place kept) when the customer leaves it, also from the queue.
func TestDoNotDisturbPostponesAndResumes(t *testing.T) {
	r := newRig(t, alice())
	r.tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: DoNotDisturb})
	// The number is no way around do-not-disturb.
	r.mustRequest(t, Request{Queue: "support", Customer: "1001", Number: "+15550177"})
	r.clk.Advance(10 * time.Minute)
	if len(r.q.calls) != 0 || len(r.d.dials) != 0 {
		t.Fatalf("a dnd customer was queued or called: %v %v", r.q.calls, r.d.dials)
	}
	if got, _ := r.s.Get("cb-1"); got.State != Pending {
		t.Fatalf("state %s, want pending (postponed, not dropped)", got.State)
	}
	r.tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: Available})
	r.clk.Advance(time.Minute)
	r.tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: DoNotDisturb}) // in the queue
	r.clk.Advance(time.Minute)
	r.tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: Away})
	wantLines(t, "center", r.q.calls, []string{
		"10m0s enqueue cb-1 requested 0s",
		"11m0s withdraw cb-1",
		"12m0s enqueue cb-1 requested 0s",
	})
	r.d.script = []scripted{{ResultAnswered, time.Second}}
	target, err := r.s.Pick("cb-1")
	cctest.MustOK(t, err, "Pick once away")
	if target != (Target{Phone, "+15550101"}) {
		t.Errorf("away: target %v, want the mobile", target)
	}
	wantLines(t, "heads-up while away on IM", r.n.sent, []string{"12m0s 1001 xmpp: We are calling you now on +15550101."})
}

// TestPickOutsideHoursPostpones: an agent offered a callback after the
// customer's hours ended: ErrPostponed, the callback leaves the queue
// and comes back when the hours start again.
func TestPickOutsideHoursPostpones(t *testing.T) {
	c := alice()
	paris := mustZone(t, "Europe/Paris")
	c.Prefs.Hours = Hours{Zone: paris, Windows: []Window{{From: tod("00:30"), To: tod("01:30")}}} // 23:30-00:30 UTC in winter
	r := newRig(t, c)
	r.online("1001", SIP)
	r.mustRequest(t, Request{Queue: "support", Customer: "1001"}) // at Epoch, 01:00 in Paris
	r.clk.Advance(31 * time.Minute)                               // 01:31 in Paris
	r.mustRequest(t, Request{Queue: "support", Customer: "1001"}) // accepted, waits for the hours
	_, err := r.s.Pick("cb-1")
	if !errors.Is(err, ErrPostponed) || !strings.Contains(err.Error(), "allowed hours until 2026-01-06T00:30:00+01:00") {
		t.Fatalf("Pick outside hours: %v", err)
	}
	cctest.WantKind(t, err, pbx.Unavailable, "Pick outside hours")
	got, _ := r.s.Get("cb-1")
	if got.State != Pending || !got.NextTry.Equal(utc("2026-01-05T23:30:00Z")) || len(got.Attempts) != 0 {
		t.Errorf("postponed: %s next %v %s", got.State, got.NextTry, attempts(got))
	}
	r.clk.RunUntil(24 * time.Hour)
	wantLines(t, "center", r.q.calls, []string{
		"0s enqueue cb-1 requested 0s",
		"31m0s withdraw cb-1",
		"23h30m0s enqueue cb-2 requested 31m0s",
		"23h30m0s enqueue cb-1 requested 0s",
	})
}

// TestPresenceExpiryChangesTheTarget: the target is chosen from the
// presence at the moment of the offer: a softphone whose registration
// went stale is not called; with nothing listed for offline the queued
// callback leaves the queue until the customer is back.
func TestPresenceExpiryChangesTheTarget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offline []Target
		want    string
		calls   []string
	}{
		{"offline: the home number", []Target{{Phone, "+15550199"}}, "phone:+15550199 <nil>",
			[]string{"0s enqueue cb-1 requested 0s", "0s enqueue cb-2 requested 0s"}},
		{"offline: nobody", []Target{}, ": callback: pick cb-2: it is pending, postponed until the customer's presence changes, not waiting in its queue: not in this state",
			[]string{"0s enqueue cb-1 requested 0s", "0s enqueue cb-2 requested 0s", "10m0s withdraw cb-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := alice()
			c.Prefs.ByStatus[Offline] = tc.offline
			r := newRig(t, c)
			r.tr.Report("1001", Report{Medium: SIP, Device: "sip:alice@10.0.0.7", Show: Available, TTL: 10 * time.Minute})
			r.mustRequest(t, Request{Queue: "support", Customer: "1001"})
			r.mustRequest(t, Request{Queue: "support", Customer: "1001"})
			r.d.script = []scripted{{ResultAnswered, time.Second}}
			r.clk.Advance(time.Minute)
			if target, err := r.s.Pick("cb-1"); err != nil || target != (Target{SIP, "alice"}) {
				t.Errorf("registered: %v %v", target, err)
			}
			r.clk.Advance(10 * time.Minute) // the registration expired at 10 min
			target, err := r.s.Pick("cb-2")
			if got := fmt.Sprint(target, " ", err); got != tc.want {
				t.Errorf("expired: %s\nwant %s", got, tc.want)
			}
			wantLines(t, "center", r.q.calls, tc.calls)
		})
	}
}

// TestAttemptTimeout: a dialer that never reports: the attempt is
// unknown after AttemptTimeout, does not count, and the callback is
// queued again.
func TestAttemptTimeout(t *testing.T) {
	r := newRig(t)
	r.q.offer = true
	r.mustRequest(t, Request{Queue: "support", Number: "+15550123"})
	r.clk.Advance(DefaultAttemptTimeout)
	got, _ := r.s.Get("cb-1")
	if attempts(got) != "phone:+15550123 unknown r1 @0s-2m0s; phone:+15550123 - r1 @2m0s-?" {
		t.Errorf("after the timeout: %s %s", got.State, attempts(got))
	}
	wantLines(t, "center", r.q.calls, []string{"0s enqueue cb-1 requested 0s", "2m0s withdraw cb-1", "2m0s enqueue cb-1 requested 0s"})
	// The answer to the first attempt comes late: done, and the second
	// attempt's result changes nothing.
	cctest.MustOK(t, r.s.Result("cb-1", 1, ResultAnswered), "late answer")
	cctest.MustOK(t, r.s.Result("cb-1", 2, ResultBusy), "second attempt's result")
	got, _ = r.s.Get("cb-1")
	if got.State != Done || attempts(got) != "phone:+15550123 answered r1 @0s-2m0s; phone:+15550123 busy r1 @2m0s-2m0s" {
		t.Errorf("late answer: %s %s", got.State, attempts(got))
	}
	r.clk.Run()
	if len(r.d.dials) != 2 {
		t.Errorf("dials: %v", r.d.dials)
	}
}

// TestRestore: after a crash, an attempt in flight is unknown and
// retried only AttemptTimeout after it started, exactly once; answered
// callbacks are never dialled again; pending ones go back to their
// queue with their place; IDs go on from the last.
func TestRestore(t *testing.T) {
	r := newRig(t, alice())
	r.online("1001", SIP)
	r.mustRequest(t, Request{Queue: "support", Customer: "1001"})                                   // cb-1: will be in flight
	r.mustRequest(t, Request{Queue: "support", Number: "+15550123"})                                // cb-2: answered
	r.mustRequest(t, Request{Queue: "sales", Number: "+15550124"})                                  // cb-3: still queued
	r.mustRequest(t, Request{Queue: "sales", Number: "+15550125"})                                  // cb-4: cancelled
	r.mustRequest(t, Request{Queue: "sales", Customer: "1001", At: clock.Epoch.Add(3 * time.Hour)}) // cb-5: scheduled
	r.clk.Advance(time.Minute)
	_, err := r.s.Pick("cb-1")
	cctest.MustOK(t, err, "Pick cb-1")
	_, err = r.s.Pick("cb-2")
	cctest.MustOK(t, err, "Pick cb-2")
	cctest.MustOK(t, r.s.Result("cb-2", 1, ResultAnswered), "answer cb-2")
	cctest.MustOK(t, r.s.Cancel("cb-4"), "cancel cb-4")
	r.clk.Advance(30 * time.Second) // crash at 1m30s, cb-1 ringing

	journaled := r.j.Requests()
	r.restart(t)
	r.q.calls, r.d.dials = nil, nil
	if err := r.s.Restore(append(journaled, journaled[0])); !errors.Is(err, ErrInvalid) || len(r.s.List("")) != 0 {
		t.Fatalf("restoring a record twice: %v, %d kept", err, len(r.s.List("")))
	}
	cctest.MustOK(t, r.s.Restore(journaled), "Restore")
	got, _ := r.s.Get("cb-1")
	if got.State != Pending || attempts(got) != "sip:alice unknown r1 @1m0s-1m30s" || !got.NextTry.Equal(clock.Epoch.Add(3*time.Minute)) {
		t.Errorf("in flight at the crash: %s %s next %v", got.State, attempts(got), got.NextTry.Sub(clock.Epoch))
	}
	var states []string
	for _, q := range r.s.List("") {
		states = append(states, q.ID+" "+string(q.State))
	}
	wantLines(t, "restored", states, []string{"cb-1 pending", "cb-2 done", "cb-3 pending", "cb-4 cancelled", "cb-5 pending"})
	if p := r.s.List(Pending); len(p) != 3 {
		t.Errorf("pending: %d", len(p))
	}
	wantLines(t, "center at restart", r.q.calls, []string{"1m30s enqueue cb-3 requested 0s"})
	r.clk.RunUntil(3*time.Minute - time.Nanosecond)
	if len(r.q.calls) != 1 || len(r.d.dials) != 0 {
		t.Fatalf("before the attempt's timeout: %v %v", r.q.calls, r.d.dials)
	}
	r.q.offer = true
	r.d.script = []scripted{{ResultAnswered, time.Second}, {ResultAnswered, time.Second}, {ResultAnswered, time.Second}}
	r.clk.RunUntil(time.Hour)
	wantLines(t, "center", r.q.calls, []string{"1m30s enqueue cb-3 requested 0s", "3m0s enqueue cb-1 requested 0s"})
	wantLines(t, "dials after the restart", r.d.dials, []string{"3m0s dial cb-1 #2 sip:alice agent_first"})
	if got, _ := r.s.Get("cb-1"); got.State != Done {
		t.Errorf("cb-1 %s", got.State)
	}
	next := r.mustRequest(t, Request{Queue: "support", Number: "+15550126"})
	if next.ID != "cb-6" {
		t.Errorf("new ID after restore: %s", next.ID)
	}
	r.clk.RunUntil(4 * time.Hour)
	if got, _ := r.s.Get("cb-5"); got.State != Done || len(got.Attempts) != 1 || !got.Attempts[0].At.Equal(clock.Epoch.Add(3*time.Hour)) {
		t.Errorf("scheduled cb-5 after restart: %s %s", got.State, attempts(got))
	}
	for _, d := range r.d.dials {
		if strings.Contains(d, "cb-2 ") || strings.Contains(d, "cb-4 ") {
			t.Errorf("dialled a finished callback: %s", d)
		}
	}
}

// TestBadInput: each bad request gets its error, of its kind, and
// changes nothing.
func TestBadInput(t *testing.T) {
	c := alice()
	c.Prefs.Hours = Hours{Zone: mustZone(t, "Asia/Tokyo"), Windows: []Window{{From: tod("09:00"), To: tod("18:00")}}}
	broken := Customer{Number: "666", Prefs: Preferences{ByStatus: map[Status][]Target{Online: {{XMPP, "x@y"}}}}}
	for _, tc := range []struct {
		name string
		req  Request
		want error
		kind pbx.Kind
		says string
	}{
		{"no queue", Request{Number: "+1555"}, ErrInvalid, pbx.Invalid, "no queue"},
		{"unknown queue", Request{Queue: "billing", Number: "+1555"}, ErrUnknownQueue, pbx.NotFound, `queue "billing"`},
		{"unknown customer", Request{Queue: "support", Customer: "9999"}, ErrUnknownCustomer, pbx.NotFound, `customer "9999"`},
		{"no customer, no number", Request{Queue: "support"}, ErrInvalid, pbx.Invalid, "neither a customer nor a number"},
		{"a number with letters", Request{Queue: "support", Number: "555-CALL"}, ErrInvalid, pbx.Invalid, `number "555-CALL"`},
		{"bad mode", Request{Queue: "support", Number: "+1555", Mode: "whenever"}, ErrInvalid, pbx.Invalid, `mode "whenever"`},
		{"bad origin", Request{Queue: "support", Number: "+1555", Origin: "fax"}, ErrInvalid, pbx.Invalid, `origin "fax"`},
		{"requested in the future", Request{Queue: "support", Number: "+1555", Requested: clock.Epoch.Add(time.Hour)}, ErrInvalid, pbx.Invalid, "in the future"},
		{"at outside hours (20:00 in Tokyo)", Request{Queue: "support", Customer: "1001", At: utc("2026-01-05T11:00:00Z")}, ErrOutsideHours, pbx.Conflict, "at 2026-01-05T11:00:00Z"},
		{"customer's preferences broken", Request{Queue: "support", Customer: "666"}, ErrInvalid, pbx.Invalid, "cannot be dialled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, c, broken)
			_, err := r.s.Request(tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.says) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
			cctest.WantKind(t, err, tc.kind, tc.name)
			if len(r.s.List("")) != 0 || r.j.Saves() != 0 || len(r.q.calls) != 0 || r.clk.Pending() != 0 {
				t.Errorf("something changed: %v, %d saves, %v, %d timers", r.s.List(""), r.j.Saves(), r.q.calls, r.clk.Pending())
			}
		})
	}
	// Inside the hours it is accepted; the next ID is the first.
	r := newRig(t, c)
	got, err := r.s.Request(Request{Queue: "support", Customer: "1001", At: utc("2026-01-05T03:00:00Z")})
	if err != nil || got.ID != "cb-1" || !got.NextTry.Equal(utc("2026-01-05T03:00:00Z")) {
		t.Errorf("inside hours: %+v %v", got, err)
	}

	// The other entry points.
	r.online("1001", SIP)
	r.mustRequest(t, Request{Queue: "support", Number: "+1555"}) // cb-2, queued
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Pick unknown", second(r.s.Pick("cb-99")), ErrUnknownCallback},
		{"Pick a scheduled one", second(r.s.Pick("cb-1")), ErrConflict},
		{"Result unknown callback", r.s.Result("cb-99", 1, ResultBusy), ErrUnknownCallback},
		{"Result with no attempt", r.s.Result("cb-2", 1, ResultBusy), ErrInvalid},
		{"Result unknown", r.s.Result("cb-2", 1, ResultUnknown), ErrInvalid},
		{"Result empty", r.s.Result("cb-2", 1, ""), ErrInvalid},
		{"Cancel unknown", r.s.Cancel("cb-99"), ErrUnknownCallback},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	cctest.MustOK(t, r.s.Cancel("cb-2"), "Cancel")
	if err := r.s.Cancel("cb-2"); !errors.Is(err, ErrConflict) {
		t.Errorf("Cancel twice: %v", err)
	}
	if _, err := NewScheduler(Config{Clock: r.clk, Queues: r.q}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no dialer") {
		t.Errorf("NewScheduler with no dialer: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestRequestJSON: the names the REST API shows.
func TestRequestJSON(t *testing.T) {
	r := newRig(t)
	r.mustRequest(t, Request{Queue: "support", Number: "+15550123", Origin: OriginREST})
	_, err := r.s.Pick("cb-1")
	cctest.MustOK(t, err, "Pick")
	r.clk.Advance(7 * time.Second)
	cctest.MustOK(t, r.s.Result("cb-1", 1, ResultNoAnswer), "Result")
	got, _ := r.s.Get("cb-1")
	b, err := json.Marshal(got)
	cctest.MustOK(t, err, "Marshal")
	const want = `{"id":"cb-1","queue":"support","number":"+15550123","requested":"2026-01-05T00:00:00Z","mode":"agent_first","origin":"rest","state":"pending","attempts":[{"medium":"phone","target":"+15550123","result":"no_answer","at":"2026-01-05T00:00:00Z","ended":"2026-01-05T00:00:07Z","round":1}],"next_try":"2026-01-05T00:05:07Z","round":2}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
}

func TestTrackerListen(t *testing.T) {
	clk := clock.NewVirtual(clock.Epoch)
	var got []string
	tr := NewTracker(clk, DefaultRules(), func(c string, p Presence) { got = append(got, "onChange "+c+" "+string(p.Status)) })
	cancel := tr.Listen(func(c string, p Presence) { got = append(got, "listener "+c+" "+string(p.Status)) })
	tr.Report("1", Report{Medium: XMPP, Device: "a", Show: Away})
	cancel()
	tr.Report("1", Report{Medium: XMPP, Device: "a", Show: Available})
	wantLines(t, "told", got, []string{"onChange 1 away", "listener 1 away", "onChange 1 online"})
}

// TestReentrantCenterAndDialer: a center that offers the callback from
// inside Enqueue and a dialer that reports from inside Dial (both
// allowed) give the same story as when they answer later.
func TestReentrantCenterAndDialer(t *testing.T) {
	r := newRig(t, alice())
	r.online("1001", SIP)
	r.q.offer, r.q.sync, r.d.sync = true, true, true
	r.d.script = []scripted{{ResultBusy, 0}, {ResultNoAnswer, 0}, {ResultBusy, 0}, {ResultAnswered, 0}}
	got := r.mustRequest(t, Request{Queue: "support", Customer: "1001"})
	if got.State != Pending || got.Round != 2 || len(got.Attempts) != 2 {
		t.Errorf("returned: %s round %d %s", got.State, got.Round, attempts(got))
	}
	r.clk.Run()
	got, _ = r.s.Get("cb-1")
	const want = "sip:alice busy r1 @0s-0s; phone:+15550101 no_answer r1 @0s-0s; sip:alice busy r2 @5m0s-5m0s"
	if got.State != Failed || attempts(got) != want {
		t.Errorf("%s %s\nwant failed %s", got.State, attempts(got), want)
	}
	wantLines(t, "center", r.q.calls, []string{
		"0s enqueue cb-1 requested 0s", "0s withdraw cb-1",
		"5m0s enqueue cb-1 requested 0s", "5m0s withdraw cb-1",
	})
	if j := r.j.Requests(); attempts(j[0]) != want || j[0].State != Failed {
		t.Errorf("journal: %s %s", j[0].State, attempts(j[0]))
	}
}

// TestEnqueueRetriedEachTick: a center that refuses the callback: the
// request is kept, pending, and queued at the first tick the center
// takes it; then the tick stops.
func TestEnqueueRetriedEachTick(t *testing.T) {
	r := newRig(t)
	r.q.fail = errors.New("queue full")
	got := r.mustRequest(t, Request{Queue: "support", Number: "+15550123"})
	if got.State != Pending {
		t.Fatalf("state %s", got.State)
	}
	r.clk.Advance(12 * time.Second)
	r.q.fail = nil
	r.clk.Run()
	wantLines(t, "center", r.q.calls, []string{
		"0s enqueue cb-1 refused",
		"5s enqueue cb-1 refused",
		"10s enqueue cb-1 refused",
		"15s enqueue cb-1 requested 0s",
	})
	if r.clk.Elapsed() != 15*time.Second {
		t.Errorf("the clock ran until %v: the tick went on", r.clk.Elapsed())
	}
}
