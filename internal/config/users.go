package config

import (
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/internal/auth/passhash"
)

// checkUsers checks the users section: known roles, a hashed password or
// a token source each, no clear-text password, unique names that are no
// agent's id. agentIDs maps agent ids to where they are declared.
func (c *checker) checkUsers(f *File, agentIDs map[string]string) {
	names := make(map[string]int, len(f.Users))
	for i := range f.Users {
		u, p := &f.Users[i], path{}.key("users").index(i)
		switch first, dup := names[u.Name]; {
		case u.Name == "":
			c.errorf(p.key("name"), "required")
		case strings.TrimSpace(u.Name) != u.Name || strings.ContainsAny(u.Name, "\x00\n\r\t"):
			c.errorf(p.key("name"), "%q: no spaces or control characters around or in a name", u.Name)
		case dup:
			c.errorf(p.key("name"), "duplicate user name %q (also users[%d])", u.Name, first)
		case agentIDs[u.Name] != "":
			c.errorf(p.key("name"), "user name %q is the id of an agent (%s): agents log in as agents", u.Name, agentIDs[u.Name])
		default:
			names[u.Name] = i
		}
		if len(u.Roles) == 0 {
			c.errorf(p.key("roles"), "required: one or more of %s", strings.Join(Roles[1:], ", "))
		}
		c.checkRoles(p.key("roles"), u.Roles, false)
		if c.given(p.key("password")) {
			c.errorf(p.key("password"), "clear-text passwords are not accepted; give password_hash (bcrypt or argon2id)")
		}
		if u.PasswordHash != "" {
			if err := passhash.Check(u.PasswordHash); err != nil {
				c.errorf(p.key("password_hash"), "%v", err)
			}
		}
		if c.given(p.key("token_file")) && u.TokenFile == "" {
			c.errorf(p.key("token_file"), "empty file name")
		}
		if c.given(p.key("token_env")) && u.TokenEnv == "" {
			c.errorf(p.key("token_env"), "empty variable name")
		}
		if u.PasswordHash == "" && u.TokenFile == "" && u.TokenEnv == "" && !c.given(p.key("password")) {
			c.errorf(p, "needs a secret: password_hash, token_file or token_env")
		}
	}
}

// checkRoles checks a roles list; agent is an agent's implied role, and
// no user's.
func (c *checker) checkRoles(p path, roles []string, agent bool) {
	seen := make(map[string]bool, len(roles))
	for j, r := range roles {
		rp := p.index(j)
		switch {
		case !slices.Contains(Roles, r):
			c.errorf(rp, "unknown role %q (want one of %s)", r, strings.Join(Roles[1:], ", "))
		case r == "agent" && !agent:
			c.errorf(rp, "agent is the role of agents: declare them under agents")
		case seen[r]:
			c.errorf(rp, "role %q given twice", r)
		}
		seen[r] = true
	}
}
