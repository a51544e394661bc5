package imgw

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

const testCenter = `
center: {name: Example Support}
queues:
  - {name: chat-general, media: im}
  - {name: chat-tech, media: im}
agents:
  - {id: ann, name: Ann, skills: {chat-general: 5, chat-tech: 5}, clients: {AliceChat: ">=2"}, capacity: {im: 2}, ready: false}
  - {id: bob, name: Bob, skills: {chat-tech: 5}, clients: {BobIM: "*"}, ready: false}
  - {id: sue, name: Sue, skills: {chat-general: 1}, ready: false}
im:
  position_every: 30s
  callback_offer_after: 60s
  bot:
    greeting: "Welcome to {center}!"
    identify:
      prompt: "Your customer number, e-mail or name?"
      found: "Hello {name}."
      unknown: "Never mind, let's go on."
      retries: 1
      verify: {field: postcode, prompt: "To protect your data, what is your postcode?", tries: 2}
    reason:
      prompt: "How can we help? 1 billing, 2 technical, 3 order status"
      options:
        - {key: "1", label: billing, keywords: [invoice, bill]}
        - {key: "2", label: technical, keywords: [router, internet], queue: chat-tech, priority: 3}
        - {key: "3", label: order status, keywords: [order, parcel], answer: orders}
      default_queue: chat-general
    answers:
      - {name: orders, kind: order_status, prompt: "Which order number?", not_found: "No such order of yours.", then: "Anything else? (1 billing, 2 technical, 3 order status)"}
    handoff: "Connecting you to an agent."
  customers:
    - {number: "1001", name: Alice Example, email: alice@example.test, postcode: AB1 2CD}
    - {number: "1002", name: Carl Other, postcode: "10115"}
  orders:
    - {id: A-1, customer: "1001", status: shipped}
    - {id: C-9, customer: "1002", status: lost}
`

// fakeNet is an adapter that records what the gateway sends; auth says
// whether its network authenticates users (as XMPP does, SIP MESSAGE and
// the web chat's visitor keys do not). check, if set, sees each message
// as it is sent.
type fakeNet struct {
	name  string
	auth  bool
	out   []Outbound
	check func(Outbound)
}

func (f *fakeNet) Network() string          { return f.name }
func (f *fakeNet) AuthenticatesUsers() bool { return f.auth }
func (f *fakeNet) Send(out Outbound) {
	if f.check != nil {
		f.check(out)
	}
	f.out = append(f.out, out)
}

// texts returns the texts sent to user since index from.
func (f *fakeNet) texts(user string) []string {
	var s []string
	for _, o := range f.out {
		if o.To.User == user && o.Text != "" {
			s = append(s, o.Text)
		}
	}
	return s
}

func (f *fakeNet) last(user string) string {
	t := f.texts(user)
	if len(t) == 0 {
		return ""
	}
	return t[len(t)-1]
}

// fakeDesk records what agents are told.
type fakeDesk struct{ got map[string][]AgentChat }

func (d *fakeDesk) DeliverChat(agent string, m AgentChat) {
	d.got[agent] = append(d.got[agent], m)
}

type rig struct {
	t     *testing.T
	clk   *clock.Virtual
	ts    *tserver.Server
	gw    *Gateway
	net   *fakeNet
	desk  *fakeDesk
	store *MemoryStore
	// spy is the gateway's Customers: r.store, with its order lookups
	// recorded.
	spy *spyCustomers
}

// spyCustomers records the order lookups the gateway makes.
type spyCustomers struct {
	Customers
	lookups []int64 // the customer of each OrderStatus call
}

func (s *spyCustomers) OrderStatus(id string, customer int64) (string, error) {
	s.lookups = append(s.lookups, customer)
	return s.Customers.OrderStatus(id, customer)
}

func newRig(t *testing.T, src string) *rig {
	t.Helper()
	f, err := config.Parse("center.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(clock.Epoch)
	ep := &chatEndpoints{}
	ts, err := tserver.New(f, tserver.Config{Clock: clk, Endpoints: ep})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clk: clk, ts: ts, net: &fakeNet{name: "xmpp:test", auth: true}, desk: &fakeDesk{got: map[string][]AgentChat{}}, store: NewMemoryStore()}
	for _, c := range f.IM.Customers {
		id := r.store.AddCustomer(Customer{Number: c.Number, Name: c.Name, Email: c.Email, Postcode: c.Postcode})
		for _, o := range f.IM.Orders {
			if o.Customer == c.Number {
				r.store.AddOrder(o.ID, id, o.Status)
			}
		}
	}
	r.spy = &spyCustomers{Customers: r.store}
	r.gw, err = New(Config{Clock: clk, TServer: ts, Center: f, Customers: r.spy, Journal: r.store, Desk: r.desk, Log: zerolog.Nop(), HandoffSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	r.gw.AddAdapter(r.net)
	ep.gw = r.gw
	return r
}

// testSecret signs the hand-off tokens of the tests.
var testSecret = []byte("the-company-site-and-the-center-share-this")

// chatEndpoints lets the gateway's robots answer their offers.
type chatEndpoints struct{ gw *Gateway }

func (e *chatEndpoints) Offer(c *tserver.Contact, a *tserver.Agent) { e.gw.Offer(c, a) }
func (e *chatEndpoints) Dial(*tserver.Contact, *tserver.Agent)      {}

func (r *rig) say(user, text string) {
	r.gw.Handle(Inbound{Kind: Message, From: Address{Network: "xmpp:test", User: user, Device: "laptop"}, Text: text})
}

func (r *rig) client(user, family, version string) {
	r.gw.Handle(Inbound{Kind: Client, From: Address{Network: "xmpp:test", User: user, Device: "laptop"},
		Client: &ClientInfo{Family: family, Version: version, Source: "xep-0092"}})
}

func (r *rig) ready(ids ...string) {
	for _, id := range ids {
		if err := r.ts.AgentLogin(id, ""); err != nil {
			r.t.Fatal(err)
		}
		if err := r.ts.AgentReady(id); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) wantLast(user, part string) {
	r.t.Helper()
	if got := r.net.last(user); !strings.Contains(got, part) {
		r.t.Fatalf("last message to %s: %q, want it to contain %q\nall: %q", user, got, part, r.net.texts(user))
	}
}

// chatting takes user past the bot ("agent"), waits out client_wait and
// has the ringing agent answer: the chat is connected.
func (r *rig) chatting(user string) *conversation {
	r.t.Helper()
	r.say(user, "hi")
	r.say(user, "agent")
	r.clk.Advance(2 * time.Second)
	c := r.conv(user)
	if c == nil || c.conn == 0 {
		r.t.Fatalf("%s not routed", user)
	}
	if err := r.ts.AnswerCall(c.conn); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) conv(user string) *conversation {
	return r.gw.byUser[userKey{"xmpp:test", user}]
}

func TestBotIdentifiesAndRoutesByReasonAndClient(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("ann", "bob", "sue")
	const alice = "alice@example.test"
	r.client(alice, "alicechat", "2.5") // before the first message: kept
	r.say(alice, "hello")
	got := r.net.texts(alice)
	if len(got) != 2 || got[0] != "Welcome to Example Support!" || !strings.Contains(got[1], "customer number") {
		t.Fatalf("greeting: %q", got)
	}
	r.say(alice, "ALICE@example.test")
	// Identified by e-mail, not verified: the bot does not say whose
	// address it is.
	if got := r.net.texts(alice); got[2] != "Hello." || !strings.Contains(got[3], "How can we help") {
		t.Fatalf("identify: %q", got)
	}
	r.say(alice, "my router keeps dropping")
	c := r.conv(alice)
	if c.queue != "chat-tech" || c.priority != 3 || c.reason != "technical" {
		t.Fatalf("routing: queue %q priority %d reason %q", c.queue, c.priority, c.reason)
	}
	// bob is free and has chat-tech but not AliceChat; ann supports it.
	contact := r.ts.Contact(c.conn)
	if contact == nil || contact.Agent() == nil || contact.Agent().ID != "ann" {
		t.Fatalf("offered to %v, want ann", contact)
	}
	if contact.ClientFamily != "AliceChat" || contact.ClientVersion != "2.5" {
		t.Fatalf("client %q %q", contact.ClientFamily, contact.ClientVersion)
	}
	if v, _ := contact.UserData.Get("customer_number"); v != "1001" || contact.ANI != "1001" {
		t.Fatalf("user data %v ANI %q", contact.UserData, contact.ANI)
	}
	if err := r.ts.AnswerCall(c.conn); err != nil {
		t.Fatal(err)
	}
	r.wantLast(alice, "You are now chatting with Ann.")
	hist := r.desk.got["ann"]
	if len(hist) != 1 || hist[0].Type != ChatHistory || hist[0].Name != "Alice Example" || len(hist[0].Lines) < 6 {
		t.Fatalf("ann's history: %+v", hist)
	}
	r.say(alice, "still broken")
	if m := r.desk.got["ann"][1]; m.Type != ChatMessage || m.Text != "still broken" || m.From != "customer" {
		t.Fatalf("relay to agent: %+v", m)
	}
	if err := r.gw.AgentMessage("ann", c.conn, "Let me check."); err != nil {
		t.Fatal(err)
	}
	r.wantLast(alice, "Ann: Let me check.")
	if err := r.gw.AgentMessage("bob", c.conn, "hi"); pbx.KindOf(err) != pbx.Permission {
		t.Fatalf("bob writing into ann's chat: %v", err)
	}
	if err := r.ts.ReleaseCall(c.conn); err != nil {
		t.Fatal(err)
	}
	r.wantLast(alice, "Ann has ended the chat")
	if m := r.desk.got["ann"][len(r.desk.got["ann"])-1]; m.Type != ChatEnded || m.From != "agent" {
		t.Fatalf("ann's last chat event %+v, want the chat ended by the agent", m)
	}
	if r.conv(alice) != nil {
		t.Fatal("conversation still live")
	}
	lines := r.store.Transcript(c.id)
	var from []string
	for _, l := range lines {
		from = append(from, l.From)
	}
	if want := "customer bot bot customer bot bot customer bot system customer agent system"; strings.Join(from, " ") != want {
		t.Errorf("transcript from: %s\nwant %s", strings.Join(from, " "), want)
	}
	if rec, _ := r.store.ConversationRecord(c.id); rec.Outcome != "handled" || rec.CustomerID == 0 || rec.Ended.IsZero() {
		t.Errorf("record %+v", rec)
	}
	for _, o := range r.net.out {
		for _, bad := range []string{"ann", "bob", "sue"} {
			if strings.Contains(o.Text, bad) {
				t.Errorf("agent id %q leaked to the customer: %q", bad, o.Text)
			}
		}
	}
}

func TestBotAnswersOrderStatusOnlyForTheCustomersOwnOrders(t *testing.T) {
	r := newRig(t, testCenter)
	const u = "alice@example.test"
	r.say(u, "hi")
	r.say(u, "1001")
	r.say(u, "where is my parcel?")
	r.wantLast(u, "To protect your data, what is your postcode?")
	r.say(u, "ab12cd")
	r.wantLast(u, "Which order number?")
	r.say(u, "A-1")
	if got := r.net.texts(u); !strings.Contains(strings.Join(got, "|"), "A-1: shipped|Anything else?") {
		t.Fatalf("answer: %q", got)
	}
	r.say(u, "3")
	r.wantLast(u, "Which order number?") // verified once per conversation
	r.say(u, "C-9")                      // another customer's order
	r.wantLast(u, "Anything else?")
	if got := strings.Join(r.net.texts(u), "|"); strings.Contains(got, "lost") || !strings.Contains(got, "No such order of yours.") {
		t.Fatalf("another customer's order revealed or not refused: %q", got)
	}
	r.say(u, "/end")
	if rec, _ := r.store.ConversationRecord(r.store.conversationIDs()[0]); rec.Outcome != "answered_by_bot" {
		t.Errorf("outcome %q", rec.Outcome)
	}
}

func TestEscapeWordAndUnknownCustomer(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("sue")
	const u = "x@example.test"
	r.say(u, "hi")
	r.say(u, "nobody")
	r.wantLast(u, "I could not find you.")
	r.say(u, "still nobody")
	if got := r.net.texts(u); got[len(got)-2] != "Never mind, let's go on." {
		t.Fatalf("unknown: %q", got)
	}
	r.say(u, "Agent!")
	r.clk.Advance(2 * time.Second) // client_wait: no client software reported
	c := r.conv(u)
	if c.queue != "chat-general" || r.ts.Contact(c.conn).Agent().ID != "sue" {
		t.Fatalf("escape routed to %q", c.queue)
	}
}

func TestWaitingCustomerHearsPositionAndEWTThenCallbackOffer(t *testing.T) {
	r := newRig(t, testCenter)
	// sue is logged in but not ready: the queue is staffed, no agent is
	// free.
	r.ready("sue")
	if err := r.ts.AgentNotReady("sue", "meeting"); err != nil {
		t.Fatal(err)
	}
	users := []string{"a@x", "b@x", "c@x"}
	for _, u := range users {
		r.say(u, "hi")
		r.say(u, "agent")
	}
	r.clk.Advance(2 * time.Second) // client_wait
	for i, u := range users {
		pos, e, err := r.ts.Position(r.conv(u).conn)
		if err != nil || pos != i+1 {
			t.Fatalf("%s: position %d %v", u, pos, err)
		}
		r.wantLast(u, PositionText(pos, e))
		r.wantLast(u, fmt.Sprintf("You are number %d in the queue.", i+1))
	}
	// Half a minute later: another update, consistent with tserver.
	r.clk.Advance(30 * time.Second)
	pos, e, _ := r.ts.Position(r.conv("c@x").conn)
	r.wantLast("c@x", PositionText(pos, e))
	r.clk.Advance(30 * time.Second)
	if got := strings.Join(r.net.texts("c@x"), "|"); !strings.Contains(got, "Reply CALLBACK") {
		t.Fatalf("no callback offer after a minute: %q", got)
	}
	r.say("c@x", "callback")
	r.wantLast("c@x", "Which phone number")
	r.say("c@x", "call me at +44 20 7946 0000")
	r.wantLast("c@x", "We will call you back at +442079460000.")
	if cb := r.store.Callbacks(); len(cb) != 1 || cb[0].Number != "+442079460000" || cb[0].Queue != "chat-general" {
		t.Fatalf("callbacks %+v", cb)
	}
	// Counted as a callback, not abandoned: offered = answered +
	// abandoned + callback + still waiting.
	if st, _ := r.ts.QueueStats("chat-general"); st.Callback != 1 || st.Abandoned != 0 || st.Offered != 3 {
		t.Fatalf("stats %+v; want offered 3, callback 1, abandoned 0", st)
	}
	if out := r.conv("c@x"); out != nil {
		t.Fatalf("the conversation that took a callback is still open (%v)", out.phase)
	}
	// The others' positions moved up.
	r.clk.Advance(30 * time.Second)
	r.wantLast("b@x", "You are number 2 in the queue.")
}

func TestClientWaitRoutesWhenInfoArrives(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("ann", "sue")
	const u = "late@x"
	r.say(u, "hi")
	r.say(u, "agent")
	c := r.conv(u)
	if c.phase != phaseWaitInfo || c.conn != 0 {
		t.Fatalf("phase %d conn %d, want waiting for client info", c.phase, c.conn)
	}
	r.client(u, "AliceChat", "3.0")
	if c.conn == 0 || r.ts.Contact(c.conn).Agent().ID != "ann" {
		t.Fatal("not routed to ann once the client was known")
	}
	// Without info, routing goes on after client_wait, unconstrained.
	const v = "noinfo@x"
	r.say(v, "hi")
	r.say(v, "agent")
	r.clk.Advance(2 * time.Second)
	if c := r.conv(v); c.conn == 0 || r.ts.Contact(c.conn).Agent() == nil || r.ts.Contact(c.conn).ClientFamily != "" {
		t.Fatal("not routed, unconstrained, after client_wait")
	}
}

func TestLimitsAndHostileText(t *testing.T) {
	r := newRig(t, testCenter)
	const u = "flood@x"
	r.say(u, strings.Repeat("x", 3000))
	if r.conv(u) != nil || !strings.Contains(r.net.last(u), "too long") {
		t.Fatal("oversize first message started a conversation")
	}
	r.say(u, "<script>alert(1)</script>hi\x00\u202e")
	c := r.conv(u)
	if c == nil || c.lines[0].Text != "<script>alert(1)</script>hi" {
		t.Fatalf("sanitised first line (markup kept as text, control and format characters dropped): %+v", c)
	}
	before := len(r.net.out)
	for range 100 {
		r.say(u, "spam")
	}
	warnings := 0
	for _, o := range r.net.out[before:] {
		if strings.Contains(o.Text, "too fast") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d rate warnings, want 1", warnings)
	}
	if n := len(r.store.Transcript(c.id)); n > 40 {
		t.Fatalf("%d transcript lines: the flood got through", n)
	}
	r.clk.Advance(time.Minute)
	r.say(u, "agent")
	if c.phase != phaseQueued && c.phase != phaseWaitInfo {
		t.Fatalf("after the flood, phase %d", c.phase)
	}
}

func TestBotTimeout(t *testing.T) {
	r := newRig(t, testCenter)
	r.say("idle@x", "hi")
	id := r.conv("idle@x").id
	r.clk.Advance(2 * time.Minute)
	if r.conv("idle@x") != nil {
		t.Fatal("still live after the bot timeout")
	}
	r.wantLast("idle@x", "closed because there was no answer")
	if rec, _ := r.store.ConversationRecord(id); rec.Outcome != "timeout" {
		t.Fatalf("outcome %q", rec.Outcome)
	}
}

func TestTransferAndSupervisor(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("ann")
	const u = "t@x"
	c := r.chatting(u)
	r.ready("sue")
	if err := r.gw.SupervisorJoin("sue", c.conn); err != nil {
		t.Fatal(err)
	}
	if h := r.desk.got["sue"]; len(h) != 1 || h[0].Type != ChatHistory {
		t.Fatalf("supervisor history %+v", h)
	}
	if err := r.gw.AgentMessage("sue", c.conn, "Supervisor here"); err != nil {
		t.Fatal(err)
	}
	r.wantLast(u, "Sue: Supervisor here")
	if m := r.desk.got["ann"][len(r.desk.got["ann"])-1]; m.From != "supervisor" || m.Text != "Supervisor here" {
		t.Fatalf("ann did not see the supervisor: %+v", m)
	}
	_ = r.gw.SupervisorLeave("sue", c.conn)
	r.ready("bob")
	if err := r.ts.AgentNotReady("sue", "break"); err != nil {
		t.Fatal(err)
	}
	if err := r.ts.SingleStepTransfer(c.conn, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := r.ts.AnswerCall(c.conn); err != nil {
		t.Fatal(err)
	}
	r.wantLast(u, "You are now chatting with Bob.")
	if h := r.desk.got["bob"]; len(h) != 1 || h[0].Type != ChatHistory || len(h[0].Lines) < 5 {
		t.Fatalf("bob's history %+v", h)
	}
	if err := r.gw.AgentMessage("ann", c.conn, "still here?"); pbx.KindOf(err) != pbx.Permission {
		t.Fatalf("ann after transfer: %v", err)
	}
	r.say(u, "bye")
	r.say(u, "/end")
	if m := r.desk.got["bob"][len(r.desk.got["bob"])-1]; m.Type != ChatEnded {
		t.Fatalf("bob not told of the end: %+v", m)
	}
}

func parseCenter(src string) (*config.File, error) { return config.Parse("center.yaml", []byte(src)) }

// Typing notifications pass both ways once a chat is connected, and not
// before (the bot does not need them).
func TestTypingBothWays(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("sue")
	const u = "typist@x"
	from := Address{Network: "xmpp:test", User: u, Device: "laptop"}
	r.say(u, "hi")
	r.gw.Handle(Inbound{Kind: Typing, From: from, State: StateComposing})
	if len(r.desk.got["sue"]) != 0 {
		t.Fatal("typing reached an agent before the chat was connected")
	}
	c := r.chatting(u)
	r.gw.Handle(Inbound{Kind: Typing, From: from, State: StateComposing})
	if m := r.desk.got["sue"][len(r.desk.got["sue"])-1]; m.Type != ChatTyping || m.State != "composing" || m.From != "customer" {
		t.Fatalf("sue got %+v", m)
	}
	if err := r.gw.AgentTyping("sue", c.conn, "composing"); err != nil {
		t.Fatal(err)
	}
	if o := r.net.out[len(r.net.out)-1]; o.State != StateComposing || o.Text != "" || o.To != from {
		t.Fatalf("customer got %+v", o)
	}
	if err := r.gw.AgentTyping("sue", c.conn, "dancing"); pbx.KindOf(err) != pbx.Invalid {
		t.Fatalf("bad state: %v", err)
	}
	if err := r.gw.AgentTyping("bob", c.conn, "composing"); pbx.KindOf(err) != pbx.Permission {
		t.Fatalf("another agent's chat: %v", err)
	}
	// The customer leaving (chat state gone) ends the chat.
	r.gw.Handle(Inbound{Kind: Typing, From: from, State: StateGone})
	if r.conv(u) != nil {
		t.Fatal("still live after gone")
	}
	if m := r.desk.got["sue"][len(r.desk.got["sue"])-1]; m.Type != ChatEnded {
		t.Fatalf("sue got %+v", m)
	}
}

// An agent whose desktop is lost (made not ready with the reason
// tserver.ReasonDeskLost, as the CTI server does when the grace period
// runs out) gives its chats back to their queue: the next agent gets them
// with the conversation so far. The gateway follows the event itself.
func TestDeskLostHandsChatsOver(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("sue")
	const u = "lost@x"
	c := r.chatting(u)
	r.say(u, "are you there?")
	r.ready("ann")
	if err := r.ts.AgentNotReady("sue", tserver.ReasonDeskLost); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Millisecond)
	if got := strings.Join(r.net.texts(u), "|"); !strings.Contains(got, "Your agent was disconnected") {
		t.Fatalf("customer not told: %q", got)
	}
	if a := r.ts.Contact(c.conn).Agent(); a == nil || a.ID != "ann" {
		t.Fatalf("chat offered to %v, want ann", a)
	}
	if err := r.ts.AnswerCall(c.conn); err != nil {
		t.Fatal(err)
	}
	h := r.desk.got["ann"][0]
	if h.Type != ChatHistory || !strings.Contains(fmt.Sprint(h.Lines), "are you there?") {
		t.Fatalf("ann's history %+v", h)
	}
}

// A flood of typing notifications reaches the agent as state changes only,
// and at most a bounded number a minute.
func TestTypingFloodIsBounded(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("sue")
	const u = "flood@x"
	from := Address{Network: "xmpp:test", User: u, Device: "laptop"}
	r.chatting(u)
	typing := func() int {
		n := 0
		for _, m := range r.desk.got["sue"] {
			if m.Type == ChatTyping {
				n++
			}
		}
		return n
	}
	for range 1000 {
		r.gw.Handle(Inbound{Kind: Typing, From: from, State: StateComposing})
	}
	if n := typing(); n != 1 {
		t.Fatalf("%d identical typing notifications relayed, want 1", n)
	}
	for i := range 1000 {
		st := StateComposing
		if i%2 == 0 {
			st = StatePaused
		}
		r.gw.Handle(Inbound{Kind: Typing, From: from, State: st})
	}
	if n := typing(); n > rateBurst+1 {
		t.Fatalf("%d alternating typing notifications relayed at once, want at most the burst", n)
	}
}

// Presence is journaled, and told to Config.OnPresence, when it changes,
// not when it repeats.
func TestPresenceJournaledOnChange(t *testing.T) {
	r := newRig(t, testCenter)
	var told []PresenceInfo
	r.gw.onPresence = func(a Address, p PresenceInfo, customer string) {
		if customer != "" {
			t.Errorf("presence of an unknown device told as customer %q's", customer)
		}
		if a.User != "p@x" || a.Device != "phone" {
			t.Errorf("presence of %+v", a)
		}
		told = append(told, p)
	}
	from := Address{Network: "xmpp:test", User: "p@x", Device: "phone"}
	for range 100 {
		r.gw.Handle(Inbound{Kind: Presence, From: from, Presence: &PresenceInfo{Available: true, Show: "away"}})
	}
	r.gw.Handle(Inbound{Kind: Presence, From: from, Presence: &PresenceInfo{Available: false}})
	r.store.mu.Lock()
	d := r.store.devices[from]
	r.store.mu.Unlock()
	if d.Presence.Available {
		t.Fatalf("last presence %+v", d.Presence)
	}
	if n := r.store.presenceWrites(from); n != 2 {
		t.Fatalf("%d presence writes, want 2", n)
	}
	if len(told) != 2 || told[0].Show != "away" || told[1].Available {
		t.Fatalf("OnPresence told %+v; want away, then unavailable", told)
	}
}

// The end of a chat is attributed to whoever ended it: the customer who
// ends it (by an end word, here a configured one, or by going away) gets a
// confirmation and the agent an EventChatEnded from the customer; the
// agent who ends it is named to the customer and its event is from the
// agent. The transcript's last line says who ended it.
func TestChatEndAttributedToWhoEndedIt(t *testing.T) {
	center := strings.Replace(testCenter, "  position_every: 30s\n", "  position_every: 30s\n  end_words: [/end, bye now]\n", 1)
	lastEvent := func(r *rig, agent string) AgentChat {
		t.Helper()
		got := r.desk.got[agent]
		if len(got) == 0 {
			t.Fatalf("%s got no chat events", agent)
		}
		return got[len(got)-1]
	}
	ended := func(r *rig, agent string) int {
		n := 0
		for _, m := range r.desk.got[agent] {
			if m.Type == ChatEnded {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		end      func(r *rig, u string, c *conversation)
		told     string // the customer's last line
		notTold  string // a line the customer must not get
		from     string // the agent's EventChatEnded
		lastLine Line   // the transcript's last line (From, Text)
	}{
		{
			name:     "customer /end",
			end:      func(r *rig, u string, _ *conversation) { r.say(u, "/end") },
			told:     "Chat ended by you. Thank you for contacting Example Support.",
			notTold:  "Ann has ended the chat",
			from:     "customer",
			lastLine: Line{From: "system", Text: "Chat ended by the customer."},
		},
		{
			name:     "customer end word",
			end:      func(r *rig, u string, _ *conversation) { r.say(u, "Bye now") },
			told:     "Chat ended by you. Thank you for contacting Example Support.",
			notTold:  "Ann has ended the chat",
			from:     "customer",
			lastLine: Line{From: "system", Text: "Chat ended by the customer."},
		},
		{
			name: "customer gone",
			end: func(r *rig, u string, _ *conversation) {
				r.gw.Handle(Inbound{Kind: Typing, From: Address{Network: "xmpp:test", User: u, Device: "laptop"}, State: StateGone})
			},
			told:     "Chat ended by you. Thank you for contacting Example Support.",
			notTold:  "Ann has ended the chat",
			from:     "customer",
			lastLine: Line{From: "system", Text: "Chat ended by the customer."},
		},
		{
			name: "agent releases",
			end: func(r *rig, _ string, c *conversation) {
				if err := r.ts.ReleaseCall(c.conn); err != nil {
					r.t.Fatal(err)
				}
			},
			told:     "Ann has ended the chat. Thank you for contacting Example Support.",
			notTold:  "Chat ended by you",
			from:     "agent",
			lastLine: Line{From: "system", Text: "Ann has ended the chat. Thank you for contacting Example Support."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, center)
			r.ready("ann")
			const u = "end@x"
			c := r.chatting(u)
			r.say(u, "thanks")
			tc.end(r, u, c)
			r.clk.Advance(time.Second)
			if got := r.net.last(u); got != tc.told {
				t.Errorf("customer's last line %q, want %q", got, tc.told)
			}
			for _, s := range r.net.texts(u) {
				if strings.Contains(s, tc.notTold) {
					t.Errorf("customer told %q", s)
				}
			}
			if m := lastEvent(r, "ann"); m.Type != ChatEnded || m.From != tc.from || m.ConnID != c.conn {
				t.Errorf("ann's last chat event %+v, want %s from %s", m, ChatEnded, tc.from)
			}
			if n := ended(r, "ann"); n != 1 {
				t.Errorf("ann got %d EventChatEnded, want 1", n)
			}
			if r.conv(u) != nil {
				t.Error("conversation still live")
			}
			lines := r.store.Transcript(c.id)
			if l := lines[len(lines)-1]; l.From != tc.lastLine.From || l.Text != tc.lastLine.Text {
				t.Errorf("transcript's last line %s: %q, want %s: %q", l.From, l.Text, tc.lastLine.From, tc.lastLine.Text)
			}
			for _, l := range lines {
				if l.From == "system" && strings.Contains(l.Text, "ended the chat") && l != lines[len(lines)-1] {
					t.Errorf("two end lines in the transcript: %q", l.Text)
				}
			}
			if rec, _ := r.store.ConversationRecord(c.id); rec.Outcome != "handled" || rec.Ended.IsZero() {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

// Chat text is text end to end: a hostile line reaches the agent's chat
// event, the transcript and the customer's screen as it was typed (but
// for what Sanitize drops), never as markup the input did not have.
func TestHostileTextReachesAgentAsTyped(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("ann")
	const u = "hostile@x"
	c := r.chatting(u)
	for _, s := range hostile {
		r.clk.Advance(time.Minute) // under the rate limit
		want, _ := Sanitize(s)
		r.say(u, s)
		got := r.desk.got["ann"]
		m := got[len(got)-1]
		if m.Type != ChatMessage || m.From != "customer" || m.Text != want {
			t.Errorf("customer wrote %q; ann got %+v, want text %q", s, m, want)
		}
		if p := newMarkup(s, m.Text); p != "" {
			t.Errorf("customer wrote %q; ann got %q: %q is new markup", s, m.Text, p)
		}
		if err := r.gw.AgentMessage("ann", c.conn, s); err != nil {
			t.Fatalf("ann writes %q: %v", s, err)
		}
		if got := r.net.last(u); got != "Ann: "+want {
			t.Errorf("ann wrote %q; the customer got %q, want %q", s, got, "Ann: "+want)
		}
		if p := newMarkup(s, strings.TrimPrefix(r.net.last(u), "Ann: ")); p != "" {
			t.Errorf("ann wrote %q; the customer got %q: %q is new markup", s, r.net.last(u), p)
		}
		lines := r.store.Transcript(c.id)
		if l := lines[len(lines)-2]; l.From != "customer" || l.Text != want {
			t.Errorf("transcript has %s: %q, want customer: %q", l.From, l.Text, want)
		}
		if l := lines[len(lines)-1]; l.From != "agent" || l.Text != want {
			t.Errorf("transcript has %s: %q, want agent: %q", l.From, l.Text, want)
		}
	}
	// The example arrives exactly as typed.
	const img = "<<b>img src=x onerror=alert(1)>"
	r.clk.Advance(time.Minute)
	r.say(u, img)
	if got := r.desk.got["ann"]; got[len(got)-1].Text != img {
		t.Fatalf("ann got %q, want %q as typed", got[len(got)-1].Text, img)
	}
}

// TestConversationID: a customer's live conversation is found by network
// and user, and not once it ended.
func TestConversationID(t *testing.T) {
	r := newRig(t, testCenter)
	if _, ok := r.gw.ConversationID("xmpp:test", "alice@example.test"); ok {
		t.Fatal("a conversation before the customer wrote")
	}
	r.say("alice@example.test", "hi")
	id, ok := r.gw.ConversationID("xmpp:test", "alice@example.test")
	if c := r.conv("alice@example.test"); !ok || c == nil || id != c.id {
		t.Fatalf("ConversationID = %q, %v", id, ok)
	}
	if _, ok := r.gw.ConversationID("webchat", "alice@example.test"); ok {
		t.Fatal("found on another network")
	}
	r.say("alice@example.test", "/end")
	if _, ok := r.gw.ConversationID("xmpp:test", "alice@example.test"); ok {
		t.Fatal("found after the end")
	}
}

func TestAlertRequest(t *testing.T) {
	for text, want := range map[string]int{
		"alert me when the wait is under 5 minutes": 5,
		"Please let me know when it's below 10 min": 10,
		"tell me when the wait is less than 3":      3,
		"ALERT 15":                                  15,
		"notify me when waiting is under 2 mins":    2,
	} {
		if got, ok := AlertRequest(text); !ok || got != want {
			t.Errorf("AlertRequest(%q) = %d, %v; want %d", text, got, ok, want)
		}
	}
	for _, text := range []string{
		"tell me about my order 123", "I have waited 5 minutes", "alert me", "let me know when the wait is under 0 minutes",
		"alert me under 99999 minutes", "callback",
	} {
		if n, ok := AlertRequest(text); ok {
			t.Errorf("AlertRequest(%q) = %d: not an alert request", text, n)
		}
	}
}

// A waiting customer asks to be told when the wait is short: the callback
// server hears it for the conversation's queue, and the bot says its answer
// (or why not).
func TestWaitingCustomerAsksForAnAlert(t *testing.T) {
	r := newRig(t, testCenter)
	var asked []string
	refuse := false
	r.gw.onAlert = func(from Address, customer, queue string, minutes int) (string, error) {
		asked = append(asked, fmt.Sprintf("%s %s %d", from.User, queue, minutes))
		if refuse {
			return "", fmt.Errorf("tell me who you are first")
		}
		return fmt.Sprintf("I will tell you when the wait is under %d minutes.", minutes), nil
	}
	r.ready("sue")
	if err := r.ts.AgentNotReady("sue", "meeting"); err != nil {
		t.Fatal(err)
	}
	r.say("c@x", "hi")
	r.say("c@x", "agent")
	r.clk.Advance(2 * time.Second) // client_wait
	if c := r.conv("c@x"); c == nil || c.phase != phaseQueued {
		t.Fatalf("the chat is not waiting in a queue")
	}
	r.say("c@x", "let me know when the wait is under 5 minutes")
	r.wantLast("c@x", "I will tell you when the wait is under 5 minutes.")
	refuse = true
	r.say("c@x", "alert 3")
	r.wantLast("c@x", "Sorry, I cannot set that alert: tell me who you are first")
	if strings.Join(asked, "|") != "c@x chat-general 5|c@x chat-general 3" {
		t.Fatalf("asked %q", asked)
	}
}
