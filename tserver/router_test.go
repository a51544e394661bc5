package tserver

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// abcCenter is three agents with the skill q at level 5, logged out at start,
// each with an extension for direct calls.
const abcCenter = `
  - {id: a, number: "1001", skills: {q: 5}, capacity: {im: 3}, ready: false}
  - {id: b, number: "1002", skills: {q: 5}, capacity: {im: 3}, ready: false}
  - {id: c, number: "1003", skills: {q: 5}, capacity: {im: 3}, ready: false}
`

// centerYAML is a center with one queue q of the given media and strategy
// and the given agents (YAML list items).
func centerYAML(media, strategy, agents string) string {
	return fmt.Sprintf("queues:\n  - {name: q, media: %s, strategy: %s}\nagents:%s", media, strategy, agents)
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		in      string
		want    Strategy
		wantErr bool
	}{
		{"", LongestIdle, false},
		{"longest_idle", LongestIdle, false},
		{"round_robin", RoundRobin, false},
		{"fewest_interactions", FewestInteractions, false},
		{"least_talk_time", LeastTalkTime, false},
		{"top_down", TopDown, false},
		{"highest_skill", HighestSkill, false},
		{"weighted_random", WeightedRandom, false},
		{"fastest", 0, true},
		{"Longest_Idle", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseStrategy(tt.in)
		if tt.wantErr {
			cctest.WantKind(t, err, pbx.Invalid, fmt.Sprintf("ParseStrategy(%q)", tt.in))
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if tt.in != "" && got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

// Each strategy, with several ready agents in a known situation: which one
// the next arrival rings. The situations are built so that the strategy's
// answer differs from the longest-idle tie-break wherever it can.
func TestStrategyPicksAgent(t *testing.T) {
	levels := func(a, b, c int) string {
		return fmt.Sprintf(`
  - {id: a, number: "1001", skills: {q: %d}, ready: false}
  - {id: b, number: "1002", skills: {q: %d}, ready: false}
  - {id: c, number: "1003", skills: {q: %d}, ready: false}
`, a, b, c)
	}
	tests := []struct {
		name     string
		strategy string
		media    pbx.Media
		agents   string
		setup    func(e *env)
		want     string
	}{
		{
			name: "longest_idle/readied c, a, b", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("c")
				e.advance(10 * time.Second)
				e.login("a")
				e.advance(10 * time.Second)
				e.login("b")
			},
			want: "c",
		},
		{
			name: "longest_idle/readied b, c, a", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("b")
				e.advance(time.Second)
				e.login("c")
				e.advance(time.Second)
				e.login("a")
			},
			want: "b",
		},
		{
			name: "longest_idle/same instant goes to configuration order", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) { e.login("c", "b", "a") },
			want:  "a",
		},
		{
			name: "longest_idle/first to finish a call", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.handle("c", time.Minute)
				e.handle("a", time.Minute)
				e.handle("b", time.Minute)
			},
			want: "c",
		},
		{
			name: "longest_idle/not ready agent skipped", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("a")
				e.advance(time.Second)
				e.login("b")
				e.advance(time.Second)
				e.login("c")
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
			},
			want: "b",
		},
		{
			name: "longest_idle/not ready then ready restarts idle time", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("a")
				e.advance(time.Second)
				e.login("b", "c")
				e.advance(time.Second)
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
				e.must(e.s.AgentReady("a"), "ready")
			},
			want: "b",
		},
		{
			name: "longest_idle/ready while ready keeps idle time", strategy: "longest_idle", agents: abcCenter,
			setup: func(e *env) {
				e.login("a")
				e.advance(time.Second)
				e.login("b", "c")
				e.advance(time.Second)
				e.must(e.s.AgentReady("a"), "ready again")
			},
			want: "a",
		},
		{
			name: "fewest_interactions/fewest in hand", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b")
				e.advance(10 * time.Second)
				e.login("c")
				e.give("a", pbx.IM)
				e.give("a", pbx.IM)
				e.give("b", pbx.IM)
			},
			want: "c",
		},
		{
			name: "fewest_interactions/in hand beats idle time and order", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.give("a", pbx.IM)
				e.give("c", pbx.IM)
			},
			want: "b",
		},
		{
			name: "fewest_interactions/ringing offers count as in hand", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.arrive("1001", pbx.IM) // rings a, unanswered
				e.give("b", pbx.IM)
			},
			want: "c",
		},
		{
			name: "fewest_interactions/tie in hand goes to fewest handled", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "c")
				e.handle("a", time.Minute)
				e.handle("a", time.Minute)
				e.handle("c", time.Minute)
				e.advance(time.Minute)
				e.login("b") // idle the shortest, handled nothing
			},
			want: "b",
		},
		{
			name: "fewest_interactions/handled before the last login does not count", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b")
				e.handle("a", time.Minute)
				e.handle("a", time.Minute)
				e.handle("b", time.Minute)
				e.must(e.s.AgentLogout("a"), "logout")
				e.advance(time.Minute)
				e.login("a") // idle the shortest, handled nothing since login
			},
			want: "a",
		},
		{
			name: "fewest_interactions/all equal goes to longest idle", strategy: "fewest_interactions", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) { e.login("b"); e.advance(time.Second); e.login("c", "a") },
			want:  "b",
		},
		{
			name: "least_talk_time/least talk", strategy: "least_talk_time", agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.handle("a", 5*time.Minute)
				e.handle("b", 1*time.Minute)
				e.handle("c", 3*time.Minute)
			},
			want: "b",
		},
		{
			name: "least_talk_time/no talk beats some", strategy: "least_talk_time", agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b")
				e.handle("a", time.Minute)
				e.handle("b", 10*time.Second)
				e.advance(time.Minute)
				e.login("c")
			},
			want: "c",
		},
		{
			name: "least_talk_time/talk on a chat in hand counts", strategy: "least_talk_time", media: pbx.IM, agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.handle("b", 2*time.Minute)
				e.give("a", pbx.IM)
				e.advance(3 * time.Minute) // a has talked 3m so far, c none
				e.give("c", pbx.IM)
				e.advance(time.Minute) // c has talked 1m, b 2m
			},
			want: "c",
		},
		{
			name: "least_talk_time/talk before the last login does not count", strategy: "least_talk_time", agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b")
				e.handle("a", 5*time.Minute)
				e.handle("b", time.Minute)
				e.must(e.s.AgentLogout("a"), "logout")
				e.advance(time.Minute)
				e.login("a") // idle the shortest, no talk since login
			},
			want: "a",
		},
		{
			name: "least_talk_time/equal talk goes to longest idle", strategy: "least_talk_time", agents: abcCenter,
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.handle("c", 2*time.Minute)
				e.handle("b", 2*time.Minute)
				e.handle("a", 2*time.Minute)
			},
			want: "c",
		},
		{
			name: "top_down/first in configuration order", strategy: "top_down", agents: abcCenter,
			setup: func(e *env) {
				e.login("c")
				e.advance(time.Second)
				e.login("b")
				e.advance(time.Second)
				e.login("a")
			},
			want: "a",
		},
		{
			name: "top_down/first available", strategy: "top_down", agents: abcCenter,
			setup: func(e *env) {
				e.login("c", "b", "a")
				e.must(e.s.AgentNotReady("a", "break"), "not ready")
			},
			want: "b",
		},
		{
			name: "highest_skill/highest level", strategy: "highest_skill", agents: levels(3, 9, 5),
			setup: func(e *env) {
				e.login("a")
				e.advance(time.Second)
				e.login("c")
				e.advance(time.Second)
				e.login("b")
			},
			want: "b",
		},
		{
			name: "highest_skill/highest free level", strategy: "highest_skill", agents: levels(3, 9, 5),
			setup: func(e *env) {
				e.login("a", "b", "c")
				e.must(e.s.AgentNotReady("b", "break"), "not ready")
			},
			want: "c",
		},
		{
			name: "highest_skill/tie goes to longest idle", strategy: "highest_skill", agents: levels(7, 7, 3),
			setup: func(e *env) {
				e.login("c")
				e.advance(time.Second)
				e.login("b")
				e.advance(time.Second)
				e.login("a")
			},
			want: "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, centerYAML(tt.media.String(), tt.strategy, tt.agents))
			tt.setup(e)
			e.advance(time.Second)
			id := e.arrive("q", tt.media)
			if got := e.agentOf(id); got != tt.want {
				t.Fatalf("offered to %q, want %q", got, tt.want)
			}
			if st, _ := e.connState(id); st != pbx.Ringing {
				t.Fatalf("interaction is %s, want ringing", st)
			}
		})
	}
}

// Round robin: successive arrivals, each served at once. A step is the
// agent the next arrival must ring, or "-x" / "+x" to make x not ready /
// ready first.
func TestRoundRobinSequence(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		steps []string
	}{
		{
			name: "configuration order, whatever the idle times",
			setup: func(e *env) {
				e.login("c")
				e.advance(time.Second)
				e.login("b")
				e.advance(time.Second)
				e.login("a")
			},
			steps: []string{"a", "b", "c", "a", "b"},
		},
		{
			name:  "skips an agent who is not ready",
			setup: func(e *env) { e.login("a", "b", "c") },
			steps: []string{"-b", "a", "c", "a", "c"},
		},
		{
			name:  "goes on after the last chosen when an agent comes back",
			setup: func(e *env) { e.login("a", "b", "c") },
			steps: []string{"a", "-b", "c", "+b", "a", "b", "c"},
		},
		{
			name:  "a single agent takes everything",
			setup: func(e *env) { e.login("b") },
			steps: []string{"b", "b", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, centerYAML("voice", "round_robin", abcCenter))
			tt.setup(e)
			for i, st := range tt.steps {
				e.advance(time.Second)
				switch st[0] {
				case '-':
					e.must(e.s.AgentNotReady(st[1:], "break"), st)
					continue
				case '+':
					e.must(e.s.AgentReady(st[1:]), st)
					continue
				}
				id := e.call("q")
				if got := e.agentOf(id); got != st {
					t.Fatalf("step %d: offered to %q, want %q", i, got, st)
				}
				e.answer(id)
				e.release(id)
			}
		})
	}
}

// picks routes n arrivals at queue q, each withdrawn while ringing
// (the agent becomes ready again), and returns the sequence of agents
// picked.
func picks(e *env, n int, between func()) []string {
	e.tb.Helper()
	picks := make([]string, 0, n)
	for range n {
		id := e.call("q")
		if between != nil {
			between()
		}
		a := e.agentOf(id)
		if a == "" {
			e.tb.Fatalf("arrival %d not offered", len(picks))
		}
		picks = append(picks, a)
		e.release(id)
	}
	return picks
}

func share(picks []string, id string) float64 {
	n := 0
	for _, p := range picks {
		if p == id {
			n++
		}
	}
	return float64(n) / float64(len(picks))
}

func TestWeightedRandom(t *testing.T) {
	const center = `
queues: [{name: q, strategy: weighted_random}]
agents:
  - {id: light, skills: {q: 5}, weight: 1}
  - {id: heavy, skills: {q: 5}, weight: 3}
`
	run := func(tb testing.TB, seed uint64, n int) []string {
		e := newEnv(tb, center, Config{Seed: seed})
		return picks(e, n, nil)
	}
	tests := []struct {
		seed      uint64
		wantHeavy float64
	}{
		{seed: 1, wantHeavy: 0.75},
		{seed: 42, wantHeavy: 0.75},
		{seed: 1 << 40, wantHeavy: 0.75},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("seed ", tt.seed), func(t *testing.T) {
			picks := run(t, tt.seed, 10000)
			// 10,000 draws: one standard deviation of the share is 0.0043.
			if got := share(picks, "heavy"); math.Abs(got-tt.wantHeavy) > 0.02 {
				t.Errorf("heavy share %.4f, want %.2f ± 0.02", got, tt.wantHeavy)
			}
			if again := run(t, tt.seed, 10000); !slices.Equal(again, picks) {
				t.Errorf("same seed gave a different sequence")
			}
		})
	}
	if slices.Equal(run(t, 1, 200), run(t, 2, 200)) {
		t.Errorf("seeds 1 and 2 gave the same 200 picks")
	}
}

// An agent who qualifies for an overflowed interaction both by the queue's
// skill (below its min_level) and by the added skill must not get twice its
// weight, whatever the order the agents were met in.
func TestWeightedRandomOverflowCountsEachAgentOnce(t *testing.T) {
	const (
		both  = "  - {id: both, skills: {q: 2, other: 3}}\n"
		other = "  - {id: other, skills: {other: 3}}\n"
	)
	tests := []struct {
		name   string
		agents string
	}{
		{"agent with both skills first", both + other},
		{"agent with both skills last", other + both},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, `
queues:
  - {name: q, strategy: weighted_random, min_level: 5, overflow: [{after: 10s, add_skill: other}]}
agents:
`+tt.agents, Config{Seed: 7})
			const n = 4000
			picks := picks(e, n, func() { e.advance(10 * time.Second) })
			// 4,000 draws: one standard deviation of the share is 0.008.
			if got := share(picks, "both"); math.Abs(got-0.5) > 0.03 {
				t.Errorf("share of the agent with both skills %.4f, want 0.50 ± 0.03", got)
			}
		})
	}
}

// An interaction keeps its overflow stage when an offer fails (rejected,
// or not answered in the ring timeout) and is routed again among the agents
// free then. An agent who qualifies both by the queue's skill and by the
// added skill is one candidate: for weighted_random it is drawn for once,
// and for highest_skill it counts with the higher of its two levels.
func TestRerouteAfterOverflowMeetsEachAgentOnce(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		overflow string // default: add_skill other after 10s
		agents   string
		ready    []string // made ready while the offer rings at x, in order
		trials   int
		want     map[string]float64 // share of the picks
	}{
		{
			name:     "weighted_random: equal weights, equal shares",
			strategy: "weighted_random",
			agents: `
  - {id: x, skills: {other: 1}}
  - {id: y, skills: {q: 6, other: 3}, ready: false}
  - {id: z, skills: {other: 3}, ready: false}
`,
			ready:  []string{"y", "z"},
			trials: 3000,
			want:   map[string]float64{"y": 0.5, "z": 0.5},
		},
		{
			name:     "weighted_random: an agent in two added skills",
			strategy: "weighted_random",
			overflow: "[{after: 10s, add_skill: other}, {after: 10s, add_skill: third}]",
			agents: `
  - {id: x, skills: {third: 1}}
  - {id: y, skills: {other: 3, third: 3}, ready: false}
  - {id: z, skills: {third: 3}, ready: false}
`,
			ready:  []string{"y", "z"},
			trials: 3000,
			want:   map[string]float64{"y": 0.5, "z": 0.5},
		},
		{
			name:     "highest_skill: the added skill's higher level counts",
			strategy: "highest_skill",
			agents: `
  - {id: x, skills: {other: 1}}
  - {id: y, skills: {q: 6, other: 9}, ready: false}
  - {id: z, skills: {other: 8}, ready: false}
`,
			ready:  []string{"z", "y"},
			trials: 1,
			want:   map[string]float64{"y": 1},
		},
		{
			name:     "highest_skill: the queue skill's higher level counts",
			strategy: "highest_skill",
			agents: `
  - {id: x, skills: {other: 1}}
  - {id: y, skills: {q: 9, other: 2}, ready: false}
  - {id: z, skills: {other: 8}, ready: false}
`,
			ready:  []string{"y", "z"},
			trials: 1,
			want:   map[string]float64{"y": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overflow := tt.overflow
			if overflow == "" {
				overflow = "[{after: 10s, add_skill: other}]"
			}
			e := newEnv(t, fmt.Sprintf(`
queues:
  - {name: q, strategy: %s, min_level: 5, overflow: %s}
agents:%s`, tt.strategy, overflow, tt.agents), Config{Seed: 3})
			for _, a := range tt.ready {
				e.must(e.s.AgentLogin(a, ""), "login "+a)
			}
			var picks []string
			for range tt.trials {
				id := e.call("q")
				e.advance(10 * time.Second) // overflow: only x is free
				if got := e.agentOf(id); got != "x" {
					t.Fatalf("after the overflow, offered to %q, want x", got)
				}
				for _, a := range tt.ready {
					e.must(e.s.AgentReady(a), "ready "+a)
				}
				e.must(e.s.RejectCall(id, "declined"), "reject")
				picks = append(picks, e.agentOf(id))
				e.release(id)
				for _, a := range tt.ready {
					e.must(e.s.AgentNotReady(a, "pause"), "not ready "+a)
				}
				e.must(e.s.AgentReady("x"), "ready x")
			}
			for id, want := range tt.want {
				if got := share(picks, id); math.Abs(got-want) > 0.03 {
					t.Errorf("%s's share %.3f, want %.2f ± 0.03", id, got, want)
				}
			}
		})
	}
}

func TestMinLevel(t *testing.T) {
	const center = `
queues: [{name: q, min_level: 5}]
agents:
  - {id: lo, skills: {q: 3}, ready: false}
  - {id: mid, skills: {q: 5}, ready: false}
  - {id: hi, skills: {q: 7}, ready: false}
`
	tests := []struct {
		name  string
		ready []string // in order, one second apart
		want  string   // "" when the interaction waits
	}{
		{"level below the minimum is skipped", []string{"lo", "hi"}, "hi"},
		{"level at the minimum is accepted", []string{"lo", "mid"}, "mid"},
		{"only below the minimum: waits", []string{"lo"}, ""},
		{"longest idle among the qualified", []string{"lo", "hi", "mid"}, "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, center)
			for _, id := range tt.ready {
				e.login(id)
				e.advance(time.Second)
			}
			id := e.call("q")
			if got := e.agentOf(id); got != tt.want {
				t.Fatalf("offered to %q, want %q", got, tt.want)
			}
			if tt.want != "" {
				return
			}
			if st, _ := e.connState(id); st != pbx.Queued {
				t.Fatalf("interaction is %s, want queued", st)
			}
			if s := e.state("lo"); s != Ready {
				t.Fatalf("lo is %s, want ready", s)
			}
			// A qualified agent who becomes ready takes it.
			e.login("hi")
			if got := e.agentOf(id); got != "hi" {
				t.Fatalf("after hi is ready, offered to %q, want hi", got)
			}
		})
	}
}

// Two interactions wait, one in each of two queues the agent serves; the
// agent becomes ready: which one it gets.
func TestPriorityAging(t *testing.T) {
	tests := []struct {
		name          string
		max           int           // aging cap of queue low
		lowAt, highAt time.Duration // arrivals
		readyAt       time.Duration
		want          string // queue of the interaction offered
	}{
		// low: priority 0 + 1 every 10s up to max; high: priority 3.
		{"aged above the other", 5, 0, 0, 40 * time.Second, "low"},
		{"not aged enough", 5, 0, 0, 25 * time.Second, "high"},
		{"aged to a tie, older first", 5, 0, time.Second, 30 * time.Second, "low"},
		{"aged to a tie, other older", 5, time.Second, 0, 31 * time.Second, "high"},
		{"aged above the other, younger", 5, time.Second, 0, 41 * time.Second, "low"},
		{"aging capped below the other", 2, 0, 0, time.Hour, "high"},
		{"aging capped at a tie, older first", 3, 0, time.Second, time.Hour, "low"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf(`
queues:
  - {name: low, priority: 0, aging: {every: 10s, step: 1, max: %d}}
  - {name: high, priority: 3}
agents:
  - {id: a, skills: {low: 5, high: 5}, ready: false}
`, tt.max))
			e.must(e.s.AgentLogin("a", ""), "login")
			arrivals := []struct {
				at time.Duration
				q  string
			}{{tt.lowAt, "low"}, {tt.highAt, "high"}}
			slices.SortStableFunc(arrivals, func(x, y struct {
				at time.Duration
				q  string
			}) int {
				return int(x.at - y.at)
			})
			ids := map[string]pbx.ConnID{}
			for _, ar := range arrivals {
				e.clk.RunUntil(ar.at)
				ids[ar.q] = e.call(ar.q)
			}
			e.clk.RunUntil(tt.readyAt)
			e.must(e.s.AgentReady("a"), "ready")
			r := e.ringing("a")
			if len(r) != 1 {
				t.Fatalf("%d interactions ring, want 1", len(r))
			}
			if r[0] != ids[tt.want] {
				t.Fatalf("agent got the %s interaction, want %s", e.s.Contact(r[0]).Queue(), tt.want)
			}
		})
	}
}

// Aging within one queue: an older interaction of lower priority that has
// aged to the priority of a younger one goes first.
func TestPriorityAgingWithinQueue(t *testing.T) {
	type arrival struct {
		at       time.Duration
		priority int
	}
	tests := []struct {
		name     string
		arrivals []arrival
		readyAt  time.Duration
		want     []int // order served
	}{
		{"aged above", []arrival{{0, 0}, {35 * time.Second, 3}}, 40 * time.Second, []int{0, 1}},
		{"aged to a tie: older first", []arrival{{0, 0}, {30 * time.Second, 3}}, 30 * time.Second, []int{0, 1}},
		{"not aged enough", []arrival{{0, 0}, {20 * time.Second, 3}}, 25 * time.Second, []int{1, 0}},
		{"capped", []arrival{{0, 0}, {50 * time.Second, 5}}, time.Hour, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, `
queues: [{name: q, aging: {every: 10s, step: 1, max: 4}}]
agents: [{id: a, skills: {q: 5}, ready: false}]
`)
			e.must(e.s.AgentLogin("a", ""), "login")
			index := map[pbx.ConnID]int{}
			for i, ar := range tt.arrivals {
				e.clk.RunUntil(ar.at)
				index[mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q", Priority: ar.priority})] = i
			}
			e.clk.RunUntil(tt.readyAt)
			e.must(e.s.AgentReady("a"), "ready")
			var got []int
			for range tt.arrivals {
				got = append(got, index[e.serveNext("a")])
			}
			wantEqual(t, "order served", got, tt.want)
		})
	}
}

// Within a queue: higher Arrival.Priority first, FIFO among equals.
func TestContactPriorityAndFIFO(t *testing.T) {
	tests := []struct {
		name       string
		priorities []int // of arrivals 0, 1, 2, ... one second apart
		want       []int // order in which the agent takes them
	}{
		{"FIFO among equals", []int{0, 0, 0}, []int{0, 1, 2}},
		{"higher priority first, FIFO within", []int{0, 5, 5, 0}, []int{1, 2, 0, 3}},
		{"negative priority last", []int{-1, 0}, []int{1, 0}},
		{"three levels", []int{2, 1, 3, 2}, []int{2, 0, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, `
queues: [{name: q, priority: 1}]
agents: [{id: a, skills: {q: 5}, ready: false}]
`)
			e.must(e.s.AgentLogin("a", ""), "login")
			index := map[pbx.ConnID]int{}
			for i, p := range tt.priorities {
				id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: "q", Priority: p})
				index[id] = i
				e.advance(time.Second)
			}
			e.must(e.s.AgentReady("a"), "ready")
			var got []int
			for range tt.priorities {
				got = append(got, index[e.serveNext("a")])
			}
			wantEqual(t, "order served", got, tt.want)
		})
	}
}

// Overflow rules, seen at checkpoints after a single arrival at t=0: who
// the interaction rings then ("" while it waits).
func TestOverflowWidensAgents(t *testing.T) {
	type check struct {
		at   time.Duration
		want string
	}
	tests := []struct {
		name      string
		center    string
		checks    []check
		thenReady string // an agent who then becomes ready and must get it
	}{
		{
			name: "min_level lowered after 30s",
			center: `
queues: [{name: q, min_level: 7, overflow: [{after: 30s, min_level: 3}]}]
agents:
  - {id: lo, skills: {q: 4}}
  - {id: weak, skills: {q: 2}}
`,
			checks: []check{{0, ""}, {29 * time.Second, ""}, {30 * time.Second, "lo"}},
		},
		{
			name: "add_skill after 20s",
			center: `
queues: [{name: q, overflow: [{after: 20s, add_skill: other}]}]
agents:
  - {id: x, skills: {other: 1}}
`,
			checks: []check{{0, ""}, {19 * time.Second, ""}, {20 * time.Second, "x"}},
		},
		{
			name: "add_skill with a level required in it",
			center: `
queues: [{name: q, overflow: [{after: 20s, add_skill: other, min_level: 5}]}]
agents:
  - {id: weak, skills: {other: 4}}
  - {id: strong, skills: {other: 6}}
`,
			checks: []check{{19 * time.Second, ""}, {20 * time.Second, "strong"}},
		},
		{
			name: "add_skill level too low: keeps waiting",
			center: `
queues: [{name: q, overflow: [{after: 20s, add_skill: other, min_level: 5}]}]
agents:
  - {id: weak, skills: {other: 4}}
`,
			checks: []check{{20 * time.Second, ""}, {time.Hour, ""}},
		},
		{
			name: "two stages: min_level then add_skill",
			center: `
queues:
  - name: q
    min_level: 8
    overflow:
      - {after: 10s, min_level: 5}
      - {after: 40s, add_skill: other}
agents:
  - {id: x, skills: {other: 9}}
  - {id: weak, skills: {q: 3}}
`,
			checks: []check{{10 * time.Second, ""}, {39 * time.Second, ""}, {40 * time.Second, "x"}},
		},
		{
			name: "agent becoming ready after overflow qualifies by it",
			center: `
queues: [{name: q, min_level: 7, overflow: [{after: 30s, min_level: 3}]}]
agents:
  - {id: lo, skills: {q: 4}, ready: false}
`,
			checks:    []check{{31 * time.Second, ""}},
			thenReady: "lo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.center)
			id := e.call("q")
			for _, c := range tt.checks {
				e.clk.RunUntil(c.at)
				if got := e.agentOf(id); got != c.want {
					t.Fatalf("at %v: offered to %q, want %q", c.at, got, c.want)
				}
				if c.want == "" {
					if st, _ := e.connState(id); st != pbx.Queued {
						t.Fatalf("at %v: interaction is %s, want queued", c.at, st)
					}
				}
			}
			if tt.thenReady != "" {
				e.login(tt.thenReady)
				if got := e.agentOf(id); got != tt.thenReady {
					t.Fatalf("%s ready after the checks: offered to %q", tt.thenReady, got)
				}
			}
		})
	}
}

func TestOverflowToQueue(t *testing.T) {
	tests := []struct {
		name       string
		agents     string
		transcript []string // from the overflow on
		wantQueue  string   // where the interaction is after the overflow
		wantState  pbx.State
	}{
		{
			name:   "taken at once in the other queue",
			agents: `[{id: b, skills: {second: 5}}]`,
			transcript: []string{
				"EventDiverted conn=1 queue=first reason=overflow",
				"EventQueued conn=1 queue=second",
				"EventDiverted conn=1 agent=b queue=second",
				"EventRinging conn=1 agent=b queue=second",
			},
			wantQueue: "second",
			wantState: pbx.Ringing,
		},
		{
			name:   "waits in the other queue",
			agents: `[{id: b, skills: {second: 5}, ready: false}]`,
			transcript: []string{
				"EventDiverted conn=1 queue=first reason=overflow",
				"EventQueued conn=1 queue=second",
			},
			wantQueue: "second",
			wantState: pbx.Queued,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, `
queues:
  - {name: first, overflow: [{after: 30s, to_queue: second}]}
  - {name: second}
agents: `+tt.agents+`
`)
			id := e.call("first")
			wantEqualLines(t, "on arrival", e.rec.Lines(), []string{"EventQueued conn=1 queue=first"})
			e.rec.Reset()
			e.advance(29 * time.Second)
			if n := len(e.rec.events); n != 0 {
				t.Fatalf("%d events before the overflow is due", n)
			}
			e.advance(time.Second)
			wantEqualLines(t, "overflow", e.rec.Lines(), tt.transcript)
			c := mustContact(t, e.s, id)
			if c.Queue() != tt.wantQueue || c.State != tt.wantState {
				t.Fatalf("interaction in %q, %s; want %q, %s", c.Queue(), c.State, tt.wantQueue, tt.wantState)
			}
			if tt.wantState == pbx.Queued {
				e.login("b")
			}
			e.advance(5 * time.Second)
			e.answer(id)
			// Statistics stay with the queue the interaction entered first.
			first, second := mustStats(t, e.s, "first"), mustStats(t, e.s, "second")
			if first.Offered != 1 || first.Answered != 1 || first.Waited != 1 {
				t.Errorf("first: %+v, want offered, waited and answered 1", first)
			}
			if second != (QueueStats{}) {
				t.Errorf("second: %+v, want nothing counted", second)
			}
			if st := e.s.Status(); st[0].Waiting != 0 || st[1].Waiting != 0 {
				t.Errorf("waiting first %d, second %d; want 0, 0", st[0].Waiting, st[1].Waiting)
			}
		})
	}
}

// Capacity per media: an agent takes up to its capacity of a media at once.
func TestCapacityPerMedia(t *testing.T) {
	tests := []struct {
		name       string
		capacity   int
		chats      int
		wantOffers int
	}{
		{"one chat at a time", 1, 2, 1},
		{"three chats, fourth waits", 3, 4, 3},
		{"three chats, three arrive", 3, 3, 3},
		{"no chats at all", 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf(`
queues: [{name: chat, media: im}, {name: q}]
agents: [{id: a, skills: {chat: 5, q: 5}, capacity: {im: %d}}]
`, tt.capacity))
			var ids []pbx.ConnID
			for range tt.chats {
				ids = append(ids, e.arrive("chat", pbx.IM))
			}
			offered := 0
			for _, id := range ids {
				if e.agentOf(id) == "a" {
					offered++
				}
			}
			if offered != tt.wantOffers {
				t.Fatalf("%d chats offered, want %d", offered, tt.wantOffers)
			}
			if w := e.s.Status()[0].Waiting; w != tt.chats-tt.wantOffers {
				t.Fatalf("%d chats waiting, want %d", w, tt.chats-tt.wantOffers)
			}
			// Voice is counted apart: the agent still takes a call.
			call := e.call("q")
			if got := e.agentOf(call); got != "a" {
				t.Fatalf("call offered to %q, want a", got)
			}
			if tt.wantOffers == 0 || tt.chats == tt.wantOffers {
				return
			}
			// One chat ends: the next waiting one is offered.
			e.answer(ids[0])
			e.release(ids[0])
			if got := e.agentOf(ids[tt.wantOffers]); got != "a" {
				t.Fatalf("after a chat ended, the waiting chat is offered to %q, want a", got)
			}
		})
	}
}

// Cross-media rules: while the agent handles the first media, is the second
// offered; and is it once the first ends.
func TestCrossMediaBlock(t *testing.T) {
	tests := []struct {
		name       string
		block      string
		wrapUp     string
		first      pbx.Media
		answer     bool // answer the first before the second arrives
		second     pbx.Media
		wantDuring bool
		wantAfter  time.Duration // after the first ends, when the second is offered (if not during)
	}{
		{"no rule: chat during a call", "{}", "0s", pbx.Voice, true, pbx.IM, true, 0},
		{"voice blocks im: no chat during a call", "{voice: [im]}", "0s", pbx.Voice, true, pbx.IM, false, 0},
		{"voice blocks im: no chat while a call rings", "{voice: [im]}", "0s", pbx.Voice, false, pbx.IM, false, 0},
		{"voice blocks im: chat after the wrap-up", "{voice: [im]}", "20s", pbx.Voice, true, pbx.IM, false, 20 * time.Second},
		{"voice blocks im: a call during a chat", "{voice: [im]}", "0s", pbx.IM, true, pbx.Voice, true, 0},
		{"im blocks voice: no call during a chat", "{im: [voice]}", "0s", pbx.IM, true, pbx.Voice, false, 0},
		{"voice blocks voip: chat still offered", "{voice: [voip]}", "0s", pbx.Voice, true, pbx.IM, true, 0},
	}
	queueOf := map[pbx.Media]string{pbx.Voice: "calls", pbx.IM: "chats"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf(`
queues: [{name: calls}, {name: chats, media: im}]
agents: [{id: a, skills: {calls: 5, chats: 5}, capacity: {im: 2}, block: %s, wrap_up: %s}]
`, tt.block, tt.wrapUp))
			first := e.arrive(queueOf[tt.first], tt.first)
			if e.agentOf(first) != "a" {
				t.Fatal("first interaction not offered")
			}
			if tt.answer {
				e.answer(first)
			}
			second := e.arrive(queueOf[tt.second], tt.second)
			if got := e.agentOf(second) == "a"; got != tt.wantDuring {
				t.Fatalf("second offered during the first: %v, want %v", got, tt.wantDuring)
			}
			if tt.wantDuring {
				return
			}
			e.release(first)
			if tt.wantAfter > 0 {
				e.advance(tt.wantAfter - time.Second)
				if e.agentOf(second) != "" {
					t.Fatalf("second offered %v after the first, want %v", tt.wantAfter-time.Second, tt.wantAfter)
				}
				e.advance(time.Second)
			}
			if got := e.agentOf(second); got != "a" {
				t.Fatalf("second offered to %q after the first ended, want a", got)
			}
		})
	}
}

// The cross-media rule holds when an agent frees up for more chats while
// still on a call: the chat it was handling before the call ends, and the
// chat waiting is not offered until the call ends too.
func TestCrossMediaBlockWhenChatEnds(t *testing.T) {
	e := newEnv(t, `
queues: [{name: calls}, {name: chats, media: im}]
agents: [{id: a, skills: {calls: 5, chats: 5}, capacity: {im: 2}, block: {voice: [im]}}]
`)
	chat1 := e.arrive("chats", pbx.IM)
	e.answer(chat1)
	call := e.call("calls")
	if e.agentOf(call) != "a" {
		t.Fatal("call not offered during a chat")
	}
	e.answer(call)
	chat2 := e.arrive("chats", pbx.IM)
	e.release(chat1)
	if got := e.agentOf(chat2); got != "" {
		t.Fatalf("waiting chat offered to %q while a is on a call", got)
	}
	if st := e.state("a"); st != Busy {
		t.Fatalf("a is %s, want busy", st)
	}
	e.release(call)
	if got := e.agentOf(chat2); got != "a" {
		t.Fatalf("after the call, waiting chat offered to %q, want a", got)
	}
}

// IM client compatibility: a chat from a client goes only to agents whose
// clients map allows that family and version.
func TestClientCompatibility(t *testing.T) {
	const center = `
queues: [{name: chat, media: im}]
agents:
  - {id: none, skills: {chat: 5}, ready: false}
  - {id: old, skills: {chat: 5}, clients: {pidgin: "<2.10"}, ready: false}
  - {id: new, skills: {chat: 5}, clients: {pidgin: ">=2.10"}, ready: false}
  - {id: any, skills: {chat: 5}, clients: {pidgin: "*", adium: "1.5"}, ready: false}
  - {id: all, skills: {chat: 5}, clients: {"*": "*", adium: "2"}, ready: false}
`
	tests := []struct {
		name            string
		ready           []string // one second apart, the first idle longest
		family, version string
		want            string // "" when the chat waits
	}{
		{"no client: anybody", []string{"none", "new"}, "", "", "none"},
		{"agent without the family is skipped", []string{"none", "new"}, "pidgin", "2.14", "new"},
		{"agent without the family only: waits", []string{"none"}, "pidgin", "2.14", ""},
		{">=2.10 allows 2.10", []string{"new"}, "pidgin", "2.10", "new"},
		{">=2.10 allows 2.14.1", []string{"new"}, "pidgin", "2.14.1", "new"},
		{">=2.10 refuses 2.9", []string{"new"}, "pidgin", "2.9", ""},
		{"<2.10 takes 2.9", []string{"new", "old"}, "pidgin", "2.9", "old"},
		{"unknown version: only *", []string{"new", "old", "any"}, "pidgin", "", "any"},
		{"* allows any version", []string{"none", "any"}, "pidgin", "0.1", "any"},
		{"exact version", []string{"any"}, "adium", "1.5.0", "any"},
		{"exact version refuses another", []string{"any"}, "adium", "1.6", ""},
		{"other family: only agents with it", []string{"new", "old", "none"}, "trillian", "1", ""},
		{"family * takes any family", []string{"new", "old", "none", "all"}, "trillian", "1", "all"},
		{"a listed family wins over *", []string{"all"}, "adium", "1.5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, center)
			for _, id := range tt.ready {
				e.login(id)
				e.advance(time.Second)
			}
			id := mustArrive(t, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: tt.family, ClientVersion: tt.version})
			if got := e.agentOf(id); got != tt.want {
				t.Fatalf("offered to %q, want %q", got, tt.want)
			}
			if tt.want == "" {
				for _, a := range tt.ready {
					if st := e.state(a); st != Ready {
						t.Fatalf("%s is %s, want ready (and not offered)", a, st)
					}
				}
			}
		})
	}
}

// A waiting chat goes to the first compatible agent who becomes ready,
// never to the incompatible one ready all along.
func TestClientCompatibilityWhenAgentFrees(t *testing.T) {
	e := newEnv(t, `
queues: [{name: chat, media: im}]
agents:
  - {id: none, skills: {chat: 5}}
  - {id: new, skills: {chat: 5}, clients: {pidgin: ">=2.10"}, ready: false}
`)
	id := mustArrive(t, e.s, Arrival{Media: pbx.IM, DNIS: "chat", ClientFamily: "pidgin", ClientVersion: "2.12"})
	other := e.arrive("chat", pbx.IM) // no client: "none" takes it
	if got := e.agentOf(other); got != "none" {
		t.Fatalf("chat without client offered to %q, want none", got)
	}
	e.release(other)
	if got := e.agentOf(id); got != "" {
		t.Fatalf("pidgin chat offered to %q before a compatible agent is ready", got)
	}
	e.advance(time.Minute)
	e.login("new")
	if got := e.agentOf(id); got != "new" {
		t.Fatalf("pidgin chat offered to %q, want new", got)
	}
}

// Attribute requirements, of the queue and of the interaction.
func TestAttributeRequirements(t *testing.T) {
	const center = `
queues:
  - {name: fr, requires: {language: fr}}
  - {name: any}
agents:
  - {id: en, skills: {fr: 5, any: 5}, attributes: {language: [en]}, ready: false}
  - {id: bi, skills: {fr: 5, any: 5}, attributes: {language: [en, fr]}, ready: false}
  - {id: de, skills: {fr: 5, any: 5}, attributes: {language: [de], region: [eu]}, ready: false}
`
	tests := []struct {
		name     string
		queue    string
		requires []pbx.KV
		ready    []string
		want     string
	}{
		{"queue requires fr: en skipped", "fr", nil, []string{"en", "bi"}, "bi"},
		{"queue requires fr: nobody speaks it", "fr", nil, []string{"en", "de"}, ""},
		{"no requirement: longest idle", "any", nil, []string{"en", "bi"}, "en"},
		{"interaction requires de", "any", []pbx.KV{{Key: "language", Value: "de"}}, []string{"en", "bi", "de"}, "de"},
		{"interaction requires two attributes", "any", []pbx.KV{{Key: "language", Value: "de"}, {Key: "region", Value: "eu"}}, []string{"bi", "de"}, "de"},
		{"interaction requires what nobody has", "any", []pbx.KV{{Key: "region", Value: "us"}}, []string{"en", "bi", "de"}, ""},
		{"queue and interaction together", "fr", []pbx.KV{{Key: "language", Value: "en"}}, []string{"en", "bi"}, "bi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, center)
			for _, id := range tt.ready {
				e.login(id)
				e.advance(time.Second)
			}
			id := mustArrive(t, e.s, Arrival{Media: pbx.Voice, DNIS: tt.queue, Requires: tt.requires})
			if got := e.agentOf(id); got != tt.want {
				t.Fatalf("offered to %q, want %q", got, tt.want)
			}
		})
	}
}
