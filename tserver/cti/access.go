package cti

import (
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/auth"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// who is a set of the kinds of principal that may make a request.
type who uint8

const (
	public     who = 1 << iota // anyone, before logging in
	agent                      // a connection logged in as an agent (RequestAgentLogin)
	supervisor                 // auth.RoleSupervisor
	router                     // auth.RoleRouter
	monitor                    // auth.RoleMonitor
	admin                      // auth.RoleAdmin (holds every role but agent)
)

// Shorthands for the table.
const (
	watchers = agent | supervisor | monitor | router | admin // registration: what to whom, register decides
	readers  = agent | supervisor | monitor | router | admin // queries: an agent only about itself and its work
)

// access says who may make each request: the one table of this door's
// permissions (README.md, "Who may do what"). A request the table allows
// may still be refused by its handler for what it names: an agent acts on
// its own interactions only, an agent registers only itself and the queues
// it serves, a monitor no route point, a router only route points, a call
// request needs an agent's session even from an admin (it acts on the
// agent's directory number).
var access = map[string]who{
	RequestAgentLogin: public,
	RequestLogin:      public,

	RequestAgentLogout:   agent | supervisor | admin, // a supervisor: any agent, with agent_id
	RequestAgentReady:    agent | admin,
	RequestAgentNotReady: agent | supervisor | admin, // a supervisor: any agent, with agent_id

	RequestMakeCall:           agent | admin,
	RequestAnswerCall:         agent | admin,
	RequestRejectCall:         agent | admin,
	RequestReleaseCall:        agent | admin,
	RequestHoldCall:           agent | admin,
	RequestRetrieveCall:       agent | admin,
	RequestSingleStepTransfer: agent | admin,
	RequestAttachUserData:     agent | router | admin, // a router: interactions waiting at its route point

	RequestRegisterAddress:   watchers,
	RequestUnregisterAddress: watchers,
	RequestRouteCall:         router | admin,

	RequestQueryQueue: readers,
	RequestQueryCall:  readers,
	RequestQueryAgent: readers,

	RequestChatMessage: agent | supervisor | admin, // its own chat, or one it joined
	RequestChatTyping:  agent | supervisor | admin,
	RequestChatJoin:    supervisor | admin,
	RequestChatLeave:   supervisor | admin,

	RequestMonitorCustomer:     agent | supervisor | admin, // any customer
	RequestStopMonitorCustomer: agent | supervisor | admin,
	RequestCallback:            agent | supervisor | router | admin,
}

// whoIs is what p may act as.
func whoIs(p auth.Principal) who {
	if p.IsZero() {
		return public
	}
	w := public
	if p.IsAgent() {
		w |= agent
	}
	for _, r := range []struct {
		role auth.Role
		w    who
	}{{auth.RoleSupervisor, supervisor}, {auth.RoleRouter, router}, {auth.RoleMonitor, monitor}, {auth.RoleAdmin, admin}} {
		if p.Has(r.role) {
			w |= r.w
		}
	}
	return w
}

// allowed returns nil when c's principal may make request r, and a
// Permission error that says why not otherwise.
func (s *Server) allowed(c *conn, r *Request) error {
	need := access[r.Request]
	if need&whoIs(c.principal) != 0 {
		return nil
	}
	if c.principal.IsZero() {
		return pbx.Errorf(pbx.Permission, "cti: %s: log in first (RequestAgentLogin or RequestLogin)", r.Request)
	}
	return pbx.Errorf(pbx.Permission, "cti: %s: %s may not: %s", r.Request, describe(c.principal), needs(need))
}

// describe says who p is, for errors.
func describe(p auth.Principal) string {
	roles := make([]string, 0, len(p.Roles))
	for _, r := range p.Roles {
		roles = append(roles, string(r))
	}
	if p.IsAgent() {
		return "agent " + p.Name + " (roles: " + strings.Join(roles, ", ") + ")"
	}
	return "user " + p.Name + " (roles: " + strings.Join(roles, ", ") + ")"
}

// needs says which roles a request needs, for errors.
func needs(w who) string {
	var names []string
	for _, x := range []struct {
		w    who
		name string
	}{{agent, "an agent"}, {supervisor, "supervisor"}, {router, "router"}, {monitor, "monitor"}, {admin, "admin"}} {
		if w&x.w != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) > 1 {
		return "it takes " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	return "it takes " + strings.Join(names, "")
}

// loginVerdict is what the reader found of a RequestLogin's credentials.
type loginVerdict struct {
	p   auth.Principal // zero: refused
	err error
}

// verifyLogin checks a RequestLogin's credentials on the connection's
// reader goroutine, not on the loop: a password hash costs milliseconds of
// CPU that the loop must not wait for. The throttle and the directory are
// safe for concurrent use.
func (s *Server) verifyLogin(c *conn, r *Request) *loginVerdict {
	switch {
	case r.Token != "" && r.Password != "":
		return &loginVerdict{err: pbx.Errorf(pbx.Invalid, "cti: %s: give password or token, not both", r.Request)}
	case r.Token == "" && (r.User == "" || r.Password == ""):
		var missing []string
		if r.User == "" {
			missing = append(missing, "user")
		}
		if r.Password == "" {
			missing = append(missing, "password")
		}
		return &loginVerdict{err: pbx.Errorf(pbx.Invalid, "cti: %s: missing %s (or give token)", r.Request, strings.Join(missing, ", "))}
	}
	host := auth.Host(c.remote)
	name := r.User
	if name == "" {
		name = "(token)"
	}
	if err := s.throttled(r, host, "user "+name, name); err != nil {
		return &loginVerdict{err: err}
	}
	var (
		p  auth.Principal
		ok bool
	)
	if r.Token != "" {
		p, ok = s.users.Token(r.Token)
		ok = ok && (r.User == "" || r.User == p.Name)
	} else {
		p, ok = s.users.Password(r.User, r.Password)
	}
	if !ok {
		s.loginFailed(host, name)
		if r.Token != "" {
			return &loginVerdict{err: pbx.Errorf(pbx.Permission, "cti: %s: unknown token", r.Request)}
		}
		return &loginVerdict{err: pbx.Errorf(pbx.Permission, "cti: %s: wrong user or password", r.Request)}
	}
	s.throttle.Succeeded(host, name)
	return &loginVerdict{p: p}
}

// throttled refuses a login of name from host while the throttle does.
// whose names it in the error.
func (s *Server) throttled(r *Request, host, whose, name string) error {
	wait, all := s.throttle.Wait(host, name)
	if wait <= 0 {
		return nil
	}
	if all {
		whose = "anyone"
	}
	return pbx.Errorf(pbx.Permission, "cti: %s: too many failed logins for %s from %s; try again in %s",
		r.Request, whose, host, wait.Round(time.Second))
}

// loginFailed counts a failed login and logs when it reaches a limit.
func (s *Server) loginFailed(host, name string) {
	nameLocked, hostLocked := s.throttle.Failed(host, name)
	if nameLocked {
		s.log.Warn().Str("host", host).Str("name", name).Int("failures", auth.MaxFailures).
			Msg("cti: too many failed logins; this name's logins from this host refused for a while")
	}
	if hostLocked {
		s.log.Warn().Str("host", host).Int("failures", auth.MaxHostFailures).
			Msg("cti: too many failed logins; every login from this host refused for a while")
	}
}

// userLogin: RequestLogin, its credentials verified by the reader. The
// connection acts as the user from now on, with a session under the
// user's name that chat events reach (a supervisor's joined chats).
func (s *Server) userLogin(c *conn, r *Request) (*reply, error) {
	v := r.verdict
	if v == nil { // cannot happen: handle and handleNow verify
		v = s.verifyLogin(c, r)
	}
	if v.err != nil {
		return nil, v.err
	}
	if !c.principal.IsZero() {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: this connection acts as %s: open another", r.Request, describe(c.principal))
	}
	p := v.p
	ss := s.st.sessions[p.Name]
	if ss == nil {
		ss = &session{agentID: p.Name, user: true, joined: map[pbx.ConnID]struct{}{}}
		s.st.sessions[p.Name] = ss
	}
	c.principal = p
	s.attach(ss, c)
	info := &UserInfo{Name: p.Name}
	for _, role := range p.Roles {
		info.Roles = append(info.Roles, string(role))
	}
	s.log.Info().Str("user", p.Name).Strs("roles", info.Roles).Str("remote", c.remote).Msg("cti: user logged in")
	return &reply{User: info}, nil
}

// mayWatch returns nil when c may register k: events reveal interactions,
// so what one may watch depends on who one is.
func (s *Server) mayWatch(c *conn, r *Request, k watchKey) error {
	p := c.principal
	watcher := p.Has(auth.RoleMonitor) || p.Has(auth.RoleSupervisor)
	switch k.kind {
	case watchRoutePoint:
		if p.Has(auth.RoleRouter) {
			return nil
		}
		return pbx.Errorf(pbx.Permission, "cti: %s: registering route point %s makes a router of %s: it takes router", r.Request, k.name, describe(p))
	case watchAll, watchQueue, watchAgent:
		if watcher {
			return nil
		}
	}
	if p.IsAgent() {
		switch {
		case k.kind == watchAgent && k.name == p.AgentID:
			return nil
		case k.kind == watchQueue:
			if a, ok := s.ts.Agent(p.AgentID); ok && a.Serves(k.name) {
				return nil
			}
			return pbx.Errorf(pbx.Permission, "cti: %s: agent %s does not serve queue %s", r.Request, p.AgentID, k.name)
		}
	}
	return pbx.Errorf(pbx.Permission, "cti: %s: %s may not watch %s (it takes monitor or supervisor)", r.Request, describe(p), k)
}

// seesAll reports whether c's principal may query any agent or
// interaction (an agent alone sees only itself and its own work).
func seesAll(c *conn) bool {
	return whoIs(c.principal)&(supervisor|monitor|router|admin) != 0
}
