package config

import "time"

// Schedule says when the agents of one group work in a simulation: their
// shifts and breaks, every day, how often an agent is absent for the
// day, and short not-ready episodes in between. Agents of groups without a
// schedule work around the clock.
type Schedule struct {
	// Group is an agents entry's group (or id, for a single agent).
	Group  string  `yaml:"group"`
	Shifts []Shift `yaml:"shifts"`
	// Absenteeism is the probability that an agent misses a day (0 to
	// below 1).
	Absenteeism float64 `yaml:"absenteeism"`
	// NotReady, when set, sends an agent not ready for Length every
	// Every (both drawn afresh each time) while on shift.
	NotReady *NotReadyModel `yaml:"not_ready"`
}

// Shift is a daily stretch of work from Start to End (End after Start,
// by 24:00), with breaks inside it.
type Shift struct {
	Start  TimeOfDay `yaml:"start"`
	End    TimeOfDay `yaml:"end"`
	Breaks []Break   `yaml:"breaks"`
}

// Break is a pause of Length from Start: the agent goes not ready (after
// the interaction it is handling, if any).
type Break struct {
	Start  TimeOfDay `yaml:"start"`
	Length Duration  `yaml:"length"`
}

// NotReadyModel draws not-ready episodes: the time between them and their
// length.
type NotReadyModel struct {
	Every  Distribution `yaml:"every"`
	Length Distribution `yaml:"length"`
}

// Staffed returns the share of a day an agent of the schedule works on
// average: its shifts less their breaks, times the share of days present.
// Not-ready episodes are not counted.
func (s *Schedule) Staffed() float64 {
	var work time.Duration
	for _, sh := range s.Shifts {
		work += sh.End.D() - sh.Start.D()
		for _, b := range sh.Breaks {
			work -= b.Length.D()
		}
	}
	return float64(work) / float64(day) * (1 - s.Absenteeism)
}

// GroupName returns the name a schedule calls the agents of g by: its
// group, or its id.
func (g *AgentGroup) GroupName() string {
	if g.Group != "" {
		return g.Group
	}
	return g.ID
}

func (c *checker) checkSchedule(f *File) {
	groups := make(map[string]bool, len(f.Agents))
	for i := range f.Agents {
		groups[f.Agents[i].GroupName()] = true
	}
	seen := make(map[string]int, len(f.Schedule))
	for i := range f.Schedule {
		s, p := &f.Schedule[i], path{}.key("schedule").index(i)
		switch first, dup := seen[s.Group]; {
		case s.Group == "":
			c.errorf(p.key("group"), "required: an agents group (or id)")
		case !groups[s.Group]:
			c.errorf(p.key("group"), "no agents group or id %q", s.Group)
		case dup:
			c.errorf(p.key("group"), "group %q already scheduled by schedule[%d]", s.Group, first)
		default:
			seen[s.Group] = i
		}
		if len(s.Shifts) == 0 {
			c.errorf(p.key("shifts"), "required: at least one shift")
		}
		for k := range s.Shifts {
			sh, sp := &s.Shifts[k], p.key("shifts").index(k)
			if !c.given(sp.key("start")) || !c.given(sp.key("end")) {
				c.errorf(sp, "needs start and end")
				continue
			}
			if sh.End <= sh.Start {
				c.errorf(sp.key("end"), "%s is not after the start (%s)", sh.End, sh.Start)
				continue
			}
			if k > 0 && sh.Start < s.Shifts[k-1].End {
				c.errorf(sp.key("start"), "shift %s-%s overlaps shift %s-%s (list the shifts in order)",
					sh.Start, sh.End, s.Shifts[k-1].Start, s.Shifts[k-1].End)
			}
			for b := range sh.Breaks {
				br, bp := &sh.Breaks[b], sp.key("breaks").index(b)
				end := br.Start.D() + br.Length.D()
				switch {
				case br.Length <= 0:
					c.errorf(bp.key("length"), "required: a duration > 0")
				case br.Start < sh.Start || end > sh.End.D():
					c.errorf(bp.key("start"), "break %s-%s is not within the shift %s-%s", br.Start, TimeOfDay(end), sh.Start, sh.End)
				case b > 0 && br.Start.D() < sh.Breaks[b-1].Start.D()+sh.Breaks[b-1].Length.D():
					c.errorf(bp.key("start"), "break at %s overlaps the break before (list the breaks in order)", br.Start)
				}
			}
		}
		if !(s.Absenteeism >= 0 && s.Absenteeism < 1) {
			c.errorf(p.key("absenteeism"), "%v must be >= 0 and < 1", s.Absenteeism)
		}
		if nr := s.NotReady; nr != nil {
			np := p.key("not_ready")
			if c.checkDistribution(np.key("every"), &nr.Every) && nr.Every.Mean() <= 0 {
				c.errorf(np.key("every"), "the mean must be > 0")
			}
			c.checkDistribution(np.key("length"), &nr.Length)
		}
	}
	if len(f.Schedule) > 0 && len(f.Traffic) == 0 {
		c.errorf(path{}.key("schedule"), "schedule is for simulations: the file has no traffic")
	}
}
