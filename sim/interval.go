package sim

import (
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// How the per-interval results are cut and sampled.
const (
	// defaultReportInterval is the interval length when neither
	// run.interval nor a forecast gives one.
	defaultReportInterval = 30 * time.Minute
	// agentSamplesPerInterval is how many times per interval the agents'
	// states are sampled for staffing and occupancy.
	agentSamplesPerInterval = 30
	// ewtSampleEvery: the first interaction that starts to wait in a
	// queue in each such slot of time is asked its EWT, as the switch
	// would announce it, and followed until it is answered.
	ewtSampleEvery = time.Minute
	// unknownWait is the EWT tserver gives when nobody serves a queue;
	// the switch announces it as unknown, so it is not a sample.
	unknownWait = 24 * time.Hour
)

// dayLengths are the interval lengths that divide a day, shortest first:
// the default interval widens along them on long runs.
var dayLengths = []time.Duration{
	time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 6 * time.Minute,
	10 * time.Minute, 12 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// reportInterval is the length of f's result intervals: run.interval;
// else the shortest forecast interval of its traffic, else 30 minutes,
// widened until the run has at most config.MaxRunIntervals of them.
func reportInterval(f *config.File) time.Duration {
	if iv := f.Run.Interval.D(); iv > 0 {
		return iv
	}
	var iv time.Duration
	for i := range f.Traffic {
		if fc := f.Traffic[i].Arrivals.Forecast; fc != nil && fc.Interval > 0 && (iv == 0 || fc.Interval.D() < iv) {
			iv = fc.Interval.D()
		}
	}
	if iv == 0 {
		iv = defaultReportInterval
	}
	fits := func(l time.Duration) bool {
		return (f.Run.Duration.D()+l-1)/l <= config.MaxRunIntervals
	}
	if fits(iv) {
		return iv
	}
	for _, l := range dayLengths {
		if l > iv && fits(l) {
			return l
		}
	}
	days := (f.Run.Duration.D()/config.MaxRunIntervals + day - 1) / day
	return days * day
}

// intervalGrid cuts the measured period, from the warm-up to the end,
// into intervals of the same length counted from 00:00 (the first and
// the last may be cut short by the warm-up and the end).
type intervalGrid struct {
	length     time.Duration
	warmup     time.Duration
	end        time.Duration
	firstIndex int64 // the first interval's index from 00:00
	n          int
}

func newIntervalGrid(f *config.File) intervalGrid {
	g := intervalGrid{length: reportInterval(f), warmup: f.Run.Warmup.D(), end: f.Run.Duration.D()}
	g.firstIndex = int64(g.warmup / g.length)
	last := int64((g.end - 1) / g.length)
	g.n = int(last - g.firstIndex + 1)
	return g
}

// index returns the interval of time t (clamped to the measured period).
func (g *intervalGrid) index(t time.Duration) int {
	k := int(int64(t/g.length) - g.firstIndex)
	return min(max(k, 0), g.n-1)
}

// bounds returns interval k's start and end, within the measured period.
func (g *intervalGrid) bounds(k int) (from, to time.Duration) {
	from = time.Duration(g.firstIndex+int64(k)) * g.length
	return max(from, g.warmup), min(from+g.length, g.end)
}

// queueIntervalCounts are one queue's figures in one interval of one
// replication. Offered, answered, abandoned, waiting and the waits count
// the interactions offered in the interval (arrived, or transferred in),
// wherever their outcome fell; the queue's length and the agents' samples
// are what happened within it.
type queueIntervalCounts struct {
	offered, answered, abandoned, answeredInSL int64
	// waiting counts those offered here who wait still: at the end of the
	// run, the ones waiting at the end.
	waiting      int64
	waitAnswered time.Duration
	// area is the integral of the number waiting over the interval, in
	// seconds; max the most waiting at once.
	area float64
	max  int
	// ewtSamples answered interactions were told an EWT on arrival; the
	// sums of (EWT - actual wait) and of its absolute value.
	ewtSamples          int64
	ewtError, ewtAbsErr time.Duration
	// staffed and busy sum, over the agent samples, the agents who serve
	// the queue logged in, and those of them busy.
	staffed, busy int64
}

// groupIntervalCounts sum, over the agent samples of one interval, a
// group's agents logged in and those of them busy.
type groupIntervalCounts struct {
	staffed, busy int64
}

// replicationIntervals are one replication's per-interval figures.
type replicationIntervals struct {
	queues [][]queueIntervalCounts // [queue][interval]
	groups [][]groupIntervalCounts // [group][interval]
	// samples counts the agent samples in each interval.
	samples []int64
}

// intervalQueue follows one queue (as its statistics count interactions:
// where they were first queued) for the per-interval results.
type intervalQueue struct {
	waiting  int           // waiting now, counted or not
	last     time.Duration // when waiting last changed
	slTarget time.Duration
	// announceMax: the switch announces max(staffing, recent) to a caller
	// (voice); a chat is told the staffing estimate, or the recent waits
	// when that is 0.
	announceMax bool
	ewtSlot     time.Duration // the EWT slot last sampled, from 1
	rows        []queueIntervalCounts
}

// ewtTold is the EWT an interaction was told when it started to wait.
type ewtTold struct {
	queue, interval int
	ewt             time.Duration
}

// intervalCollector gathers one replication's per-interval figures
// through hooks in the model: they read the domain, never change it, and
// draw no random number, so the run's other results stay the same.
type intervalCollector struct {
	m      *model
	grid   intervalGrid
	queues []intervalQueue
	out    replicationIntervals
	told   map[pbx.ConnID]ewtTold
	// agentGroup and agentQueues are, per agent of srv.Agents(), its group
	// and the queues it serves.
	agentGroup  []int
	agentQueues [][]int
	sampleEvery time.Duration
	// fired counts the collector's own clock events (the agent samples),
	// which the result's event count leaves out.
	fired uint64
}

// groupNames returns f's agent groups (a single agent's id for a group)
// in order of first appearance, and each expanded agent's group index.
func groupNames(f *config.File) (names []string, ofAgent map[string]int) {
	index := map[string]int{}
	ofAgent = map[string]int{}
	agents := f.ExpandAgents()
	k := 0
	for i := range f.Agents {
		g := &f.Agents[i]
		name := g.GroupName()
		gi, ok := index[name]
		if !ok {
			gi = len(names)
			index[name] = gi
			names = append(names, name)
		}
		n := g.Count
		if g.ID != "" {
			n = 1
		}
		for ; n > 0 && k < len(agents); n-- {
			ofAgent[agents[k].ID] = gi
			k++
		}
	}
	return names, ofAgent
}

func newIntervalCollector(m *model, f *config.File) *intervalCollector {
	c := &intervalCollector{m: m, grid: newIntervalGrid(f), told: map[pbx.ConnID]ewtTold{}}
	n := c.grid.n
	c.queues = make([]intervalQueue, len(f.Queues))
	c.out.queues = make([][]queueIntervalCounts, len(f.Queues))
	for qi := range f.Queues {
		q := &f.Queues[qi]
		media, _ := pbx.ParseMedia(q.Media)
		c.queues[qi] = intervalQueue{slTarget: q.SLTarget.D(), announceMax: media != pbx.IM, rows: make([]queueIntervalCounts, n)}
		c.out.queues[qi] = c.queues[qi].rows
	}
	names, ofAgent := groupNames(f)
	c.out.groups = make([][]groupIntervalCounts, len(names))
	for gi := range names {
		c.out.groups[gi] = make([]groupIntervalCounts, n)
	}
	c.out.samples = make([]int64, n)
	for _, a := range m.srv.Agents() {
		c.agentGroup = append(c.agentGroup, ofAgent[a.ID])
		var serves []int
		for qi := range f.Queues {
			if a.Serves(f.Queues[qi].Name) {
				serves = append(serves, qi)
			}
		}
		c.agentQueues = append(c.agentQueues, serves)
	}
	c.sampleEvery = max(c.grid.length/agentSamplesPerInterval, time.Second)
	// Samples at the middle of each slot, from the first slot that starts
	// at or after the warm-up.
	first := (c.grid.warmup+c.sampleEvery-1)/c.sampleEvery*c.sampleEvery + c.sampleEvery/2
	if first < c.grid.end {
		m.clk.AfterFunc(first, c.sampleAgents)
	}
	return c
}

// counted reports whether tserver counts interaction c in the statistics:
// it was offered (arrived, or transferred in) after the warm-up.
func (c *intervalCollector) counted(ct *tserver.Contact) (arrived time.Duration, ok bool) {
	arrived = ct.Arrived().Sub(clock.Epoch)
	return arrived, c.m.counting && arrived >= c.grid.warmup
}

// offered notes an interaction entering queue statistics qi now.
func (c *intervalCollector) offered(qi int) {
	if c.m.counting {
		c.queues[qi].rows[c.grid.index(c.m.clk.Elapsed())].offered++
	}
}

// integrate adds the time since the queue's last change to its
// intervals' areas and maxima.
func (c *intervalCollector) integrate(q *intervalQueue, now time.Duration) {
	from, to := max(q.last, c.grid.warmup), min(now, c.grid.end)
	for k := c.grid.index(from); from < to; k++ {
		_, end := c.grid.bounds(k)
		seg := min(end, to) - from
		row := &q.rows[k]
		row.area += float64(q.waiting) * seg.Seconds()
		row.max = max(row.max, q.waiting)
		from += seg
	}
	q.last = now
}

// waitBegins notes that interaction id, of queue statistics qi, starts
// to wait now; the first to wait in each EWT slot is asked its EWT.
func (c *intervalCollector) waitBegins(id pbx.ConnID, qi int) {
	now := c.m.clk.Elapsed()
	q := &c.queues[qi]
	c.integrate(q, now)
	q.waiting++
	if !c.m.counting || now >= c.grid.end {
		return
	}
	k := c.grid.index(now)
	q.rows[k].max = max(q.rows[k].max, q.waiting)
	q.rows[k].waiting++
	if slot := now/ewtSampleEvery + 1; slot != q.ewtSlot {
		q.ewtSlot = slot
		if _, e, err := c.m.srv.Position(id); err == nil {
			told := e.Staffing
			if q.announceMax {
				told = max(e.Staffing, e.Recent)
			} else if told == 0 {
				told = e.Recent
			}
			if told < unknownWait {
				c.told[id] = ewtTold{queue: qi, interval: k, ewt: told}
			}
		}
	}
}

// waitEnds notes that interaction ct of queue statistics qi no longer
// waits.
func (c *intervalCollector) waitEnds(qi int, ct *tserver.Contact) {
	q := &c.queues[qi]
	c.integrate(q, c.m.clk.Elapsed())
	q.waiting--
	if arrived, ok := c.counted(ct); ok {
		q.rows[c.grid.index(arrived)].waiting--
	}
}

// answered notes that interaction ct of queue statistics qi was answered
// now.
func (c *intervalCollector) answered(qi int, ct *tserver.Contact) {
	arrived, ok := c.counted(ct)
	if !ok {
		return
	}
	wait := c.m.clk.Elapsed() - arrived
	row := &c.queues[qi].rows[c.grid.index(arrived)]
	row.answered++
	row.waitAnswered += wait
	if wait <= c.queues[qi].slTarget {
		row.answeredInSL++
	}
	if told, ok := c.told[ct.ID]; ok {
		delete(c.told, ct.ID)
		r := &c.queues[told.queue].rows[told.interval]
		d := told.ewt - wait
		r.ewtSamples++
		r.ewtError += d
		r.ewtAbsErr += max(d, -d)
	}
}

// abandoned notes that interaction ct of queue statistics qi was
// abandoned now.
func (c *intervalCollector) abandoned(qi int, ct *tserver.Contact) {
	delete(c.told, ct.ID)
	if arrived, ok := c.counted(ct); ok {
		c.queues[qi].rows[c.grid.index(arrived)].abandoned++
	}
}

// callbacksWaiting moves the number of callbacks waiting to be dialled
// in callback queue qi by d, now: its queue length.
func (c *intervalCollector) callbacksWaiting(qi, d int) {
	now := c.m.clk.Elapsed()
	q := &c.queues[qi]
	c.integrate(q, now)
	q.waiting += d
	if d > 0 && c.m.counting && now >= c.grid.warmup && now < c.grid.end {
		k := c.grid.index(now)
		q.rows[k].max = max(q.rows[k].max, q.waiting)
	}
}

// callback counts one callback of callback queue qi, asked for at
// requested after the warm-up, in the interval it was asked in, as the
// result counts the callback queue: offered; answered once dialled
// (waited: to its first attempt); abandoned when it finished undialled;
// waiting at the end when still undialled. Called once per callback, at
// the end of the replication.
func (c *intervalCollector) callback(qi int, requested time.Time, dialled bool, waited time.Duration, finished bool) {
	at := requested.Sub(clock.Epoch)
	if at < c.grid.warmup || at >= c.grid.end {
		return
	}
	row := &c.queues[qi].rows[c.grid.index(at)]
	row.offered++
	switch {
	case dialled:
		row.answered++
		row.waitAnswered += waited
		if waited <= c.queues[qi].slTarget {
			row.answeredInSL++
		}
	case finished:
		row.abandoned++
	default:
		row.waiting++
	}
}

// sampleAgents counts the agents logged in and busy, per group and per
// queue they serve, and plans the next sample.
func (c *intervalCollector) sampleAgents() {
	c.fired++
	now := c.m.clk.Elapsed()
	k := c.grid.index(now)
	c.out.samples[k]++
	for i, a := range c.m.srv.Agents() {
		st := a.State()
		if st == tserver.LoggedOut {
			continue
		}
		busy := int64(0)
		if st == tserver.Reserved || st == tserver.Busy || st == tserver.AfterCallWork {
			busy = 1
		}
		g := &c.out.groups[c.agentGroup[i]][k]
		g.staffed++
		g.busy += busy
		for _, qi := range c.agentQueues[i] {
			row := &c.queues[qi].rows[k]
			row.staffed++
			row.busy += busy
		}
	}
	if now+c.sampleEvery < c.grid.end {
		c.m.clk.AfterFunc(c.sampleEvery, c.sampleAgents)
	}
}

// finish closes the queues' time integrals at the end of the run and
// returns the replication's figures.
func (c *intervalCollector) finish() replicationIntervals {
	for qi := range c.queues {
		c.integrate(&c.queues[qi], c.grid.end)
	}
	return c.out
}
