package imgw

import (
	"strings"
	"testing"
	"time"
)

const robotCenter = testCenter + `
  automated_agents:
    - id: robo
      greeting: "Hi {name}, I am Robo, the virtual assistant."
      answers: [orders, hours]
      transfer_to: chat-tech
      handoff: "I'll pass you to a colleague."
`

func robotRig(t *testing.T) *rig {
	src := strings.Replace(robotCenter, "agents:\n", "agents:\n  - {id: robo, name: Robo, skills: {chat-general: 9}, capacity: {im: 20}, clients: {AliceChat: \"*\", BobIM: \"*\"}, ready: false}\n", 1)
	src = strings.Replace(src, `    answers:
      - {name: orders,`, `    answers:
      - {name: hours, text: "We are open 8am to 8pm.", keywords: [open, hours]}
      - {name: orders, keywords: [order, parcel],`, 1)
	return newRig(t, src)
}

func TestAutomatedAgentAnswersThenTransfersWithHistory(t *testing.T) {
	r := robotRig(t)
	r.ready("robo", "ann")
	if err := r.ts.AgentNotReady("ann", "later"); err != nil {
		t.Fatal(err)
	}
	const u = "alice@example.test"
	r.say(u, "hi")
	r.say(u, "1001")
	r.say(u, "1") // billing: chat-general, where the robot is the only one ready
	r.client(u, "AliceChat", "2.5")
	r.clk.Advance(time.Millisecond)
	c := r.conv(u)
	if c.agent != "robo" {
		t.Fatalf("chat with %q, want robo", c.agent)
	}
	r.wantLast(u, "Robo: Hi, I am Robo, the virtual assistant.") // identified by number only: no name said
	r.say(u, "when are you open?")
	r.clk.Advance(time.Millisecond)
	r.wantLast(u, "Robo: We are open 8am to 8pm.")
	r.say(u, "and where is my order?")
	r.clk.Advance(time.Millisecond)
	r.wantLast(u, "Robo: To protect your data, what is your postcode?")
	r.say(u, "AB1 2CD")
	r.clk.Advance(time.Millisecond)
	r.wantLast(u, "Robo: Which order number?")
	r.say(u, "A-1")
	r.clk.Advance(time.Millisecond)
	if got := strings.Join(r.net.texts(u), "|"); !strings.Contains(got, "Robo: A-1: shipped") {
		t.Fatalf("order answer missing: %q", got)
	}
	if err := r.ts.AgentReady("ann"); err != nil {
		t.Fatal(err)
	}
	r.say(u, "I want to cancel my contract")
	r.clk.Advance(time.Millisecond)
	if got := strings.Join(r.net.texts(u), "|"); !strings.Contains(got, "Robo: I'll pass you to a colleague.|You are being transferred.") {
		t.Fatalf("handoff: %q", got)
	}
	if c.agent != "" || r.ts.Contact(c.conn).Agent().ID != "ann" {
		t.Fatalf("after transfer: agent %q", c.agent)
	}
	if err := r.ts.AnswerCall(c.conn); err != nil {
		t.Fatal(err)
	}
	r.wantLast(u, "You are now chatting with Ann.")
	h := r.desk.got["ann"][0]
	var lines []string
	for _, l := range h.Lines {
		lines = append(lines, l.From+": "+l.Text)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"agent: We are open 8am to 8pm.", "customer: I want to cancel my contract", "agent: I'll pass you to a colleague."} {
		if !strings.Contains(joined, want) {
			t.Errorf("ann's history lacks %q:\n%s", want, joined)
		}
	}
	if _, ok := r.desk.got["robo"]; ok {
		t.Error("the robot's chat events went to a CTI desk")
	}
}

func TestAutomatedAgentConfigErrors(t *testing.T) {
	src := strings.Replace(robotCenter, "transfer_to: chat-tech", "transfer_to: nowhere", 1)
	src = strings.Replace(src, "agents:\n", "agents:\n  - {id: robo, skills: {chat-general: 9}}\n", 1)
	_, err := parseCenter(src)
	if err == nil || !strings.Contains(err.Error(), `im.automated_agents[0].transfer_to: unknown queue "nowhere"`) {
		t.Fatalf("err %v", err)
	}
	_, err = parseCenter(robotCenter)
	if err == nil || !strings.Contains(err.Error(), `im.automated_agents[0].id: unknown agent "robo"`) {
		t.Fatalf("err %v", err)
	}
}

// TestPhoneAgentChatIsAnsweredForIt: an agent who chats from its SIP phone
// (chat_via: sip) has no answer button: the gateway answers the offer, and
// the agent's desk gets the history at once.
func TestPhoneAgentChatIsAnsweredForIt(t *testing.T) {
	src := strings.Replace(testCenter, "agents:\n", "agents:\n  - {id: dora, name: Dora, number: \"2001\", password: secret, chat_via: sip, skills: {chat-general: 9}, ready: false}\n", 1)
	r := newRig(t, src)
	r.ready("dora")
	const u = "alice@example.test"
	r.say(u, "hi")
	r.say(u, "agent")
	r.clk.Advance(2 * time.Second)
	c := r.conv(u)
	if c == nil || c.agent != "dora" || c.phase != phaseConnected {
		t.Fatalf("conversation %+v, want connected to dora", c)
	}
	r.wantLast(u, "You are now chatting with Dora.")
	if got := r.desk.got["dora"]; len(got) != 1 || got[0].Type != ChatHistory || got[0].ConnID != c.conn {
		t.Fatalf("dora's desk got %+v, want the history", got)
	}
	if err := r.gw.AgentMessage("dora", c.conn, "Hello, Dora here."); err != nil {
		t.Fatal(err)
	}
	r.wantLast(u, "Dora: Hello, Dora here.")
}

// An automated agent reads no order for a customer the bot could not
// identify, and asks the verification question of one identified by name.
func TestAutomatedAgentRefusesTheUnverified(t *testing.T) {
	r := robotRig(t)
	r.ready("robo")
	const u = "stranger@example.test"
	for _, s := range []string{"hi", "nobody", "nobody either", "1"} {
		r.say(u, s)
	}
	r.clk.Advance(2 * time.Second)
	if c := r.conv(u); c == nil || c.agent != "robo" {
		t.Fatalf("not with robo: %+v", c)
	}
	before := len(r.net.texts(u))
	r.say(u, "where is my order?")
	r.clk.Advance(time.Millisecond)
	r.say(u, "C-9")
	r.clk.Advance(time.Millisecond)
	got := r.net.texts(u)[before:]
	if len(got) < 2 || got[0] != "Robo: Tell me who you are first." || got[1] != "Robo: Anything else? (1 billing, 2 technical, 3 order status)" {
		t.Fatalf("robot to an anonymous customer: %q", got)
	}
	noOrderLeaked(t, r.net)
	if len(r.spy.lookups) != 0 {
		t.Fatalf("order lookups %v", r.spy.lookups)
	}

	const carl = "carl-claimed@example.test"
	for _, s := range []string{"hi", "Carl Other", "1"} {
		r.say(carl, s)
	}
	r.clk.Advance(2 * time.Second)
	r.say(carl, "my parcel?")
	r.clk.Advance(time.Millisecond)
	r.wantLast(carl, "Robo: To protect your data, what is your postcode?")
	r.say(carl, "99999")
	r.clk.Advance(time.Millisecond)
	r.wantLast(carl, "Robo: That does not match our records.")
	r.say(carl, "00000")
	r.clk.Advance(time.Millisecond)
	if got := strings.Join(r.net.texts(carl), "|"); !strings.HasSuffix(got, "Robo: Tell me who you are first.|Robo: Anything else? (1 billing, 2 technical, 3 order status)") {
		t.Fatalf("after two wrong postcodes: %q", got)
	}
	noOrderLeaked(t, r.net)
	if len(r.spy.lookups) != 0 {
		t.Fatalf("order lookups %v", r.spy.lookups)
	}
}
