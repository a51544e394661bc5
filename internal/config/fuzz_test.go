package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// an *Error naming the file, and that what it accepts keeps the promises
// the rest of ccswitch relies on.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/center.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		example,
		string(full),
		"",
		"{}",
		"queues: [",
		"queues:\n  - name: support\n   media: voice\n",
		"queues:\n\t- name: x\n",
		"queues: [{name: a, colour: red}]",
		"queues: [{name: a, sl_target: -5s, min_level: 0, strategy: fastest}]",
		"queues: [{name: a, overflow: [{after: 1m, to_queue: b}, {after: 30s}]}, {name: b, media: im}]",
		"agents: [{group: t, count: 99999999, first_number: 9223372036854775807}]",
		"agents: [{id: a, clients: {pidgin: '>=2.x'}, capacity: {fax: -1}}]",
		"base: &b {name: a}\nqueues: [*b]",
		"queues: [&q {name: a}, {<<: *q, name: b}]",
		"a: 1\n---\nb: 2\n",
		"- 1\n- 2\n",
		"traffic: [{queue: a, arrivals: {poisson: {per_hour: .nan}}, handle: {constant: {value: 1e400}}}]",
		// The traffic models.
		"queues: [{name: a}, {name: b}]\nrun: {duration: 24h}\ntraffic:\n  - queue: a\n    arrivals:\n      forecast: {interval: 15m, intervals: [{start: \"08:00\", per_hour: 10}, {start: \"08:15\", per_hour: 0}]}\n      overdispersion: {cv: 0.2}\n    handle: {lognormal: {mean: 3m, sd: 1m}}\n    patience: {gamma: {mean: 1m, sd: 2m}}\n    retrial: {probability: 0.3, delay: {erlang: {mean: 10m, k: 2}}}\n    transfers: [{to_queue: b, probability: 0.2, handle: {empirical: {values: [1m, 2m]}}}]\n",
		"queues: [{name: a}]\nrun: {duration: 24h}\ntraffic: [{queue: a, arrivals: {forecast: {intervals: [{start: \"08:00\", per_hour: 5}, {start: \"09:00\", per_hour: 5}]}}, handle: {constant: {value: 1m}}}]",
		"queues: [{name: a}]\nrun: {duration: 24h}\ntraffic: [{queue: a, arrivals: {forecast: {file: testdata/forecast.csv, column: support}}, handle: {empirical: {file: testdata/handle-times.csv, column: seconds}}}]",
		"queues: [{name: a}]\nrun: {duration: 24h}\ntraffic: [{queue: a, arrivals: {forecast: {file: /dev/zero}}, handle: {erlang: {mean: 1m, k: 0}}}]",
		"queues: [{name: a}]\nrun: {duration: 24h}\ntraffic: [{queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {gamma: {mean: 1m}}, transfers: [{to_queue: a, probability: 2}]}]",
		"queues: [{name: a}]\nagents: [{group: g, count: 2, skills: {a: 1}}]\nrun: {duration: 24h}\ntraffic: [{queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}}]\nschedule: [{group: g, shifts: [{start: \"08:00\", end: \"12:00\", breaks: [{start: \"10:00\", length: 15m}]}, {start: \"11:00\", end: \"13:00\"}], absenteeism: 0.1, not_ready: {every: {constant: {value: 1h}}, length: {constant: {value: 5m}}}}]",
		// Callbacks.
		"queues: [{name: a, callback_queue: b}, {name: b, media: callback}]\nrun: {duration: 8h}\ntraffic:\n  - queue: a\n    arrivals: {poisson: {per_hour: 60}}\n    handle: {constant: {value: 3m}}\n    callback:\n      offer_after_ewt: 2m\n      accept: 0.3\n      mode: customer_first\n      reach: {answered: 0.7, busy: 0.1, no_answer: 0.15, unreachable: 0.05}\n      presence: {online: {share: 0.5, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}, away: {share: 0.2}, offline: {share: 0.2}, dnd: {share: 0.1}}\n      ring: {exponential: {mean: 20s}}\n      preferences: {online: [sip, phone], away: [phone], offline: [], max_attempts: 4, pause: 7m, hours: {zone: Europe/Paris, windows: [{from: \"08:00\", to: \"20:00\"}]}}\n",
		"queues: [{name: a}, {name: b, media: callback}]\ntraffic: [{queue: b, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}, callback: {accept: 2, mode: x, reach: {answered: .nan, busy: -1}, presence: {dnd: {share: 1, reach: {answered: 1}}}, ring: {constant: {value: 1h}}, preferences: {online: [fax, fax], pause: -1s}}}]",
		"queues: [{name: a, callback_queue: b}, {name: b, media: callback}]\ntraffic: [{queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}, callback: {accept: 1, reach: {answered: 0.5, busy: 0.5}, presence: {}}}, {queue: b, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}}]",
		// Chats.
		"queues: [{name: c, media: im}]\nrun: {duration: 8h}\ntraffic:\n  - queue: c\n    arrivals: {poisson: {per_hour: 30}}\n    patience: {exponential: {mean: 5m}}\n    chat:\n      exchanges: {geometric: {mean: 5}}\n      customer_think: {exponential: {mean: 40s}}\n      agent_think: {lognormal: {mean: 30s, sd: 20s}}\n      concurrency_slowdown: 0.25\n      bot: {constant: {value: 45s}}\n",
		"queues: [{name: c, media: im}, {name: v}]\ntraffic: [{queue: c, arrivals: {poisson: {per_hour: 1}}, chat: {exchanges: {empirical: {values: [1, 0]}, poisson: {mean: .nan}}, agent_think: {constant: {value: 1s}}, concurrency_slowdown: -1}}, {queue: v, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}, chat: {exchanges: 1e9, customer_think: {}}}]",
		"queues: [{name: c, media: im}]\ntraffic: [{queue: c, arrivals: {poisson: {per_hour: 1}}, chat: {exchanges: {geometric: {mean: 2, x: 1}, poisson: [1]}, customer_think: {constant: {value: 1s}}, agent_think: {constant: {value: 1s}}}}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Errorf("Parse returned a File with an error")
			}
			for _, e := range errorsOf(t, err) {
				if e.File != "fuzz.yaml" || !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Errorf("error %q does not name the file", e)
				}
			}
			return
		}
		if file.Path != "fuzz.yaml" {
			t.Errorf("Path = %q", file.Path)
		}
		for _, q := range file.Queues {
			if !slices.Contains(strategies, q.Strategy) || !slices.Contains(medias, q.Media) ||
				q.MinLevel < minLevel || q.MinLevel > maxLevel || q.Skill == "" {
				t.Errorf("accepted queue %+v", q)
			}
		}
		agents := file.ExpandAgents()
		if len(agents) > maxAgents {
			t.Errorf("accepted %d agents", len(agents))
		}
		for i := range file.Traffic {
			checkAcceptedTraffic(t, &file.Traffic[i])
		}
		for _, sc := range file.Schedule {
			for k, sh := range sc.Shifts {
				if sh.End <= sh.Start || sh.End.D() > day || k > 0 && sh.Start < sc.Shifts[k-1].End {
					t.Errorf("accepted shifts %+v", sc.Shifts)
				}
			}
			if !(sc.Absenteeism >= 0 && sc.Absenteeism < 1) {
				t.Errorf("accepted absenteeism %v", sc.Absenteeism)
			}
		}
		ids := make(map[string]bool, len(agents))
		for i, a := range agents {
			if ids[a.ID] || a.Order != i || a.Weight < 1 || len(a.Capacity) != len(medias) {
				t.Errorf("accepted agent %+v", a)
			}
			ids[a.ID] = true
		}
	})
}

// checkAcceptedTraffic checks the promises the simulator relies on for a
// traffic line that Parse accepted.
func checkAcceptedTraffic(t *testing.T, tr *Traffic) {
	t.Helper()
	a := &tr.Arrivals
	switch {
	case (a.Poisson == nil) == (a.Forecast == nil):
		t.Errorf("accepted arrivals %+v", a)
	case a.Poisson != nil && !(a.Poisson.PerHour > 0 && a.Poisson.PerHour <= maxPerHour):
		t.Errorf("accepted rate %v", a.Poisson.PerHour)
	case a.Forecast != nil:
		fc := a.Forecast
		iv := fc.Interval.D()
		positive := false
		for k, r := range fc.Intervals {
			if r.Start.D() != fc.Intervals[0].Start.D()+time.Duration(k)*iv || r.Start.D()+iv > day ||
				!(r.PerHour >= 0 && r.PerHour <= maxPerHour) {
				t.Errorf("accepted forecast %+v", fc)
			}
			positive = positive || r.PerHour > 0
		}
		if iv < minForecastInterval || day%iv != 0 || !positive {
			t.Errorf("accepted forecast %+v", fc)
		}
	}
	if o := a.Overdispersion; o != nil && !(o.CV > 0 && o.CV <= maxCV) {
		t.Errorf("accepted overdispersion %v", o.CV)
	}
	if tr.MeanHandle() <= 0 {
		t.Errorf("accepted handle %+v", tr.Handle)
	}
	dists := []*Distribution{tr.Patience}
	if c := tr.Chat; c != nil {
		checkAcceptedChatModel(t, tr)
		dists = append(dists, c.CustomerThink, c.AgentThink, c.Bot)
	} else {
		dists = append(dists, &tr.Handle)
	}
	if m := tr.Callback; m != nil {
		checkAcceptedCallbackModel(t, m)
		dists = append(dists, m.Ring)
	}
	if tr.Retrial != nil {
		dists = append(dists, &tr.Retrial.Delay)
	}
	var sum float64
	for _, x := range tr.Transfers {
		sum += x.Probability
		dists = append(dists, x.Handle)
	}
	if sum > 1+1e-9 {
		t.Errorf("accepted transfers adding up to %v", sum)
	}
	for _, d := range dists {
		if d == nil {
			continue
		}
		if (d.LogNormal != nil && d.LogNormal.SD <= 0) || (d.Gamma != nil && d.Gamma.SD <= 0) ||
			(d.Erlang != nil && d.Erlang.K < 1) || (d.Empirical != nil && len(d.Empirical.Values) == 0) || d.Mean() <= 0 {
			t.Errorf("accepted distribution %+v", d)
		}
	}
}

// checkAcceptedCallbackModel checks the promises the simulator relies on
// for a callback model that Parse accepted.
func checkAcceptedCallbackModel(t *testing.T, m *CallbackModel) {
	t.Helper()
	reachOK := func(r *Reach) bool {
		sum := r.Answered + r.Busy + r.NoAnswer + r.Unreachable
		return r.Answered >= 0 && r.Busy >= 0 && r.NoAnswer >= 0 && r.Unreachable >= 0 && sum > 1-1e-5 && sum < 1+1e-5
	}
	if !(m.Accept > 0 && m.Accept <= 1) || m.OfferAfterEWT < 0 || (m.Mode != CallbackAgentFirst && m.Mode != CallbackCustomerFirst) ||
		m.Reach == nil || !reachOK(m.Reach) || m.Preferences == nil || m.Preferences.MaxAttempts < 1 || m.Preferences.Pause < 0 ||
		(m.Ring != nil && m.Ring.Mean() >= callbackAttemptTimeout) {
		t.Errorf("accepted callback model %+v", m)
	}
	if p := m.Presence; p != nil {
		sum := 0.0
		for _, s := range []*PresenceShare{p.Online, p.Away, p.Offline, p.DND} {
			if s == nil {
				continue
			}
			sum += s.Share
			if s.Share < 0 || (s.Reach != nil && !reachOK(s.Reach)) {
				t.Errorf("accepted presence %+v", s)
			}
		}
		if sum < 1-1e-5 || sum > 1+1e-5 || (p.DND != nil && p.DND.Reach != nil) {
			t.Errorf("accepted presence shares adding up to %v", sum)
		}
	}
}

// checkAcceptedChatModel checks the promises the simulator relies on for a
// chat model that Parse accepted.
func checkAcceptedChatModel(t *testing.T, tr *Traffic) {
	t.Helper()
	c := tr.Chat
	n := &c.Exchanges
	kinds, ok := 0, true
	if n.scalar {
		kinds++
		ok = ok && n.Value >= 1 && n.Value <= maxExchanges
	}
	for _, m := range []*CountMean{n.Geometric, n.Poisson} {
		if m != nil {
			kinds++
			ok = ok && m.Mean >= 1 && m.Mean <= maxExchanges
		}
	}
	if n.Empirical != nil {
		kinds++
		ok = ok && len(n.Empirical.Values) > 0
		for _, v := range n.Empirical.Values {
			ok = ok && v >= 1 && v <= maxExchanges
		}
	}
	if kinds != 1 || !ok || tr.Media != "im" || tr.Handle != (Distribution{}) || c.CustomerThink == nil || c.AgentThink == nil ||
		!(c.ConcurrencySlowdown >= 0 && c.ConcurrencySlowdown <= maxSlowdown) {
		t.Errorf("accepted chat model %+v", c)
	}
}
