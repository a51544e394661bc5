package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// imCenter is a running examples/im-center.yaml with its store file.
type imCenter struct {
	*liveCenter
	http  string
	store string
}

func startIMCenter(t *testing.T, extra ...string) *imCenter {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "cc.db")
	args := append([]string{"serve", "--config", "../../examples/im-center.yaml",
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warn", "--store", dbPath}, extra...)
	lc := startServe(t, args)
	m := lc.m
	return &imCenter{liveCenter: lc, http: m.center.Addrs().HTTP, store: dbPath}
}

// agentDesk logs agent id in over CTI and makes it ready.
func (c *imCenter) agentDesk(t *testing.T, ctx context.Context, id string) *cti.Client {
	t.Helper()
	cl, err := cti.Dial(ctx, "ws://"+c.http+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	if _, err := cl.Login(ctx, id, "", "secret"); err != nil {
		t.Fatalf("login %s: %v", id, err)
	}
	if err := cl.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

// transcript reads conversation lines from the store file (a second
// reader beside the server's).
func (c *imCenter) transcript(t *testing.T, ctx context.Context, network, user string) []string {
	t.Helper()
	st, err := store.Open(c.store, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs, err := st.ConversationsOf(ctx, network, user)
	if err != nil || len(convs) == 0 {
		t.Fatalf("conversations of %s: %v %v", user, convs, err)
	}
	lines, err := st.Transcript(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		out = append(out, l.From+": "+l.Text)
	}
	return out
}

// webVisitor is a browser-like web chat client.
type webVisitor struct {
	t   *testing.T
	c   *websocket.Conn
	key string
	got []string
}

func dialWebChat(t *testing.T, ctx context.Context, httpAddr, ua string) *webVisitor {
	t.Helper()
	h := http.Header{"User-Agent": {ua}}
	c, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/chat/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	v := &webVisitor{t: t, c: c}
	f := v.next(ctx)
	if f["type"] != "welcome" {
		t.Fatalf("first frame %v", f)
	}
	v.key = f["visitor"].(string)
	return v
}

func (v *webVisitor) next(ctx context.Context) map[string]any {
	v.t.Helper()
	_, data, err := v.c.Read(ctx)
	if err != nil {
		v.t.Fatalf("web chat read: %v (got so far %q)", err, v.got)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		v.t.Fatal(err)
	}
	return f
}

// expect reads messages until one contains part.
func (v *webVisitor) expect(ctx context.Context, part string) {
	v.t.Helper()
	for {
		f := v.next(ctx)
		if f["type"] != "message" {
			continue
		}
		text, _ := f["text"].(string)
		v.got = append(v.got, text)
		if strings.Contains(text, part) {
			return
		}
	}
}

func (v *webVisitor) say(ctx context.Context, text string) {
	v.t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "message", "text": text})
	if err := v.c.Write(ctx, websocket.MessageText, b); err != nil {
		v.t.Fatal(err)
	}
}

// expectChat waits for a chat event of type ev on the desk.
func expectChat(t *testing.T, ctx context.Context, cl *cti.Client, ev string, match func(cti.Message) bool) cti.Message {
	t.Helper()
	m, err := cl.Expect(ctx, func(m cti.Message) bool { return m.Event == ev && (match == nil || match(m)) })
	if err != nil {
		t.Fatalf("waiting for %s: %v", ev, err)
	}
	return m
}

// chromeUA is a Chrome browser's user agent.
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36"

// askAsAliceForTechSupport walks the example center's bot as Alice
// (customer 1001) with a broken router, up to the handoff to an agent.
func (v *webVisitor) askAsAliceForTechSupport(ctx context.Context) {
	v.t.Helper()
	v.say(ctx, "hello")
	v.expect(ctx, "customer number")
	v.say(ctx, "alice@example.test")
	v.expect(ctx, "Thank you.") // not verified: whose address it is goes unsaid
	// Her language is in the store: the bot does not ask it.
	v.expect(ctx, "How can we help?")
	v.say(ctx, "my wifi router is broken")
	v.expect(ctx, "Connecting you to an agent.")
}

// TestWebChatConversation: a browser visitor talks with the bot, is
// routed by reason and browser to an agent's CTI desktop, and the two chat
// until the agent ends it; the transcript is in the store.
func TestWebChatConversation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startIMCenter(t)
	bob := c.agentDesk(t, ctx, "bob") // chat-tech, but BobIM only
	ann := c.agentDesk(t, ctx, "ann") // chat-tech, supports Chrome
	v := dialWebChat(t, ctx, c.http, chromeUA)
	v.askAsAliceForTechSupport(ctx)

	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if ring.Media != "im" || ring.Queue != "chat-tech" {
		t.Fatalf("ringing %+v", ring)
	}
	for k, want := range map[string]string{"customer_number": "1001", "client": "Chrome", "reason": "technical support", "language": "en"} {
		if got, _ := ring.UserData.Get(k); got != want {
			t.Errorf("user data %s = %q, want %q", k, got, want)
		}
	}
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	hist := expectChat(t, ctx, ann, "EventChatHistory", nil)
	if hist.Name != "Alice Example" || len(hist.Lines) < 8 {
		t.Fatalf("history %+v", hist)
	}
	v.expect(ctx, "You are now chatting with Ann.")
	if _, err := ann.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: "Hi Alice, let's fix it."}); err != nil {
		t.Fatal(err)
	}
	v.expect(ctx, "Ann: Hi Alice, let's fix it.")
	v.say(ctx, "thank you")
	if m := expectChat(t, ctx, ann, "EventChatMessage", func(m cti.Message) bool { return m.From == "customer" }); m.Text != "thank you" || m.Name != "Alice Example" {
		t.Fatalf("customer line %+v", m)
	}
	// Bob, free for chat-tech but without Chrome, was never offered it.
	for _, m := range bob.Pending() {
		if m.Event == "EventRinging" {
			t.Fatalf("bob was offered the chat: %+v", m)
		}
	}
	if err := ann.Release(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	v.expect(ctx, "Ann has ended the chat")
	c.waitFor(t, "the chat released", 5*time.Second, hasEvent(tserver.EventReleased, "", ""))

	c.closeAndFlush(t)
	lines := c.transcript(t, ctx, "webchat", v.key)
	want := []string{"customer: hello", "customer: alice@example.test", "customer: my wifi router is broken",
		"system: You are now chatting with Ann.", "agent: Hi Alice, let's fix it.", "customer: thank you", "system: Ann has ended the chat."}
	joined := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("transcript lacks %q:\n%s", w, joined)
		}
	}
}

// closeAndFlush stops the server: every accepted record is then on disk.
func (c *imCenter) closeAndFlush(t *testing.T) {
	t.Helper()
	if err := c.m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSIPMessageConversation: a SIPp customer chats over SIP MESSAGE from
// the bot to an agent's CTI desktop and back, and ends the chat; every
// MESSAGE it gets comes from the center's chat address.
func TestSIPMessageConversation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startIMCenter(t)
	ann := c.agentDesk(t, ctx, "ann")
	port := cctest.FreeUDPPort(t)
	cmd := sipp(t, ctx, c.sipAddr, "-sf", sippScenario(t, "chat-customer.xml"), "-s", "support",
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "25s", "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(t.TempDir(), "msgs.log"))
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if got, _ := ring.UserData.Get("customer_number"); got != "1003" || ring.Queue != "chat-general" {
		t.Fatalf("ringing %+v", ring)
	}
	if got, _ := ring.UserData.Get("client"); got != "sipp" {
		t.Errorf("client %q, want sipp (from User-Agent)", got)
	}
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: "Hello Carol, how can I help with your bill?"}); err != nil {
		t.Fatal(err)
	}
	if m := expectChat(t, ctx, ann, "EventChatMessage", func(m cti.Message) bool { return m.From == "customer" }); m.Text != "bye now" {
		t.Fatalf("customer line %+v", m)
	}
	expectChat(t, ctx, ann, "EventChatEnded", nil)
	waitPeer(t, cmd, 20*time.Second, "SIPp chat customer")
	c.closeAndFlush(t)
	lines := strings.Join(c.transcript(t, ctx, "sip", "sip:carol@127.0.0.1"), "\n")
	for _, w := range []string{"customer: 1003", "customer: 2", "agent: Hello Carol, how can I help with your bill?", "customer: bye now", "customer: /end"} {
		if !strings.Contains(lines, w) {
			t.Errorf("transcript lacks %q:\n%s", w, lines)
		}
	}
}

// waitCenter has one chat agent taking one chat at a time, and tells
// waiting customers their position every second, offering a callback
// after two.
const waitCenter = `
center: {name: Wait Center}
queues:
  - {name: chat, media: im}
agents:
  - {id: ann, name: Ann, password: secret, ready: false, skills: {chat: 5}, capacity: {im: 1}}
im:
  position_every: 1s
  callback_offer_after: 2s
  client_wait: 0s
  bot:
    greeting: "Hello."
    handoff: "Connecting you to an agent."
`

// TestWaitingChatGetsPositionEWTAndCallbackOffer: with the only agent busy,
// a second customer hears the position and estimated wait that tserver
// computes, then is offered a callback, accepts it, and the request is in
// the store.
func TestWaitingChatGetsPositionEWTAndCallbackOffer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := filepath.Join(t.TempDir(), "wait.yaml")
	if err := os.WriteFile(cfg, []byte(waitCenter), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startIMCenter(t, "--config", cfg)
	ann := c.agentDesk(t, ctx, "ann")
	first := dialWebChat(t, ctx, c.http, "Firefox/128.0")
	first.say(ctx, "hi")
	first.expect(ctx, "Connecting you to an agent.")
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	first.expect(ctx, "now chatting with Ann")

	second := dialWebChat(t, ctx, c.http, "Firefox/128.0")
	second.say(ctx, "hi")
	second.expect(ctx, "Connecting you to an agent.")
	second.expect(ctx, "You are number 1 in the queue.")
	text := second.got[len(second.got)-1]
	var want string
	convs, err := c.m.center.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.m.center.Do(ctx, func(ts *tserver.Server) {
		for _, cs := range convs {
			if cs.Phase == "queued" {
				pos, e, err := ts.Position(cs.ConnID)
				if err == nil {
					want = imgw.PositionText(pos, e)
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if text != want || !strings.Contains(text, "about 5 minutes") {
		t.Fatalf("customer told %q; tserver says %q (want about 5 minutes: one agent, default handle time)", text, want)
	}
	second.expect(ctx, "You are number 1 in the queue.") // a second later, again
	second.expect(ctx, "Reply CALLBACK")
	second.say(ctx, "callback")
	second.expect(ctx, "Which phone number")
	second.say(ctx, "+1 555 0100")
	second.expect(ctx, "We will call you back at +15550100.")
	c.waitFor(t, "the queued chat out of its queue for the callback", 5*time.Second, hasEvent(tserver.EventAbandoned, "", tserver.ReasonCallback))
	c.closeAndFlush(t)
	st, err := store.Open(c.store, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cbs, err := st.PendingCallbacks(ctx)
	if err != nil || len(cbs) != 1 || cbs[0].Number != "+15550100" || cbs[0].Queue != "chat" || cbs[0].User != second.key {
		t.Fatalf("callbacks %+v %v", cbs, err)
	}
}

// TestAutomatedAgentHandsOverToAPerson: Max, the example center's bot
// agent, takes "other questions", answers the opening hours itself and
// passes the rest to a person, who gets the whole conversation.
func TestAutomatedAgentHandsOverToAPerson(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startIMCenter(t)
	ann := c.agentDesk(t, ctx, "ann")
	v := dialWebChat(t, ctx, c.http, "Mozilla/5.0 Firefox/128.0")
	v.say(ctx, "hi")
	v.expect(ctx, "customer number")
	v.say(ctx, "1001")
	v.expect(ctx, "How can we help?")
	v.say(ctx, "4")
	v.expect(ctx, "Max (virtual assistant): Hello, I am Max")
	v.say(ctx, "when are you open on saturday?")
	v.expect(ctx, "Max (virtual assistant): We are open Monday to Saturday, 8am to 8pm.")
	v.say(ctx, "I need to change my contract")
	v.expect(ctx, "I will pass you to a colleague")
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if ring.Queue != "chat-general" {
		t.Fatalf("transferred to %q", ring.Queue)
	}
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	hist := expectChat(t, ctx, ann, "EventChatHistory", nil)
	var lines []string
	for _, l := range hist.Lines {
		lines = append(lines, l.From+": "+l.Text)
	}
	joined := strings.Join(lines, "\n")
	for _, w := range []string{"agent: We are open Monday to Saturday, 8am to 8pm.", "customer: I need to change my contract"} {
		if !strings.Contains(joined, w) {
			t.Errorf("ann's history lacks %q:\n%s", w, joined)
		}
	}
	v.expect(ctx, "You are now chatting with Ann.")
}
