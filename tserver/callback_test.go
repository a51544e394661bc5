package tserver

import (
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// A customer who takes a callback instead of waiting leaves the queue
// counted as callback, not abandoned, so that offered = answered +
// abandoned + callback + still waiting; the others keep their places.
func TestLeaveForCallback(t *testing.T) {
	e := newEnv(t, requestCenter)
	r := record(e.s)
	first := e.call("q")
	e.advance(10 * time.Second)
	second := e.call("q")
	third := e.call("q")
	e.advance(30 * time.Second)
	e.must(e.s.LeaveForCallback(second), "leave for callback")
	e.must(e.s.ReleaseCall(third), "third hangs up")

	var got *Event
	for i := range r.events {
		if r.events[i].ConnID == second && r.events[i].Type == EventAbandoned {
			got = &r.events[i]
		}
	}
	if got == nil || got.Reason != ReasonCallback {
		t.Fatalf("events of the callback interaction %v; want EventAbandoned with reason %q", r.ConnTypes(second), ReasonCallback)
	}
	st, err := e.s.QueueStats("q")
	e.must(err, "stats")
	if st.Offered != 3 || st.Callback != 1 || st.Abandoned != 1 || st.Answered != 0 {
		t.Fatalf("stats %+v; want offered 3, callback 1, abandoned 1, answered 0", st)
	}
	if st.WaitCallback != 30*time.Second {
		t.Fatalf("wait of the callback %v, want 30s", st.WaitCallback)
	}
	if waiting := st.Offered - st.Answered - st.Abandoned - st.Callback; waiting != 1 {
		t.Fatalf("%d still waiting by the balance, want 1", waiting)
	}
	if pos, _, err := e.s.Position(first); err != nil || pos != 1 {
		t.Fatalf("first at position %d (%v), want 1", pos, err)
	}

	// Twice, or for an interaction with an agent: refused, nothing changes.
	cctest.WantKind(t, e.s.LeaveForCallback(second), pbx.NotFound, "second leave for callback")
	e.login("a")
	if e.agentOf(first) != "a" {
		t.Fatalf("first not offered to a")
	}
	e.answer(first)
	cctest.WantKind(t, e.s.LeaveForCallback(first), pbx.Conflict, "leave for callback when connected")
	if after, _ := e.s.QueueStats("q"); after.Callback != 1 || after.Answered != 1 {
		t.Fatalf("stats after refused requests %+v; want callback 1, answered 1", after)
	}
}

const callbackQueueCenter = `
queues:
  - {name: cb, media: callback, sl_target: 60s}
agents:
  - {id: a, skills: {cb: 5}, capacity: {callback: 1}, ready: false}
`

// A callback arriving with Since keeps the place its customer had: it goes
// before those who asked later, and its wait and service level count from
// the request.
func TestArrivalSinceKeepsThePlace(t *testing.T) {
	e := newEnv(t, callbackQueueCenter)
	t0 := e.clk.Now()
	e.advance(10 * time.Minute)
	later := e.arrive("cb", pbx.Callback)
	id, err := e.s.Arrive(&Arrival{Media: pbx.Callback, DNIS: "cb", Since: t0.Add(time.Minute)})
	e.must(err, "arrive with since")
	if pos, _, _ := e.s.Position(id); pos != 1 {
		t.Fatalf("the earlier request is at position %d, want 1", pos)
	}
	if at := e.s.Contact(id).Arrived(); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("arrived %v, want the request's time", at)
	}
	e.login("a")
	if e.agentOf(id) != "a" || e.agentOf(later) != "" {
		t.Fatalf("offered %q / %q; want the earlier request first", e.agentOf(id), e.agentOf(later))
	}
	e.answer(id)
	st, _ := e.s.QueueStats("cb")
	if st.Offered != 2 || st.Answered != 1 || st.AnsweredInSL != 0 || st.WaitAnswered != 9*time.Minute {
		t.Fatalf("stats %+v; want 2 offered, 1 answered after 9m (outside the 60s target)", st)
	}
}

// A withdrawn callback leaves its queue without an outcome and, resumed
// later with its original arrival, is counted once.
func TestWithdrawThenResumeCountsOnce(t *testing.T) {
	e := newEnv(t, callbackQueueCenter)
	t0 := e.clk.Now()
	id := e.arrive("cb", pbx.Callback)
	e.advance(time.Minute)
	e.must(e.s.Withdraw(id), "withdraw")
	st, _ := e.s.QueueStats("cb")
	if st.Offered != 1 || st.Abandoned != 0 || st.Callback != 0 {
		t.Fatalf("after withdraw %+v; want offered 1 and no outcome", st)
	}
	cctest.WantKind(t, e.s.Withdraw(id), pbx.NotFound, "withdraw twice")
	e.advance(time.Minute)
	back, err := e.s.Arrive(&Arrival{Media: pbx.Callback, DNIS: "cb", Resume: &Resume{Arrived: t0}})
	e.must(err, "resume")
	e.login("a")
	e.answer(back)
	st, _ = e.s.QueueStats("cb")
	if st.Offered != 1 || st.Answered != 1 || st.WaitAnswered != 2*time.Minute {
		t.Fatalf("after the resumed callback was answered %+v; want offered 1, answered 1 after 2m", st)
	}
}

// A callback an agent answered, released (the customer was not reached)
// and resumed later as answered is counted once: offered once, answered
// once, its wait the first answer's.
func TestRetriedCallbackCountedOnce(t *testing.T) {
	e := newEnv(t, callbackQueueCenter)
	t0 := e.clk.Now()
	id := e.arrive("cb", pbx.Callback)
	e.advance(time.Minute)
	e.login("a")
	e.answer(id)
	e.advance(20 * time.Second)
	e.release(id)
	e.advance(5 * time.Minute)
	again, err := e.s.Arrive(&Arrival{Media: pbx.Callback, DNIS: "cb", Resume: &Resume{Arrived: t0, Answered: true}})
	e.must(err, "resume")
	e.advance(10 * time.Second) // the agent's wrap-up, if any
	if st, _ := e.connState(again); st != pbx.Ringing && st != pbx.Queued {
		t.Fatalf("the retried callback is %s", st)
	}
	e.serveNext("a")
	st, _ := e.s.QueueStats("cb")
	if st.Offered != 1 || st.Answered != 1 || st.WaitAnswered != time.Minute {
		t.Fatalf("stats %+v; want offered 1, answered 1, waited 1m", st)
	}
}
