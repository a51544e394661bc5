package config

import (
	"math"
	"time"
)

// CallbackModel is how the customers of one traffic line take callbacks
// (simulations): a customer who must wait, and whose estimated wait is
// over OfferAfterEWT, is offered a callback and accepts it with
// probability Accept. The callback waits in the callback_queue of the
// line's queue and is dialled by the callback server's scheduler, each
// attempt's result drawn from Reach (or its status's reach in Presence)
// after a ring time drawn from Ring.
type CallbackModel struct {
	// OfferAfterEWT: a callback is offered when the customer's own
	// estimated wait, as it enters the queue, is over this (default 0:
	// to every customer who must wait).
	OfferAfterEWT Duration `yaml:"offer_after_ewt"`
	// Accept is the probability that a customer offered a callback takes
	// it.
	Accept float64 `yaml:"accept"`
	// Mode is agent_first (default) or customer_first.
	Mode string `yaml:"mode"`
	// Reach is how an attempt ends, for customers whose status has no
	// reach of its own.
	Reach *Reach `yaml:"reach"`
	// Presence gives the shares of customers online, away, offline and
	// do-not-disturb (they must add up to 1), each with an optional reach
	// of its own; absent, every customer is offline.
	Presence *CallbackPresence `yaml:"presence"`
	// Ring is how long an attempt takes before its result (nil: a
	// constant DefaultCallbackRing); its mean must be under the
	// scheduler's attempt timeout (2m).
	Ring *Distribution `yaml:"ring"`
	// Preferences are the simulated customers' callback preferences, as
	// im.customers[].callback takes them (default: phone for every status,
	// 3 attempts, a 5m pause between rounds).
	Preferences *CallbackPrefs `yaml:"preferences"`
}

// Reach is the probability of each result of a callback attempt; they add
// up to 1.
type Reach struct {
	Answered    float64 `yaml:"answered"`
	Busy        float64 `yaml:"busy"`
	NoAnswer    float64 `yaml:"no_answer"`
	Unreachable float64 `yaml:"unreachable"`
}

// CallbackPresence splits a line's callback customers by combined
// presence status.
type CallbackPresence struct {
	Online  *PresenceShare `yaml:"online"`
	Away    *PresenceShare `yaml:"away"`
	Offline *PresenceShare `yaml:"offline"`
	// DND customers say do-not-disturb: the scheduler postpones them and
	// never calls them while they do.
	DND *PresenceShare `yaml:"dnd"`
}

// PresenceShare is the share of customers in one status and, optionally,
// how their attempts end.
type PresenceShare struct {
	Share float64 `yaml:"share"`
	Reach *Reach  `yaml:"reach"`
}

// The callback modes, as callback.Mode spells them.
const (
	CallbackAgentFirst    = "agent_first"
	CallbackCustomerFirst = "customer_first"
)

// DefaultCallbackRing is the ring time of a callback attempt when the
// scenario gives none.
const DefaultCallbackRing = 20 * time.Second

// callbackAttemptTimeout is callback.DefaultAttemptTimeout: an attempt
// without a result by then counts as unknown.
const callbackAttemptTimeout = 2 * time.Minute

// shareTolerance is how far shares may add up from 1.
const shareTolerance = 1e-6

// setCallbackModelDefaults fills in what traffic[i].callback leaves out.
func (c *checker) setCallbackModelDefaults(f *File) {
	for i := range f.Traffic {
		m, p := f.Traffic[i].Callback, path{}.key("traffic").index(i).key("callback")
		if m == nil {
			continue
		}
		if m.Mode == "" {
			m.Mode = CallbackAgentFirst
		}
		if m.Preferences == nil {
			m.Preferences = &CallbackPrefs{}
		}
		pp := p.key("preferences")
		prefs := m.Preferences
		for _, st := range []struct {
			key   string
			media *[]string
		}{{"online", &prefs.Online}, {"away", &prefs.Away}, {"offline", &prefs.Offline}} {
			if c.unset(pp.key(st.key), *st.media == nil) {
				*st.media = []string{DevicePhone}
			}
		}
		if c.unset(pp.key("max_attempts"), prefs.MaxAttempts == 0) {
			prefs.MaxAttempts = DefaultCallbackAttempts
		}
		if c.unset(pp.key("pause"), prefs.Pause == 0) {
			prefs.Pause = Duration(DefaultCallbackPause)
		}
	}
}

// checkCallbackModel checks traffic line t's callback model at p; q is
// the line's queue (its route point's, for a route point), nil when
// unknown.
func (c *checker) checkCallbackModel(p path, t *Traffic, q *Queue) {
	m := t.Callback
	switch {
	case t.Media != "" && t.Media != "voice" && t.Media != "voip" && t.Media != "im":
		c.errorf(p, "callbacks are offered to waiting voice and im customers, not %s", t.Media)
	case q != nil && q.CallbackQueue == "":
		c.errorf(p, "queue %q has no callback_queue: set one (a queue of media callback) where this line's callbacks wait", q.Name)
	}
	if m.OfferAfterEWT < 0 {
		c.errorf(p.key("offer_after_ewt"), "must be >= 0")
	}
	c.checkProbability(p.key("accept"), m.Accept)
	if m.Mode != CallbackAgentFirst && m.Mode != CallbackCustomerFirst {
		c.errorf(p.key("mode"), "unknown mode %q (want %s or %s)", m.Mode, CallbackAgentFirst, CallbackCustomerFirst)
	}
	if m.Reach == nil {
		c.errorf(p.key("reach"), "required: {answered: p, busy: p, no_answer: p, unreachable: p}, adding up to 1")
	} else {
		c.checkReach(p.key("reach"), m.Reach)
	}
	if pr := m.Presence; pr != nil {
		pp := p.key("presence")
		sum, any := 0.0, false
		for _, st := range []struct {
			key string
			s   *PresenceShare
		}{{"online", pr.Online}, {"away", pr.Away}, {"offline", pr.Offline}, {"dnd", pr.DND}} {
			if st.s == nil {
				continue
			}
			any = true
			sp := pp.key(st.key)
			if !(st.s.Share >= 0 && st.s.Share <= 1) {
				c.errorf(sp.key("share"), "%v is not a share in [0, 1]", st.s.Share)
			} else {
				sum += st.s.Share
			}
			if st.s.Reach != nil {
				if st.key == "dnd" {
					c.errorf(sp.key("reach"), "nobody is called while do-not-disturb: a dnd share has no reach")
				} else {
					c.checkReach(sp.key("reach"), st.s.Reach)
				}
			}
		}
		switch {
		case !any:
			c.errorf(pp, "needs at least one of online, away, offline, dnd: {share: p}")
		case math.Abs(sum-1) > shareTolerance:
			c.errorf(pp, "the shares add up to %g, want 1", sum)
		}
	}
	if m.Ring != nil && c.checkDistribution(p.key("ring"), m.Ring) && m.Ring.Mean() >= callbackAttemptTimeout {
		c.errorf(p.key("ring"), "the mean ring time %v must be under the attempt timeout %v", m.Ring.Mean(), callbackAttemptTimeout)
	}
	c.checkCallbackPrefs(p.key("preferences"), m.Preferences, map[string]bool{DeviceSIP: true, DevicePhone: true})
}

// checkReach records an error unless r's probabilities are each in
// [0, 1] and add up to 1.
func (c *checker) checkReach(p path, r *Reach) {
	sum, ok := 0.0, true
	for _, v := range []struct {
		key string
		p   float64
	}{{"answered", r.Answered}, {"busy", r.Busy}, {"no_answer", r.NoAnswer}, {"unreachable", r.Unreachable}} {
		if !(v.p >= 0 && v.p <= 1) {
			c.errorf(p.key(v.key), "%v is not a probability in [0, 1]", v.p)
			ok = false
			continue
		}
		sum += v.p
	}
	if ok && math.Abs(sum-1) > shareTolerance {
		c.errorf(p, "answered %g + busy %g + no_answer %g + unreachable %g add up to %g, want 1",
			r.Answered, r.Busy, r.NoAnswer, r.Unreachable, sum)
	}
}

// checkCallbackQueuesHaveNoTraffic: a callback queue that a line's
// callbacks wait in takes no traffic line of its own (its figures are the
// callbacks').
func (c *checker) checkCallbackQueuesHaveNoTraffic(f *File, queues map[string]*Queue, routePoints map[string]*RoutePoint) {
	fed := map[string]int{}
	for i := range f.Traffic {
		t := &f.Traffic[i]
		if t.Callback == nil {
			continue
		}
		if q := lineQueue(t, queues, routePoints); q != nil && q.CallbackQueue != "" {
			if _, seen := fed[q.CallbackQueue]; !seen {
				fed[q.CallbackQueue] = i
			}
		}
	}
	for i := range f.Traffic {
		t := &f.Traffic[i]
		if q := lineQueue(t, queues, routePoints); q != nil {
			if from, ok := fed[q.Name]; ok {
				c.errorf(path{}.key("traffic").index(i).key("queue"),
					"queue %q holds the callbacks of traffic[%d]; it takes no traffic of its own in a simulation", q.Name, from)
			}
		}
	}
}

// lineQueue is the queue traffic line t reaches: its queue, or its route
// point's.
func lineQueue(t *Traffic, queues map[string]*Queue, routePoints map[string]*RoutePoint) *Queue {
	if t.Queue != "" {
		return queues[t.Queue]
	}
	if rp := routePoints[t.RoutePoint]; rp != nil {
		return queues[rp.Queue]
	}
	return nil
}
