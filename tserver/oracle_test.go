package tserver

// Differential tests of the router's indexes (agentindex.go,
// positions.go): every decision the ranked trees make, every serving and
// status count kept as agents change and every position counted by order
// statistics is checked, as it is made, against the references below, which walk every
// agent or the queue the way the router did before it had indexes.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// oracleFindAgent is the reference decision: among all agents, those
// eligible for c in q now, the best by the queue's strategy (better), each
// agent at the highest level that qualifies it. It holds for every
// strategy but weighted_random, whose draw depends on the scan's order.
func oracleFindAgent(s *Server, c *Contact, q *queue) *Agent {
	if a := c.prefer; a != nil {
		if _, ok := s.eligible(a, c, q); ok {
			return a
		}
		return nil
	}
	var best *Agent
	bestLevel := 0
	for _, a := range s.agents {
		lvl, ok := s.eligible(a, c, q)
		if !ok {
			continue
		}
		if best == nil || s.better(q, a, lvl, best, bestLevel) {
			best, bestLevel = a, lvl
		}
	}
	return best
}

// oracleAhead counts the contacts ahead of c in its queue by walking the
// queue, as Position did before it had order statistics.
func oracleAhead(s *Server, c *Contact) int {
	q := c.queue
	now := s.clock.Now()
	p := q.effectivePriority(c, now)
	ahead := 0
	for _, b := range q.buckets {
		for d := b.head; d != nil && d != c; d = d.next {
			if dp := q.effectivePriority(d, now); dp > p || (dp == p && before(d, c)) {
				ahead++
			}
		}
	}
	return ahead
}

// oracleStatus counts q's agents logged in, ready and busy by walking
// every agent, as Status did.
func oracleStatus(s *Server, q *queue) (loggedIn, ready, busy int) {
	for _, a := range s.agents {
		if a.state == LoggedOut || !a.mayServe(q) {
			continue
		}
		if _, ok := q.skillOK(a, 0); !ok {
			continue
		}
		loggedIn++
		switch {
		case a.takesWork() && a.canTake(q.media) && !a.working():
			ready++
		case a.working() || a.state == AfterCallWork:
			busy++
		}
	}
	return
}

// diffCounts counts what the differential checks compared.
type diffCounts struct {
	picks, picked, probes, serving, positions, statuses int
}

// installOracle makes h's server check each ranked decision and counted
// serving answer against the reference, as a violation of h.
func installOracle(h *harness, n *diffCounts) {
	s := h.s
	s.verifyPick = func(c *Contact, q *queue, got *Agent) {
		n.picks++
		if got != nil {
			n.picked++
		}
		if want := oracleFindAgent(s, c, q); want != got {
			h.violate("queue %s (%v, stage %d, client %q/%q): ranked pick %s, a walk of every agent %s",
				q.name, q.strategy, c.stage, c.ClientFamily, c.ClientVersion, agentName(got), agentName(want))
		}
	}
	s.verifyAhead = func(c *Contact, ahead int) {
		n.positions++
		if want := oracleAhead(s, c); want != ahead {
			h.violate("%v in %s: %d ahead by order statistics, %d by a walk of the queue", c.ID, c.queue.name, ahead, want)
		}
	}
	s.verifyStatus = func(q *queue, loggedIn, ready, busy int) {
		n.statuses++
		if wl, wr, wb := oracleStatus(s, q); wl != loggedIn || wr != ready || wb != busy {
			h.violate("queue %s: status counts %d/%d/%d, a walk of every agent %d/%d/%d",
				q.name, loggedIn, ready, busy, wl, wr, wb)
		}
	}
	s.verifyServing = func(q *queue, c *Contact, agents, capacity, free int) {
		n.serving++
		if wa, wc, wf := s.walkServing(q, c); wa != agents || wc != capacity || wf != free {
			h.violate("queue %s: serving counts %d/%d/%d, a walk of every agent %d/%d/%d",
				q.name, agents, capacity, free, wa, wc, wf)
		}
	}
}

func agentName(a *Agent) string {
	if a == nil {
		return "nobody"
	}
	return a.ID
}

// probe asks the router, between steps, for the agent it would give a new
// interaction of each queue at each overflow stage, plain or from an IM
// client, for the serving counts, and for the position of every queued
// interaction: each answer goes through the checks installOracle set up. Weighted-random queues are left out: a decision
// there draws from the server's generator, which would change the run.
func probe(h *harness, n *diffCounts) {
	s := h.s
	clients := [][2]string{{"", ""}, {"pidgin", "2.14"}, {"gajim", "1.2"}}
	for _, q := range s.queues {
		for stage := 0; stage <= len(q.overflow); stage++ {
			c := &Contact{Interaction: pbx.Interaction{Media: q.media}, stage: stage}
			s.serving(q, c)
			if q.strategy == WeightedRandom {
				continue
			}
			for _, cl := range clients {
				c.ClientFamily, c.ClientVersion = cl[0], cl[1]
				n.probes++
				s.findAgent(c, q)
			}
		}
		s.serving(q, nil)
	}
	s.Status()
	for _, id := range h.live(pbx.Queued) {
		if c := s.contacts.get(id); c.bucket != nil {
			if _, _, err := s.Position(id); err != nil {
				h.violate("position of %v: %v", id, err)
			}
		}
	}
}

// largeProfile has up to 40 agents under heavy traffic.
var largeProfile = profile{name: "large", media: []string{"voice", "im"}, maxAgents: 40,
	actions: append(append([]string{}, actions...), "arrive", "arrive", "arrive", "arrive", "answer", "answer", "release", "ready")}

// TestRankedMatchesWalk runs the property tests' random centers (every
// strategy, skills and levels, overflow that widens levels and adds
// skills, capacities and cross-media blocks, IM clients, wrap-up) with
// the reference checks installed, and probes between steps.
func TestRankedMatchesWalk(t *testing.T) {
	all := append(append([]profile{}, profiles...), largeProfile)
	for i := range all {
		pr := &all[i]
		t.Run(pr.name, func(t *testing.T) {
			var n diffCounts
			rapid.Check(t, func(rt *rapid.T) {
				h := newHarness(rt, pr)
				installOracle(h, &n)
				steps := 20 + int(uniform.Draw(rt, "steps"))%(maxSteps-19)
				for range steps {
					h.step()
					probe(h, &n)
					h.check()
				}
				h.clk.Advance(3600e9)
				probe(h, &n)
				h.check()
			})
			t.Logf("%d decisions (%d found an agent), %d probes, %d serving counts, %d positions and %d status counts checked",
				n.picks, n.picked, n.probes, n.serving, n.positions, n.statuses)
			if n.picked == 0 || n.picks == n.picked || n.serving == 0 || n.positions == 0 || n.statuses == 0 {
				t.Fatalf("the run did not exercise the indexes: %+v", n)
			}
		})
	}
}

// TestRankedOracleCatchesAWrongPick shows the check can fail: an agent
// filed under a stale key (its idle time changed behind the index's back)
// makes the ranked pick differ from the walk.
func TestRankedOracleCatchesAWrongPick(t *testing.T) {
	s, clk := newTestServer(t, `
queues: [{name: q, media: voice}]
agents:
  - {id: a1, skills: {q: 1}}
  - {id: a2, skills: {q: 1}}
`, Config{})
	var complaints []string
	s.verifyPick = func(c *Contact, q *queue, got *Agent) {
		if want := oracleFindAgent(s, c, q); want != got {
			complaints = append(complaints, fmt.Sprintf("ranked %s, walk %s", agentName(got), agentName(want)))
		}
	}
	clk.Advance(10e9)
	s.flushIndexes()
	s.agentByID["a1"].idleSince = clk.Now() // behind the index's back: a2 is now idle the longest
	id, err := s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Contact(id).Agent().ID; got != "a1" || len(complaints) != 1 || complaints[0] != "ranked a1, walk a2" {
		t.Fatalf("offered to %s; complaints %q", got, complaints)
	}
}

// TestRankedFewestSeesAnswers: fewest_interactions ranks by interactions
// handled, which an answer changes while the agent stays available for
// more chats; the next decision must see it.
func TestRankedFewestSeesAnswers(t *testing.T) {
	s, _ := newTestServer(t, `
queues: [{name: chat, media: im, strategy: fewest_interactions}]
agents:
  - {id: a1, skills: {chat: 1}, capacity: {im: 3}}
  - {id: a2, skills: {chat: 1}, capacity: {im: 3}}
`, Config{})
	var complaints []string
	s.verifyPick = func(c *Contact, q *queue, got *Agent) {
		if want := oracleFindAgent(s, c, q); want != got {
			complaints = append(complaints, fmt.Sprintf("ranked %s, walk %s", agentName(got), agentName(want)))
		}
	}
	arrive := func() *Contact {
		t.Helper()
		id, err := s.Arrive(&Arrival{Media: pbx.IM, DNIS: "chat"})
		if err != nil {
			t.Fatal(err)
		}
		return s.Contact(id)
	}
	first := arrive() // a1: both have nothing, a1 comes first in the file
	// Reading the indexes files a1 as it is now: ringing, nothing handled.
	if _, err := s.EstimatedWait("chat"); err != nil {
		t.Fatal(err)
	}
	if err := s.AnswerCall(first.ID); err != nil {
		t.Fatal(err)
	}
	if second := arrive(); second.Agent().ID != "a2" { // a1 has one chat, a2 none
		t.Fatalf("second chat offered to %s", second.Agent().ID)
	}
	// One chat each (a2's still ringing); a1 has handled one, a2 none.
	if third := arrive(); third.Agent().ID != "a2" || len(complaints) > 0 {
		t.Fatalf("third chat offered to %s, want a2; complaints %q", third.Agent().ID, complaints)
	}
}

// TestRankedMatchesWalkAtScale checks the indexes against the walks in a
// larger center than the property tests draw: 300 agents with 4 of 12
// skills at random levels, voice and chat (capacity 1 to 3, some
// blocking), one queue per skill with every strategy, overflow that
// widens levels and adds skills, and some chats from IM clients. Traffic
// arrives, rings, is answered or refused, abandons and ends on the
// virtual clock while agents go not ready and back.
func TestRankedMatchesWalkAtScale(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var y strings.Builder
	y.WriteString("queues:\n")
	for k := range 12 {
		media := "voice"
		if k%3 == 2 {
			media = "im"
		}
		fmt.Fprintf(&y, "  - {name: q%d, media: %s, skill: s%d, strategy: %s, min_level: %d", k, media, k, strategies[k%len(strategies)], 1+k%3)
		if k%2 == 0 {
			fmt.Fprintf(&y, ", overflow: [{after: 20s, min_level: 1}, {after: 40s, add_skill: s%d, min_level: 2}]", (k+3)%12)
		}
		y.WriteString("}\n")
	}
	y.WriteString("agents:\n")
	for i := range 300 {
		fmt.Fprintf(&y, "  - {id: a%d, skills: {", i)
		for j, k := range r.Perm(12)[:4] {
			if j > 0 {
				y.WriteString(", ")
			}
			fmt.Fprintf(&y, "s%d: %d", k, 1+r.IntN(10))
		}
		fmt.Fprintf(&y, "}, capacity: {voice: 1, im: %d}", 1+r.IntN(3))
		if i%4 == 0 {
			y.WriteString(", block: {voice: [im]}")
		}
		if i%5 == 0 {
			y.WriteString(`, clients: {pidgin: ">=2.10"}`)
		}
		fmt.Fprintf(&y, ", weight: %d}\n", 1+r.IntN(3))
	}
	s, clk := newTestServer(t, y.String(), Config{Seed: 3})
	var n diffCounts
	var complaints []string
	h := &harness{s: s}
	installOracle(h, &n)
	var live []pbx.ConnID
	for step := range 20000 {
		clk.Advance(time.Duration(r.IntN(2000)) * time.Millisecond)
		switch x := r.IntN(10); {
		case x < 3:
			k := r.IntN(12)
			in := &Arrival{Media: pbx.Voice, DNIS: fmt.Sprintf("q%d", k), Priority: r.IntN(3)}
			if k%3 == 2 {
				in.Media = pbx.IM
				if r.IntN(3) == 0 {
					in.ClientFamily, in.ClientVersion = "pidgin", "2.14"
				}
			}
			id, err := s.Arrive(in)
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, id)
		case x < 9 && len(live) > 0:
			i := r.IntN(len(live))
			id := live[i]
			switch c := s.Contact(id); {
			case c == nil:
			case c.State == pbx.Ringing && r.IntN(8) == 0:
				_ = s.RejectCall(id, "declined")
			case c.State == pbx.Ringing:
				_ = s.AnswerCall(id)
			default:
				_ = s.ReleaseCall(id)
			}
			if s.Contact(id) == nil {
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
			}
		default:
			a := s.agents[r.IntN(len(s.agents))]
			if a.state == NotReady {
				_ = s.AgentReady(a.ID)
			} else {
				_ = s.AgentNotReady(a.ID, "break")
			}
		}
		if step%50 == 0 {
			s.Status()
			for _, id := range live {
				if c := s.Contact(id); c != nil && c.bucket != nil {
					_, _, _ = s.Position(id)
				}
			}
		}
		if len(h.violations) > 0 {
			complaints = append(complaints, h.violations...)
			break
		}
	}
	if len(complaints) > 0 {
		t.Fatalf("%d differences, the first: %s", len(complaints), complaints[0])
	}
	t.Logf("%d decisions (%d found an agent), %d serving counts, %d positions and %d status counts checked",
		n.picks, n.picked, n.serving, n.positions, n.statuses)
	if n.picked < 1000 || n.picks == n.picked || n.positions < 1000 || n.serving < 1000 || n.statuses < 1000 {
		t.Fatalf("the run did not exercise the indexes: %+v", n)
	}
}
