package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// Hashes of "sup-secret" (bcrypt, cost 4) and "root-secret" (argon2id,
// tiny parameters): tests only.
const (
	testBcrypt   = "$2a$04$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua"
	testArgon2id = "$argon2id$v=19$m=64,t=1,p=1$DPFbEoFYUnMJ9MyqraxMLg$SrHBzGPCadPJm2Omacfarvc+XCDy0ctouGlfuyt9a2Y"
	wallToken    = "wallboard-token-0123456789"
	routerToken  = "router-token-0123456789abcdef"
)

// mustUsers parses a center with users and builds its directory; the
// wallboard's token is in a file, the router's in CCSWITCH_ROUTER_TOKEN.
func mustUsers(tb testing.TB) *Users {
	tb.Helper()
	tokFile := filepath.Join(tb.TempDir(), "wallboard.token")
	if err := os.WriteFile(tokFile, []byte("  "+wallToken+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := config.Parse("center.yaml", []byte(`
agents:
  - {id: a1, roles: [supervisor]}
  - {group: tier1, count: 2}
users:
  - {name: wallboard, roles: [monitor], token_file: "`+tokFile+`"}
  - {name: sup1, roles: [supervisor], password_hash: "`+testBcrypt+`"}
  - {name: router1, roles: [router], token_env: CCSWITCH_ROUTER_TOKEN}
  - {name: root, roles: [admin], password_hash: "`+testArgon2id+`"}
`))
	if err != nil {
		tb.Fatal(err)
	}
	u, err := New(f, func(k string) string {
		if k == "CCSWITCH_ROUTER_TOKEN" {
			return routerToken
		}
		return ""
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return u
}

func TestRolesAreTheConfigurations(t *testing.T) {
	var names []string
	for _, r := range Roles {
		names = append(names, string(r))
	}
	if !slices.Equal(names, config.Roles) {
		t.Fatalf("auth roles %q, config roles %q", names, config.Roles)
	}
	for _, r := range Roles {
		if got, ok := ParseRole(string(r)); !ok || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, ok)
		}
	}
	if _, ok := ParseRole("janitor"); ok {
		t.Error("ParseRole accepts janitor")
	}
}

func TestPassword(t *testing.T) {
	u := mustUsers(t)
	for _, tc := range []struct {
		name, password string
		ok             bool
		roles          []Role
	}{
		{"sup1", "sup-secret", true, []Role{RoleSupervisor}},
		{"root", "root-secret", true, []Role{RoleAdmin}},
		{"sup1", "root-secret", false, nil},
		{"sup1", "", false, nil},
		{"sup1", "sup-secret ", false, nil},
		{"root", "root-secreT", false, nil},
		{"nobody", "sup-secret", false, nil},
		{"wallboard", wallToken, false, nil}, // a token is no password
		{"a1", "", false, nil},               // agents log in elsewhere
		{"", "", false, nil},
	} {
		p, ok := u.Password(tc.name, tc.password)
		if ok != tc.ok || ok && (p.Name != tc.name || !slices.Equal(p.Roles, tc.roles) || p.IsAgent()) {
			t.Errorf("Password(%q, %q) = %+v, %v; want ok %v roles %v", tc.name, tc.password, p, ok, tc.ok, tc.roles)
		}
		if !ok && !p.IsZero() {
			t.Errorf("Password(%q, %q) failed but gave %+v", tc.name, tc.password, p)
		}
	}
	var none *Users
	if _, ok := none.Password("sup1", "sup-secret"); ok {
		t.Error("a nil Users knows somebody")
	}
}

func TestToken(t *testing.T) {
	u := mustUsers(t)
	for _, tc := range []struct {
		tok  string
		want string
	}{
		{wallToken, "wallboard"},
		{routerToken, "router1"},
		{wallToken + "x", ""},
		{wallToken[:len(wallToken)-1], ""},
		{"", ""},
		{"sup-secret", ""},
	} {
		p, ok := u.Token(tc.tok)
		if ok != (tc.want != "") || p.Name != tc.want {
			t.Errorf("Token(%q) = %+v, %v; want %q", tc.tok, p, ok, tc.want)
		}
	}
	p, _ := u.Token(wallToken)
	if !p.Has(RoleMonitor) || p.Has(RoleRouter) || p.Has(RoleAgent) {
		t.Errorf("wallboard %+v", p)
	}
	// The caller's copy is its own.
	p.Roles[0] = RoleAdmin
	if q, _ := u.Token(wallToken); q.Has(RoleAdmin) {
		t.Error("Token shares its roles")
	}
	var none *Users
	if _, ok := none.Token(wallToken); ok {
		t.Error("a nil Users knows a token")
	}
}

func TestAgent(t *testing.T) {
	u := mustUsers(t)
	for _, tc := range []struct {
		u     *Users
		id    string
		roles []Role
	}{
		{u, "a1", []Role{RoleAgent, RoleSupervisor}},
		{u, "tier1-2", []Role{RoleAgent}},
		{u, "unlisted", []Role{RoleAgent}},
		{nil, "a1", []Role{RoleAgent}},
	} {
		p := tc.u.Agent(tc.id)
		if p.Name != tc.id || p.AgentID != tc.id || !slices.Equal(p.Roles, tc.roles) {
			t.Errorf("Agent(%q) = %+v, want roles %v", tc.id, p, tc.roles)
		}
	}
	if !u.Has("sup1") || u.Has("a1") || (*Users)(nil).Has("sup1") {
		t.Error("Has")
	}
}

func TestPrincipalHas(t *testing.T) {
	admin := Principal{Name: "root", Roles: []Role{RoleAdmin}}
	for _, r := range []Role{RoleSupervisor, RoleRouter, RoleMonitor, RoleAdmin} {
		if !admin.Has(r) {
			t.Errorf("admin lacks %s", r)
		}
	}
	if admin.Has(RoleAgent) {
		t.Error("admin is an agent")
	}
	mon := Principal{Name: "w", Roles: []Role{RoleMonitor}}
	if mon.Has(RoleSupervisor) || mon.Has(RoleAdmin) || !mon.Has(RoleMonitor) {
		t.Errorf("monitor %+v", mon)
	}
	if !(Principal{}).IsZero() || mon.IsZero() {
		t.Error("IsZero")
	}
}

// New names the user and the file or variable whose token is missing.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	short := filepath.Join(dir, "short.token")
	mustWrite(t, empty, " \n")
	mustWrite(t, short, "abc")
	for _, tc := range []struct {
		name, user string
		want       string
	}{
		{"missing file", `{name: w, roles: [monitor], token_file: "` + filepath.Join(dir, "nope") + `"}`, "users[0] (w): token_file: open " + filepath.Join(dir, "nope")},
		{"empty file", `{name: w, roles: [monitor], token_file: "` + empty + `"}`, "users[0] (w): token_file " + empty + " is empty"},
		{"unset variable", `{name: w, roles: [monitor], token_env: WALL_TOKEN}`, "users[0] (w): token_env: environment variable WALL_TOKEN is not set or empty"},
		{"short token", `{name: w, roles: [monitor], token_file: "` + short + `"}`, "users[0] (w): the token is 3 characters long; give at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := config.Parse("center.yaml", []byte("users:\n  - "+tc.user+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(f, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "auth: center.yaml: ") {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func mustWrite(tb testing.TB, name, s string) {
	tb.Helper()
	if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// The throttle counts per name and host, refuses at the limits for the
// rest of the window, and forgets a name's failures on success.
func TestThrottle(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	host := Host("192.0.2.7:40000")
	if host != "192.0.2.7" || Host("192.0.2.7") != "192.0.2.7" || Host("[2001:db8::1]:5060") != "2001:db8::1" {
		t.Fatalf("Host: %q", host)
	}
	for i := range MaxFailures - 1 {
		if name, _ := th.Failed(host, "a1"); name {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	th.Succeeded(host, "a1")
	for range MaxFailures - 1 {
		th.Failed(host, "a1")
	}
	if w, _ := th.Wait(host, "a1"); w != 0 {
		t.Fatalf("refused for %v after a success and %d failures", w, MaxFailures-1)
	}
	if name, _ := th.Failed(host, "a1"); !name {
		t.Fatal("the fifth failure does not lock")
	}
	now = now.Add(10 * time.Second)
	if w, whole := th.Wait(host, "a1"); w != 50*time.Second || whole {
		t.Fatalf("Wait = %v, %v; want 50s for a1 only", w, whole)
	}
	if w, _ := th.Wait(host, "a2"); w != 0 {
		t.Fatalf("a2 refused for %v", w)
	}
	if w, _ := th.Wait("198.51.100.1", "a1"); w != 0 {
		t.Fatalf("a1 from another host refused for %v", w)
	}
	now = now.Add(50 * time.Second)
	if w, _ := th.Wait(host, "a1"); w != 0 {
		t.Fatalf("refused for %v after the window", w)
	}
	// Any names: the host closes at MaxHostFailures.
	hostLocked := false
	for i := range MaxHostFailures {
		_, hostLocked = th.Failed(host, "n"+string(rune('A'+i)))
	}
	if !hostLocked {
		t.Fatal("the host is not locked")
	}
	if w, whole := th.Wait(host, "sup1"); w == 0 || !whole {
		t.Fatalf("Wait = %v, %v; want the whole host", w, whole)
	}
}

// A full table drops the oldest windows rather than growing.
func TestThrottleBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	for i := range maxThrottled {
		th.Failed("h"+itoa(i), "x")
		if i == maxThrottled/2 {
			now = now.Add(Window)
		}
	}
	th.mu.Lock()
	n := len(th.failed)
	th.mu.Unlock()
	if n > maxThrottled {
		t.Fatalf("%d entries", n)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
