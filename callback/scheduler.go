package callback

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
)

// Queues is the center's side of callbacks: tserver's queues, where an
// agent-first callback waits as an interaction of media callback. The
// wiring implements it on tserver; it is called on the domain's
// goroutine.
type Queues interface {
	// Known reports whether queue is a queue callbacks may be queued in.
	Known(queue string) bool
	// Enqueue puts callback r in its queue r.Queue as an interaction of
	// media callback arrived at r.Requested, so that it keeps the place
	// the customer had (virtual hold). When an agent is offered it, the
	// wiring calls Scheduler.Pick (also from inside Enqueue). An error
	// leaves the callback pending: the scheduler tries again each Tick.
	Enqueue(r Request) error
	// Withdraw takes callback id out of the center: out of its queue, or
	// if an agent was offered it or is on it, the offer ends and the
	// agent is free. An id the center does not hold is ignored. The
	// scheduler calls it when an agent-first callback is postponed, waits
	// out a pause or an attempt's timeout, fails or is cancelled; never
	// once answered (agent and customer talk on it).
	Withdraw(id string)
	// EWT is the estimated wait of an interaction entering queue now;
	// false when the queue has none to give.
	EWT(queue string) (time.Duration, bool)
}

// Dialer places the calls of callbacks: the SIP gateway, to a
// customer's registered SIP device or a number through the trunk.
type Dialer interface {
	// Dial places attempt (numbered from 1) of callback id to t, and
	// reports how it ended with Scheduler.Result(id, attempt, result),
	// later or from inside Dial. In AgentFirst mode the agent the
	// callback was offered to (the wiring knows which) is rung first,
	// then t, and they are bridged: the agent hears ringback. In
	// CustomerFirst mode t is called alone and, once it answers (the
	// result is then answered), the dialer queues the call at the head
	// of the callback's queue (arrived at Requested: the oldest there)
	// with a short prompt, for the next agent. A result not reported
	// within Config.AttemptTimeout makes the attempt unknown.
	Dial(id string, attempt int, t Target, mode Mode)
}

// Notifier sends short texts to customers: an IM heads-up before a
// call, alerts.
type Notifier interface {
	// Notify sends text to customer over medium: xmpp, the customer's IM
	// network; sip, a SIP MESSAGE; web, the customer's open page. Best
	// effort, and it must not block.
	Notify(customer string, medium Medium, text string)
}

type nopNotifier struct{}

func (nopNotifier) Notify(string, Medium, string) {}

// NopNotifier returns a Notifier that sends nothing.
func NopNotifier() Notifier { return nopNotifier{} }

// Config configures a Scheduler.
type Config struct {
	// Clock is the domain's only source of time. Required.
	Clock clock.Clock
	// Directory finds customers; nil: none (callbacks to numbers only).
	Directory Directory
	// Tracker is the customers' presence; nil: a tracker of the
	// scheduler's own that nobody reports to (everyone offline).
	Tracker *Tracker
	// Queues and Dialer are required.
	Queues Queues
	Dialer Dialer
	// Notifier sends heads-ups and alerts; nil: NopNotifier.
	Notifier Notifier
	// Journal records requests and alerts; nil: NopJournal.
	Journal Journal
	// AttemptTimeout is how long an attempt may go without a result
	// before it counts as unknown and the callback is tried again
	// (default 2 min).
	AttemptTimeout time.Duration
	// Tick is how often customer-first callbacks and alerts are checked
	// (default 5 s). The tick runs only while there is something to
	// check.
	Tick time.Duration
	// Lead: a customer-first callback is dialled once its queue's EWT is
	// at most Lead (default 0: when the wait is over).
	Lead time.Duration
}

// The scheduler's defaults.
const (
	DefaultAttemptTimeout = 2 * time.Minute
	DefaultTick           = 5 * time.Second
)

// Scheduler keeps callback requests and decides when and where each is
// dialled (README: the dialer's rules). It belongs to the domain's
// goroutine, like the clock's callbacks.
type Scheduler struct {
	clock          clock.Clock
	directory      Directory
	tracker        *Tracker
	queues         Queues
	dialer         Dialer
	notifier       Notifier
	journal        Journal
	attemptTimeout time.Duration
	tickEvery      time.Duration
	lead           time.Duration

	entries map[string]*entry
	all     []*entry // every request, by ID
	active  []*entry // the unfinished ones, by ID
	// byCustomer: the unfinished ones of each customer, by ID (a presence
	// change looks at the customer's own, whatever the center's load).
	byCustomer map[string][]*entry
	lastID     int

	alerts      []*Alert // by ID
	alertByID   map[string]*Alert
	lastAlertID int

	tick     clock.Timer
	unlisten func()
}

// waiting is what a pending request waits for.
type waiting uint8

const (
	waitNothing  waiting = iota // finished, or dialing
	waitTime                    // NextTry: At, a pause, the customer's hours, an attempt's timeout
	waitQueue                   // agent-first: in its queue, for an agent
	waitEnqueue                 // agent-first: Enqueue failed, tried again each tick
	waitEWT                     // customer-first: its queue's EWT, each tick
	waitPresence                // the customer: do-not-disturb, or no target reaches them
)

type entry struct {
	r     Request
	wait  waiting
	timer clock.Timer
	// inCenter: the center holds it (queued, offered to an agent).
	inCenter bool
}

// NewScheduler returns a scheduler with no request; Restore brings back
// those of a previous run.
func NewScheduler(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Clock == nil:
		return nil, fmt.Errorf("callback: scheduler: no clock: %w", ErrInvalid)
	case cfg.Queues == nil:
		return nil, fmt.Errorf("callback: scheduler: no queues: %w", ErrInvalid)
	case cfg.Dialer == nil:
		return nil, fmt.Errorf("callback: scheduler: no dialer: %w", ErrInvalid)
	}
	s := &Scheduler{
		clock:          cfg.Clock,
		directory:      cfg.Directory,
		tracker:        cfg.Tracker,
		queues:         cfg.Queues,
		dialer:         cfg.Dialer,
		notifier:       cfg.Notifier,
		journal:        cfg.Journal,
		attemptTimeout: cmp.Or(cfg.AttemptTimeout, DefaultAttemptTimeout),
		tickEvery:      cmp.Or(cfg.Tick, DefaultTick),
		lead:           max(cfg.Lead, 0),
		entries:        map[string]*entry{},
		byCustomer:     map[string][]*entry{},
		alertByID:      map[string]*Alert{},
	}
	if s.directory == nil {
		s.directory = MemoryDirectory(nil)
	}
	if s.tracker == nil {
		s.tracker = NewTracker(cfg.Clock, DefaultRules(), nil)
	}
	if s.notifier == nil {
		s.notifier = NopNotifier()
	}
	if s.journal == nil {
		s.journal = NopJournal()
	}
	s.unlisten = s.tracker.Listen(s.presenceChanged)
	return s, nil
}

// Close stops the scheduler's timers and its presence listener; the
// requests stay as they are (the journal has them).
func (s *Scheduler) Close() {
	for _, e := range s.active {
		s.stopTimer(e)
	}
	if s.tick != nil {
		s.tick.Stop()
		s.tick = nil
	}
	s.unlisten()
}

// Request accepts a callback request and returns it as kept, with its
// ID. r's ID, State, Attempts, NextTry and Round are the scheduler's:
// their values in r are ignored. Requested zero is now; Mode empty is
// AgentFirst. A request names a known queue and a known customer, or a
// number to call; a scheduled At must fall in the customer's allowed
// hours (ErrOutsideHours). A request as soon as possible is accepted
// outside them and waits for them. On error nothing is kept.
//
// Accepted, it is journaled, then: scheduled for later, it waits for
// At; else an agent-first callback is put in its queue (Queues.Enqueue)
// and a customer-first one waits for its queue's EWT (each Tick).
func (s *Scheduler) Request(r Request) (Request, error) {
	now := s.clock.Now()
	bad := func(format string, args ...any) (Request, error) {
		return Request{}, fmt.Errorf("callback: request: "+format, args...)
	}
	if r.Requested.IsZero() {
		r.Requested = now
	}
	if r.Mode == "" {
		r.Mode = AgentFirst
	}
	var prefs Preferences
	switch {
	case r.Requested.After(now):
		return bad("requested %s is in the future: %w", r.Requested.Format(time.RFC3339), ErrInvalid)
	case !r.Mode.Valid():
		return bad("mode %q: want %q or %q: %w", r.Mode, AgentFirst, CustomerFirst, ErrInvalid)
	case r.Origin != "" && !r.Origin.Valid():
		return bad("origin %q: want %s, %s, %s or %s: %w", r.Origin, OriginIM, OriginVoice, OriginCTI, OriginREST, ErrInvalid)
	case r.Queue == "":
		return bad("no queue: %w", ErrInvalid)
	case r.Customer == "" && r.Number == "":
		return bad("neither a customer nor a number to call: %w", ErrInvalid)
	}
	if r.Number != "" {
		if err := checkNumber(r.Number); err != nil {
			return bad("%w: %w", err, ErrInvalid)
		}
	}
	if !s.queues.Known(r.Queue) {
		return bad("queue %q: %w", r.Queue, ErrUnknownQueue)
	}
	if r.Customer != "" {
		c, ok := s.directory.Customer(r.Customer)
		if !ok {
			return bad("customer %q: %w", r.Customer, ErrUnknownCustomer)
		}
		if err := c.Prefs.Validate(); err != nil {
			return bad("customer %q: %w: %w", r.Customer, err, ErrInvalid)
		}
		prefs = c.Prefs
	}
	switch {
	case r.At.After(now) && !prefs.Hours.Allows(r.At):
		return bad("at %s: %w", r.At.Format(time.RFC3339), ErrOutsideHours)
	case !r.At.After(now):
		if _, ok := prefs.Hours.Next(now); !ok {
			return bad("customer %q: the allowed hours never allow a call: %w", r.Customer, ErrOutsideHours)
		}
	}
	s.lastID++
	r.ID = "cb-" + strconv.Itoa(s.lastID)
	r.State, r.Attempts, r.NextTry, r.Round = Pending, nil, time.Time{}, 0
	e := &entry{r: r}
	s.entries[r.ID] = e
	s.all = append(s.all, e)
	s.active = append(s.active, e)
	s.indexCustomer(e)
	if r.At.After(now) {
		s.waitUntil(e, r.At)
		s.save(e)
	} else {
		s.save(e)
		s.admit(e)
	}
	return e.r.clone(), nil
}

// Pick chooses where to call callback id now and starts the attempt:
// the wiring calls it when an agent is offered an agent-first callback
// (the scheduler calls it itself for customer-first ones). The target
// is the first of the customer's preferences for their combined status
// that reaches them (a SIP target needs the customer's SIP device
// reachable; a number always is) and was not tried in vain in this
// round; a request with no customer calls its number. The attempt is
// recorded (result "" while in flight), the request is dialing, and
// Dialer.Dial is called; the target is returned, for the offer's
// attached data.
//
// When nobody can be called now, Pick returns ErrPostponed and the
// callback has left the center (Queues.Withdraw, from inside Pick): it
// waits for the customer's next presence change (do-not-disturb, no
// target reaches them), the start of their allowed hours, or a pause
// (every target tried in this round). A callback that is not waiting in
// its queue gives ErrConflict.
func (s *Scheduler) Pick(id string) (Target, error) {
	e := s.entries[id]
	switch {
	case e == nil:
		return Target{}, fmt.Errorf("callback: pick %q: %w", id, ErrUnknownCallback)
	case e.r.State != Pending || (e.wait != waitQueue && e.wait != waitEWT):
		return Target{}, fmt.Errorf("callback: pick %s: it is %s, not waiting in its queue: %w", id, e.describe(), ErrConflict)
	}
	if e.r.Mode == AgentFirst {
		e.inCenter = true // offered to an agent
	}
	t, v := s.choose(e)
	if v.why != chosen {
		s.postpone(e, v)
		return Target{}, fmt.Errorf("callback: pick %s: %s: %w", id, v, ErrPostponed)
	}
	s.dial(e, t)
	return t, nil
}

// Planned is the target Pick would choose for callback id now, without
// starting an attempt; false when nobody would be called (or id is not
// known). The wiring shows it to the agent the callback is offered to.
func (s *Scheduler) Planned(id string) (Target, bool) {
	e := s.entries[id]
	if e == nil {
		return Target{}, false
	}
	t, v := s.choose(e)
	return t, v.why == chosen
}

// Result records how attempt of callback id ended (the dialer reports
// it): answered, busy, no_answer or unreachable. Answered makes the
// callback done. Else the next target of the round is dialled at once;
// when the round is over, the next round starts after the customer's
// Pause; the callback fails once MaxAttempts attempts have a result.
// An attempt that ended already gives ErrConflict, except an answer
// that comes after the attempt was given up as unknown: the customer
// was reached, the callback is done.
func (s *Scheduler) Result(id string, attempt int, res Result) error {
	e := s.entries[id]
	switch {
	case res != ResultAnswered && res != ResultBusy && res != ResultNoAnswer && res != ResultUnreachable:
		return fmt.Errorf("callback: result of %s: %q: want %s, %s, %s or %s: %w", id, res, ResultAnswered, ResultBusy, ResultNoAnswer, ResultUnreachable, ErrInvalid)
	case e == nil:
		return fmt.Errorf("callback: result of %q: %w", id, ErrUnknownCallback)
	case attempt < 1 || attempt > len(e.r.Attempts):
		return fmt.Errorf("callback: result of %s: no attempt %d (it has %d): %w", id, attempt, len(e.r.Attempts), ErrInvalid)
	}
	now := s.clock.Now()
	a := &e.r.Attempts[attempt-1]
	if a.Result != "" {
		if a.Result == ResultUnknown && res == ResultAnswered && !e.r.State.Finished() {
			a.Result, a.Ended = res, now
			if e.r.State == Pending {
				s.leaveCenter(e) // queued again: no agent needed now
			}
			s.finish(e, Done)
			return nil
		}
		return fmt.Errorf("callback: result of %s: attempt %d ended already (%s): %w", id, attempt, a.Result, ErrConflict)
	}
	a.Result, a.Ended = res, now
	if e.r.State.Finished() {
		// Done meanwhile by a late answer to an earlier attempt.
		s.save(e)
		return nil
	}
	s.stopTimer(e)
	s.afterAttempt(e)
	return nil
}

// afterAttempt decides what follows the attempt that just ended.
func (s *Scheduler) afterAttempt(e *entry) {
	last := e.r.Attempts[len(e.r.Attempts)-1]
	switch {
	case last.Result == ResultAnswered:
		s.finish(e, Done)
		return
	case last.Result == ResultUnknown:
		e.r.State = Pending
		s.leaveCenter(e)
		s.admit(e)
		return
	case e.r.counted() >= s.prefs(e).MaxAttempts:
		s.finish(e, Failed)
		return
	}
	e.r.State = Pending
	t, v := s.choose(e)
	if v.why != chosen {
		s.postpone(e, v)
		return
	}
	s.dial(e, t)
}

// Cancel withdraws callback id. A callback dialing, done, failed or
// cancelled already gives ErrConflict.
func (s *Scheduler) Cancel(id string) error {
	e := s.entries[id]
	switch {
	case e == nil:
		return fmt.Errorf("callback: cancel %q: %w", id, ErrUnknownCallback)
	case e.r.State != Pending:
		return fmt.Errorf("callback: cancel %s: it is %s: %w", id, e.r.State, ErrConflict)
	}
	s.finish(e, Cancelled)
	return nil
}

// Get returns callback id as it is now.
func (s *Scheduler) Get(id string) (Request, bool) {
	if e := s.entries[id]; e != nil {
		return e.r.clone(), true
	}
	return Request{}, false
}

// List returns the callbacks in state (every one when state is
// empty), sorted by ID.
func (s *Scheduler) List(state State) []Request {
	var out []Request
	for _, e := range s.all {
		if state == "" || e.r.State == state {
			out = append(out, e.r.clone())
		}
	}
	return out
}

// Restore brings back the callbacks journaled by a previous run, before
// any new request: done, failed and cancelled ones are kept for Get and
// List; pending and dialing ones are pending again and go back to their
// queue (with their original Requested, so they keep their place), to
// their EWT watch or to the time they wait for. An attempt that was in
// flight gets the result unknown, and the callback is tried again only
// once AttemptTimeout has passed since that attempt started: a dialer
// that was still calling has given up by then. A callback is never
// dialled again once answered. Invalid records (no ID, twice the same
// ID, an ID known already, an unknown state or mode) give ErrInvalid
// and nothing is restored.
func (s *Scheduler) Restore(reqs []Request) error {
	seen := map[string]bool{}
	for i, r := range reqs {
		switch {
		case r.ID == "":
			return fmt.Errorf("callback: restore: record %d has no id: %w", i+1, ErrInvalid)
		case seen[r.ID] || s.entries[r.ID] != nil:
			return fmt.Errorf("callback: restore: %s twice: %w", r.ID, ErrInvalid)
		case !r.State.Valid():
			return fmt.Errorf("callback: restore: %s: state %q: %w", r.ID, r.State, ErrInvalid)
		case !r.Mode.Valid():
			return fmt.Errorf("callback: restore: %s: mode %q: %w", r.ID, r.Mode, ErrInvalid)
		case r.Queue == "":
			return fmt.Errorf("callback: restore: %s: no queue: %w", r.ID, ErrInvalid)
		}
		seen[r.ID] = true
	}
	now := s.clock.Now()
	var back []*entry
	for _, r := range reqs {
		e := &entry{r: r.clone()}
		s.entries[r.ID] = e
		s.all = append(s.all, e)
		if n, ok := strings.CutPrefix(r.ID, "cb-"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				s.lastID = max(s.lastID, v)
			}
		}
		if r.State.Finished() {
			continue
		}
		if i := e.r.inFlight(); i >= 0 {
			a := &e.r.Attempts[i]
			a.Result, a.Ended = ResultUnknown, now
			if retry := a.At.Add(s.attemptTimeout); retry.After(e.r.NextTry) {
				e.r.NextTry = retry
			}
		}
		e.r.State = Pending
		s.active = append(s.active, e)
		back = append(back, e)
	}
	slices.SortFunc(s.all, func(a, b *entry) int { return compareIDs(a.r.ID, b.r.ID) })
	slices.SortFunc(s.active, func(a, b *entry) int { return compareIDs(a.r.ID, b.r.ID) })
	slices.SortFunc(back, func(a, b *entry) int { return compareIDs(a.r.ID, b.r.ID) })
	clear(s.byCustomer)
	for _, e := range s.active {
		s.indexCustomer(e)
	}
	for _, e := range back {
		due := e.r.NextTry
		if e.r.At.After(due) {
			due = e.r.At
		}
		if due.After(now) {
			s.waitUntil(e, due)
			s.save(e)
			continue
		}
		e.r.NextTry = time.Time{}
		s.save(e)
		s.admit(e)
	}
	return nil
}

// compareIDs orders IDs of one prefix by their number: cb-9 before
// cb-10.
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// Presence changes: a callback waiting for its customer is tried again;
// one in its queue whose customer turned do-not-disturb, or that no
// target reaches any more, leaves the queue until the next change.
func (s *Scheduler) presenceChanged(customer string, _ Presence) {
	for _, e := range slices.Clone(s.byCustomer[customer]) {
		if e.r.State != Pending {
			continue
		}
		switch e.wait {
		case waitPresence:
			s.admit(e)
		case waitQueue, waitEnqueue, waitEWT:
			if _, v := s.choose(e); v.why == dnd || v.why == nobody {
				s.postpone(e, v)
			}
		}
	}
}

// reason is why nobody is called now.
type reason uint8

const (
	chosen    reason = iota // a target is chosen
	outside                 // outside the customer's allowed hours
	dnd                     // the customer says do-not-disturb
	nobody                  // no target reaches the customer now
	roundOver               // every target reachable was tried in this round
	gone                    // the customer is no longer known, and no number
)

type verdict struct {
	why      reason
	customer string
	status   Status
	next     time.Time // outside: when the hours allow; zero: never
}

func (v verdict) String() string {
	switch v.why {
	case outside:
		if v.next.IsZero() {
			return fmt.Sprintf("customer %s's allowed hours never allow a call", v.customer)
		}
		return fmt.Sprintf("outside customer %s's allowed hours until %s", v.customer, v.next.Format(time.RFC3339))
	case dnd:
		return fmt.Sprintf("customer %s is do-not-disturb", v.customer)
	case nobody:
		return fmt.Sprintf("no target reaches customer %s now (%s)", v.customer, v.status)
	case roundOver:
		return "every target was tried in this round"
	case gone:
		return fmt.Sprintf("customer %s is not known and there is no number", v.customer)
	}
	return "a target is chosen"
}

// prefs returns the preferences that apply to e, with their defaults.
func (s *Scheduler) prefs(e *entry) Preferences {
	if e.r.Customer != "" {
		if c, ok := s.directory.Customer(e.r.Customer); ok {
			return c.Prefs.withDefaults()
		}
	}
	return Preferences{}.withDefaults()
}

// choose applies the dialer's rules (README) to e now.
func (s *Scheduler) choose(e *entry) (Target, verdict) {
	now := s.clock.Now()
	v := verdict{customer: e.r.Customer}
	var (
		targets []Target
		p       = Presence{Status: Offline}
	)
	c, known := s.directory.Customer(e.r.Customer)
	switch {
	case e.r.Customer != "" && !known && e.r.Number == "":
		v.why = gone
		return Target{}, v
	case known:
		if !c.Prefs.Hours.Allows(now) {
			v.why = outside
			if next, ok := c.Prefs.Hours.Next(now); ok {
				v.next = next.In(c.Prefs.Hours.zone()) // said in the customer's time
			}
			return Target{}, v
		}
		p = s.tracker.Presence(e.r.Customer)
		v.status = p.Status
		if p.Status == Busy {
			v.why = dnd
			return Target{}, v
		}
		list, listed := c.Prefs.ByStatus[p.Status]
		switch {
		case listed:
			targets = list
		case e.r.Number != "":
			targets = []Target{{Medium: Phone, Address: e.r.Number}}
		}
	default:
		targets = []Target{{Medium: Phone, Address: e.r.Number}}
	}
	reachable := 0
	for _, t := range targets {
		switch {
		case t.Medium == Phone:
		case t.Medium == SIP && slices.Contains(p.Reachable, SIP):
		default:
			continue
		}
		reachable++
		if !s.tried(e, t) {
			v.why = chosen
			return t, v
		}
	}
	if reachable == 0 {
		v.why = nobody
	} else {
		v.why = roundOver
	}
	return Target{}, v
}

// tried reports whether t was tried in vain in e's current round.
func (s *Scheduler) tried(e *entry, t Target) bool {
	for _, a := range e.r.Attempts {
		if a.Round == e.r.Round && a.Medium == t.Medium && a.Target == t.Address &&
			(a.Result == ResultBusy || a.Result == ResultNoAnswer || a.Result == ResultUnreachable) {
			return true
		}
	}
	return false
}

// admit brings a pending e that waits for nothing more (its time has
// come) to where it waits for an agent or its EWT, or postpones it.
func (s *Scheduler) admit(e *entry) {
	s.stopTimer(e)
	e.r.NextTry = time.Time{}
	if _, v := s.choose(e); v.why != chosen {
		s.postpone(e, v)
		return
	}
	if e.r.Mode == CustomerFirst {
		e.wait = waitEWT
		s.save(e)
		s.armTick()
		return
	}
	e.wait, e.inCenter = waitQueue, true
	s.save(e)
	if err := s.queues.Enqueue(e.r.clone()); err != nil && e.wait == waitQueue && e.r.State == Pending {
		e.wait, e.inCenter = waitEnqueue, false
		s.armTick()
	}
}

// postpone makes e wait for what v says.
func (s *Scheduler) postpone(e *entry, v verdict) {
	s.leaveCenter(e)
	e.r.State = Pending
	switch v.why {
	case outside:
		if v.next.IsZero() {
			s.finish(e, Failed)
			return
		}
		s.waitUntil(e, v.next)
	case dnd, nobody:
		s.stopTimer(e)
		e.wait, e.r.NextTry = waitPresence, time.Time{}
	case roundOver:
		e.r.Round++
		s.waitUntil(e, s.clock.Now().Add(s.prefs(e).Pause))
	case gone:
		s.finish(e, Failed)
		return
	}
	s.save(e)
}

// waitUntil makes e wait for at (NextTry), then admits it.
func (s *Scheduler) waitUntil(e *entry, at time.Time) {
	s.stopTimer(e)
	e.wait, e.r.NextTry = waitTime, at
	var t clock.Timer
	t = s.clock.AfterFunc(at.Sub(s.clock.Now()), func() {
		if e.timer == t && e.wait == waitTime {
			e.timer = nil
			s.admit(e)
		}
	})
	e.timer = t
}

// dial starts an attempt of e to t.
func (s *Scheduler) dial(e *entry, t Target) {
	s.stopTimer(e)
	if e.r.Round == 0 {
		e.r.Round = 1
	}
	now := s.clock.Now()
	e.r.Attempts = append(e.r.Attempts, Attempt{Medium: t.Medium, Target: t.Address, At: now, Round: e.r.Round})
	e.r.State, e.wait, e.r.NextTry = Dialing, waitNothing, time.Time{}
	n := len(e.r.Attempts)
	var tm clock.Timer
	tm = s.clock.AfterFunc(s.attemptTimeout, func() {
		if e.timer == tm {
			e.timer = nil
			s.attemptTimedOut(e, n)
		}
	})
	e.timer = tm
	s.save(e)
	s.headsUp(e, t)
	s.dialer.Dial(e.r.ID, n, t, e.r.Mode)
}

// attemptTimedOut: attempt n had no result within AttemptTimeout.
func (s *Scheduler) attemptTimedOut(e *entry, n int) {
	if e.r.State != Dialing || e.r.inFlight() != n-1 {
		return
	}
	a := &e.r.Attempts[n-1]
	a.Result, a.Ended = ResultUnknown, s.clock.Now()
	s.afterAttempt(e)
}

// headsUp tells a customer reachable on IM that the call is coming.
func (s *Scheduler) headsUp(e *entry, t Target) {
	if e.r.Customer == "" || !slices.Contains(s.tracker.Presence(e.r.Customer).Reachable, XMPP) {
		return
	}
	on := t.Address
	if t.Medium == SIP {
		on = "your SIP phone"
	}
	s.notifier.Notify(e.r.Customer, XMPP, "We are calling you now on "+on+".")
}

// finish ends e in state.
func (s *Scheduler) finish(e *entry, state State) {
	s.stopTimer(e)
	if state != Done {
		s.leaveCenter(e)
	}
	e.inCenter = false
	e.r.State, e.wait, e.r.NextTry = state, waitNothing, time.Time{}
	// active is sorted by ID: find e by binary search, not a walk.
	if i, ok := slices.BinarySearchFunc(s.active, e.r.ID, func(x *entry, id string) int { return compareIDs(x.r.ID, id) }); ok {
		s.active = slices.Delete(s.active, i, i+1)
	}
	if c := e.r.Customer; c != "" {
		list := s.byCustomer[c]
		if i := slices.Index(list, e); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(s.byCustomer, c)
		} else {
			s.byCustomer[c] = list
		}
	}
	s.save(e)
}

// indexCustomer files unfinished e under its customer.
func (s *Scheduler) indexCustomer(e *entry) {
	if c := e.r.Customer; c != "" {
		s.byCustomer[c] = append(s.byCustomer[c], e)
	}
}

// leaveCenter withdraws e from the center if it is there.
func (s *Scheduler) leaveCenter(e *entry) {
	if e.inCenter {
		e.inCenter = false
		s.queues.Withdraw(e.r.ID)
	}
}

func (s *Scheduler) stopTimer(e *entry) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

func (s *Scheduler) save(e *entry) { s.journal.Save(e.r.clone()) }

// describe says what e is doing, for errors.
func (e *entry) describe() string {
	switch e.wait {
	case waitTime:
		return "pending until " + e.r.NextTry.Format(time.RFC3339)
	case waitEnqueue:
		return "pending, not yet queued"
	case waitPresence:
		return "pending, postponed until the customer's presence changes"
	}
	return string(e.r.State)
}

// armTick starts the periodic check if something needs it.
func (s *Scheduler) armTick() {
	if s.tick != nil || !s.needsTick() {
		return
	}
	s.tick = s.clock.AfterFunc(s.tickEvery, s.onTick)
}

func (s *Scheduler) needsTick() bool {
	for _, e := range s.active {
		if e.wait == waitEnqueue || e.wait == waitEWT {
			return true
		}
	}
	for _, a := range s.alerts {
		if a.Active {
			return true
		}
	}
	return false
}

// onTick: callbacks that failed to queue are queued again; for each
// queue, the customer-first callback that asked first is dialled if the
// queue's EWT is at most Lead (one a queue a tick: the EWT does not see
// the callbacks being dialled); alerts are checked.
func (s *Scheduler) onTick() {
	s.tick = nil
	for _, e := range slices.Clone(s.active) {
		if e.wait == waitEnqueue {
			s.admit(e)
		}
	}
	var watched []*entry
	for _, e := range s.active {
		if e.wait == waitEWT {
			watched = append(watched, e)
		}
	}
	slices.SortStableFunc(watched, func(a, b *entry) int { return a.r.Requested.Compare(b.r.Requested) })
	ewts := map[string]ewtReading{}
	dialled := map[string]bool{}
	for _, e := range watched {
		q := e.r.Queue
		if dialled[q] || e.wait != waitEWT {
			continue
		}
		if w := s.ewt(ewts, q); !w.ok || w.d > s.lead {
			continue
		}
		t, v := s.choose(e)
		if v.why != chosen {
			s.postpone(e, v)
			continue
		}
		dialled[q] = true
		s.dial(e, t)
	}
	s.checkAlerts(ewts)
	s.armTick()
}

type ewtReading struct {
	d  time.Duration
	ok bool
}

// ewt reads queue's EWT once a tick.
func (s *Scheduler) ewt(cache map[string]ewtReading, queue string) ewtReading {
	w, seen := cache[queue]
	if !seen {
		w.d, w.ok = s.queues.EWT(queue)
		cache[queue] = w
	}
	return w
}
