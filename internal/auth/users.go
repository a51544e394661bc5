package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/internal/auth/passhash"
	"github.com/ccswitch/ccswitch/internal/config"
)

// Users is the directory of who may use the switch: the center file's
// users (with their password hashes and tokens) and its agents (with the
// roles their entries grant). It is read-only once built, and safe for
// concurrent use. A nil *Users knows no user and gives agents the agent
// role only.
type Users struct {
	byName map[string]*user
	tokens []*user // users with a token, in file order
	agents map[string][]Role
	// decoy is verified when a password login names nobody, so that the
	// reply takes as long as for a user who exists.
	decoy passhash.Hash
}

type user struct {
	p     Principal
	hash  passhash.Hash // zero: no password login
	token [sha256.Size]byte
	has   bool // has a token
}

// New builds the directory of f, reading each user's token from its
// token_file or from getenv(token_env) (os.Getenv when getenv is nil). It
// fails, naming the user and the file or variable, when a token is
// missing or empty; f must come from config.Parse (which checked roles and
// hashes). Call it when the live center opens: tokens are secrets and are
// not kept in the configuration.
func New(f *config.File, getenv func(string) string) (*Users, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	u := &Users{byName: make(map[string]*user, len(f.Users)), agents: map[string][]Role{}}
	for _, a := range f.ExpandAgents() {
		u.agents[a.ID] = append([]Role{RoleAgent}, slices.DeleteFunc(rolesOf(a.Roles), func(r Role) bool { return r == RoleAgent })...)
	}
	for i, cu := range f.Users {
		where := fmt.Sprintf("auth: %s: users[%d] (%s)", f.Path, i, cu.Name)
		if _, dup := u.byName[cu.Name]; dup || cu.Name == "" {
			return nil, fmt.Errorf("%s: empty or duplicate name", where)
		}
		if _, clash := u.agents[cu.Name]; clash {
			return nil, fmt.Errorf("%s: the name is an agent's id", where)
		}
		e := &user{p: Principal{Name: cu.Name, Roles: rolesOf(cu.Roles)}}
		if cu.Password != "" {
			return nil, fmt.Errorf("%s: clear-text passwords are not accepted; give password_hash", where)
		}
		if cu.PasswordHash != "" {
			h, err := passhash.Parse(cu.PasswordHash)
			if err != nil {
				return nil, fmt.Errorf("%s: password_hash: %w", where, err)
			}
			e.hash = h
			if u.decoy.IsZero() {
				u.decoy = h
			}
		}
		var tok string
		switch {
		case cu.TokenFile != "":
			b, err := os.ReadFile(cu.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("%s: token_file: %w", where, err)
			}
			if tok = string(bytes.TrimSpace(b)); tok == "" {
				return nil, fmt.Errorf("%s: token_file %s is empty", where, cu.TokenFile)
			}
		case cu.TokenEnv != "":
			if tok = strings.TrimSpace(getenv(cu.TokenEnv)); tok == "" {
				return nil, fmt.Errorf("%s: token_env: environment variable %s is not set or empty", where, cu.TokenEnv)
			}
		}
		if tok != "" {
			if len(tok) < MinTokenLen {
				return nil, fmt.Errorf("%s: the token is %d characters long; give at least %d", where, len(tok), MinTokenLen)
			}
			e.token, e.has = sha256.Sum256([]byte(tok)), true
			u.tokens = append(u.tokens, e)
		}
		if e.hash.IsZero() && !e.has {
			return nil, fmt.Errorf("%s: no password_hash, token_file or token_env", where)
		}
		u.byName[cu.Name] = e
	}
	return u, nil
}

// MinTokenLen is the shortest bearer token New accepts.
const MinTokenLen = 16

// Password returns the user name logs in as, when password is its
// password. A user without a password_hash never logs in with one. The
// check is constant-time, and a name that is nobody's costs as much as a
// wrong password. Agents log in through their own door (their agent
// password), not here.
func (u *Users) Password(name, password string) (Principal, bool) {
	if u == nil {
		return Principal{}, false
	}
	e := u.byName[name]
	if e == nil || e.hash.IsZero() {
		u.decoy.Verify(password)
		return Principal{}, false
	}
	if !e.hash.Verify(password) {
		return Principal{}, false
	}
	return e.p.clone(), true
}

// Token returns the user whose bearer token tok is: the HTTP door takes
// it from "Authorization: Bearer <tok>" and serves the request as that
// principal when ok, with 401 otherwise. Every token is compared, in
// constant time, whatever matches: the time taken tells nothing about
// which token, or how much of one, is right.
func (u *Users) Token(tok string) (Principal, bool) {
	if u == nil || tok == "" {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(tok))
	var found *user
	for _, e := range u.tokens {
		if subtle.ConstantTimeCompare(sum[:], e.token[:]) == 1 {
			found = e
		}
	}
	if found == nil {
		return Principal{}, false
	}
	return found.p.clone(), true
}

// Agent returns the principal of agent id, with the roles its entry
// grants. It does not check the agent's password: the agent login does.
// With a nil *Users, or for an agent the file does not list, the agent
// holds the agent role only.
func (u *Users) Agent(id string) Principal {
	roles := []Role{RoleAgent}
	if u != nil {
		if r, ok := u.agents[id]; ok {
			roles = slices.Clone(r)
		}
	}
	return Principal{Name: id, Roles: roles, AgentID: id}
}

// Has reports whether name is a user (not an agent) of the directory.
func (u *Users) Has(name string) bool {
	if u == nil {
		return false
	}
	_, ok := u.byName[name]
	return ok
}

func (p Principal) clone() Principal {
	p.Roles = slices.Clone(p.Roles)
	return p
}
