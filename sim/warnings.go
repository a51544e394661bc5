package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// queueLoad is what the scenario offers one queue, for the warnings.
type queueLoad struct {
	lines []string // the traffic lines (and transfers) that reach it
	// erlangs is the offered load: arrivals per second × (mean handle
	// time + the serving agents' mean wrap-up).
	erlangs float64
	// neverAbandons says some of its traffic never abandons.
	neverAbandons bool
}

// scenarioWarnings returns what makes f's results misleading though the
// file is valid: a queue with traffic (or a line's callbacks) that no
// agent can serve, and a queue
// whose customers never abandon offered at least as much work as its
// agents can do (it grows without bound; its waits depend on the run's
// length).
func scenarioWarnings(f *config.File) []string {
	queueIndex := make(map[string]int, len(f.Queues))
	for i, q := range f.Queues {
		queueIndex[q.Name] = i
	}
	routeQueue := make(map[string]string, len(f.RoutePoints))
	for _, r := range f.RoutePoints {
		routeQueue[r.Number] = r.Queue
	}
	agents := f.ExpandAgents()
	// staffed is the share of the time each agent works: 1, or its
	// schedule's.
	staffed := make([]float64, len(agents))
	for i, s := range agentSchedules(f) {
		staffed[i] = 1
		if s != nil {
			agents[i].Ready = true // the schedule logs it in
			staffed[i] = s.Staffed()
		}
	}
	serving := make([][]*config.Agent, len(f.Queues))
	servingStaffed := make([][]float64, len(f.Queues))
	for qi := range f.Queues {
		for ai := range agents {
			if mayServe(&agents[ai], &f.Queues[qi]) && staffed[ai] > 0 {
				serving[qi] = append(serving[qi], &agents[ai])
				servingStaffed[qi] = append(servingStaffed[qi], staffed[ai])
			}
		}
	}
	meanWrap := func(qi int) time.Duration {
		var sum time.Duration
		for _, a := range serving[qi] {
			sum += a.WrapUp
		}
		if len(serving[qi]) == 0 {
			return 0
		}
		return sum / time.Duration(len(serving[qi]))
	}

	loads := make([]queueLoad, len(f.Queues))
	src := rand.NewPCG(0, 0) // the mean rate draws nothing
	from, to := f.Run.Warmup.D(), f.Run.Duration.D()
	for i := range f.Traffic {
		t := &f.Traffic[i]
		name := t.Queue
		if name == "" {
			name = routeQueue[t.RoutePoint]
		}
		qi, ok := queueIndex[name]
		if !ok {
			continue
		}
		rate := newArrivalProcess(&t.Arrivals, src).meanRate(from, to)
		l := &loads[qi]
		l.lines = append(l.lines, fmt.Sprintf("traffic[%d]", i))
		l.erlangs += rate * (t.MeanHandle() + meanWrap(qi)).Seconds()
		l.neverAbandons = l.neverAbandons || t.Patience == nil
		if ci, ok := queueIndex[f.Queues[qi].CallbackQueue]; ok && t.Callback != nil {
			// The line's callbacks wait there: it needs agents too.
			loads[ci].lines = append(loads[ci].lines, fmt.Sprintf("traffic[%d].callback", i))
		}
		for k, tr := range t.Transfers {
			ti, ok := queueIndex[tr.ToQueue]
			if !ok {
				continue
			}
			handle := t.MeanHandle()
			if tr.Handle != nil {
				handle = tr.Handle.Mean()
			}
			lt := &loads[ti]
			lt.lines = append(lt.lines, fmt.Sprintf("traffic[%d].transfers[%d]", i, k))
			lt.erlangs += rate * tr.Probability * (handle + meanWrap(ti)).Seconds()
			lt.neverAbandons = lt.neverAbandons || t.Patience == nil
		}
	}

	var out []string
	for qi := range f.Queues {
		q, l := &f.Queues[qi], &loads[qi]
		if len(l.lines) == 0 {
			continue
		}
		moves := slices.ContainsFunc(q.Overflow, func(o config.Overflow) bool { return o.ToQueue != "" })
		// capacity is what the serving agents can take at once, on
		// average over their schedules.
		var capacity float64
		for k, a := range serving[qi] {
			capacity += float64(a.Capacity[q.Media]) * servingStaffed[qi][k]
		}
		switch {
		case capacity == 0 && !moves:
			out = append(out, fmt.Sprintf("queue %q: no agent serves it, yet %s offer it interactions: "+
				"no ready (or scheduled) agent has skill %q at level %d or more with a capacity for %s",
				q.Name, joinAnd(l.lines), q.Skill, q.MinLevel, q.Media))
		case l.neverAbandons && !moves && l.erlangs >= capacity:
			out = append(out, fmt.Sprintf("queue %q: unstable: the offered load (%.1f erlangs) is at least what its agents "+
				"can take (%.1f at once, on average over their schedules) and customers of %s never abandon: the queue grows without bound "+
				"and its waits depend on the run's length", q.Name, l.erlangs, capacity, joinAnd(l.lines)))
		}
	}
	return out
}

// mayServe reports whether agent a, as the run starts, may ever be offered
// an interaction of queue q: ready, with a capacity for its media, the
// required attributes, and its skill at the level required at some stage of
// the queue's overflow rules.
func mayServe(a *config.Agent, q *config.Queue) bool {
	if !a.Ready || a.Capacity[q.Media] == 0 {
		return false
	}
	for k, v := range q.Requires {
		if !slices.Contains(a.Attributes[k], v) {
			return false
		}
	}
	minLevel := q.MinLevel
	for _, o := range q.Overflow {
		switch {
		case o.AddSkill != "":
			if l := a.Skills[o.AddSkill]; l > 0 && l >= max(o.MinLevel, 1) {
				return true
			}
		case o.MinLevel > 0:
			minLevel = min(minLevel, o.MinLevel)
		}
	}
	l := a.Skills[q.Skill]
	return l > 0 && l >= minLevel
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	s := items[0]
	for _, it := range items[1 : len(items)-1] {
		s += ", " + it
	}
	return s + " and " + items[len(items)-1]
}
