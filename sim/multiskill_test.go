package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// twoSkillScenario is two symmetric queues A and B (360 calls an hour
// each, exponential handle time 240 s: 24 erlangs each) served by
// dedicated agents of A only and of B only, and cross-trained agents of
// both, at equal levels.
func twoSkillScenario(t *testing.T, onlyA, onlyB, both int) *config.File {
	t.Helper()
	var agents string
	for _, g := range []struct {
		name   string
		n      int
		skills string
	}{{"a", onlyA, "{qa: 5}"}, {"b", onlyB, "{qb: 5}"}, {"ab", both, "{qa: 5, qb: 5}"}} {
		if g.n > 0 {
			agents += fmt.Sprintf("  - {group: %s, count: %d, skills: %s}\n", g.name, g.n, g.skills)
		}
	}
	y := `queues: [{name: qa, media: voice, sl_target: 20s}, {name: qb, media: voice, sl_target: 20s}]
agents:
` + agents + `traffic:
  - {queue: qa, arrivals: {poisson: {per_hour: 360}}, handle: {exponential: {mean: 240s}}}
  - {queue: qb, arrivals: {poisson: {per_hour: 360}}, handle: {exponential: {mean: 240s}}}
run: {duration: 400h, warmup: 2h, replications: 10, seed: 5}
`
	f, err := config.Parse("two-skill.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pooled is the offered-weighted mean of the two queues' P(wait) and ASA,
// with half-widths of the same weights (a conservative bound: the two
// queues' estimates are not independent).
func pooled(r *Result) (pw, pwHalf, asa, asaHalf float64) {
	var offered float64
	for _, q := range r.Queues {
		w := float64(q.Offered)
		offered += w
		pw += w * q.PW
		pwHalf += w * float64(q.CI95.PW)
		asa += w * q.ASA
		asaHalf += w * float64(q.CI95.ASA)
	}
	return pw / offered, pwHalf / offered, asa / offered, asaHalf / offered
}

// TestMultiSkillWithinExactBounds: cross-training sits between its exact
// bounds. Two queues of 24 erlangs each: split into 26 dedicated agents
// per queue, the center is two Erlang C systems M/M/26; fully pooled it
// is one M/M/52 with twice the traffic. A center of 20 + 20 dedicated and
// 12 cross-trained agents must wait less than the split and more than
// the pool; a fully cross-trained one (52 agents with both skills, equal
// handle times) is the pool: its P(wait) and ASA match Erlang C(52)
// within their intervals.
func TestMultiSkillWithinExactBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("long: simulates about 2.5 million contacts")
	}
	lambda, mu := 360.0/3600, 1.0/240
	split, err := ErlangC(26, lambda, mu, 20)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := ErlangC(52, 2*lambda, mu, 20)
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, onlyA, onlyB, both int) *Result {
		res, err := Run(context.Background(), twoSkillScenario(t, onlyA, onlyB, both), Config{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, q := range res.Queues {
			if q.Offered != q.Answered+q.Abandoned+q.WaitingAtEnd {
				t.Errorf("%s %s: offered %d != answered %d + abandoned %d + waiting %d", name, q.Name, q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd)
			}
		}
		return res
	}

	// The split reproduces Erlang C(26) per queue (the simulator's own check).
	pw, pwHalf, asa, asaHalf := pooled(run("split", 26, 26, 0))
	t.Logf("split   P(wait) %.4f ±%.4f (Erlang C(26) %.4f)  ASA %.2f ±%.2f (%.2f)", pw, pwHalf, split.PW, asa, asaHalf, split.ASA)
	if math.Abs(pw-split.PW) > pwHalf || math.Abs(asa-split.ASA) > asaHalf {
		t.Errorf("the dedicated split is off Erlang C(26): P(wait) %.4f ±%.4f vs %.4f, ASA %.2f ±%.2f vs %.2f", pw, pwHalf, split.PW, asa, asaHalf, split.ASA)
	}

	pw, pwHalf, asa, asaHalf = pooled(run("partial", 20, 20, 12))
	t.Logf("partial P(wait) %.4f ±%.4f  ASA %.2f ±%.2f  (bounds: pool %.4f / %.2f, split %.4f / %.2f)", pw, pwHalf, asa, asaHalf, pool.PW, pool.ASA, split.PW, split.ASA)
	if !(pw+pwHalf < split.PW && pw-pwHalf > pool.PW) {
		t.Errorf("partial cross-training P(wait) %.4f ±%.4f is not strictly between the pool %.4f and the split %.4f", pw, pwHalf, pool.PW, split.PW)
	}
	if !(asa+asaHalf < split.ASA && asa-asaHalf > pool.ASA) {
		t.Errorf("partial cross-training ASA %.2f ±%.2f is not strictly between the pool %.2f and the split %.2f", asa, asaHalf, pool.ASA, split.ASA)
	}

	pw, pwHalf, asa, asaHalf = pooled(run("full", 0, 0, 52))
	t.Logf("full    P(wait) %.4f ±%.4f (Erlang C(52) %.4f)  ASA %.2f ±%.2f (%.2f)", pw, pwHalf, pool.PW, asa, asaHalf, pool.ASA)
	if math.Abs(pw-pool.PW) > pwHalf || math.Abs(asa-pool.ASA) > asaHalf {
		t.Errorf("full cross-training is off the pooled Erlang C(52): P(wait) %.4f ±%.4f vs %.4f, ASA %.2f ±%.2f vs %.2f", pw, pwHalf, pool.PW, asa, asaHalf, pool.ASA)
	}
}

// TestNModelExample: examples/n-model.yaml runs clean in strict mode, and
// the cross-trained sales agents help support at sales' expense: without
// their support skill, support waits longer and sales less.
func TestNModelExample(t *testing.T) {
	f, err := config.Load("../examples/n-model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Run.Replications, f.Run.Duration = 4, config.Duration(40*time.Hour)
	cross, err := Run(context.Background(), f, Config{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Agents[0].Skills, "support")
	dedicated, err := Run(context.Background(), f, Config{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	sales, support := 0, 1
	if !(cross.Queues[support].ASA < dedicated.Queues[support].ASA && cross.Queues[sales].ASA > dedicated.Queues[sales].ASA) {
		t.Errorf("support ASA %.2f (cross-trained) vs %.2f (dedicated), sales %.2f vs %.2f: want cross-training to help support and cost sales",
			cross.Queues[support].ASA, dedicated.Queues[support].ASA, cross.Queues[sales].ASA, dedicated.Queues[sales].ASA)
	}
}
