package tserver

import (
	"testing"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// Interactions resumed after a restart keep their place and their wait:
// they arrive out of order, with arrival times in the past, and are served
// oldest first; the statistics do not count them offered again, and their
// waits count from their original arrival.
func TestResumeKeepsWaitAndOrder(t *testing.T) {
	e := newEnv(t, `
queues: [{name: q, sl_target: 30s}]
agents: [{id: a, skills: {q: 5}, ready: false}]
`)
	e.advance(time.Minute)
	now := e.s.Now()
	// Waited 20 s, 50 s and 40 s before the restart; then a new one.
	waits := []time.Duration{20 * time.Second, 50 * time.Second, 40 * time.Second}
	ids := map[pbx.ConnID]int{}
	for i, w := range waits {
		id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q", Resume: &Resume{Arrived: now.Add(-w)}})
		ids[id] = i
	}
	fresh := e.call("q")
	ids[fresh] = 3
	st, _ := e.s.QueueStats("q")
	if st.Offered != 1 || st.Waited != 1 {
		t.Fatalf("offered %d, waited %d: want 1 and 1 (the resumed were counted before the restart)", st.Offered, st.Waited)
	}
	for id, want := range map[pbx.ConnID]int{fresh: 4} {
		if pos, _, err := e.s.Position(id); err != nil || pos != want {
			t.Fatalf("position of the new one: %d %v, want %d", pos, err, want)
		}
	}
	if qs := e.s.Status()[0]; qs.OldestWait != 50*time.Second {
		t.Fatalf("oldest wait %v, want 50s", qs.OldestWait)
	}
	e.must(e.s.AgentLogin("a", ""), "login")
	e.must(e.s.AgentReady("a"), "ready")
	var got []int
	for range ids {
		got = append(got, ids[e.serveNext("a")])
	}
	wantEqual(t, "order served", got, []int{1, 2, 0, 3})
	st, _ = e.s.QueueStats("q")
	// Waits when answered: 50, 40, 20 and 0 s after the minute.
	if st.Answered != 4 || st.AnsweredInSL != 2 || st.WaitAnswered != 110*time.Second {
		t.Fatalf("answered %d, in SL %d, total wait %v: want 4, 2, 1m50s", st.Answered, st.AnsweredInSL, st.WaitAnswered)
	}
}

// A resumed interaction with a preferred agent waits for that agent until
// the deadline: other agents are not offered it, the agent is offered it
// first when it becomes ready; after the deadline any agent may take it,
// before those waiting in its priority when it had been answered.
func TestResumePreferredAgentUntilDeadline(t *testing.T) {
	const yaml = `
queues: [{name: q}]
agents:
  - {id: a, skills: {q: 5}, ready: false}
  - {id: b, skills: {q: 5}, ready: false}
`
	t.Run("the agent comes back in time", func(t *testing.T) {
		e := newEnv(t, yaml)
		e.advance(time.Minute)
		waiting := e.call("q")
		e.advance(time.Second)
		id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q",
			Resume: &Resume{Arrived: e.s.Now().Add(-5 * time.Minute), Answered: true, Agent: "a", Until: e.s.Now().Add(time.Minute)}})
		e.login("b")
		if got := e.agentOf(id); got != "" {
			t.Fatalf("offered to %q before its agent came back", got)
		}
		if got := e.agentOf(waiting); got != "b" {
			t.Fatalf("the other one rings at %q, want b", got)
		}
		e.advance(30 * time.Second)
		e.login("a")
		if got := e.agentOf(id); got != "a" {
			t.Fatalf("offered to %q, want a", got)
		}
		st, _ := e.s.QueueStats("q")
		e.answer(id)
		if st2, _ := e.s.QueueStats("q"); st2.Answered != st.Answered {
			t.Fatalf("answered again: %d, was %d", st2.Answered, st.Answered)
		}
	})
	t.Run("the deadline passes", func(t *testing.T) {
		e := newEnv(t, yaml)
		e.advance(time.Minute)
		waiting := e.call("q")
		e.advance(time.Second)
		id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q",
			Resume: &Resume{Arrived: e.s.Now(), Answered: true, Agent: "a", Until: e.s.Now().Add(time.Minute)}})
		e.advance(59 * time.Second)
		if c := e.s.Contact(id); c.PreferredAgent() != "a" {
			t.Fatalf("preferred agent %q before the deadline, want a", c.PreferredAgent())
		}
		e.advance(time.Second)
		if c := e.s.Contact(id); c.PreferredAgent() != "" {
			t.Fatalf("still waiting for %q after the deadline", c.PreferredAgent())
		}
		if pos, _, _ := e.s.Position(id); pos != 1 {
			t.Fatalf("position %d after the deadline, want 1 (head of the queue)", pos)
		}
		e.login("b")
		wantEqual(t, "served by b", []pbx.ConnID{e.serveNext("b"), e.serveNext("b")}, []pbx.ConnID{id, waiting})
	})
	t.Run("the agent is ready at once", func(t *testing.T) {
		e := newEnv(t, yaml)
		e.login("b", "a")
		id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q",
			Resume: &Resume{Answered: true, Agent: "a", Until: e.s.Now().Add(time.Minute)}})
		if got := e.agentOf(id); got != "a" {
			t.Fatalf("offered to %q, want a", got)
		}
	})
	t.Run("a resumed interaction must arrive at a queue", func(t *testing.T) {
		e := newEnv(t, `
queues: [{name: q}]
agents: [{id: a, number: "1001", skills: {q: 5}}]
`)
		if _, err := e.s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "1001", Resume: &Resume{}}); pbx.KindOf(err) != pbx.Invalid {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

// Statistics restored at start continue: what is counted after adds to
// them.
func TestRestoreStats(t *testing.T) {
	e := newEnv(t, `
queues: [{name: q}]
agents: [{id: a, skills: {q: 5}}]
`)
	e.s.RestoreStats(map[string]QueueStats{"q": {Offered: 10, Answered: 8, Abandoned: 1, AnsweredInSL: 7}, "gone": {Offered: 3}})
	e.call("q")
	e.serveNext("a")
	st := e.s.AllStats()["q"]
	if st.Offered != 11 || st.Answered != 9 || st.Abandoned != 1 || st.AnsweredInSL != 8 {
		t.Fatalf("after restore and one answered call: %+v", st)
	}
	if d := st.Sub(QueueStats{Offered: 10, Answered: 8, Abandoned: 1, AnsweredInSL: 7}); d.Offered != 1 || d.Answered != 1 {
		t.Fatalf("difference %+v", d)
	}
}
