package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/tserver"
)

// phoneDeskCenter has one agent, Dora, who chats on her SIP phone
// (extension 2001) rather than a CTI desktop.
const phoneDeskCenter = `
center: {name: Phone Desk Center}
queues:
  - {name: chat, media: im}
agents:
  - {id: dora, name: Dora, number: "2001", password: secret, chat_via: sip,
     skills: {chat: 5}, capacity: {im: 2, voip: 0}}
im:
  position_every: 0s
  callback_offer_after: 0s
  client_wait: 0s
  bot:
    greeting: "Welcome to {center}!"
    identify:
      prompt: "Please tell me your customer number, e-mail address or name."
      found: "Thank you, {name}."
      unknown: "Never mind, let's go on."
      retries: 0
    handoff: "Connecting you to an agent."
  customers:
    - {number: "1001", name: Alice Example, email: alice@example.test, language: en}
`

func startPhoneDeskCenter(t *testing.T) *imCenter {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "phone-desk.yaml")
	if err := os.WriteFile(cfg, []byte(phoneDeskCenter), 0o600); err != nil {
		t.Fatal(err)
	}
	return startIMCenter(t, "--config", cfg)
}

// ipAddress matches an IPv4 address in what a customer got.
var ipAddress = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// expectFrame reads the visitor's frames until a message contains part;
// every frame read is added to frames, as JSON.
func (v *webVisitor) expectFrame(ctx context.Context, part string, frames *[]string) {
	v.t.Helper()
	for {
		f := v.next(ctx)
		raw, _ := json.Marshal(f)
		*frames = append(*frames, string(raw))
		if text, _ := f["text"].(string); f["type"] == "message" && strings.Contains(text, part) {
			return
		}
	}
}

// aliceChatsWithDora registers Dora's phone at contact, and has a web chat
// customer identify as Alice through the bot and reach Dora; the frames
// the customer read are added to frames.
func aliceChatsWithDora(t *testing.T, ctx context.Context, c *imCenter, contact string, frames *[]string) *webVisitor {
	t.Helper()
	registerContact(t, ctx, c.liveCenter, "2001", contact, "3600")
	c.waitFor(t, "dora ready", 10*time.Second, hasEvent(tserver.EventAgentReady, "2001", ""))
	v := dialWebChat(t, ctx, c.http, "Mozilla/5.0 Firefox/128.0")
	v.say(ctx, "hello")
	v.expectFrame(ctx, "customer number", frames)
	v.say(ctx, "alice@example.test")
	v.expectFrame(ctx, "Thank you.", frames)
	v.expectFrame(ctx, "You are now chatting with Dora.", frames)
	return v
}

// TestSIPAgentChatsOnPhone: Dora handles chats on her SIP phone (SIPp,
// chat-agent.xml). A web chat customer identifies through the bot and is
// routed to her; the switch answers for her and her phone gets the
// history as a MESSAGE from the chat address; her reply reaches the
// customer under her name only, the customer's answer reaches the phone
// tagged with the chat's number, and "1 /end" ends the chat. The
// customer never sees a SIP URI or an address, and the store has the
// conversation.
func TestSIPAgentChatsOnPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := startPhoneDeskCenter(t)
	port := cctest.FreeUDPPort(t)
	phone := sipp(t, ctx, "-sf", sippScenario(t, "chat-agent.xml"), "-s", "support", "-key", "user", "2001",
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "30s", "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(t.TempDir(), "msgs.log"), c.sipAddr)
	var frames []string
	v := aliceChatsWithDora(t, ctx, c, fmt.Sprintf("127.0.0.1:%d", port), &frames)
	v.expectFrame(ctx, "Dora: Hello Alice, Dora here. How can I help?", &frames)
	v.say(ctx, "thanks, that was all")
	v.expectFrame(ctx, "Dora has ended the chat", &frames)
	waitPeer(t, phone, 20*time.Second, "SIPp agent phone")

	for _, f := range frames {
		if strings.Contains(strings.ToLower(f), "sip:") || ipAddress.MatchString(f) ||
			strings.Contains(f, "2001") || strings.Contains(f, strconv.Itoa(port)) {
			t.Errorf("the customer got an address of the agent: %s", f)
		}
	}
	c.closeAndFlush(t)
	lines := strings.Join(c.transcript(t, ctx, "webchat", v.key), "\n")
	for _, w := range []string{"customer: alice@example.test", "system: You are now chatting with Dora.",
		"agent: Hello Alice, Dora here. How can I help?", "customer: thanks, that was all", "system: Dora has ended the chat."} {
		if !strings.Contains(lines, w) {
			t.Errorf("transcript lacks %q:\n%s", w, lines)
		}
	}
}

// udpPhone is a hand-driven SIP endpoint on a UDP socket.
type udpPhone struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
	n    int
}

func newUDPPhone(t *testing.T, to string) *udpPhone {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	addr, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	return &udpPhone{t: t, conn: conn, to: addr}
}

func (p *udpPhone) addr() string { return p.conn.LocalAddr().String() }

// write sends text in a MESSAGE from sip:user@<this socket> to the chat
// address and returns the Call-ID.
func (p *udpPhone) write(user, text string) string {
	p.t.Helper()
	p.n++
	local := p.addr()
	callID := fmt.Sprintf("udpphone-%d-%s", p.n, local)
	msg := "MESSAGE sip:support@" + p.to.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-udpphone-" + strconv.Itoa(p.n) + "\r\n" +
		"From: <sip:" + user + "@" + local + ">;tag=up" + strconv.Itoa(p.n) + "\r\n" +
		"To: <sip:support@" + p.to.String() + ">\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: " + strconv.Itoa(p.n) + " MESSAGE\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Type: text/plain;charset=UTF-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(text)) + "\r\n\r\n" + text
	if _, err := p.conn.WriteTo([]byte(msg), p.to); err != nil {
		p.t.Fatal(err)
	}
	return callID
}

// expect reads until a message for which match holds, answering the
// switch's requests 200; it fails at the deadline.
func (p *udpPhone) expect(ctx context.Context, what string, match func(sip.Message) bool) sip.Message {
	p.t.Helper()
	deadline, _ := ctx.Deadline()
	_ = p.conn.SetReadDeadline(deadline)
	buf := make([]byte, 65535)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			p.t.Fatalf("%s: waiting for %s: %v", p.addr(), what, err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		if req, ok := m.(*sip.Request); ok {
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			_, _ = p.conn.WriteTo([]byte(res.String()), from)
		}
		if match(m) {
			return m
		}
	}
}

// response matches the final response to the request with callID.
func response(callID string) func(sip.Message) bool {
	return func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.CallID().Value() == callID && !res.IsProvisional()
	}
}

// TestSIPAgentForgedFromIsACustomer: a MESSAGE whose From is Dora's
// extension, sent from an address her phone did not register, is a
// customer's: it gets the bot, not her chats. The same MESSAGE from her
// registered phone is hers (and is refused: she has no chat).
func TestSIPAgentForgedFromIsACustomer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startPhoneDeskCenter(t)
	phone := newUDPPhone(t, c.sipAddr)
	registerContact(t, ctx, c.liveCenter, "2001", phone.addr(), "3600")
	c.waitFor(t, "dora ready", 10*time.Second, hasEvent(tserver.EventAgentReady, "2001", ""))

	forger := newUDPPhone(t, c.sipAddr)
	id := forger.write("2001", "1 please refund the customer")
	if res := forger.expect(ctx, "the response", response(id)).(*sip.Response); res.StatusCode != 200 {
		t.Fatalf("forged MESSAGE: %d %s", res.StatusCode, res.Reason)
	}
	greeting := forger.expect(ctx, "the bot's greeting", func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == sip.MESSAGE
	}).(*sip.Request)
	if body := string(greeting.Body()); body != "Welcome to Phone Desk Center!" {
		t.Fatalf("the forger got %q, want the bot's greeting", body)
	}
	var convs []string
	all, err := c.m.center.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		convs = append(convs, s.Network+" "+s.Phase)
	}
	if len(convs) != 1 || convs[0] != "sip bot" {
		t.Fatalf("conversations %q, want the forger's, with the bot", convs)
	}

	id = phone.write("2001", "1 please refund the customer")
	res := phone.expect(ctx, "the response", response(id)).(*sip.Response)
	if res.StatusCode != 404 || res.Reason != "Not Found: no chat 1" {
		t.Fatalf("Dora's MESSAGE: %d %s, want 404 (she has no chat)", res.StatusCode, res.Reason)
	}
}

// TestSIPAgentPhoneGoneHandsChatsOver: Dora's phone unregisters while she
// holds a chat. Nobody would read it there: the customer is told another
// agent will take over, the chat goes back to its queue, and Dora is
// logged out (before the fix she stayed logged in with the chat).
func TestSIPAgentPhoneGoneHandsChatsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startPhoneDeskCenter(t)
	phone := newUDPPhone(t, c.sipAddr)
	var frames []string
	v := aliceChatsWithDora(t, ctx, c, phone.addr(), &frames)
	phone.expect(ctx, "the chat's history on the phone", func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == sip.MESSAGE && strings.Contains(string(req.Body()), "new chat")
	})

	registerContact(t, ctx, c.liveCenter, "2001", phone.addr(), "0")
	v.expectFrame(ctx, "Your agent was disconnected; another agent will take over.", &frames)
	c.waitFor(t, "dora logged out", 10*time.Second, hasEvent(tserver.EventAgentLogout, "2001", ""))
	var phases []string
	all, err := c.m.center.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		phases = append(phases, s.Phase)
	}
	if len(phases) != 1 || phases[0] != "queued" {
		t.Fatalf("conversations %q, want the chat queued again", phases)
	}
}
