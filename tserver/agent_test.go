package tserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/looplab/fsm"

	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// The derived table must agree with looplab/fsm on every state and event.
// A self-loop is a NoTransitionError for looplab/fsm and the same state
// for the table.
func TestAgentTransitionMatchesFSM(t *testing.T) {
	for s := AgentState(0); s < numAgentStates; s++ {
		for e := AgentEvent(0); e < numAgentEvents; e++ {
			m := NewAgentFSM(s)
			fsmErr := m.Event(context.Background(), e.String())
			got, err := AgentTransition(s, e)
			var invalid fsm.InvalidEventError
			var noTransition fsm.NoTransitionError
			switch {
			case errors.As(fsmErr, &invalid):
				if err == nil {
					t.Errorf("%s on %s: table allows (-> %s), fsm refuses", e, s, got)
				} else if pbx.KindOf(err) != pbx.Conflict {
					t.Errorf("%s on %s: error kind %v, want conflict", e, s, pbx.KindOf(err))
				} else if got != s {
					t.Errorf("%s on %s: refused but returned %s, want the state unchanged", e, s, got)
				}
			case fsmErr != nil && !errors.As(fsmErr, &noTransition):
				t.Fatalf("%s on %s: unexpected fsm error %v", e, s, fsmErr)
			case err != nil:
				t.Errorf("%s on %s: table refuses (%v), fsm goes to %s", e, s, err, m.Current())
			case got.String() != m.Current():
				t.Errorf("%s on %s: table -> %s, fsm -> %s", e, s, got, m.Current())
			}
		}
	}
	// Out of range.
	if _, err := AgentTransition(numAgentStates, AgLogin); pbx.KindOf(err) != pbx.Conflict {
		t.Errorf("unknown state: %v, want conflict", err)
	}
	if _, err := AgentTransition(LoggedOut, numAgentEvents); pbx.KindOf(err) != pbx.Conflict {
		t.Errorf("unknown event: %v, want conflict", err)
	}
}

// agentCenter: one agent a who wraps up for 30s, and agent b to take
// what a does not.
const agentCenter = `
queues: [{name: q}, {name: chat, media: im}]
agents:
  - {id: a, number: "1001", skills: {q: 5, chat: 5}, capacity: {im: 2}, wrap_up: 30s, ready: false}
  - {id: b, number: "1002", skills: {chat: 5}, ready: false}
`

// toState brings agent a of agentCenter to st and returns the voice
// interaction that put it there (0 when none is live).
func (e *env) toState(st AgentState) pbx.ConnID {
	e.tb.Helper()
	if st == LoggedOut {
		return 0
	}
	e.must(e.s.AgentLogin("a", ""), "login")
	if st == NotReady {
		e.must(e.s.AgentNotReady("a", "lunch"), "not ready")
		return 0
	}
	e.must(e.s.AgentReady("a"), "ready")
	if st == Ready {
		return 0
	}
	id := e.call("q")
	if st == Reserved {
		return id
	}
	e.answer(id)
	if st == Busy {
		return id
	}
	e.release(id)
	return 0
}

// agentLines returns the agent events (those of no interaction) of the
// recorder.
func agentLines(r *recorder) []string {
	var out []string
	for _, ev := range r.events {
		if ev.ConnID == 0 {
			out = append(out, eventLine(ev))
		}
	}
	return out
}

// Every agent state and request: the state reached, or the error kind
// (and then the state unchanged), and the agent events it causes.
func TestAgentStateTransitions(t *testing.T) {
	type action struct {
		name string
		do   func(e *env, id pbx.ConnID) error
	}
	var (
		login    = action{"login", func(e *env, _ pbx.ConnID) error { return e.s.AgentLogin("a", "") }}
		logout   = action{"logout", func(e *env, _ pbx.ConnID) error { return e.s.AgentLogout("a") }}
		ready    = action{"ready", func(e *env, _ pbx.ConnID) error { return e.s.AgentReady("a") }}
		notReady = action{"not ready", func(e *env, _ pbx.ConnID) error { return e.s.AgentNotReady("a", "break") }}
		offer    = action{"a call arrives", func(e *env, _ pbx.ConnID) error { e.call("q"); return nil }}
		chat     = action{"a chat arrives", func(e *env, _ pbx.ConnID) error { e.arrive("chat", pbx.IM); return nil }}
		answer   = action{"answer", func(e *env, id pbx.ConnID) error { return e.s.AnswerCall(id) }}
		reject   = action{"reject", func(e *env, id pbx.ConnID) error { return e.s.RejectCall(id, "declined") }}
		release  = action{"release", func(e *env, id pbx.ConnID) error { return e.s.ReleaseCall(id) }}
		hold     = action{"hold", func(e *env, id pbx.ConnID) error { return e.s.HoldCall(id) }}
		wrapDone = action{"wrap-up time passes", func(e *env, _ pbx.ConnID) error { e.advance(30 * time.Second); return nil }}
		wrapLeft = action{"wrap-up time not over", func(e *env, _ pbx.ConnID) error { e.advance(29 * time.Second); return nil }}
		dial     = action{"make call", func(e *env, _ pbx.ConnID) error {
			_, err := e.s.MakeCall("a", "5550199", pbx.Voice)
			return err
		}}
		dialIM = action{"make chat", func(e *env, _ pbx.ConnID) error {
			_, err := e.s.MakeCall("a", "customer@example.net", pbx.IM)
			return err
		}}
	)
	const ok = pbx.Kind(255) // no error expected
	tests := []struct {
		from   AgentState
		act    action
		want   AgentState
		kind   pbx.Kind
		events []string // agent events caused
	}{
		{LoggedOut, login, NotReady, ok, []string{"EventAgentLogin agent=a"}},
		{LoggedOut, logout, LoggedOut, pbx.Conflict, nil},
		{LoggedOut, ready, LoggedOut, pbx.Conflict, nil},
		{LoggedOut, notReady, LoggedOut, pbx.Conflict, nil},
		{LoggedOut, offer, LoggedOut, ok, nil},
		{LoggedOut, dial, LoggedOut, pbx.Conflict, nil},

		{NotReady, login, NotReady, pbx.Conflict, nil},
		{NotReady, logout, LoggedOut, ok, []string{"EventAgentLogout agent=a"}},
		{NotReady, ready, Ready, ok, []string{"EventAgentReady agent=a"}},
		{NotReady, notReady, NotReady, ok, []string{"EventAgentNotReady agent=a reason=break"}},
		{NotReady, offer, NotReady, ok, nil},
		{NotReady, dial, Busy, ok, nil},
		{NotReady, answer, NotReady, pbx.NotFound, nil},

		{Ready, login, Ready, pbx.Conflict, nil},
		{Ready, logout, LoggedOut, ok, []string{"EventAgentLogout agent=a"}},
		{Ready, ready, Ready, ok, []string{"EventAgentReady agent=a"}},
		{Ready, notReady, NotReady, ok, []string{"EventAgentNotReady agent=a reason=break"}},
		{Ready, offer, Reserved, ok, nil},
		{Ready, chat, Reserved, ok, nil},
		{Ready, dial, Busy, ok, nil},
		{Ready, reject, Ready, pbx.NotFound, nil},

		{Reserved, login, Reserved, pbx.Conflict, nil},
		{Reserved, logout, Reserved, pbx.Conflict, nil},
		{Reserved, ready, Reserved, ok, []string{"EventAgentReady agent=a"}},
		{Reserved, notReady, Reserved, ok, []string{"EventAgentNotReady agent=a reason=break"}}, // takes effect later
		{Reserved, offer, Reserved, ok, nil},                                                    // voice capacity 1: waits
		{Reserved, chat, Reserved, ok, nil},                                                     // offered too
		{Reserved, answer, Busy, ok, nil},
		{Reserved, reject, NotReady, ok, []string{"EventAgentNotReady agent=a reason=declined"}},
		{Reserved, release, Ready, ok, nil}, // the caller hangs up while it rings
		{Reserved, hold, Reserved, pbx.Conflict, nil},
		{Reserved, dial, Reserved, pbx.Conflict, nil},

		{Busy, login, Busy, pbx.Conflict, nil},
		{Busy, logout, Busy, pbx.Conflict, nil},
		{Busy, ready, Busy, ok, []string{"EventAgentReady agent=a"}},
		{Busy, notReady, Busy, ok, []string{"EventAgentNotReady agent=a reason=break"}}, // takes effect later
		{Busy, offer, Busy, ok, nil},
		{Busy, chat, Busy, ok, nil},
		{Busy, answer, Busy, pbx.Conflict, nil},
		{Busy, reject, Busy, pbx.Conflict, nil},
		{Busy, hold, Busy, ok, nil},
		{Busy, release, AfterCallWork, ok, []string{"EventAgentNotReady agent=a reason=after_call_work"}},
		{Busy, dial, Busy, pbx.Busy, nil}, // no voice capacity left
		{Busy, dialIM, Busy, ok, nil},

		{AfterCallWork, login, AfterCallWork, pbx.Conflict, nil},
		{AfterCallWork, logout, LoggedOut, ok, []string{"EventAgentLogout agent=a"}},
		{AfterCallWork, ready, Ready, ok, []string{"EventAgentReady agent=a"}},
		{AfterCallWork, notReady, NotReady, ok, []string{"EventAgentNotReady agent=a reason=break"}},
		{AfterCallWork, offer, AfterCallWork, ok, nil},
		{AfterCallWork, wrapLeft, AfterCallWork, ok, nil},
		{AfterCallWork, wrapDone, Ready, ok, []string{"EventAgentReady agent=a"}},
		{AfterCallWork, dial, Busy, ok, nil},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"/"+tt.act.name, func(t *testing.T) {
			e := newEnv(t, agentCenter)
			id := e.toState(tt.from)
			if got := e.state("a"); got != tt.from {
				t.Fatalf("set-up reached %s, want %s", got, tt.from)
			}
			e.rec.Reset()
			err := tt.act.do(e, id)
			if tt.kind == ok {
				e.must(err, tt.act.name)
			} else {
				cctest.WantKind(t, err, tt.kind, tt.act.name)
			}
			if got := e.state("a"); got != tt.want {
				t.Fatalf("%s from %s: agent is %s, want %s", tt.act.name, tt.from, got, tt.want)
			}
			wantEqualLines(t, "agent events", agentLines(e.rec), tt.events)
		})
	}
}

// Not ready while handling work waits for the work to end; ready cancels
// it; after-call work ends early on request.
func TestAgentPendingNotReady(t *testing.T) {
	tests := []struct {
		name       string
		from       AgentState
		steps      func(e *env, id pbx.ConnID)
		want       AgentState
		wantReason string
		takesCalls bool // a new call rings the agent
	}{
		{
			name: "busy: not ready after the call and its wrap-up", from: Busy,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.release(id)
				if st := e.state("a"); st != AfterCallWork {
					e.tb.Fatalf("after release: %s, want after_call_work", st)
				}
				e.advance(30 * time.Second)
			},
			want: NotReady, wantReason: "break",
		},
		{
			name: "busy: ready cancels a pending not ready", from: Busy,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.must(e.s.AgentReady("a"), "ready")
				e.release(id)
				e.advance(30 * time.Second)
			},
			want: Ready, takesCalls: true,
		},
		{
			name: "busy: the last not ready reason wins", from: Busy,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.must(e.s.AgentNotReady("a", "meeting"), "not ready")
				e.release(id)
				e.advance(30 * time.Second)
			},
			want: NotReady, wantReason: "meeting",
		},
		{
			name: "reserved: not ready when the caller hangs up", from: Reserved,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.release(id)
			},
			want: NotReady, wantReason: "break",
		},
		{
			name: "reserved: not ready after answering and wrap-up", from: Reserved,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.answer(id)
				e.release(id)
				e.advance(30 * time.Second)
			},
			want: NotReady, wantReason: "break",
		},
		{
			name: "reserved: pending not ready, then reject, then ready takes calls", from: Reserved,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.must(e.s.RejectCall(id, "declined"), "reject")
				if st, r := e.state("a"), e.agent("a").Reason(); st != NotReady || r != "declined" {
					e.tb.Fatalf("after reject: %s (%q), want not_ready (declined)", st, r)
				}
				e.release(id) // the caller gives up in the queue
				e.must(e.s.AgentReady("a"), "ready")
			},
			want: Ready, takesCalls: true,
		},
		{
			name: "after-call work: not ready ends it for good", from: AfterCallWork,
			steps: func(e *env, _ pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.advance(time.Minute) // the wrap-up timer must not fire
			},
			want: NotReady, wantReason: "break",
		},
		{
			name: "after-call work: the timer of a wrap-up ended early does not cut the next short", from: AfterCallWork,
			steps: func(e *env, _ pbx.ConnID) {
				e.advance(5 * time.Second)
				e.must(e.s.AgentNotReady("a", "break"), "not ready") // first wrap-up would end at 30s
				e.must(e.s.AgentReady("a"), "ready")
				id := e.call("q")
				e.answer(id)
				e.advance(10 * time.Second)
				e.release(id) // second wrap-up: 15s to 45s
				e.advance(20 * time.Second)
			},
			want: AfterCallWork,
		},
		{
			name: "after-call work: ready ends it at once", from: AfterCallWork,
			steps: func(e *env, _ pbx.ConnID) {
				e.advance(10 * time.Second)
				e.must(e.s.AgentReady("a"), "ready")
			},
			want: Ready, takesCalls: true,
		},
		{
			name: "after-call work: logout stops the wrap-up timer", from: AfterCallWork,
			steps: func(e *env, _ pbx.ConnID) {
				e.must(e.s.AgentLogout("a"), "logout")
				e.advance(time.Minute)
			},
			want: LoggedOut,
		},
		{
			name: "after-call work: ready cancels a not ready pending from the call", from: Busy,
			steps: func(e *env, id pbx.ConnID) {
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.release(id)
				e.advance(10 * time.Second)
				e.must(e.s.AgentReady("a"), "ready") // ends the wrap-up and cancels the not ready
			},
			want: Ready, takesCalls: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, agentCenter)
			id := e.toState(tt.from)
			tt.steps(e, id)
			a := e.agent("a")
			if a.State() != tt.want || (tt.want == NotReady && a.Reason() != tt.wantReason) {
				t.Fatalf("agent is %s (%q), want %s (%q)", a.State(), a.Reason(), tt.want, tt.wantReason)
			}
			call := e.call("q")
			if got := e.agentOf(call) == "a"; got != tt.takesCalls {
				t.Fatalf("a new call rings a: %v, want %v", got, tt.takesCalls)
			}
		})
	}
}

// Chats: an agent keeps taking chats while busy, and ends up in a proper
// state whatever order its interactions end in.
func TestAgentSeveralChats(t *testing.T) {
	tests := []struct {
		name  string
		steps func(e *env, c1, c2 pbx.ConnID)
		want  AgentState
	}{
		{
			name:  "both answered, both released",
			steps: func(e *env, c1, c2 pbx.ConnID) { e.answer(c2); e.release(c1); e.release(c2) },
			want:  AfterCallWork,
		},
		{
			name: "first released while the second rings, second answered",
			steps: func(e *env, c1, c2 pbx.ConnID) {
				e.release(c1)
				if st := e.state("a"); st != Busy {
					e.tb.Fatalf("one chat ringing after the first ended: %s, want busy", st)
				}
				e.answer(c2)
				e.release(c2)
			},
			want: AfterCallWork,
		},
		{
			name: "first released while the second rings, second rejected",
			steps: func(e *env, c1, c2 pbx.ConnID) {
				e.release(c1)
				e.must(e.s.RejectCall(c2, "declined"), "reject")
				e.advance(30 * time.Second)
			},
			want: NotReady,
		},
		{
			name: "second rejected while the first goes on",
			steps: func(e *env, c1, c2 pbx.ConnID) {
				e.must(e.s.RejectCall(c2, "declined"), "reject")
				if st := e.state("a"); st != Busy {
					e.tb.Fatalf("after reject: %s, want busy", st)
				}
				e.release(c1)
				e.advance(30 * time.Second)
			},
			want: NotReady,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, agentCenter)
			e.login("a")
			c1 := e.arrive("chat", pbx.IM)
			e.answer(c1)
			c2 := e.arrive("chat", pbx.IM)
			if e.agentOf(c2) != "a" {
				t.Fatal("second chat not offered to a")
			}
			tt.steps(e, c1, c2)
			if got := e.state("a"); got != tt.want {
				t.Fatalf("agent is %s, want %s", got, tt.want)
			}
			a := e.agent("a")
			if a.offered != 0 || a.active != 0 || a.load != [pbx.NumMedia]uint8{} {
				t.Fatalf("agent with nothing left has offered %d, active %d, load %v", a.offered, a.active, a.load)
			}
			if tt.want == NotReady {
				e.must(e.s.AgentLogout("a"), "logout")
			}
		})
	}
}

// MakeCall: an outbound interaction makes the agent busy; when it ends the
// agent goes back to where it was (ready, or not ready with its reason)
// after the wrap-up.
func TestMakeCallReturnsToPreviousState(t *testing.T) {
	tests := []struct {
		name       string
		from       AgentState
		answered   bool // the far end answers before the agent hangs up
		want       AgentState
		wantReason string
	}{
		{"from not ready, answered", NotReady, true, NotReady, "lunch"},
		{"from not ready, never answered", NotReady, false, NotReady, "lunch"},
		{"from ready", Ready, true, Ready, ""},
		{"from after-call work", AfterCallWork, true, Ready, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, agentCenter)
			e.toState(tt.from)
			e.rec.Reset()
			id, err := e.s.MakeCall("a", "5550199", pbx.Voice)
			e.must(err, "make call")
			if st := e.state("a"); st != Busy {
				t.Fatalf("dialling: %s, want busy", st)
			}
			// Not offered anything inbound meanwhile, not even a chat
			// from not ready.
			chat := e.arrive("chat", pbx.IM)
			wantChat := ""
			if tt.from != NotReady {
				wantChat = "a"
			}
			if got := e.agentOf(chat); got != wantChat {
				t.Fatalf("chat during the outbound call offered to %q, want %q", got, wantChat)
			}
			e.release(chat)
			if tt.answered {
				e.answer(id)
			}
			e.advance(2 * time.Minute)
			e.release(id)
			if st := e.state("a"); st != AfterCallWork {
				t.Fatalf("after the call: %s, want after_call_work", st)
			}
			e.advance(30 * time.Second)
			a := e.agent("a")
			if a.State() != tt.want || a.Reason() != tt.wantReason {
				t.Fatalf("after the wrap-up: %s (%q), want %s (%q)", a.State(), a.Reason(), tt.want, tt.wantReason)
			}
			want := []EventType{EventDialing}
			if tt.answered {
				want = append(want, EventEstablished)
			}
			wantEqual(t, "events of the outbound call", e.rec.ConnTypes(id), append(want, EventReleased))
		})
	}
}

func TestAgentLoginExtension(t *testing.T) {
	tests := []struct {
		name string
		id   string
		dn   string
		kind pbx.Kind // 0: no error
	}{
		{"own extension", "a", "", 0},
		{"own extension by number", "a", "1001", 0},
		{"unknown agent", "zed", "", pbx.NotFound},
		{"not an extension", "a", "7000", pbx.NotFound},
		{"no such number", "a", "9999", pbx.NotFound},
		{"extension in use", "a", "1002", pbx.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, `
queues: [{name: q, number: "7000"}]
agents:
  - {id: a, number: "1001", skills: {q: 5}, ready: false}
  - {id: b, number: "1002", skills: {q: 5}}
`)
			err := e.s.AgentLogin(tt.id, tt.dn)
			if tt.kind != 0 {
				cctest.WantKind(t, err, tt.kind, "login")
				if tt.id == "a" && e.state("a") != LoggedOut {
					t.Fatalf("refused login left a %s", e.state("a"))
				}
				return
			}
			e.must(err, "login")
			if a := e.agent(tt.id); a.State() != NotReady || a.DN != "1001" {
				t.Fatalf("after login: %s on %q, want not_ready on 1001", a.State(), a.DN)
			}
		})
	}
}

// An agent serves the queues of its skills (and overflow skills) that it
// has capacity and attributes for.
func TestAgentServes(t *testing.T) {
	e := newEnv(t, `
queues:
  - {name: support}
  - {name: billing, overflow: [{after: 60s, add_skill: support}]}
  - {name: chat, media: im, skill: support}
  - {name: french, skill: support, requires: {language: fr}}
  - {name: sales}
agents:
  - {id: a, skills: {support: 5}, capacity: {im: 0}}
`)
	a, _ := e.s.Agent("a")
	for q, want := range map[string]bool{"support": true, "billing": true, "chat": false, "french": false, "sales": false, "nowhere": false} {
		if got := a.Serves(q); got != want {
			t.Errorf("Serves(%q) = %v, want %v", q, got, want)
		}
	}
}
