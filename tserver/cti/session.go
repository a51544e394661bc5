package cti

import (
	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// loopState is what the server keeps on the loop goroutine.
type loopState struct {
	unsubscribe func()
	stopped     bool
	sessions    map[string]*session
	// Registrations: who watches what.
	watchers map[watchKey]map[*conn]struct{}
	// joins: the supervisors in each chat.
	joins map[pbx.ConnID]map[*session]struct{}
	// monitoring: the connections that monitor customers.
	monitoring map[*conn]struct{}
	stamp      uint64 // counts deliveries, so a message reaches a connection once
}

func (st *loopState) init() {
	st.sessions = map[string]*session{}
	st.watchers = map[watchKey]map[*conn]struct{}{}
	st.joins = map[pbx.ConnID]map[*session]struct{}{}
	st.monitoring = map[*conn]struct{}{}
}

// watchKind is what a registration watches.
type watchKind uint8

const (
	watchAll        watchKind = iota + 1 // "*": every event
	watchQueue                           // a queue's events (Event.Queue)
	watchAgent                           // an agent's events (Event.AgentID)
	watchRoutePoint                      // interactions that arrived at a route point (Event.DNIS), routed by this connection
)

// watchKey names one registration.
type watchKey struct {
	kind watchKind
	name string
}

func (k watchKey) String() string {
	switch k.kind {
	case watchAll:
		return "everything"
	case watchQueue:
		return "queue " + k.name
	case watchAgent:
		return "agent " + k.name
	default:
		return "route point " + k.name
	}
}

// session is an agent's CTI login: the connections acting as the agent,
// and what it keeps while none is connected; or a user's (RequestLogin),
// which chat events reach while the user is connected.
type session struct {
	agentID string // the agent's id, or the user's name (user)
	user    bool   // a user's session: it ends with its last connection
	conns   []*conn
	// owns: the login came from CTI, so the grace period logs the agent
	// out. An agent that was already logged in (by its SIP phone, by the
	// configuration) is only attached to.
	owns bool
	// While no connection is attached: messages kept for the desktop,
	// how many were dropped, and the grace timer.
	backlog  []any
	missed   int
	grace    clock.Timer
	notReady bool // the grace period already made the agent not ready
	joined   map[pbx.ConnID]struct{}
}

// start subscribes to the T-Server's events (on the loop).
func (s *Server) start() {
	if s.st.stopped || s.st.unsubscribe != nil {
		return
	}
	s.st.unsubscribe = s.ts.Subscribe(s.onEvent)
}

// stop unsubscribes, cancels the customer watches and stops the grace
// timers (on the loop). Sessions are forgotten; the agents stay as they
// are.
func (s *Server) stop() {
	s.st.stopped = true
	if s.st.unsubscribe != nil {
		s.st.unsubscribe()
		s.st.unsubscribe = nil
	}
	for c := range s.st.monitoring {
		s.unwatchCustomers(c)
	}
	for _, ss := range s.st.sessions {
		if ss.grace != nil {
			ss.grace.Stop()
			ss.grace = nil
		}
	}
}

// onEvent copies a T-Server event to the connections that want it.
func (s *Server) onEvent(e tserver.Event) {
	s.st.stamp++
	if e.AgentID != "" {
		if ss := s.st.sessions[e.AgentID]; ss != nil {
			s.deliverSession(ss, e)
		}
		s.deliverWatchers(watchKey{watchAgent, e.AgentID}, e)
	}
	if e.Queue != "" {
		s.deliverWatchers(watchKey{watchQueue, e.Queue}, e)
	}
	if e.DNIS != "" {
		s.deliverWatchers(watchKey{watchRoutePoint, e.DNIS}, e)
	}
	s.deliverWatchers(watchKey{kind: watchAll}, e)

	switch {
	case e.Type == tserver.EventAgentLogout:
		if ss := s.st.sessions[e.AgentID]; ss != nil {
			s.endSession(ss)
		}
	case e.ConnID != 0 && isFinal(e):
		for ss := range s.st.joins[e.ConnID] {
			delete(ss.joined, e.ConnID)
		}
		delete(s.st.joins, e.ConnID)
	}
}

// isFinal reports whether e ends its interaction: an abandon, or the
// release without a reason (a reason means rejected or transferred, and
// the interaction goes on).
func isFinal(e tserver.Event) bool {
	return e.Type == tserver.EventAbandoned || (e.Type == tserver.EventReleased && e.Reason == "")
}

func (s *Server) deliverWatchers(k watchKey, m any) {
	for c := range s.st.watchers[k] {
		s.deliverConn(c, m)
	}
}

// deliverConn queues m on c unless it already has it.
func (s *Server) deliverConn(c *conn, m any) {
	if c.stamp == s.st.stamp {
		return
	}
	c.stamp = s.st.stamp
	c.send(m)
}

// deliverSession queues m on the agent's connections, or keeps it while
// none takes it (none is connected, or they are closing).
func (s *Server) deliverSession(ss *session, m any) {
	taken := false
	for _, c := range ss.conns {
		if c.stamp == s.st.stamp {
			taken = true
			continue
		}
		c.stamp = s.st.stamp
		if c.send(m) {
			taken = true
		}
	}
	if !taken {
		s.keep(ss, m)
	}
}

// keep adds messages to the session's backlog, dropping the oldest beyond
// half of SendQueue.
func (s *Server) keep(ss *session, ms ...any) {
	ss.backlog = append(ss.backlog, ms...)
	if limit := max(s.sendQ/2, 1); len(ss.backlog) > limit {
		n := len(ss.backlog) - limit
		ss.missed += n
		ss.backlog = append(ss.backlog[:0], ss.backlog[n:]...)
	}
}

// attach makes c act as the session's agent and hands it what was kept.
func (s *Server) attach(ss *session, c *conn) (missed int) {
	if ss.grace != nil {
		ss.grace.Stop()
		ss.grace = nil
	}
	ss.conns = append(ss.conns, c)
	c.session = ss
	for _, m := range ss.backlog {
		c.send(m)
	}
	missed = ss.missed
	ss.backlog, ss.missed = nil, 0
	return missed
}

// endSession forgets a session: the agent logged out, its grace period
// ended, or the user's last connection went. Chats it joined as a
// supervisor are left. Its connections act as nobody again, and what they
// registered is dropped: a logout takes the rights with it.
func (s *Server) endSession(ss *session) {
	if ss.grace != nil {
		ss.grace.Stop()
		ss.grace = nil
	}
	for _, c := range ss.conns {
		c.session = nil
		c.principal = auth.Principal{}
		for k, undo := range c.watches {
			s.unwatch(c, k, undo)
		}
		s.unwatchCustomers(c)
	}
	for id := range ss.joined {
		if err := s.chat.SupervisorLeave(ss.agentID, id); err != nil {
			s.log.Debug().Err(err).Str("agent", ss.agentID).Stringer("conn_id", id).Msg("cti: supervisor leave")
		}
		delete(s.st.joins[id], ss)
		if len(s.st.joins[id]) == 0 {
			delete(s.st.joins, id)
		}
	}
	ss.conns, ss.joined, ss.backlog = nil, nil, nil
	if s.st.sessions[ss.agentID] == ss {
		delete(s.st.sessions, ss.agentID)
	}
}

// detach forgets a closed connection (on the loop). An agent left without
// connections enters its grace period.
func (s *Server) detach(c *conn) {
	for k, undo := range c.watches {
		s.unwatch(c, k, undo)
	}
	s.unwatchCustomers(c)
	ss := c.session
	if ss == nil {
		return
	}
	c.session = nil
	for i, x := range ss.conns {
		if x == c {
			ss.conns = append(ss.conns[:i], ss.conns[i+1:]...)
			break
		}
	}
	if len(ss.conns) > 0 || s.st.stopped {
		return
	}
	if ss.user {
		s.endSession(ss)
		return
	}
	// What the connection's writer never wrote (it has ended) goes back
	// to the session, before what the session kept since.
	var unsent []any
	for len(c.out) > 0 {
		if m := <-c.out; !isReply(m) {
			unsent = append(unsent, m)
		}
	}
	kept := ss.backlog
	ss.backlog = nil
	s.keep(ss, append(unsent, kept...)...)
	s.log.Info().Str("agent", ss.agentID).Dur("grace", s.grace).Int("kept", len(ss.backlog)).Msg("cti: agent's desktop disconnected")
	s.armGrace(ss)
}

func isReply(m any) bool {
	_, ok := m.(*reply)
	return ok
}

func (s *Server) armGrace(ss *session) {
	if s.grace < 0 {
		return
	}
	ss.grace = s.clock.AfterFunc(s.grace, func() { s.graceOver(ss) })
}

// graceOver ends the grace period of an agent whose desktop did not come
// back. An agent the CTI logged in is logged out; if it still has work
// (an offer ringing, a call or chat established) it is made not ready
// instead, with reason cti_disconnected, and the logout is tried again
// after another grace period. An agent logged in by other means keeps its
// state; only the session is forgotten.
func (s *Server) graceOver(ss *session) {
	if s.st.sessions[ss.agentID] != ss || len(ss.conns) > 0 || s.st.stopped {
		return
	}
	ss.grace = nil
	if !ss.owns {
		s.log.Info().Str("agent", ss.agentID).Msg("cti: desktop did not come back; agent stays logged in")
		s.endSession(ss)
		return
	}
	err := s.ts.AgentLogout(ss.agentID)
	if err == nil {
		s.log.Info().Str("agent", ss.agentID).Msg("cti: desktop did not come back: agent logged out")
		// EventAgentLogout ended the session.
		return
	}
	a, ok := s.ts.Agent(ss.agentID)
	if !ok || a.State() == tserver.LoggedOut {
		s.endSession(ss)
		return
	}
	if !ss.notReady && a.State() != tserver.NotReady {
		ss.notReady = true
		if err := s.ts.AgentNotReady(ss.agentID, ReasonDisconnected); err != nil {
			s.log.Warn().Err(err).Str("agent", ss.agentID).Msg("cti: not ready after disconnect")
		}
	}
	s.log.Info().Str("agent", ss.agentID).Str("state", a.State().String()).
		Msg("cti: desktop did not come back; agent still has work, logout retried later")
	s.armGrace(ss)
}

// watch registers c for k.
func (s *Server) watch(c *conn, k watchKey, undo func()) {
	set := s.st.watchers[k]
	if set == nil {
		set = map[*conn]struct{}{}
		s.st.watchers[k] = set
	}
	set[c] = struct{}{}
	c.watches[k] = undo
}

func (s *Server) unwatch(c *conn, k watchKey, undo func()) {
	if undo != nil {
		undo()
	}
	delete(c.watches, k)
	if set := s.st.watchers[k]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.st.watchers, k)
		}
	}
}

// watchesContact reports whether c watches interaction x.
func (s *Server) watchesContact(c *conn, x *tserver.Contact) bool {
	if _, ok := c.watches[watchKey{kind: watchAll}]; ok {
		return true
	}
	if a := x.Agent(); a != nil {
		if _, ok := c.watches[watchKey{watchAgent, a.ID}]; ok {
			return true
		}
	}
	if q := x.Queue(); q != "" {
		if _, ok := c.watches[watchKey{watchQueue, q}]; ok {
			return true
		}
	}
	_, ok := c.watches[watchKey{watchRoutePoint, x.DNIS}]
	return ok
}
