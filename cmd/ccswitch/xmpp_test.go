package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// xmppCenter writes examples/im-center.yaml with the IM providers'
// servers under its im.networks.xmpp, the first one's secret in a file and
// the others' in environment variables, and returns serve's --config
// for it.
func xmppCenter(t *testing.T, servers ...*xmpptest.Server) []string {
	t.Helper()
	example, err := os.ReadFile("../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var nets strings.Builder
	nets.WriteString("\n    xmpp:\n")
	for i, s := range servers {
		secret := ""
		if i == 0 {
			file := filepath.Join(dir, "xmpp.secret")
			if err := os.WriteFile(file, []byte(s.Secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			secret = "secret_file: " + file
		} else {
			env := fmt.Sprintf("CCSWITCH_TEST_XMPP_SECRET_%d", i)
			t.Setenv(env, s.Secret)
			secret = "secret_env: " + env
		}
		fmt.Fprintf(&nets, "      - {component: %q, domain: %s, %s}\n", s.ComponentAddr, s.ComponentDomain, secret)
	}
	// The servers go first under the example's im.networks.
	head, tail, ok := strings.Cut(string(example), "\n  networks:")
	_, tail, ok2 := strings.Cut(tail, "\n")
	if !ok || !ok2 {
		t.Fatal("examples/im-center.yaml has no im.networks line")
	}
	center := head + "\n  networks:" + strings.TrimSuffix(nets.String(), "\n") + "\n" + tail
	path := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(path, []byte(center), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--config", path}
}

// xmppArgs are serve's deprecated flags for the IM providers' servers.
func xmppArgs(servers ...*xmpptest.Server) []string {
	var args []string
	for _, s := range servers {
		args = append(args, "--xmpp-component", s.ComponentAddr, "--xmpp-domain", s.ComponentDomain, "--xmpp-secret", s.Secret)
	}
	return args
}

// waitComponents waits until every XMPP component of the center is
// connected.
func (c *imCenter) waitComponents(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := c.m.center.WaitXMPP(ctx); err != nil {
		t.Fatal(err)
	}
}

// agentAddresses are the strings an agent's JID or resource would show.
func agentAddresses(agents ...string) []string {
	var out []string
	for _, a := range agents {
		out = append(out, a+"@", "/"+a)
	}
	return out
}

// expectBody waits for a message from the center whose body contains part.
func expectBody(t *testing.T, ctx context.Context, c *xmpptest.Customer, part string) xmpptest.Stanza {
	t.Helper()
	s, err := c.Expect(ctx, func(s xmpptest.Stanza) bool { return s.Kind == "message" && strings.Contains(s.Body, part) })
	if err != nil {
		var got []string
		for _, r := range c.Received() {
			if r.Kind == "message" {
				got = append(got, r.Body)
			}
		}
		t.Fatalf("%s: no message containing %q: %v\ngot %q", c.JID, part, err, got)
	}
	return s
}

// TestXMPPCustomersOnTwoServers: a slixmpp customer on Prosody and another
// on ejabberd write to the center at the same time; each answers the bot,
// each client's software is detected from the protocol (XEP-0092), each
// is routed to the CTI agent whose skill and clients match, never to the
// free agent whose clients don't; messages flow both ways; every stanza
// they received keeps the agents' addresses hidden; transcripts are
// stored.
func TestXMPPCustomersOnTwoServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var prosody, ejabberd *xmpptest.Server
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		prosody = xmpptest.Prosody(t, xmpptest.Config{Users: map[string]string{"alice": "alicepw"}})
	}()
	go func() {
		defer wg.Done()
		ejabberd = xmpptest.Ejabberd(t, xmpptest.Config{Domain: "example.org", Users: map[string]string{"carol": "carolpw"}})
	}()
	wg.Wait()
	if prosody == nil || ejabberd == nil {
		t.FailNow() // the fixture said why
	}
	c := startIMCenter(t, xmppCenter(t, prosody, ejabberd)...)
	c.waitComponents(t, ctx)
	// Bob (BobIM only) logs in first: the longest idle, free for both
	// queues, yet never offered Alice's AliceChat chat.
	bob := c.agentDesk(t, ctx, "bob")
	ann := c.agentDesk(t, ctx, "ann")

	alice := xmpptest.StartCustomer(t, prosody, xmpptest.CustomerConfig{JID: prosody.JID("alice"), Password: "alicepw",
		Resource: "laptop", Software: "AliceChat", Version: "2.5", OS: "Linux"})
	carol := xmpptest.StartCustomer(t, ejabberd, xmpptest.CustomerConfig{JID: ejabberd.JID("carol"), Password: "carolpw",
		Resource: "phone", Software: "BobIM", Version: "1.0"})
	aliceCenter, carolCenter := "support@"+prosody.ComponentDomain, "support@"+ejabberd.ComponentDomain

	type customer struct {
		c              *xmpptest.Customer
		center, agent  string
		desk           *cti.Client
		answers        []string // to the bot, after the greeting
		queue, client  string
		customerNumber string
	}
	customers := []customer{
		{alice, aliceCenter, "ann", ann, []string{"alice@example.test", "1"}, "chat-tech", "AliceChat", "1001"},
		{carol, carolCenter, "bob", bob, []string{"1003", "en", "2"}, "chat-general", "BobIM", "1003"},
	}
	// Both write at the same time and answer the bot.
	var botWG sync.WaitGroup
	for _, cu := range customers {
		botWG.Add(1)
		go func() {
			defer botWG.Done()
			cu.c.Send(cu.center, "hello")
			if _, err := cu.c.Expect(ctx, func(s xmpptest.Stanza) bool { return strings.Contains(s.Body, "customer number") }); err != nil {
				t.Errorf("%s: no identify prompt: %v", cu.c.JID, err)
				return
			}
			for _, a := range cu.answers {
				cu.c.Send(cu.center, a)
			}
		}()
	}
	botWG.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, cu := range customers {
		ring, err := cu.desk.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventRinging" && m.Media == "im" })
		if err != nil {
			t.Fatalf("%s never rang for %s: %v", cu.agent, cu.c.JID, err)
		}
		if ring.Queue != cu.queue {
			t.Errorf("%s's chat in %s, want %s", cu.c.JID, ring.Queue, cu.queue)
		}
		for k, want := range map[string]string{"client": cu.client, "customer_number": cu.customerNumber} {
			if got, _ := ring.UserData.Get(k); got != want {
				t.Errorf("%s: user data %s = %q, want %q", cu.c.JID, k, got, want)
			}
		}
		if err := cu.desk.Answer(ctx, ring.ConnID); err != nil {
			t.Fatal(err)
		}
		expectBody(t, ctx, cu.c, "You are now chatting with")
		if _, err := cu.desk.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: "Hello from " + cu.agent}); err != nil {
			t.Fatal(err)
		}
		expectBody(t, ctx, cu.c, ": Hello from "+cu.agent)
		cu.c.Send(cu.center, "thanks, "+cu.agent)
		m, err := cu.desk.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventChatMessage" && m.From == "customer" })
		if err != nil || m.Text != "thanks, "+cu.agent {
			t.Fatalf("%s's line to %s: %+v %v", cu.c.JID, cu.agent, m, err)
		}
		cu.c.Send(cu.center, "/end")
		if _, err := cu.desk.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventChatEnded" }); err != nil {
			t.Fatal(err)
		}
		expectBody(t, ctx, cu.c, "Chat ended")
	}
	// Nobody rang at the wrong desk.
	for _, cu := range customers {
		for _, m := range cu.desk.Pending() {
			if m.Event == "EventRinging" {
				t.Errorf("%s was offered another chat: %+v", cu.agent, m)
			}
		}
	}
	xmpptest.CheckPrivacy(t, prosody, alice, agentAddresses("ann", "bob", "cat")...)
	xmpptest.CheckPrivacy(t, ejabberd, carol, agentAddresses("ann", "bob", "cat")...)

	c.closeAndFlush(t)
	for _, cu := range customers {
		bare, _, _ := strings.Cut(cu.c.JID, "/")
		network := "xmpp:" + strings.TrimPrefix(cu.center, "support@")
		lines := strings.Join(c.transcript(t, ctx, network, bare), "\n")
		for _, w := range []string{"customer: hello", "agent: Hello from " + cu.agent, "customer: thanks, " + cu.agent, "customer: /end"} {
			if !strings.Contains(lines, w) {
				t.Errorf("%s's transcript lacks %q:\n%s", bare, w, lines)
			}
		}
	}
}

// TestXMPPServerRestartMidConversation: Prosody stops in the middle of a
// chat and starts again. What the agent wrote meanwhile (and the switch
// acknowledged) reaches the customer afterwards, in order; the
// conversation goes on with the same agent; the customer's presence is
// known again.
func TestXMPPServerRestartMidConversation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prosody := xmpptest.Prosody(t, xmpptest.Config{Offline: true, Users: map[string]string{"alice": "alicepw"}})
	c := startIMCenter(t, xmppArgs(prosody)...)
	c.waitComponents(t, ctx)
	ann := c.agentDesk(t, ctx, "ann")
	center := "support@" + prosody.ComponentDomain
	opts := xmpptest.CustomerConfig{JID: prosody.JID("alice"), Password: "alicepw", Resource: "laptop",
		Software: "AliceChat", Version: "2.5", Subscribe: center}
	alice := xmpptest.StartCustomer(t, prosody, opts)
	alice.Send(center, "hi")
	expectBody(t, ctx, alice, "customer number")
	alice.Send(center, "1001")
	alice.Send(center, "1")
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	expectBody(t, ctx, alice, "now chatting with Ann")

	if err := prosody.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-alice.Done():
	case <-ctx.Done():
		t.Fatal("alice still connected to a stopped server")
	}
	for _, text := range []string{"Are you still there?", "I found the fault: please restart the router."} {
		if _, err := ann.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: text}); err != nil {
			t.Fatalf("the switch refused a line during the outage: %v", err)
		}
	}
	if err := prosody.Start(); err != nil {
		t.Fatal(err)
	}
	opts.Subscribe = ""
	alice = xmpptest.StartCustomer(t, prosody, opts)
	c.waitComponents(t, ctx)
	first := expectBody(t, ctx, alice, "Ann: Are you still there?")
	second := expectBody(t, ctx, alice, "Ann: I found the fault")
	var order []string
	for _, s := range alice.Received() {
		if s.Kind == "message" && strings.HasPrefix(s.Body, "Ann: ") {
			order = append(order, s.Body)
		}
	}
	if len(order) != 2 || order[0] != first.Body || order[1] != second.Body {
		t.Fatalf("lines after the restart: %q", order)
	}
	alice.Send(center, "done, it works")
	m, err := ann.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventChatMessage" && m.From == "customer" })
	if err != nil || m.Text != "done, it works" || m.ConnID != ring.ConnID {
		t.Fatalf("after the restart: %+v %v", m, err)
	}
	xmpptest.CheckPrivacy(t, prosody, alice, agentAddresses("ann", "bob", "cat")...)
	// The customer's presence is known again: her presence reached the
	// gateway before her last message did (the component also probes its
	// subscribers after every reconnect: see imgw/xmpp's restart test).
	devs := c.devices(t, ctx, "xmpp:"+prosody.ComponentDomain, prosody.JID("alice"))
	if len(devs) == 0 || !devs["laptop"] {
		t.Errorf("alice's laptop not known available after the restart: %v", devs)
	}
}

// devices returns which devices of user the store knows available. Call
// it after an event that followed the presence through the gateway (the
// adapter hands events over in order); Flush makes the journal current.
func (c *imCenter) devices(t *testing.T, ctx context.Context, network, user string) map[string]bool {
	t.Helper()
	if err := c.m.center.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	devs, err := c.m.center.Store().Devices(ctx, network, user)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range devs {
		out[d.Device] = d.Available
	}
	return out
}
