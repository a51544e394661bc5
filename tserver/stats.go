package tserver

import (
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// recentWaits is how many answered waits the recent-wait EWT averages.
const recentWaits = 20

// QueueStats counts a queue's interactions since the statistics were last
// reset. An interaction is counted where it was first queued (or where it
// was transferred to), and only if it arrived after the reset, so Offered =
// Answered + Abandoned + Callback + those still waiting.
type QueueStats struct {
	Offered       int64         `json:"offered"`
	Answered      int64         `json:"answered"`
	Abandoned     int64         `json:"abandoned"`
	Callback      int64         `json:"callback"`       // left the queue with a callback promised (LeaveForCallback)
	Waited        int64         `json:"waited"`         // had to wait (not distributed on arrival)
	AnsweredInSL  int64         `json:"answered_in_sl"` // answered within the service-level target
	WaitAnswered  time.Duration `json:"wait_answered"`  // total wait of the answered
	WaitAbandoned time.Duration `json:"wait_abandoned"` // total wait of the abandoned
	WaitCallback  time.Duration `json:"wait_callback"`  // total wait of those who took a callback
	Handled       int64         `json:"handled"`        // answered and finished
	HandleTime    time.Duration `json:"handle_time"`    // talk plus wrap-up of the handled
}

// QueueStats returns the statistics of queue name.
func (s *Server) QueueStats(name string) (QueueStats, error) {
	q := s.queueByName[name]
	if q == nil {
		return QueueStats{}, pbx.Errorf(pbx.NotFound, "tserver: stats: no queue %q", name)
	}
	return q.stats, nil
}

// ResetStats starts a new statistics period: counters restart at zero and
// interactions already in the center are no longer counted.
func (s *Server) ResetStats() {
	s.epoch++
	for _, q := range s.queues {
		q.stats = QueueStats{}
	}
}

// EWT is a queue's estimated wait time for a new interaction, by two
// estimators.
type EWT struct {
	// Staffing estimates from the agents serving the queue, the
	// interactions ahead and the average handle time: 0 when an agent is
	// free, else (ahead+1) × AHT / (agents × capacity per agent).
	Staffing time.Duration `json:"staffing"`
	// Recent is the mean wait of the queue's last answered interactions,
	// or of the oldest waiting one if that is longer.
	Recent time.Duration `json:"recent"`
}

// aht is the queue's average handle time (talk plus wrap-up) so far.
func (s *Server) aht(q *queue) time.Duration {
	if q.stats.Handled == 0 {
		return s.defaultAHT
	}
	return q.stats.HandleTime / time.Duration(q.stats.Handled)
}

// serving counts the logged-in agents who take work from q now, their
// total capacity for its media and how many could take one more now. For
// a contact c (nil: any contact of q), only the agents who could take c
// count: its IM client and attributes, the skill levels of its overflow
// stage. A chat whose client no free agent supports is not told it is
// next for a free agent.
func (s *Server) serving(q *queue, c *Contact) (agents, capacity, free int) {
	stage := 0
	if c != nil {
		stage = c.stage
	}
	if q.counted && (c == nil || c.ClientFamily == "" && len(c.Requires) == 0) {
		s.flushIndexes()
		n := q.serving[stage]
		if s.verifyServing != nil {
			s.verifyServing(q, c, n.agents, n.capacity, n.free)
		}
		return n.agents, n.capacity, n.free
	}
	return s.walkServing(q, c)
}

// walkServing is serving counted by walking every agent: for the
// contacts the counters do not cover (a client family, requirements),
// and the oracle the counters are tested against.
func (s *Server) walkServing(q *queue, c *Contact) (agents, capacity, free int) {
	stage := 0
	if c != nil {
		stage = c.stage
	}
	for _, a := range s.agents {
		if a.state == LoggedOut || a.state == NotReady {
			continue
		}
		if _, ok := q.skillOK(a, stage); !ok || a.capacity[q.media] == 0 || !a.hasAttributes(q.requires) {
			continue
		}
		if c != nil && !a.supports(c) {
			continue
		}
		agents++
		capacity += int(a.capacity[q.media])
		if a.takesWork() && a.canTake(q.media) {
			free++
		}
	}
	return
}

// ewtFor is the EWT of a contact of q with ahead contacts before it: c,
// when not nil, is the contact (see serving).
func (s *Server) ewtFor(q *queue, ahead int, c *Contact) EWT {
	var e EWT
	_, capacity, free := s.serving(q, c)
	switch {
	case free > 0 && ahead == 0:
	case capacity == 0:
		// Nobody serves the queue: the wait is unbounded. Report a day,
		// the longest a center would quote.
		e.Staffing = 24 * time.Hour
	default:
		e.Staffing = time.Duration(ahead+1) * s.aht(q) / time.Duration(capacity)
	}
	n := min(q.nrec, recentWaits)
	if n > 0 {
		var sum time.Duration
		for i := 0; i < n; i++ {
			sum += q.recent[i]
		}
		e.Recent = sum / time.Duration(n)
	}
	if old := s.oldestWait(q); old > e.Recent {
		e.Recent = old
	}
	return e
}

func (s *Server) oldestWait(q *queue) time.Duration {
	now := s.clock.Now()
	var oldest time.Duration
	for _, b := range q.buckets {
		if b.head != nil {
			oldest = max(oldest, now.Sub(b.head.arrived))
		}
	}
	return oldest
}

// EstimatedWait returns the EWT of a new interaction in queue name.
func (s *Server) EstimatedWait(name string) (EWT, error) {
	q := s.queueByName[name]
	if q == nil {
		return EWT{}, pbx.Errorf(pbx.NotFound, "tserver: ewt: no queue %q", name)
	}
	return s.ewtFor(q, q.waiting, nil), nil
}

// Position returns a queued interaction's place in its queue (1 is next)
// and its own estimated wait. In a queue without aging it costs
// O(log waiting); with aging, priorities move with time and it walks the
// queue.
func (s *Server) Position(id pbx.ConnID) (int, EWT, error) {
	c, err := s.lookup("position", id)
	if err != nil {
		return 0, EWT{}, err
	}
	if c.State != pbx.Queued || c.bucket == nil {
		return 0, EWT{}, pbx.Errorf(pbx.Conflict, "tserver: position: interaction %s is %s", id, c.State)
	}
	q := c.queue
	now := s.clock.Now()
	ahead := 0
	if q.agingEvery == 0 {
		// Priorities stand still: the order statistics count (positions.go).
		if q.positions == nil {
			q.positions = buildPositions(q)
		}
		ahead = q.positions.ahead(c, c.bucket.priority)
		if s.verifyAhead != nil {
			s.verifyAhead(c, ahead)
		}
	} else {
		p := q.effectivePriority(c, now)
		for _, b := range q.buckets {
			for d := b.head; d != nil && d != c; d = d.next {
				if dp := q.effectivePriority(d, now); dp > p || (dp == p && before(d, c)) {
					ahead++
				}
			}
		}
	}
	e := s.ewtFor(q, ahead, c)
	e.Recent = max(0, e.Recent-now.Sub(c.arrived))
	return ahead + 1, e, nil
}

// QueueStatus is a queue's real-time status, as a wallboard shows it.
type QueueStatus struct {
	Name         string        `json:"name"`
	Media        pbx.Media     `json:"media"`
	LoggedIn     int           `json:"logged_in"`
	Ready        int           `json:"ready"`
	Busy         int           `json:"busy"`
	Waiting      int           `json:"waiting"`
	OldestWait   time.Duration `json:"oldest_wait"`
	EWT          EWT           `json:"ewt"`
	ServiceLevel float64       `json:"service_level"` // answered within target / (answered + abandoned) so far
	Stats        QueueStats    `json:"stats"`
}

// Status returns every queue's status, in configuration order.
func (s *Server) Status() []QueueStatus {
	out := make([]QueueStatus, 0, len(s.queues))
	for _, q := range s.queues {
		st := QueueStatus{Name: q.name, Media: q.media, Waiting: q.waiting, Stats: q.stats}
		// Agents logged in (with the queue's skill), ready for it and
		// busy, counted as agents change (agentindex.go).
		s.flushIndexes()
		st.LoggedIn, st.Ready, st.Busy = q.status.loggedIn, q.status.ready, q.status.busy
		if s.verifyStatus != nil {
			s.verifyStatus(q, st.LoggedIn, st.Ready, st.Busy)
		}
		st.OldestWait = s.oldestWait(q)
		st.EWT = s.ewtFor(q, q.waiting, nil)
		if done := q.stats.Answered + q.stats.Abandoned; done > 0 {
			st.ServiceLevel = float64(q.stats.AnsweredInSL) / float64(done)
		}
		out = append(out, st)
	}
	return out
}

// AgentTotals sums over all agents the time logged in, busy (offered,
// handling or wrapping up) and talking, up to now.
func (s *Server) AgentTotals() (logged, busy, talk time.Duration) {
	now := s.clock.Now()
	for _, a := range s.agents {
		l := a.loggedTime
		if a.state != LoggedOut {
			l += now.Sub(a.loginSince)
		}
		logged += l
		busy += a.busyTime(now)
		talk += a.talkTime(now)
	}
	return
}

// RestoreStats seeds the statistics of the current period at start, with
// what a previous run of the center counted (a restart): each queue's
// counters become the given ones plus what was counted since New. Queues
// the center does not have are ignored.
func (s *Server) RestoreStats(stats map[string]QueueStats) {
	for name, st := range stats {
		q := s.queueByName[name]
		if q == nil {
			continue
		}
		q.stats = q.stats.Add(st)
	}
}

// Add returns the sum of two sets of counters.
func (st QueueStats) Add(o QueueStats) QueueStats {
	return QueueStats{
		Offered: st.Offered + o.Offered, Answered: st.Answered + o.Answered, Abandoned: st.Abandoned + o.Abandoned,
		Waited: st.Waited + o.Waited, AnsweredInSL: st.AnsweredInSL + o.AnsweredInSL,
		WaitAnswered: st.WaitAnswered + o.WaitAnswered, WaitAbandoned: st.WaitAbandoned + o.WaitAbandoned,
		Handled: st.Handled + o.Handled, HandleTime: st.HandleTime + o.HandleTime,
	}
}

// Sub returns the counters of st less those of o: what was counted
// between two snapshots.
func (st QueueStats) Sub(o QueueStats) QueueStats {
	return QueueStats{
		Offered: st.Offered - o.Offered, Answered: st.Answered - o.Answered, Abandoned: st.Abandoned - o.Abandoned,
		Waited: st.Waited - o.Waited, AnsweredInSL: st.AnsweredInSL - o.AnsweredInSL,
		WaitAnswered: st.WaitAnswered - o.WaitAnswered, WaitAbandoned: st.WaitAbandoned - o.WaitAbandoned,
		Handled: st.Handled - o.Handled, HandleTime: st.HandleTime - o.HandleTime,
	}
}

// AllStats returns every queue's statistics, by queue name.
func (s *Server) AllStats() map[string]QueueStats {
	out := make(map[string]QueueStats, len(s.queues))
	for _, q := range s.queues {
		out[q.name] = q.stats
	}
	return out
}
