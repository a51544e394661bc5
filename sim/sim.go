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
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Config tunes a run.
type Config struct {
	// Parallel is how many replications run at once (default: the
	// number of CPUs). Results do not depend on it.
	Parallel int
	// Strict turns the result's warnings (a queue no agent serves, an
	// unstable queue, many interactions waiting at the end) into an
	// error wrapping ErrWarnings.
	Strict bool
	// Progress, when set, is called when a replication finishes, from
	// the replications' goroutines (possibly at once).
	Progress func()
	// observe, when set (by tests), sees each replication's center before
	// it starts.
	observe func(replication int, srv *tserver.Server)
}

// ErrWarnings is what Run's error wraps when Config.Strict is set and the
// scenario or its result has warnings.
var ErrWarnings = errors.New("sim: warnings in strict mode")

type replication struct {
	queues    []queueOutcome
	occupancy float64
	events    uint64
	// callbacks, per callback queue (indexed like f.Queues), and every
	// callback request as the scheduler left it (dropped by Run once
	// counted; tests read them).
	callbacks        []callbackOutcome
	callbackRequests []callback.Request
	intervals        replicationIntervals
}

// Run simulates scenario f: its traffic offered to its center for
// f.Run.Duration, f.Run.Replications times. The result's warnings say what
// makes it misleading; with opts.Strict they are an error instead.
func Run(ctx context.Context, f *config.File, opts Config) (*Result, error) {
	if len(f.Traffic) == 0 {
		return nil, fmt.Errorf("sim: %s: no traffic to simulate", f.Path)
	}
	warnings := scenarioWarnings(f)
	if opts.Strict && len(warnings) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrWarnings, f.Path, strings.Join(warnings, "; "))
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
				out[r], errs[r] = runReplication(ctx, f, r, replicationSeed(f.Run.Seed, r), opts.observe)
				out[r].callbackRequests = nil
				if opts.Progress != nil {
					opts.Progress()
				}
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
	res := summarise(f, out)
	res.Warnings = append(warnings, endWarnings(res)...)
	if opts.Strict && len(res.Warnings) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrWarnings, f.Path, strings.Join(res.Warnings, "; "))
	}
	return res, nil
}

// replicationSeed derives replication r's seed with SplitMix64, so
// replications are independent streams.
func replicationSeed(seed uint64, r int) uint64 {
	z := seed + uint64(r+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newSource returns the random source of a replication (or of a live
// traffic generator) with the given seed.
func newSource(seed uint64) *rand.PCG { return rand.NewPCG(seed, seed^0xd1b54a32d192ed03) }

// trafficModel is how one traffic line's customers behave; a transfer of
// a line has a model of its own (transferred is set), reached by Tag.
type trafficModel struct {
	arrival  tserver.Arrival
	arrivals *arrivalProcess // nil for a transfer
	// queue is the index in f.Queues of the queue whose statistics count
	// the line's interactions.
	queue    int
	handle   sampler
	patience sampler // nil: customers never abandon
	// retrial: an abandoned customer calls again with retrialP after
	// retrialDelay (0: never).
	retrialP     float64
	retrialDelay sampler
	// transfers, by cumulative probability; none for a transfer.
	transfers   []transferModel
	transferred bool
	// callback: how the line's waiting customers take callbacks; nil:
	// they are offered none.
	callback *callbackLine
	// chat: how the line's chats go once answered (chat.go); nil: they
	// are handled for handle.
	chat *chatLine
}

type transferModel struct {
	upTo  float64 // cumulative probability
	tag   int     // the model of the transferred interaction
	queue string
}

// maxTags bounds the traffic models (lines and their transfers): a
// scheduled event carries its model's index in the low tagBits bits.
const (
	tagBits = 16
	maxTags = 1 << tagBits
)

func pack(id pbx.ConnID, tag int) uint64 { return uint64(id)<<tagBits | uint64(tag) }

func unpack(arg uint64) (pbx.ConnID, int) {
	return pbx.ConnID(arg >> tagBits), int(arg & (maxTags - 1))
}

// buildTraffic turns the scenario's traffic lines into customer models
// drawing from src: line i is model i, and arrivals carry their model's
// index as Tag; the transfers' models follow the lines'.
func buildTraffic(f *config.File, src rand.Source) ([]trafficModel, error) {
	queueIndex := make(map[string]int, len(f.Queues))
	for i, q := range f.Queues {
		queueIndex[q.Name] = i
	}
	routeQueue := make(map[string]string, len(f.RoutePoints))
	for _, r := range f.RoutePoints {
		routeQueue[r.Number] = r.Queue
	}
	var out, transfers []trafficModel
	for i, t := range f.Traffic {
		media, err := pbx.ParseMedia(t.Media)
		if err != nil {
			return nil, fmt.Errorf("sim: traffic[%d]: %w", i, err)
		}
		tm := trafficModel{
			arrival:  tserver.Arrival{Media: media, DNIS: t.Queue, Priority: t.Priority, Tag: i},
			arrivals: newArrivalProcess(&t.Arrivals, src),
			queue:    queueIndex[t.Queue],
			handle:   newSampler(&t.Handle, src),
			patience: newSampler(t.Patience, src),
		}
		if t.Chat != nil {
			tm.chat = newChatLine(t.Chat, src)
			tm.handle = tm.chat.alone
		}
		queue := t.Queue
		if t.RoutePoint != "" {
			tm.arrival.DNIS = t.RoutePoint
			queue = routeQueue[t.RoutePoint]
			tm.queue = queueIndex[queue]
		}
		if tm.callback, err = newCallbackLine(f, &t, queue, queueIndex, src); err != nil {
			return nil, err
		}
		if t.Client != "" {
			tm.arrival.ClientFamily, tm.arrival.ClientVersion, _ = cutClient(t.Client)
		}
		for _, k := range sortedKeys(t.Requires) {
			tm.arrival.Requires = append(tm.arrival.Requires, pbx.KV{Key: k, Value: t.Requires[k]})
		}
		if r := t.Retrial; r != nil {
			tm.retrialP, tm.retrialDelay = r.Probability, newSampler(&r.Delay, src)
		}
		var upTo float64
		for _, tr := range t.Transfers {
			upTo += tr.Probability
			handle, chat := tm.handle, tm.chat
			if tr.Handle != nil {
				handle, chat = newSampler(tr.Handle, src), nil
			}
			tm.transfers = append(tm.transfers, transferModel{upTo: upTo, tag: len(f.Traffic) + len(transfers), queue: tr.ToQueue})
			transfers = append(transfers, trafficModel{
				arrival: tm.arrival, queue: queueIndex[tr.ToQueue],
				handle: handle, patience: tm.patience, transferred: true, chat: chat,
			})
		}
		out = append(out, tm)
	}
	out = append(out, transfers...)
	if len(out) > maxTags {
		return nil, fmt.Errorf("sim: %d traffic lines and transfers is too many (max %d)", len(out), maxTags)
	}
	return out, nil
}

// model is one replication: the domain, its clock, and the customers'
// and agents' behaviour.
type model struct {
	srv     *tserver.Server
	clk     *clock.Virtual
	rng     *rand.Rand
	traffic []trafficModel
	queues  []queueTrack
	// cb is the callback server; nil when no line takes callbacks.
	cb *callbacks
	// chats runs the chats of lines with a chat model and counts each
	// agent's chats; nil when no line has one.
	chats  *chats
	warmup time.Duration
	end    time.Duration
	// counting is set once the statistics restart at the warm-up: from
	// then on, interactions that enter are counted.
	counting bool
	done     bool
	// entering is the interaction being brought in (an arrival, or a
	// transfer of interaction enteringID) while tserver routes it;
	// enteredOffered says it was offered at once, without waiting.
	entering       entering
	enteringID     pbx.ConnID
	enteredOffered bool
	// intervals collects the per-interval results.
	intervals *intervalCollector
	// Event handlers as method values, made once: scheduling them
	// allocates nothing.
	arriveFn, retryFn, giveUpFn, hangUpFn func(uint64)
}

type entering uint8

const (
	enteringNone entering = iota
	enteringArrival
	enteringTransfer
)

// queueTrack follows the number of interactions waiting for one queue's
// statistics (the queue where they were first queued), which tserver does
// not integrate over time.
type queueTrack struct {
	waiting int           // waiting now, counted or not
	last    time.Duration // when waiting last changed (or the warm-up)
	area    float64       // integral of waiting since the warm-up, in seconds
	max     int           // the most waiting at once since the warm-up
	// counted is how many of those waiting are counted in the statistics,
	// and countedArrivals the sum of their arrival times.
	counted                 int64
	countedArrivals         time.Duration
	retrials, transferredIn int64
}

func (q *queueTrack) advance(now time.Duration, measuring bool) {
	if measuring {
		q.area += float64(q.waiting) * (now - q.last).Seconds()
	}
	q.last = now
}

func runReplication(ctx context.Context, f *config.File, r int, seed uint64, observe func(int, *tserver.Server)) (replication, error) {
	src := newSource(seed)
	m := &model{
		clk:    clock.NewVirtual(clock.Epoch),
		rng:    rand.New(src),
		warmup: f.Run.Warmup.D(),
		end:    f.Run.Duration.D(),
		queues: make([]queueTrack, len(f.Queues)),
	}
	srv, err := tserver.New(f, tserver.Config{Clock: m.clk, Endpoints: m, Seed: seed, RecycleContacts: true})
	if err != nil {
		return replication{}, err
	}
	m.srv = srv
	m.arriveFn, m.retryFn, m.giveUpFn, m.hangUpFn = m.arrive, m.retry, m.giveUp, m.hangUp
	if m.traffic, err = buildTraffic(f, src); err != nil {
		return replication{}, err
	}
	if m.cb, err = newCallbacks(m, f); err != nil {
		return replication{}, err
	}
	m.chats = newChats(ctx, m)
	newWorkforce(m, f, src)
	m.intervals = newIntervalCollector(m, f)
	if observe != nil {
		observe(r, srv)
	}
	// The statistics restart before anything else happens at the
	// warm-up's instant: an interaction arriving then is counted, by
	// tserver and here alike.
	var busy0, logged0, busy1, logged1 time.Duration
	m.clk.AfterFunc(m.warmup, func() {
		srv.ResetStats()
		logged0, busy0, _ = srv.AgentTotals()
		for i := range m.queues {
			q := &m.queues[i]
			q.advance(m.warmup, false)
			q.max = q.waiting
		}
		m.counting = true
	})
	for i := range m.traffic {
		if a := m.traffic[i].arrivals; a != nil {
			if at, ok := a.next(0, m.end); ok {
				m.clk.Schedule(at, m.arriveFn, uint64(i))
			}
		}
	}
	m.clk.AfterFunc(m.end, func() {
		logged1, busy1, _ = srv.AgentTotals()
		m.done = true
	})
	// Run to the end and stop there: what still waits is reported as
	// such, not drained.
	for n := 0; !m.done && m.clk.Step(); n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return replication{}, ctx.Err()
		}
	}
	// The callbacks' outcomes also fill their queues' intervals: before
	// the intervals are closed.
	var (
		cbOutcomes []callbackOutcome
		cbRequests []callback.Request
	)
	if m.cb != nil {
		cbOutcomes, cbRequests = m.cb.outcomes(f, m.clk.Now())
	}
	rep := replication{intervals: m.intervals.finish(), events: m.clk.Fired() - m.intervals.fired}
	for qi, q := range f.Queues {
		st, _ := srv.QueueStats(q.Name)
		tr := &m.queues[qi]
		tr.advance(m.end, true)
		rep.queues = append(rep.queues, queueOutcome{
			offered: st.Offered, answered: st.Answered, abandoned: st.Abandoned, waited: st.Waited,
			answeredInSL: st.AnsweredInSL, waitAnswered: st.WaitAnswered, waitAbandoned: st.WaitAbandoned,
			waitingAtEnd: tr.counted, waitAtEnd: time.Duration(tr.counted)*m.end - tr.countedArrivals,
			retrials: tr.retrials, transferredIn: tr.transferredIn,
			queueArea: tr.area, queueMax: tr.max, callback: st.Callback,
		})
	}
	if m.cb != nil {
		rep.callbacks, rep.callbackRequests = cbOutcomes, cbRequests
		for qi, o := range rep.callbacks {
			if o.callbacks > 0 || o.offers > 0 {
				rep.queues[qi].fromCallbacks(o)
			}
		}
	}
	if logged1 > logged0 {
		rep.occupancy = float64(busy1-busy0) / float64(logged1-logged0)
	}
	return rep, nil
}

// waitBegins notes that an interaction of queue statistics qi, which
// entered (arrived or was transferred) now, waits.
func (m *model) waitBegins(qi int) {
	now := m.clk.Elapsed()
	q := &m.queues[qi]
	q.advance(now, m.counting)
	q.waiting++
	if m.counting {
		q.max = max(q.max, q.waiting)
		q.counted++
		q.countedArrivals += now
	}
}

// waitEnds notes that interaction c of queue statistics qi no longer waits.
func (m *model) waitEnds(qi int, c *tserver.Contact) {
	m.intervals.waitEnds(qi, c)
	q := &m.queues[qi]
	q.advance(m.clk.Elapsed(), m.counting)
	q.waiting--
	if arrived := c.Arrived().Sub(clock.Epoch); m.counting && arrived >= m.warmup {
		q.counted--
		q.countedArrivals -= arrived
	}
}

// arrive brings in a customer of traffic line i and schedules the line's
// next arrival.
func (m *model) arrive(i uint64) {
	if l := m.traffic[i].chat; l != nil {
		m.chats.arrive(int(i), l)
	} else {
		m.enter(int(i), "")
	}
	if at, ok := m.traffic[i].arrivals.next(m.clk.Elapsed(), m.end); ok {
		m.clk.Schedule(at-m.clk.Elapsed(), m.arriveFn, i)
	}
}

// retry brings back a customer who abandoned: arg packs the abandoned
// interaction and its traffic line.
func (m *model) retry(arg uint64) {
	id, tag := unpack(arg)
	if m.counting {
		m.queues[m.traffic[tag].queue].retrials++
	}
	m.enter(tag, "retrial-of-"+strconv.FormatUint(uint64(id), 10))
}

// enter brings an interaction of traffic line tag into the center; ani
// marks a retrial.
func (m *model) enter(tag int, ani string) {
	t := &m.traffic[tag]
	in := &t.arrival
	if ani != "" {
		retrial := *in
		retrial.ANI = ani
		in = &retrial
	}
	m.entering, m.enteredOffered = enteringArrival, false
	id, err := m.srv.Arrive(in)
	m.entering = enteringNone
	if err != nil {
		return
	}
	m.startWaiting(id, tag)
}

// startWaiting follows interaction id of model tag, just entered, unless
// it was offered at once: it waits, and leaves at the end of its patience.
func (m *model) startWaiting(id pbx.ConnID, tag int) {
	t := &m.traffic[tag]
	m.intervals.offered(t.queue)
	var patience time.Duration
	if t.patience != nil {
		patience = t.patience()
	}
	if m.enteredOffered {
		return
	}
	m.waitBegins(t.queue)
	m.intervals.waitBegins(id, t.queue)
	if t.patience != nil {
		m.clk.Schedule(patience, m.giveUpFn, pack(id, tag))
	}
	if t.callback != nil {
		m.cb.offer(id, tag)
	}
}

// giveUp is a customer's patience running out: if still waiting, it hangs
// up, and may call again later.
func (m *model) giveUp(arg uint64) {
	id, tag := unpack(arg)
	c := m.srv.Contact(id)
	if c == nil || c.Tag != tag {
		return // over, or transferred since: a new patience runs
	}
	switch c.State {
	case pbx.Routing, pbx.Queued, pbx.Ringing, pbx.Redirected:
	default:
		return
	}
	t := &m.traffic[tag]
	m.waitEnds(t.queue, c)
	if err := m.srv.ReleaseCall(id); err != nil {
		return
	}
	m.intervals.abandoned(t.queue, c)
	if t.retrialP > 0 && m.rng.Float64() < t.retrialP {
		m.clk.Schedule(t.retrialDelay()+t.botTime(), m.retryFn, arg)
	}
}

// Offer is the simulated agent's device: it answers at once and hangs up
// (or transfers) after the traffic's handle time, or a chat after its
// exchanges (chat.go).
func (m *model) Offer(c *tserver.Contact, a *tserver.Agent) {
	if c.Tag == callbackTag {
		m.cb.offered(c)
		return
	}
	t := &m.traffic[c.Tag]
	switch {
	case m.entering == enteringArrival, m.entering == enteringTransfer && c.ID == m.enteringID:
		m.enteredOffered = true
	default:
		m.waitEnds(t.queue, c)
	}
	if m.chats != nil && c.Media == pbx.IM {
		m.answerChat(c, a)
		return
	}
	handle := t.handle()
	if err := m.srv.AnswerCall(c.ID); err != nil {
		return
	}
	m.intervals.answered(t.queue, c)
	m.clk.Schedule(handle, m.hangUpFn, pack(c.ID, c.Tag))
}

// Dial is an agent's outbound call: simulated scenarios place none yet,
// so there is nothing to do.
func (m *model) Dial(*tserver.Contact, *tserver.Agent) {}

// hangUp ends a call when its handle time is over, or transfers it.
func (m *model) hangUp(arg uint64) {
	id, tag := unpack(arg)
	if m.chats != nil {
		m.chats.ends(id)
	}
	if tr := m.traffic[tag].transfers; len(tr) > 0 {
		u := m.rng.Float64()
		for _, to := range tr {
			if u < to.upTo {
				m.transfer(id, tag, to)
				return
			}
		}
	}
	_ = m.srv.ReleaseCall(id)
}

// transfer moves interaction id, of model from, to queue to.queue, where
// it is interaction of model to.tag.
func (m *model) transfer(id pbx.ConnID, from int, to transferModel) {
	c := m.srv.Contact(id)
	if c == nil {
		return
	}
	// The model changes before tserver routes it: it may be offered at
	// once, and the offer reads the handle time of the model.
	c.Tag = to.tag
	m.entering, m.enteringID, m.enteredOffered = enteringTransfer, id, false
	err := m.srv.SingleStepTransfer(id, to.queue)
	m.entering = enteringNone
	if err != nil {
		c.Tag = from
		_ = m.srv.ReleaseCall(id)
		return
	}
	if m.counting {
		m.queues[m.traffic[to.tag].queue].transferredIn++
	}
	m.startWaiting(id, to.tag)
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
