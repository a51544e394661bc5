package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// xmppArgs are serve's flags for the IM providers' servers.
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
	for _, a := range c.m.server.im.xmpp {
		if err := a.WaitConnected(ctx); err != nil {
			t.Fatalf("component %s: %v", a.Network(), err)
		}
	}
}

var ipAddress = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// checkCustomerPrivacy scans every stanza the customer received: what
// comes from the center comes from its public address exactly, nothing
// comes from anywhere but the center, the customer's own account and
// server, and no agent address, SIP URI or IP address appears anywhere.
func checkCustomerPrivacy(t *testing.T, srv *xmpptest.Server, c *xmpptest.Customer, agents ...string) {
	t.Helper()
	public := "support@" + srv.ComponentDomain
	own, _, _ := strings.Cut(c.JID, "/")
	fromCenter := 0
	for _, s := range c.Received() {
		bare, _, _ := strings.Cut(s.From, "/")
		switch bare {
		case "", own, srv.Domain:
		case public:
			fromCenter++
			if s.From != public {
				t.Errorf("%s got a stanza from %q, not the center's address %s: %s", c.JID, s.From, public, s.XML)
			}
		default:
			t.Errorf("%s got a stanza from %q: %s", c.JID, s.From, s.XML)
		}
		if ip := ipAddress.FindString(s.XML); ip != "" {
			t.Errorf("%s got IP address %s: %s", c.JID, ip, s.XML)
		}
		lower := strings.ToLower(s.XML)
		if strings.Contains(lower, "sip:") {
			t.Errorf("%s got a SIP URI: %s", c.JID, s.XML)
		}
		for _, a := range agents {
			if strings.Contains(lower, a+"@") || strings.Contains(lower, "/"+a) {
				t.Errorf("%s got agent %s's address: %s", c.JID, a, s.XML)
			}
		}
	}
	if fromCenter == 0 {
		t.Errorf("%s got nothing from %s", c.JID, public)
	}
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
		prosody = xmpptest.Prosody(t, xmpptest.Options{Users: map[string]string{"alice": "alicepw"}})
	}()
	go func() {
		defer wg.Done()
		ejabberd = xmpptest.Ejabberd(t, xmpptest.Options{Domain: "example.org", Users: map[string]string{"carol": "carolpw"}})
	}()
	wg.Wait()
	if prosody == nil || ejabberd == nil {
		t.FailNow() // the fixture said why
	}
	c := startIMCenter(t, xmppArgs(prosody, ejabberd)...)
	c.waitComponents(t, ctx)
	// Bob (BobIM only) logs in first: the longest idle, free for both
	// queues, yet never offered Alice's AliceChat chat.
	bob := c.agentDesk(t, ctx, "bob")
	ann := c.agentDesk(t, ctx, "ann")

	alice := xmpptest.StartCustomer(t, prosody, xmpptest.CustomerOptions{JID: prosody.JID("alice"), Password: "alicepw",
		Resource: "laptop", Software: "AliceChat", Version: "2.5", OS: "Linux"})
	carol := xmpptest.StartCustomer(t, ejabberd, xmpptest.CustomerOptions{JID: ejabberd.JID("carol"), Password: "carolpw",
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
	checkCustomerPrivacy(t, prosody, alice, "ann", "bob", "cat")
	checkCustomerPrivacy(t, ejabberd, carol, "ann", "bob", "cat")

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
