package tserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// bmCenter builds a center of nAgents agents and nSkills skills, one queue
// per skill, each agent with 5 random skills at random levels, all ready.
func bmCenter(tb testing.TB, nAgents, nSkills int, strategy string) (*Server, *clock.Virtual) {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("queues:\n")
	for k := 0; k < nSkills; k++ {
		fmt.Fprintf(&b, "  - {name: q%d, skill: s%d, strategy: %s}\n", k, k, strategy)
	}
	b.WriteString("agents:\n")
	for i := 0; i < nAgents; i++ {
		fmt.Fprintf(&b, "  - {id: a%d, skills: {", i)
		for j, k := range r.Perm(nSkills)[:5] {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "s%d: %d", k, 1+r.IntN(10))
		}
		b.WriteString("}}\n")
	}
	f, err := config.Parse("bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	clk := clock.NewVirtual(clock.Epoch)
	s, err := New(f, Config{Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	return s, clk
}

func bmReportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns/decision")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns/decision")
}

// BenchmarkRouteArrival measures the decision made when an interaction
// arrives: pick an agent among 10,000 (200 skills) by the queue's strategy.
// Every offer is then withdrawn (the caller hangs up while ringing), which
// makes the agent ready again; only Arrive is timed per decision.
func BenchmarkRouteArrival(b *testing.B) {
	for _, strategy := range []string{"longest_idle", "highest_skill", "weighted_random"} {
		b.Run(strategy, func(b *testing.B) {
			s, clk := bmCenter(b, 10000, 200, strategy)
			r := rand.New(rand.NewPCG(3, 4))
			in := &Arrival{Media: pbx.Voice}
			names := make([]string, 200)
			for k := range names {
				names[k] = fmt.Sprintf("q%d", k)
			}
			var lat []time.Duration
			for b.Loop() {
				in.DNIS = names[r.IntN(len(names))]
				clk.Advance(time.Second)
				t0 := time.Now()
				id, err := s.Arrive(in)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if c := s.Contact(id); c == nil || c.State != pbx.Ringing {
					b.Fatal("not routed")
				}
				_ = s.ReleaseCall(id)
			}
			bmReportPercentiles(b, lat)
		})
	}
}

// BenchmarkRouteAgentFree measures the other decision: an agent becomes
// ready and takes the best waiting interaction across the queues it
// serves. 200 queues hold 20 waiting interactions each and all 10,000
// agents are not ready; one agent at a time goes ready, takes one, and the
// interaction is put back by a new arrival.
func BenchmarkRouteAgentFree(b *testing.B) {
	s, clk := bmCenter(b, 10000, 200, "longest_idle")
	for _, a := range s.agents {
		if err := s.AgentNotReady(a.ID, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	in := &Arrival{Media: pbx.Voice}
	for k := 0; k < 200; k++ {
		in.DNIS = fmt.Sprintf("q%d", k)
		for j := 0; j < 20; j++ {
			if _, err := s.Arrive(in); err != nil {
				b.Fatal(err)
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	var lat []time.Duration
	for b.Loop() {
		a := s.agents[r.IntN(len(s.agents))]
		clk.Advance(time.Second)
		t0 := time.Now()
		if err := s.AgentReady(a.ID); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if a.offered != 1 {
			b.Fatalf("agent %s took %d", a.ID, a.offered)
		}
		var id pbx.ConnID
		var qname string
		for cid, c := range s.contacts.all() {
			if c.agent == a {
				id, qname = cid, c.queue.name
				break
			}
		}
		if err := s.AgentNotReady(a.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		_ = s.ReleaseCall(id)
		in.DNIS = qname
		if _, err := s.Arrive(in); err != nil {
			b.Fatal(err)
		}
	}
	bmReportPercentiles(b, lat)
}

// mmnModel is the simulator's M/M/n+M day in miniature, on the tserver
// alone: one voice queue, n agents (longest idle), Poisson arrivals that
// load them to 97% with exponential handle times (mean 290 s) and
// exponential patience (mean 120 s). Agents' devices answer at once.
type mmnModel struct {
	s        *Server
	clk      *clock.Virtual
	rng      *rand.Rand
	arrival  Arrival
	meanGap  float64 // seconds
	arrivals int
	arriveFn func(uint64)
	giveUpFn func(uint64)
	hangUpFn func(uint64)
}

const (
	mmnHandle   = 290 * time.Second
	mmnPatience = 120 * time.Second
	mmnLoad     = 0.97
)

func newMMNModel(tb testing.TB, agents int, opts Config) *mmnModel {
	tb.Helper()
	yaml := fmt.Sprintf("queues: [{name: support, media: voice, sl_target: 20s}]\n"+
		"agents: [{group: agent, count: %d, skills: {support: 5}}]\n", agents)
	f, err := config.Parse("mmn.yaml", []byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	m := &mmnModel{
		clk:     clock.NewVirtual(clock.Epoch),
		rng:     rand.New(rand.NewPCG(7, 8)),
		arrival: Arrival{Media: pbx.Voice, DNIS: "support"},
		meanGap: mmnHandle.Seconds() / (mmnLoad * float64(agents)),
	}
	opts.Clock, opts.Endpoints = m.clk, m
	if m.s, err = New(f, opts); err != nil {
		tb.Fatal(err)
	}
	m.arriveFn, m.giveUpFn, m.hangUpFn = m.arrive, m.giveUp, m.hangUp
	m.scheduleArrival()
	return m
}

func (m *mmnModel) scheduleArrival() {
	m.clk.Schedule(time.Duration(m.rng.ExpFloat64()*m.meanGap*float64(time.Second)), m.arriveFn, 0)
}

func (m *mmnModel) arrive(uint64) {
	m.arrivals++
	id, err := m.s.Arrive(&m.arrival)
	if err != nil {
		panic(err)
	}
	m.clk.Schedule(time.Duration(m.rng.ExpFloat64()*float64(mmnPatience)), m.giveUpFn, uint64(id))
	m.scheduleArrival()
}

func (m *mmnModel) giveUp(arg uint64) {
	if c := m.s.Contact(pbx.ConnID(arg)); c != nil && (c.State == pbx.Queued || c.State == pbx.Ringing) {
		_ = m.s.ReleaseCall(c.ID)
	}
}

func (m *mmnModel) hangUp(arg uint64) { _ = m.s.ReleaseCall(pbx.ConnID(arg)) }

func (m *mmnModel) Offer(c *Contact, _ *Agent) {
	handle := time.Duration(m.rng.ExpFloat64() * float64(mmnHandle))
	if err := m.s.AnswerCall(c.ID); err != nil {
		panic(err)
	}
	m.clk.Schedule(handle, m.hangUpFn, uint64(c.ID))
}

func (m *mmnModel) Dial(*Contact, *Agent) {}

// runContacts runs the model until n more customers have arrived.
func (m *mmnModel) runContacts(n int) {
	for end := m.arrivals + n; m.arrivals < end; {
		m.clk.Step()
	}
}

// BenchmarkRoute runs the M/M/n+M model above at 100 to 3,000 agents and
// reports the cost of one customer (its arrival, answer or abandonment,
// and hang-up: about three clock events) in ns/op, and per clock event.
// Before timing, 20 customers per agent bring the center to its steady
// state (a queue, agents mostly busy). Compare with BenchmarkRouteBare,
// the same clock and traffic without the routing domain: an event should
// cost about log(agents), so the ratio should stay flat across sizes.
func BenchmarkRoute(b *testing.B) {
	for _, agents := range []int{100, 300, 1000, 3000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			m := newMMNModel(b, agents, Config{RecycleContacts: true}) // as the simulator
			m.runContacts(20 * agents)
			fired := m.clk.Fired()
			for b.Loop() {
				m.runContacts(1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(m.clk.Fired()-fired), "ns/event")
		})
	}
}

// bareMMN is BenchmarkRoute's baseline: the same clock, traffic and random
// draws, with a free-agent count and a FIFO of waiting customers in place
// of the routing domain.
type bareMMN struct {
	clk      *clock.Virtual
	rng      *rand.Rand
	meanGap  float64
	arrivals int
	free     int
	fifo     []uint64 // waiting customers; abandoned ones are skipped
	waiting  map[uint64]bool
	next     uint64
	arriveFn func(uint64)
	giveUpFn func(uint64)
	hangUpFn func(uint64)
}

func newBareMMN(agents int) *bareMMN {
	m := &bareMMN{
		clk:     clock.NewVirtual(clock.Epoch),
		rng:     rand.New(rand.NewPCG(7, 8)),
		meanGap: mmnHandle.Seconds() / (mmnLoad * float64(agents)),
		free:    agents,
		waiting: map[uint64]bool{},
	}
	m.arriveFn, m.giveUpFn, m.hangUpFn = m.arrive, m.giveUp, m.hangUp
	m.scheduleArrival()
	return m
}

func (m *bareMMN) scheduleArrival() {
	m.clk.Schedule(time.Duration(m.rng.ExpFloat64()*m.meanGap*float64(time.Second)), m.arriveFn, 0)
}

func (m *bareMMN) arrive(uint64) {
	m.arrivals++
	m.next++
	id := m.next
	if m.free > 0 {
		m.free--
		m.answer(id)
	} else {
		m.waiting[id] = true
		m.fifo = append(m.fifo, id)
	}
	m.clk.Schedule(time.Duration(m.rng.ExpFloat64()*float64(mmnPatience)), m.giveUpFn, id)
	m.scheduleArrival()
}

func (m *bareMMN) answer(uint64) {
	m.clk.Schedule(time.Duration(m.rng.ExpFloat64()*float64(mmnHandle)), m.hangUpFn, 0)
}

func (m *bareMMN) giveUp(id uint64) { delete(m.waiting, id) }

func (m *bareMMN) hangUp(uint64) {
	for len(m.fifo) > 0 {
		id := m.fifo[0]
		m.fifo = m.fifo[1:]
		if m.waiting[id] {
			delete(m.waiting, id)
			m.answer(id)
			return
		}
	}
	m.free++
}

func (m *bareMMN) runContacts(n int) {
	for end := m.arrivals + n; m.arrivals < end; {
		m.clk.Step()
	}
}

// BenchmarkRouteBare is BenchmarkRoute's baseline, at the same sizes.
func BenchmarkRouteBare(b *testing.B) {
	for _, agents := range []int{100, 300, 1000, 3000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			m := newBareMMN(agents)
			m.runContacts(20 * agents)
			fired := m.clk.Fired()
			for b.Loop() {
				m.runContacts(1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(m.clk.Fired()-fired), "ns/event")
		})
	}
}

// BenchmarkPosition measures Position in a queue of 1,000 and 10,000
// waiting interactions (two priorities), by order statistics and, as the
// baseline in the same run, by the walk of the queue it replaced.
func BenchmarkPosition(b *testing.B) {
	for _, waiting := range []int{1000, 10000} {
		s, _ := newTestServer(b, "queues: [{name: q, media: voice}]\nagents: [{id: a, skills: {q: 1}, ready: false}]\n", Config{})
		ids := make([]pbx.ConnID, waiting)
		for i := range ids {
			id, err := s.Arrive(&Arrival{Media: pbx.Voice, DNIS: "q", Priority: i % 2})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		r := rand.New(rand.NewPCG(9, 10))
		b.Run(fmt.Sprintf("waiting=%d/ordered", waiting), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.Position(ids[r.IntN(len(ids))]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("waiting=%d/walk", waiting), func(b *testing.B) {
			for b.Loop() {
				oracleAhead(s, s.contacts.get(ids[r.IntN(len(ids))]))
			}
		})
	}
}
