package cti

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// testCenter: a voice queue and a chat queue, a route point, two agents
// serving both (a1 with a password), a supervisor agent who serves
// nothing, a3 who serves chats and may supervise, and users: a
// wallboard (monitor) and a router with tokens (testEnv), a supervisor
// with a bcrypt hash and an admin with an argon2id one.
const testCenter = `
queues:
  - {name: support, number: "7000"}
  - {name: chat, media: im, number: "7100"}
route_points:
  - {number: "5000", queue: support, timeout: 30s}
agents:
  - {id: a1, number: "1001", skills: {support: 5, chat: 5}, capacity: {im: 2}, ready: false, password: pw1}
  - {id: a2, number: "1002", skills: {support: 5, chat: 5}, capacity: {im: 2}, ready: false}
  - {id: sup, number: "1009", skills: {coaching: 5}, ready: false, roles: [supervisor]}
  - {id: a3, number: "1003", skills: {chat: 5}, capacity: {im: 2}, ready: false, roles: [supervisor]}
users:
  - {name: wall, roles: [monitor], token_env: CTI_TEST_WALL}
  - {name: router1, roles: [router], token_env: CTI_TEST_ROUTER}
  - {name: boss, roles: [supervisor], password_hash: "` + bossHash + `"}
  - {name: root, roles: [admin], password_hash: "` + rootHash + `"}
`

// The users' secrets: tests only.
const (
	wallToken   = "wallboard-token-0123456789"
	routerToken = "router-token-0123456789abcdef"
	bossHash    = "$2a$04$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua"                                   // sup-secret
	rootHash    = "$argon2id$v=19$m=64,t=1,p=1$DPFbEoFYUnMJ9MyqraxMLg$SrHBzGPCadPJm2Omacfarvc+XCDy0ctouGlfuyt9a2Y" // root-secret
)

// testEnv is the environment the users' tokens come from.
func testEnv(k string) string {
	return map[string]string{"CTI_TEST_WALL": wallToken, "CTI_TEST_ROUTER": routerToken}[k]
}

// mustUsers builds f's directory of users.
func mustUsers(tb testing.TB, f *config.File) *auth.Users {
	tb.Helper()
	u, err := auth.New(f, testEnv)
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
	return u
}

// testWait bounds every wait of a test: for a reply, an event, the loop.
const testWait = 10 * time.Second

// mustCenter parses testCenter.
func mustCenter(tb testing.TB) *config.File {
	tb.Helper()
	f, err := config.Parse("center.yaml", []byte(testCenter))
	if err != nil {
		tb.Fatalf("config.Parse: %v", err)
	}
	return f
}

// passwords returns the agents' passwords from f.
func passwords(f *config.File) func(string) (string, bool) {
	pw := map[string]string{}
	for _, a := range f.ExpandAgents() {
		if a.Password != "" {
			pw[a.ID] = a.Password
		}
	}
	return func(id string) (string, bool) { p, ok := pw[id]; return p, ok }
}

// env is a live CTI server: a T-Server on a running loop with the real
// clock, served over HTTP.
type env struct {
	tb   testing.TB
	loop *clock.Loop
	ts   *tserver.Server
	cti  *Server
	http *httptest.Server
	url  string
}

// newEnv starts testCenter; opts adjust the CTI configuration.
func newEnv(tb testing.TB, opts ...func(*Config)) *env {
	tb.Helper()
	f := mustCenter(tb)
	loop := clock.NewLoop()
	ts, err := tserver.New(f, tserver.Config{Clock: clock.NewReal(loop), DeferLogin: true, Seed: 1})
	if err != nil {
		tb.Fatalf("tserver.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() { loop.Run(ctx); close(loopDone) }()
	cfg := Config{Loop: loop, TServer: ts, Passwords: passwords(f), Users: mustUsers(tb, f), Log: zerolog.Nop()}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	h := httptest.NewServer(s)
	e := &env{tb: tb, loop: loop, ts: ts, cti: s, http: h, url: "ws" + strings.TrimPrefix(h.URL, "http")}
	tb.Cleanup(func() {
		s.Close()
		h.Close()
		cancel()
		<-loopDone
	})
	return e
}

// do runs f on the loop and waits for it.
func (e *env) do(f func()) {
	e.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := e.loop.Do(ctx, f); err != nil {
		e.tb.Fatalf("loop.Do: %v", err)
	}
}

// must runs f on the loop and fails the test (on the test's goroutine)
// when f fails.
func (e *env) must(what string, f func() error) {
	e.tb.Helper()
	var err error
	e.do(func() { err = f() })
	mustOK(e.tb, err, what)
}

// dial connects a client, closed when the test ends.
func (e *env) dial() *Client {
	e.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := Dial(ctx, e.url)
	if err != nil {
		e.tb.Fatalf("Dial: %v", err)
	}
	e.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// agent dials and logs agentID in, ready when ready is set.
func (e *env) agent(agentID, password string, ready bool) *Client {
	e.tb.Helper()
	c := e.dial()
	ctx := testCtx(e.tb)
	if _, err := c.Login(ctx, agentID, "", password); err != nil {
		e.tb.Fatalf("login %s: %v", agentID, err)
	}
	if ready {
		mustOK(e.tb, c.Ready(ctx), "ready "+agentID)
	}
	return c
}

// monitor dials and logs in as the wallboard (a monitor, by token).
func (e *env) monitor() *Client {
	e.tb.Helper()
	return e.token(wallToken)
}

// router dials and logs in as router1 (a router, by token).
func (e *env) router() *Client {
	e.tb.Helper()
	return e.token(routerToken)
}

// token dials and logs in with a bearer token.
func (e *env) token(tok string) *Client {
	e.tb.Helper()
	c := e.dial()
	if _, err := c.LoginToken(testCtx(e.tb), tok); err != nil {
		e.tb.Fatalf("token login: %v", err)
	}
	return c
}

// arrive brings an interaction of media m to dnis and returns its ID.
func (e *env) arrive(m pbx.Media, dnis string) pbx.ConnID {
	e.tb.Helper()
	return e.arriveWith(&tserver.Arrival{Media: m, DNIS: dnis, ANI: "customer"})
}

func (e *env) arriveWith(a *tserver.Arrival) pbx.ConnID {
	e.tb.Helper()
	var (
		id  pbx.ConnID
		err error
	)
	e.do(func() { id, err = e.ts.Arrive(a) })
	if err != nil {
		e.tb.Fatalf("arrive at %s: %v", a.DNIS, err)
	}
	return id
}

// agentState returns agentID's state, read on the loop.
func (e *env) agentState(agentID string) tserver.AgentState {
	e.tb.Helper()
	var st tserver.AgentState
	e.do(func() {
		a, _ := e.ts.Agent(agentID)
		st = a.State()
	})
	return st
}

// testCtx returns a context that ends after testWait or with the test.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	tb.Cleanup(cancel)
	return ctx
}

func mustOK(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// mustEvent waits for event about id on c.
func mustEvent(tb testing.TB, c *Client, event string, id pbx.ConnID) Message {
	tb.Helper()
	m, err := c.ExpectEvent(testCtx(tb), event, id)
	if err != nil {
		tb.Fatalf("waiting for %s (conn %s): %v; kept: %s", event, id, err, names(c.Pending()))
	}
	return m
}

// names lists messages' event names, for failure messages.
func names(ms []Message) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(m.Event)
		if m.ConnID != 0 {
			b.WriteString("(" + m.ConnID.String() + ")")
		}
	}
	return "[" + b.String() + "]"
}

// fakeChat records the chat hooks' calls; err, when set, refuses them.
type fakeChat struct {
	mu    sync.Mutex
	calls []string
	err   error
}

var _ ChatHandler = (*fakeChat)(nil)

func (f *fakeChat) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, call)
	return nil
}

func (f *fakeChat) AgentMessage(agentID string, id pbx.ConnID, text string) error {
	return f.record("message " + agentID + " " + id.String() + " " + text)
}

func (f *fakeChat) AgentTyping(agentID string, id pbx.ConnID, state string) error {
	return f.record("typing " + agentID + " " + id.String() + " " + state)
}

func (f *fakeChat) SupervisorJoin(agentID string, id pbx.ConnID) error {
	return f.record("join " + agentID + " " + id.String())
}

func (f *fakeChat) SupervisorLeave(agentID string, id pbx.ConnID) error {
	return f.record("leave " + agentID + " " + id.String())
}

func (f *fakeChat) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (f *fakeChat) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// manualClock is a Clock whose timers fire when the test says so (on the
// loop, through env.do). armed receives one value per AfterFunc.
type manualClock struct {
	mu     sync.Mutex
	timers []*manualTimer
	armed  chan time.Duration
	ahead  time.Duration // how far Now is ahead of the real time (advance)
}

type manualTimer struct {
	f       func()
	stopped bool
}

func newManualClock() *manualClock { return &manualClock{armed: make(chan time.Duration, 64)} }

func (m *manualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Now().Add(m.ahead)
}

// advance moves Now forward by d (timers fire only through fire).
func (m *manualClock) advance(d time.Duration) {
	m.mu.Lock()
	m.ahead += d
	m.mu.Unlock()
}

func (m *manualClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := &manualTimer{f: f}
	m.mu.Lock()
	m.timers = append(m.timers, t)
	m.mu.Unlock()
	m.armed <- d
	return t
}

func (t *manualTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

// fire runs the pending timers; call it on the loop.
func (m *manualClock) fire() int {
	m.mu.Lock()
	ts := m.timers
	m.timers = nil
	m.mu.Unlock()
	n := 0
	for _, t := range ts {
		if !t.stopped {
			t.stopped = true
			t.f()
			n++
		}
	}
	return n
}

// waitArmed waits until a timer is armed and returns its duration.
func (m *manualClock) waitArmed(tb testing.TB) time.Duration {
	tb.Helper()
	select {
	case d := <-m.armed:
		return d
	case <-time.After(testWait):
		tb.Fatalf("no timer was armed")
		return 0
	}
}

// logBuffer collects a server's log lines (zerolog JSON), safe for the
// loop's and the connections' goroutines.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.lines = append(b.lines, string(p))
	b.mu.Unlock()
	return len(p), nil
}

// find returns the first line containing s, or "".
func (b *logBuffer) find(s string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// internalID returns the id of an internal error's generic text.
func internalID(tb testing.TB, msg string) string {
	tb.Helper()
	_, rest, ok := strings.Cut(msg, "internal error (id ")
	id, _, ok2 := strings.Cut(rest, ")")
	if !ok || !ok2 || len(id) != 16 {
		tb.Fatalf("error %q has no id", msg)
	}
	return id
}
