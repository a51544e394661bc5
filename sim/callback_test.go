package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/config"
)

// callbackCenter is an overloaded voice queue (4 agents for 90 calls an
// hour of 3 minutes) whose waiting callers are offered callbacks, which
// wait in their own queue for 40 agents who only take callbacks. Calls
// arrive during the first ARRIVALS hours of the run. CALLBACK is the
// line's callback model.
const callbackCenter = `
queues:
  - {name: support, media: voice, sl_target: 30s, callback_queue: support-cb}
  - {name: support-cb, media: callback, sl_target: 10m}
agents:
  - {group: voice, count: 4, skills: {support: 5}, capacity: {callback: 0}}
  - {group: callers, count: CALLERS, skills: {support-cb: 5}, capacity: {voice: 0}}
traffic:
  - queue: support
    arrivals: {forecast: {interval: 1h, intervals: [ARRIVALS]}}
    handle: {exponential: {mean: 3m}}
    patience: {exponential: {mean: 5m}}
    callback: CALLBACK
run: {duration: 6h, replications: 4, seed: 7}
`

// callbackScenario fills callbackCenter: arrivals for the first hours
// hours (at 90 an hour), callers agents for callbacks, model the callback
// model.
func callbackScenario(t *testing.T, hours, callers int, model string) *config.File {
	t.Helper()
	var rates []string
	for h := range hours {
		rates = append(rates, fmt.Sprintf(`{start: "%02d:00", per_hour: 90}`, h))
	}
	y := strings.NewReplacer("ARRIVALS", strings.Join(rates, ", "), "CALLERS", strconv.Itoa(callers), "CALLBACK", model).Replace(callbackCenter)
	return mustParse(t, y)
}

// requestsOf returns every callback of the replications, and their
// number.
func requestsOf(reps []replication) ([]callback.Request, int) {
	var all []callback.Request
	for _, rep := range reps {
		all = append(all, rep.callbackRequests...)
	}
	return all, len(all)
}

// With every attempt answered, every callback is done after exactly one
// attempt.
func TestCallbackAnsweredAtOnce(t *testing.T) {
	f := callbackScenario(t, 1, 40, `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}`)
	reps := replications(t, f, nil)
	reqs, n := requestsOf(reps)
	if n < 100 {
		t.Fatalf("only %d callbacks over %d replications: the test proves nothing", n, len(reps))
	}
	for _, r := range reqs {
		if r.State != callback.Done || len(r.Attempts) != 1 || r.Attempts[0].Result != callback.ResultAnswered {
			t.Fatalf("callback %s is %s after %d attempts %+v; want done after one answered attempt", r.ID, r.State, len(r.Attempts), r.Attempts)
		}
	}
	for i, rep := range reps {
		o := rep.callbacks[1]
		if o.done != o.callbacks || o.attempts != o.callbacks || o.callbacks != int64(len(rep.callbackRequests)) {
			t.Errorf("replication %d: %+v; want every callback done with one attempt", i, o)
		}
	}
	t.Logf("%d callbacks, all done at the first attempt", n)
}

// With no attempt answered, every callback fails after exactly
// max_attempts attempts, one per round (one target), each round pause
// after the end of the one before: the callback server's retry policy.
func TestCallbackUnansweredFailsAfterMaxAttempts(t *testing.T) {
	const pause, ring = 7 * time.Minute, 20 * time.Second
	f := callbackScenario(t, 1, 40, `{accept: 1, reach: {answered: 0, busy: 0.5, no_answer: 0.3, unreachable: 0.2},
      ring: {constant: {value: 20s}}, preferences: {max_attempts: 4, pause: 7m}}`)
	reps := replications(t, f, nil)
	reqs, n := requestsOf(reps)
	if n < 100 {
		t.Fatalf("only %d callbacks: the test proves nothing", n)
	}
	results := map[callback.Result]int{}
	for _, r := range reqs {
		if r.State != callback.Failed || len(r.Attempts) != 4 {
			t.Fatalf("callback %s is %s after %d attempts; want failed after 4", r.ID, r.State, len(r.Attempts))
		}
		for k, a := range r.Attempts {
			results[a.Result]++
			if a.Medium != callback.Phone || a.Target != r.Number {
				t.Fatalf("callback %s attempt %d to %s:%s; want the customer's number %s", r.ID, k+1, a.Medium, a.Target, r.Number)
			}
			if got := a.Ended.Sub(a.At); got != ring {
				t.Fatalf("callback %s attempt %d rang %v, want %v", r.ID, k+1, got, ring)
			}
			if k > 0 {
				if gap := a.At.Sub(r.Attempts[k-1].Ended); gap != pause {
					t.Fatalf("callback %s attempt %d started %v after the one before ended; want the pause %v", r.ID, k+1, gap, pause)
				}
			}
		}
	}
	if results[callback.ResultBusy] == 0 || results[callback.ResultNoAnswer] == 0 || results[callback.ResultUnreachable] == 0 ||
		results[callback.ResultAnswered] != 0 {
		t.Errorf("attempt results %v; want busy, no_answer and unreachable, never answered", results)
	}
	t.Logf("%d callbacks failed after 4 attempts each, %v apart; results %v", n, pause+ring, results)
}

// Flow balance with callbacks: per queue and replication, offered =
// answered + abandoned + callback + waiting at end; every callback is
// done, failed or still pending at the end; every caller who left for a
// callback has one.
func TestCallbackFlowBalance(t *testing.T) {
	// Arrivals all along a 6 hour run, few agents for the callbacks,
	// every outcome possible, customers who say do-not-disturb.
	f := callbackScenario(t, 6, 3, `{offer_after_ewt: 1m, accept: 0.6, reach: {answered: 0.5, busy: 0.2, no_answer: 0.2, unreachable: 0.1},
      presence: {online: {share: 0.4, reach: {answered: 0.2, busy: 0.4, no_answer: 0.4, unreachable: 0}}, offline: {share: 0.5}, dnd: {share: 0.1}},
      ring: {exponential: {mean: 30s}}, preferences: {online: [sip, phone], max_attempts: 2, pause: 10m}}`)
	f.Run.Warmup = config.Duration(30 * time.Minute)
	reps := replications(t, f, nil)
	var total callbackOutcome
	for i, rep := range reps {
		for qi, q := range f.Queues {
			o := rep.queues[qi]
			if o.offered != o.answered+o.abandoned+o.callback+o.waitingAtEnd {
				t.Errorf("replication %d %s: offered %d != answered %d + abandoned %d + callback %d + waiting at end %d",
					i, q.Name, o.offered, o.answered, o.abandoned, o.callback, o.waitingAtEnd)
			}
		}
		c := rep.callbacks[1]
		if c.callbacks != c.done+c.failed+c.cancelled+c.pendingAtEnd {
			t.Errorf("replication %d: %d callbacks != done %d + failed %d + cancelled %d + pending %d",
				i, c.callbacks, c.done, c.failed, c.cancelled, c.pendingAtEnd)
		}
		if voice := rep.queues[0].callback; voice != c.callbacks || rep.queues[1].offered != c.callbacks {
			t.Errorf("replication %d: %d callers left for a callback, %d callbacks, the callback queue offered %d",
				i, voice, c.callbacks, rep.queues[1].offered)
		}
		var attempts int64
		for _, r := range rep.callbackRequests {
			attempts += int64(len(r.Attempts))
		}
		if len(rep.callbackRequests) < int(c.callbacks) || c.attempts > attempts {
			t.Errorf("replication %d: %d requests, %d attempts for %d counted callbacks with %d attempts",
				i, len(rep.callbackRequests), attempts, c.callbacks, c.attempts)
		}
		total.callbacks += c.callbacks
		total.done += c.done
		total.failed += c.failed
		total.pendingAtEnd += c.pendingAtEnd
		total.waitingAtEnd += c.waitingAtEnd
	}
	if total.done == 0 || total.failed == 0 || total.pendingAtEnd == 0 || total.waitingAtEnd == 0 {
		t.Errorf("outcomes %+v; want some done, failed, pending and never dialled at the end", total)
	}
	t.Logf("%d callbacks: %d done, %d failed, %d pending at the end (%d never dialled)",
		total.callbacks, total.done, total.failed, total.pendingAtEnd, total.waitingAtEnd)
}

// The share of customers offered a callback who take it is accept,
// within its 95% interval over the replications.
func TestCallbackAcceptShare(t *testing.T) {
	f := callbackScenario(t, 6, 40, `{offer_after_ewt: 30s, accept: 0.3, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}`)
	f.Run.Replications = 8
	reps := replications(t, f, nil)
	var shares []float64
	var offers int64
	for _, rep := range reps {
		o := rep.callbacks[1]
		offers += o.offers
		shares = append(shares, float64(o.callbacks)/float64(o.offers))
	}
	if offers < 1000 {
		t.Fatalf("only %d offers: the test proves nothing", offers)
	}
	within(t, "share of the offered who take a callback", shares, 0.3)
	if mean, half := MeanCI95(shares); math.Abs(mean-0.35) <= half {
		t.Errorf("the share %.4f ±%.4f does not tell 0.3 from 0.35", mean, half)
	}
}

// The simulator's callbacks follow callback.Scheduler's rules, not a copy
// of them: customers who say do-not-disturb are postponed and never
// dialled (the simulator has no rule of its own for them), nor are
// offline customers whose only target is their SIP phone (no target
// reaches them); the same customers offline with a phone are dialled.
func TestCallbackSchedulerRules(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		dialled     bool
	}{
		{"everyone dnd", `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}, presence: {dnd: {share: 1}}}`, false},
		{"offline with only a sip target", `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0},
      preferences: {offline: [sip]}}`, false},
		{"online with a sip target", `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0},
      presence: {online: {share: 1}}, preferences: {online: [sip]}}`, true},
		{"offline with a phone", `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}`, true},
	} {
		f := callbackScenario(t, 1, 40, tc.model)
		f.Run.Replications = 2
		reps := replications(t, f, nil)
		reqs, n := requestsOf(reps)
		if n < 50 {
			t.Fatalf("%s: only %d callbacks", tc.name, n)
		}
		for _, r := range reqs {
			switch {
			case !tc.dialled && (len(r.Attempts) != 0 || r.State != callback.Pending):
				t.Fatalf("%s: callback %s is %s after %d attempts; want pending, never dialled", tc.name, r.ID, r.State, len(r.Attempts))
			case tc.dialled && r.State != callback.Done:
				t.Fatalf("%s: callback %s is %s; want done", tc.name, r.ID, r.State)
			}
		}
		if !tc.dialled {
			if o := reps[0].queues[1]; o.answered != 0 || o.waitingAtEnd != o.offered || o.offered == 0 {
				t.Errorf("%s: the callback queue %+v; want every callback waiting at the end", tc.name, o)
			}
		}
		if tc.dialled && strings.Contains(tc.model, "sip]") && reqs[0].Attempts[0].Medium != callback.SIP {
			t.Errorf("%s: dialled %s, want the SIP phone", tc.name, reqs[0].Attempts[0].Medium)
		}
	}
}

// Customer first: the customer is dialled when a callback agent is free
// (the queue's EWT is 0), and once answered waits for the agent, who
// talks the handle time.
func TestCallbackCustomerFirst(t *testing.T) {
	f := callbackScenario(t, 1, 10, `{accept: 1, mode: customer_first, reach: {answered: 0.6, busy: 0.4, no_answer: 0, unreachable: 0}}`)
	reps := replications(t, f, nil)
	reqs, n := requestsOf(reps)
	if n < 100 {
		t.Fatalf("only %d callbacks", n)
	}
	done := 0
	for _, r := range reqs {
		if r.Mode != callback.CustomerFirst || (r.State != callback.Done && r.State != callback.Failed) {
			t.Fatalf("callback %s %s is %s", r.ID, r.Mode, r.State)
		}
		if r.State == callback.Done {
			done++
		}
	}
	if done == 0 || done == n {
		t.Errorf("%d of %d done; want some done and some failed", done, n)
	}
}

// examples/callback-day.yaml runs in strict mode, gives the same bytes at
// 1 and 2 workers, and its callbacks are dialled and reached.
func TestCallbackDayExample(t *testing.T) {
	f, err := config.Load("../examples/callback-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := sameJSONAtWorkers(t, f, Config{Strict: true}, wholeResult, 1, 2)
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Callbacks) != 1 {
		t.Fatalf("callbacks %+v; want the support-callback queue's", r.Callbacks)
	}
	c, voice, cbq := r.Callbacks[0], r.Queues[0], r.Queues[1]
	if c.Callbacks == 0 || c.Done == 0 || c.AttemptsPerCallback < 1 || voice.Callback != c.Callbacks || cbq.Offered != c.Callbacks ||
		c.Callbacks != c.Done+c.Failed+c.Cancelled+c.PendingAtEnd || voice.Offered != voice.Answered+voice.Abandoned+voice.Callback+voice.WaitingAtEnd {
		t.Errorf("callbacks %+v, queues %+v", c, r.Queues)
	}
	if !strings.Contains(string(out), `"callback":`+strconv.FormatInt(voice.Callback, 10)) {
		t.Errorf("no \"callback\" key in the JSON: %s", out)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "attempts per callback") {
		t.Errorf("text %q, %v", text.String(), err)
	}
	t.Logf("%d offers, %d callbacks: %d done, %d failed, %d pending; %.2f attempts each",
		c.Offers, c.Callbacks, c.Done, c.Failed, c.PendingAtEnd, c.AttemptsPerCallback)
}

// A callback queue no agent serves is warned about before the run (and
// is an error in strict mode); the callback-day example has no warning.
func TestCallbackQueueNobodyServesWarns(t *testing.T) {
	f := callbackScenario(t, 1, 2, `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}`)
	f.Agents[1].Capacity["callback"] = 0 // the callers take no callback
	want := `queue "support-cb": no agent serves it, yet traffic[0].callback offer it interactions`
	if w := strings.Join(scenarioWarnings(f), "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings %q; want %q", w, want)
	}
	if _, err := Run(context.Background(), f, Config{Strict: true}); !errors.Is(err, ErrWarnings) {
		t.Errorf("strict: %v; want ErrWarnings", err)
	}
	served := callbackScenario(t, 1, 2, `{accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}`)
	if w := scenarioWarnings(served); strings.Contains(strings.Join(w, "\n"), "support-cb") {
		t.Errorf("a served callback queue warned about: %q", w)
	}
}

// Chatters take callbacks too: their chats leave the im queue counted as
// callback, and the requests come from IM.
func TestCallbackFromChats(t *testing.T) {
	f := mustParse(t, `
queues:
  - {name: chat, media: im, callback_queue: chat-cb}
  - {name: chat-cb, media: callback}
agents:
  - {group: chat, count: 2, skills: {chat: 5}, capacity: {im: 2, callback: 0}}
  - {group: callers, count: 10, skills: {chat-cb: 5}, capacity: {im: 0}}
traffic:
  - queue: chat
    arrivals: {forecast: {interval: 1h, intervals: [{start: "00:00", per_hour: 120}]}}
    handle: {exponential: {mean: 4m}}
    callback: {offer_after_ewt: 1m, accept: 0.5, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}
run: {duration: 4h, replications: 2, seed: 3}
`)
	reps := replications(t, f, nil)
	reqs, n := requestsOf(reps)
	if n < 20 {
		t.Fatalf("only %d callbacks", n)
	}
	for _, r := range reqs {
		if r.Origin != callback.OriginIM || r.State != callback.Done || r.Queue != "chat" {
			t.Fatalf("callback %+v; want one from IM for queue chat, done", r)
		}
	}
	var left int64
	for _, rep := range reps {
		o := rep.queues[0]
		left += o.callback
		if o.offered != o.answered+o.abandoned+o.callback+o.waitingAtEnd {
			t.Errorf("chat: %+v does not balance", o)
		}
	}
	if left != int64(n) {
		t.Errorf("%d chats left for a callback, %d callbacks", left, n)
	}
}
