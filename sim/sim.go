// Package sim simulates a contact center by driving the real routing
// domain (switch and tserver) on a virtual clock: generators of customers
// and agent behaviour feed the same code the live switch runs, millions of
// events a second, deterministically for a given scenario and seed. It
// reports KPIs with confidence intervals over independent replications, and
// holds the analytical Erlang C and Erlang A models the simulator is
// validated against.
package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Result is what `ccswitch sim --json` prints.
type Result struct {
	Queues       []QueueResult `json:"queues"`
	Agents       AgentResult   `json:"agents"`
	Replications int           `json:"replications"`
	// Events is the number of clock events processed over all
	// replications.
	Events   uint64  `json:"events"`
	Seed     uint64  `json:"seed"`
	Duration float64 `json:"duration_s"`
	Warmup   float64 `json:"warmup_s"`
}

// QueueResult holds one queue's KPIs: counts summed over replications,
// ratios averaged over replications with the half-widths of their 95%
// confidence intervals.
type QueueResult struct {
	Name         string  `json:"name"`
	Media        string  `json:"media"`
	Offered      int64   `json:"offered"`
	Answered     int64   `json:"answered"`
	Abandoned    int64   `json:"abandoned"`
	PW           float64 `json:"pw"`
	ASA          float64 `json:"asa_s"`
	ServiceLevel float64 `json:"service_level"`
	AbandonRate  float64 `json:"abandon_rate"`
	CI95         KPIs    `json:"ci95"`
}

// KPIs are the ratios reported per queue.
type KPIs struct {
	PW           float64 `json:"pw"`
	ASA          float64 `json:"asa_s"`
	ServiceLevel float64 `json:"service_level"`
	AbandonRate  float64 `json:"abandon_rate"`
}

// AgentResult summarises the agents.
type AgentResult struct {
	// Occupancy is the share of logged-in time agents spent handling
	// interactions (offered, connected or wrapping up), between the end
	// of the warm-up and the end of the run.
	Occupancy     float64 `json:"occupancy"`
	OccupancyCI95 float64 `json:"occupancy_ci95"`
}

// Config tunes a run.
type Config struct {
	// Parallel is how many replications run at once (default: the
	// number of CPUs). Results do not depend on it.
	Parallel int
}

type replication struct {
	queues    []tserver.QueueStats
	occupancy float64
	events    uint64
}

// Run simulates scenario f: its traffic offered to its center for
// f.Run.Duration, f.Run.Replications times.
func Run(ctx context.Context, f *config.File, opts Config) (*Result, error) {
	if len(f.Traffic) == 0 {
		return nil, fmt.Errorf("sim: %s: no traffic to simulate", f.Path)
	}
	reps := max(f.Run.Replications, 1)
	par := opts.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	out := make([]replication, reps)
	errs := make([]error, reps)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(par, reps); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				out[r], errs[r] = runReplication(ctx, f, replicationSeed(f.Run.Seed, r))
			}
		}()
	}
	for r := 0; r < reps; r++ {
		if ctx.Err() != nil {
			break
		}
		next <- r
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return summarise(f, out), nil
}

// replicationSeed derives replication r's seed with SplitMix64, so
// replications are independent streams.
func replicationSeed(seed uint64, r int) uint64 {
	z := seed + uint64(r+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// model is one replication: the domain, its clock, and the customers'
// and agents' behaviour.
type model struct {
	srv     *tserver.Server
	clk     *clock.Virtual
	rng     *rand.Rand
	traffic []trafficModel
	end     time.Duration
	// Event handlers as method values, made once: scheduling them
	// allocates nothing.
	arriveFn, giveUpFn, hangUpFn func(uint64)
}

type trafficModel struct {
	arrival  tserver.Arrival
	meanGap  float64 // seconds between arrivals
	handle   sampler
	patience sampler // nil: customers never abandon
}

// sampler draws a duration.
type sampler func(*rand.Rand) time.Duration

func newSampler(d *config.Distribution) sampler {
	switch {
	case d == nil:
		return nil
	case d.Exponential != nil:
		mean := float64(d.Exponential.Mean.D())
		return func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * mean) }
	case d.Constant != nil:
		v := d.Constant.Value.D()
		return func(*rand.Rand) time.Duration { return v }
	}
	return nil
}

// buildTraffic turns the scenario's traffic lines into customer models;
// arrivals carry their line's index as Tag.
func buildTraffic(f *config.File) ([]trafficModel, error) {
	var out []trafficModel
	for i, t := range f.Traffic {
		media, err := pbx.ParseMedia(t.Media)
		if err != nil {
			return nil, fmt.Errorf("sim: traffic[%d]: %w", i, err)
		}
		tm := trafficModel{
			arrival:  tserver.Arrival{Media: media, DNIS: t.Queue, Priority: t.Priority, Tag: i},
			meanGap:  3600 / t.Arrivals.Poisson.PerHour,
			handle:   newSampler(&t.Handle),
			patience: newSampler(t.Patience),
		}
		if t.RoutePoint != "" {
			tm.arrival.DNIS = t.RoutePoint
		}
		if t.Client != "" {
			tm.arrival.ClientFamily, tm.arrival.ClientVersion, _ = cutClient(t.Client)
		}
		for _, k := range sortedKeys(t.Requires) {
			tm.arrival.Requires = append(tm.arrival.Requires, pbx.KV{Key: k, Value: t.Requires[k]})
		}
		out = append(out, tm)
	}
	return out, nil
}

func runReplication(ctx context.Context, f *config.File, seed uint64) (replication, error) {
	m := &model{
		clk: clock.NewVirtual(clock.Epoch),
		rng: rand.New(rand.NewPCG(seed, seed^0xd1b54a32d192ed03)),
		end: f.Run.Duration.D(),
	}
	srv, err := tserver.New(f, tserver.Config{Clock: m.clk, Endpoints: m, Seed: seed})
	if err != nil {
		return replication{}, err
	}
	m.srv = srv
	m.arriveFn, m.giveUpFn, m.hangUpFn = m.arrive, m.giveUp, m.hangUp
	if m.traffic, err = buildTraffic(f); err != nil {
		return replication{}, err
	}
	for i := range m.traffic {
		m.scheduleArrival(i)
	}
	var busy0, logged0, busy1, logged1 time.Duration
	warmup := f.Run.Warmup.D()
	m.clk.AfterFunc(warmup, func() {
		srv.ResetStats()
		logged0, busy0, _ = srv.AgentTotals()
	})
	m.clk.AfterFunc(m.end, func() { logged1, busy1, _ = srv.AgentTotals() })
	// Run to the end of arrivals, then drain: every interaction offered
	// gets its outcome.
	for n := 0; m.clk.Step(); n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return replication{}, ctx.Err()
		}
	}
	rep := replication{events: m.clk.Fired()}
	for _, q := range f.Queues {
		st, _ := srv.QueueStats(q.Name)
		rep.queues = append(rep.queues, st)
	}
	if logged1 > logged0 {
		rep.occupancy = float64(busy1-busy0) / float64(logged1-logged0)
	}
	return rep, nil
}

func (m *model) scheduleArrival(i int) {
	gap := time.Duration(m.rng.ExpFloat64() * m.traffic[i].meanGap * float64(time.Second))
	if m.clk.Elapsed()+gap > m.end {
		return
	}
	m.clk.Schedule(gap, m.arriveFn, uint64(i))
}

// arrive brings in a customer of traffic i.
func (m *model) arrive(i uint64) {
	t := &m.traffic[i]
	id, err := m.srv.Arrive(&t.arrival)
	if err == nil && t.patience != nil {
		m.clk.Schedule(t.patience(m.rng), m.giveUpFn, uint64(id))
	}
	m.scheduleArrival(int(i))
}

// giveUp is a customer's patience running out: if still waiting, it hangs
// up.
func (m *model) giveUp(arg uint64) {
	id := pbx.ConnID(arg)
	c := m.srv.Contact(id)
	if c == nil {
		return
	}
	switch c.State {
	case pbx.Routing, pbx.Queued, pbx.Ringing, pbx.Redirected:
		_ = m.srv.ReleaseCall(id)
	}
}

// Offer is the simulated agent's device: it answers at once and hangs up
// after the traffic's handle time.
func (m *model) Offer(c *tserver.Contact, _ *tserver.Agent) {
	handle := m.traffic[c.Tag].handle(m.rng)
	if err := m.srv.AnswerCall(c.ID); err != nil {
		return
	}
	m.clk.Schedule(handle, m.hangUpFn, uint64(c.ID))
}

// Dial is an agent's outbound call: simulated scenarios place none yet,
// so there is nothing to do.
func (m *model) Dial(*tserver.Contact, *tserver.Agent) {}

// hangUp ends a call when its handle time is over.
func (m *model) hangUp(arg uint64) { _ = m.srv.ReleaseCall(pbx.ConnID(arg)) }

func summarise(f *config.File, reps []replication) *Result {
	res := &Result{
		Replications: len(reps),
		Seed:         f.Run.Seed,
		Duration:     f.Run.Duration.D().Seconds(),
		Warmup:       f.Run.Warmup.D().Seconds(),
	}
	occ := make([]float64, len(reps))
	for r, rep := range reps {
		res.Events += rep.events
		occ[r] = rep.occupancy
	}
	res.Agents.Occupancy, res.Agents.OccupancyCI95 = MeanCI95(occ)
	for qi, q := range f.Queues {
		qr := QueueResult{Name: q.Name, Media: q.Media}
		var pw, asa, sl, ab []float64
		for _, rep := range reps {
			st := rep.queues[qi]
			qr.Offered += st.Offered
			qr.Answered += st.Answered
			qr.Abandoned += st.Abandoned
			pw = append(pw, ratio(float64(st.Waited), float64(st.Offered)))
			asa = append(asa, ratio(st.WaitAnswered.Seconds(), float64(st.Answered)))
			sl = append(sl, ratio(float64(st.AnsweredInSL), float64(st.Offered)))
			ab = append(ab, ratio(float64(st.Abandoned), float64(st.Offered)))
		}
		qr.PW, qr.CI95.PW = MeanCI95(pw)
		qr.ASA, qr.CI95.ASA = MeanCI95(asa)
		qr.ServiceLevel, qr.CI95.ServiceLevel = MeanCI95(sl)
		qr.AbandonRate, qr.CI95.AbandonRate = MeanCI95(ab)
		res.Queues = append(res.Queues, qr)
	}
	return res
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func cutClient(s string) (family, version string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
