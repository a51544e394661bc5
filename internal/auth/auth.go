// Package auth says who is asking and what they may do, for every door of
// the live switch (CTI, HTTP, SIP): the roles (agent, supervisor, router,
// monitor, admin), the Principal a verified login or token stands for, the
// Users directory built from the center file, password checks against
// bcrypt and argon2id hashes and bearer-token checks, both in constant
// time, and the Throttle of failed logins that the doors share.
//
// A claimed identity unlocks nothing until it is verified: a nil *Users
// knows nobody, so a door given none lets only agents in (through its own
// agent login) and refuses everything else.
package auth

import "slices"

// Role is what a principal may do. The doors map each request to the
// roles that may make it (for CTI: tserver/cti/access.go).
type Role string

// The roles.
const (
	// RoleAgent: an agent, acting on its own directory number and
	// interactions.
	RoleAgent Role = "agent"
	// RoleSupervisor watches agents and queues, joins and leaves any
	// chat, and may make an agent not ready or log it out.
	RoleSupervisor Role = "supervisor"
	// RoleRouter routes the interactions waiting at route points.
	RoleRouter Role = "router"
	// RoleMonitor watches (queues, agents, everything) and queries, and
	// changes nothing: wallboards, recorders.
	RoleMonitor Role = "monitor"
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleAgent, RoleSupervisor, RoleRouter, RoleMonitor, RoleAdmin}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(Roles, r)
}

// Principal is who a verified request comes from.
type Principal struct {
	// Name is the user's name, or the agent's id.
	Name string
	// Roles the principal holds; an agent's include RoleAgent.
	Roles []Role
	// AgentID is set for agents (and equals Name).
	AgentID string
}

// Has reports whether p holds role r. An admin holds every role but
// agent: being an agent is being someone, not a right.
func (p Principal) Has(r Role) bool {
	if r != RoleAgent && slices.Contains(p.Roles, RoleAdmin) {
		return true
	}
	return slices.Contains(p.Roles, r)
}

// IsAgent reports whether p is an agent.
func (p Principal) IsAgent() bool { return p.AgentID != "" }

// IsZero reports whether p is nobody (not verified).
func (p Principal) IsZero() bool { return p.Name == "" }

// rolesOf converts roles the configuration checked.
func rolesOf(names []string) []Role {
	out := make([]Role, 0, len(names))
	for _, n := range names {
		if r, ok := ParseRole(n); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}
