package xmpp

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/xmpptest"
)

// wait bounds every wait for an expected event.
const wait = 20 * time.Second

// recorder is an imgw.Receiver that keeps every event.
type recorder struct {
	mu      sync.Mutex
	events  []imgw.Inbound
	used    []bool
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Receive(in imgw.Inbound) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, in)
	r.used = append(r.used, false)
	close(r.changed)
	r.changed = make(chan struct{})
}

// mark returns a position for expect: events before it are ignored.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) all() []imgw.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]imgw.Inbound(nil), r.events...)
}

// expect waits for the first event at or after since that matches and no
// earlier expect returned, and fails t if none comes within wait.
func (r *recorder) expect(t *testing.T, since int, what string, match func(imgw.Inbound) bool) imgw.Inbound {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := since; i < len(r.events); i++ {
			if !r.used[i] && match(r.events[i]) {
				r.used[i] = true
				in := r.events[i]
				r.mu.Unlock()
				return in
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			var b strings.Builder
			for i, in := range r.all() {
				fmt.Fprintf(&b, "\n  %d: %s", i, describe(in))
			}
			t.Fatalf("no %s within %v; events:%s", what, wait, b.String())
		}
	}
}

func describe(in imgw.Inbound) string {
	s := fmt.Sprintf("kind=%d from=%s id=%q text=%q state=%s err=%q", in.Kind, in.From, in.ID, in.Text, in.State, in.Error)
	if in.Client != nil {
		s += fmt.Sprintf(" client=%+v", *in.Client)
	}
	if in.Presence != nil {
		s += fmt.Sprintf(" presence=%+v", *in.Presence)
	}
	return s
}

// harness runs one adapter against a test server.
type harness struct {
	a    *Adapter
	rec  *recorder
	srv  *xmpptest.Server
	stop func()
}

type harnessConfig struct {
	subs SubscriberStore
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func startAdapter(t *testing.T, srv *xmpptest.Server, o harnessConfig) *harness {
	t.Helper()
	rec := newRecorder()
	a, err := New(Config{
		Addr:            srv.ComponentAddr,
		Domain:          srv.ComponentDomain,
		Secret:          srv.Secret,
		Receiver:        rec,
		Subscribers:     o.subs,
		Log:             zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel).With().Timestamp().Logger(),
		MaxStanzaBytes:  4096,
		BackoffMin:      20 * time.Millisecond,
		BackoffMax:      200 * time.Millisecond,
		SoftwareName:    "ccswitch-test",
		SoftwareVersion: "0.1",
		Dial:            o.dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	h := &harness{a: a, rec: rec, srv: srv}
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	wctx, wcancel := context.WithTimeout(ctx, wait)
	defer wcancel()
	if err := a.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) addr(c *xmpptest.Customer) imgw.Address {
	user, device, _ := strings.Cut(c.JID, "/")
	return imgw.Address{Network: h.a.Network(), User: user, Device: device}
}

func expectCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return ctx
}

func from(c *xmpptest.Customer) func(imgw.Inbound) bool {
	user, device, _ := strings.Cut(c.JID, "/")
	return func(in imgw.Inbound) bool { return in.From.User == user && in.From.Device == device }
}

func TestProsody(t *testing.T) {
	t.Parallel()
	srv := xmpptest.Prosody(t, xmpptest.Config{Users: testUsers})
	conversation(t, srv)
}

func TestEjabberd(t *testing.T) {
	t.Parallel()
	srv := xmpptest.Ejabberd(t, xmpptest.Config{Users: testUsers})
	conversation(t, srv)
}

var testUsers = map[string]string{"alice": "alicepw", "bob": "bobpw", "mallory": "mallorypw"}

// conversation runs the adapter against a real server with slixmpp
// customers: messages both ways, client detection, subscription and
// probing after an adapter restart, bounces, hostile stanzas, and the
// privacy of everything a customer received.
func conversation(t *testing.T, srv *xmpptest.Server) {
	subs := &MemSubscribers{}
	h := startAdapter(t, srv, harnessConfig{subs: subs})
	public := h.a.Public()
	if public != "support@"+srv.ComponentDomain {
		t.Fatalf("public address %q", public)
	}
	alice := xmpptest.StartCustomer(t, srv, xmpptest.CustomerConfig{
		JID: srv.JID("alice"), Password: "alicepw", Resource: "laptop",
		Software: "AliceChat", Version: "2.5", OS: "Linux",
		Category: "client", Type: "pc",
		Show: "chat", Status: "here", Priority: 3,
		Subscribe: public,
	})
	ctx := expectCtx(t)

	t.Run("subscription", func(t *testing.T) {
		// The adapter approves and subscribes back once; alice's client
		// approves, and her presence flows.
		for _, typ := range []string{"subscribed", "subscribe"} {
			if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool {
				return s.Kind == "presence" && s.Type == typ && s.From == public
			}); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
		in := h.rec.expect(t, 0, "alice's presence", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Presence && from(alice)(in)
		})
		if p := in.Presence; !p.Available || p.Show != "chat" || p.Status != "here" || p.Priority != 3 {
			t.Errorf("presence %+v", *p)
		}
		got, _ := subs.Subscribers(h.a.Network())
		if len(got) != 1 || got[0] != srv.JID("alice") {
			t.Errorf("subscribers %v", got)
		}
	})

	t.Run("messages", func(t *testing.T) {
		alice.SendMessage(xmpptest.Message{To: public, Body: "hello, my router is down", State: "active", ID: "a1"})
		in := h.rec.expect(t, 0, "alice's message", func(in imgw.Inbound) bool { return in.Kind == imgw.Message })
		want := imgw.Inbound{Kind: imgw.Message, From: h.addr(alice), Text: "hello, my router is down",
			State: imgw.StateActive, ID: "a1"}
		if in != want {
			t.Errorf("got  %s\nwant %s", describe(in), describe(want))
		}
		alice.SendState(public, "composing")
		h.rec.expect(t, 0, "typing", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Typing && in.State == imgw.StateComposing && from(alice)(in)
		})

		h.a.Send(imgw.Outbound{To: h.addr(alice), Text: "Welcome! Who are you?", State: imgw.StateActive, ID: "o1"})
		got, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool { return s.Kind == "message" && s.ID == "o1" })
		if err != nil {
			t.Fatal(err)
		}
		if got.From != public || got.Body != "Welcome! Who are you?" || got.State != "active" || got.Type != "chat" {
			t.Errorf("alice got %+v", got)
		}
		// To the bare JID (the server picks the device) and a pure state.
		h.a.Send(imgw.Outbound{To: imgw.Address{Network: h.a.Network(), User: srv.JID("alice")}, Text: "still there?", ID: "o2"})
		h.a.Send(imgw.Outbound{To: h.addr(alice), State: imgw.StateComposing})
		if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "o2" && s.Body == "still there?" }); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool {
			return s.Kind == "message" && s.State == "composing" && s.Body == "" && s.From == public
		}); err != nil {
			t.Fatal(err)
		}

		// XEP-0085 §5.1: once alice writes without a chat state, she
		// gets none back: the state is left out of a message, and a
		// pure state is not sent.
		alice.SendMessage(xmpptest.Message{To: public, Body: "no more states", ID: "a2"})
		h.rec.expect(t, 0, "alice's stateless message", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Message && in.ID == "a2" && in.State == imgw.StateNone
		})
		seen := len(alice.Received())
		h.a.Send(imgw.Outbound{To: h.addr(alice), State: imgw.StateComposing})
		h.a.Send(imgw.Outbound{To: h.addr(alice), Text: "plain", State: imgw.StateActive, ID: "o3"})
		if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "o3" }); err != nil {
			t.Fatal(err)
		}
		for _, s := range alice.Received()[seen:] {
			if s.Kind == "message" && (s.State != "" || s.ID == "o3" && s.Body != "plain") {
				t.Errorf("alice, who no longer sends chat states, got %+v", s)
			}
		}
		// Her next chat state turns them back on.
		alice.SendState(public, "active")
		h.rec.expect(t, 0, "alice's active", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Typing && in.State == imgw.StateActive && from(alice)(in)
		})
		h.a.Send(imgw.Outbound{To: h.addr(alice), Text: "states again", State: imgw.StateActive, ID: "o4"})
		if got, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "o4" }); err != nil || got.State != "active" {
			t.Fatalf("o4: %+v, %v", got, err)
		}
	})

	t.Run("client detection", func(t *testing.T) {
		is := func(source string) func(imgw.Inbound) bool {
			return func(in imgw.Inbound) bool {
				return in.Kind == imgw.Client && in.Client.Source == source && from(alice)(in)
			}
		}
		v := h.rec.expect(t, 0, "XEP-0092", is("xep-0092")).Client
		if *v != (imgw.ClientInfo{Source: "xep-0092", Family: "AliceChat", Version: "2.5", OS: "Linux"}) {
			t.Errorf("xep-0092: %+v", *v)
		}
		d := h.rec.expect(t, 0, "XEP-0030", is("xep-0030")).Client
		if *d != (imgw.ClientInfo{Source: "xep-0030", Category: "client", Type: "pc"}) {
			t.Errorf("xep-0030: %+v", *d)
		}
		c := h.rec.expect(t, 0, "XEP-0115", is("xep-0115")).Client
		if *c != (imgw.ClientInfo{Source: "xep-0115", Family: "slixmpp", Version: "1.8.3", Node: "http://slixmpp.com/ver/1.8.3"}) {
			t.Errorf("xep-0115: %+v", *c)
		}
	})

	t.Run("bounce", func(t *testing.T) {
		mark := h.rec.mark()
		for _, user := range []string{"nobody", "bob"} { // no account; offline
			h.a.Send(imgw.Outbound{To: imgw.Address{Network: h.a.Network(), User: srv.JID(user), Device: "x"}, Text: "hi", ID: "to-" + user})
		}
		for _, user := range []string{"nobody", "bob"} {
			in := h.rec.expect(t, mark, "bounce from "+user, func(in imgw.Inbound) bool {
				return in.Kind == imgw.Bounce && in.ID == "to-"+user
			})
			if in.Error != "service-unavailable" && in.Error != "item-not-found" || in.From.User != srv.JID(user) {
				t.Errorf("bounce %s", describe(in))
			}
		}
		// Undeliverable before it reaches the network.
		for _, to := range []imgw.Address{
			{Network: "webchat", User: srv.JID("alice")},
			{Network: h.a.Network(), User: "not a jid@@"},
			{Network: h.a.Network(), User: "agent7@" + srv.ComponentDomain},
		} {
			h.a.Send(imgw.Outbound{To: to, Text: "x", ID: "bad-" + to.User})
			in := h.rec.expect(t, mark, "bounce for "+to.String(), func(in imgw.Inbound) bool {
				return in.Kind == imgw.Bounce && in.ID == "bad-"+to.User
			})
			if in.Error != "jid-malformed" {
				t.Errorf("bounce %s", describe(in))
			}
		}
		h.a.Send(imgw.Outbound{To: h.addr(alice), Text: strings.Repeat("z", 5000), ID: "huge"})
		if in := h.rec.expect(t, mark, "bounce for a huge text", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Bounce && in.ID == "huge"
		}); in.Error != "policy-violation" {
			t.Errorf("bounce %s", describe(in))
		}
	})

	mallory := xmpptest.StartCustomer(t, srv, xmpptest.CustomerConfig{
		JID: srv.JID("mallory"), Password: "mallorypw", Resource: "x", RefuseVersion: true,
	})
	t.Run("hostile stanzas", func(t *testing.T) {
		connects := h.a.connects.Load()
		mark := h.rec.mark()
		to := fmt.Sprintf(" to='%s' ", public)
		// Another local part of the domain: an error from the public
		// address that tells nothing.
		mallory.SendMessage(xmpptest.Message{To: "agent7@" + srv.ComponentDomain, Body: "secret plan", ID: "m-agent"})
		e, err := mallory.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "m-agent" })
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "error" || e.Error != "service-unavailable" || e.From != public || strings.Contains(e.XML, "secret plan") {
			t.Errorf("error for another local part: %+v", e)
		}
		// Too big: refused to the sender, never forwarded.
		mallory.SendMessage(xmpptest.Message{To: public, Body: strings.Repeat("B", 10000), ID: "m-big"})
		e, err = mallory.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "m-big" })
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "error" || e.Error != "policy-violation" || e.From != public || strings.Contains(e.XML, "BBBB") {
			t.Errorf("error for a huge message: %+v", e)
		}
		// Garbage of every kind, then a plain message that must still
		// arrive over the same component connection.
		for _, raw := range []string{
			`<message type='chat'` + to + `id='g1'><body>ok<x xmlns='urn:evil'><deep><deeper/></deep></x></body><composing xmlns='http://jabber.org/protocol/chatstates'/><unknown xmlns='foo'>&lt;/message&gt;</unknown></message>`,
			`<message type='chat'` + to + `id='g2'><body xmlns='urn:not-a-body'>hidden</body><body xml:lang='de'>hallo</body><body>second</body></message>`,
			`<message type='groupchat'` + to + `id='g3'><body>room</body></message>`,
			`<message type='chat'` + to + `id='g4'><thread/><subject/><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>x</p></body></html></message>`,
			`<message type='chat'` + to + `id='g5'>` + strings.Repeat("<a xmlns='urn:n'>", 60) + strings.Repeat("</a>", 60) + `</message>`,
			`<presence` + to + `><show>bogus</show><priority>99999</priority><status/><c xmlns='http://jabber.org/protocol/caps' hash='md5' node='' ver=''/></presence>`,
			`<iq type='set' id='i1'` + to + `><query xmlns='urn:unknown'/></iq>`,
			`<iq type='get' id='i2'` + to + `/>`,
			`<iq type='get' id='i3' to='agent7@` + srv.ComponentDomain + `'><query xmlns='jabber:iq:version'/></iq>`,
			`<iq type='result' id='i4'` + to + `/>`,
			`<iq type='error' id='i5'` + to + `><error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
			`<iq type='get' id='i6'` + to + `><query xmlns='http://jabber.org/protocol/disco#info' node='x#y'/></iq>`,
			`<iq type='get' id='i7'` + to + `><query xmlns='jabber:iq:version'/></iq>`,
			`<iq type='get' id='i8' to='` + srv.ComponentDomain + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			`<iq type='set' id='i9'` + to + `><query xmlns='jabber:iq:version'>` + strings.Repeat("Q", 6000) + `</query></iq>`,
			// Bounces of messages sent to someone else, or never sent.
			`<message type='error'` + to + `id='o1'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
			`<message type='error'` + to + `id='forged'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
			`<presence type='probe'` + to + `/>`,
		} {
			mallory.Raw(raw)
		}
		for _, want := range []struct{ id, typ, cond string }{
			{"i1", "error", "service-unavailable"},
			{"i2", "error", ""}, // Prosody answers bad-request itself
			{"i3", "error", "service-unavailable"},
			{"i6", "error", "item-not-found"},
			{"i7", "result", ""},
			{"i8", "result", ""},
			{"i9", "error", "policy-violation"},
		} {
			got, err := mallory.Expect(ctx, func(s xmpptest.Stanza) bool { return s.Kind == "iq" && s.ID == want.id })
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != want.typ || want.cond != "" && got.Error != want.cond {
				t.Errorf("iq %s: got %s %q, want %s %q: %s", want.id, got.Type, got.Error, want.typ, want.cond, got.XML)
			}
			if want.id == "i7" && (!strings.Contains(got.XML, "ccswitch-test") || got.From != public) {
				t.Errorf("version answer %s", got.XML)
			}
		}
		if _, err := mallory.Expect(ctx, func(s xmpptest.Stanza) bool {
			return s.Kind == "presence" && s.From == public && s.Type == "available"
		}); err != nil {
			t.Fatalf("probe answer: %v", err)
		}
		mallory.SendMessage(xmpptest.Message{To: public, Body: "still connected?", ID: "m-last"})
		h.rec.expect(t, mark, "the last message", func(in imgw.Inbound) bool { return in.Kind == imgw.Message && in.ID == "m-last" })
		if n := h.a.connects.Load(); n != connects || !h.a.Connected() {
			t.Errorf("component reconnected (%d connects, was %d) or is down", n, connects)
		}
		texts := map[string]string{}
		for _, in := range h.rec.all()[mark:] {
			if !from(mallory)(in) {
				continue
			}
			if in.Kind == imgw.Message {
				texts[in.ID] = in.Text
			}
			if strings.Contains(in.Text, "BBBB") {
				t.Errorf("the huge message was forwarded")
			}
			if in.Kind == imgw.Presence && (in.Presence.Show != "" || in.Presence.Priority != 0) {
				t.Errorf("bogus presence kept: %+v", *in.Presence)
			}
			if in.Kind == imgw.Bounce {
				t.Errorf("forged bounce reported: %s", describe(in))
			}
			if in.Kind == imgw.Client && in.Client.Source == "xep-0092" {
				t.Errorf("mallory refused XEP-0092 but got %+v", *in.Client)
			}
		}
		for id, want := range map[string]string{"g1": "ok", "g2": "hallo", "m-last": "still connected?"} {
			if texts[id] != want {
				t.Errorf("message %s: text %q, want %q", id, texts[id], want)
			}
		}
		for _, id := range []string{"g3", "g4", "g5", "m-big", "m-agent"} {
			if _, ok := texts[id]; ok {
				t.Errorf("message %s forwarded", id)
			}
		}
	})

	t.Run("probe after restart", func(t *testing.T) {
		h.stop()
		// Change presence while the component is away, and wait for
		// the server to have it (it echoes it to alice).
		alice.Presence(xmpptest.Presence{Show: "away", Status: "lunch", Priority: 2})
		if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool {
			return s.Kind == "presence" && s.From == alice.JID && s.Show == "away"
		}); err != nil {
			t.Fatal(err)
		}
		h2 := startAdapter(t, srv, harnessConfig{subs: subs})
		in := h2.rec.expect(t, 0, "alice's presence after the probe", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Presence && from(alice)(in)
		})
		if p := in.Presence; !p.Available || p.Show != "away" || p.Status != "lunch" || p.Priority != 2 {
			t.Errorf("presence %+v", *p)
		}
		// alice sees the center online again.
		if _, err := alice.Expect(ctx, func(s xmpptest.Stanza) bool {
			return s.Kind == "presence" && s.From == public && s.Type == "available"
		}); err != nil {
			t.Fatal(err)
		}
		alice.Send(public, "back from lunch")
		h2.rec.expect(t, 0, "message to the new adapter", func(in imgw.Inbound) bool {
			return in.Kind == imgw.Message && in.Text == "back from lunch"
		})
		h2.stop()
	})

	// Subscribe went out once although slixmpp approves and asks back.
	n := 0
	for _, s := range alice.Received() {
		if s.Kind == "presence" && s.Type == "subscribe" && s.From == public {
			n++
		}
	}
	if n != 1 {
		t.Errorf("alice got %d subscribe requests, want 1", n)
	}
	xmpptest.CheckPrivacy(t, srv, alice, "bob", "mallory", "agent7", srv.Secret)
	xmpptest.CheckPrivacy(t, srv, mallory, "alice", "bob", srv.Secret)
}

// gate holds the adapter's connection attempts while it is closed.
type gate struct {
	mu sync.Mutex
	ch chan struct{} // closed while the gate is open
}

func newGate() *gate {
	ch := make(chan struct{})
	close(ch)
	return &gate{ch: ch}
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ch = make(chan struct{})
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.ch)
}

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestProsodyRestart(t *testing.T) {
	t.Parallel()
	serverRestart(t, xmpptest.Prosody(t, xmpptest.Config{Users: map[string]string{"carol": "carolpw"}}))
}

func TestEjabberdRestart(t *testing.T) {
	t.Parallel()
	serverRestart(t, xmpptest.Ejabberd(t, xmpptest.Config{Users: map[string]string{"carol": "carolpw"}}))
}

// serverRestart stops the server in the middle of a conversation: the
// adapter reconnects once it is back, delivers what was sent during the
// outage, in order, and learns the customer's presence again by probing
// (the customer is online before the adapter reconnects, so only the
// probe can tell it).
func serverRestart(t *testing.T, srv *xmpptest.Server) {
	g := newGate()
	h := startAdapter(t, srv, harnessConfig{dial: g.dial})
	public := h.a.Public()
	ctx := expectCtx(t)
	opts := xmpptest.CustomerConfig{JID: srv.JID("carol"), Password: "carolpw", Resource: "phone", Subscribe: public}
	carol := xmpptest.StartCustomer(t, srv, opts)
	h.rec.expect(t, 0, "carol's presence", func(in imgw.Inbound) bool { return in.Kind == imgw.Presence && from(carol)(in) })
	carol.Send(public, "my order is late")
	h.rec.expect(t, 0, "carol's message", func(in imgw.Inbound) bool { return in.Text == "my order is late" })
	h.a.Send(imgw.Outbound{To: h.addr(carol), Text: "let me check", ID: "r1"})
	if _, err := carol.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "r1" }); err != nil {
		t.Fatal(err)
	}

	g.close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := h.a.waitDisconnected(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-carol.Done():
	case <-ctx.Done():
		t.Fatal("carol still connected")
	}
	mark := h.rec.mark()
	h.a.Send(imgw.Outbound{To: h.addr(carol), Text: "found it:", ID: "r2"})
	h.a.Send(imgw.Outbound{To: h.addr(carol), State: imgw.StateComposing}) // stale by then: dropped
	h.a.Send(imgw.Outbound{To: h.addr(carol), Text: "it ships today", ID: "r3"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	opts.Subscribe = ""
	carol = xmpptest.StartCustomer(t, srv, opts)
	if h.a.Connected() {
		t.Fatal("connected through a closed gate")
	}
	g.open()
	if err := h.a.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	in := h.rec.expect(t, mark, "carol's presence from the probe", func(in imgw.Inbound) bool {
		return in.Kind == imgw.Presence && from(carol)(in)
	})
	if !in.Presence.Available {
		t.Errorf("presence %+v", *in.Presence)
	}
	r3, err := carol.Expect(ctx, func(s xmpptest.Stanza) bool { return s.ID == "r3" })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range carol.Received() {
		if s.Kind == "message" && s.From == public {
			got = append(got, s.ID+":"+s.Body+":"+s.State)
		}
	}
	if want := []string{"r2:found it::", "r3:it ships today:"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("carol got %q, want %q (%s)", got, want, r3.XML)
	}
	carol.Send(public, "thanks")
	h.rec.expect(t, mark, "carol's message after the restart", func(in imgw.Inbound) bool { return in.Text == "thanks" })
	xmpptest.CheckPrivacy(t, srv, carol, srv.Secret)
}
