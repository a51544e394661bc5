package tserver

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// requestCenter: queue q (number 7000) with route point 5000, queue
// sales, chat queue; agent a serves q and chat, b serves q and sales.
const requestCenter = `
queues:
  - {name: q, number: "7000"}
  - {name: sales, number: "7100"}
  - {name: chat, media: im}
route_points:
  - {number: "5000", queue: q, timeout: 10s}
agents:
  - {id: a, number: "1001", skills: {q: 5, chat: 5}, capacity: {im: 2}, wrap_up: 10s, ready: false}
  - {id: b, number: "1002", skills: {q: 5, sales: 5}, ready: false}
`

// setups bring an interaction of requestCenter to a state; a is
// logged in and ready unless said otherwise, b is logged out.
var setups = map[string]func(e *env) pbx.ConnID{
	"none": func(e *env) pbx.ConnID { e.login("a"); return 0 },
	"queued": func(e *env) pbx.ConnID {
		return e.call("q") // nobody ready
	},
	"ringing": func(e *env) pbx.ConnID { e.login("a"); return e.call("q") },
	"established": func(e *env) pbx.ConnID {
		e.login("a")
		id := e.call("q")
		e.answer(id)
		return id
	},
	"held": func(e *env) pbx.ConnID {
		e.login("a")
		id := e.call("q")
		e.answer(id)
		e.must(e.s.HoldCall(id), "hold")
		return id
	},
	"routing": func(e *env) pbx.ConnID {
		e.login("a")
		_, err := e.s.RegisterRouter("5000")
		e.must(err, "register router")
		return e.call("5000")
	},
	"outbound ringing": func(e *env) pbx.ConnID {
		e.login("a")
		id, err := e.s.MakeCall("a", "5550199", pbx.Voice)
		e.must(err, "make call")
		return id
	},
	"outbound established": func(e *env) pbx.ConnID {
		e.login("a")
		id, err := e.s.MakeCall("a", "5550199", pbx.Voice)
		e.must(err, "make call")
		e.answer(id)
		return id
	},
	"chat established": func(e *env) pbx.ConnID {
		e.login("a")
		id := e.arrive("chat", pbx.IM)
		e.answer(id)
		return id
	},
}

// Interaction requests in legal and illegal states: no error and the
// state reached, or the error kind and the state unchanged.
func TestInteractionRequests(t *testing.T) {
	const (
		ok   = pbx.Kind(255)
		gone = pbx.Abandoned // the interaction is over (Released or Abandoned)
	)
	answer := func(e *env, id pbx.ConnID) error { return e.s.AnswerCall(id) }
	reject := func(e *env, id pbx.ConnID) error { return e.s.RejectCall(id, "declined") }
	release := func(e *env, id pbx.ConnID) error { return e.s.ReleaseCall(id) }
	hold := func(e *env, id pbx.ConnID) error { return e.s.HoldCall(id) }
	retrieve := func(e *env, id pbx.ConnID) error { return e.s.RetrieveCall(id) }
	transfer := func(target string) func(e *env, id pbx.ConnID) error {
		return func(e *env, id pbx.ConnID) error { return e.s.SingleStepTransfer(id, target) }
	}
	attach := func(data pbx.UserData) func(e *env, id pbx.ConnID) error {
		return func(e *env, id pbx.ConnID) error { return e.s.AttachUserData(id, data) }
	}
	route := func(target string) func(e *env, id pbx.ConnID) error {
		return func(e *env, id pbx.ConnID) error { return e.s.RouteCall(id, target) }
	}
	unknown := func(do func(e *env, id pbx.ConnID) error) func(e *env, id pbx.ConnID) error {
		return func(e *env, _ pbx.ConnID) error { return do(e, 999) }
	}
	withB := func(do func(e *env, id pbx.ConnID) error) func(e *env, id pbx.ConnID) error {
		return func(e *env, id pbx.ConnID) error { e.login("b"); return do(e, id) }
	}
	ud := pbx.UserData{{Key: "account", Value: "42"}}
	tests := []struct {
		name  string
		setup string
		do    func(e *env, id pbx.ConnID) error
		kind  pbx.Kind
		want  pbx.State // after a success
	}{
		{"answer ringing", "ringing", answer, ok, pbx.Established},
		{"answer queued", "queued", answer, pbx.Conflict, 0},
		{"answer established", "established", answer, pbx.Conflict, 0},
		{"answer held", "held", answer, pbx.Conflict, 0},
		{"answer at route point", "routing", answer, pbx.Conflict, 0},
		{"answer outbound (far end)", "outbound ringing", answer, ok, pbx.Established},
		{"answer unknown", "none", unknown(answer), pbx.NotFound, 0},

		{"reject ringing", "ringing", reject, ok, pbx.Queued},
		{"reject queued", "queued", reject, pbx.Conflict, 0},
		{"reject established", "established", reject, pbx.Conflict, 0},
		{"reject outbound", "outbound ringing", reject, pbx.Conflict, 0},
		{"reject unknown", "none", unknown(reject), pbx.NotFound, 0},

		{"release queued (abandon)", "queued", release, ok, gone},
		{"release ringing (abandon)", "ringing", release, ok, gone},
		{"release established", "established", release, ok, gone},
		{"release held", "held", release, ok, gone},
		{"release at route point (abandon)", "routing", release, ok, gone},
		{"release outbound ringing", "outbound ringing", release, ok, gone},
		{"release unknown", "none", unknown(release), pbx.NotFound, 0},

		{"hold established", "established", hold, ok, pbx.Held},
		{"hold outbound established", "outbound established", hold, ok, pbx.Held},
		{"hold ringing", "ringing", hold, pbx.Conflict, 0},
		{"hold queued", "queued", hold, pbx.Conflict, 0},
		{"hold held", "held", hold, pbx.Conflict, 0},
		{"hold unknown", "none", unknown(hold), pbx.NotFound, 0},

		{"retrieve held", "held", retrieve, ok, pbx.Established},
		{"retrieve established", "established", retrieve, pbx.Conflict, 0},
		{"retrieve ringing", "ringing", retrieve, pbx.Conflict, 0},
		{"retrieve unknown", "none", unknown(retrieve), pbx.NotFound, 0},

		{"transfer established to a queue", "established", transfer("sales"), ok, pbx.Queued},
		{"transfer established to a queue by number", "established", transfer("7100"), ok, pbx.Queued},
		{"transfer held to a queue", "held", transfer("sales"), ok, pbx.Queued},
		{"transfer to a ready agent", "established", withB(transfer("b")), ok, pbx.Ringing},
		{"transfer to a ready agent's extension", "established", withB(transfer("1002")), ok, pbx.Ringing},
		{"transfer to a logged out agent", "established", transfer("b"), pbx.Busy, 0},
		{"transfer to the agent it is with", "chat established", transfer("a"), pbx.Invalid, 0},
		{"transfer to a queue of another media", "established", transfer("chat"), pbx.Invalid, 0},
		{"transfer to nowhere", "established", transfer("nowhere"), pbx.NotFound, 0},
		{"transfer queued", "queued", transfer("sales"), pbx.Conflict, 0},
		{"transfer ringing", "ringing", transfer("sales"), pbx.Conflict, 0},
		{"transfer outbound", "outbound established", transfer("sales"), pbx.Conflict, 0},
		{"transfer unknown", "none", unknown(transfer("sales")), pbx.NotFound, 0},

		{"attach to queued", "queued", attach(ud), ok, pbx.Queued},
		{"attach to established", "established", attach(ud), ok, pbx.Established},
		{"attach an empty key", "established", attach(pbx.UserData{{Key: "", Value: "x"}}), pbx.Invalid, 0},
		{"attach to unknown", "none", unknown(attach(ud)), pbx.NotFound, 0},

		{"route to a queue", "routing", route("sales"), ok, pbx.Queued},
		{"route to a queue by number", "routing", route("7000"), ok, pbx.Ringing},
		{"route to a ready agent", "routing", route("a"), ok, pbx.Ringing},
		{"route to an extension", "routing", route("1001"), ok, pbx.Ringing},
		{"route to a logged out agent", "routing", route("b"), pbx.Busy, 0},
		{"route to a queue of another media", "routing", route("chat"), pbx.Invalid, 0},
		{"route to nowhere", "routing", route("nowhere"), pbx.NotFound, 0},
		{"route a queued interaction", "queued", route("sales"), pbx.Conflict, 0},
		{"route an established interaction", "established", route("sales"), pbx.Conflict, 0},
		{"route unknown", "none", unknown(route("sales")), pbx.NotFound, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requestCenter)
			setup, found := setups[tt.setup]
			if !found {
				t.Fatalf("no set-up %q", tt.setup)
			}
			id := setup(e)
			before, _ := e.connState(id)
			err := tt.do(e, id)
			if tt.kind != ok {
				cctest.WantKind(t, err, tt.kind, tt.name)
				if id != 0 {
					if after, _ := e.connState(id); after != before {
						t.Fatalf("refused request moved the interaction from %s to %s", before, after)
					}
				}
				return
			}
			e.must(err, tt.name)
			switch got, live := e.connState(id); {
			case tt.want == gone && live:
				t.Fatalf("interaction still %s, want over", got)
			case tt.want != gone && got != tt.want:
				t.Fatalf("interaction is %s, want %s", got, tt.want)
			}
		})
	}
}

// Requests that name an agent, a queue or a number.
func TestOtherRequestErrors(t *testing.T) {
	tests := []struct {
		name string
		do   func(e *env) error
		kind pbx.Kind
	}{
		{"arrive at an unknown number", func(e *env) error {
			_, err := e.s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "4444"})
			return err
		}, pbx.NotFound},
		{"arrive with the wrong media at a queue", func(e *env) error {
			_, err := e.s.Arrive(&Arrival{Media: pbx.IM, DNIS: "q"})
			return err
		}, pbx.Invalid},
		{"arrive with the wrong media at a route point", func(e *env) error {
			_, err := e.s.Arrive(&Arrival{Media: pbx.IM, DNIS: "5000"})
			return err
		}, pbx.Invalid},
		{"arrive at a logged out agent's extension", func(e *env) error {
			_, err := e.s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "1002"})
			return err
		}, pbx.Busy},
		{"arrive at a not ready agent's extension", func(e *env) error {
			e.must(e.s.AgentNotReady("a", "lunch"), "not ready")
			_, err := e.s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "1001"})
			return err
		}, pbx.Busy},
		{"arrive at a busy agent's extension", func(e *env) error {
			e.call("1001")
			_, err := e.s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "1001"})
			return err
		}, pbx.Busy},
		{"make call: unknown agent", func(e *env) error {
			_, err := e.s.MakeCall("zed", "5550199", pbx.Voice)
			return err
		}, pbx.NotFound},
		{"make call: no destination", func(e *env) error {
			_, err := e.s.MakeCall("a", "", pbx.Voice)
			return err
		}, pbx.Invalid},
		{"make call: logged out", func(e *env) error {
			_, err := e.s.MakeCall("b", "5550199", pbx.Voice)
			return err
		}, pbx.Conflict},
		{"make call: reserved", func(e *env) error {
			e.call("q")
			_, err := e.s.MakeCall("a", "5550199", pbx.Voice)
			return err
		}, pbx.Conflict},
		{"make call: no capacity", func(e *env) error {
			e.give("a", pbx.Voice)
			_, err := e.s.MakeCall("a", "5550199", pbx.Voice)
			return err
		}, pbx.Busy},
		{"login unknown agent", func(e *env) error { return e.s.AgentLogin("zed", "") }, pbx.NotFound},
		{"logout unknown agent", func(e *env) error { return e.s.AgentLogout("zed") }, pbx.NotFound},
		{"ready unknown agent", func(e *env) error { return e.s.AgentReady("zed") }, pbx.NotFound},
		{"not ready unknown agent", func(e *env) error { return e.s.AgentNotReady("zed", "x") }, pbx.NotFound},
		{"register router at an unknown route point", func(e *env) error {
			_, err := e.s.RegisterRouter("5999")
			return err
		}, pbx.NotFound},
		{"stats of an unknown queue", func(e *env) error {
			_, err := e.s.QueueStats("nowhere")
			return err
		}, pbx.NotFound},
		{"EWT of an unknown queue", func(e *env) error {
			_, err := e.s.EstimatedWait("nowhere")
			return err
		}, pbx.NotFound},
		{"position of an unknown interaction", func(e *env) error {
			_, _, err := e.s.Position(999)
			return err
		}, pbx.NotFound},
		{"position of a ringing interaction", func(e *env) error {
			_, _, err := e.s.Position(e.call("q"))
			return err
		}, pbx.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requestCenter)
			e.login("a")
			cctest.WantKind(t, tt.do(e), tt.kind, tt.name)
		})
	}
}

// CTI transcripts of scripted scenarios: every event, in order, after the
// set-up (agents logged in, ready in the order given, a second apart).
func TestTranscripts(t *testing.T) {
	tests := []struct {
		name     string
		ready    []string
		ring     time.Duration // Config.RingTimeout
		script   func(e *env)
		connOnly bool // only the events of interaction 1
		want     []string
		check    func(t *testing.T, e *env)
	}{
		{
			name:  "call answered and released",
			ready: []string{"a"},
			script: func(e *env) {
				id := e.call("7000")
				e.advance(2 * time.Second)
				e.answer(id)
				e.advance(time.Minute)
				e.release(id)
				e.advance(10 * time.Second)
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventEstablished conn=1 agent=a queue=q",
				"EventReleased conn=1 agent=a queue=q",
				"EventAgentNotReady agent=a reason=after_call_work",
				"EventAgentReady agent=a",
			},
		},
		{
			name: "abandoned while queued",
			script: func(e *env) {
				id := e.call("q")
				e.advance(30 * time.Second)
				e.release(id)
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventAbandoned conn=1 queue=q",
			},
			check: func(t *testing.T, e *env) {
				st := mustStats(t, e.s, "q")
				if st.Offered != 1 || st.Abandoned != 1 || st.Waited != 1 || st.WaitAbandoned != 30*time.Second {
					t.Errorf("stats %+v, want 1 offered, waited and abandoned after 30s", st)
				}
			},
		},
		{
			name:  "abandoned while ringing",
			ready: []string{"a"},
			script: func(e *env) {
				id := e.call("q")
				e.advance(5 * time.Second)
				e.release(id)
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventAbandoned conn=1 agent=a queue=q",
			},
			check: func(t *testing.T, e *env) {
				if st := e.state("a"); st != Ready {
					t.Errorf("a is %s, want ready", st)
				}
			},
		},
		{
			name:  "ring no answer goes to the next agent",
			ready: []string{"a", "b"},
			ring:  15 * time.Second,
			script: func(e *env) {
				id := e.call("q")
				e.advance(14 * time.Second)
				e.rec.Mark("14s")
				e.advance(time.Second)
				e.advance(10 * time.Second)
				e.answer(id)
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"-- 14s",
				"EventReleased conn=1 agent=a queue=q reason=ring_no_answer",
				"EventAgentNotReady agent=a reason=ring_no_answer",
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=b queue=q",
				"EventRinging conn=1 agent=b queue=q",
				"EventEstablished conn=1 agent=b queue=q",
			},
			check: func(t *testing.T, e *env) {
				if a := e.agent("a"); a.State() != NotReady || a.Reason() != "ring_no_answer" {
					t.Errorf("a is %s (%q), want not_ready (ring_no_answer)", a.State(), a.Reason())
				}
				if st := mustStats(t, e.s, "q"); st.Offered != 1 || st.Answered != 1 || st.WaitAnswered != 25*time.Second {
					t.Errorf("stats %+v, want 1 offered and answered after 25s", st)
				}
			},
		},
		{
			name:  "ring no answer with nobody else: back in the queue",
			ready: []string{"a"},
			ring:  15 * time.Second,
			script: func(e *env) {
				e.call("q")
				e.advance(15 * time.Second)
				e.login("b")
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventReleased conn=1 agent=a queue=q reason=ring_no_answer",
				"EventAgentNotReady agent=a reason=ring_no_answer",
				"EventQueued conn=1 queue=q",
				"EventAgentLogin agent=b",
				"EventAgentReady agent=b",
				"EventDiverted conn=1 agent=b queue=q",
				"EventRinging conn=1 agent=b queue=q",
			},
		},
		{
			name:  "rejected by the agent",
			ready: []string{"a", "b"},
			script: func(e *env) {
				id := e.call("q")
				e.must(e.s.RejectCall(id, "declined"), "reject")
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventReleased conn=1 agent=a queue=q reason=declined",
				"EventAgentNotReady agent=a reason=declined",
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=b queue=q",
				"EventRinging conn=1 agent=b queue=q",
			},
		},
		{
			name:  "route point with an external router",
			ready: []string{"a"},
			script: func(e *env) {
				_, err := e.s.RegisterRouter("5000")
				e.must(err, "register")
				id := e.call("5000")
				e.advance(2 * time.Second)
				e.must(e.s.RouteCall(id, "q"), "route call")
				e.advance(time.Minute) // the route timer must be stopped
			},
			want: []string{
				"EventRouteRequest conn=1",
				"EventRouteUsed conn=1 queue=q",
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
			},
		},
		{
			name:  "route point: the router routes to an agent",
			ready: []string{"a", "b"},
			script: func(e *env) {
				_, err := e.s.RegisterRouter("5000")
				e.must(err, "register")
				id := e.call("5000")
				e.must(e.s.RouteCall(id, "b"), "route call")
			},
			want: []string{
				"EventRouteRequest conn=1",
				"EventRouteUsed conn=1 agent=b",
				"EventRinging conn=1 agent=b",
			},
		},
		{
			name:  "route point: the router times out, default queue",
			ready: []string{"a"},
			script: func(e *env) {
				_, err := e.s.RegisterRouter("5000")
				e.must(err, "register")
				e.call("5000")
				e.advance(10*time.Second - time.Nanosecond)
				e.rec.Mark("10s-1ns")
				e.advance(time.Nanosecond)
			},
			want: []string{
				"EventRouteRequest conn=1",
				"-- 10s-1ns",
				"EventRouteUsed conn=1 queue=q reason=default",
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
			},
		},
		{
			name:  "route point without a router: default queue at once",
			ready: []string{"a"},
			script: func(e *env) {
				unregister, err := e.s.RegisterRouter("5000")
				e.must(err, "register")
				unregister()
				unregister() // twice is harmless
				e.call("5000")
			},
			want: []string{
				"EventRouteRequest conn=1",
				"EventRouteUsed conn=1 queue=q reason=default",
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
			},
		},
		{
			name:  "blind transfer to another queue",
			ready: []string{"a", "b"},
			script: func(e *env) {
				id := e.call("q")
				e.answer(id)
				e.advance(time.Minute)
				e.must(e.s.SingleStepTransfer(id, "sales"), "transfer")
				e.advance(3 * time.Second)
				e.answer(id)
			},
			connOnly: true,
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventEstablished conn=1 agent=a queue=q",
				"EventReleased conn=1 agent=a queue=q reason=transferred",
				"EventQueued conn=1 queue=sales",
				"EventDiverted conn=1 agent=b queue=sales",
				"EventRinging conn=1 agent=b queue=sales",
				"EventEstablished conn=1 agent=b queue=sales",
			},
			check: func(t *testing.T, e *env) {
				if st := e.state("a"); st != AfterCallWork {
					t.Errorf("a is %s, want after_call_work", st)
				}
				q, sales := mustStats(t, e.s, "q"), mustStats(t, e.s, "sales")
				if q.Offered != 1 || q.Answered != 1 || q.Handled != 1 || q.HandleTime != time.Minute+10*time.Second {
					t.Errorf("q: %+v, want 1 offered, answered and handled in 1m10s", q)
				}
				if sales.Offered != 1 || sales.Answered != 1 || sales.WaitAnswered != 3*time.Second {
					t.Errorf("sales: %+v, want 1 offered and answered after 3s", sales)
				}
			},
		},
		{
			name:  "hold and retrieve",
			ready: []string{"a"},
			script: func(e *env) {
				id := e.call("q")
				e.answer(id)
				e.must(e.s.HoldCall(id), "hold")
				e.must(e.s.RetrieveCall(id), "retrieve")
				e.must(e.s.HoldCall(id), "hold")
				e.release(id)
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventEstablished conn=1 agent=a queue=q",
				"EventHeld conn=1 agent=a queue=q",
				"EventRetrieved conn=1 agent=a queue=q",
				"EventHeld conn=1 agent=a queue=q",
				"EventReleased conn=1 agent=a queue=q",
				"EventAgentNotReady agent=a reason=after_call_work",
			},
		},
		{
			name:  "direct call to an extension",
			ready: []string{"a"},
			script: func(e *env) {
				id := e.call("1001")
				e.answer(id)
				e.release(id)
			},
			want: []string{
				"EventRinging conn=1 agent=a",
				"EventEstablished conn=1 agent=a",
				"EventReleased conn=1 agent=a",
				"EventAgentNotReady agent=a reason=after_call_work",
			},
		},
		{
			name: "outbound call from not ready",
			script: func(e *env) {
				e.must(e.s.AgentLogin("a", ""), "login")
				e.must(e.s.AgentNotReady("a", "lunch"), "not ready")
				id, err := e.s.MakeCall("a", "5550199", pbx.Voice)
				e.must(err, "make call")
				e.answer(id)
				e.release(id)
				e.advance(10 * time.Second)
			},
			want: []string{
				"EventAgentLogin agent=a",
				"EventAgentNotReady agent=a reason=lunch",
				"EventDialing conn=1 agent=a",
				"EventEstablished conn=1 agent=a",
				"EventReleased conn=1 agent=a",
				"EventAgentNotReady agent=a reason=after_call_work",
				"EventAgentNotReady agent=a reason=lunch",
			},
		},
		{
			name: "agent login, ready, not ready, logout",
			script: func(e *env) {
				e.must(e.s.AgentLogin("b", ""), "login")
				e.must(e.s.AgentReady("b"), "ready")
				e.must(e.s.AgentNotReady("b", "lunch"), "not ready")
				e.must(e.s.AgentLogout("b"), "logout")
			},
			want: []string{
				"EventAgentLogin agent=b",
				"EventAgentReady agent=b",
				"EventAgentNotReady agent=b reason=lunch",
				"EventAgentLogout agent=b",
			},
		},
		{
			name:  "attached data",
			ready: []string{"a"},
			script: func(e *env) {
				id := mustArrive(e.tb, e.s, Arrival{Media: pbx.Voice, DNIS: "q", UserData: pbx.UserData{{Key: "account", Value: "1"}}})
				e.must(e.s.AttachUserData(id, pbx.UserData{{Key: "account", Value: "42"}, {Key: "lang", Value: "fr"}}), "attach")
			},
			want: []string{
				"EventQueued conn=1 queue=q",
				"EventDiverted conn=1 agent=a queue=q",
				"EventRinging conn=1 agent=a queue=q",
				"EventAttachedDataChanged conn=1 agent=a queue=q",
			},
			check: func(t *testing.T, e *env) {
				want := pbx.UserData{{Key: "account", Value: "42"}, {Key: "lang", Value: "fr"}}
				wantEqual(t, "user data of the last event", e.rec.events[len(e.rec.events)-1].UserData, want)
				wantEqual(t, "user data of the interaction", mustContact(t, e.s, 1).UserData, want)
				// Events are snapshots: the earlier ones keep what was
				// attached then.
				wantEqual(t, "user data of the first event", e.rec.events[0].UserData, pbx.UserData{{Key: "account", Value: "1"}})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requestCenter, Config{RingTimeout: tt.ring})
			for _, id := range tt.ready {
				e.login(id)
				e.advance(time.Second)
			}
			e.rec.Reset()
			tt.script(e)
			got := e.rec.Lines()
			if tt.connOnly {
				got = nil
				for _, ev := range e.rec.events {
					if ev.ConnID == 1 {
						got = append(got, eventLine(ev))
					}
				}
			}
			wantEqualLines(t, "transcript", got, tt.want)
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// A rejected interaction goes back to its queue in its place: ahead of
// those that arrived after it.
func TestRejectKeepsPlace(t *testing.T) {
	tests := []struct {
		name   string
		reject func(e *env, id pbx.ConnID)
	}{
		{"rejected", func(e *env, id pbx.ConnID) { e.must(e.s.RejectCall(id, "declined"), "reject") }},
		{"not answered in time", func(e *env, _ pbx.ConnID) { e.advance(20 * time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requestCenter, Config{RingTimeout: 20 * time.Second})
			e.login("a")
			e.must(e.s.AgentLogin("b", ""), "login b")
			first := e.call("q")
			e.advance(time.Second)
			second := e.call("q")
			tt.reject(e, first)
			pos, _, err := e.s.Position(first)
			e.must(err, "position")
			if pos != 1 {
				t.Fatalf("rejected interaction at position %d, want 1", pos)
			}
			e.must(e.s.AgentReady("b"), "ready b")
			if got := e.agentOf(first); got != "b" {
				t.Fatalf("first offered to %q, want b", got)
			}
			if st, _ := e.connState(second); st != pbx.Queued {
				t.Fatalf("second is %s, want queued", st)
			}
		})
	}
}

// Route requests wait for an external router while at least one is
// registered.
func TestRegisterRouterCounts(t *testing.T) {
	tests := []struct {
		name       string
		register   int
		unregister int
		wantWait   bool
	}{
		{"none", 0, 0, false},
		{"one", 1, 0, true},
		{"one, gone", 1, 1, false},
		{"two, one gone", 2, 1, true},
		{"two, both gone", 2, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requestCenter)
			var cancels []func()
			for range tt.register {
				c, err := e.s.RegisterRouter("5000")
				e.must(err, "register")
				cancels = append(cancels, c)
			}
			for i := range tt.unregister {
				cancels[i]()
				cancels[i]() // a second call changes nothing
			}
			id := e.call("5000")
			st, _ := e.connState(id)
			if got := st == pbx.Routing; got != tt.wantWait {
				t.Fatalf("interaction is %s; waiting for a router: %v, want %v", st, got, tt.wantWait)
			}
		})
	}
}

// A blind transfer to a queue the transferring agent serves goes to
// another agent, not back to the one who transferred it.
func TestTransferToOwnQueue(t *testing.T) {
	e := newEnv(t, requestCenter)
	e.login("a") // idle the longest
	e.advance(time.Second)
	e.login("b")
	id := e.call("q")
	if e.agentOf(id) != "a" {
		t.Fatal("call not offered to a")
	}
	e.answer(id)
	e.must(e.s.SingleStepTransfer(id, "q"), "transfer")
	if got := e.agentOf(id); got != "b" {
		t.Fatalf("transferred call offered to %q, want b", got)
	}
}

// Event fields beyond the transcript: time, DN, ANI/DNIS, media.
func TestEventFields(t *testing.T) {
	e := newEnv(t, requestCenter)
	e.login("a")
	e.advance(time.Minute)
	e.rec.Reset()
	id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, ANI: "5550123", DNIS: "7000"})
	e.advance(5 * time.Second)
	e.release(id)
	want := []struct {
		typ  EventType
		dn   string
		when time.Duration
	}{
		{EventQueued, "7000", time.Minute},   // the queue's number
		{EventDiverted, "1001", time.Minute}, // the agent's extension
		{EventRinging, "1001", time.Minute},
		{EventAbandoned, "1001", time.Minute + 5*time.Second},
	}
	if len(e.rec.events) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(e.rec.events), len(want), e.rec.Lines())
	}
	for i, w := range want {
		ev := e.rec.events[i]
		if ev.Type != w.typ || ev.DN != w.dn || !ev.Time.Equal(clock.Epoch.Add(w.when)) ||
			ev.ANI != "5550123" || ev.DNIS != "7000" || ev.Media != pbx.Voice || ev.ConnID != id {
			t.Errorf("event %d: %+v, want %s on %s at +%v from 5550123 to 7000", i, ev, w.typ, w.dn, w.when)
		}
	}
}

func TestBusSubscribeCancel(t *testing.T) {
	e := newEnv(t, requestCenter)
	var first, second []EventType
	cancel1 := e.s.Subscribe(func(ev Event) { first = append(first, ev.Type) })
	var cancel2 func()
	cancel2 = e.s.Subscribe(func(ev Event) {
		second = append(second, ev.Type)
		cancel2() // cancelling during delivery is allowed
	})
	e.must(e.s.AgentLogin("a", ""), "login")
	cancel1()
	e.must(e.s.AgentReady("a"), "ready")
	wantEqual(t, "first subscriber", first, []EventType{EventAgentLogin})
	wantEqual(t, "second subscriber", second, []EventType{EventAgentLogin})
	wantEqual(t, "recorder", e.rec.Types(), []EventType{EventAgentLogin, EventAgentReady})
	e.rec.cancel()
	if e.s.bus.Active() {
		t.Fatal("bus active with no subscriber")
	}
}

func TestEventTypeNames(t *testing.T) {
	for ty := EventType(1); ty < numEventTypes; ty++ {
		got, ok := ParseEventType(ty.String())
		if !ok || got != ty {
			t.Errorf("ParseEventType(%q) = %v, %v", ty.String(), got, ok)
		}
	}
	if _, ok := ParseEventType("EventNonsense"); ok {
		t.Error("ParseEventType accepted EventNonsense")
	}
}

// ExampleServer_Arrive routes a call arriving at a queue's number to the
// only agent, who answers and hangs up three minutes later.
func ExampleServer_Arrive() {
	f, err := config.Parse("center.yaml", []byte(`
queues: [{name: support, number: "7000"}]
agents:
  - {id: alice, number: "1001", skills: {support: 5}, wrap_up: 30s}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewVirtual(clock.Epoch)
	s, err := New(f, Config{Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	s.Subscribe(func(e Event) {
		fmt.Printf("+%v %s agent=%s queue=%s\n", e.Time.Sub(clock.Epoch), e.Type, e.AgentID, e.Queue)
	})

	id, err := s.Arrive(&Arrival{Media: pbx.Voice, ANI: "5550100", DNIS: "7000"})
	if err != nil {
		fmt.Println(err)
		return
	}
	clk.Advance(4 * time.Second)
	_ = s.AnswerCall(id)
	clk.Advance(3 * time.Minute)
	_ = s.ReleaseCall(id)
	clk.Advance(time.Minute)

	st, _ := s.QueueStats("support")
	fmt.Printf("offered %d, answered %d, average handle time %v\n", st.Offered, st.Answered, st.HandleTime/time.Duration(st.Handled))
	// Output:
	// +0s EventQueued agent= queue=support
	// +0s EventDiverted agent=alice queue=support
	// +0s EventRinging agent=alice queue=support
	// +4s EventEstablished agent=alice queue=support
	// +3m4s EventReleased agent=alice queue=support
	// +3m4s EventAgentNotReady agent=alice queue=
	// +3m34s EventAgentReady agent=alice queue=
	// offered 1, answered 1, average handle time 3m30s
}

// TestWatchRoutersHearsEachRouter: the watcher hears a route point's
// routers come and go, with how many are left; a second unregister of
// the same router is no change.
func TestWatchRoutersHearsEachRouter(t *testing.T) {
	e := newEnv(t, requestCenter)
	var heard []string
	e.s.WatchRouters(func(rp string, routers int) { heard = append(heard, fmt.Sprintf("%s:%d", rp, routers)) })
	un1, err := e.s.RegisterRouter("5000")
	e.must(err, "register router")
	un2, err := e.s.RegisterRouter("5000")
	e.must(err, "register router")
	un1()
	un1()
	un2()
	if want := []string{"5000:1", "5000:2", "5000:1", "5000:0"}; !slices.Equal(heard, want) {
		t.Errorf("heard %v, want %v", heard, want)
	}
}
