package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// callbackTag is the Tag of the interactions that carry callbacks in
// tserver: they belong to no traffic model.
const callbackTag = -1

// A simulated presence report holds for the whole run: a customer's
// status is drawn once.
const presenceTTL = 1000 * 24 * time.Hour

// callbackLine is how the customers of one traffic line take callbacks
// (config.CallbackModel).
type callbackLine struct {
	offerAfter time.Duration
	accept     float64
	mode       callback.Mode
	origin     callback.Origin
	// statuses, by cumulative share; one offline status when the
	// scenario gives no presence.
	statuses []statusShare
	ring     sampler
	// targets are the media to try per status, in order; maxAttempts and
	// pause the rest of the customers' preferences; hours their allowed
	// hours.
	targets     map[callback.Status][]callback.Medium
	maxAttempts int
	pause       time.Duration
	hours       callback.Hours
	// queue is the line's queue (the request's), cbQueue the index in
	// f.Queues of its callback queue.
	queue   string
	cbQueue int
}

type statusShare struct {
	upTo   float64
	status callback.Status
	reach  reach
}

// reach is a cumulative table of the results of an attempt.
type reach [4]float64

var reachResults = [4]callback.Result{callback.ResultAnswered, callback.ResultBusy, callback.ResultNoAnswer, callback.ResultUnreachable}

func newReach(r *config.Reach) reach {
	return reach{r.Answered, r.Answered + r.Busy, r.Answered + r.Busy + r.NoAnswer, 1}
}

// draw returns the result of an attempt for u uniform in [0, 1).
func (r reach) draw(u float64) callback.Result {
	for i, upTo := range r {
		if u < upTo {
			return reachResults[i]
		}
	}
	return callback.ResultUnreachable
}

// newCallbackLine builds traffic line t's callback model, or nil when it
// has none; queueIndex maps queue names to their index in f.Queues.
func newCallbackLine(f *config.File, t *config.Traffic, queue string, queueIndex map[string]int, src rand.Source) (*callbackLine, error) {
	m := t.Callback
	if m == nil {
		return nil, nil
	}
	cbq := f.Queues[queueIndex[queue]].CallbackQueue
	if cbq == "" {
		return nil, fmt.Errorf("sim: queue %q has no callback_queue for its callbacks", queue)
	}
	l := &callbackLine{
		offerAfter: m.OfferAfterEWT.D(),
		accept:     m.Accept,
		mode:       callback.Mode(m.Mode),
		origin:     callback.OriginVoice,
		ring:       newSampler(cmp.Or(m.Ring, &config.Distribution{Constant: &config.Constant{Value: config.Duration(config.DefaultCallbackRing)}}), src),
		targets:    map[callback.Status][]callback.Medium{},
		queue:      queue,
		cbQueue:    queueIndex[cbq],
	}
	if t.Media == "im" {
		l.origin = callback.OriginIM
	}
	line := newReach(m.Reach)
	if p := m.Presence; p != nil {
		var upTo float64
		for _, s := range []struct {
			status callback.Status
			share  *config.PresenceShare
		}{{callback.Online, p.Online}, {callback.Idle, p.Away}, {callback.Offline, p.Offline}, {callback.Busy, p.DND}} {
			if s.share == nil || s.share.Share == 0 {
				continue
			}
			upTo += s.share.Share
			r := line
			if s.share.Reach != nil {
				r = newReach(s.share.Reach)
			}
			l.statuses = append(l.statuses, statusShare{upTo: upTo, status: s.status, reach: r})
		}
		l.statuses[len(l.statuses)-1].upTo = 1
	} else {
		l.statuses = []statusShare{{upTo: 1, status: callback.Offline, reach: line}}
	}
	prefs := m.Preferences
	for _, s := range []struct {
		status callback.Status
		media  []string
	}{{callback.Online, prefs.Online}, {callback.Idle, prefs.Away}, {callback.Offline, prefs.Offline}} {
		media := []callback.Medium{}
		for _, name := range s.media {
			media = append(media, callback.Medium(name))
		}
		l.targets[s.status] = media
	}
	l.maxAttempts, l.pause = prefs.MaxAttempts, prefs.Pause.D()
	if h := prefs.Hours; h != nil {
		hours, err := callback.ConfigHours(h)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		l.hours = hours
	}
	return l, nil
}

// callbacks is one replication's callback server: the callback package's
// Scheduler, on the replication's virtual clock, decides when and where
// each callback is dialled, exactly as `serve` runs it; it queues them in
// the simulated center's callback queues (Queues, as internal/live's
// wiring does on tserver) and its Dialer draws each attempt's result from
// the scenario after a drawn ring time. Every simulated customer is one
// callback's, with a number, the preferences of its traffic line and a
// presence status drawn once.
type callbacks struct {
	// CallbackQueues are the scheduler's Queues: tserver's callback
	// queues, as in serve.
	*tserver.CallbackQueues
	m       *model
	sched   *callback.Scheduler
	tracker *callback.Tracker
	dir     callback.MemoryDirectory
	// customers, by customer number; of each callback, by ID.
	customers  map[string]*simCustomer
	ofCallback map[string]*simCustomer
	// made counts the customers made, for their numbers.
	made int
	// asking is the customer whose request the scheduler is taking: it
	// may be dialled before Request returns its ID.
	asking *simCustomer
	// offers counts, per callback queue, the customers offered a
	// callback since the warm-up.
	offers []int64
}

var (
	_ callback.Queues = (*callbacks)(nil)
	_ callback.Dialer = (*callbacks)(nil)
)

// simCustomer is the simulated customer of one callback.
type simCustomer struct {
	line *callbackLine
	// number is the customer number (also the number dialled);
	// requested when the callback was asked for.
	number    string
	requested time.Time
	handle    sampler
	reach     reach
	// counted: the callback was asked for after the warm-up.
	counted bool
	// dialled: an attempt started (the callback left its queue's wait);
	// answered: the customer answered (customer first: the interaction
	// offered to an agent is the customer on the line).
	dialled, answered bool
}

// newCallbacks returns the callback server of replication m, or nil when
// no traffic line takes callbacks.
func newCallbacks(m *model, f *config.File) (*callbacks, error) {
	takes := false
	for i := range m.traffic {
		if m.traffic[i].callback != nil {
			takes = true
		}
	}
	if !takes {
		return nil, nil
	}
	cb := &callbacks{
		CallbackQueues: tserver.NewCallbackQueues(m.srv, f),
		m:              m, dir: callback.MemoryDirectory{},
		customers: map[string]*simCustomer{}, ofCallback: map[string]*simCustomer{}, offers: make([]int64, len(f.Queues)),
	}
	// Its interactions are the callback model's (Offer).
	cb.Complete = func(_ callback.Request, in *tserver.Arrival) { in.Tag = callbackTag }
	cb.tracker = callback.NewTracker(m.clk, callback.DefaultRules(), nil)
	var err error
	cb.sched, err = callback.NewScheduler(callback.Config{
		Clock: m.clk, Directory: cb.dir, Tracker: cb.tracker, Queues: cb, Dialer: cb,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return cb, nil
}

// offer: waiting interaction id of traffic line tag has just entered its
// queue. If its own estimated wait is over the line's threshold, its
// customer is offered a callback and, with the line's probability, takes
// it: the callback server gets the request, keeping the customer's place
// (requested at the interaction's arrival), and the interaction leaves
// its queue counted as callback (tserver.LeaveForCallback), as a caller's
// key press does live.
func (cb *callbacks) offer(id pbx.ConnID, tag int) {
	m := cb.m
	t := &m.traffic[tag]
	l := t.callback
	c := m.srv.Contact(id)
	if c == nil || c.State != pbx.Queued {
		return
	}
	_, ewt, err := m.srv.Position(id)
	if err != nil || ewt.Staffing <= l.offerAfter {
		return
	}
	if m.counting {
		cb.offers[l.cbQueue]++
	}
	if m.rng.Float64() >= l.accept {
		return
	}
	cu := cb.newCustomer(l, t.handle, c.Arrived())
	number := cu.number
	cb.asking = cu
	r, err := cb.sched.Request(callback.Request{
		Queue: l.queue, Customer: number, Number: number, Requested: cu.requested, Mode: l.mode, Origin: l.origin,
	})
	cb.asking = nil
	if err != nil {
		// Refused (the scenario's queues are checked: not expected):
		// the customer waits on.
		cb.waitChanges(l.cbQueue, -1)
		delete(cb.customers, number)
		delete(cb.dir, number)
		return
	}
	cb.ofCallback[r.ID] = cu
	if c := m.srv.Contact(id); c != nil && c.State == pbx.Queued {
		m.waitEnds(t.queue, c)
		_ = m.srv.LeaveForCallback(id)
	}
}

// newCustomer makes the customer of a new callback of line l: a number,
// the line's preferences and a drawn presence status, reported to the
// tracker (online, away: a SIP softphone saying so; dnd: one saying
// do-not-disturb; offline: no device).
func (cb *callbacks) newCustomer(l *callbackLine, handle sampler, requested time.Time) *simCustomer {
	m := cb.m
	cb.made++
	number := strconv.Itoa(100_000_000 + cb.made)
	u := m.rng.Float64()
	st := l.statuses[len(l.statuses)-1]
	for _, s := range l.statuses {
		if u < s.upTo {
			st = s
			break
		}
	}
	prefs := callback.Preferences{ByStatus: map[callback.Status][]callback.Target{}, Hours: l.hours, MaxAttempts: l.maxAttempts, Pause: l.pause}
	for status, media := range l.targets {
		targets := make([]callback.Target, 0, len(media))
		for _, md := range media {
			address := number
			if md == callback.SIP {
				address = "sim" + number
			}
			targets = append(targets, callback.Target{Medium: md, Address: address})
		}
		prefs.ByStatus[status] = targets
	}
	cb.dir[number] = callback.Customer{Number: number, Prefs: prefs}
	cu := &simCustomer{line: l, number: number, requested: requested, handle: handle, reach: st.reach, counted: m.counting}
	cb.customers[number] = cu
	show := callback.Show("")
	switch st.status {
	case callback.Online:
		show = callback.Available
	case callback.Idle:
		show = callback.Away
	case callback.Busy:
		show = callback.DoNotDisturb
	}
	if show != "" {
		cb.tracker.Report(number, callback.Report{Device: "sim" + number, Medium: callback.SIP, Show: show, At: m.clk.Now(), TTL: presenceTTL})
	}
	// The callback waits in its callback queue from now until it is
	// first dialled.
	cb.waitChanges(l.cbQueue, +1)
	return cu
}

// waitChanges moves the number of callbacks waiting to be dialled in
// callback queue qi by d.
func (cb *callbacks) waitChanges(qi, d int) {
	m := cb.m
	m.intervals.callbacksWaiting(qi, d)
	q := &m.queues[qi]
	q.advance(m.clk.Elapsed(), m.counting)
	q.waiting += d
	if m.counting {
		q.max = max(q.max, q.waiting)
	}
}

// customerOf returns the customer of callback id, or nil.
func (cb *callbacks) customerOf(id string) *simCustomer {
	if cu := cb.ofCallback[id]; cu != nil {
		return cu
	}
	return cb.asking
}

// Dial implements callback.Dialer: the attempt's result is drawn from the
// customer's reach now and reported after a drawn ring time.
func (cb *callbacks) Dial(id string, attempt int, _ callback.Target, mode callback.Mode) {
	cu := cb.customerOf(id)
	if cu == nil {
		cb.m.clk.AfterFunc(0, func() { _ = cb.sched.Result(id, attempt, callback.ResultUnreachable) })
		return
	}
	if !cu.dialled {
		cu.dialled = true
		cb.waitChanges(cu.line.cbQueue, -1)
	}
	ring := cu.line.ring()
	res := cu.reach.draw(cb.m.rng.Float64())
	cb.m.clk.AfterFunc(ring, func() { cb.result(id, attempt, res, mode) })
}

// result reports how attempt of callback id ended. An answered
// agent-first callback is talked for the traffic's handle time and
// released; an answered customer-first one is queued as a call in its
// callback queue, keeping its place, for the next agent.
func (cb *callbacks) result(id string, attempt int, res callback.Result, mode callback.Mode) {
	if err := cb.sched.Result(id, attempt, res); err != nil || res != callback.ResultAnswered {
		return // ended already (unknown after the attempt timeout), or the scheduler goes on
	}
	m := cb.m
	cu := cb.customerOf(id)
	cu.answered = true
	if mode == callback.CustomerFirst {
		cq, _ := cb.Queue(cu.line.queue)
		in := &tserver.Arrival{Media: pbx.Callback, DNIS: cq, ANI: cu.number, Tag: callbackTag,
			Priority: callback.CustomerFirstPriority, Since: cu.requested}
		in.UserData.Set(tserver.CallbackIDKey, id)
		_, _ = m.srv.Arrive(in)
		return
	}
	conn, ok := cb.Interaction(id)
	if !ok {
		return
	}
	cb.Forget(conn)
	cb.hangUpAfter(conn, cu.handle())
}

// hangUpAfter releases callback interaction conn after d, if it is still
// connected then.
func (cb *callbacks) hangUpAfter(conn pbx.ConnID, d time.Duration) {
	m := cb.m
	m.clk.AfterFunc(d, func() {
		if c := m.srv.Contact(conn); c != nil && (c.State == pbx.Established || c.State == pbx.Held) {
			_ = m.srv.ReleaseCall(conn)
		}
	})
}

// offered is the simulated agent's side of a callback interaction: it
// answers at once; then, agent first, the scheduler picks whom to call
// (Scheduler.Pick, which has the Dialer dial), or postpones and the
// interaction ends. A customer-first callback's interaction is the
// customer already on the line: the agent talks the handle time.
func (cb *callbacks) offered(c *tserver.Contact) {
	m := cb.m
	id, _ := c.UserData.Get(tserver.CallbackIDKey)
	conn := c.ID
	if err := m.srv.AnswerCall(conn); err != nil {
		return
	}
	cb.Taken(id)
	cu := cb.customerOf(id)
	switch {
	case cu == nil:
		_ = m.srv.ReleaseCall(conn)
		return
	case cu.answered:
		// Customer first: the customer answered and waited for an agent.
		cb.hangUpAfter(conn, cu.handle())
		return
	}
	cb.Bind(conn, id)
	if _, err := cb.sched.Pick(id); err != nil {
		if _, still := cb.Callback(conn); still {
			cb.Forget(conn)
			_ = m.srv.ReleaseCall(conn)
		}
	}
}

// callbackOutcome is one callback queue's callbacks in one replication,
// those asked for after the warm-up.
type callbackOutcome struct {
	offers, callbacks, done, failed, cancelled, pendingAtEnd int64
	attempts                                                 int64
	// attemptResults counts the attempts by result (answered, busy,
	// no_answer, unreachable, unknown; in flight at the end: "").
	attemptResults map[callback.Result]int64
	// The callback queue's own figures: dialled (its first attempt
	// started), within its service-level target, the waits from the
	// request to the first attempt, and of those not dialled yet.
	dialled, dialledInSL, waited int64
	waitDialled, waitAtEnd       time.Duration
	neverDialled                 int64 // finished without an attempt
	waitingAtEnd                 int64 // pending, never dialled yet
}

// outcomes sums the callbacks per callback queue (indexed like f.Queues)
// at the end of the run, end after the start.
func (cb *callbacks) outcomes(f *config.File, end time.Time) ([]callbackOutcome, []callback.Request) {
	out := make([]callbackOutcome, len(f.Queues))
	for qi := range out {
		out[qi].offers = cb.offers[qi]
	}
	reqs := cb.sched.List("")
	for _, r := range reqs {
		cu := cb.customers[r.Customer]
		if cu == nil || !cu.counted {
			continue
		}
		qi := cu.line.cbQueue
		o := &out[qi]
		if o.attemptResults == nil {
			o.attemptResults = map[callback.Result]int64{}
		}
		o.callbacks++
		switch r.State {
		case callback.Done:
			o.done++
		case callback.Failed:
			o.failed++
		case callback.Cancelled:
			o.cancelled++
		default:
			o.pendingAtEnd++
		}
		o.attempts += int64(len(r.Attempts))
		for _, a := range r.Attempts {
			o.attemptResults[a.Result]++
		}
		var firstWait time.Duration
		if len(r.Attempts) > 0 {
			firstWait = r.Attempts[0].At.Sub(r.Requested)
		}
		cb.m.intervals.callback(qi, r.Requested, len(r.Attempts) > 0, firstWait, r.State.Finished())
		switch {
		case len(r.Attempts) > 0:
			wait := firstWait
			o.dialled++
			o.waitDialled += wait
			if wait <= f.Queues[qi].SLTarget.D() {
				o.dialledInSL++
			}
			if wait > 0 {
				o.waited++
			}
		case r.State.Finished():
			o.neverDialled++
			o.waited++
		default:
			o.waitingAtEnd++
			o.waitAtEnd += end.Sub(r.Requested)
			o.waited++
		}
	}
	return out, reqs
}
