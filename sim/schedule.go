package sim

import (
	"math/rand/v2"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// agentSchedules returns, in the order of f.ExpandAgents, each agent's
// schedule, or nil for an agent who works around the clock.
func agentSchedules(f *config.File) []*config.Schedule {
	byGroup := make(map[string]*config.Schedule, len(f.Schedule))
	for i := range f.Schedule {
		byGroup[f.Schedule[i].Group] = &f.Schedule[i]
	}
	var out []*config.Schedule
	for i := range f.Agents {
		g := &f.Agents[i]
		n := g.Count
		if g.ID != "" {
			n = 1
		}
		s := byGroup[g.GroupName()]
		for range n {
			out = append(out, s)
		}
	}
	return out
}

// The not-ready reasons the workforce model gives.
const (
	reasonBreak      = "break"
	reasonNotReady   = "not_ready"
	reasonEndOfShift = "end_of_shift"
)

// logoutRetry is how long an agent whose shift ended while busy waits
// before trying to log out again.
const logoutRetry = 30 * time.Second

// workforce moves the scheduled agents of one replication through their
// days: absent or not, shifts (log in, ready; at the end not ready, then
// log out once the work in hand is done), breaks and not-ready episodes.
type workforce struct {
	m      *model
	rng    *rand.Rand
	agents []shiftAgent
}

type shiftAgent struct {
	id    string
	sched *config.Schedule
	// every and length draw the not-ready episodes; nil: none.
	every, length sampler
	state         shiftState
	// shift counts the agent's shift starts and ends: an event of an
	// earlier one is stale.
	shift int
}

type shiftState uint8

const (
	offShift shiftState = iota
	working
	onBreak
	notReady
)

// newWorkforce logs the scheduled agents out and plans their first day.
func newWorkforce(m *model, f *config.File, src rand.Source) *workforce {
	if len(f.Schedule) == 0 {
		return nil
	}
	w := &workforce{m: m, rng: rand.New(src)}
	schedules := agentSchedules(f)
	for i, a := range f.ExpandAgents() {
		s := schedules[i]
		if s == nil {
			continue
		}
		sa := shiftAgent{id: a.ID, sched: s}
		if nr := s.NotReady; nr != nil {
			sa.every, sa.length = newSampler(&nr.Every, src), newSampler(&nr.Length, src)
		}
		_ = m.srv.AgentLogout(a.ID)
		w.agents = append(w.agents, sa)
	}
	m.clk.AfterFunc(0, w.newDay)
	return w
}

// newDay plans the day that starts now for every scheduled agent present.
func (w *workforce) newDay() {
	now := w.m.clk.Elapsed()
	for i := range w.agents {
		a := &w.agents[i]
		if a.sched.Absenteeism > 0 && w.rng.Float64() < a.sched.Absenteeism {
			continue
		}
		for _, sh := range a.sched.Shifts {
			w.at(now+sh.Start.D(), func() { w.startShift(i) })
			for _, b := range sh.Breaks {
				start := now + b.Start.D()
				w.at(start, func() { w.startBreak(i) })
				w.at(start+b.Length.D(), func() { w.endBreak(i) })
			}
			w.at(now+sh.End.D(), func() { w.endShift(i) })
		}
	}
	if now+day < w.m.end {
		w.at(now+day, w.newDay)
	}
}

// at runs f at t, if t is within the run.
func (w *workforce) at(t time.Duration, f func()) {
	if t <= w.m.end {
		w.m.clk.AfterFunc(t-w.m.clk.Elapsed(), f)
	}
}

func (w *workforce) startShift(i int) {
	a := &w.agents[i]
	a.shift++
	a.state = working
	srv := w.m.srv
	_ = srv.AgentLogin(a.id, "") // fails only if still logged in from the last shift
	_ = srv.AgentReady(a.id)
	if a.every != nil {
		w.nextEpisode(i)
	}
}

func (w *workforce) endShift(i int) {
	a := &w.agents[i]
	a.shift++
	a.state = offShift
	_ = w.m.srv.AgentNotReady(a.id, reasonEndOfShift)
	w.logOut(i, a.shift)
}

// logOut logs agent i out, or tries again later while it still handles
// interactions.
func (w *workforce) logOut(i, shift int) {
	a := &w.agents[i]
	if a.shift != shift {
		return
	}
	if err := w.m.srv.AgentLogout(a.id); err != nil {
		w.at(w.m.clk.Elapsed()+logoutRetry, func() { w.logOut(i, shift) })
	}
}

func (w *workforce) startBreak(i int) {
	a := &w.agents[i]
	if a.state == working || a.state == notReady {
		a.state = onBreak
		_ = w.m.srv.AgentNotReady(a.id, reasonBreak)
	}
}

func (w *workforce) endBreak(i int) {
	a := &w.agents[i]
	if a.state == onBreak {
		a.state = working
		_ = w.m.srv.AgentReady(a.id)
	}
}

// nextEpisode plans agent i's next not-ready episode in this shift.
func (w *workforce) nextEpisode(i int) {
	a := &w.agents[i]
	shift := a.shift
	w.at(w.m.clk.Elapsed()+a.every(), func() {
		if a.shift != shift {
			return
		}
		if a.state == working {
			a.state = notReady
			_ = w.m.srv.AgentNotReady(a.id, reasonNotReady)
			w.at(w.m.clk.Elapsed()+a.length(), func() {
				if a.shift == shift && a.state == notReady {
					a.state = working
					_ = w.m.srv.AgentReady(a.id)
				}
			})
		}
		w.nextEpisode(i)
	})
}
