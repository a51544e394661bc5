package tserver

import (
	"slices"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// Resume brings back, through Arrive, an interaction that was in the
// center before a restart (a crash): its wait keeps counting from when it
// first queued, and the statistics, restored with RestoreStats, are not
// counted twice.
type Resume struct {
	// Arrived is when the interaction entered the center or was last
	// transferred: its wait, its place in the queue (FIFO) and its aging
	// count from there. The zero time is now.
	Arrived time.Time
	// Answered: an agent had answered it; the statistics counted it as
	// answered, and it goes before the interactions waiting in its
	// priority (the head of the queue).
	Answered bool
	// Agent, when not empty, is the agent the interaction is offered to
	// first: until Until no other agent is offered it. Then (or when the
	// agent does not exist) it is routed as any other.
	Agent string
	Until time.Time
}

// resume marks a new contact as resumed: counted as offered (and waited)
// already, with its original arrival.
func (s *Server) resume(c *Contact, r *Resume) {
	if !r.Arrived.IsZero() && r.Arrived.Before(c.arrived) {
		c.arrived = r.Arrived
		c.Created = r.Arrived
	}
	c.resumed, c.answered, c.first = true, r.Answered, r.Answered
	if a := s.agentByID[r.Agent]; a != nil && r.Until.After(s.clock.Now()) {
		c.prefer = a
		a.preferred = append(a.preferred, c)
		id := c.ID
		c.preferT = s.clock.AfterFunc(r.Until.Sub(s.clock.Now()), func() { s.preferenceOver(id) })
	}
}

// countResumed counts a resumed contact where it queues, without
// counting it offered again: the restored statistics did.
func (s *Server) countResumed(c *Contact, q *queue) {
	c.statQueue, c.counted, c.epoch, c.waited = q, true, s.epoch, true
}

// preferenceOver: the preferred agent did not take the contact in time;
// any agent may.
func (s *Server) preferenceOver(id pbx.ConnID) {
	c := s.contacts.get(id)
	if c == nil {
		return
	}
	c.preferT = nil
	s.dropPreference(c)
	if c.State == pbx.Queued && c.bucket != nil {
		if a := s.findAgent(c, c.queue); a != nil {
			s.offer(c, a)
		}
	}
}

// dropPreference forgets c's preferred agent.
func (s *Server) dropPreference(c *Contact) {
	if c.preferT != nil {
		c.preferT.Stop()
		c.preferT = nil
	}
	if a := c.prefer; a != nil {
		c.prefer = nil
		if i := slices.Index(a.preferred, c); i >= 0 {
			a.preferred = slices.Delete(a.preferred, i, i+1)
		}
	}
}

// reservedFor reports whether c waits for another agent than a.
func (c *Contact) reservedFor(a *Agent) bool { return c.prefer != nil && c.prefer != a }

// PreferredAgent returns the agent the contact waits for, if any.
func (c *Contact) PreferredAgent() string {
	if c.prefer == nil {
		return ""
	}
	return c.prefer.ID
}

// dispatchPreferred offers agent a the queued contacts that wait for it,
// oldest first, before anything else.
func (s *Server) dispatchPreferred(a *Agent) {
	for _, c := range slices.Clone(a.preferred) {
		if !a.available() {
			return
		}
		if c.State != pbx.Queued || c.bucket == nil {
			continue
		}
		if _, ok := s.eligible(a, c, c.queue); ok {
			s.offer(c, a)
		}
	}
}
