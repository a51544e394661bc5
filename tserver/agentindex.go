package tserver

import (
	"github.com/google/btree"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// The router's indexes: what findAgent and the EWT estimators would
// otherwise learn by walking every agent, kept up to date as agents change
// (reindex), so that an event costs O(log agents), not O(agents).
//
// Ranked agents: for each skill, media and level, the agents who may be
// offered an interaction of that media now (available and able to take
// one more of it) in a B-tree ordered by a strategy's preference, the
// same order better() gives. The first agent of a tree that meets the
// interaction's requirements is the best of that tree, so a decision reads
// one agent per level and list instead of every available agent.
// Every strategy is ranked but weighted_random, whose decision draws once
// per eligible agent in list order: it keeps the linear scan, so that it
// chooses exactly as before. least_talk_time ranks in two trees: agents
// with nothing established (their talk time stands still) and agents
// talking, whose talk times all grow with the clock at the same pace, so
// that their order stands still too.
//
// Serving counts: per queue and overflow stage, the agents who serve it
// now, their capacity and how many are free: serving() for an interaction
// without client or attribute requirements. Status counts: per queue, the
// agents logged in, ready and busy, as Status reports them.

// rankKind is an order the ranked trees keep agents in.
type rankKind uint8

const (
	rankIdle    rankKind = iota // idle since, then order: longest_idle, and highest_skill within a level
	rankOrder                   // configuration order: top_down, round_robin
	rankFewest                  // in hand, handled, idle since, order: fewest_interactions
	rankQuiet                   // talk time, idle since, order: least_talk_time, agents not talking
	rankTalking                 // talk time less now, idle since, order: least_talk_time, agents talking
	numRankKinds
)

// rankKindsOf returns the orders that rank agents for strategy st (one,
// or two trees to read), false when st keeps the linear scan.
func rankKindsOf(st Strategy) (first, second rankKind, ok bool) {
	switch st {
	case LongestIdle, HighestSkill:
		return rankIdle, rankIdle, true
	case TopDown, RoundRobin:
		return rankOrder, rankOrder, true
	case FewestInteractions:
		return rankFewest, rankFewest, true
	case LeastTalkTime:
		return rankQuiet, rankTalking, true
	}
	return 0, 0, false
}

// rankItem is an agent's key in a ranked tree: fields a kind does not
// use are zero, so one lexicographic order serves every kind. It holds no
// pointer, which spares the garbage collector the trees.
type rankItem struct {
	lead    int64 // in hand (rankFewest), talk time (rankQuiet, rankTalking)
	handled int64 // (rankFewest)
	idle    int64 // idle since, as an offset from Server.timeRef (all but rankOrder)
	order   int32 // configuration order, unique: no two items are equal
	agent   int32 // index in Server.agents
}

func rankLess(a, b rankItem) bool {
	switch {
	case a.lead != b.lead:
		return a.lead < b.lead
	case a.handled != b.handled:
		return a.handled < b.handled
	case a.idle != b.idle:
		return a.idle < b.idle
	}
	return a.order < b.order
}

// rankTree is one ranked tree.
type rankTree = btree.BTreeG[rankItem]

// rankEntry is an agent's place in one ranked tree, with the key it was
// filed under (a tree finds an item by its key, so the key changes only
// while the agent is out of the tree).
type rankEntry struct {
	tree  *rankTree
	kind  rankKind
	media pbx.Media
	in    bool
	filed rankItem
}

// key returns agent a's key in a tree of kind k. Times become offsets
// from timeRef, taken from the same clock: Sub orders them as Before does
// (both use the monotonic reading when the clock gives one), and a talking
// agent's talk time, talk + (now - talkSince), is its key plus now's
// offset, the same for every agent of the tree.
func (s *Server) key(k rankKind, a *Agent) rankItem {
	it := rankItem{order: int32(a.order), agent: int32(a.index)}
	if k == rankOrder {
		return it
	}
	it.idle = int64(a.idleSince.Sub(s.timeRef))
	switch k {
	case rankFewest:
		it.lead, it.handled = int64(a.offered+a.active), int64(a.handled)
	case rankQuiet:
		it.lead = int64(a.talk - a.talkAtLogin)
	case rankTalking:
		it.lead = int64(a.talk - a.talkAtLogin - a.talkSince.Sub(s.timeRef))
	}
	return it
}

// belongs reports whether agent a, available for media, belongs in a
// tree of kind k: least_talk_time's trees split talking agents from the
// others.
func belongs(k rankKind, a *Agent) bool {
	switch k {
	case rankQuiet:
		return a.active == 0
	case rankTalking:
		return a.active > 0
	}
	return true
}

// rankTrees holds the trees of one skill, media and kind, by level.
type rankTrees []*rankTree

// servingCount is serving()'s answer for one queue and overflow stage.
type servingCount struct {
	agents, capacity, free int
}

// statusCount is Status's agent counts of one queue.
type statusCount struct {
	loggedIn, ready, busy int
}

// servingState is what an agent adds to a queue's serving and status
// counts: the stages it qualifies for, and whether it counts and is free
// (serving), logged in, ready or busy (Status) now.
type servingState struct {
	stages                uint64 // bit s: skillOK at overflow stage s
	counted, free         bool
	loggedIn, ready, busy bool
	capacityOfThis        int
}

// maxCountedStages bounds the overflow stages whose serving counts are
// kept; a queue with more rules counts by walking its agents.
const maxCountedStages = 64

// buildIndexes creates the ranked trees the queues' strategies need and
// files every agent in them; New calls it once queues and agents exist.
func (s *Server) buildIndexes() {
	maxLevel := 0
	for _, a := range s.agents {
		for _, k := range a.skills {
			maxLevel = max(maxLevel, int(a.level[k]))
		}
	}
	s.ranked = make([][pbx.NumMedia][numRankKinds]rankTrees, len(s.skillNames))
	need := func(skill int, m pbx.Media, k rankKind) {
		if s.ranked[skill][m][k] == nil {
			s.ranked[skill][m][k] = make(rankTrees, maxLevel+1)
		}
	}
	for _, q := range s.queues {
		k1, k2, ok := rankKindsOf(q.strategy)
		if !ok {
			continue
		}
		for _, k := range [...]rankKind{k1, k2} {
			need(q.skill, q.media, k)
			for _, o := range q.overflow {
				if o.addSkill >= 0 {
					need(o.addSkill, q.media, k)
				}
			}
		}
	}
	for _, q := range s.queues {
		q.counted = len(q.overflow) < maxCountedStages
		q.serving = make([]servingCount, len(q.overflow)+1)
	}
	for _, a := range s.agents {
		for _, skill := range a.skills {
			lvl := a.level[skill]
			for m := pbx.Media(0); m < pbx.NumMedia; m++ {
				if a.capacity[m] == 0 {
					continue
				}
				for k, trees := range s.ranked[skill][m] {
					if trees == nil {
						continue
					}
					if trees[lvl] == nil {
						trees[lvl] = btree.NewG(16, rankLess)
					}
					a.ranks = append(a.ranks, rankEntry{tree: trees[lvl], kind: rankKind(k), media: m})
				}
			}
		}
		a.serving = make([]servingState, len(a.queues))
		for i, q := range a.queues {
			st := &a.serving[i]
			st.capacityOfThis = int(a.capacity[q.media])
			for stage := 0; stage <= len(q.overflow) && stage < maxCountedStages; stage++ {
				if _, ok := q.skillOK(a, stage); ok {
					st.stages |= 1 << stage
				}
			}
		}
		s.reindex(a)
	}
}

// touch notes that agent a's state, load or keys changed: its ranked
// entries and serving counts are brought in step before the indexes are
// next read (flushIndexes). Code that changes an agent's state,
// pendingNR, load, offered, active, handled, idleSince, talk, talkSince
// or talkAtLogin must call it (setAvailable does); the differential tests
// (oracle_test.go) catch a change that does not. Deferring spares the trees the churn of an agent freed and
// offered the next waiting interaction within one event.
func (s *Server) touch(a *Agent) {
	if !a.touched {
		a.touched = true
		s.touched = append(s.touched, a)
	}
}

// flushIndexes brings the indexes in step with every agent touched since
// they were last read; findAgent and serving call it first.
func (s *Server) flushIndexes() {
	for i, a := range s.touched {
		a.touched = false
		s.reindex(a)
		s.touched[i] = nil
	}
	s.touched = s.touched[:0]
}

// reindex brings the agent's ranked entries and serving counts in step
// with its state, load and keys.
func (s *Server) reindex(a *Agent) {
	for i := range a.ranks {
		e := &a.ranks[i]
		want := a.inAvailable && a.canTake(e.media) && belongs(e.kind, a)
		var key rankItem
		if want {
			key = s.key(e.kind, a)
		}
		if e.in {
			if want && key == e.filed {
				continue
			}
			e.tree.Delete(e.filed)
			e.in = false
		}
		if want {
			e.filed = key
			e.tree.ReplaceOrInsert(key)
			e.in = true
		}
	}
	counted := a.state != LoggedOut && a.state != NotReady
	for i, q := range a.queues {
		st := &a.serving[i]
		free := a.takesWork() && a.canTake(q.media)
		if st.stages&1 != 0 {
			s.restatus(a, q, st, free)
		}
		if counted == st.counted && free == st.free {
			continue
		}
		dAgents, dFree := b2i(counted)-b2i(st.counted), b2i(free)-b2i(st.free)
		st.counted, st.free = counted, free
		for stage, bits := 0, st.stages; bits != 0; stage, bits = stage+1, bits>>1 {
			if bits&1 == 0 {
				continue
			}
			n := &q.serving[stage]
			n.agents += dAgents
			n.capacity += dAgents * st.capacityOfThis
			n.free += dFree
		}
	}
}

// restatus brings q's Status counts in step with agent a, which serves q
// at stage 0 and is free for it or not.
func (s *Server) restatus(a *Agent, q *queue, st *servingState, free bool) {
	loggedIn := a.state != LoggedOut
	ready := loggedIn && free && !a.working()
	busy := loggedIn && !ready && (a.working() || a.state == AfterCallWork)
	if loggedIn == st.loggedIn && ready == st.ready && busy == st.busy {
		return
	}
	q.status.loggedIn += b2i(loggedIn) - b2i(st.loggedIn)
	q.status.ready += b2i(ready) - b2i(st.ready)
	q.status.busy += b2i(busy) - b2i(st.busy)
	st.loggedIn, st.ready, st.busy = loggedIn, ready, busy
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rankedPick considers, for p, the best ranked agent of each level from
// minLevel up in skill's trees for p's media and order.
func (s *Server) rankedPick(p *pick, k rankKind, skill, minLevel int) {
	trees := s.ranked[skill][p.c.Media][k]
	for lvl := max(minLevel, 1); lvl < len(trees); lvl++ {
		t := trees[lvl]
		if t == nil || t.Len() == 0 {
			continue
		}
		a := s.firstEligible(p, t)
		if a == nil {
			continue
		}
		switch {
		case p.best == nil:
			p.best, p.bestLevel = a, lvl
		case a == p.best:
			p.bestLevel = max(p.bestLevel, lvl)
		case s.better(p.q, a, lvl, p.best, p.bestLevel):
			p.best, p.bestLevel = a, lvl
		}
	}
}

// firstEligible returns the first agent of tree t, in its order, that may
// take p's interaction; for round robin the order starts after the agent
// chosen last and wraps around.
func (s *Server) firstEligible(p *pick, t *rankTree) *Agent {
	if p.q.strategy != RoundRobin && p.plain {
		it, _ := t.Min()
		return s.agents[it.agent]
	}
	var found *Agent
	take := func(it rankItem) bool {
		a := s.agents[it.agent]
		if p.plain || a.supports(p.c) && a.hasAttributes(p.q.requires) {
			found = a
			return false
		}
		return true
	}
	if p.q.strategy != RoundRobin {
		t.Ascend(take)
		return found
	}
	// Round robin's trees are in configuration order alone.
	pivot := rankItem{order: int32(p.q.rrCursor + 1)}
	t.AscendGreaterOrEqual(pivot, take)
	if found == nil {
		t.AscendLessThan(pivot, take)
	}
	return found
}
