package tserver

import (
	"fmt"
	"testing"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// ewtCenter: queue q (voice) and chat (im); agents a and b serve both
// and wrap up for 30s.
const ewtCenter = `
queues: [{name: q}, {name: chat, media: im}]
agents:
  - {id: a, number: "1001", skills: {q: 5, chat: 5}, capacity: {im: 3}, wrap_up: 30s, ready: false}
  - {id: b, number: "1002", skills: {q: 5, chat: 5}, capacity: {im: 3}, wrap_up: 30s, ready: false}
`

// busy makes agent id ready and gives it a call of queue q it is talking
// on.
func (e *env) busy(id string) pbx.ConnID {
	e.tb.Helper()
	if e.state(id) == LoggedOut {
		e.must(e.s.AgentLogin(id, ""), "login")
	}
	e.must(e.s.AgentReady(id), "ready")
	c := e.call("q")
	if got := e.agentOf(c); got != id {
		e.tb.Fatalf("call for %s rings %q", id, got)
	}
	e.answer(c)
	return c
}

// served has agent id (logged in, not ready) answer a call of queue q that
// waited wait, talk for talk and finish its wrap-up; the agent is not
// ready again afterwards.
func (e *env) served(id string, wait, talk time.Duration) {
	e.tb.Helper()
	c := e.call("q")
	e.advance(wait)
	e.must(e.s.AgentReady(id), "ready")
	if got := e.agentOf(c); got != id {
		e.tb.Fatalf("call rings %q, want %s", got, id)
	}
	e.answer(c)
	e.advance(talk)
	e.release(c)
	e.must(e.s.AgentNotReady(id, "pause"), "not ready")
}

func TestEWTStaffing(t *testing.T) {
	const aht = 5 * time.Minute // the default
	tests := []struct {
		name  string
		queue string
		opts  Config
		setup func(e *env)
		want  time.Duration
	}{
		{
			name: "an agent free, nothing waiting", queue: "q",
			setup: func(e *env) { e.login("a") },
			want:  0,
		},
		{
			name: "nobody logged in", queue: "q",
			setup: func(e *env) {},
			want:  24 * time.Hour,
		},
		{
			name: "only not ready agents", queue: "q",
			setup: func(e *env) { e.must(e.s.AgentLogin("a", ""), "login") },
			want:  24 * time.Hour,
		},
		{
			name: "one agent busy, nothing waiting", queue: "q",
			setup: func(e *env) { e.busy("a") },
			want:  aht,
		},
		{
			name: "default handle time from the options", queue: "q", opts: Config{DefaultHandleTime: 2 * time.Minute},
			setup: func(e *env) { e.busy("a") },
			want:  2 * time.Minute,
		},
		{
			name: "one agent busy, two waiting", queue: "q",
			setup: func(e *env) { e.busy("a"); e.call("q"); e.call("q") },
			want:  3 * aht,
		},
		{
			name: "two agents busy, one waiting", queue: "q",
			setup: func(e *env) { e.busy("a"); e.busy("b"); e.call("q") },
			want:  2 * aht / 2,
		},
		{
			name: "not ready agents do not count", queue: "q",
			setup: func(e *env) {
				e.busy("a")
				e.must(e.s.AgentLogin("b", ""), "login")
				e.call("q")
			},
			want: 2 * aht,
		},
		{
			name: "an agent in after-call work serves, not free", queue: "q",
			setup: func(e *env) { e.release(e.busy("a")) },
			want:  30 * time.Second, // AHT from that call: no talk, 30s wrap-up
		},
		{
			name: "handle time from handled calls, with wrap-up", queue: "q",
			setup: func(e *env) {
				e.must(e.s.AgentLogin("a", ""), "login")
				e.served("a", 0, 3*time.Minute) // 3m30s with wrap-up
				e.served("a", 0, 1*time.Minute) // 1m30s
				e.busy("a")
				e.call("q")
			},
			want: 2 * (5 * time.Minute / 2),
		},
		{
			name: "chat: capacity of three per agent", queue: "chat",
			setup: func(e *env) {
				e.login("a")
				for range 3 {
					e.answer(e.arrive("chat", pbx.IM))
				}
				e.arrive("chat", pbx.IM)
			},
			want: 2 * aht / 3,
		},
		{
			name: "chat: a free agent but one waiting that it cannot take", queue: "chat",
			setup: func(e *env) {
				e.login("a")
				mustArrive(e.tb, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: "pidgin", ClientVersion: "2.14"})
			},
			want: 2 * aht / 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ewtCenter, tt.opts)
			tt.setup(e)
			got, err := e.s.EstimatedWait(tt.queue)
			e.must(err, "ewt")
			if got.Staffing != tt.want {
				t.Fatalf("staffing EWT %v, want %v", got.Staffing, tt.want)
			}
		})
	}
}

func TestEWTRecent(t *testing.T) {
	tests := []struct {
		name     string
		answered []time.Duration // waits of answered calls, in order
		waiting  []time.Duration // how long each still-waiting call has waited
		want     time.Duration
	}{
		{"nothing answered, nothing waiting", nil, nil, 0},
		{"mean of the answered", []time.Duration{10 * time.Second, 30 * time.Second}, nil, 20 * time.Second},
		{"the oldest waiting when longer", []time.Duration{10 * time.Second, 30 * time.Second}, []time.Duration{50 * time.Second, 20 * time.Second}, 50 * time.Second},
		{"the mean when the oldest waiting is shorter", []time.Duration{10 * time.Second, 30 * time.Second}, []time.Duration{5 * time.Second}, 20 * time.Second},
		{"only waiting", nil, []time.Duration{time.Minute}, time.Minute},
		{"only the last 20 answered", append([]time.Duration{10 * time.Minute}, repeat(20, 10*time.Second)...), nil, 10 * time.Second},
		{"19 of the last 20 at 10s", append([]time.Duration{210 * time.Second}, repeat(19, 10*time.Second)...), nil, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ewtCenter)
			e.must(e.s.AgentLogin("a", ""), "login")
			for _, w := range tt.answered {
				e.served("a", w, time.Minute)
			}
			// Calls that wait: the longest first.
			for i, w := range tt.waiting {
				e.call("q")
				next := time.Duration(0)
				if i+1 < len(tt.waiting) {
					next = tt.waiting[i+1]
				}
				e.advance(w - next)
			}
			got, err := e.s.EstimatedWait("q")
			e.must(err, "ewt")
			if got.Recent != tt.want {
				t.Fatalf("recent EWT %v, want %v", got.Recent, tt.want)
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// Position of queued interactions, with the EWT of each: one busy agent
// (AHT 5m by default), so the staffing estimate is position × 5m.
func TestPosition(t *testing.T) {
	type arrival struct {
		at       time.Duration
		priority int
	}
	tests := []struct {
		name     string
		aging    string
		arrivals []arrival
		now      time.Duration
		want     []int // position of each arrival
	}{
		{"FIFO", "", []arrival{{0, 0}, {10 * time.Second, 0}, {20 * time.Second, 0}}, 30 * time.Second, []int{1, 2, 3}},
		{"priority first", "", []arrival{{0, 0}, {10 * time.Second, 0}, {20 * time.Second, 5}}, 30 * time.Second, []int{2, 3, 1}},
		{"aged past a higher priority", "{every: 10s, step: 1, max: 10}", []arrival{{0, 0}, {50 * time.Second, 3}}, 60 * time.Second, []int{1, 2}},
		{"not yet aged past it", "{every: 10s, step: 1, max: 10}", []arrival{{0, 0}, {20 * time.Second, 3}}, 25 * time.Second, []int{2, 1}},
		{"aged to a tie: the older first", "{every: 10s, step: 1, max: 10}", []arrival{{0, 0}, {30 * time.Second, 3}}, 30 * time.Second, []int{1, 2}},
		{"aging capped", "{every: 10s, step: 1, max: 2}", []arrival{{0, 0}, {50 * time.Second, 3}}, time.Hour, []int{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aging := ""
			if tt.aging != "" {
				aging = ", aging: " + tt.aging
			}
			e := newEnv(t, fmt.Sprintf(`
queues: [{name: q%s}]
agents: [{id: a, skills: {q: 5}}]
`, aging))
			first := e.call("q")
			e.answer(first) // a is busy from now on, with a wait of 0
			var ids []pbx.ConnID
			for _, ar := range tt.arrivals {
				e.clk.RunUntil(ar.at)
				ids = append(ids, mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q", Priority: ar.priority}))
			}
			e.clk.RunUntil(tt.now)
			oldest := tt.now - tt.arrivals[0].at
			for i, id := range ids {
				pos, ewt, err := e.s.Position(id)
				e.must(err, "position")
				if pos != tt.want[i] {
					t.Errorf("arrival %d: position %d, want %d", i, pos, tt.want[i])
				}
				if want := time.Duration(tt.want[i]) * 5 * time.Minute; ewt.Staffing != want {
					t.Errorf("arrival %d: staffing EWT %v, want %v", i, ewt.Staffing, want)
				}
				// Recent: the oldest wait (the answered one waited 0),
				// less what this one has waited already.
				if want := oldest - (tt.now - tt.arrivals[i].at); ewt.Recent != want {
					t.Errorf("arrival %d: recent EWT %v, want %v", i, ewt.Recent, want)
				}
			}
		})
	}
}

// Status: per queue, agents logged in / ready / busy, interactions
// waiting, the oldest wait and the service level.
func TestStatus(t *testing.T) {
	const center = `
queues: [{name: q, sl_target: 20s}, {name: chat, media: im}]
agents:
  - {id: a, skills: {q: 5}, wrap_up: 30s, ready: false}
  - {id: b, skills: {q: 5}, wrap_up: 30s, ready: false}
  - {id: c, skills: {q: 5}, wrap_up: 30s, ready: false}
  - {id: d, skills: {q: 5}, ready: false}
  - {id: e, number: "1005", skills: {q: 5, chat: 5}, capacity: {im: 2}, ready: false}
  - {id: f, skills: {chat: 5}, ready: false}
`
	type counts struct {
		loggedIn, ready, busy, waiting int
		oldest                         time.Duration
		sl                             float64
	}
	tests := []struct {
		name  string
		setup func(e *env)
		q     counts
		chat  counts
	}{
		{
			name:  "nobody logged in",
			setup: func(e *env) {},
		},
		{
			name: "ready, busy, after-call work, not ready, logged out",
			setup: func(e *env) {
				e.busy("b")
				e.release(e.busy("c")) // after-call work
				e.must(e.s.AgentLogin("e", ""), "login")
				e.login("a")
			},
			q:    counts{loggedIn: 4, ready: 1, busy: 2, sl: 1}, // two answered at once
			chat: counts{loggedIn: 1},
		},
		{
			name: "calls waiting",
			setup: func(e *env) {
				e.busy("a")
				e.busy("b")
				e.call("q")
				e.advance(20 * time.Second)
				e.call("q")
				e.advance(20 * time.Second)
			},
			q: counts{loggedIn: 2, busy: 2, waiting: 2, oldest: 40 * time.Second, sl: 1},
		},
		{
			name: "a chat in hand makes the agent busy in both queues",
			setup: func(e *env) {
				e.login("e")
				e.answer(e.arrive("chat", pbx.IM))
			},
			q:    counts{loggedIn: 1, busy: 1},
			chat: counts{loggedIn: 1, busy: 1, sl: 1},
		},
		{
			name: "service level: answered within 20s over answered and abandoned",
			setup: func(e *env) {
				e.must(e.s.AgentLogin("a", ""), "login")
				e.served("a", 5*time.Second, time.Minute)  // in
				e.served("a", 30*time.Second, time.Minute) // out
				e.served("a", 20*time.Second, time.Minute) // in: at the target
				e.advance(time.Minute)
				gone := e.call("q")
				e.advance(10 * time.Second)
				e.release(gone) // abandoned
			},
			q: counts{loggedIn: 1, sl: 2.0 / 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, center)
			tt.setup(e)
			st := e.s.Status()
			if len(st) != 2 || st[0].Name != "q" || st[1].Name != "chat" || st[1].Media != pbx.IM {
				t.Fatalf("status of %d queues: %+v", len(st), st)
			}
			for i, want := range []counts{tt.q, tt.chat} {
				s := st[i]
				got := counts{s.LoggedIn, s.Ready, s.Busy, s.Waiting, s.OldestWait, s.ServiceLevel}
				if got != want {
					t.Errorf("%s: %+v, want %+v", s.Name, got, want)
				}
				if s.Stats != mustStats(t, e.s, s.Name) {
					t.Errorf("%s: stats %+v differ from QueueStats", s.Name, s.Stats)
				}
				ewt, _ := e.s.EstimatedWait(s.Name)
				if s.EWT != ewt {
					t.Errorf("%s: EWT %+v differs from EstimatedWait %+v", s.Name, s.EWT, ewt)
				}
			}
		})
	}
}

// Statistics: counted where first queued, only in the current period.
func TestQueueStatsAndReset(t *testing.T) {
	e := newEnv(t, `
queues: [{name: q, sl_target: 20s}]
agents: [{id: a, skills: {q: 5}, wrap_up: 10s, ready: false}]
`)
	e.must(e.s.AgentLogin("a", ""), "login")
	old := e.call("q") // arrives before the reset
	e.advance(time.Minute)
	e.s.ResetStats()
	fresh := e.call("q")
	e.advance(15 * time.Second)
	e.must(e.s.AgentReady("a"), "ready") // takes the old one first
	if got := e.agentOf(old); got != "a" {
		t.Fatalf("old call rings %q, want a", got)
	}
	e.answer(old)
	e.advance(2 * time.Minute)
	e.release(old)
	e.advance(10 * time.Second) // wrap-up; then the fresh one rings
	e.answer(fresh)
	e.advance(time.Minute)
	e.release(fresh)
	got := mustStats(t, e.s, "q")
	want := QueueStats{
		Offered: 1, Answered: 1, Waited: 1,
		WaitAnswered: 15*time.Second + 2*time.Minute + 10*time.Second,
		Handled:      1, HandleTime: time.Minute + 10*time.Second,
	}
	if got != want {
		t.Fatalf("stats after reset:\n got  %+v\n want %+v", got, want)
	}
}

// AgentTotals: time logged in, busy (offered, handling or wrapping up) and
// talking, summed over the agents.
func TestAgentTotals(t *testing.T) {
	tests := []struct {
		name                 string
		script               func(e *env)
		wantLogged, wantBusy time.Duration
		wantTalk             time.Duration
	}{
		{
			name:       "idle",
			script:     func(e *env) { e.login("a"); e.advance(time.Minute) },
			wantLogged: time.Minute,
		},
		{
			name: "one call: ringing, talk, wrap-up",
			script: func(e *env) {
				e.login("a")
				e.advance(10 * time.Second)
				id := e.call("q")
				e.advance(5 * time.Second)
				e.answer(id)
				e.advance(time.Minute)
				e.release(id)
				e.advance(2 * time.Minute) // 30s of it wrapping up
			},
			wantLogged: 10*time.Second + 5*time.Second + time.Minute + 2*time.Minute,
			wantBusy:   5*time.Second + time.Minute + 30*time.Second,
			wantTalk:   time.Minute,
		},
		{
			name: "a call in progress counts up to now",
			script: func(e *env) {
				e.login("a")
				e.answer(e.call("q"))
				e.advance(time.Minute)
			},
			wantLogged: time.Minute, wantBusy: time.Minute, wantTalk: time.Minute,
		},
		{
			name: "two chats at once count once",
			script: func(e *env) {
				e.login("a")
				c1 := e.arrive("chat", pbx.IM)
				e.answer(c1)
				e.advance(time.Minute)
				c2 := e.arrive("chat", pbx.IM)
				e.answer(c2)
				e.advance(time.Minute)
				e.release(c1)
				e.advance(time.Minute)
				e.release(c2)
				e.must(e.s.AgentLogout("a"), "logout") // ends the wrap-up
				e.advance(time.Hour)
			},
			wantLogged: 3 * time.Minute, wantBusy: 3 * time.Minute, wantTalk: 3 * time.Minute,
		},
		{
			name: "logged out time does not count; logins add up",
			script: func(e *env) {
				e.login("a")
				e.advance(time.Minute)
				e.must(e.s.AgentLogout("a"), "logout")
				e.advance(time.Hour)
				e.login("a")
				e.advance(time.Minute)
			},
			wantLogged: 2 * time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ewtCenter)
			tt.script(e)
			logged, busy, talk := e.s.AgentTotals()
			if logged != tt.wantLogged || busy != tt.wantBusy || talk != tt.wantTalk {
				t.Fatalf("logged %v, busy %v, talk %v; want %v, %v, %v", logged, busy, talk, tt.wantLogged, tt.wantBusy, tt.wantTalk)
			}
		})
	}
}

// A contact's own EWT counts only the agents who could take it: a free
// agent whose IM clients it does not match does not make it "next", and
// with nobody able to take it the wait is unbounded. The queue's EWT (a
// new contact with no requirements) still counts every agent.
func TestPositionEWTCountsOnlyEligibleAgents(t *testing.T) {
	e := newEnv(t, `
queues: [{name: chat, media: im}]
agents:
  - {id: ann, skills: {chat: 5}, capacity: {im: 1}, clients: {AliceChat: ">=2"}}
  - {id: bob, skills: {chat: 5}, capacity: {im: 1}, clients: {BobIM: "*"}}
`)
	aht := 5 * time.Minute // the default
	first := mustArrive(t, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: "AliceChat", ClientVersion: "2.5"})
	if got := e.agentOf(first); got != "ann" {
		t.Fatalf("the first AliceChat chat rings %q", got)
	}
	e.answer(first) // ann is at capacity; bob is free
	alice := mustArrive(t, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: "AliceChat", ClientVersion: "3.0"})
	if got := e.agentOf(alice); got != "" {
		t.Fatalf("an AliceChat chat rings %q, who does not support AliceChat", got)
	}
	pos, ewt, err := e.s.Position(alice)
	e.must(err, "position")
	if pos != 1 || ewt.Staffing != aht {
		t.Errorf("position %d, staffing EWT %v; want 1 and one handle time (%v, ann's capacity of 1), not 0 for the free bob", pos, ewt.Staffing, aht)
	}
	old := mustArrive(t, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: "AliceChat", ClientVersion: "1.0"})
	if _, ewt, err := e.s.Position(old); err != nil || ewt.Staffing != 24*time.Hour {
		t.Errorf("AliceChat 1.0, which no agent supports: staffing EWT %v (%v), want the unbounded 24h", ewt.Staffing, err)
	}
	if q, err := e.s.EstimatedWait("chat"); err != nil || q.Staffing != time.Duration(3)*aht/2 {
		t.Errorf("the queue's EWT %v (%v), want (2 waiting + 1) x %v / 2 agents' capacity", q.Staffing, err, aht)
	}
}
