package imgw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/config"
)

// The networks of the tests: XMPP authenticates its users; SIP MESSAGE
// (a From anyone can write) and the web chat (a browser's key) do not.
var testNetworks = []struct {
	name string
	auth bool
}{{"xmpp:test", true}, {"webchat", false}, {"sip", false}}

// on returns a rig's adapter for network, adding it the first time.
func (r *rig) on(network string, auth bool) *fakeNet {
	if network == r.net.name {
		return r.net
	}
	if a, ok := r.gw.adapters[network].(*fakeNet); ok {
		return a
	}
	n := &fakeNet{name: network, auth: auth}
	r.gw.AddAdapter(n)
	return n
}

// sayOn has user write text on network.
func (r *rig) sayOn(network, user, text string) {
	r.gw.Handle(Inbound{Kind: Message, From: Address{Network: network, User: user, Device: "d1"}, Text: text})
}

// noOrderLeaked fails if any text sent on n names an order's status.
func noOrderLeaked(t *testing.T, n *fakeNet) {
	t.Helper()
	for _, o := range n.out {
		for _, st := range []string{"A-1: shipped", "C-9: lost", "shipped", "lost"} {
			if strings.Contains(o.Text, st) {
				t.Fatalf("order status %q reached %s on %s: %q", st, o.To.User, n.name, o.Text)
			}
		}
	}
}

// wantLines checks the texts sent to user on n, from its index from on.
func wantLines(t *testing.T, n *fakeNet, user string, from int, want ...string) {
	t.Helper()
	got := n.texts(user)
	if from > len(got) || strings.Join(got[from:], "|") != strings.Join(want, "|") {
		t.Fatalf("%s on %s got\n%q\nwant (from line %d)\n%q", user, n.name, got, from, want)
	}
}

const noVerify = `      verify: {field: postcode, prompt: "To protect your data, what is your postcode?", tries: 2}
`

// A customer the bot could not identify, and one identified by a name
// alone where no verification question is configured, ask for an order
// on every network: the bot says "Tell me who you are first." and reads
// no order.
func TestOrderStatusRefusedToTheUnverifiedOnEveryNetwork(t *testing.T) {
	for _, nw := range testNetworks {
		t.Run(nw.name+"/anonymous", func(t *testing.T) {
			r := newRig(t, testCenter)
			n := r.on(nw.name, nw.auth)
			const u = "stranger"
			for _, s := range []string{"hi", "nobody", "still nobody"} {
				r.sayOn(nw.name, u, s)
			}
			before := len(n.texts(u))
			r.sayOn(nw.name, u, "where is my order?")
			wantLines(t, n, u, before, "Tell me who you are first.", "Anything else? (1 billing, 2 technical, 3 order status)")
			r.sayOn(nw.name, u, "3")
			r.sayOn(nw.name, u, "C-9")
			r.sayOn(nw.name, u, "A-1")
			noOrderLeaked(t, n)
			if len(r.spy.lookups) != 0 {
				t.Fatalf("order lookups %v for an anonymous customer", r.spy.lookups)
			}
		})
		t.Run(nw.name+"/name only", func(t *testing.T) {
			r := newRig(t, strings.Replace(testCenter, noVerify, "", 1))
			n := r.on(nw.name, nw.auth)
			const u = "claims-to-be-carl"
			r.sayOn(nw.name, u, "hi")
			r.sayOn(nw.name, u, "Carl Other")
			before := len(n.texts(u))
			r.sayOn(nw.name, u, "3")
			wantLines(t, n, u, before, "Tell me who you are first.", "Anything else? (1 billing, 2 technical, 3 order status)")
			r.sayOn(nw.name, u, "C-9")
			noOrderLeaked(t, n)
			if len(r.spy.lookups) != 0 {
				t.Fatalf("order lookups %v for a customer identified by name only", r.spy.lookups)
			}
			// Identified all the same: routing knows the customer.
			if c := r.gw.byUser[userKey{nw.name, u}]; c == nil || c.customer == nil || c.customer.Number != "1002" || c.verified {
				t.Fatalf("conversation %+v, want Carl identified, unverified", c)
			}
		})
	}
}

// The right postcode, however typed, verifies the customer on any
// network: their own order, and still not another customer's.
func TestPostcodeVerifiesTheCustomersOwnOrdersOnly(t *testing.T) {
	for _, nw := range testNetworks {
		t.Run(nw.name, func(t *testing.T) {
			r := newRig(t, testCenter)
			n := r.on(nw.name, nw.auth)
			const u = "carl"
			r.sayOn(nw.name, u, "hi")
			r.sayOn(nw.name, u, "carl other")
			before := len(n.texts(u))
			r.sayOn(nw.name, u, "3")
			r.sayOn(nw.name, u, " 10 115 ")
			r.sayOn(nw.name, u, "C-9")
			r.sayOn(nw.name, u, "3")
			r.sayOn(nw.name, u, "A-1") // Alice's
			wantLines(t, n, u, before,
				"To protect your data, what is your postcode?",
				"Which order number?", "C-9: lost", "Anything else? (1 billing, 2 technical, 3 order status)",
				"Which order number?", "No such order of yours.", "Anything else? (1 billing, 2 technical, 3 order status)")
			if strings.Contains(strings.Join(n.texts(u), "|"), "shipped") {
				t.Fatal("Alice's order reached Carl")
			}
			for _, id := range r.spy.lookups {
				if id != 2 {
					t.Fatalf("order lookups %v, want only Carl's (2)", r.spy.lookups)
				}
			}
		})
	}
}

// Wrong postcodes leave the customer unverified; after the configured
// tries (2) the bot asks no more, not even when the right one comes.
func TestWrongPostcodeHasBoundedTries(t *testing.T) {
	r := newRig(t, testCenter)
	const u = "mallory@example.test"
	r.say(u, "hi")
	r.say(u, "Alice Example")
	before := len(r.net.texts(u))
	r.say(u, "3")
	r.say(u, "SW1A 1AA")
	r.say(u, "AB1 2CE")
	r.say(u, "3")
	r.say(u, "AB1 2CD") // right, too late: a reason now (routed), not an answer
	wantLines(t, r.net, u, before,
		"To protect your data, what is your postcode?",
		"That does not match our records. To protect your data, what is your postcode?",
		"Tell me who you are first.", "Anything else? (1 billing, 2 technical, 3 order status)",
		"Tell me who you are first.", "Anything else? (1 billing, 2 technical, 3 order status)",
		"Connecting you to an agent.")
	noOrderLeaked(t, r.net)
	if c := r.conv(u); c.verified || c.verifyWrong != 2 || c.customer.Number != "1001" {
		t.Fatalf("after wrong answers: verified %v wrong %d", c.verified, c.verifyWrong)
	}
	if len(r.spy.lookups) != 0 {
		t.Fatalf("order lookups %v", r.spy.lookups)
	}
	if _, err := r.store.LinkedCustomer(Address{Network: "xmpp:test", User: u}); err == nil {
		t.Fatal("a device linked after wrong answers")
	}
}

// An XMPP user linked to a customer is verified from its first message:
// no identification, no question. The same user on a network that does
// not authenticate users (SIP MESSAGE) gets no such trust.
func TestLinkedDeviceVerifiesWithoutTheQuestion(t *testing.T) {
	r := newRig(t, testCenter)
	const jid = "carl@example.test"
	r.store.Link(Address{Network: "xmpp:test", User: jid}, 2)
	r.say(jid, "hi")
	r.say(jid, "3")
	r.say(jid, "C-9")
	wantLines(t, r.net, jid, 0, "Welcome to Example Support!", "How can we help? 1 billing, 2 technical, 3 order status",
		"Which order number?", "C-9: lost", "Anything else? (1 billing, 2 technical, 3 order status)")

	sip := r.on("sip", false)
	r.store.Link(Address{Network: "sip", User: "sip:carl@example.test"}, 2)
	r.sayOn("sip", "sip:carl@example.test", "hi")
	r.sayOn("sip", "sip:carl@example.test", "3")
	wantLines(t, sip, "sip:carl@example.test", 0, "Welcome to Example Support!", "Your customer number, e-mail or name?",
		"I could not find you. Your customer number, e-mail or name?") // "3" is no customer
	if c := r.gw.byUser[userKey{"sip", "sip:carl@example.test"}]; c.verified || c.customer != nil {
		t.Fatalf("a link on SIP MESSAGE verified %+v", c.customer)
	}
	noOrderLeaked(t, sip)
}

// Verifying by the postcode from XMPP links the JID: the next chat needs
// no question. From SIP MESSAGE it links nothing.
func TestVerifiedCustomerLinksAnAuthenticatedDevice(t *testing.T) {
	r := newRig(t, testCenter)
	sip := r.on("sip", false)
	for _, nw := range []struct {
		net  *fakeNet
		user string
	}{{r.net, "alice@example.test"}, {sip, "sip:alice@example.test"}} {
		for _, s := range []string{"hi", "1001", "3", "AB12CD", "A-1", "/end"} {
			r.sayOn(nw.net.name, nw.user, s)
		}
		if got := strings.Join(nw.net.texts(nw.user), "|"); !strings.Contains(got, "A-1: shipped") {
			t.Fatalf("%s: %q", nw.net.name, got)
		}
	}
	r.say("alice@example.test", "hello again")
	r.wantLast("alice@example.test", "How can we help?")
	r.sayOn("sip", "sip:alice@example.test", "hello again")
	if got := sip.last("sip:alice@example.test"); got != "Your customer number, e-mail or name?" {
		t.Fatalf("SIP user after verifying: %q, want to be asked again", got)
	}
}

// A web chat opened with a valid hand-off token is its customer's,
// verified; an expired, forged or unsigned one verifies nothing, and the
// customer is identified and asked as usual.
func TestHandoffTokenVerifiesTheWebChat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		token    func(now time.Time) string
		verified bool
	}{
		{"valid", func(now time.Time) string { return SignHandoff(testSecret, "1002", now.Add(5*time.Minute)) }, true},
		{"expired", func(now time.Time) string { return SignHandoff(testSecret, "1002", now.Add(-time.Second)) }, false},
		{"forged", func(now time.Time) string {
			return SignHandoff([]byte("not-the-company-secret-not-the-company"), "1002", now.Add(time.Hour))
		}, false},
		{"number changed", func(now time.Time) string {
			tok := SignHandoff(testSecret, "1001", now.Add(time.Hour))
			other := SignHandoff(testSecret, "1002", now.Add(time.Hour))
			return strings.SplitN(other, ".", 2)[0] + "." + strings.SplitN(tok, ".", 2)[1]
		}, false},
		{"garbage", func(time.Time) string { return "1002" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testCenter)
			n := r.on("webchat", false)
			tok := tc.token(r.clk.Now())
			const u = "visitor-key"
			say := func(s string) {
				r.gw.Handle(Inbound{Kind: Message, From: Address{Network: "webchat", User: u, Device: "tab-1"}, Text: s, Identity: tok})
			}
			say("hi")
			c := r.gw.byUser[userKey{"webchat", u}]
			if c.verified != tc.verified {
				t.Fatalf("verified %v, want %v", c.verified, tc.verified)
			}
			if !tc.verified {
				wantLines(t, n, u, 0, "Welcome to Example Support!", "Your customer number, e-mail or name?")
				say("Carl Other")
				say("3")
				if got := n.last(u); got != "To protect your data, what is your postcode?" {
					t.Fatalf("unverified by the token: %q, want the question", got)
				}
				noOrderLeaked(t, n)
				return
			}
			say("3")
			say("C-9")
			wantLines(t, n, u, 0, "Welcome to Example Support!", "How can we help? 1 billing, 2 technical, 3 order status",
				"Which order number?", "C-9: lost", "Anything else? (1 billing, 2 technical, 3 order status)")
			if _, err := r.store.LinkedCustomer(Address{Network: "webchat", User: u}); err == nil {
				t.Error("a web chat visitor key was linked")
			}
		})
	}
}

// A gateway without a hand-off secret refuses every token; a short secret
// is refused at start.
func TestHandoffNeedsTheSecret(t *testing.T) {
	r := newRig(t, testCenter)
	r.gw.handoffSecret = nil
	r.on("webchat", false)
	tok := SignHandoff(testSecret, "1002", r.clk.Now().Add(time.Hour))
	r.gw.Handle(Inbound{Kind: Message, From: Address{Network: "webchat", User: "v"}, Text: "hi", Identity: tok})
	if c := r.gw.byUser[userKey{"webchat", "v"}]; c.verified || c.customer != nil {
		t.Fatalf("verified without a secret: %+v", c)
	}
	f, err := config.Parse("center.yaml", []byte(testCenter))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Clock: r.clk, TServer: r.ts, Center: f, Log: zerolog.Nop(), HandoffSecret: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short secret: %v", err)
	}
}

func TestVerifyHandoff(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := SignHandoff(testSecret, "C-1001", now.Add(time.Minute))
	for _, tc := range []struct {
		name, token string
		secret      []byte
		at          time.Time
		want        error
	}{
		{"valid", good, testSecret, now, nil},
		{"last second", good, testSecret, now.Add(59 * time.Second), nil},
		{"at expiry", good, testSecret, now.Add(time.Minute), ErrHandoffExpired},
		{"wrong secret", good, []byte("another-secret-another-secret-xx"), now, ErrHandoffInvalid},
		{"no secret", good, nil, now, ErrHandoffInvalid},
		{"expiry changed", strings.Replace(good, ".1800000060.", ".1900000060.", 1), testSecret, now, ErrHandoffInvalid},
		{"mac cut", good[:len(good)-2], testSecret, now, ErrHandoffInvalid},
		{"two parts", "QzEwMDE.1800000060", testSecret, now, ErrHandoffInvalid},
		{"empty", "", testSecret, now, ErrHandoffInvalid},
		{"huge", strings.Repeat("A", 600), testSecret, now, ErrHandoffInvalid},
	} {
		num, err := VerifyHandoff(tc.secret, tc.token, tc.at)
		if !errors.Is(err, tc.want) || (err == nil && num != "C-1001") {
			t.Errorf("%s: %q, %v; want %v", tc.name, num, err, tc.want)
		}
	}
}

// OrderStatus's contract: only the customer's own order; customer 0 (or
// less) is nobody and finds nothing.
func TestMemoryStoreOrderStatusContract(t *testing.T) {
	m := NewMemoryStore()
	alice := m.AddCustomer(Customer{Number: "1001"})
	carl := m.AddCustomer(Customer{Number: "1002"})
	m.AddOrder("A-1", alice, "shipped")
	for _, tc := range []struct {
		customer int64
		want     string
	}{{alice, "shipped"}, {carl, ""}, {0, ""}, {-1, ""}} {
		got, err := m.OrderStatus(" A-1 ", tc.customer)
		if got != tc.want || (tc.want == "") != (err == ErrNotFound) {
			t.Errorf("OrderStatus(A-1, %d) = %q, %v; want %q", tc.customer, got, err, tc.want)
		}
	}
}

// TestNameSaidOnlyWhenItTellsNothingNew: the bot's {name} is the
// customer's name for a customer who typed that name, or who is verified;
// someone who typed a customer number or an e-mail is not told whose it
// is, so trying numbers reveals nobody.
func TestNameSaidOnlyWhenItTellsNothingNew(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"1002", "Hello."},
		{"alice@example.test", "Hello."},
		{"alice example", "Hello Alice Example."},
	} {
		r := newRig(t, testCenter)
		u := "probe-" + tc.typed
		r.say(u, "hi")
		r.say(u, tc.typed)
		if got := r.net.texts(u); len(got) < 3 || got[2] != tc.want {
			t.Errorf("typed %q: got %q, want %q", tc.typed, got, tc.want)
		}
		for _, o := range r.net.out {
			if o.To.User == u && (strings.Contains(o.Text, "Carl") || tc.typed != "alice example" && strings.Contains(o.Text, "Alice")) {
				t.Errorf("typed %q: a name reached the customer: %q", tc.typed, o.Text)
			}
		}
	}
}

// A web chat page of a customer verified by a hand-off token tells the
// callback server's presence whose page it is; an unverified visitor's
// does not.
func TestPresenceToldWithTheVerifiedCustomer(t *testing.T) {
	for _, tc := range []struct {
		name, token, want string
	}{
		{"verified", "valid", "1002"},
		{"not verified", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testCenter)
			r.on("webchat", false)
			tok := ""
			if tc.token == "valid" {
				tok = SignHandoff(testSecret, "1002", r.clk.Now().Add(5*time.Minute))
			}
			var told []string
			r.gw.onPresence = func(_ Address, p PresenceInfo, customer string) {
				told = append(told, fmt.Sprintf("%v %s", p.Available, customer))
			}
			from := Address{Network: "webchat", User: "visitor", Device: "tab-1"}
			r.gw.Handle(Inbound{Kind: Message, From: from, Text: "hi", Identity: tok})
			r.gw.Handle(Inbound{Kind: Presence, From: from, Presence: &PresenceInfo{Available: true}})
			r.gw.Handle(Inbound{Kind: Presence, From: from, Presence: &PresenceInfo{}})
			want := []string{"true " + tc.want, "false " + tc.want}
			if !slices.Equal(told, want) {
				t.Fatalf("told %q, want %q", told, want)
			}
		})
	}
}
