package cti

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestAccessTable checks the role table request by request against the
// permissions README.md documents, written out here independently: one
// column per principal, '+' allowed, '-' refused with kind permission
// before the request runs.
func TestAccessTable(t *testing.T) {
	principals := []struct {
		name string
		p    auth.Principal
	}{
		{"nobody", auth.Principal{}},
		{"agent", auth.Principal{Name: "a1", AgentID: "a1", Roles: []auth.Role{auth.RoleAgent}}},
		{"agent+supervisor", auth.Principal{Name: "a3", AgentID: "a3", Roles: []auth.Role{auth.RoleAgent, auth.RoleSupervisor}}},
		{"supervisor", auth.Principal{Name: "boss", Roles: []auth.Role{auth.RoleSupervisor}}},
		{"router", auth.Principal{Name: "router1", Roles: []auth.Role{auth.RoleRouter}}},
		{"monitor", auth.Principal{Name: "wall", Roles: []auth.Role{auth.RoleMonitor}}},
		{"admin", auth.Principal{Name: "root", Roles: []auth.Role{auth.RoleAdmin}}},
	}
	//                                     nobody agent agent+sup sup router monitor admin
	want := map[string]string{
		RequestAgentLogin:         "+++++++",
		RequestLogin:              "+++++++",
		RequestAgentLogout:        "-+++--+",
		RequestAgentReady:         "-++---+",
		RequestAgentNotReady:      "-+++--+",
		RequestMakeCall:           "-++---+",
		RequestAnswerCall:         "-++---+",
		RequestRejectCall:         "-++---+",
		RequestReleaseCall:        "-++---+",
		RequestHoldCall:           "-++---+",
		RequestRetrieveCall:       "-++---+",
		RequestSingleStepTransfer: "-++---+",
		RequestAttachUserData:     "-++-+-+",
		RequestRegisterAddress:    "-++++++",
		RequestUnregisterAddress:  "-++++++",
		RequestRouteCall:          "----+-+",
		RequestQueryQueue:         "-++++++",
		RequestQueryCall:          "-++++++",
		RequestQueryAgent:         "-++++++",
		RequestChatMessage:        "-+++--+",
		RequestChatTyping:         "-+++--+",
		RequestChatJoin:           "--++--+",
		RequestChatLeave:          "--++--+",

		RequestMonitorCustomer:     "-+++--+",
		RequestStopMonitorCustomer: "-+++--+",
		RequestCallback:            "-++++-+",
	}
	if got, names := len(access), RequestNames(); got != len(names) || len(want) != len(names) {
		t.Fatalf("access has %d requests, want %d, the protocol has %d", got, len(want), len(names))
	}
	s := &Server{}
	for _, name := range RequestNames() {
		row, ok := want[name]
		if !ok {
			t.Errorf("%s: not in the expected table", name)
			continue
		}
		if _, ok := access[name]; !ok {
			t.Errorf("%s: not in access", name)
		}
		for i, pr := range principals {
			err := s.allowed(&conn{principal: pr.p}, &Request{Request: name})
			switch {
			case row[i] == '+' && err != nil:
				t.Errorf("%s by %s: refused (%v), want allowed", name, pr.name, err)
			case row[i] == '-' && err == nil:
				t.Errorf("%s by %s: allowed, want refused", name, pr.name)
			case row[i] == '-' && pbx.KindOf(err) != pbx.Permission:
				t.Errorf("%s by %s: %v, want a permission error", name, pr.name, err)
			}
		}
	}
}

// A connection that has not logged in may only log in: everything else
// is refused with kind permission, changes nothing, and the connection
// then logs in fine.
func TestUnauthenticatedRefused(t *testing.T) {
	chat := &fakeChat{}
	e := newEnv(t, func(c *Config) { c.Chat = chat })
	ctx := testCtx(t)
	a2 := e.agent("a2", "", true)
	chatID := e.arrive(pbx.IM, "chat")
	mustEvent(t, a2, "EventRinging", chatID)
	mustOK(t, a2.Answer(ctx, chatID), "answer")
	routed := e.arrive(pbx.Voice, "5000") // waits for a router

	anon := e.dial()
	for _, r := range []Request{
		{Request: RequestRegisterAddress, DN: "*"},
		{Request: RequestRegisterAddress, DN: "5000"},
		{Request: RequestRegisterAddress, DN: "support"},
		{Request: RequestRouteCall, ConnID: routed, Target: "a1"},
		{Request: RequestQueryQueue},
		{Request: RequestQueryQueue, Queue: "support"},
		{Request: RequestQueryCall, ConnID: chatID},
		{Request: RequestQueryAgent, AgentID: "a2"},
		{Request: RequestChatMessage, ConnID: chatID, Text: "hello from nowhere"},
		{Request: RequestChatTyping, ConnID: chatID, State: "composing"},
		{Request: RequestChatJoin, ConnID: chatID},
		{Request: RequestChatLeave, ConnID: chatID},
		{Request: RequestAttachUserData, ConnID: routed, UserData: pbx.UserData{{Key: "k", Value: "v"}}},
		{Request: RequestAgentNotReady, AgentID: "a2"},
		{Request: RequestAgentLogout, AgentID: "a2"},
		{Request: RequestMakeCall, Destination: "5550100"},
	} {
		_, err := anon.Do(ctx, r)
		cctest.WantKind(t, err, pbx.Permission, "unauthenticated "+r.Request+" "+r.DN)
		if !strings.Contains(err.Error(), "log in first") {
			t.Errorf("%s: %q does not say to log in", r.Request, err)
		}
	}
	if got := chat.take(); len(got) != 0 {
		t.Fatalf("chat hooks called: %q", got)
	}
	// Nothing changed: the interaction still waits at the route point,
	// a2 is still busy, and no event reached the stranger.
	if st := e.agentState("a2"); st != tserver.Busy {
		t.Fatalf("a2 is %s", st)
	}
	other := e.arrive(pbx.Voice, "7000")
	rep, err := anon.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "login after refusals")
	if rep.Agent == nil || rep.Agent.AgentID != "a1" {
		t.Fatalf("login reply %s", rep.Raw)
	}
	if p := anon.Pending(); len(p) != 1 || p[0].Event != "EventAgentLogin" {
		t.Fatalf("the stranger received %s (interactions %s, %s)", names(p), routed, other)
	}
	mon := e.dial()
	_, err = mon.LoginToken(ctx, wallToken)
	mustOK(t, err, "a monitor's login after another connection's refusals")
}

// An agent may join no other agent's chat unless its entry makes it a
// supervisor; a supervisor (a user, or such an agent) joins a chat it
// watches, writes in it and receives it, and may make an agent not ready
// or log it out.
func TestChatJoinRoles(t *testing.T) {
	chat := &fakeChat{}
	e := newEnv(t, func(c *Config) { c.Chat = chat })
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "1001")
	mustEvent(t, a1, "EventRinging", id)
	mustOK(t, a1.Answer(ctx, id), "answer")

	// a2, a plain agent who serves the chat queue, watches it and still
	// may not join.
	a2 := e.agent("a2", "", false)
	mustOK(t, a2.Register(ctx, "chat"), "a2 watches a queue it serves")
	cctest.WantKind(t, a2.Register(ctx, "a1"), pbx.Permission, "a2 watches another agent")
	err := a2.ChatJoin(ctx, id)
	cctest.WantKind(t, err, pbx.Permission, "a plain agent joins another's chat")
	if !strings.Contains(err.Error(), "RequestChatJoin: agent a2 (roles: agent) may not: it takes supervisor or admin") {
		t.Errorf("error %q does not say who", err)
	}
	cctest.WantKind(t, a2.ChatSend(ctx, id, "psst"), pbx.Permission, "a plain agent writes in another's chat")
	if got := chat.take(); len(got) != 0 {
		t.Fatalf("chat hooks called: %q", got)
	}

	// boss, a supervisor user (bcrypt), joins.
	boss := e.dial()
	rep, err := boss.LoginUser(ctx, "boss", "sup-secret")
	mustOK(t, err, "boss logs in")
	if rep.User == nil || rep.User.Name != "boss" || !slices.Equal(rep.User.Roles, []string{"supervisor"}) {
		t.Fatalf("login reply %s", rep.Raw)
	}
	cctest.WantKind(t, boss.ChatJoin(ctx, id), pbx.Permission, "join without watching")
	mustOK(t, boss.Register(ctx, "a1"), "boss watches a1")
	mustOK(t, boss.ChatJoin(ctx, id), "boss joins")
	mustOK(t, boss.ChatSend(ctx, id, "I am here too"), "boss writes")
	var derr error
	e.do(func() {
		derr = e.cti.DeliverChat("boss", ChatEvent{Type: EventChatMessage, ConnID: id, From: "customer", Text: "hi all"})
	})
	mustOK(t, derr, "deliver to the supervisor")
	if m := mustEvent(t, boss, "EventChatMessage", id); m.Text != "hi all" {
		t.Fatalf("boss got %s", m.Raw)
	}
	mustOK(t, boss.ChatLeave(ctx, id), "boss leaves")
	if got, want := chat.take(), []string{
		"join boss " + id.String(), "message boss " + id.String() + " I am here too", "leave boss " + id.String(),
	}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	cctest.WantKind(t, boss.Register(ctx, "5000"), pbx.Permission, "a supervisor registers a route point")
	cctest.WantKind(t, boss.Ready(ctx), pbx.Permission, "a supervisor is no agent")

	// a3, an agent its entry makes a supervisor: another's chat yes, its
	// own is its own.
	a3 := e.agent("a3", "", true)
	own := e.arrive(pbx.IM, "1003")
	mustEvent(t, a3, "EventRinging", own)
	mustOK(t, a3.Answer(ctx, own), "a3 answers")
	mustOK(t, a3.Register(ctx, "*"), "a3 watches everything")
	mustOK(t, a3.ChatJoin(ctx, id), "a3 joins a1's chat")
	cctest.WantKind(t, a3.ChatJoin(ctx, own), pbx.Conflict, "a3 joins its own chat")

	// boss makes a2 not ready and logs it out; a plain agent may not,
	// nor may a supervisor make an agent ready.
	_, err = a1.Do(ctx, Request{Request: RequestAgentNotReady, AgentID: "a2"})
	cctest.WantKind(t, err, pbx.Permission, "an agent makes another not ready")
	_, err = boss.Do(ctx, Request{Request: RequestAgentReady, AgentID: "a2"})
	cctest.WantKind(t, err, pbx.Permission, "a supervisor makes an agent ready")
	mustOK(t, a2.Ready(ctx), "a2 ready")
	_, err = boss.Do(ctx, Request{Request: RequestAgentNotReady, AgentID: "a2", Reason: "coaching"})
	mustOK(t, err, "boss makes a2 not ready")
	if m := mustEvent(t, a2, "EventAgentNotReady", 0); m.Reason != "coaching" {
		t.Fatalf("a2 got %s", m.Raw)
	}
	_, err = boss.Do(ctx, Request{Request: RequestAgentNotReady, AgentID: "nobody"})
	cctest.WantKind(t, err, pbx.NotFound, "not ready for nobody")
	_, err = boss.Do(ctx, Request{Request: RequestAgentLogout, AgentID: "a2"})
	mustOK(t, err, "boss logs a2 out")
	mustEvent(t, a2, "EventAgentLogout", 0)
	if st := e.agentState("a2"); st != tserver.LoggedOut {
		t.Fatalf("a2 is %s", st)
	}
	// a2's desktop acts as nobody now: its rights went with the logout.
	_, err = a2.QueryQueue(ctx, "chat")
	cctest.WantKind(t, err, pbx.Permission, "query after a logout")
}

// A monitor (a wallboard's token) sees events but cannot act.
func TestMonitorSeesButCannotAct(t *testing.T) {
	chat := &fakeChat{}
	e := newEnv(t, func(c *Config) { c.Chat = chat })
	ctx := testCtx(t)
	mon := e.monitor()
	mustOK(t, mon.Register(ctx, "*"), "monitor watches everything")
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "chat")
	if m := mustEvent(t, mon, "EventRinging", id); m.AgentID != "a1" {
		t.Fatalf("monitor got %s", m.Raw)
	}
	mustEvent(t, a1, "EventRinging", id)
	routed := e.arrive(pbx.Voice, "5000")
	mustEvent(t, mon, "EventQueued", routed) // no router registered: to the route point's queue

	for _, tt := range []struct {
		name string
		r    Request
	}{
		{"route", Request{Request: RequestRouteCall, ConnID: routed, Target: "a2"}},
		{"not ready another", Request{Request: RequestAgentNotReady, AgentID: "a1", Reason: "x"}},
		{"log another out", Request{Request: RequestAgentLogout, AgentID: "a1"}},
		{"answer", Request{Request: RequestAnswerCall, ConnID: id}},
		{"release", Request{Request: RequestReleaseCall, ConnID: id}},
		{"attach", Request{Request: RequestAttachUserData, ConnID: id, UserData: pbx.UserData{{Key: "k", Value: "v"}}}},
		{"make call", Request{Request: RequestMakeCall, Destination: "5550100"}},
		{"join chat", Request{Request: RequestChatJoin, ConnID: id}},
		{"chat", Request{Request: RequestChatMessage, ConnID: id, Text: "x"}},
		{"register route point", Request{Request: RequestRegisterAddress, DN: "5000"}},
		{"log in as an agent too", Request{Request: RequestAgentLogin, AgentID: "a2"}},
	} {
		_, err := mon.Do(ctx, tt.r)
		if tt.r.Request == RequestAgentLogin {
			cctest.WantKind(t, err, pbx.Conflict, tt.name)
			continue
		}
		cctest.WantKind(t, err, pbx.Permission, "monitor: "+tt.name)
	}
	if st := e.agentState("a1"); st != tserver.Reserved {
		t.Fatalf("a1 is %s, want reserved", st)
	}
	if got := chat.take(); len(got) != 0 {
		t.Fatalf("chat hooks called: %q", got)
	}
	// Queries it may make.
	qs, err := mon.QueryQueue(ctx, "chat")
	mustOK(t, err, "query queue")
	if len(qs) != 1 || qs[0].Name != "chat" {
		t.Fatalf("queues %+v", qs)
	}
	call, err := mon.QueryCall(ctx, id)
	mustOK(t, err, "query call")
	if call.State != "ringing" || call.AgentID != "a1" {
		t.Fatalf("call %+v", call)
	}
	info, err := mon.QueryAgent(ctx, "a1")
	mustOK(t, err, "query agent")
	if info.State != "reserved" {
		t.Fatalf("agent %+v", info)
	}
	// A wrong token is refused, and the connection stays usable.
	c := e.dial()
	_, err = c.LoginToken(ctx, wallToken+"x")
	cctest.WantKind(t, err, pbx.Permission, "wrong token")
	_, err = c.LoginToken(ctx, wallToken)
	mustOK(t, err, "right token after a wrong one")
}

// A router routes what arrives at the route points it registered, and
// does nothing else.
func TestRouterRoutes(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	router := e.router()
	a2 := e.agent("a2", "", true)
	cctest.WantKind(t, router.Register(ctx, "*"), pbx.Permission, "a router watches everything")
	cctest.WantKind(t, router.Register(ctx, "support"), pbx.Permission, "a router watches a queue")
	cctest.WantKind(t, router.Register(ctx, "a2"), pbx.Permission, "a router watches an agent")
	mustOK(t, router.Register(ctx, "5000"), "register the route point")
	id := e.arrive(pbx.Voice, "5000")
	mustEvent(t, router, "EventRouteRequest", id)
	if _, err := router.QueryAgent(ctx, "a2"); err != nil {
		t.Fatalf("a router queries an agent: %v", err)
	}
	_, err := router.Do(ctx, Request{Request: RequestAgentNotReady, AgentID: "a2"})
	cctest.WantKind(t, err, pbx.Permission, "a router makes an agent not ready")
	mustOK(t, router.RouteCall(ctx, id, "a2"), "route")
	mustEvent(t, a2, "EventRinging", id)
	mustEvent(t, router, "EventRouteUsed", id)
}

// An agent registers itself (by id or extension) and the queues it
// serves; not "*", route points, other agents or other queues. It queries
// its own work and any queue.
func TestAgentRegisters(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	for _, dn := range []string{"a1", "support", "7100"} {
		mustOK(t, a1.Register(ctx, dn), "a1 registers "+dn)
	}
	cctest.WantKind(t, a1.Register(ctx, "1001"), pbx.Conflict, "its extension is itself") // already registered as a1
	for _, dn := range []string{"*", "5000", "a2", "1002"} {
		cctest.WantKind(t, a1.Register(ctx, dn), pbx.Permission, "a1 registers "+dn)
	}
	sup := e.agent("sup", "", false) // serves no queue, but its entry makes it a supervisor
	mustOK(t, sup.Register(ctx, "support"), "a supervisor agent watches any queue")
	cctest.WantKind(t, sup.Register(ctx, "5000"), pbx.Permission, "a supervisor agent registers a route point")

	other := e.arrive(pbx.Voice, "7000") // rings at a1
	mustEvent(t, a1, "EventRinging", other)
	a2 := e.agent("a2", "", false)
	_, err := a2.QueryCall(ctx, other)
	cctest.WantKind(t, err, pbx.Permission, "query another's interaction")
	_, err = a2.QueryAgent(ctx, "a1")
	cctest.WantKind(t, err, pbx.Permission, "query another agent")
	if info, err := a2.QueryAgent(ctx, ""); err != nil || info.AgentID != "a2" {
		t.Fatalf("query self: %+v, %v", info, err)
	}
	if _, err := a2.QueryQueue(ctx, ""); err != nil {
		t.Fatalf("query queues: %v", err)
	}
	if call, err := a1.QueryCall(ctx, other); err != nil || call.AgentID != "a1" {
		t.Fatalf("query own: %+v, %v", call, err)
	}
}

// RequestLogin: right and wrong secrets, missing fields, a second login
// on one connection; an admin (argon2id) may do what the others may.
func TestUserLogin(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	c := e.dial()
	for _, tt := range []struct {
		name string
		r    Request
		kind pbx.Kind
		msg  string
	}{
		{"wrong password", Request{Request: RequestLogin, User: "boss", Password: "guess"}, pbx.Permission, "wrong user or password"},
		{"unknown user", Request{Request: RequestLogin, User: "nobody", Password: "sup-secret"}, pbx.Permission, "wrong user or password"},
		{"agent as a user", Request{Request: RequestLogin, User: "a1", Password: "pw1"}, pbx.Permission, "wrong user or password"},
		{"token user's password", Request{Request: RequestLogin, User: "wall", Password: wallToken}, pbx.Permission, "wrong user or password"},
		{"someone else's token", Request{Request: RequestLogin, User: "boss", Token: wallToken}, pbx.Permission, "unknown token"},
		{"no password", Request{Request: RequestLogin, User: "boss"}, pbx.Invalid, "missing password (or give token)"},
		{"nothing", Request{Request: RequestLogin}, pbx.Invalid, "missing user, password (or give token)"},
		{"both", Request{Request: RequestLogin, User: "boss", Password: "sup-secret", Token: wallToken}, pbx.Invalid, "not both"},
	} {
		_, err := c.Do(ctx, tt.r)
		cctest.WantKind(t, err, tt.kind, tt.name)
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %q does not say %q", tt.name, err, tt.msg)
		}
	}
	rep, err := c.LoginUser(ctx, "root", "root-secret")
	mustOK(t, err, "admin logs in")
	if rep.User == nil || !slices.Equal(rep.User.Roles, []string{"admin"}) {
		t.Fatalf("reply %s", rep.Raw)
	}
	_, err = c.LoginUser(ctx, "boss", "sup-secret")
	cctest.WantKind(t, err, pbx.Conflict, "a second login")
	_, err = c.Login(ctx, "a1", "", "pw1")
	cctest.WantKind(t, err, pbx.Conflict, "an agent login after a user's")
	a2 := e.agent("a2", "", true)
	_, err = a2.LoginToken(ctx, wallToken)
	cctest.WantKind(t, err, pbx.Conflict, "a user login after an agent's")
	// The admin does a monitor's, a router's and a supervisor's work.
	mustOK(t, c.Register(ctx, "*"), "admin watches")
	mustOK(t, c.Register(ctx, "5000"), "admin routes")
	id := e.arrive(pbx.Voice, "5000")
	mustEvent(t, c, "EventRouteRequest", id)
	mustOK(t, c.RouteCall(ctx, id, "support"), "admin routes")
	mustEvent(t, a2, "EventRinging", id)
	_, err = c.Do(ctx, Request{Request: RequestAgentNotReady, AgentID: "a2", Reason: "admin"})
	mustOK(t, err, "admin makes a2 not ready")
	cctest.WantKind(t, c.Answer(ctx, id), pbx.Permission, "an admin is not an agent")
}

// Without Users only agents log in, as plain agents.
func TestNoUsers(t *testing.T) {
	chat := &fakeChat{}
	e := newEnv(t, func(c *Config) { c.Users = nil; c.Chat = chat })
	ctx := testCtx(t)
	c := e.dial()
	_, err := c.LoginToken(ctx, wallToken)
	cctest.WantKind(t, err, pbx.Permission, "a token without users")
	_, err = c.LoginUser(ctx, "boss", "sup-secret")
	cctest.WantKind(t, err, pbx.Permission, "a password without users")
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "chat")
	mustEvent(t, a1, "EventRinging", id)
	mustOK(t, a1.Answer(ctx, id), "answer")
	sup := e.agent("sup", "", false)
	cctest.WantKind(t, sup.Register(ctx, "*"), pbx.Permission, "sup is a plain agent without users")
	cctest.WantKind(t, sup.ChatJoin(ctx, id), pbx.Permission, "sup joins without users")
}

// Failed RequestLogins are throttled like agent logins, and a throttle
// shared with another door counts that door's failures too.
func TestUserLoginThrottled(t *testing.T) {
	clk := newManualClock()
	th := auth.NewThrottle(clk.Now)
	e := newEnv(t, func(c *Config) { c.Clock = clk; c.Throttle = th })
	ctx := testCtx(t)
	c := e.dial()
	for i := range auth.MaxFailures {
		_, err := c.LoginUser(ctx, "boss", "guess"+strconv.Itoa(i))
		cctest.WantKind(t, err, pbx.Permission, "wrong password")
	}
	_, err := c.LoginUser(ctx, "boss", "sup-secret")
	cctest.WantKind(t, err, pbx.Permission, "throttled")
	if !strings.Contains(err.Error(), "too many failed logins for user boss from 127.0.0.1; try again in") {
		t.Fatalf("error %q does not say why", err)
	}
	mustOK(t, func() error { _, err := c.LoginUser(ctx, "root", "root-secret"); return err }(), "another user")

	// The SIP registrar (say) saw a1's password guessed: CTI refuses a1.
	for range auth.MaxFailures {
		th.Failed("127.0.0.1", "a1")
	}
	_, err = e.dial().Login(ctx, "a1", "", "pw1")
	cctest.WantKind(t, err, pbx.Permission, "throttled by another door")
	clk.advance(auth.Window)
	_, err = e.dial().LoginUser(ctx, "boss", "sup-secret")
	mustOK(t, err, "after the window")
}

// The login path, fed arbitrary frames and credentials without a network,
// never panics and never authenticates without the right secret.
func FuzzLogin(f *testing.F) {
	f.Add([]byte(`{"request":"RequestLogin","user":"boss","password":"sup-secret"}`), "boss", "sup-secret", "", "a1")
	f.Add([]byte(`{"request":"RequestLogin","token":"`+wallToken+`"}`), "", "", wallToken, "a2")
	f.Add([]byte(`{"request":"RequestAgentLogin","agent_id":"a1","password":"pw1"}`), "root", "root-secret", routerToken, "a1")
	f.Add([]byte(`{"request":"RequestLogin","user":"wall","token":"x","password":"y"}`), "wall", "", "wallboard-token-012345678", "sup")
	f.Add([]byte(`{"request":"RequestAgentLogin","agent_id":"a1","password":"pw"}`), "a1", "pw1", "", "nobody")
	center := mustCenter(f)
	pw := passwords(center)
	users := mustUsers(f, center)
	f.Fuzz(func(t *testing.T, frame []byte, user, password, token, agentID string) {
		clk := clock.NewVirtual(clock.Epoch)
		ts, err := tserver.New(center, tserver.Config{Clock: clk, DeferLogin: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := newServer(Config{TServer: ts, Clock: clk, Passwords: pw, Users: users, Log: zerolog.Nop(), SendQueue: 64})
		if err != nil {
			t.Fatal(err)
		}
		s.start()
		var frames [][]byte
		frames = append(frames, frame)
		for _, r := range []Request{
			{Request: RequestLogin, User: user, Password: password, Token: token},
			{Request: RequestAgentLogin, AgentID: agentID, Password: password},
		} {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, b)
		}
		for _, fr := range frames {
			c := s.newConn(nil, "fuzz:1")
			s.handleNow(c, fr)
			r, err := decodeRequest(fr)
			if c.principal.IsZero() {
				continue
			}
			if err != nil {
				t.Fatalf("%q: authenticated by a frame that does not decode (%v)", fr, err)
			}
			if !rightSecret(r) {
				t.Fatalf("%q: authenticated as %+v without the right secret", fr, c.principal)
			}
		}
	})
}

// rightSecret reports whether a decoded login request carries the secret
// of whom it names (in testCenter).
func rightSecret(r Request) bool {
	switch r.Request {
	case RequestAgentLogin:
		switch r.AgentID {
		case "a1":
			return r.Password == "pw1"
		case "a2", "sup", "a3":
			return true // no password: such agents log in freely
		}
	case RequestLogin:
		if r.Token != "" {
			return r.Password == "" && (r.Token == wallToken && (r.User == "" || r.User == "wall") ||
				r.Token == routerToken && (r.User == "" || r.User == "router1"))
		}
		return r.User == "boss" && r.Password == "sup-secret" || r.User == "root" && r.Password == "root-secret"
	}
	return false
}
