package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Live runs the simulator's customer and agent models on a live center's
// real clock, beside real SIP phones: the scenario's traffic arrives as
// calls from simulated switched-network trunks, and agents without a
// device of their own sit at simulated desk telephones that answer at once
// and hang up after the traffic's handle time. What a live center mixes is
// the very same domain the simulator drives on its virtual clock.
// A forecast's 00:00 is when Start is called; retrials, transfers and
// callbacks are the simulator's only, and so are a chat model's bot and
// slowdown: a desk takes a chat for its exchanges' length alone.
//
// Every method runs on the domain's loop, like the domain itself.
type Live struct {
	ts      *tserver.Server
	clk     clock.Clock
	rng     *rand.Rand
	traffic []trafficModel
	desks   map[string]bool
	stopped bool
	timers  map[clock.Timer]struct{}
	// DefaultHandle is how long a desk agent talks to a customer who did
	// not come from the simulated traffic (a real SIP caller).
	DefaultHandle time.Duration
	arrived       int
	unsubscribe   func()
	// start is when the arrivals began: a forecast's 00:00.
	start time.Time
}

// NewLive prepares the scenario f's traffic for center ts on clk;
// deskAgents are the agents whose offers the simulated desks answer.
func NewLive(ts *tserver.Server, clk clock.Clock, f *config.File, deskAgents []string, seed uint64) (*Live, error) {
	src := newSource(seed)
	traffic, err := buildTraffic(f, src)
	if err != nil {
		return nil, err
	}
	l := &Live{
		ts: ts, clk: clk, traffic: traffic,
		rng:           rand.New(src),
		desks:         map[string]bool{},
		timers:        map[clock.Timer]struct{}{},
		DefaultHandle: 3 * time.Minute,
	}
	for _, id := range deskAgents {
		l.desks[id] = true
	}
	return l, nil
}

// Start begins the arrivals.
func (l *Live) Start() {
	l.unsubscribe = l.ts.Subscribe(l.onEvent)
	l.start = l.clk.Now()
	for i := range l.traffic {
		if l.traffic[i].arrivals != nil {
			l.scheduleArrival(i)
		}
	}
}

// onEvent lets a simulated customer whom a real agent answered hang up
// after the handle time.
func (l *Live) onEvent(e tserver.Event) {
	if e.Type != tserver.EventEstablished || l.desks[e.AgentID] {
		return
	}
	if c := l.ts.Contact(e.ConnID); c != nil && c.Tag > 0 {
		l.callerHangsUp(c)
	}
}

// Stop cancels every pending arrival, patience and hang-up.
func (l *Live) Stop() {
	if l.unsubscribe != nil {
		l.unsubscribe()
		l.unsubscribe = nil
	}
	l.stopped = true
	for t := range l.timers {
		t.Stop()
	}
	clear(l.timers)
}

// Owns reports whether a's offers go to a simulated desk.
func (l *Live) Owns(a *tserver.Agent) bool { return l.desks[a.ID] }

// after schedules f and remembers the timer so Stop can cancel it.
func (l *Live) after(d time.Duration, f func()) {
	if l.stopped {
		return
	}
	var t clock.Timer
	t = l.clk.AfterFunc(d, func() {
		delete(l.timers, t)
		f()
	})
	l.timers[t] = struct{}{}
}

// scheduleArrival schedules traffic line i's next arrival. The live
// center's traffic runs until Stop.
func (l *Live) scheduleArrival(i int) {
	now := l.clk.Now().Sub(l.start)
	if at, ok := l.traffic[i].arrivals.next(now, math.MaxInt64); ok {
		l.after(at-now, func() { l.arrive(i) })
	}
}

func (l *Live) arrive(i int) {
	t := &l.traffic[i]
	l.arrived++
	in := t.arrival
	// Tag 0 marks contacts that did not come from here.
	in.Tag = i + 1
	in.ANI = fmt.Sprintf("sim-%d", l.arrived)
	in.UserData = pbx.UserData{{Key: "simulated", Value: "trunk"}}
	id, err := l.ts.Arrive(&in)
	if err == nil && t.patience != nil {
		l.after(t.patience(), func() {
			if c := l.ts.Contact(id); c != nil && !c.State.Final() && c.State != pbx.Established && c.State != pbx.Held {
				_ = l.ts.ReleaseCall(id)
			}
		})
	}
	l.scheduleArrival(i)
}

// handle draws how long contact c is talked to.
func (l *Live) handle(c *tserver.Contact) time.Duration {
	if c.Tag > 0 && c.Tag <= len(l.traffic) {
		return l.traffic[c.Tag-1].handle()
	}
	return l.DefaultHandle
}

// Offer is a desk telephone: it answers at once and hangs up after the
// handle time.
func (l *Live) Offer(c *tserver.Contact, _ *tserver.Agent) {
	id, d := c.ID, l.handle(c)
	if err := l.ts.AnswerCall(id); err != nil {
		return
	}
	l.after(d, func() { _ = l.ts.ReleaseCall(id) })
}

// Dial is a desk agent's outbound call on the switched network: the far
// end answers at once, and the agent hangs up after the handle time.
func (l *Live) Dial(c *tserver.Contact, _ *tserver.Agent) {
	l.Offer(c, nil)
}

// callerHangsUp is a simulated customer's side of a call answered by a
// real agent: the customer hangs up after the handle time.
func (l *Live) callerHangsUp(c *tserver.Contact) {
	id, d := c.ID, l.handle(c)
	l.after(d, func() {
		if c := l.ts.Contact(id); c != nil && (c.State == pbx.Established || c.State == pbx.Held) {
			_ = l.ts.ReleaseCall(id)
		}
	})
}
