package cti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// An agent logs in, goes ready, and answers and releases an interaction of
// each media arriving at a queue.
func TestAgentHandlesContact(t *testing.T) {
	for _, tt := range []struct {
		name  string
		media pbx.Media
		dnis  string
		queue string
	}{
		{"im", pbx.IM, "chat", "chat"},
		{"voice", pbx.Voice, "7000", "support"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testCtx(t)
			c := e.dial()
			rep, err := c.Login(ctx, "a1", "", "pw1")
			mustOK(t, err, "login")
			if rep.Event != EventACK || rep.Resumed || rep.Agent == nil || rep.Agent.State != "not_ready" || rep.Agent.DN != "1001" {
				t.Fatalf("login reply %+v, agent %+v", rep, rep.Agent)
			}
			mustEvent(t, c, "EventAgentLogin", 0)
			mustOK(t, c.Ready(ctx), "ready")
			// A request's own events come before its reply.
			if p := c.Pending(); len(p) != 1 || p[0].Event != "EventAgentReady" || p[0].AgentID != "a1" {
				t.Fatalf("after the ready ACK, kept %s, want [EventAgentReady]", names(p))
			}
			c.Discard()

			id := e.arrive(tt.media, tt.dnis)
			m := mustEvent(t, c, "EventRinging", id)
			if m.Media != tt.media.String() || m.AgentID != "a1" || m.Queue != tt.queue || m.ANI != "customer" || m.Time.IsZero() {
				t.Fatalf("EventRinging %s", m.Raw)
			}
			mustOK(t, c.Answer(ctx, id), "answer")
			mustEvent(t, c, "EventEstablished", id)
			mustOK(t, c.Release(ctx, id), "release")
			if m := mustEvent(t, c, "EventReleased", id); m.Reason != "" {
				t.Fatalf("EventReleased reason %q", m.Reason)
			}
			if st := e.agentState("a1"); st != tserver.Ready {
				t.Fatalf("a1 is %s after the release, want ready", st)
			}
		})
	}
}

// Events reach their own agent only.
func TestEventsReachOnlyTheirAgent(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	a2 := e.agent("a2", "", true)
	a1.Discard()
	a2.Discard()

	id := e.arrive(pbx.IM, "1001") // a1's extension
	mustEvent(t, a1, "EventRinging", id)
	mustOK(t, a1.Answer(ctx, id), "answer")
	mustEvent(t, a1, "EventEstablished", id)
	// a2's request runs after those events: had a2 been sent any, they
	// would precede this reply.
	if _, err := a2.QueryAgent(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if p := a2.Pending(); len(p) != 0 {
		t.Fatalf("a2 received %s about a1's interaction", names(p))
	}
}

// Requests about interactions that are not the agent's are refused, and
// change nothing.
func TestPermission(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	a2 := e.agent("a2", "", true)
	anon := e.dial()
	id := e.arrive(pbx.IM, "1001")
	mustEvent(t, a1, "EventRinging", id)

	for _, tt := range []struct {
		name string
		c    *Client
		r    Request
	}{
		{"ready before login", anon, Request{Request: RequestAgentReady}},
		{"answer before login", anon, Request{Request: RequestAnswerCall, ConnID: id}},
		{"answer", a2, Request{Request: RequestAnswerCall, ConnID: id}},
		{"reject", a2, Request{Request: RequestRejectCall, ConnID: id}},
		{"release", a2, Request{Request: RequestReleaseCall, ConnID: id}},
		{"hold", a2, Request{Request: RequestHoldCall, ConnID: id}},
		{"retrieve", a2, Request{Request: RequestRetrieveCall, ConnID: id}},
		{"transfer", a2, Request{Request: RequestSingleStepTransfer, ConnID: id, Target: "a2"}},
		{"attach user data", a2, Request{Request: RequestAttachUserData, ConnID: id, UserData: pbx.UserData{{Key: "k", Value: "v"}}}},
		{"chat", a2, Request{Request: RequestChatMessage, ConnID: id, Text: "hi"}},
		{"typing", a2, Request{Request: RequestChatTyping, ConnID: id, State: "composing"}},
		{"route without registering", a2, Request{Request: RequestRouteCall, ConnID: id, Target: "a2"}},
		{"other agent's id", a2, Request{Request: RequestAgentNotReady, AgentID: "a1"}},
		{"wrong password", anon, Request{Request: RequestAgentLogin, AgentID: "a1", Password: "guess"}},
		{"no password", anon, Request{Request: RequestAgentLogin, AgentID: "a1"}},
	} {
		_, err := tt.c.Do(ctx, tt.r)
		cctest.WantKind(t, err, pbx.Permission, tt.name)
	}
	call, err := a1.QueryCall(ctx, id)
	mustOK(t, err, "query call")
	if call.State != "ringing" || call.AgentID != "a1" || len(call.UserData) != 0 {
		t.Fatalf("after refused requests the interaction is %+v", call)
	}
	if st := e.agentState("a1"); st != tserver.Reserved {
		t.Fatalf("a1 is %s, want reserved", st)
	}
	if st := e.agentState("a2"); st != tserver.Ready {
		t.Fatalf("a2 is %s, want ready", st)
	}
}

// Every request, once, in a scenario where it succeeds.
func TestEveryRequest(t *testing.T) {
	chat := &fakeChat{}
	cust, cbs := newFakeCustomers(t), &fakeCallbacks{}
	e := newEnv(t, func(c *Config) { c.Chat = chat; withCallbackServer(cust, cbs)(c) })
	ctx := testCtx(t)
	a1, a2, sup, router := e.dial(), e.dial(), e.dial(), e.dial()
	var chatID, callID, routed pbx.ConnID
	done := map[string]bool{}
	steps := []struct {
		c     *Client
		r     func() Request
		after func(Message)
	}{
		{a1, func() Request { return Request{Request: RequestAgentLogin, AgentID: "a1", Password: "pw1"} }, nil},
		{a1, func() Request { return Request{Request: RequestAgentReady} }, func(Message) {
			chatID = e.arrive(pbx.IM, "chat")
			mustEvent(t, a1, "EventRinging", chatID)
		}},
		{a1, func() Request { return Request{Request: RequestQueryCall, ConnID: chatID} }, func(m Message) {
			if m.Call == nil || m.Call.State != "ringing" || m.Call.Media != "im" {
				t.Fatalf("query call: %s", m.Raw)
			}
		}},
		{a1, func() Request { return Request{Request: RequestAnswerCall, ConnID: chatID} }, nil},
		{a1, func() Request {
			return Request{Request: RequestAttachUserData, ConnID: chatID, UserData: pbx.UserData{{Key: "case", Value: "42"}}}
		}, func(Message) {
			if m := mustEvent(t, a1, "EventAttachedDataChanged", chatID); len(m.UserData) != 1 || m.UserData[0].Value != "42" {
				t.Fatalf("EventAttachedDataChanged %s", m.Raw)
			}
		}},
		{a1, func() Request { return Request{Request: RequestHoldCall, ConnID: chatID} }, nil},
		{a1, func() Request { return Request{Request: RequestRetrieveCall, ConnID: chatID} }, nil},
		{a1, func() Request { return Request{Request: RequestChatMessage, ConnID: chatID, Text: "hello"} }, nil},
		{a1, func() Request { return Request{Request: RequestChatTyping, ConnID: chatID, State: "composing"} }, nil},
		{sup, func() Request { return Request{Request: RequestAgentLogin, AgentID: "sup"} }, nil}, // its entry grants supervisor
		{sup, func() Request { return Request{Request: RequestRegisterAddress, DN: "a1"} }, nil},
		{sup, func() Request { return Request{Request: RequestChatJoin, ConnID: chatID} }, nil},
		{sup, func() Request { return Request{Request: RequestChatLeave, ConnID: chatID} }, nil},
		{sup, func() Request { return Request{Request: RequestUnregisterAddress, DN: "a1"} }, nil},
		{a2, func() Request { return Request{Request: RequestAgentLogin, AgentID: "a2"} }, nil},
		{a2, func() Request { return Request{Request: RequestAgentReady} }, nil},
		{a1, func() Request { return Request{Request: RequestSingleStepTransfer, ConnID: chatID, Target: "a2"} }, func(Message) {
			mustEvent(t, a2, "EventRinging", chatID)
		}},
		{a1, func() Request { return Request{Request: RequestMakeCall, Destination: "5550100"} }, func(m Message) {
			callID = m.ConnID
			if callID == 0 {
				t.Fatalf("make call reply without conn_id: %s", m.Raw)
			}
			mustEvent(t, a1, "EventDialing", callID)
		}},
		{a1, func() Request { return Request{Request: RequestReleaseCall, ConnID: callID} }, func(Message) {
			mustOK(t, a2.Answer(ctx, chatID), "a2 answers")
			chatID = e.arrive(pbx.IM, "1001")
			mustEvent(t, a1, "EventRinging", chatID)
		}},
		{a1, func() Request { return Request{Request: RequestRejectCall, ConnID: chatID, Reason: "busy"} }, nil},
		{router, func() Request { return Request{Request: RequestLogin, Token: routerToken} }, func(m Message) {
			if m.User == nil || m.User.Name != "router1" || !slices.Equal(m.User.Roles, []string{"router"}) {
				t.Fatalf("login reply %s", m.Raw)
			}
		}},
		{router, func() Request { return Request{Request: RequestRegisterAddress, DN: "5000"} }, func(Message) {
			routed = e.arrive(pbx.Voice, "5000")
			mustEvent(t, router, "EventRouteRequest", routed)
		}},
		{router, func() Request { return Request{Request: RequestRouteCall, ConnID: routed, Target: "support"} }, func(Message) {
			mustEvent(t, router, "EventRouteUsed", routed)
		}},
		{router, func() Request { return Request{Request: RequestQueryQueue, Queue: "support"} }, func(m Message) {
			if len(m.Queues) != 1 || m.Queues[0].Name != "support" || m.Queues[0].Media != "voice" || m.Queues[0].Stats.Offered != 1 {
				t.Fatalf("query queue: %s", m.Raw)
			}
		}},
		{router, func() Request { return Request{Request: RequestQueryAgent, AgentID: "a2"} }, func(m Message) {
			if m.Agent == nil || m.Agent.State != "busy" {
				t.Fatalf("query agent: %s", m.Raw)
			}
		}},
		{router, func() Request {
			return Request{Request: RequestCallback, Queue: "support", Number: "5550100"}
		}, func(m Message) {
			if m.CallbackID != "cb-1" {
				t.Fatalf("callback: %s", m.Raw)
			}
		}},
		{a1, func() Request { return Request{Request: RequestMonitorCustomer, Customer: "C1001"} }, func(m Message) {
			if m.Customer != "C1001" || m.Status != callback.Online {
				t.Fatalf("monitor customer: %s", m.Raw)
			}
			e.do(func() { cust.emit("C1001", callback.Presence{Status: callback.Offline}, false) })
			if m := mustEvent(t, a1, EventCustomerStatus, 0); m.Status != callback.Offline {
				t.Fatalf("customer status: %s", m.Raw)
			}
		}},
		{a1, func() Request { return Request{Request: RequestStopMonitorCustomer, Customer: "C1001"} }, nil},
		{a1, func() Request { return Request{Request: RequestAgentNotReady, Reason: "lunch"} }, nil},
		{a1, func() Request { return Request{Request: RequestAgentLogout} }, func(Message) {
			mustEvent(t, a1, "EventAgentLogout", 0)
		}},
	}
	for i, st := range steps {
		r := st.r()
		m, err := st.c.Do(ctx, r)
		if err != nil {
			t.Fatalf("step %d %s: %v", i, r.Request, err)
		}
		if m.Event != EventACK || m.Ref == 0 {
			t.Fatalf("step %d %s: reply %s", i, r.Request, m.Raw)
		}
		done[r.Request] = true
		if st.after != nil {
			st.after(m)
		}
	}
	for _, n := range RequestNames() {
		if !done[n] {
			t.Errorf("%s is not exercised", n)
		}
	}
	want := []string{
		"message a1 " + pbx.ConnID(1).String() + " hello",
		"typing a1 " + pbx.ConnID(1).String() + " composing",
		"join sup " + pbx.ConnID(1).String(),
		"leave sup " + pbx.ConnID(1).String(),
	}
	if got := chat.take(); !slices.Equal(got, want) {
		t.Errorf("chat hooks called %q, want %q", got, want)
	}
}

// Bad input gets a clear EventError, the connection stays up and nothing
// changes.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	mon := e.monitor()
	mustOK(t, mon.Register(ctx, "*"), "register *")
	c := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "1001")
	mustEvent(t, c, "EventRinging", id)
	mustEvent(t, mon, "EventRinging", id) // the last event before the bad input
	mon.Discard()
	c.Discard()

	huge := `{"request":"RequestAgentNotReady","ref":99,"reason":"` + strings.Repeat("x", DefaultMaxMessageBytes) + `"}`
	for _, tt := range []struct {
		frame  string
		binary bool
		ref    uint64
		want   string
	}{
		{frame: `{`, want: "malformed JSON: unexpected end"},
		{frame: `not json`, want: "malformed JSON at byte 2: invalid character"},
		{frame: ``, want: "empty frame"},
		{frame: `[1,2]`, want: "a request is a JSON object, not array"},
		{frame: `{"request":"RequestFly","ref":3}`, ref: 3, want: `unknown request "RequestFly"`},
		{frame: `{"ref":4}`, ref: 4, want: "missing field request"},
		{frame: `{"request":"RequestAnswerCall","ref":5}`, ref: 5, want: "RequestAnswerCall: missing conn_id"},
		{frame: `{"request":"RequestSingleStepTransfer","ref":6,"conn_id":"1"}`, ref: 6, want: "RequestSingleStepTransfer: missing target"},
		{frame: `{"request":"RequestChatMessage","ref":7}`, ref: 7, want: "missing conn_id, text"},
		{frame: `{"request":"RequestAnswerCall","ref":8,"conn_id":"xyz"}`, ref: 8, want: `conn_id "xyz" is not a connection id`},
		{frame: `{"request":"RequestAnswerCall","ref":9,"conn_id":5}`, ref: 9, want: "field conn_id: want a string, got number"},
		{frame: `{"request":"RequestAgentNotReady","ref":"10"}`, want: "field ref: want a non-negative integer, got string"},
		{frame: `{"request":"RequestAgentNotReady","ref":-1}`, want: "field ref: want a non-negative integer"},
		{frame: `{"request":"RequestAgentNotReady","ref":12,"colour":"red"}`, ref: 12, want: `unknown field "colour"`},
		{frame: `{"request":"RequestChatTyping","ref":13,"conn_id":"1","state":"dancing"}`, ref: 13, want: `state "dancing" is not one of`},
		{frame: `{"request":"RequestMakeCall","ref":14,"destination":"5550100","media":"fax"}`, ref: 14, want: `unknown media "fax"`},
		{frame: `{"request":"RequestAgentNotReady","ref":15} {"request":"RequestAgentLogout"}`, ref: 15, want: "trailing data"},
		{frame: `{"request":"RequestAttachUserData","ref":16,"conn_id":"1","user_data":{"a":"b"}}`, ref: 16, want: "field user_data: want a list"},
		{frame: `{"request":"RequestAgentNotReady","ref":17}`, binary: true, want: "binary frames are not supported"},
		{frame: `{"request":"RequestMonitorCustomer","ref":18}`, ref: 18, want: "RequestMonitorCustomer: missing customer"},
		{frame: `{"request":"RequestStopMonitorCustomer","ref":19,"customer":7}`, ref: 19, want: "field customer: want a string, got number"},
		{frame: `{"request":"RequestCallback","ref":20,"customer":"C1001"}`, ref: 20, want: "RequestCallback: missing queue"},
		{frame: `{"request":"RequestCallback","ref":21,"queue":"support"}`, ref: 21, want: "missing number or customer"},
		{frame: `{"request":"RequestCallback","ref":22,"queue":"support","number":"5550100","at":"noon"}`, ref: 22, want: `at "noon" is not an RFC 3339 time`},
		{frame: `{"request":"RequestCallback","ref":23,"queue":"support","number":"5550100","mode":"later"}`, ref: 23, want: `mode "later" is not agent_first or customer_first`},
		{frame: huge, want: "request too large"},
	} {
		var err error
		if tt.binary {
			err = c.SendBinary(ctx, []byte(tt.frame))
		} else {
			err = c.SendRaw(ctx, []byte(tt.frame))
		}
		mustOK(t, err, "send")
		m, err := c.Next(ctx)
		mustOK(t, err, "reply to "+short(tt.frame))
		if m.Event != EventError || m.Kind != "invalid" || m.Ref != tt.ref || !strings.Contains(m.Error, tt.want) {
			t.Errorf("%s: got %s, want EventError invalid ref %d containing %q", short(tt.frame), m.Raw, tt.ref, tt.want)
		}
	}
	// Still up, and nothing changed: no event anywhere, states as before.
	info, err := c.QueryAgent(ctx, "")
	mustOK(t, err, "query agent")
	if info.State != "reserved" {
		t.Fatalf("a1 is %s, want reserved", info.State)
	}
	mustOK(t, mon.Register(ctx, "a2"), "monitor barrier")
	if p := append(mon.Pending(), c.Pending()...); len(p) != 0 {
		t.Fatalf("bad input produced %s", names(p))
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// A frame beyond 16 times the limit closes the connection with 1009.
func TestHugeFrameCloses(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMessageBytes = 1024 })
	ctx := testCtx(t)
	c := e.dial()
	mustOK(t, c.SendRaw(ctx, []byte(`{"request":"RequestAgentReady","reason":"`+strings.Repeat("x", 17*1024)+`"}`)), "send")
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("connection still up")
	}
	if got := websocket.CloseStatus(c.Err()); got != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %v (%v), want 1009", got, c.Err())
	}
}

// Chat requests reach the ChatHandler; a supervisor joins a chat it
// watches.
func TestChatHooks(t *testing.T) {
	chat := &fakeChat{}
	e := newEnv(t, func(c *Config) { c.Chat = chat })
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "chat")
	mustEvent(t, a1, "EventRinging", id)
	mustOK(t, a1.Answer(ctx, id), "answer")

	mustOK(t, a1.ChatSend(ctx, id, "Hello, how can I help?"), "chat")
	mustOK(t, a1.Typing(ctx, id, "paused"), "typing")
	cctest.WantKind(t, a1.Typing(ctx, id, "dancing"), pbx.Invalid, "typing dancing")
	if got, want := chat.take(), []string{
		"message a1 " + id.String() + " Hello, how can I help?",
		"typing a1 " + id.String() + " paused",
	}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}

	chat.setErr(pbx.Errorf(pbx.Busy, "imgw: customer's network is slow"))
	err := a1.ChatSend(ctx, id, "again")
	cctest.WantKind(t, err, pbx.Busy, "chat refused by the gateway")
	if !strings.Contains(err.Error(), "customer's network is slow") {
		t.Fatalf("error %q does not carry the gateway's message", err)
	}
	chat.setErr(errors.New("no kind"))
	err = a1.ChatSend(ctx, id, "again")
	cctest.WantKind(t, err, pbx.Internal, "error without a kind")
	// An internal error's details stay in the log: the client gets an id.
	if strings.Contains(err.Error(), "no kind") {
		t.Fatalf("internal error %q shows its cause to the client", err)
	}
	internalID(t, err.Error())
	chat.setErr(nil)

	voice := e.arrive(pbx.Voice, "1001")
	mustEvent(t, a1, "EventRinging", voice)
	cctest.WantKind(t, a1.ChatSend(ctx, voice, "hi"), pbx.Invalid, "chat on a voice call")

	sup := e.agent("sup", "", false)
	cctest.WantKind(t, sup.ChatJoin(ctx, id), pbx.Permission, "join without watching")
	cctest.WantKind(t, sup.ChatSend(ctx, id, "psst"), pbx.Permission, "supervisor writes before joining")
	mustOK(t, sup.Register(ctx, "7100"), "register the chat queue")
	mustOK(t, sup.ChatJoin(ctx, id), "join")
	cctest.WantKind(t, sup.ChatJoin(ctx, id), pbx.Conflict, "join twice")
	// A plain agent joins no chat, not even its own (TestChatJoinRoles:
	// an agent its entry makes a supervisor is told it is its own).
	cctest.WantKind(t, a1.ChatJoin(ctx, id), pbx.Permission, "a plain agent joins its own chat")
	mustOK(t, sup.ChatSend(ctx, id, "I am here too"), "supervisor writes")
	mustOK(t, sup.ChatLeave(ctx, id), "leave")
	cctest.WantKind(t, sup.ChatLeave(ctx, id), pbx.Conflict, "leave twice")
	mustOK(t, sup.ChatJoin(ctx, id), "join again")
	if got, want := chat.take(), []string{
		"join sup " + id.String(),
		"message sup " + id.String() + " I am here too",
		"leave sup " + id.String(),
		"join sup " + id.String(),
	}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	// The chat ends: the supervisor is out of it.
	mustOK(t, a1.Release(ctx, id), "release")
	mustEvent(t, sup, "EventReleased", id)
	cctest.WantKind(t, sup.ChatLeave(ctx, id), pbx.Conflict, "leave an ended chat")

	// A supervisor logging out leaves the chats it joined.
	id2 := e.arrive(pbx.IM, "chat")
	mustEvent(t, a1, "EventRinging", id2)
	mustOK(t, sup.ChatJoin(ctx, id2), "join")
	mustOK(t, sup.Logout(ctx), "logout")
	if got, want := chat.take(), []string{"join sup " + id2.String(), "leave sup " + id2.String()}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	cctest.WantKind(t, sup.ChatSend(ctx, id2, "x"), pbx.Permission, "logged out")
}

// Without an IM gateway chat requests are unavailable.
func TestChatWithoutGateway(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "chat")
	mustEvent(t, a1, "EventRinging", id)
	cctest.WantKind(t, a1.ChatSend(ctx, id, "hi"), pbx.Unavailable, "chat without gateway")
}

// DeliverChat reaches every connection of the agent.
func TestDeliverChat(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	twin := e.dial()
	rep, err := twin.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "second desktop")
	if !rep.Resumed {
		t.Fatalf("second desktop's login: %s", rep.Raw)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var errs [4]error
	e.do(func() {
		errs[0] = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatMessage, ConnID: 7, From: "customer", Name: "Ann", Text: "Hi!"})
		errs[1] = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatHistory, ConnID: 7, Time: at, Lines: []ChatLine{
			{From: "bot", Name: "Assistant", Text: "Who are you?", Time: at},
			{From: "customer", Name: "Ann", Text: "Ann", Time: at},
		}})
		errs[2] = e.cti.DeliverChat("a2", ChatEvent{Type: EventChatTyping, ConnID: 7, From: "customer", State: "composing"})
		errs[3] = e.cti.DeliverChat("a1", ChatEvent{Type: "EventChatDance", ConnID: 7})
	})
	mustOK(t, errs[0], "deliver message")
	mustOK(t, errs[1], "deliver history")
	cctest.WantKind(t, errs[2], pbx.Unavailable, "deliver to an agent without a session")
	cctest.WantKind(t, errs[3], pbx.Invalid, "deliver an unknown event")
	for _, c := range []*Client{a1, twin} {
		m := mustEvent(t, c, "EventChatMessage", 7)
		if m.From != "customer" || m.Name != "Ann" || m.Text != "Hi!" || m.Time.IsZero() {
			t.Fatalf("EventChatMessage %s", m.Raw)
		}
		h := mustEvent(t, c, "EventChatHistory", 7)
		if len(h.Lines) != 2 || h.Lines[0].Text != "Who are you?" || !h.Time.Equal(at) {
			t.Fatalf("EventChatHistory %s", h.Raw)
		}
	}
}

// Chat text is plain text: a line with markup in it reaches the desktop
// as the customer typed it, in a JSON string that is HTML-safe (<, > and
// & escaped, as encoding/json does), on the hand-written path (a chat
// line) and on encoding/json's (a history) alike.
func TestChatTextIsText(t *testing.T) {
	e := newEnv(t)
	a1 := e.agent("a1", "pw1", true)
	const text = "<<b>img src=x onerror=alert(1)> &lt;i&gt; </script>"
	const escaped = `"\u003c\u003cb\u003eimg src=x onerror=alert(1)\u003e \u0026lt;i\u0026gt; \u003c/script\u003e"`
	var errs [2]error
	e.do(func() {
		errs[0] = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatMessage, ConnID: 7, From: "customer", Name: "<i>Ann</i>", Text: text})
		errs[1] = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatHistory, ConnID: 7, Lines: []ChatLine{{From: "customer", Name: "Ann", Text: text}}})
	})
	mustOK(t, errs[0], "deliver message")
	mustOK(t, errs[1], "deliver history")
	m := mustEvent(t, a1, "EventChatMessage", 7)
	if m.Text != text || m.Name != "<i>Ann</i>" {
		t.Errorf("EventChatMessage text %q name %q, want %q and %q as written", m.Text, m.Name, text, "<i>Ann</i>")
	}
	h := mustEvent(t, a1, "EventChatHistory", 7)
	if len(h.Lines) != 1 || h.Lines[0].Text != text {
		t.Errorf("EventChatHistory %s", h.Raw)
	}
	for _, raw := range []json.RawMessage{m.Raw, h.Raw} {
		if !bytes.Contains(raw, []byte(`"text":`+escaped)) || bytes.ContainsAny(raw, "<>&") {
			t.Errorf("frame %s: want the text as the HTML-safe JSON string %s", raw, escaped)
		}
	}
	std, _ := json.Marshal(text)
	if string(std) != escaped {
		t.Errorf("encoding/json writes %s, the test wants %s", std, escaped)
	}
}

// A router routes what arrives at its route point; monitors see what
// they registered.
func TestRouterAndMonitors(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	router, other, queueMon, agentMon, all := e.router(), e.router(), e.monitor(), e.monitor(), e.monitor()
	mustOK(t, router.Register(ctx, "5000"), "register route point")
	cctest.WantKind(t, router.Register(ctx, "5000"), pbx.Conflict, "register twice")
	cctest.WantKind(t, router.Register(ctx, "nowhere"), pbx.NotFound, "register nothing")
	mustOK(t, queueMon.Register(ctx, "7100"), "register queue by number")
	mustOK(t, agentMon.Register(ctx, "1002"), "register extension")
	mustOK(t, all.Register(ctx, "*"), "register everything")
	a2 := e.agent("a2", "", true)

	id := e.arrive(pbx.Voice, "5000")
	mustEvent(t, router, "EventRouteRequest", id)
	cctest.WantKind(t, other.RouteCall(ctx, id, "a2"), pbx.Permission, "route for somebody else's route point")
	mustOK(t, router.AttachUserData(ctx, id, pbx.UserData{{Key: "segment", Value: "gold"}}), "router attaches data")
	mustOK(t, router.RouteCall(ctx, id, "a2"), "route")
	m := mustEvent(t, a2, "EventRinging", id)
	if v, _ := m.UserData.Get("segment"); v != "gold" {
		t.Fatalf("EventRinging %s lacks the router's data", m.Raw)
	}
	mustEvent(t, router, "EventRouteUsed", id)
	mustEvent(t, agentMon, "EventRinging", id)
	mustOK(t, a2.NotReady(ctx, "training"), "a2 takes nothing more")
	mustEvent(t, all, "EventRinging", id)
	mustEvent(t, all, "EventAgentLogin", 0)

	chatID := e.arrive(pbx.IM, "chat")
	mustEvent(t, queueMon, "EventQueued", chatID)
	mustEvent(t, all, "EventQueued", chatID)
	// The route point's events did not reach the queue monitor.
	if p := queueMon.Pending(); slices.ContainsFunc(p, func(m Message) bool { return m.ConnID == id }) {
		t.Fatalf("queue monitor got the route point's events: %s", names(p))
	}

	mustOK(t, router.Unregister(ctx, "5000"), "unregister")
	cctest.WantKind(t, router.Unregister(ctx, "5000"), pbx.Conflict, "unregister twice")
	// Without a router, interactions at the route point go to its queue.
	id2 := e.arrive(pbx.Voice, "5000")
	if m := mustEvent(t, all, "EventRouteUsed", id2); m.Reason != "default" {
		t.Fatalf("EventRouteUsed %s, want the default route", m.Raw)
	}

	qs, err := all.QueryQueue(ctx, "")
	mustOK(t, err, "query queues")
	if len(qs) != 2 || qs[1].Name != "chat" || qs[1].Waiting != 1 || qs[1].Media != "im" {
		t.Fatalf("queues %+v", qs)
	}
	_, err = all.QueryQueue(ctx, "sales")
	cctest.WantKind(t, err, pbx.NotFound, "query a queue that does not exist")
	call, err := all.QueryCall(ctx, chatID)
	mustOK(t, err, "query call")
	if call.State != "queued" || call.Position != 1 || call.EWT == nil {
		t.Fatalf("queued call %+v", call)
	}
}

// A client that does not read is disconnected with 1008; the loop never
// waits for it and other clients are served.
func TestSlowClientIsDisconnected(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SendQueue = 8 })
	ctx := testCtx(t)
	fast := e.monitor()
	mustOK(t, fast.Register(ctx, "*"), "register")

	slow, _, err := websocket.Dial(ctx, e.url, nil)
	mustOK(t, err, "dial")
	defer slow.CloseNow()
	slow.SetReadLimit(-1)
	mustOK(t, slow.Write(ctx, websocket.MessageText, []byte(`{"request":"RequestLogin","ref":1,"token":"`+wallToken+`"}`)), "login")
	mustOK(t, slow.Write(ctx, websocket.MessageText, []byte(`{"request":"RequestRegisterAddress","ref":2,"dn":"*"}`)), "register")

	big := pbx.UserData{{Key: "blob", Value: strings.Repeat("z", 256<<10)}}
	var worst time.Duration
	n := 0
	for !e.killedWith(websocket.StatusPolicyViolation) {
		if ctx.Err() != nil {
			t.Fatalf("no overflow after %d events", n)
		}
		start := time.Now()
		e.arriveWith(&tserver.Arrival{Media: pbx.IM, DNIS: "chat", UserData: big})
		worst = max(worst, time.Since(start))
		n++
		// The fast client keeps up.
		mustEvent(t, fast, "EventQueued", 0)
	}
	t.Logf("overflow after %d events of 256 KiB; slowest loop.Do %v", n, worst)

	// The slow client finally reads: what was written, then 1008.
	frames := 0
	for {
		_, _, err := slow.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("slow client: %v (status %v), want 1008", err, got)
			}
			break
		}
		frames++
	}
	if frames >= n+2 {
		t.Fatalf("slow client got %d frames of %d: nothing was dropped", frames, n+2)
	}
	if _, err := fast.QueryAgent(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
}

// An agent's desktop too slow to read is disconnected; what it was never
// sent waits for it to come back.
func TestSlowAgentResumes(t *testing.T) {
	clk := newManualClock()
	e := newEnv(t, func(c *Config) { c.Clock = clk; c.SendQueue = 8 })
	ctx := testCtx(t)
	mon := e.monitor()
	mustOK(t, mon.Register(ctx, "a1"), "monitor a1")
	slow, _, err := websocket.Dial(ctx, e.url, nil)
	mustOK(t, err, "dial")
	defer slow.CloseNow()
	for _, f := range []string{
		`{"request":"RequestAgentLogin","ref":1,"agent_id":"a1","password":"pw1"}`,
		`{"request":"RequestAgentReady","ref":2}`,
	} {
		mustOK(t, slow.Write(ctx, websocket.MessageText, []byte(f)), "write")
	}
	mustEvent(t, mon, "EventAgentReady", 0)
	id := e.arrive(pbx.IM, "1001")
	mustEvent(t, mon, "EventRinging", id)

	big := strings.Repeat("z", 256<<10)
	last := ""
	for n := 0; ; n++ {
		if e.killedWith(websocket.StatusPolicyViolation) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no overflow after %d events", n)
		}
		last = strconv.Itoa(n)
		e.must("attach", func() error {
			return e.ts.AttachUserData(id, pbx.UserData{{Key: "blob", Value: big}, {Key: "n", Value: last}})
		})
	}
	// Two more while the connection is closing.
	for _, v := range []string{"closing-1", "closing-2"} {
		last = v
		e.must("attach", func() error { return e.ts.AttachUserData(id, pbx.UserData{{Key: "n", Value: v}}) })
	}
	_ = slow.CloseNow()
	clk.waitArmed(t)

	c := e.dial()
	rep, err := c.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "login again")
	p := c.Pending()
	if !rep.Resumed || rep.Missed == 0 || len(p) != 4 {
		t.Fatalf("resumed %v missed %d kept %s", rep.Resumed, rep.Missed, names(p))
	}
	if v, _ := p[len(p)-1].UserData.Get("n"); v != last {
		t.Fatalf("last kept event has n=%q, want %q", v, last)
	}
	mustOK(t, c.Answer(ctx, id), "answer")
}

// killedWith reports whether a live connection was killed with code.
func (e *env) killedWith(code websocket.StatusCode) bool {
	e.cti.mu.Lock()
	defer e.cti.mu.Unlock()
	for c := range e.cti.live {
		if c.dead() && c.code == code {
			return true
		}
	}
	return false
}

// The desktop reconnects within the grace period and finds everything as
// it was, including what happened meanwhile; past the grace period the
// agent is logged out, once its work is done.
func TestReconnectAndGrace(t *testing.T) {
	clk := newManualClock()
	e := newEnv(t, func(c *Config) { c.Clock = clk; c.LogoutGrace = time.Minute })
	ctx := testCtx(t)
	mon := e.monitor()
	mustOK(t, mon.Register(ctx, "a1"), "monitor a1")
	c1 := e.agent("a1", "pw1", true)
	mustOK(t, c1.Close(), "close")
	if d := clk.waitArmed(t); d != time.Minute {
		t.Fatalf("grace %v, want 1m", d)
	}

	// Away: an offer rings and a chat line comes.
	id := e.arrive(pbx.IM, "chat")
	mustEvent(t, mon, "EventRinging", id)
	var err error
	e.do(func() {
		err = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatMessage, ConnID: id, From: "customer", Text: "anyone?"})
	})
	mustOK(t, err, "deliver while away")

	c2 := e.dial()
	rep, err := c2.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "login again")
	if !rep.Resumed || rep.Missed != 0 || rep.Agent.State != "reserved" {
		t.Fatalf("resumed login %s", rep.Raw)
	}
	if p := names(c2.Pending()); p != names([]Message{{Event: "EventDiverted", ConnID: id}, {Event: "EventRinging", ConnID: id}, {Event: "EventChatMessage", ConnID: id}}) {
		t.Fatalf("kept while away: %s, want [EventDiverted EventRinging EventChatMessage] before the reply", p)
	}
	mustOK(t, c2.Answer(ctx, id), "answer")

	// Away for good while busy: not ready, logout later.
	mustOK(t, c2.Close(), "close")
	clk.waitArmed(t)
	e.do(func() { clk.fire() })
	if m := mustEvent(t, mon, "EventAgentNotReady", 0); m.Reason != "cti_disconnected" {
		t.Fatalf("EventAgentNotReady %s", m.Raw)
	}
	clk.waitArmed(t)
	if st := e.agentState("a1"); st != tserver.Busy {
		t.Fatalf("a1 is %s, want busy", st)
	}
	e.must("customer leaves", func() error { return e.ts.ReleaseCall(id) })
	e.do(func() { clk.fire() })
	mustEvent(t, mon, "EventAgentLogout", 0)
	e.do(func() {
		// The monitor's own session (a user's) stays while it is connected.
		for name, ss := range e.cti.st.sessions {
			if !ss.user {
				t.Errorf("agent session %s left", name)
			}
		}
	})
}

// A session whose many events overflow the backlog says how many were
// missed.
func TestReconnectMissed(t *testing.T) {
	clk := newManualClock()
	e := newEnv(t, func(c *Config) { c.Clock = clk; c.SendQueue = 4 })
	ctx := testCtx(t)
	c1 := e.agent("a1", "pw1", false)
	mustOK(t, c1.Close(), "close")
	clk.waitArmed(t)
	e.do(func() {
		for i := range 5 {
			_ = e.cti.DeliverChat("a1", ChatEvent{Type: EventChatMessage, ConnID: 1, Text: string(rune('a' + i))})
		}
	})
	c2 := e.dial()
	rep, err := c2.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "login")
	if rep.Missed != 3 {
		t.Fatalf("missed %d, want 3: %s", rep.Missed, rep.Raw)
	}
	if p := c2.Pending(); len(p) != 2 || p[0].Text != "d" || p[1].Text != "e" {
		t.Fatalf("kept %s", names(p))
	}
}

// An agent already logged in (by its phone, by the configuration) is only
// attached to: the desktop leaving changes nothing.
func TestGraceLeavesOthersLogins(t *testing.T) {
	clk := newManualClock()
	e := newEnv(t, func(c *Config) { c.Clock = clk })
	ctx := testCtx(t)
	e.must("log a2 in", func() error { return e.ts.AgentLogin("a2", "") })
	e.must("a2 ready", func() error { return e.ts.AgentReady("a2") })
	c := e.dial()
	rep, err := c.Login(ctx, "a2", "", "")
	mustOK(t, err, "attach")
	if !rep.Resumed || rep.Agent.State != "ready" {
		t.Fatalf("attach reply %s", rep.Raw)
	}
	_, err = c.Login(ctx, "a2", "", "")
	cctest.WantKind(t, err, pbx.Conflict, "log in twice")
	mustOK(t, c.Close(), "close")
	clk.waitArmed(t)
	e.do(func() { clk.fire() })
	if st := e.agentState("a2"); st != tserver.Ready {
		t.Fatalf("a2 is %s, want ready", st)
	}
	e.do(func() {
		if _, ok := e.cti.st.sessions["a2"]; ok {
			t.Error("session kept")
		}
	})
}

// The grace period runs on the real clock by default.
func TestGraceRealClock(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LogoutGrace = 20 * time.Millisecond })
	ctx := testCtx(t)
	mon := e.monitor()
	mustOK(t, mon.Register(ctx, "a1"), "monitor")
	c := e.agent("a1", "pw1", true)
	mustOK(t, c.Close(), "close")
	mustEvent(t, mon, "EventAgentLogout", 0)
}

// Close disconnects clients with 1001 and leaves agents logged in.
func TestClose(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	c := e.agent("a1", "pw1", true)
	e.cti.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client still connected")
	}
	if got := websocket.CloseStatus(c.Err()); got != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want 1001", got)
	}
	// Close waited for every connection's goroutines. A goroutine whose
	// deferred Done has run may still be on its way out: give it until
	// the deadline to leave, yielding the processor meanwhile.
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(2 * time.Second); ; runtime.Gosched() {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "cti.(*conn)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection goroutines left after Close:\n%s", stacks)
		}
	}
	if _, err := Dial(ctx, e.url); err == nil {
		t.Fatal("dial after Close succeeded")
	}
	if st := e.agentState("a1"); st != tserver.Ready {
		t.Fatalf("a1 is %s after Close, want ready", st)
	}
}

// A failed login changes nothing.
func TestLoginErrors(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", false)
	c := e.dial()
	_, err := c.Login(ctx, "nobody", "", "")
	cctest.WantKind(t, err, pbx.NotFound, "unknown agent")
	_, err = c.Login(ctx, "a2", "1001", "")
	cctest.WantKind(t, err, pbx.Conflict, "extension in use")
	_, err = c.Login(ctx, "a2", "7000", "")
	cctest.WantKind(t, err, pbx.NotFound, "not an extension")
	_, err = c.Login(ctx, "a1", "1002", "pw1")
	cctest.WantKind(t, err, pbx.Conflict, "attach at another extension")
	_, err = a1.Login(ctx, "a2", "", "")
	cctest.WantKind(t, err, pbx.Conflict, "second agent on one connection")
	if st := e.agentState("a2"); st != tserver.LoggedOut {
		t.Fatalf("a2 is %s", st)
	}
	e.do(func() {
		if _, ok := e.cti.st.sessions["a2"]; ok {
			t.Error("a failed login left a session")
		}
	})
	_, err = c.QueryAgent(ctx, "")
	cctest.WantKind(t, err, pbx.Permission, "query own agent without login")
}

// The client's Do fails cleanly on a closed connection.
func TestClientClosed(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	mustOK(t, c.Close(), "close")
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.Ready(ctx); err == nil {
		t.Fatal("request on a closed client succeeded")
	}
}

// durableChat is a fakeChat that makes lines durable when the test says.
type durableChat struct {
	fakeChat
	dones chan func(error)
}

func (d *durableChat) Durable(done func(error)) { d.dones <- done }

// With a DurableChat, an agent's chat line is acknowledged once the
// handler says it is durable, not before; a line that could not be stored
// is an EventError.
func TestChatLineAckedOnceDurable(t *testing.T) {
	chat := &durableChat{dones: make(chan func(error), 4)}
	logs := &logBuffer{}
	e := newEnv(t, func(c *Config) { c.Chat = chat; c.Log = zerolog.New(logs) })
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", true)
	id := e.arrive(pbx.IM, "chat")
	mustEvent(t, a1, "EventRinging", id)
	mustOK(t, a1.Answer(ctx, id), "answer")

	send := func(r Request) {
		t.Helper()
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := a1.SendRaw(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// reply returns the next reply (EventACK or EventError).
	reply := func() Message {
		t.Helper()
		for {
			m, err := a1.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Event == EventACK || m.Event == EventError {
				return m
			}
		}
	}
	send(Request{Request: RequestChatMessage, ConnID: id, Text: "your refund is on its way", Ref: 101})
	var done func(error)
	select {
	case done = <-chat.dones:
	case <-ctx.Done():
		t.Fatal("the handler was never asked for durability")
	}
	// A later request is answered first: the line is not acknowledged yet.
	send(Request{Request: RequestChatTyping, ConnID: id, State: "paused", Ref: 102})
	if m := reply(); m.Ref != 102 || m.Event != EventACK {
		t.Fatalf("first reply %+v, want the typing request's EventACK", m)
	}
	done(nil)
	if m := reply(); m.Ref != 101 || m.Event != EventACK {
		t.Fatalf("reply %+v, want the line's EventACK once durable", m)
	}

	send(Request{Request: RequestChatMessage, ConnID: id, Text: "and a second line", Ref: 103})
	(<-chat.dones)(errors.New("disk full"))
	// The client is told the line is not stored yet (unavailable), not
	// the cause; the log has the cause.
	m := reply()
	if m.Ref != 103 || m.Event != EventError || m.Kind != KindCode(pbx.Unavailable) || strings.Contains(m.Error, "disk full") ||
		!strings.Contains(m.Error, "cannot store it now") {
		t.Fatalf("reply %+v, want an unavailable EventError saying the line is not stored, without the cause", m)
	}
	if l := logs.find("not on disk"); !strings.Contains(l, "disk full") {
		t.Fatalf("log line %q, want the cause", l)
	}
	if got := chat.take(); len(got) != 3 {
		t.Fatalf("calls %q", got)
	}
}

// Failed logins are throttled per agent and host: after five in a
// minute, even the right password for that agent is refused, with an
// error that says why and for how long, until the minute is over; other
// agents on the same host log in still; a good login clears the count;
// fifty failures for any agents close the host.
func TestFailedLoginsThrottled(t *testing.T) {
	clk := newManualClock()
	e := newEnv(t, func(c *Config) { c.Clock = clk })
	ctx := testCtx(t)
	cl := e.dial()
	for i := range auth.MaxFailures - 1 {
		_, err := cl.Login(ctx, "a1", "", "guess"+strconv.Itoa(i))
		cctest.WantKind(t, err, pbx.Permission, "wrong password")
	}
	// A good login before the limit clears the count.
	_, err := cl.Login(ctx, "a1", "", "pw1")
	mustOK(t, err, "right password")
	mustOK(t, cl.Logout(ctx), "logout")
	for i := range auth.MaxFailures {
		_, err := cl.Login(ctx, "a1", "", "guess"+strconv.Itoa(i))
		cctest.WantKind(t, err, pbx.Permission, "wrong password")
	}
	other := e.dial() // a new connection from the same host
	_, err = other.Login(ctx, "a1", "", "pw1")
	cctest.WantKind(t, err, pbx.Permission, "throttled")
	if !strings.Contains(err.Error(), "too many failed logins for agent a1 from 127.0.0.1; try again in") {
		t.Fatalf("error %q does not say why", err)
	}
	// Another agent on the same host is not locked out with a1.
	_, err = e.dial().Login(ctx, "a2", "", "")
	mustOK(t, err, "a2 from the same host")
	clk.advance(auth.Window)
	if _, err := other.Login(ctx, "a1", "", "pw1"); err != nil {
		t.Fatalf("login after the window: %v", err)
	}

	// Guessing across agents (unknown ones count too) closes the host.
	for i := range auth.MaxHostFailures {
		_, err := cl.Login(ctx, "nobody"+strconv.Itoa(i), "", "x")
		cctest.WantKind(t, err, pbx.NotFound, "unknown agent")
	}
	_, err = e.dial().Login(ctx, "a2", "", "")
	cctest.WantKind(t, err, pbx.Permission, "host throttled")
	if !strings.Contains(err.Error(), "too many failed logins for anyone from 127.0.0.1") {
		t.Fatalf("error %q does not say why", err)
	}
}
