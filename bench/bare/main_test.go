package main

import (
	"math"
	"testing"
)

// erlangA returns the stationary probability of waiting and the abandonment
// rate of M/M/n+M, from the birth-death chain on the number in system:
// pi_j ∝ a^j/j! for j <= n, then pi_j = pi_{j-1} * lambda/(n*mu + (j-n)*theta).
// The abandonment rate is theta * E[queue length] / lambda.
func erlangA(n int, lambda, mu, theta float64) (pw, abandonRate float64) {
	a := lambda / mu
	// Unnormalized weights, starting from pi_0 = 1.
	w := 1.0
	var total, atLeastN, queueLen float64
	for j := 0; ; j++ {
		if j > 0 {
			if j <= n {
				w *= a / float64(j)
			} else {
				w *= lambda / (float64(n)*mu + float64(j-n)*theta)
			}
		}
		total += w
		if j >= n {
			atLeastN += w
			queueLen += float64(j-n) * w
		}
		if j > n && w < 1e-18*total {
			break
		}
	}
	return atLeastN / total, theta * (queueLen / total) / lambda
}

func TestErlangA(t *testing.T) {
	p := params{
		agents:       5,
		perHour:      60,
		handleMean:   240,
		patienceMean: 60,
		slTarget:     20,
		contacts:     200000,
		seed:         1,
	}
	r := simulate(p)

	if r.Offered != int64(p.contacts) {
		t.Errorf("offered = %d, want %d", r.Offered, p.contacts)
	}
	if r.Answered+r.Abandoned != r.Offered {
		t.Errorf("answered %d + abandoned %d != offered %d", r.Answered, r.Abandoned, r.Offered)
	}

	wantPW, wantAb := erlangA(p.agents, p.perHour/3600, 1/p.handleMean, 1/p.patienceMean)
	t.Logf("pw: sim %.4f, Erlang A %.4f; abandon rate: sim %.4f, Erlang A %.4f", r.PW, wantPW, r.AbandonRate, wantAb)
	if math.Abs(r.PW-wantPW) > 0.02 {
		t.Errorf("pw = %.4f, Erlang A gives %.4f", r.PW, wantPW)
	}
	if math.Abs(r.AbandonRate-wantAb) > 0.02 {
		t.Errorf("abandon_rate = %.4f, Erlang A gives %.4f", r.AbandonRate, wantAb)
	}
	if r.ServiceLevel < 0 || r.ServiceLevel > 1 || r.ASA < 0 {
		t.Errorf("service_level %.4f or asa_s %.4f out of range", r.ServiceLevel, r.ASA)
	}
}

// Without abandonment the model is Erlang C: everyone is answered, and the
// share who wait is C(n, a).
func TestErlangCNoAbandonment(t *testing.T) {
	p := params{agents: 5, perHour: 60, handleMean: 240, slTarget: 20, contacts: 200000, seed: 2}
	r := simulate(p)
	if r.Abandoned != 0 || r.Answered != r.Offered || r.Offered != int64(p.contacts) {
		t.Fatalf("offered %d answered %d abandoned %d", r.Offered, r.Answered, r.Abandoned)
	}
	// Erlang C for n=5, a=4: the theta -> 0 limit of the chain above.
	wantPW, _ := erlangA(p.agents, p.perHour/3600, 1/p.handleMean, 1e-12)
	if math.Abs(r.PW-wantPW) > 0.02 {
		t.Errorf("pw = %.4f, Erlang C gives %.4f", r.PW, wantPW)
	}
}

func TestDeterministic(t *testing.T) {
	p := params{agents: 3, perHour: 100, handleMean: 90, patienceMean: 30, slTarget: 20, contacts: 5000, seed: 7}
	a, b := simulate(p), simulate(p)
	a.Wall, b.Wall = 0, 0
	if a != b {
		t.Errorf("same seed, different results:\n%+v\n%+v", a, b)
	}
}
