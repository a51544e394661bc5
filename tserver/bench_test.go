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
		for cid, c := range s.contacts {
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
