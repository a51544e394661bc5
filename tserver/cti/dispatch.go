package cti

import (
	"crypto/subtle"
	"errors"

	"github.com/ccswitch/ccswitch/internal/auth"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// handler runs one request on the loop. A nil reply with a nil error is a
// plain EventACK.
type handler func(s *Server, c *conn, r *Request) (*reply, error)

// handlers maps each request to its handler; requestNeeds lists the same
// names.
var handlers = map[string]handler{
	RequestAgentLogin:         (*Server).login,
	RequestLogin:              (*Server).userLogin,
	RequestAgentLogout:        (*Server).logout,
	RequestAgentReady:         (*Server).ready,
	RequestAgentNotReady:      (*Server).notReady,
	RequestMakeCall:           (*Server).makeCall,
	RequestAnswerCall:         callRequest((*tserver.Server).AnswerCall),
	RequestRejectCall:         (*Server).reject,
	RequestReleaseCall:        callRequest((*tserver.Server).ReleaseCall),
	RequestHoldCall:           callRequest((*tserver.Server).HoldCall),
	RequestRetrieveCall:       callRequest((*tserver.Server).RetrieveCall),
	RequestSingleStepTransfer: (*Server).transfer,
	RequestAttachUserData:     (*Server).attachUserData,
	RequestRegisterAddress:    (*Server).register,
	RequestUnregisterAddress:  (*Server).unregister,
	RequestRouteCall:          (*Server).routeCall,
	RequestQueryQueue:         (*Server).queryQueue,
	RequestQueryCall:          (*Server).queryCall,
	RequestQueryAgent:         (*Server).queryAgent,
	RequestChatMessage:        (*Server).chatMessage,
	RequestChatTyping:         (*Server).chatTyping,
	RequestChatJoin:           (*Server).chatJoin,
	RequestChatLeave:          (*Server).chatLeave,

	RequestMonitorCustomer:     (*Server).monitorCustomer,
	RequestStopMonitorCustomer: (*Server).stopMonitorCustomer,
	RequestCallback:            (*Server).requestCallback,
}

// dispatch runs a decoded request, if c's principal may make it (access),
// and queues its one reply. The request's own events were queued while it
// ran, so they precede the reply.
func (s *Server) dispatch(c *conn, r *Request) {
	var (
		rep *reply
		err error
	)
	h := handlers[r.Request]
	switch {
	case s.st.stopped:
		err = pbx.Errorf(pbx.Unavailable, "cti: the CTI server is closed")
	case c.dead():
		return
	case h == nil:
		err = pbx.Errorf(pbx.Invalid, "cti: unknown request %q", r.Request)
	default:
		if err = s.allowed(c, r); err == nil {
			rep, err = h(s, c, r)
		}
	}
	if err == errAckLater {
		return
	}
	if err != nil {
		rep = s.errorReply(r.Ref, err)
	} else {
		if rep == nil {
			rep = &reply{}
		}
		rep.Event, rep.Ref = EventACK, r.Ref
	}
	c.send(rep)
}

// agentSession returns the agent session c acts for; r's agent_id, when
// given, must be that agent.
func (s *Server) agentSession(c *conn, r *Request) (*session, error) {
	ss := c.session
	if ss == nil {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: log in as an agent first (RequestAgentLogin)", r.Request)
	}
	if ss.user {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: this connection acts as user %s, not as an agent", r.Request, ss.agentID)
	}
	if r.AgentID != "" && r.AgentID != ss.agentID {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: this connection acts as agent %s, not %s", r.Request, ss.agentID, r.AgentID)
	}
	return ss, nil
}

// contact returns the interaction r names.
func (s *Server) contact(r *Request) (*tserver.Contact, error) {
	x := s.ts.Contact(r.ConnID)
	if x == nil {
		return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no interaction %s", r.Request, r.ConnID)
	}
	return x, nil
}

// ownContact returns the interaction r names, which must be offered to or
// connected with c's agent.
func (s *Server) ownContact(c *conn, r *Request) (*session, *tserver.Contact, error) {
	ss, err := s.agentSession(c, r)
	if err != nil {
		return nil, nil, err
	}
	x, err := s.contact(r)
	if err != nil {
		return nil, nil, err
	}
	if a := x.Agent(); a == nil || a.ID != ss.agentID {
		return nil, nil, pbx.Errorf(pbx.Permission, "cti: %s: interaction %s is not yours", r.Request, r.ConnID)
	}
	return ss, x, nil
}

func callRequest(f func(*tserver.Server, pbx.ConnID) error) handler {
	return func(s *Server, c *conn, r *Request) (*reply, error) {
		if _, _, err := s.ownContact(c, r); err != nil {
			return nil, err
		}
		return nil, f(s.ts, r.ConnID)
	}
}

func agentInfo(a *tserver.Agent) *AgentInfo {
	return &AgentInfo{AgentID: a.ID, DN: a.DN, State: a.State().String(), Reason: a.Reason()}
}

// login: a fresh login (the agent is logged out) logs the agent in and
// the session owns the login; otherwise the connection attaches to the
// agent as it is (a desktop reconnecting, or joining the agent's phone),
// gets what its session kept, and the reply says resumed.
func (s *Server) login(c *conn, r *Request) (*reply, error) {
	host := auth.Host(c.remote)
	if err := s.throttled(r, host, "agent "+r.AgentID, r.AgentID); err != nil {
		return nil, err
	}
	a, ok := s.ts.Agent(r.AgentID)
	if !ok {
		s.loginFailed(host, r.AgentID)
		return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no agent %q", r.Request, r.AgentID)
	}
	if pw, ok := s.pw(a.ID); ok && pw != "" && subtle.ConstantTimeCompare([]byte(pw), []byte(r.Password)) != 1 {
		s.loginFailed(host, a.ID)
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: wrong password for agent %s", r.Request, a.ID)
	}
	s.throttle.Succeeded(host, a.ID)
	if ss := c.session; ss != nil && ss.user {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: this connection acts as user %s: open another", r.Request, ss.agentID)
	}
	if ss := c.session; ss != nil {
		if ss.agentID == a.ID {
			return nil, pbx.Errorf(pbx.Conflict, "cti: %s: this connection is already logged in as %s", r.Request, a.ID)
		}
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: this connection acts as agent %s: log out first", r.Request, ss.agentID)
	}
	ss := s.st.sessions[a.ID]
	if ss != nil && a.State() == tserver.LoggedOut {
		s.endSession(ss) // cannot happen: a logout ends the session
		ss = nil
	}
	if a.State() == tserver.LoggedOut {
		ss = &session{agentID: a.ID, owns: true, joined: map[pbx.ConnID]struct{}{}}
		s.st.sessions[a.ID] = ss
		c.principal = s.users.Agent(a.ID)
		s.attach(ss, c) // before the login, so that EventAgentLogin reaches c
		if err := s.ts.AgentLogin(a.ID, r.DN); err != nil {
			s.endSession(ss)
			return nil, err
		}
		s.log.Info().Str("agent", a.ID).Str("dn", a.DN).Msg("cti: agent logged in")
		return &reply{Agent: agentInfo(a)}, nil
	}
	if r.DN != "" && r.DN != a.DN {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: agent %s is logged in at %s, not %s", r.Request, a.ID, a.DN, r.DN)
	}
	if ss == nil {
		ss = &session{agentID: a.ID, joined: map[pbx.ConnID]struct{}{}}
		s.st.sessions[a.ID] = ss
	}
	ss.notReady = false
	c.principal = s.users.Agent(a.ID)
	missed := s.attach(ss, c)
	s.log.Info().Str("agent", a.ID).Int("missed", missed).Msg("cti: agent's desktop attached")
	return &reply{Agent: agentInfo(a), Resumed: true, Missed: missed}, nil
}

func (s *Server) logout(c *conn, r *Request) (*reply, error) {
	if id, ok := s.another(c, r); ok {
		if _, known := s.ts.Agent(id); !known {
			return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no agent %q", r.Request, id)
		}
		s.log.Info().Str("agent", id).Str("by", c.principal.Name).Msg("cti: agent logged out by a supervisor")
		return nil, s.ts.AgentLogout(id)
	}
	ss, err := s.agentSession(c, r)
	if err != nil {
		return nil, err
	}
	// Its EventAgentLogout ends the session.
	return nil, s.ts.AgentLogout(ss.agentID)
}

func (s *Server) ready(c *conn, r *Request) (*reply, error) {
	ss, err := s.agentSession(c, r)
	if err != nil {
		return nil, err
	}
	return nil, s.ts.AgentReady(ss.agentID)
}

// another returns the agent r names by agent_id when it is not c's own
// and c's principal is a supervisor, who may act on it.
func (s *Server) another(c *conn, r *Request) (string, bool) {
	if r.AgentID == "" || r.AgentID == c.principal.AgentID || !c.principal.Has(auth.RoleSupervisor) {
		return "", false
	}
	return r.AgentID, true
}

func (s *Server) notReady(c *conn, r *Request) (*reply, error) {
	if id, ok := s.another(c, r); ok {
		if _, known := s.ts.Agent(id); !known {
			return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no agent %q", r.Request, id)
		}
		s.log.Info().Str("agent", id).Str("by", c.principal.Name).Str("reason", r.Reason).Msg("cti: agent made not ready by a supervisor")
		return nil, s.ts.AgentNotReady(id, r.Reason)
	}
	ss, err := s.agentSession(c, r)
	if err != nil {
		return nil, err
	}
	return nil, s.ts.AgentNotReady(ss.agentID, r.Reason)
}

func (s *Server) makeCall(c *conn, r *Request) (*reply, error) {
	ss, err := s.agentSession(c, r)
	if err != nil {
		return nil, err
	}
	m := pbx.Voice
	if r.Media != "" {
		if m, err = pbx.ParseMedia(r.Media); err != nil {
			return nil, err
		}
	}
	id, err := s.ts.MakeCall(ss.agentID, r.Destination, m)
	if err != nil {
		return nil, err
	}
	return &reply{ConnID: id}, nil
}

func (s *Server) reject(c *conn, r *Request) (*reply, error) {
	if _, _, err := s.ownContact(c, r); err != nil {
		return nil, err
	}
	return nil, s.ts.RejectCall(r.ConnID, r.Reason)
}

func (s *Server) transfer(c *conn, r *Request) (*reply, error) {
	if _, _, err := s.ownContact(c, r); err != nil {
		return nil, err
	}
	return nil, s.ts.SingleStepTransfer(r.ConnID, r.Target)
}

// attachUserData: the interaction's agent may attach data, and so may the
// router of the route point where it waits.
func (s *Server) attachUserData(c *conn, r *Request) (*reply, error) {
	x, err := s.contact(r)
	if err != nil {
		return nil, err
	}
	if !s.routes(c, x) {
		if _, _, err := s.ownContact(c, r); err != nil {
			return nil, err
		}
	}
	return nil, s.ts.AttachUserData(r.ConnID, r.UserData)
}

// routes reports whether c is a router of the route point where x waits.
func (s *Server) routes(c *conn, x *tserver.Contact) bool {
	if x.State != pbx.Routing {
		return false
	}
	_, ok := c.watches[watchKey{watchRoutePoint, x.DNIS}]
	return ok
}

// resolve names what a RequestRegisterAddress dn designates.
func (s *Server) resolve(r *Request) (watchKey, error) {
	dn := r.DN
	if dn == "*" {
		return watchKey{kind: watchAll}, nil
	}
	if d, ok := s.ts.Directory().Lookup(dn); ok {
		switch d.Type {
		case pbx.RoutePoint:
			return watchKey{watchRoutePoint, dn}, nil
		case pbx.ACDQueue:
			return watchKey{watchQueue, d.Owner}, nil
		case pbx.Extension:
			return watchKey{watchAgent, d.Owner}, nil
		}
	}
	if _, err := s.ts.QueueStats(dn); err == nil {
		return watchKey{watchQueue, dn}, nil
	}
	if _, ok := s.ts.Agent(dn); ok {
		return watchKey{watchAgent, dn}, nil
	}
	return watchKey{}, pbx.Errorf(pbx.NotFound, "cti: %s: %q is no route point, queue, agent or extension (or * for everything)", r.Request, dn)
}

// register: a route point makes c one of its routers (its interactions
// wait for RequestRouteCall) and sends c their events; a queue, an agent
// (or its extension) or "*" sends c their events.
func (s *Server) register(c *conn, r *Request) (*reply, error) {
	k, err := s.resolve(r)
	if err != nil {
		return nil, err
	}
	if err := s.mayWatch(c, r, k); err != nil {
		return nil, err
	}
	if _, ok := c.watches[k]; ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: already registered for %s", r.Request, k)
	}
	var undo func()
	if k.kind == watchRoutePoint {
		if undo, err = s.ts.RegisterRouter(k.name); err != nil {
			return nil, err
		}
	}
	s.watch(c, k, undo)
	return nil, nil
}

func (s *Server) unregister(c *conn, r *Request) (*reply, error) {
	k, err := s.resolve(r)
	if err != nil {
		return nil, err
	}
	undo, ok := c.watches[k]
	if !ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: not registered for %s", r.Request, k)
	}
	s.unwatch(c, k, undo)
	return nil, nil
}

func (s *Server) routeCall(c *conn, r *Request) (*reply, error) {
	x, err := s.contact(r)
	if err != nil {
		return nil, err
	}
	if _, ok := c.watches[watchKey{watchRoutePoint, x.DNIS}]; !ok {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: interaction %s did not arrive at a route point you registered", r.Request, r.ConnID)
	}
	return nil, s.ts.RouteCall(r.ConnID, r.Target)
}

func (s *Server) queryQueue(_ *conn, r *Request) (*reply, error) {
	all := s.ts.Status()
	if r.Queue == "" {
		return &reply{Queues: all}, nil
	}
	name := r.Queue
	if d, ok := s.ts.Directory().Lookup(name); ok && d.Type == pbx.ACDQueue {
		name = d.Owner
	}
	for _, q := range all {
		if q.Name == name {
			return &reply{Queues: []tserver.QueueStatus{q}}, nil
		}
	}
	return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no queue %q", r.Request, r.Queue)
}

// queryCall: an agent may ask about its own interactions (offered,
// connected or joined); supervisors, monitors, routers about any.
func (s *Server) queryCall(c *conn, r *Request) (*reply, error) {
	x, err := s.contact(r)
	if err != nil {
		return nil, err
	}
	if !seesAll(c) {
		joined := false
		if c.session != nil {
			_, joined = c.session.joined[r.ConnID]
		}
		if a := x.Agent(); !joined && (a == nil || a.ID != c.principal.AgentID) {
			return nil, pbx.Errorf(pbx.Permission, "cti: %s: interaction %s is not yours", r.Request, r.ConnID)
		}
	}
	info := &CallInfo{
		Media: x.Media.String(), State: x.State.String(), Queue: x.Queue(),
		ANI: x.ANI, DNIS: x.DNIS, UserData: x.UserData.Clone(),
	}
	if a := x.Agent(); a != nil {
		info.AgentID = a.ID
	}
	if x.State == pbx.Queued {
		if pos, ewt, err := s.ts.Position(r.ConnID); err == nil {
			info.Position, info.EWT = pos, &ewt
		}
	}
	return &reply{Call: info}, nil
}

// queryAgent: an agent may ask about itself; supervisors, monitors,
// routers about any agent.
func (s *Server) queryAgent(c *conn, r *Request) (*reply, error) {
	id := r.AgentID
	if id == "" {
		if !c.principal.IsAgent() {
			return nil, pbx.Errorf(pbx.Invalid, "cti: %s: missing agent_id (this connection is not an agent's)", r.Request)
		}
		id = c.principal.AgentID
	}
	if id != c.principal.AgentID && !seesAll(c) {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: an agent may ask about itself only, not %s", r.Request, id)
	}
	a, ok := s.ts.Agent(id)
	if !ok {
		return nil, pbx.Errorf(pbx.NotFound, "cti: %s: no agent %q", r.Request, id)
	}
	return &reply{Agent: agentInfo(a)}, nil
}

// anySession returns the session c acts for: an agent's, or a user's.
func (s *Server) anySession(c *conn, r *Request) (*session, error) {
	ss := c.session
	if ss == nil {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: log in first (RequestAgentLogin or RequestLogin)", r.Request)
	}
	if r.AgentID != "" && r.AgentID != ss.agentID {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: this connection acts as %s, not %s", r.Request, ss.agentID, r.AgentID)
	}
	return ss, nil
}

// chatContact returns the chat r names; c's agent must be its agent, or c
// a supervisor who joined it.
func (s *Server) chatContact(c *conn, r *Request) (*session, error) {
	ss, err := s.anySession(c, r)
	if err != nil {
		return nil, err
	}
	x, err := s.contact(r)
	if err != nil {
		return nil, err
	}
	if x.Media != pbx.IM {
		return nil, pbx.Errorf(pbx.Invalid, "cti: %s: interaction %s is %s, not a chat", r.Request, r.ConnID, x.Media)
	}
	if a := x.Agent(); a != nil && a.ID == ss.agentID {
		return ss, nil
	}
	if _, ok := ss.joined[r.ConnID]; ok {
		return ss, nil
	}
	return nil, pbx.Errorf(pbx.Permission, "cti: %s: chat %s is not yours (a supervisor joins it first)", r.Request, r.ConnID)
}

// DurableChat is a ChatHandler that can tell when what it accepted is on
// disk (the IM gateway's journal). With one, RequestChatMessage is
// acknowledged only once the agent's line is durable: nothing the switch
// acknowledged is lost in a crash. Its events may then come before the
// EventACK.
type DurableChat interface {
	ChatHandler
	// Durable calls done once everything accepted so far is durable, or
	// with the error that kept it from being so. done may run on any
	// goroutine and must not block.
	Durable(done func(error))
}

// errAckLater is a handler's word that it will send the reply itself.
var errAckLater = errors.New("cti: reply sent later")

func (s *Server) chatMessage(c *conn, r *Request) (*reply, error) {
	ss, err := s.chatContact(c, r)
	if err != nil {
		return nil, err
	}
	if err := s.chat.AgentMessage(ss.agentID, r.ConnID, r.Text); err != nil {
		return nil, err
	}
	d, ok := s.chat.(DurableChat)
	if !ok {
		return nil, nil
	}
	ref := r.Ref
	d.Durable(func(err error) {
		if err != nil {
			// The cause (a full disk, say) is for the log; the desktop
			// is told what it means for the line.
			s.log.Error().Err(err).Str("conn_id", r.ConnID.String()).Msg("a chat line was sent but is not on disk")
			c.send(s.errorReply(ref, pbx.Errorf(pbx.Unavailable,
				"cti: RequestChatMessage: the line was sent, but the center cannot store it now; it keeps it and stores it when it can (do not send it again)")))
			return
		}
		c.ackLater(ref)
	})
	return nil, errAckLater
}

func (s *Server) chatTyping(c *conn, r *Request) (*reply, error) {
	ss, err := s.chatContact(c, r)
	if err != nil {
		return nil, err
	}
	return nil, s.chat.AgentTyping(ss.agentID, r.ConnID, r.State)
}

// chatJoin: a supervisor (a user, or an agent whose entry grants the
// role) joins a chat it watches: it registered the chat's agent, its
// queue, its route point or "*".
func (s *Server) chatJoin(c *conn, r *Request) (*reply, error) {
	ss, err := s.anySession(c, r)
	if err != nil {
		return nil, err
	}
	x, err := s.contact(r)
	if err != nil {
		return nil, err
	}
	switch {
	case x.Media != pbx.IM:
		return nil, pbx.Errorf(pbx.Invalid, "cti: %s: interaction %s is %s, not a chat", r.Request, r.ConnID, x.Media)
	case x.Agent() != nil && x.Agent().ID == ss.agentID:
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: chat %s is your own", r.Request, r.ConnID)
	}
	if _, ok := ss.joined[r.ConnID]; ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: already in chat %s", r.Request, r.ConnID)
	}
	if !s.watchesContact(c, x) {
		return nil, pbx.Errorf(pbx.Permission, "cti: %s: register the chat's agent, its queue or * before joining chat %s", r.Request, r.ConnID)
	}
	if err := s.chat.SupervisorJoin(ss.agentID, r.ConnID); err != nil {
		return nil, err
	}
	ss.joined[r.ConnID] = struct{}{}
	set := s.st.joins[r.ConnID]
	if set == nil {
		set = map[*session]struct{}{}
		s.st.joins[r.ConnID] = set
	}
	set[ss] = struct{}{}
	return nil, nil
}

func (s *Server) chatLeave(c *conn, r *Request) (*reply, error) {
	ss, err := s.anySession(c, r)
	if err != nil {
		return nil, err
	}
	if _, ok := ss.joined[r.ConnID]; !ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: not in chat %s", r.Request, r.ConnID)
	}
	if err := s.chat.SupervisorLeave(ss.agentID, r.ConnID); err != nil {
		return nil, err
	}
	delete(ss.joined, r.ConnID)
	if set := s.st.joins[r.ConnID]; set != nil {
		delete(set, ss)
		if len(set) == 0 {
			delete(s.st.joins, r.ConnID)
		}
	}
	return nil, nil
}
