package tserver

import (
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// Strategy chooses among the agents eligible for an interaction.
type Strategy uint8

// Routing strategies. Ties always go to the agent idle the longest, then
// to configuration order.
const (
	LongestIdle        Strategy = iota // the agent idle the longest
	RoundRobin                         // the next agent after the last one chosen, in configuration order
	FewestInteractions                 // the agent with the fewest interactions in hand, then fewest handled
	LeastTalkTime                      // the agent with the least talk time since login
	TopDown                            // the first agent in configuration order
	HighestSkill                       // the agent with the highest level in the skill
	WeightedRandom                     // at random, in proportion to agents' weights
	numStrategies
)

var strategyNames = [numStrategies]string{"longest_idle", "round_robin", "fewest_interactions", "least_talk_time", "top_down", "highest_skill", "weighted_random"}

func (s Strategy) String() string {
	if s < numStrategies {
		return strategyNames[s]
	}
	return "strategy(?)"
}

// ParseStrategy returns the strategy named s ("" is longest_idle).
func ParseStrategy(s string) (Strategy, error) {
	if s == "" {
		return LongestIdle, nil
	}
	for i, n := range strategyNames {
		if n == s {
			return Strategy(i), nil
		}
	}
	return 0, pbx.Errorf(pbx.Invalid, "unknown strategy %q", s)
}

// Contact is an interaction as the router sees it: the switch's
// interaction plus what routing needs.
type Contact struct {
	pbx.Interaction
	// Priority is added to the queue's priority.
	Priority int
	// ClientFamily and ClientVersion name the customer's IM software; an
	// agent must support them.
	ClientFamily, ClientVersion string
	// Requires lists attributes the agent must have.
	Requires []pbx.KV
	// Tag is the Arrival's Tag.
	Tag int

	queue     *queue // queue the contact is in or was last routed from
	statQueue *queue // queue whose statistics count it
	epoch     uint32 // statistics epoch it was counted in
	counted   bool
	waited    bool
	answered  bool
	outbound  bool
	arrived   time.Time // entered the center (or was transferred)
	answerAt  time.Time
	seq       uint64 // arrival order, the FIFO tie-break
	stage     int    // overflow rules applied in the current queue
	queuedAt  time.Time
	agent     *Agent // agent it is offered to or connected with
	resumed   bool   // brought back after a restart (Resume): counted already
	first     bool   // goes before the others of its priority (resumed after an answer)
	prefer    *Agent // the only agent it may be offered to until preferT fires
	preferT   clock.Timer
	rp        *routePoint

	bucket    *bucket
	prev      *Contact
	next      *Contact
	overflowT clock.Timer
	ringT     clock.Timer
	routeT    clock.Timer
}

// Agent returns the agent the contact is offered to or connected with.
func (c *Contact) Agent() *Agent { return c.agent }

// Queue returns the name of the queue the contact is in or came from.
func (c *Contact) Queue() string {
	if c.queue == nil {
		return ""
	}
	return c.queue.name
}

// Arrived returns when the contact entered the center.
func (c *Contact) Arrived() time.Time { return c.arrived }

type overflowRule struct {
	after    time.Duration
	minLevel int
	addSkill int // -1: none
	toQueue  *queue
}

type queue struct {
	name     string
	number   string
	media    pbx.Media
	skill    int
	minLevel int
	priority int
	slTarget time.Duration
	strategy Strategy
	requires []pbx.KV
	overflow []overflowRule
	index    int

	agingEvery time.Duration
	agingStep  int
	agingMax   int

	buckets   []*bucket  // by priority, highest first
	positions *positions // order statistics of the waiting, from the first Position (no aging)
	waiting   int
	rrCursor  int // order of the agent last chosen (round robin)

	counted bool           // serving is kept (few enough overflow rules)
	serving []servingCount // by overflow stage: see serving()
	status  statusCount    // agents logged in, ready, busy: see Status

	stats  QueueStats
	recent [recentWaits]time.Duration
	nrec   int
}

type bucket struct {
	priority   int
	head, tail *Contact
}

// effectivePriority is the contact's priority after aging.
func (q *queue) effectivePriority(c *Contact, now time.Time) int {
	p := q.priority + c.Priority
	if q.agingEvery > 0 {
		steps := int(now.Sub(c.arrived)/q.agingEvery) * q.agingStep
		p += min(steps, q.agingMax)
	}
	return p
}

// before reports whether c comes before d in FIFO order.
func before(c, d *Contact) bool {
	if c.first != d.first {
		return c.first
	}
	if !c.arrived.Equal(d.arrived) {
		return c.arrived.Before(d.arrived)
	}
	return c.seq < d.seq
}

// insert puts c in its priority bucket in arrival order.
func (q *queue) insert(c *Contact) {
	p := q.priority + c.Priority
	var b *bucket
	i := 0
	for ; i < len(q.buckets); i++ {
		if q.buckets[i].priority == p {
			b = q.buckets[i]
			break
		}
		if q.buckets[i].priority < p {
			break
		}
	}
	if b == nil {
		b = &bucket{priority: p}
		q.buckets = append(q.buckets, nil)
		copy(q.buckets[i+1:], q.buckets[i:])
		q.buckets[i] = b
	}
	c.bucket = b
	q.waiting++
	if q.positions != nil {
		q.positions.add(c, p)
	}
	switch {
	case b.tail == nil:
		b.head, b.tail = c, c
		c.prev, c.next = nil, nil
	case !before(c, b.tail):
		c.prev, c.next = b.tail, nil
		b.tail.next = c
		b.tail = c
	case before(c, b.head):
		c.prev, c.next = nil, b.head
		b.head.prev = c
		b.head = c
	default:
		at := b.tail
		for before(c, at) {
			at = at.prev
		}
		c.prev, c.next = at, at.next
		at.next.prev = c
		at.next = c
	}
}

// remove takes c out of the queue.
func (q *queue) remove(c *Contact) {
	b := c.bucket
	if b == nil {
		return
	}
	if q.positions != nil {
		q.positions.remove(c, b.priority)
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		b.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		b.tail = c.prev
	}
	c.prev, c.next, c.bucket = nil, nil, nil
	q.waiting--
}

// skillOK reports whether agent a may take contact c of this queue, given
// the overflow rules applied so far, and the agent's level in the skill
// that qualifies it.
func (q *queue) skillOK(a *Agent, stage int) (int, bool) {
	minLevel := q.minLevel
	best := 0
	for i := 0; i < stage && i < len(q.overflow); i++ {
		o := &q.overflow[i]
		switch {
		case o.addSkill >= 0:
			need := max(o.minLevel, 1)
			if l := a.levelOf(o.addSkill); l >= need && l > best {
				best = l
			}
		case o.minLevel > 0:
			minLevel = o.minLevel
		}
	}
	if l := a.levelOf(q.skill); l >= minLevel && l > best {
		best = l
	}
	return best, best > 0
}

// eligible reports whether a may be offered c now, and a's level for it.
func (s *Server) eligible(a *Agent, c *Contact, q *queue) (int, bool) {
	if !a.takesWork() || !a.canTake(c.Media) {
		return 0, false
	}
	lvl, ok := q.skillOK(a, c.stage)
	if !ok || !a.supports(c) || !a.hasAttributes(q.requires) {
		return 0, false
	}
	return lvl, true
}

// findAgent picks the agent for c in queue q by the queue's strategy, or
// nil when no eligible agent is available. For most strategies it reads the
// ranked trees of the queue's skill (and of the skills overflow has added
// so far): the first eligible agent per level (agentindex.go). For the
// others it scans the available agents of those skills; this is the
// router's hot path, so the common checks are inlined.
func (s *Server) findAgent(c *Contact, q *queue) *Agent {
	if a := c.prefer; a != nil {
		if _, ok := s.eligible(a, c, q); ok {
			return a
		}
		return nil
	}
	p := pick{c: c, q: q, plain: c.ClientFamily == "" && len(c.Requires) == 0 && len(q.requires) == 0}
	minLevel := q.minLevel
	for i := 0; i < c.stage && i < len(q.overflow); i++ {
		if o := &q.overflow[i]; o.addSkill < 0 && o.minLevel > 0 {
			minLevel = o.minLevel
		}
	}
	p.minLevel, p.rule = minLevel, -1
	if k1, k2, ok := rankKindsOf(q.strategy); ok {
		s.flushIndexes()
		s.rankedPick(&p, k1, q.skill, minLevel)
		if k2 != k1 {
			s.rankedPick(&p, k2, q.skill, minLevel)
		}
		for i := 0; i < c.stage && i < len(q.overflow); i++ {
			if o := &q.overflow[i]; o.addSkill >= 0 {
				s.rankedPick(&p, k1, o.addSkill, max(o.minLevel, 1))
				if k2 != k1 {
					s.rankedPick(&p, k2, o.addSkill, max(o.minLevel, 1))
				}
			}
		}
		if s.verifyPick != nil {
			s.verifyPick(c, q, p.best)
		}
		return p.best
	}
	s.scan(&p, s.avail[q.skill], q.skill, minLevel)
	for i := 0; i < c.stage && i < len(q.overflow); i++ {
		if o := &q.overflow[i]; o.addSkill >= 0 {
			p.rule = i
			s.scan(&p, s.avail[o.addSkill], o.addSkill, max(o.minLevel, 1))
		}
	}
	return p.best
}

// pick is the state of one routing decision.
type pick struct {
	c           *Contact
	q           *queue
	plain       bool // no client or attribute requirements
	best        *Agent
	bestLevel   int
	totalWeight int
	minLevel    int // in the queue's skill
	rule        int // the add_skill rule whose list is scanned, -1 for the queue's skill
}

// metBefore reports whether an earlier list of this decision (the queue's
// skill's, or an earlier add_skill rule's) already had a as a candidate: an
// agent with several of the skills is in several lists.
func (p *pick) metBefore(a *Agent) bool {
	if p.rule < 0 {
		return false
	}
	if int(a.level[p.q.skill]) >= p.minLevel {
		return true
	}
	for j := 0; j < p.rule; j++ {
		if o := &p.q.overflow[j]; o.addSkill >= 0 && int(a.level[o.addSkill]) >= max(o.minLevel, 1) {
			return true
		}
	}
	return false
}

func (s *Server) scan(p *pick, list []*Agent, skill, minLevel int) {
	m := p.c.Media
	bit := uint8(1) << m
	for _, a := range list {
		if a.load[m] >= a.capacity[m] || a.blocked()&bit != 0 {
			continue
		}
		lvl := int(a.level[skill])
		if lvl < minLevel {
			continue
		}
		if a == p.best {
			// Met again through another skill: it qualifies by the
			// higher of its levels, as skillOK says.
			p.bestLevel = max(p.bestLevel, lvl)
			continue
		}
		if !p.plain && (!a.supports(p.c) || !a.hasAttributes(p.q.requires)) {
			continue
		}
		if p.q.strategy == WeightedRandom {
			if p.metBefore(a) {
				continue // drawn for already: one draw per agent
			}
			p.totalWeight += a.weight
			if s.rng.IntN(p.totalWeight) < a.weight {
				p.best, p.bestLevel = a, lvl
			}
			continue
		}
		if p.best == nil || s.better(p.q, a, lvl, p.best, p.bestLevel) {
			p.best, p.bestLevel = a, lvl
		}
	}
}

// better reports whether agent a (level la) beats agent b (level lb) under
// q's strategy.
func (s *Server) better(q *queue, a *Agent, la int, b *Agent, lb int) bool {
	switch q.strategy {
	case RoundRobin:
		n := len(s.agents)
		da := (a.order - q.rrCursor - 1 + 2*n) % n
		db := (b.order - q.rrCursor - 1 + 2*n) % n
		return da < db
	case TopDown:
		return a.order < b.order
	case FewestInteractions:
		if x, y := a.offered+a.active, b.offered+b.active; x != y {
			return x < y
		}
		if a.handled != b.handled {
			return a.handled < b.handled
		}
	case LeastTalkTime:
		now := s.clock.Now()
		if x, y := a.talkTime(now)-a.talkAtLogin, b.talkTime(now)-b.talkAtLogin; x != y {
			return x < y
		}
	case HighestSkill:
		if la != lb {
			return la > lb
		}
	}
	if !a.idleSince.Equal(b.idleSince) {
		return a.idleSince.Before(b.idleSince)
	}
	return a.order < b.order
}

// bestFor returns the contact waiting in q that agent a should take next,
// with its effective priority.
func (s *Server) bestFor(q *queue, a *Agent, now time.Time) (*Contact, int) {
	if q.waiting == 0 || !a.canTake(q.media) || !a.hasAttributes(q.requires) {
		return nil, 0
	}
	var best *Contact
	bestP := 0
	for _, b := range q.buckets {
		for c := b.head; c != nil; c = c.next {
			if _, ok := q.skillOK(a, c.stage); !ok || !a.supports(c) || c.reservedFor(a) {
				continue
			}
			p := q.effectivePriority(c, now)
			if best == nil || p > bestP || (p == bestP && before(c, best)) {
				best, bestP = c, p
			}
			break // later contacts in the bucket are younger, never better
		}
	}
	return best, bestP
}

// dispatch offers waiting contacts to agent a while it can take more.
func (s *Server) dispatch(a *Agent) {
	if len(a.preferred) > 0 {
		s.dispatchPreferred(a)
	}
	for a.available() {
		now := s.clock.Now()
		var best *Contact
		bestP := 0
		for _, q := range a.queues {
			c, p := s.bestFor(q, a, now)
			if c == nil {
				continue
			}
			if best == nil || p > bestP || (p == bestP && before(c, best)) {
				best, bestP = c, p
			}
		}
		if best == nil {
			return
		}
		s.offer(best, a)
	}
}

// setAvailable keeps the availability lists and the indexes in step with
// the agent.
func (s *Server) setAvailable(a *Agent) {
	want := a.available()
	if want == a.inAvailable {
		s.touch(a)
		return
	}
	a.inAvailable = want
	for i, k := range a.skills {
		list := s.avail[k]
		if want {
			a.availPos[i] = int32(len(list))
			s.avail[k] = append(list, a)
			continue
		}
		pos := a.availPos[i]
		last := list[len(list)-1]
		list[pos] = last
		last.availPos[last.skillSlot(k)] = pos
		list[len(list)-1] = nil
		s.avail[k] = list[:len(list)-1]
		a.availPos[i] = -1
	}
	s.touch(a)
}

func (a *Agent) skillSlot(skill int) int {
	for i, k := range a.skills {
		if k == skill {
			return i
		}
	}
	return -1
}
