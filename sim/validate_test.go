package sim

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/ccswitch/ccswitch/internal/config"
)

// erlangCase is a single-queue M/M/n(+M) scenario with its analytical
// answer.
type erlangCase struct {
	name     string
	agents   int
	perHour  float64
	handle   float64 // mean, seconds
	patience float64 // mean, seconds; 0 = Erlang C
	sl       float64 // seconds
	hours    float64 // per replication
}

func (c erlangCase) scenario(t *testing.T) *config.File {
	t.Helper()
	patience := ""
	if c.patience > 0 {
		patience = fmt.Sprintf(", patience: {exponential: {mean: %gs}}", c.patience)
	}
	y := fmt.Sprintf(`queues: [{name: q, media: voice, sl_target: %gs}]
agents: [{group: a, count: %d, skills: {q: 5}}]
traffic:
  - {queue: q, arrivals: {poisson: {per_hour: %g}}, handle: {exponential: {mean: %gs}}%s}
run: {duration: %gh, warmup: 2h, replications: 10, seed: 11}
`, c.sl, c.agents, c.perHour, c.handle, patience, c.hours)
	f, err := config.Parse(c.name+".yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (c erlangCase) analytic() (Analytic, error) {
	lambda, mu := c.perHour/3600, 1/c.handle
	if c.patience > 0 {
		return ErlangA(c.agents, lambda, mu, 1/c.patience, c.sl)
	}
	return ErlangC(c.agents, lambda, mu, c.sl)
}

// TestSimMatchesErlang holds `ccswitch sim` against Erlang C (M/M/n) and
// Erlang A (M/M/n+M): every KPI's 95% confidence interval over the
// replications must contain the analytical value, except that in at most
// one case some KPI may miss by less than one half-width. Half-widths must
// also be tight enough that containing the truth means something.
func TestSimMatchesErlang(t *testing.T) {
	if testing.Short() {
		t.Skip("long: simulates about 2 million contacts")
	}
	cases := []erlangCase{
		{name: "erlang-c-30", agents: 30, perHour: 360, handle: 240, sl: 20, hours: 100},
		{name: "erlang-c-8", agents: 8, perHour: 60, handle: 360, sl: 30, hours: 400},
		{name: "erlang-a-30", agents: 30, perHour: 360, handle: 240, patience: 120, sl: 20, hours: 100},
		{name: "erlang-a-110", agents: 110, perHour: 1620, handle: 240, patience: 180, sl: 20, hours: 40},
		{name: "erlang-a-5", agents: 5, perHour: 60, handle: 240, patience: 60, sl: 30, hours: 400},
	}
	casesMissing := 0
	for _, c := range cases {
		want, err := c.analytic()
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), c.scenario(t), Config{})
		if err != nil {
			t.Fatal(err)
		}
		q := res.Queues[0]
		if q.Offered != q.Answered+q.Abandoned+q.WaitingAtEnd {
			t.Errorf("%s: offered %d != answered %d + abandoned %d + waiting at end %d", c.name, q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd)
		}
		kpis := []struct {
			name            string
			sim, half, want float64
			maxHalf         float64 // the interval must be at least this tight
		}{
			{"pw", q.PW, float64(q.CI95.PW), want.PW, 0.03},
			{"asa_s", q.ASA, float64(q.CI95.ASA), want.ASA, math.Max(1, 0.1*want.ASA)},
			{"service_level", q.ServiceLevel, float64(q.CI95.ServiceLevel), want.ServiceLevel, 0.03},
			{"abandon_rate", q.AbandonRate, float64(q.CI95.AbandonRate), want.AbandonRate, 0.01},
			{"occupancy", res.Agents.Occupancy, float64(res.Agents.OccupancyCI95), want.Occupancy, 0.01},
		}
		missed := false
		for _, k := range kpis {
			miss := math.Abs(k.sim-k.want) - k.half
			verdict := "inside"
			if miss > 0 {
				verdict = fmt.Sprintf("MISS by %.2f half-widths", miss/math.Max(k.half, 1e-12))
				missed = true
				if miss >= k.half {
					t.Errorf("%s %s: sim %.5f ±%.5f, analytic %.5f: misses by more than one half-width", c.name, k.name, k.sim, k.half, k.want)
				}
			}
			if k.half > k.maxHalf {
				t.Errorf("%s %s: half-width %.5f wider than %.5f: run longer", c.name, k.name, k.half, k.maxHalf)
			}
			t.Logf("%-13s %-13s sim %10.5f ±%.5f  analytic %10.5f  %s", c.name, k.name, k.sim, k.half, k.want, verdict)
		}
		if missed {
			casesMissing++
		}
	}
	if casesMissing > 1 {
		t.Errorf("%d cases have a KPI outside its 95%% interval; at most one may", casesMissing)
	}
}
