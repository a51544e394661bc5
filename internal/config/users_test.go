package config

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Hashes of "sup-secret" (bcrypt, cost 4) and "root-secret" (argon2id,
// tiny parameters): tests only.
const (
	testBcrypt   = "$2a$04$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua"
	testArgon2id = "$argon2id$v=19$m=64,t=1,p=1$DPFbEoFYUnMJ9MyqraxMLg$SrHBzGPCadPJm2Omacfarvc+XCDy0ctouGlfuyt9a2Y"
)

func TestParseUsers(t *testing.T) {
	f := MustParse(t, `
agents:
  - {id: a1, roles: [supervisor]}
  - {group: tier1, count: 2}
users:
  - {name: wallboard, roles: [monitor], token_file: /etc/ccswitch/wallboard.token}
  - {name: sup1, roles: [supervisor], password_hash: "`+testBcrypt+`"}
  - {name: router1, roles: [router], token_env: CCSWITCH_ROUTER_TOKEN}
  - {name: root, roles: [admin, monitor], password_hash: "`+testArgon2id+`"}
`)
	want := []User{
		{Name: "wallboard", Roles: []string{"monitor"}, TokenFile: "/etc/ccswitch/wallboard.token"},
		{Name: "sup1", Roles: []string{"supervisor"}, PasswordHash: testBcrypt},
		{Name: "router1", Roles: []string{"router"}, TokenEnv: "CCSWITCH_ROUTER_TOKEN"},
		{Name: "root", Roles: []string{"admin", "monitor"}, PasswordHash: testArgon2id},
	}
	if len(f.Users) != len(want) {
		t.Fatalf("users %+v", f.Users)
	}
	for i := range want {
		u, w := f.Users[i], want[i]
		if u.Name != w.Name || !slices.Equal(u.Roles, w.Roles) || u.PasswordHash != w.PasswordHash ||
			u.TokenFile != w.TokenFile || u.TokenEnv != w.TokenEnv || u.Password != "" {
			t.Errorf("users[%d] = %+v, want %+v", i, u, w)
		}
	}
	agents := f.ExpandAgents()
	if !slices.Equal(agents[0].Roles, []string{"supervisor"}) || len(agents[1].Roles) != 0 {
		t.Errorf("agent roles %q, %q", agents[0].Roles, agents[1].Roles)
	}
	// The expanded agent's roles are its own.
	agents[0].Roles[0] = "admin"
	if f.Agents[0].Roles[0] != "supervisor" {
		t.Error("ExpandAgents shares the group's roles")
	}
}

// Every rule of the users section, and of agents' roles, with the file,
// line, column and field of its error. Each source yields one error.
func TestParseUserErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want string // the whole error
	}{
		{"clear-text password", `
users:
  - {name: sup1, roles: [supervisor], password_hash: "` + testBcrypt + `"}
  - {name: sup2, roles: [supervisor], password: hunter2}
`, `center.yaml:4:49: users[1].password: clear-text passwords are not accepted; give password_hash (bcrypt or argon2id)`},
		{"unknown role", `
users:
  - {name: w, roles: [monitor, janitor], token_env: W}
`, `center.yaml:3:32: users[0].roles[1]: unknown role "janitor" (want one of supervisor, router, monitor, admin)`},
		{"agent role for a user", `
users:
  - {name: w, roles: [agent], token_env: W}
`, `center.yaml:3:23: users[0].roles[0]: agent is the role of agents: declare them under agents`},
		{"role twice", `
users:
  - {name: w, roles: [monitor, monitor], token_env: W}
`, `center.yaml:3:32: users[0].roles[1]: role "monitor" given twice`},
		{"no roles", `
users:
  - {name: w, token_env: W}
`, `center.yaml:3:5: users[0].roles: required: one or more of supervisor, router, monitor, admin`},
		{"not a hash", `
users:
  - name: sup1
    roles: [supervisor]
    password_hash: "5f4dcc3b5aa765d61d8327deb882cf99"
`, `center.yaml:5:20: users[0].password_hash: ` + "not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$v=19$m=...,t=...,p=...$salt$hash) hash"},
		{"broken bcrypt", `
users:
  - {name: sup1, roles: [supervisor], password_hash: "$2a$04$short"}
`, `center.yaml:3:54: users[0].password_hash: bad bcrypt hash`},
		{"argon2i", `
users:
  - {name: sup1, roles: [supervisor], password_hash: "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}
`, `center.yaml:3:54: users[0].password_hash: argon2i and argon2d hashes are not accepted: use argon2id`},
		{"argon2id too costly", `
users:
  - {name: sup1, roles: [supervisor], password_hash: "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}
`, `center.yaml:3:54: users[0].password_hash: bad argon2id hash: m=99999999 KiB is more than 1048576`},
		{"argon2id bad salt", `
users:
  - {name: sup1, roles: [supervisor], password_hash: "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA"}
`, `center.yaml:3:54: users[0].password_hash: bad argon2id hash: salt must be unpadded base64`},
		{"duplicate name", `
users:
  - {name: w, roles: [monitor], token_env: W}
  - {name: w, roles: [router], token_env: R}
`, `center.yaml:4:12: users[1].name: duplicate user name "w" (also users[0])`},
		{"name of an agent", `
agents:
  - {group: tier1, count: 2}
users:
  - {name: tier1-2, roles: [monitor], token_env: W}
`, `center.yaml:5:12: users[0].name: user name "tier1-2" is the id of an agent (agents[0]): agents log in as agents`},
		{"no name", `
users:
  - {roles: [monitor], token_env: W}
`, `center.yaml:3:5: users[0].name: required`},
		{"space in name", `
users:
  - {name: " w", roles: [monitor], token_env: W}
`, `center.yaml:3:12: users[0].name: " w": no spaces`},
		{"no secret", `
users:
  - {name: w, roles: [monitor]}
`, `center.yaml:3:5: users[0]: needs a secret: password_hash, token_file or token_env`},
		{"empty token_env", `
users:
  - {name: w, roles: [monitor], token_env: "", token_file: /run/w.token}
`, `center.yaml:3:44: users[0].token_env: empty variable name`},
		{"empty token_file", `
users:
  - name: w
    roles: [monitor]
    token_file: ""
    token_env: W
`, `center.yaml:5:17: users[0].token_file: empty file name`},
		{"agent's unknown role", `
agents:
  - {id: a1, roles: [boss]}
`, `center.yaml:3:22: agents[0].roles[0]: unknown role "boss" (want one of supervisor, router, monitor, admin)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("center.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			errs := errorsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), err)
			}
			if got := errs[0].Error(); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("error\n got %s\nwant %s", got, tc.want)
			}
			if errs[0].Line == 0 || errs[0].Field == "" {
				t.Fatalf("error %s has no line %d or field %q", errs[0], errs[0].Line, errs[0].Field)
			}
		})
	}
}

// A hash is never quoted in an error: a mistyped field could hold a
// password.
func TestParseUserErrorHidesHash(t *testing.T) {
	for i, h := range []string{"hunter2", "$2a$04$hunter2", "$argon2id$v=19$hunter2"} {
		_, err := Parse("center.yaml", []byte("users:\n  - {name: w, roles: [monitor], password_hash: "+strconv.Quote(h)+"}\n"))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%d: error %v", i, err)
		}
	}
}
