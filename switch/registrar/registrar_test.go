package registrar

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

func TestHA1(t *testing.T) {
	// RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life.
	if got, want := HA1("Mufasa", "testrealm@host.com", "Circle Of Life"), "939e7578ed9e3c518a452acee763bce9"; got != want {
		t.Errorf("HA1 = %s, want %s", got, want)
	}
	c := NewStaticCredentials("r", map[string]string{"u": "p"})
	if ha1, ok := c.HA1("u", "r"); !ok || ha1 != HA1("u", "r", "p") {
		t.Errorf("StaticCredentials.HA1(u) = %q, %v", ha1, ok)
	}
	if _, ok := c.HA1("nobody", "r"); ok {
		t.Error("StaticCredentials.HA1(nobody) ok")
	}
	if _, ok := NoCredentials().HA1("u", "r"); ok {
		t.Error("NoCredentials().HA1 ok")
	}
}

func TestRegisterChallengeResponse(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*creds)
	}{
		{"qop=auth", func(*creds) {}},
		{"no qop (RFC 2069 style)", func(c *creds) { c.qop = "" }},
		{"no algorithm", func(c *creds) { c.algorithm = "" }},
		{"algorithm in lower case", func(c *creds) { c.algorithm = "md5" }},
		{"no opaque", func(c *creds) { c.noOpaque = true }},
		{"upper-case response", func(c *creds) {
			c2 := *c
			c2.noOpaque = false
			c.response = strings.ToUpper(responseOf(c2))
		}},
		{"nc counted up", func(c *creds) { c.nc = "0000000a" }},
		{"digest uri written differently", func(c *creds) { c.uri = "SIP:127.0.0.1:5070" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, clk, changes := newTestRegistrar(t)
			p := newPhone(t, r, "agent1")
			chal := p.challenge()
			if chal.Realm != testRealm || chal.Nonce == "" || chal.Opaque == "" ||
				chal.Algorithm != "MD5" || !slices.Equal(chal.QOP, []string{"auth"}) || chal.Stale {
				t.Fatalf("challenge = %+v", chal)
			}
			c := answer(chal, "agent1", "secret")
			tt.modify(&c)
			res := p.send(p.request("Authorization: " + c.header()))
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("got %s, want 200", res.StartLine())
			}
			if got, want := responseContacts(t, res), []string{"sip:agent1@127.0.0.1:5090;transport=udp;expires=3600"}; !slices.Equal(got, want) {
				t.Errorf("200 contacts = %q, want %q", got, want)
			}
			if res.GetHeader("Date") == nil {
				t.Error("200 without Date")
			}
			got := r.Lookup("agent1")
			if len(got) != 1 {
				t.Fatalf("Lookup = %v, want one contact", got)
			}
			want := Contact{
				Source: "127.0.0.1:5090", Transport: "UDP", Expires: clk.Now().Add(time.Hour),
				UserAgent: "registrar-test", CallID: "call-agent1", CSeq: 2,
			}
			got0 := got[0]
			if got0.URI.String() != "sip:agent1@127.0.0.1:5090;transport=udp" {
				t.Errorf("URI = %s", got0.URI.String())
			}
			got0.URI = sip.Uri{}
			if !reflect.DeepEqual(got0, want) {
				t.Errorf("Lookup = %+v\nwant %+v", got0, want)
			}
			if calls := changes.take(); len(calls) != 1 || calls[0].user != "agent1" || len(calls[0].contacts) != 1 {
				t.Errorf("OnChange calls = %+v, want one for agent1", calls)
			}
			if users := r.Users(); !slices.Equal(users, []string{"agent1"}) {
				t.Errorf("Users = %v", users)
			}
		})
	}
}

// responseOf computes the response field of c.
func responseOf(c creds) string {
	h := c.header()
	i := strings.Index(h, `response="`) + len(`response="`)
	return h[i : i+32]
}

// TestRegisterIcholyClient registers with credentials computed by
// github.com/icholy/digest, as sipgo's client does.
func TestRegisterIcholyClient(t *testing.T) {
	r, _, _ := newTestRegistrar(t)
	for user := range testPasswords {
		newPhone(t, r, user).mustRegister()
	}
	if got := r.Users(); len(got) != len(testPasswords) {
		t.Errorf("Users = %v", got)
	}
}

func TestRegisterAuthFailures(t *testing.T) {
	tests := []struct {
		name string
		user string // the registering phone; default agent1
		// creds returns the Authorization header value to send, given the
		// phone's challenge and the registrar (to get other challenges).
		creds      func(t *testing.T, r *Registrar, clk *fakeClock, c creds) string
		wantCode   int
		wantStale  bool
		wantReason string // a substring of the reason phrase
	}{
		{
			name: "wrong password",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.password = "wrong"
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "wrong password, no qop",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.password, c.qop = "wrong", ""
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "unknown user",
			user: "nobody",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.password = "whatever"
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "stale nonce",
			creds: func(_ *testing.T, _ *Registrar, clk *fakeClock, c creds) string {
				clk.Advance(DefaultNonceTTL + time.Second)
				return c.header()
			},
			wantCode:  sip.StatusUnauthorized,
			wantStale: true,
		},
		{
			name: "stale nonce and wrong password",
			creds: func(_ *testing.T, _ *Registrar, clk *fakeClock, c creds) string {
				clk.Advance(DefaultNonceTTL + time.Second)
				c.password = "wrong"
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "tampered nonce",
			creds: func(t *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				raw, err := base64.RawURLEncoding.DecodeString(c.nonce)
				if err != nil {
					t.Fatalf("nonce is not base64url: %v", err)
				}
				raw[8] ^= 1 // one bit of the timestamp
				c.nonce = base64.RawURLEncoding.EncodeToString(raw)
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "nonce not from this registrar",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "nonce issued in the future",
			creds: func(_ *testing.T, r *Registrar, clk *fakeClock, c creds) string {
				c.nonce = r.newNonce("agent1", clk.Now().Add(time.Hour))
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "nonce issued to another user, right password",
			user: "agent2",
			creds: func(t *testing.T, r *Registrar, _ *fakeClock, c creds) string {
				other := newPhone(t, r, "agent1").challenge()
				c.nonce = other.Nonce
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "replay of another user's credentials",
			user: "agent2",
			creds: func(t *testing.T, r *Registrar, _ *fakeClock, _ creds) string {
				other := newPhone(t, r, "agent1").challenge()
				return answer(other, "agent1", "secret").header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "username is not the To user",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.username, c.password = "agent2", "hunter2"
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "response for another method",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.method = "INVITE"
				return c.header()
			},
			wantCode: sip.StatusForbidden,
		},
		{
			name: "digest uri is not the Request-URI",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.uri = "sip:evil.example.com"
				return c.header()
			},
			wantCode:   sip.StatusBadRequest,
			wantReason: "uri",
		},
		{
			name: "credentials for another realm",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.realm = "other"
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "wrong opaque",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.opaque = "0123"
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "unsupported algorithm",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.algorithm = "SHA-256"
				return c.header()
			},
			wantCode: sip.StatusUnauthorized,
		},
		{
			name: "qop=auth-int",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.qop = "auth-int"
				return c.header()
			},
			wantCode: sip.StatusBadRequest,
		},
		{
			name: "qop=auth without cnonce",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				c.cnonce = ""
				return c.header()
			},
			wantCode: sip.StatusBadRequest,
		},
		{
			name: "no response",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, c creds) string {
				return `Digest username="agent1", realm="` + c.realm + `", nonce="` + c.nonce + `", uri="sip:127.0.0.1:5070"`
			},
			wantCode: sip.StatusBadRequest,
		},
		{
			name: "malformed Authorization",
			creds: func(_ *testing.T, _ *Registrar, _ *fakeClock, _ creds) string {
				return `Digest username="agent1, realm=`
			},
			wantCode: sip.StatusBadRequest,
		},
		{
			name:     "Basic credentials",
			creds:    func(_ *testing.T, _ *Registrar, _ *fakeClock, _ creds) string { return "Basic YWdlbnQxOnNlY3JldA==" },
			wantCode: sip.StatusUnauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, clk, changes := newTestRegistrar(t)
			user := cmpOr(tt.user, "agent1")
			p := newPhone(t, r, user)
			chal := p.challenge()
			hdr := tt.creds(t, r, clk, answer(chal, user, testPasswords[user]))
			res := p.send(p.request("Authorization: " + hdr))
			if res.StatusCode != tt.wantCode {
				t.Fatalf("got %s, want %d", res.StartLine(), tt.wantCode)
			}
			if !strings.Contains(res.Reason, tt.wantReason) {
				t.Errorf("reason %q does not mention %q", res.Reason, tt.wantReason)
			}
			if tt.wantCode == sip.StatusUnauthorized {
				got := mustChallenge(t, res, sip.StatusUnauthorized, "WWW-Authenticate")
				if got.Stale != tt.wantStale {
					t.Errorf("stale = %v, want %v", got.Stale, tt.wantStale)
				}
				if got.Nonce == chal.Nonce {
					t.Error("the new challenge repeats the old nonce")
				}
			}
			if got := r.Lookup(user); got != nil {
				t.Errorf("Lookup(%s) = %v after a failure", user, got)
			}
			if got := r.Users(); len(got) != 0 {
				t.Errorf("Users = %v after a failure", got)
			}
			if got := changes.take(); len(got) != 0 {
				t.Errorf("OnChange called: %v", got)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestStaleNonceRetry: a phone refreshing an hour later presents its old
// nonce, gets stale=true, and succeeds with the new one.
func TestStaleNonceRetry(t *testing.T) {
	r, clk, _ := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")
	chal := p.challenge()
	c := answer(chal, "agent1", "secret")
	if res := p.send(p.request("Authorization: " + c.header())); res.StatusCode != sip.StatusOK {
		t.Fatalf("got %s", res.StartLine())
	}
	clk.Advance(50 * time.Minute)
	c.nc = "00000002"
	res := p.send(p.request("Authorization: " + c.header()))
	chal2 := mustChallenge(t, res, sip.StatusUnauthorized, "WWW-Authenticate")
	if !chal2.Stale {
		t.Fatalf("challenge %+v, want stale=true", chal2)
	}
	if res := p.send(p.request("Authorization: " + answer(chal2, "agent1", "secret").header())); res.StatusCode != sip.StatusOK {
		t.Fatalf("retry with the new nonce: got %s", res.StartLine())
	}
	if got := r.Lookup("agent1"); len(got) != 1 || !got[0].Expires.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("Lookup = %+v, want one contact refreshed for an hour", got)
	}
}

// authed sends a REGISTER built by p with correct credentials (one
// challenge per request) and returns the response.
func authed(p *phone) *sip.Response {
	p.tb.Helper()
	return p.register()
}

func TestRegisterBindings(t *testing.T) {
	r, clk, changes := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")

	// Several contacts: two headers, one holding two comma-separated
	// contacts, one with its own expiry.
	p.contacts = []string{
		"<sip:agent1-0x55aa@127.0.0.1:5090>",
		`"Desk" <sip:agent1@10.0.0.7:5060;transport=tcp>;expires=600, <sip:agent1@[::1]:5062>;q=0.5`,
	}
	res := authed(p)
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("got %s", res.StartLine())
	}
	want := []string{
		"sip:agent1-0x55aa@127.0.0.1:5090;expires=3600",
		"sip:agent1@10.0.0.7:5060;transport=tcp;expires=600",
		"sip:agent1@[::1]:5062;expires=3600",
	}
	if got := responseContacts(t, res); !slices.Equal(got, want) {
		t.Errorf("200 contacts = %q\nwant %q", got, want)
	}
	if got := contactURIs(r.Lookup("agent1")); !slices.Equal(got, []string{
		"sip:agent1-0x55aa@127.0.0.1:5090", "sip:agent1@10.0.0.7:5060;transport=tcp", "sip:agent1@[::1]:5062",
	}) {
		t.Errorf("Lookup = %q", got)
	}
	if got := changes.take(); len(got) != 1 || len(got[0].contacts) != 3 {
		t.Errorf("OnChange = %+v, want one call with 3 contacts", got)
	}

	// A refresh of one contact: no change of the set, so no OnChange; it
	// becomes the most recent.
	clk.Advance(time.Minute)
	p.contacts = []string{"<sip:agent1@10.0.0.7:5060;transport=TCP>"} // transport compares without case
	p.expires = "1800"
	res = authed(p)
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("refresh: got %s", res.StartLine())
	}
	want = []string{
		"sip:agent1@10.0.0.7:5060;transport=TCP;expires=1800",
		"sip:agent1-0x55aa@127.0.0.1:5090;expires=3540",
		"sip:agent1@[::1]:5062;expires=3540",
	}
	if got := responseContacts(t, res); !slices.Equal(got, want) {
		t.Errorf("after refresh, 200 contacts = %q\nwant %q", got, want)
	}
	if got := changes.take(); len(got) != 0 {
		t.Errorf("OnChange after a plain refresh: %+v", got)
	}

	// The same contact, now from another address: a change.
	p.source = "127.0.0.1:6000"
	if res := authed(p); res.StatusCode != sip.StatusOK {
		t.Fatalf("move: got %s", res.StartLine())
	}
	if got := changes.take(); len(got) != 1 || got[0].contacts[0].Source != "127.0.0.1:6000" {
		t.Errorf("OnChange after a move = %+v", got)
	}

	// Unregister one contact with expires=0.
	p.contacts = []string{"<sip:agent1@[::1]:5062>;expires=0"}
	p.expires = ""
	res = authed(p)
	if got := responseContacts(t, res); len(got) != 2 {
		t.Errorf("after unregistering one, 200 contacts = %q", got)
	}
	if got := changes.take(); len(got) != 1 || len(got[0].contacts) != 2 {
		t.Errorf("OnChange after unregister = %+v", got)
	}

	// Unregistering a contact that is not bound changes nothing.
	p.contacts = []string{"<sip:agent1@192.0.2.1>"}
	p.expires = "0"
	if got := responseContacts(t, authed(p)); len(got) != 2 {
		t.Errorf("200 contacts = %q", got)
	}
	if got := changes.take(); len(got) != 0 {
		t.Errorf("OnChange = %+v", got)
	}

	// A query: no Contact, the bindings are listed.
	p.contacts = nil
	p.expires = ""
	if got := responseContacts(t, authed(p)); len(got) != 2 {
		t.Errorf("query: 200 contacts = %q", got)
	}

	// Contact: * with Expires: 0 removes everything.
	p.contacts = []string{"*"}
	p.expires = "0"
	res = authed(p)
	if res.StatusCode != sip.StatusOK || len(res.GetHeaders("Contact")) != 0 {
		t.Errorf("unregister all: %s with contacts %q", res.StartLine(), responseContacts(t, res))
	}
	if got := r.Lookup("agent1"); got != nil {
		t.Errorf("Lookup after *: %v", got)
	}
	if got := changes.take(); len(got) != 1 || got[0].contacts != nil {
		t.Errorf("OnChange after * = %+v", got)
	}
	if got := r.Users(); len(got) != 0 {
		t.Errorf("Users = %v", got)
	}
}

func TestRegisterExpiresValues(t *testing.T) {
	tests := []struct {
		name     string
		contact  string
		expires  string
		wantCode int
		want     string // the 200's expires
	}{
		{"Expires header", "<sip:agent1@127.0.0.1:5090>", "120", 200, "120"},
		{"default", "<sip:agent1@127.0.0.1:5090>", "", 200, "3600"},
		{"contact param wins", "<sip:agent1@127.0.0.1:5090>;expires=300", "120", 200, "300"},
		{"capped at MaxExpires", "<sip:agent1@127.0.0.1:5090>", "86400", 200, "3600"},
		{"beyond 2^32-1", "<sip:agent1@127.0.0.1:5090>", "99999999999999999999", 200, "3600"},
		{"minimum", "<sip:agent1@127.0.0.1:5090>", "60", 200, "60"},
		{"too brief", "<sip:agent1@127.0.0.1:5090>", "59", 423, ""},
		{"too brief param", "<sip:agent1@127.0.0.1:5090>;expires=1", "3600", 423, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, changes := newTestRegistrar(t)
			p := newPhone(t, r, "agent1")
			p.contacts = []string{tt.contact}
			p.expires = tt.expires
			res := authed(p)
			if res.StatusCode != tt.wantCode {
				t.Fatalf("got %s, want %d", res.StartLine(), tt.wantCode)
			}
			if tt.wantCode == sip.StatusIntervalToBrief {
				if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
					t.Errorf("423 Min-Expires = %v, want 60", h)
				}
				if r.Lookup("agent1") != nil || len(changes.take()) != 0 {
					t.Error("423 changed the bindings")
				}
				return
			}
			if got := responseContacts(t, res); !slices.Equal(got, []string{"sip:agent1@127.0.0.1:5090;expires=" + tt.want}) {
				t.Errorf("200 contacts = %q, want expires=%s", got, tt.want)
			}
		})
	}
}

// TestRegisterOrdering checks RFC 3261 §10.3 step 7: with the same
// Call-ID, a REGISTER must have a higher CSeq than the binding's.
func TestRegisterOrdering(t *testing.T) {
	r, _, changes := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")
	p.mustRegister() // CSeq 2
	changes.take()

	// A delayed REGISTER from the same phone (CSeq 2 again, after a new
	// challenge at CSeq 3... built by hand to keep CSeq 2).
	chal := p.challenge() // CSeq 3
	p.cseq = 1            // the next request has CSeq 2
	p.contacts = []string{"<sip:agent1@127.0.0.1:5090;transport=udp>;expires=0"}
	res := p.send(p.request("Authorization: " + answer(chal, "agent1", "secret").header()))
	if res.StatusCode != sip.StatusInternalServerError {
		t.Fatalf("out-of-order REGISTER: got %s, want 500", res.StartLine())
	}
	if len(r.Lookup("agent1")) != 1 || len(changes.take()) != 0 {
		t.Error("an out-of-order REGISTER changed the bindings")
	}

	// Contact: * is ordered the same way.
	chal = p.challenge()
	p.cseq = 0
	p.contacts, p.expires = []string{"*"}, "0"
	res = p.send(p.request("Authorization: " + answer(chal, "agent1", "secret").header()))
	if res.StatusCode != sip.StatusInternalServerError {
		t.Fatalf("out-of-order Contact *: got %s, want 500", res.StartLine())
	}

	// Another Call-ID (the phone rebooted) may start again from CSeq 1.
	p.callID, p.cseq = "call-after-reboot", 0
	p.contacts, p.expires = []string{"<sip:agent1@127.0.0.1:5090;transport=udp>"}, "3600"
	if res := p.register(); res.StatusCode != sip.StatusOK {
		t.Fatalf("after reboot: got %s", res.StartLine())
	}
	if got := r.Lookup("agent1"); len(got) != 1 || got[0].CallID != "call-after-reboot" || got[0].CSeq != 2 {
		t.Errorf("Lookup = %+v, want the binding updated by the new Call-ID", got)
	}

	// The same contact listed twice in one request is not out of order
	// with itself.
	p.contacts = []string{"<sip:agent1@127.0.0.1:5090;transport=udp>;expires=600", "<sip:agent1@127.0.0.1:5090;transport=udp>;expires=900"}
	res = p.register()
	if got := responseContacts(t, res); !slices.Equal(got, []string{"sip:agent1@127.0.0.1:5090;transport=udp;expires=900"}) {
		t.Errorf("duplicate contact: %s %q", res.StartLine(), got)
	}
}

func TestExpire(t *testing.T) {
	r, clk, changes := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")
	p.contacts = []string{"<sip:agent1@127.0.0.1:5090>;expires=120", "<sip:agent1@127.0.0.1:5091>;expires=600"}
	p.mustRegister()
	newPhone(t, r, "agent2").mustRegister()
	changes.take()

	clk.Advance(119 * time.Second)
	r.Expire()
	if got := len(r.Lookup("agent1")); got != 2 {
		t.Fatalf("at 119s, %d contacts, want 2", got)
	}
	if got := changes.take(); len(got) != 0 {
		t.Fatalf("OnChange before anything expired: %+v", got)
	}

	clk.Advance(time.Second)
	// Lookup hides expired bindings even before Expire runs.
	if got := contactURIs(r.Lookup("agent1")); !slices.Equal(got, []string{"sip:agent1@127.0.0.1:5091"}) {
		t.Fatalf("at 120s, Lookup = %q", got)
	}
	r.Expire()
	got := changes.take()
	if len(got) != 1 || got[0].user != "agent1" || !slices.Equal(contactURIs(got[0].contacts), []string{"sip:agent1@127.0.0.1:5091"}) {
		t.Fatalf("OnChange at 120s = %+v", got)
	}
	r.Expire()
	if got := changes.take(); len(got) != 0 {
		t.Fatalf("second Expire notified again: %+v", got)
	}

	clk.Advance(time.Hour)
	r.Expire()
	got = changes.take()
	if len(got) != 2 || got[0].user != "agent1" || got[1].user != "agent2" || got[0].contacts != nil || got[1].contacts != nil {
		t.Fatalf("OnChange after an hour = %+v, want agent1 and agent2 with no contacts", got)
	}
	if users := r.Users(); len(users) != 0 {
		t.Errorf("Users = %v", users)
	}
	r.mu.Lock()
	n := len(r.aors)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("%d users still stored", n)
	}
}

// TestExpiredBindingReplaced: a binding that expired without Expire
// running is reported gone when the next REGISTER changes the set.
func TestExpiredBindingReplaced(t *testing.T) {
	r, clk, changes := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")
	p.contacts = []string{"<sip:agent1@127.0.0.1:5090>;expires=60", "<sip:agent1@127.0.0.1:5091>"}
	p.mustRegister()
	changes.take()
	clk.Advance(2 * time.Minute)
	p.contacts = []string{"<sip:agent1@127.0.0.1:5091>"}
	p.mustRegister()
	got := changes.take()
	if len(got) != 1 || len(got[0].contacts) != 1 {
		t.Errorf("OnChange = %+v, want one call with the one live contact", got)
	}
}

func TestRegisterMalformed(t *testing.T) {
	base := func() []string {
		return []string{
			"REGISTER sip:127.0.0.1:5070 SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-1",
			"From: <sip:agent1@127.0.0.1>;tag=1",
			"To: <sip:agent1@127.0.0.1>",
			"Call-ID: c1",
			"CSeq: 5 REGISTER",
			"Contact: <sip:agent1@127.0.0.1:5090>",
			"Expires: 3600",
		}
	}
	without := func(prefix string, extra ...string) func() []string {
		return func() []string {
			ls := slices.DeleteFunc(base(), func(l string) bool { return strings.HasPrefix(l, prefix) })
			return append(ls, extra...)
		}
	}
	tests := []struct {
		name     string
		lines    func() []string
		edit     func(*sip.Request) // on the parsed request
		wantCode int
		reason   string
	}{
		{name: "no To", lines: without("To:"), wantCode: 400, reason: "To"},
		{name: "To without user", lines: without("To:", "To: <sip:127.0.0.1>"), wantCode: 400, reason: "user"},
		{name: "To not SIP", lines: without("To:", "To: <tel:+3212345678>"), wantCode: 400, reason: "SIP"},
		{name: "no Call-ID", lines: without("Call-ID:"), wantCode: 400, reason: "Call-ID"},
		{name: "no CSeq", lines: without("CSeq:"), wantCode: 400, reason: "CSeq"},
		{name: "CSeq of another method", lines: without("CSeq:", "CSeq: 5 INVITE"), wantCode: 400, reason: "CSeq"},
		{name: "Expires not a number", lines: without("Expires:", "Expires: soon"), wantCode: 400, reason: "Expires"},
		{name: "Expires negative", lines: without("Expires:", "Expires: -1"), wantCode: 400, reason: "Expires"},
		{name: "Expires as a date", lines: without("Expires:", "Expires: Thu, 01 Dec 2026 16:00:00 GMT"), wantCode: 400, reason: "Expires"},
		{name: "two Expires", lines: func() []string { return append(base(), "Expires: 60") }, wantCode: 400, reason: "Expires"},
		{name: "bad contact expires", lines: without("Contact:", "Contact: <sip:agent1@127.0.0.1:5090>;expires=x"), wantCode: 400, reason: "expires"},
		{name: "empty contact expires", lines: without("Contact:", "Contact: <sip:agent1@127.0.0.1:5090>;expires="), wantCode: 400, reason: "expires"},
		{name: "contact not SIP", lines: without("Contact:", "Contact: <mailto:agent1@example.com>"), wantCode: 400, reason: "Contact"},
		{
			name:  "bad Contact",
			lines: base,
			edit: func(req *sip.Request) {
				req.RemoveHeader("Contact")
				req.AppendHeader(sip.NewHeader("Contact", "<sip:agent1@127.0.0.1:5090"))
			},
			wantCode: 400, reason: "Contact",
		},
		{
			name:  "Contact without URI",
			lines: base,
			edit: func(req *sip.Request) {
				req.RemoveHeader("Contact")
				req.AppendHeader(sip.NewHeader("Contact", ""))
			},
			wantCode: 400, reason: "Contact",
		},
		{name: "* without Expires", lines: without("Contact:", "Contact: *"), edit: func(req *sip.Request) { req.RemoveHeader("Expires") }, wantCode: 400, reason: "*"},
		{name: "* with Expires 3600", lines: without("Contact:", "Contact: *"), wantCode: 400, reason: "*"},
		{name: "* with another contact", lines: without("Expires:", "Contact: *", "Expires: 0"), wantCode: 400, reason: "*"},
		{name: "Require", lines: func() []string { return append(base(), "Require: gruu, path") }, wantCode: 420},
		{name: "not REGISTER", lines: func() []string { return append([]string{"OPTIONS sip:127.0.0.1:5070 SIP/2.0"}, base()[1:]...) }, wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, changes := newTestRegistrar(t)
			p := newPhone(t, r, "agent1")
			p.mustRegister()
			before := r.Lookup("agent1")
			changes.take()

			req := mustParseRequest(t, append(tt.lines(), "Content-Length: 0")...)
			if tt.edit != nil {
				tt.edit(req)
			}
			tx := newRecordingTx()
			r.HandleRegister(req, tx)
			res := tx.onlyResponse(t)
			if res.StatusCode != tt.wantCode || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s, want %d mentioning %q", res.StartLine(), tt.wantCode, tt.reason)
			}
			if tt.wantCode == sip.StatusBadExtension {
				if h := res.GetHeader("Unsupported"); h == nil || h.Value() != "gruu, path" {
					t.Errorf("420 Unsupported = %v", h)
				}
			}
			if got := r.Lookup("agent1"); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("bindings changed:\n%v\n%v", before, got)
			}
			if got := changes.take(); len(got) != 0 {
				t.Errorf("OnChange called: %+v", got)
			}
		})
	}
}

// TestMalformedBeforeChallenge: a malformed REGISTER gets 400, not a
// challenge, even with credentials missing.
func TestMalformedBeforeChallenge(t *testing.T) {
	r, _, _ := newTestRegistrar(t)
	p := newPhone(t, r, "agent1")
	p.expires = "bogus"
	if res := p.send(p.request()); res.StatusCode != sip.StatusBadRequest {
		t.Errorf("got %s, want 400", res.StartLine())
	}
}

func TestAuthenticate(t *testing.T) {
	r, _, _ := newTestRegistrar(t)
	request := func(method, from string, extra ...string) *sip.Request {
		lines := append([]string{
			method + " sip:1000@127.0.0.1:5070 SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-inv",
			"From: <sip:" + from + "@127.0.0.1>;tag=1",
			"To: <sip:1000@127.0.0.1>",
			"Call-ID: inv1",
			"CSeq: 1 " + method,
		}, extra...)
		return mustParseRequest(t, append(lines, "Content-Length: 0")...)
	}
	for _, method := range []string{"INVITE", "MESSAGE"} {
		t.Run(method, func(t *testing.T) {
			tx := newRecordingTx()
			if user, ok := r.Authenticate(request(method, "agent1"), tx); ok || user != "" {
				t.Fatalf("Authenticate without credentials = %q, %v", user, ok)
			}
			chal := mustChallenge(t, tx.onlyResponse(t), sip.StatusProxyAuthRequired, "Proxy-Authenticate")
			c := answer(chal, "agent1", "secret")
			c.method, c.uri = method, "sip:1000@127.0.0.1:5070"

			tx = newRecordingTx()
			user, ok := r.Authenticate(request(method, "agent1", "Proxy-Authorization: "+c.header()), tx)
			if !ok || user != "agent1" || len(tx.Responses()) != 0 {
				t.Fatalf("Authenticate = %q, %v, responses %v", user, ok, tx.Responses())
			}

			// Authorization (as after a 401) is accepted too.
			tx = newRecordingTx()
			if _, ok := r.Authenticate(request(method, "agent1", "Authorization: "+c.header()), tx); !ok {
				t.Fatalf("Authenticate with Authorization: %v", tx.Responses())
			}

			bad := c
			bad.password = "wrong"
			tx = newRecordingTx()
			if _, ok := r.Authenticate(request(method, "agent1", "Proxy-Authorization: "+bad.header()), tx); ok {
				t.Fatal("Authenticate with a wrong password ok")
			}
			if res := tx.onlyResponse(t); res.StatusCode != sip.StatusForbidden {
				t.Errorf("wrong password: got %s, want 403", res.StartLine())
			}

			// agent2 may not use agent1's credentials.
			tx = newRecordingTx()
			if _, ok := r.Authenticate(request(method, "agent2", "Proxy-Authorization: "+c.header()), tx); ok {
				t.Fatal("agent2 authenticated with agent1's credentials")
			}
			if res := tx.onlyResponse(t); res.StatusCode != sip.StatusForbidden {
				t.Errorf("other user: got %s, want 403", res.StartLine())
			}

			// A REGISTER's credentials do not authenticate an INVITE.
			reg := answer(chal, "agent1", "secret")
			tx = newRecordingTx()
			if _, ok := r.Authenticate(request(method, "agent1", "Proxy-Authorization: "+reg.header()), tx); ok {
				t.Fatal("REGISTER credentials accepted")
			}
		})
	}
	t.Run("no From", func(t *testing.T) {
		req := mustParseRequest(t, "INVITE sip:1000@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-x",
			"To: <sip:1000@127.0.0.1>", "Call-ID: x", "CSeq: 1 INVITE", "Content-Length: 0")
		tx := newRecordingTx()
		if _, ok := r.Authenticate(req, tx); ok {
			t.Fatal("ok")
		}
		if res := tx.onlyResponse(t); res.StatusCode != sip.StatusBadRequest {
			t.Errorf("got %s, want 400", res.StartLine())
		}
	})
	t.Run("REGISTER gets 401", func(t *testing.T) {
		tx := newRecordingTx()
		r.Authenticate(newPhone(t, r, "agent1").request(), tx)
		mustChallenge(t, tx.onlyResponse(t), sip.StatusUnauthorized, "WWW-Authenticate")
	})
}

func TestSameURI(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"sip:agent1@127.0.0.1:5090", "sip:agent1@127.0.0.1:5090", true},
		{"sip:agent1@EXAMPLE.com", "SIP:agent1@example.COM", true},
		{"sip:Agent1@example.com", "sip:agent1@example.com", false},
		{"sip:agent1@example.com", "sip:agent1@example.com:5060", false},
		{"sip:agent1@example.com;transport=tcp", "sip:agent1@example.com;transport=TCP", true},
		{"sip:agent1@example.com;transport=tcp", "sip:agent1@example.com", false},
		{"sip:agent1@example.com;ob", "sip:agent1@example.com", true},
		{"sip:agent1@example.com;foo=1", "sip:agent1@example.com;foo=2", false},
		{"sip:agent1@example.com;maddr=10.0.0.1", "sip:agent1@example.com", false},
		{"sip:agent1@example.com", "sips:agent1@example.com", false},
		{"sip:agent1@example.com?Subject=x", "sip:agent1@example.com", false},
	}
	for _, tt := range tests {
		var a, b sip.Uri
		if err := sip.ParseUri(tt.a, &a); err != nil {
			t.Fatal(err)
		}
		if err := sip.ParseUri(tt.b, &b); err != nil {
			t.Fatal(err)
		}
		if got := sameURI(&a, &b); got != tt.want {
			t.Errorf("sameURI(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := sameURI(&b, &a); got != tt.want {
			t.Errorf("sameURI(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

// TestConcurrentRegistrations registers many users at once (run with
// -race) and checks that OnChange's calls for one user come in order: the
// last one is the final state.
func TestConcurrentRegistrations(t *testing.T) {
	r, _, changes := newTestRegistrar(t)
	creds := StaticCredentials{}
	for i := range 50 {
		user := fmt.Sprintf("user%02d", i)
		creds[user] = HA1(user, testRealm, "pw")
	}
	creds["agent1"] = HA1("agent1", testRealm, "secret")
	r.creds = creds

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			p := newPhone(t, r, fmt.Sprintf("user%02d", i))
			p.password = "pw"
			p.mustRegister()
		})
		wg.Go(func() {
			p := newPhone(t, r, "agent1")
			p.callID = fmt.Sprintf("call-%d", i)
			p.contacts = []string{fmt.Sprintf("<sip:agent1@127.0.0.1:%d>", 6000+i)}
			p.mustRegister()
			if i%2 == 0 {
				p.contacts = []string{fmt.Sprintf("<sip:agent1@127.0.0.1:%d>;expires=0", 6000+i)}
				p.mustRegister()
			}
		})
	}
	wg.Wait()
	if got := len(r.Users()); got != 51 {
		t.Errorf("%d users, want 51", got)
	}
	final := map[string][]Contact{}
	for _, c := range changes.take() {
		final[c.user] = c.contacts
	}
	if len(final) != 51 {
		t.Errorf("OnChange for %d users, want 51", len(final))
	}
	for user, last := range final {
		if got, want := contactURIs(last), contactURIs(r.Lookup(user)); !slices.Equal(got, want) {
			t.Errorf("%s: last OnChange %q, Lookup %q", user, got, want)
		}
	}
	if got := len(r.Lookup("agent1")); got != 25 {
		t.Errorf("agent1 has %d contacts, want 25", got)
	}
}

// TestOnChangeReentrant: OnChange may call back into the registrar.
func TestOnChangeReentrant(t *testing.T) {
	clk := newFakeClock()
	var r *Registrar
	var seen [][]string
	r = New(Config{
		Realm:       testRealm,
		Credentials: NewStaticCredentials(testRealm, testPasswords),
		Now:         clk.Now,
		OnChange: func(user string, contacts []Contact) {
			seen = append(seen, contactURIs(r.Lookup(user)))
			r.Expire() // may notify again: queued, delivered after this call
		},
	})
	p := newPhone(t, r, "agent1")
	p.expires = "60"
	p.mustRegister()
	clk.Advance(time.Minute)
	r.Expire()
	if len(seen) != 2 || len(seen[0]) != 1 || len(seen[1]) != 0 {
		t.Errorf("OnChange saw %q", seen)
	}
}

func TestNew(t *testing.T) {
	r := New(Config{})
	if r.realm != DefaultRealm || r.minExpires != time.Minute || r.maxExpires != time.Hour ||
		r.defaultExpires != time.Hour || r.nonceTTL != 5*time.Minute || len(r.secret) != 32 {
		t.Errorf("defaults: %+v", r)
	}
	// Without credentials, nobody registers.
	p := newPhone(t, r, "agent1")
	chal := p.challenge()
	if chal.Realm != DefaultRealm {
		t.Errorf("realm %q", chal.Realm)
	}
	c := answer(chal, "agent1", "secret")
	if res := p.send(p.request("Authorization: " + c.header())); res.StatusCode != sip.StatusForbidden {
		t.Errorf("got %s, want 403", res.StartLine())
	}
	// Two registrars with random secrets do not accept each other's nonces.
	other := New(Config{Credentials: NewStaticCredentials(DefaultRealm, testPasswords)})
	p = newPhone(t, other, "agent1")
	if res := p.send(p.request("Authorization: " + c.header())); res.StatusCode != sip.StatusUnauthorized {
		t.Errorf("foreign nonce: got %s, want 401", res.StartLine())
	}
}

// TestLogNothingSensitive: a failed authentication is logged with the user,
// the source and a reason, never the password, nonce, cnonce or digest.
func TestLogNothingSensitive(t *testing.T) {
	var buf strings.Builder
	r := New(Config{
		Realm:       testRealm,
		Credentials: NewStaticCredentials(testRealm, testPasswords),
		Logger:      zerolog.New(&buf),
	})
	p := newPhone(t, r, "agent1")
	chal := p.challenge()
	c := answer(chal, "agent1", "wrong-password")
	if res := p.send(p.request("Authorization: " + c.header())); res.StatusCode != sip.StatusForbidden {
		t.Fatalf("got %s", res.StartLine())
	}
	logged := buf.String()
	for _, want := range []string{`"username":"agent1"`, `"source":"127.0.0.1:5090"`, `"reason":"wrong credentials"`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log %q lacks %s", logged, want)
		}
	}
	for _, secret := range []string{"wrong-password", chal.Nonce, c.cnonce, responseOf(c), HA1("agent1", testRealm, "secret")} {
		if strings.Contains(logged, secret) {
			t.Errorf("log %q contains %q", logged, secret)
		}
	}
}
