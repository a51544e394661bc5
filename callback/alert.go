package callback

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AlertKind is what an alert watches.
type AlertKind string

// The kinds of alert.
const (
	// WaitUnder: "tell me when the wait is under N minutes". It fires
	// each time the queue's EWT crosses below N minutes, and is armed
	// again only once the EWT has risen above N plus a margin
	// (WaitMargin): an EWT that oscillates around N makes no storm.
	WaitUnder AlertKind = "wait_under"
	// BeforeCallback: "remind me N minutes before my callback", a
	// scheduled one. It fires once.
	BeforeCallback AlertKind = "before_callback"
)

// Alert is a customer's standing request to be told something.
type Alert struct {
	ID       string    `json:"id"`
	Customer string    `json:"customer"`
	Queue    string    `json:"queue"`
	Kind     AlertKind `json:"kind"`
	Minutes  int       `json:"minutes"`
	// Medium the alert goes out on: xmpp (the customer's IM network),
	// sip (SIP MESSAGE) or web; empty: the first of these that reaches
	// the customer when it fires (it waits while none does).
	Medium Medium `json:"medium,omitempty"`
	// Callback is the request a before_callback alert is about.
	Callback string `json:"callback,omitempty"`
	// Active until it fired for good (before_callback), its callback
	// ended, or it was removed.
	Active bool `json:"active"`
	// Armed: it fires at its next crossing.
	Armed     bool      `json:"armed"`
	Fired     int       `json:"fired"`
	LastFired time.Time `json:"last_fired,omitzero"`
}

// WaitMargin is how far above N minutes the EWT must rise before a
// wait_under alert of N minutes is armed again: 20 % of N, at least a
// minute.
func WaitMargin(minutes int) time.Duration {
	return max(time.Minute, time.Duration(minutes)*time.Minute/5)
}

// AddAlert accepts an alert for a known customer and returns it as
// kept, with its ID, active and armed: Kind, Minutes (1 to 1440) and
// the customer are required; a wait_under alert names a known queue; a
// before_callback alert names a pending callback of the same customer
// with a scheduled time (its queue is the callback's). On error nothing
// is kept. Alerts are checked each Tick.
func (s *Scheduler) AddAlert(a Alert) (Alert, error) {
	bad := func(format string, args ...any) (Alert, error) {
		return Alert{}, fmt.Errorf("callback: alert: "+format, args...)
	}
	switch {
	case a.Kind != WaitUnder && a.Kind != BeforeCallback:
		return bad("kind %q: want %s or %s: %w", a.Kind, WaitUnder, BeforeCallback, ErrInvalid)
	case a.Minutes < 1 || a.Minutes > 24*60:
		return bad("minutes %d: want 1 to 1440: %w", a.Minutes, ErrInvalid)
	case a.Medium != "" && a.Medium != XMPP && a.Medium != SIP && a.Medium != Web:
		return bad("medium %q: want %s, %s or %s: %w", a.Medium, XMPP, SIP, Web, ErrInvalid)
	}
	if a.Kind == BeforeCallback {
		e := s.entries[a.Callback]
		switch {
		case a.Callback == "":
			return bad("before_callback names no callback: %w", ErrInvalid)
		case e == nil:
			return bad("callback %q: %w", a.Callback, ErrUnknownCallback)
		case e.r.State != Pending:
			return bad("callback %s is %s: %w", a.Callback, e.r.State, ErrConflict)
		case !e.r.At.After(s.clock.Now()):
			return bad("callback %s has no scheduled time to come: %w", a.Callback, ErrInvalid)
		case e.r.Customer == "":
			return bad("callback %s is for a number, with no customer to alert: %w", a.Callback, ErrInvalid)
		case a.Customer != "" && a.Customer != e.r.Customer:
			return bad("callback %s is customer %s's, not %s's: %w", a.Callback, e.r.Customer, a.Customer, ErrInvalid)
		}
		a.Customer, a.Queue = e.r.Customer, e.r.Queue
	} else {
		switch {
		case a.Queue == "":
			return bad("wait_under names no queue: %w", ErrInvalid)
		case !s.queues.Known(a.Queue):
			return bad("queue %q: %w", a.Queue, ErrUnknownQueue)
		}
		a.Callback = ""
	}
	if a.Customer == "" {
		return bad("no customer: %w", ErrInvalid)
	}
	if _, ok := s.directory.Customer(a.Customer); !ok {
		return bad("customer %q: %w", a.Customer, ErrUnknownCustomer)
	}
	s.lastAlertID++
	a.ID = "al-" + strconv.Itoa(s.lastAlertID)
	a.Active, a.Armed, a.Fired, a.LastFired = true, true, 0, time.Time{}
	p := &a
	s.alerts = append(s.alerts, p)
	s.alertByID[a.ID] = p
	s.journal.SaveAlert(a)
	s.armTick()
	return a, nil
}

// RemoveAlert ends alert id. An alert no longer active gives
// ErrConflict.
func (s *Scheduler) RemoveAlert(id string) error {
	a := s.alertByID[id]
	switch {
	case a == nil:
		return fmt.Errorf("callback: remove alert %q: %w", id, ErrUnknownAlert)
	case !a.Active:
		return fmt.Errorf("callback: remove alert %s: not active: %w", id, ErrConflict)
	}
	a.Active, a.Armed = false, false
	s.journal.SaveAlert(*a)
	return nil
}

// Alert returns alert id as it is now.
func (s *Scheduler) Alert(id string) (Alert, bool) {
	if a := s.alertByID[id]; a != nil {
		return *a, true
	}
	return Alert{}, false
}

// Alerts returns every alert, sorted by ID.
func (s *Scheduler) Alerts() []Alert {
	out := make([]Alert, 0, len(s.alerts))
	for _, a := range s.alerts {
		out = append(out, *a)
	}
	return out
}

// RestoreAlerts brings back the alerts journaled by a previous run,
// after Restore (a before_callback alert's callback must be known by
// then, or the alert ends at the next check). Alerts with no ID, twice
// the same ID or an unknown kind give ErrInvalid and nothing is
// restored.
func (s *Scheduler) RestoreAlerts(alerts []Alert) error {
	seen := map[string]bool{}
	for i, a := range alerts {
		switch {
		case a.ID == "":
			return fmt.Errorf("callback: restore alerts: record %d has no id: %w", i+1, ErrInvalid)
		case seen[a.ID] || s.alertByID[a.ID] != nil:
			return fmt.Errorf("callback: restore alerts: %s twice: %w", a.ID, ErrInvalid)
		case a.Kind != WaitUnder && a.Kind != BeforeCallback:
			return fmt.Errorf("callback: restore alerts: %s: kind %q: %w", a.ID, a.Kind, ErrInvalid)
		}
		seen[a.ID] = true
	}
	for _, a := range alerts {
		p := &a
		s.alerts = append(s.alerts, p)
		s.alertByID[a.ID] = p
		if n, ok := strings.CutPrefix(a.ID, "al-"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				s.lastAlertID = max(s.lastAlertID, v)
			}
		}
	}
	slices.SortFunc(s.alerts, func(a, b *Alert) int { return compareIDs(a.ID, b.ID) })
	s.armTick()
	return nil
}

// checkAlerts fires the alerts due (at each tick), with the EWTs read
// in this tick.
func (s *Scheduler) checkAlerts(ewts map[string]ewtReading) {
	now := s.clock.Now()
	for _, a := range s.alerts {
		if !a.Active {
			continue
		}
		switch a.Kind {
		case WaitUnder:
			w := s.ewt(ewts, a.Queue)
			if !w.ok {
				continue
			}
			limit := time.Duration(a.Minutes) * time.Minute
			switch {
			case a.Armed && w.d < limit:
				if s.send(a, fmt.Sprintf("The wait in %s is now under %s.", a.Queue, minutes(a.Minutes))) {
					a.Armed = false
					s.journal.SaveAlert(*a)
				}
			case !a.Armed && w.d > limit+WaitMargin(a.Minutes):
				a.Armed = true
				s.journal.SaveAlert(*a)
			}
		case BeforeCallback:
			e := s.entries[a.Callback]
			if e == nil || e.r.State != Pending || len(e.r.Attempts) > 0 || e.r.At.IsZero() {
				// Ended, or being called already: nothing to remind.
				a.Active, a.Armed = false, false
				s.journal.SaveAlert(*a)
				continue
			}
			if now.Before(e.r.At.Add(-time.Duration(a.Minutes) * time.Minute)) {
				continue
			}
			if s.send(a, fmt.Sprintf("We will call you back in %s.", minutes(a.Minutes))) {
				a.Active, a.Armed = false, false
				s.journal.SaveAlert(*a)
			}
		}
	}
}

func minutes(n int) string {
	if n == 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// send tells a's customer text, unless they say do-not-disturb or (the
// alert naming no medium) nothing reaches them; it reports whether it
// did, and counts it.
func (s *Scheduler) send(a *Alert, text string) bool {
	p := s.tracker.Presence(a.Customer)
	if p.Status == Busy {
		return false
	}
	m := a.Medium
	if m == "" {
		for _, c := range []Medium{XMPP, SIP, Web} {
			if slices.Contains(p.Reachable, c) {
				m = c
				break
			}
		}
		if m == "" {
			return false
		}
	}
	s.notifier.Notify(a.Customer, m, text)
	a.Fired++
	a.LastFired = s.clock.Now()
	return true
}
