package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// replayRecording closes the center (which writes its recording), checks
// the script says what the test saw happen, and replays it in virtual
// time: every expectation must be met, and a second replay must tell the
// same (a recording replays deterministically). Closing is idempotent:
// the cleanup of startServe closing again does nothing.
func replayRecording(t *testing.T, m *Main, script string, want ...string) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(data), w) {
			t.Errorf("recording lacks %q", w)
		}
	}
	out, _, err := runMain(t, "replay", script)
	if err != nil || strings.Contains(out, "FAIL") || strings.Contains(out, "note ") || !strings.Contains(out, " 0 failed") {
		t.Fatalf("replay of the recording: %v\n%s\nrecording:\n%s", err, out, data)
	}
	again, _, err := runMain(t, "replay", script)
	if err != nil || again != out {
		t.Fatalf("a second replay of the recording differs (%v):\n%s\nthe first:\n%s\nrecording:\n%s", err, again, out, data)
	}
	t.Logf("recording:\n%s\nreplay:\n%s", data, out)
}

// TestReplayRecordedSIPSession: serve --record with real SIPp phones and
// callers: agent 1001's phone refuses a call (486), agent 1002's phone
// registers and takes it, a second caller waits in the queue and hangs
// up. The recording replays green in virtual time.
func TestReplayRecordedSIPSession(t *testing.T) {
	script := filepath.Join(t.TempDir(), "session.yaml")
	lc := sipCenter(t, "--ring-timeout", "10s", "--record", script)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	phoneA := sippPhone(t, ctx, lc, "1001", "agent-busy.xml", "-m", "1")
	c1 := sippCall(t, ctx, lc, "caller-hangs-up.xml", "-s", "5000", "-m", "1", "-d", "8000", "-timeout", "30s")
	lc.waitFor(t, "1001 refusing", 10*time.Second, hasEvent(tserver.EventAgentNotReady, "1001", "busy"))
	phoneB := sippPhone(t, ctx, lc, "1002", "agent-waits-for-bye.xml", "-m", "1")
	lc.waitFor(t, "1002 talking", 10*time.Second, hasEvent(tserver.EventEstablished, "1002", ""))
	c2 := sippCall(t, ctx, lc, "caller-hangs-up.xml", "-s", "5000", "-m", "1", "-d", "1000", "-timeout", "20s")
	waitPeer(t, c2, 20*time.Second, "the second caller")
	waitPeer(t, c1, 30*time.Second, "the first caller")
	waitPeer(t, phoneA, 5*time.Second, "1001's phone")
	waitPeer(t, phoneB, 5*time.Second, "1002's phone")
	lc.waitFor(t, "both calls over", 5*time.Second, ended(2))
	checkStats(t, lc, 2, 1, 1)

	replayRecording(t, lc.m, script,
		`agent: "1001", do: reject, reason: "busy", interaction: c1}`,
		`agent: "1002", do: answer, interaction: c1}`,
		`call: c2, do: hangup}`,
		`{call: c1, event: EventEstablished, agent: "1002", within: `,
		`{call: c2, event: EventAbandoned, within: `,
		`{at_end: {queue: "support", offered: 2, answered: 1, abandoned: 1, callback: 0}}`)
}

// TestReplayRecordedXMPPChatAndSIPCall: serve --record on the IM example
// center with Prosody, where Cat also takes calls on a SIPp phone (number
// 1003): a slixmpp customer answers the bot, is routed to Ann's CTI desk,
// Ann answers, they write, the customer ends the chat; meanwhile a SIPp
// caller reaches Cat's phone, which answers and hangs up. The recording
// of the one session replays green in virtual time.
func TestReplayRecordedXMPPChatAndSIPCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prosody := xmpptest.Prosody(t, xmpptest.Config{Users: map[string]string{"alice": "alicepw"}})
	args := xmppCenter(t, prosody)
	centerFile := args[1]
	data, err := os.ReadFile(centerFile)
	if err != nil {
		t.Fatal(err)
	}
	cat := "{id: cat, name: Cat, password: secret, ready: false,\n     skills: {chat-general: 3}, capacity: {im: 2, voip: 0},"
	if !strings.Contains(string(data), cat) {
		t.Fatal("examples/im-center.yaml: Cat is not as this test expects")
	}
	data = []byte(strings.Replace(string(data), cat,
		"{id: cat, name: Cat, number: \"1003\", password: secret, ready: true,\n     skills: {chat-general: 3, phones: 5}, capacity: {im: 2, voip: 1},", 1))
	if err := os.WriteFile(centerFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "session.yaml")
	c := startIMCenter(t, append(args, "--record", script)...)
	c.waitComponents(t, ctx)
	ann := c.agentDesk(t, ctx, "ann")
	phone := sippPhone(t, ctx, c.liveCenter, "1003", "agent-answers.xml", "-m", "1")
	alice := xmpptest.StartCustomer(t, prosody, xmpptest.CustomerConfig{JID: prosody.JID("alice"), Password: "alicepw",
		Resource: "laptop", Software: "AliceChat", Version: "2.5", OS: "Linux"})
	center := "support@" + prosody.ComponentDomain
	alice.Send(center, "hello")
	expectBody(t, ctx, alice, "customer number")
	caller := sippCall(t, ctx, c.liveCenter, "caller-waits.xml", "-s", "6000", "-m", "1", "-timeout", "20s")
	alice.Send(center, "alice@example.test")
	alice.Send(center, "1")
	ring := expectChat(t, ctx, ann, "EventRinging", func(m cti.Message) bool { return m.Media == "im" })
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	expectBody(t, ctx, alice, "You are now chatting with")
	if _, err := ann.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: "Hello from Ann"}); err != nil {
		t.Fatal(err)
	}
	expectBody(t, ctx, alice, ": Hello from Ann")
	alice.Send(center, "thanks")
	expectChat(t, ctx, ann, "EventChatMessage", func(m cti.Message) bool { return m.From == "customer" && m.Text == "thanks" })
	alice.Send(center, "/end")
	expectChat(t, ctx, ann, "EventChatEnded", nil)
	expectBody(t, ctx, alice, "Chat ended")
	waitPeer(t, caller, 20*time.Second, "the SIPp caller")
	waitPeer(t, phone, 5*time.Second, "Cat's phone")
	c.waitFor(t, "the call released", 5*time.Second, hasEvent(tserver.EventReleased, "1003", ""))

	bare, _, _ := strings.Cut(alice.JID, "/")
	replayRecording(t, c.m, script,
		`agent: "ann", do: login}`,
		`agent: "1003", do: login}`,
		`chat: k1, network: xmpp, from: "`+bare+`", client: "AliceChat 2.5", say: "hello"}`,
		`chat: k1, say: "/end"}`,
		`agent: "ann", do: answer, interaction: k1}`,
		`agent: "ann", say: "Hello from Ann", interaction: k1}`,
		`call: c1, from: `,
		`agent: "1003", do: answer, interaction: c1}`,
		`call: c1, do: hangup}`,
		`{chat: k1, event: EventQueued, queue: "chat-tech", within: `,
		`{chat: k1, event: EventEstablished, agent: "ann", within: `,
		`{call: c1, event: EventEstablished, agent: "1003", within: `,
		`{at_end: {queue: "chat-tech", offered: 1, answered: 1, abandoned: 0, callback: 0}}`,
		`{at_end: {queue: "phones", offered: 1, answered: 1, abandoned: 0, callback: 0}}`)
}
