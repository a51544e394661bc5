// Package callback is the callback server's domain: a customer's presence
// gathered from several devices and networks and combined into one status
// and the media that reach the customer now (Tracker); the customer's
// preferences (targets per status, allowed hours in their zone, attempts,
// pause); callback requests, queued in their queue as media callback with
// their place kept, or dialled customer-first when the wait is over; the
// dialer's choice of target and its retries (Scheduler); alerts on the wait
// and before a scheduled callback. Like tserver it runs on a clock.Clock,
// does no I/O and starts no goroutine: adapters (XMPP, SIP, web, the store,
// tserver's queues) report what they see through Tracker.Report and
// Scheduler's methods, and carry out its decisions behind the interfaces it
// declares (Queues, Dialer, Notifier, Directory, Journal).
package callback

import (
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
)

// Show is what one device says of its user, in XMPP's words (RFC 6121
// §4.7.2.1), which the other networks map to: a SIP phone registered is
// available, one on a call or with PIDF "busy" is dnd, a web page open
// is available.
type Show string

// The shows a device reports.
const (
	Available    Show = "available"
	Chat         Show = "chat" // available and eager to talk
	Away         Show = "away"
	ExtAway      Show = "xa" // away for a long time
	DoNotDisturb Show = "dnd"
	Unavailable  Show = "unavailable" // gone: the device's report ends
)

// Medium is a way to reach a customer: the network of a device.
type Medium string

// The media presence comes from.
const (
	XMPP Medium = "xmpp"
	SIP  Medium = "sip"
	Web  Medium = "web"
)

// Status is a customer's combined presence.
type Status string

// The combined statuses, from most to least reachable.
const (
	Online  Status = "online"
	Idle    Status = "away"
	Busy    Status = "dnd"
	Offline Status = "offline"
)

// Report is what one device said of its customer, and when.
type Report struct {
	// Device names the device within its medium (a full JID, a SIP
	// contact, a web visitor key).
	Device string
	Medium Medium
	Show   Show
	// IdleSince is when the user stopped using the device (XEP-0319;
	// zero: in use or unknown).
	IdleSince time.Time
	// At is when the device said it.
	At time.Time
	// TTL is how long the report holds without a new one (zero: the
	// medium's default in Rules). A SIP registration holds until it
	// expires; XMPP presence until the device goes unavailable, but a
	// server that lost the client may never say so.
	TTL time.Duration
}

// Presence is a customer's combined presence: the status and the media
// that reach the customer now, sorted.
type Presence struct {
	Status    Status   `json:"status"`
	Reachable []Medium `json:"reachable"`
}

// Equal reports whether p and q say the same.
func (p Presence) Equal(q Presence) bool {
	return p.Status == q.Status && slices.Equal(p.Reachable, q.Reachable)
}

// Rules tune the combination.
type Rules struct {
	// TTL is how long a report holds by default, per medium (XMPP 24 h,
	// SIP 1 h, web 2 min: a page open reports itself again often).
	TTL map[Medium]time.Duration
	// IdleAway is how long a device may sit unused before an available
	// show counts as away (default 10 min).
	IdleAway time.Duration
}

// DefaultRules are the combination's defaults.
func DefaultRules() Rules {
	return Rules{
		TTL:      map[Medium]time.Duration{XMPP: 24 * time.Hour, SIP: time.Hour, Web: 2 * time.Minute},
		IdleAway: 10 * time.Minute,
	}
}

func (r Rules) ttl(rep Report) time.Duration {
	if rep.TTL > 0 {
		return rep.TTL
	}
	if d := r.TTL[rep.Medium]; d > 0 {
		return d
	}
	return time.Hour
}

// expires is when rep stops counting.
func (r Rules) expires(rep Report) time.Time { return rep.At.Add(r.ttl(rep)) }

// status is what one live report says, at now.
func (r Rules) status(rep Report, now time.Time) Status {
	switch rep.Show {
	case Available, Chat:
		if !rep.IdleSince.IsZero() && now.Sub(rep.IdleSince) >= r.IdleAway {
			return Idle
		}
		return Online
	case Away, ExtAway:
		return Idle
	case DoNotDisturb:
		return Busy
	}
	return Offline
}

// Combine is a customer's presence from the reports of its devices at
// now, by these rules, in this order:
//
//	| rule                                   | result                                   |
//	|----------------------------------------|------------------------------------------|
//	| a report older than its TTL            | ignored (stale)                          |
//	| show unavailable                       | ignored (the device is gone)             |
//	| available or chat, idle ≥ IdleAway     | counts as away                           |
//	| any device says dnd                    | dnd, reachable: none (it wins: explicit) |
//	| else any device online                 | online, reachable: the online devices'   |
//	| else any device away                   | away, reachable: the away devices'       |
//	| else                                   | offline, reachable: none                 |
//
// Reachable media are sorted and listed once.
func (r Rules) Combine(reports []Report, now time.Time) Presence {
	best := Offline
	var online, away []Medium
	dnd := false
	for _, rep := range reports {
		if !now.Before(r.expires(rep)) {
			continue
		}
		switch r.status(rep, now) {
		case Busy:
			dnd = true
		case Online:
			online = append(online, rep.Medium)
		case Idle:
			away = append(away, rep.Medium)
		}
	}
	var reach []Medium
	switch {
	case dnd:
		best = Busy
	case len(online) > 0:
		best, reach = Online, online
	case len(away) > 0:
		best, reach = Idle, away
	}
	slices.Sort(reach)
	return Presence{Status: best, Reachable: slices.Compact(reach)}
}

// nextChange is the first instant after now at which Combine's answer
// for reports may change by time alone (a report expiring, a device
// turning idle-away); zero when none.
func (r Rules) nextChange(reports []Report, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, rep := range reports {
		consider(r.expires(rep))
		if !rep.IdleSince.IsZero() && (rep.Show == Available || rep.Show == Chat) {
			consider(rep.IdleSince.Add(r.IdleAway))
		}
	}
	return next
}

// Tracker keeps the reports of every customer's devices and tells of
// each change of a customer's combined presence, also those time alone
// makes (a report going stale, a device turning idle). It runs on the
// domain's goroutine (the clock's).
type Tracker struct {
	clock    clock.Clock
	rules    Rules
	onChange func(customer string, p Presence)
	// listeners are told after onChange, in the order they listen.
	listeners []*listener
	// customers by customer number.
	customers map[string]*customerPresence
}

type customerPresence struct {
	reports map[string]Report // by medium and device
	now     Presence
	timer   clock.Timer
}

// NewTracker returns a tracker that calls onChange (on the clock's
// goroutine) whenever a customer's combined presence changes.
func NewTracker(c clock.Clock, rules Rules, onChange func(customer string, p Presence)) *Tracker {
	if rules.TTL == nil {
		rules.TTL = DefaultRules().TTL
	}
	if rules.IdleAway <= 0 {
		rules.IdleAway = DefaultRules().IdleAway
	}
	if onChange == nil {
		onChange = func(string, Presence) {}
	}
	return &Tracker{clock: c, rules: rules, onChange: onChange, customers: map[string]*customerPresence{}}
}

type listener struct {
	fn func(customer string, p Presence)
}

// Listen adds fn to the functions told of each change of a customer's
// combined presence, after NewTracker's onChange and the listeners
// added before it, on the clock's goroutine: the callback scheduler
// listens, and the wiring fans the changes out (CTI). cancel stops
// telling fn, also from inside a call.
func (t *Tracker) Listen(fn func(customer string, p Presence)) (cancel func()) {
	l := &listener{fn: fn}
	t.listeners = append(t.listeners, l)
	return func() {
		if i := slices.Index(t.listeners, l); i >= 0 {
			t.listeners = slices.Delete(t.listeners, i, i+1)
		}
	}
}

// Report records what a device of customer said (At is set to now when
// zero). An unavailable show ends the device's report.
func (t *Tracker) Report(customer string, rep Report) {
	if rep.At.IsZero() {
		rep.At = t.clock.Now()
	}
	cp := t.customers[customer]
	if cp == nil {
		cp = &customerPresence{reports: map[string]Report{}, now: Presence{Status: Offline}}
		t.customers[customer] = cp
	}
	key := string(rep.Medium) + "\x00" + rep.Device
	if rep.Show == Unavailable {
		delete(cp.reports, key)
	} else {
		cp.reports[key] = rep
	}
	t.update(customer, cp)
}

// Presence is customer's combined presence now.
func (t *Tracker) Presence(customer string) Presence {
	if cp := t.customers[customer]; cp != nil {
		return cp.now
	}
	return Presence{Status: Offline}
}

// update combines customer's reports, tells a change, forgets what went
// stale, and arms a timer for the next change time alone makes.
func (t *Tracker) update(customer string, cp *customerPresence) {
	now := t.clock.Now()
	reports := make([]Report, 0, len(cp.reports))
	for k, rep := range cp.reports {
		if !now.Before(t.rules.expires(rep)) {
			delete(cp.reports, k)
			continue
		}
		reports = append(reports, rep)
	}
	p := t.rules.Combine(reports, now)
	if !p.Equal(cp.now) {
		cp.now = p
		t.onChange(customer, p)
		for _, l := range slices.Clone(t.listeners) {
			if slices.Contains(t.listeners, l) {
				l.fn(customer, p)
			}
		}
	}
	if cp.timer != nil {
		cp.timer.Stop()
		cp.timer = nil
	}
	if len(cp.reports) == 0 {
		delete(t.customers, customer)
		return
	}
	if next := t.rules.nextChange(reports, now); !next.IsZero() {
		cp.timer = t.clock.AfterFunc(next.Sub(now), func() { t.update(customer, cp) })
	}
}
