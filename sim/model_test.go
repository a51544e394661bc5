package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver"
)

func mustParse(t *testing.T, y string) *config.File {
	t.Helper()
	f, err := config.Parse("scenario.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sameJSONAtWorkers runs f with cfg at each number of workers and fails
// t unless the JSON of pick(result) is the same bytes every time; it
// returns those bytes.
func sameJSONAtWorkers(t *testing.T, f *config.File, cfg Config, pick func(*Result) any, workers ...int) []byte {
	t.Helper()
	var first []byte
	for _, par := range workers {
		cfg.Parallel = par
		res, err := Run(context.Background(), f, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(pick(res))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("different bytes at %d workers:\n%.400s\n%.400s", par, first, b)
		}
	}
	return first
}

// wholeResult picks the whole result for sameJSONAtWorkers.
func wholeResult(r *Result) any { return r }

// replications runs f's replications one by one, as Run does, and returns
// each one's figures.
func replications(t *testing.T, f *config.File, observe func(int, *tserver.Server)) []replication {
	t.Helper()
	var out []replication
	for r := range f.Run.Replications {
		rep, err := runReplication(context.Background(), f, r, replicationSeed(f.Run.Seed, r), observe)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rep)
	}
	return out
}

// within checks that the mean of xs is within its 95% confidence interval
// of want, and logs it.
func within(t *testing.T, what string, xs []float64, want float64) {
	t.Helper()
	mean, half := MeanCI95(xs)
	if math.Abs(mean-want) > half {
		t.Errorf("%s: %.5f ±%.5f does not contain %.5f", what, mean, half, want)
	}
	t.Logf("%s: %.5f ±%.5f (want %.5f)", what, mean, half, want)
}

// identityCenter has two voice queues sharing agents, one fed through a
// route point, an overflow from one to the other, exponential patience and
// a near-critical load, with lognormal and gamma handle times.
const identityCenter = `
queues:
  - {name: sales, overflow: [{after: 40s, to_queue: service}]}
  - {name: service}
route_points: [{number: "5000", queue: sales}]
agents:
  - {group: s, count: 6, skills: {sales: 5}}
  - {group: x, count: 8, skills: {sales: 2, service: 5}, wrap_up: 10s}
traffic:
  - {route_point: "5000", arrivals: {poisson: {per_hour: 75}}, handle: {lognormal: {mean: 5m, sd: 3m}},
     patience: {exponential: {mean: 90s}}}
  - {queue: service, arrivals: {poisson: {per_hour: 90}}, handle: {gamma: {mean: 4m, sd: 2m}},
     patience: {exponential: {mean: 90s}}}
run: {duration: 80h, warmup: 1h, replications: 12, seed: 3}
`

// TestFlowBalanceLittleAndAbandonments holds every replication to three
// identities: per queue, offered = answered + abandoned + waiting at the
// end (exactly); Little's law, mean queue length = arrival rate × mean wait
// (within the confidence interval over replications); and, patience being
// exponential of rate θ, abandonments = θ × the time-integral of the queue
// length (within the interval).
func TestFlowBalanceLittleAndAbandonments(t *testing.T) {
	f := mustParse(t, identityCenter)
	reps := replications(t, f, nil)
	measured := (f.Run.Duration.D() - f.Run.Warmup.D()).Seconds()
	theta := 1 / 90.0
	for qi, q := range f.Queues {
		var little, abandons []float64
		var waited int64
		for r, rep := range reps {
			o := rep.queues[qi]
			if o.offered != o.answered+o.abandoned+o.waitingAtEnd {
				t.Errorf("%s replication %d: offered %d != answered %d + abandoned %d + waiting at end %d",
					q.Name, r, o.offered, o.answered, o.abandoned, o.waitingAtEnd)
			}
			waited += o.abandoned
			length := o.queueArea / measured
			rate := float64(o.offered) / measured
			wait := (o.waitAnswered + o.waitAbandoned + o.waitAtEnd).Seconds() / float64(o.offered)
			little = append(little, length-rate*wait)
			abandons = append(abandons, float64(o.abandoned)-theta*o.queueArea)
		}
		if waited < 1000 {
			t.Fatalf("%s: only %d abandoned over the run: the identities test nothing", q.Name, waited)
		}
		t.Logf("%s: %d abandoned", q.Name, waited)
		within(t, q.Name+": queue length - rate × wait", little, 0)
		within(t, q.Name+": abandoned - θ × ∫queue length", abandons, 0)
	}
}

// TestLittleCatchesAWrongQueueLength: the same check fails on a queue
// length measured wrong (10% short), so the identity has power.
func TestLittleCatchesAWrongQueueLength(t *testing.T) {
	f := mustParse(t, identityCenter)
	reps := replications(t, f, nil)
	measured := (f.Run.Duration.D() - f.Run.Warmup.D()).Seconds()
	var little []float64
	for _, rep := range reps {
		o := rep.queues[1]
		wait := (o.waitAnswered + o.waitAbandoned + o.waitAtEnd).Seconds() / float64(o.offered)
		little = append(little, 0.9*o.queueArea/measured-float64(o.offered)/measured*wait)
	}
	if mean, half := MeanCI95(little); math.Abs(mean) <= half {
		t.Fatalf("a queue length 10%% short passes Little's law: %.5f ±%.5f", mean, half)
	}
}

// TestRetrials: customers of a queue no agent can keep up with abandon,
// and each comes back with probability p after an exponential delay: the
// share of abandoned who return is p, and the delays follow the
// distribution (Kolmogorov–Smirnov).
func TestRetrials(t *testing.T) {
	const p, delay = 0.35, 300.0
	f := mustParse(t, `
queues: [{name: q}]
agents: [{group: a, count: 3, skills: {q: 5}}]
traffic:
  - {queue: q, arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 240s}},
     patience: {constant: {value: 45s}}, retrial: {probability: 0.35, delay: {exponential: {mean: 5m}}}}
run: {duration: 200h, warmup: 0s, replications: 1, seed: 5}
`)
	abandonedAt := map[uint64]time.Duration{}
	var gaps []float64
	var retrials int
	observe := func(_ int, srv *tserver.Server) {
		srv.Subscribe(func(e tserver.Event) {
			at := e.Time.Sub(clock.Epoch)
			switch {
			case e.Type == tserver.EventAbandoned:
				abandonedAt[uint64(e.ConnID)] = at
			case e.Type == tserver.EventQueued && strings.HasPrefix(e.ANI, "retrial-of-"):
				retrials++
				of, _ := strconv.ParseUint(strings.TrimPrefix(e.ANI, "retrial-of-"), 10, 64)
				gone, ok := abandonedAt[of]
				if !ok {
					t.Errorf("%s comes back without having abandoned", e.ANI)
					return
				}
				gaps = append(gaps, (at - gone).Seconds())
			}
		})
	}
	reps := replications(t, f, observe)
	// Abandons too close to the end could not come back within the run.
	end := f.Run.Duration.D()
	eligible := 0
	for _, at := range abandonedAt {
		if at < end-time.Duration(12*delay)*time.Second {
			eligible++
		}
	}
	n := float64(eligible)
	share := float64(len(gaps)) / n
	if sd := math.Sqrt(p * (1 - p) / n); math.Abs(share-p) > 4*sd+float64(len(abandonedAt)-eligible)/n {
		t.Errorf("%d of %d abandoned came back (%.4f), want %.2f ± %.4f", len(gaps), eligible, share, p, 4*sd)
	}
	if got := reps[0].queues[0].retrials; got != int64(retrials) {
		t.Errorf("result counts %d retrials, the events %d", got, retrials)
	}
	slices.Sort(gaps)
	d := ksDistance(gaps, func(x float64) float64 { return 1 - math.Exp(-x/delay) })
	if crit := ksCritical(float64(len(gaps))); d > crit {
		t.Errorf("retrial delays: KS %.4f > %.4f against exponential(%gs)", d, crit, delay)
	}
	if len(gaps) < 2000 {
		t.Errorf("only %d retrials: the test says little", len(gaps))
	}
	t.Logf("%d abandoned, %d came back (share %.4f), KS %.4f", eligible, len(gaps), share, d)
}

// TestTransfers: a share p of the interactions handled in one queue are
// transferred to another, handled there for the transfer's handle time,
// and counted there as offered.
func TestTransfers(t *testing.T) {
	const p = 0.3
	f := mustParse(t, `
queues: [{name: front}, {name: expert}]
agents:
  - {group: f, count: 12, skills: {front: 5}}
  - {group: e, count: 5, skills: {expert: 5}}
traffic:
  - {queue: front, arrivals: {poisson: {per_hour: 120}}, handle: {exponential: {mean: 4m}},
     patience: {exponential: {mean: 3m}}, transfers: [{to_queue: expert, probability: 0.3, handle: {constant: {value: 5m}}}]}
run: {duration: 100h, warmup: 0s, replications: 4, seed: 8}
`)
	var servers []*tserver.Server
	reps := replications(t, f, func(_ int, srv *tserver.Server) { servers = append(servers, srv) })
	var handled, moved int64
	for r, rep := range reps {
		front, expert := rep.queues[0], rep.queues[1]
		st, _ := servers[r].QueueStats("front")
		handled += st.Handled
		moved += expert.transferredIn
		if expert.offered != expert.transferredIn {
			t.Errorf("expert offered %d, transferred in %d: it has no other traffic", expert.offered, expert.transferredIn)
		}
		for _, o := range []queueOutcome{front, expert} {
			if o.offered != o.answered+o.abandoned+o.waitingAtEnd {
				t.Errorf("flow balance: %+v", o)
			}
		}
		ex, _ := servers[r].QueueStats("expert")
		if ex.Handled == 0 || ex.HandleTime != time.Duration(ex.Handled)*5*time.Minute {
			t.Errorf("expert handled %d in %v: want 5m each", ex.Handled, ex.HandleTime)
		}
	}
	share := float64(moved) / float64(handled)
	if sd := math.Sqrt(p * (1 - p) / float64(handled)); math.Abs(share-p) > 4*sd {
		t.Errorf("%d of %d handled were transferred (%.4f), want %.2f ± %.4f", moved, handled, share, p, 4*sd)
	}
	t.Logf("%d of %d handled at front transferred to expert (%.4f)", moved, handled, share)
}

// dayCenter uses every traffic model at once.
const dayCenter = `
queues: [{name: voice}, {name: chat, media: im}, {name: back}]
agents:
  - {group: v, count: 14, skills: {voice: 5, back: 3}, wrap_up: 20s}
  - {group: c, count: 4, skills: {chat: 5}, capacity: {im: 3}}
traffic:
  - queue: voice
    arrivals:
      forecast: {interval: 30m, intervals: [{start: "08:00", per_hour: 60}, {start: "08:30", per_hour: 150},
                 {start: "09:00", per_hour: 200}, {start: "09:30", per_hour: 120}]}
      overdispersion: {cv: 0.1}
    handle: {lognormal: {mean: 4m, sd: 2m}}
    patience: {exponential: {mean: 2m}}
    retrial: {probability: 0.5, delay: {constant: {value: 10m}}}
    transfers: [{to_queue: back, probability: 0.1}]
  - {queue: chat, arrivals: {poisson: {per_hour: 40}}, handle: {erlang: {mean: 6m, k: 3}},
     patience: {empirical: {values: [1m, 5m, 10m]}}}
schedule:
  - {group: c, shifts: [{start: "06:00", end: "22:00", breaks: [{start: "12:00", length: 30m}]}], absenteeism: 0.2,
     not_ready: {every: {exponential: {mean: 1h}}, length: {gamma: {mean: 5m, sd: 2m}}}}
run: {duration: 36h, warmup: 0s, replications: 5, seed: 21}
`

// TestSameBytesAtAnyParallelism: the same seed gives byte-identical JSON
// with one worker or two, with every traffic model in use.
func TestSameBytesAtAnyParallelism(t *testing.T) {
	f := mustParse(t, dayCenter)
	out := sameJSONAtWorkers(t, f, Config{}, wholeResult, 1, 2, 5)
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Queues[0].Retrials == 0 || r.Queues[2].TransferredIn == 0 || r.Queues[1].Answered == 0 {
		t.Errorf("the models did not all act: %+v", r.Queues)
	}
	f.Run.Seed++
	other, err := Run(context.Background(), f, Config{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(other); bytes.Equal(b, out) {
		t.Fatal("another seed gave the same bytes")
	}
}

// TestWarnings: a queue whose skill nobody has, a queue whose only agents
// have no capacity for its media, and an overloaded queue whose customers
// never abandon are each reported; Strict makes them an error.
func TestWarnings(t *testing.T) {
	f := mustParse(t, `
queues: [{name: nobody}, {name: chat, media: im}, {name: busy}, {name: fine}]
agents:
  - {group: a, count: 2, skills: {chat: 5, busy: 5}, capacity: {im: 0}}
  - {group: b, count: 5, skills: {fine: 5}}
traffic:
  - {queue: nobody, arrivals: {poisson: {per_hour: 10}}, handle: {exponential: {mean: 1m}}}
  - {queue: chat, arrivals: {poisson: {per_hour: 10}}, handle: {exponential: {mean: 1m}}, patience: {constant: {value: 1m}}}
  - {queue: busy, arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 3m}}}
  - {queue: fine, arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 3m}}}
run: {duration: 10h, replications: 2, seed: 1}
`)
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`queue "nobody": no agent serves it`, `queue "chat": no agent serves it`, `queue "busy": unstable`,
		`queue "nobody": `, `queue "busy": `}
	all := strings.Join(res.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
	if strings.Contains(all, `"fine"`) {
		t.Errorf("a healthy queue warned about:\n%s", all)
	}
	q := res.Queues[0]
	if q.Answered != 0 || q.WaitingAtEnd == 0 || q.Offered != q.WaitingAtEnd {
		t.Errorf("unserved queue: %+v", q)
	}
	if _, err := Run(context.Background(), f, Config{Strict: true}); !errors.Is(err, ErrWarnings) {
		t.Fatalf("strict: %v", err)
	}
}

// TestNoWarningsOnTheDemoCenter: the example is healthy.
func TestNoWarningsOnTheDemoCenter(t *testing.T) {
	f, err := config.Load("../examples/demo-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Run.Replications = 2
	res, err := Run(context.Background(), f, Config{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Fatal(res.Warnings)
	}
}

// TestOverloadReportsWhoStillWaits: an overloaded queue without
// abandonment stops at the end of the run: the waits reported are those
// of the answered, bounded by the run, and the rest are waiting at the end.
func TestOverloadReportsWhoStillWaits(t *testing.T) {
	f := mustParse(t, `
queues: [{name: q}]
agents: [{group: a, count: 5, skills: {q: 5}}]
traffic: [{queue: q, arrivals: {poisson: {per_hour: 120}}, handle: {exponential: {mean: 3m}}}]
run: {duration: 20h, warmup: 1h, replications: 1, seed: 2}
`)
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	q := res.Queues[0]
	if q.WaitingAtEnd < q.Offered/10 || q.Offered != q.Answered+q.Abandoned+q.WaitingAtEnd {
		t.Errorf("offered %d answered %d abandoned %d waiting at end %d", q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd)
	}
	if q.ASA > res.Duration-res.Warmup {
		t.Errorf("ASA %.0f s is longer than the run", q.ASA)
	}
	if len(res.Warnings) < 2 || !strings.Contains(strings.Join(res.Warnings, "\n"), "still waiting at the end") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// TestOneReplicationHasNoInterval: with one replication every half-width
// is unknown: null in JSON, n/a in text, never ±0.
func TestOneReplicationHasNoInterval(t *testing.T) {
	f := mustParse(t, `
queues: [{name: q}]
agents: [{group: a, count: 5, skills: {q: 5}}]
traffic: [{queue: q, arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 3m}}, patience: {exponential: {mean: 1m}}}]
run: {duration: 5h, replications: 1, seed: 2}
`)
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"ci95":{"pw":null,"asa_s":null,"service_level":null,"abandon_rate":null,"queue_length":null}`, `"occupancy_ci95":null`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("JSON lacks %s:\n%s", s, b)
		}
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "±n/a") || strings.Contains(text.String(), "±0.0") {
		t.Errorf("text:\n%s", text.String())
	}

	f.Run.Replications = 3
	res, err = Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Queues[0].CI95.PW.Known() || float64(res.Queues[0].CI95.PW) <= 0 {
		t.Errorf("three replications: half-width %v", res.Queues[0].CI95.PW)
	}
}

// TestRetailDayExample: the example of a day runs clean (no warning, in
// strict mode), its every model acts, and its queues balance.
func TestRetailDayExample(t *testing.T) {
	f, err := config.Load("../examples/retail-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Run.Replications = 4
	res, err := Run(context.Background(), f, Config{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	orders, returns, chat := res.Queues[0], res.Queues[1], res.Queues[2]
	if orders.Retrials == 0 || returns.TransferredIn == 0 || chat.Answered == 0 {
		t.Errorf("a model did not act: %+v", res.Queues)
	}
	for _, q := range res.Queues {
		if q.Offered != q.Answered+q.Abandoned+q.WaitingAtEnd || q.ServiceLevel < 0.5 {
			t.Errorf("queue %+v", q)
		}
	}
}
