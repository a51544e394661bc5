package registrar

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// anyUser knows every user, with password "pw".
type anyUser struct{}

func (anyUser) HA1(user, realm string) (string, bool) { return HA1(user, realm, "pw"), true }

var fuzzEpoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func newFuzzRegistrar() (*Registrar, *changeLog) {
	log := &changeLog{}
	return New(Config{
		Realm:       testRealm,
		Credentials: anyUser{},
		Secret:      []byte("fuzz secret"),
		Now:         func() time.Time { return fuzzEpoch },
		OnChange:    log.OnChange,
	}), log
}

// fuzzSeeds are valid REGISTERs and RFC 4475-style torture messages
// (written for this registrar: whitespace and folding, compact forms,
// escapes, odd contacts and expiries, broken credentials).
func fuzzSeeds() []string {
	crlf := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }
	head := func(contact, expires string, extra ...string) string {
		ls := []string{
			"REGISTER sip:127.0.0.1:5070 SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK776asdhds;rport",
			"From: <sip:agent1@127.0.0.1>;tag=1928301774",
			"To: <sip:agent1@127.0.0.1>",
			"Call-ID: a84b4c76e66710@pc33",
			"CSeq: 2 REGISTER",
		}
		if contact != "" {
			ls = append(ls, "Contact: "+contact)
		}
		if expires != "" {
			ls = append(ls, "Expires: "+expires)
		}
		ls = append(ls, extra...)
		return crlf(append(ls, "Content-Length: 0")...)
	}
	// A REGISTER with credentials valid for the fuzz registrar: the 200 path.
	r, _ := newFuzzRegistrar()
	nonce := r.newNonce("agent1", fuzzEpoch)
	c := creds{
		username: "agent1", password: "pw", realm: testRealm, nonce: nonce, uri: "sip:127.0.0.1:5070",
		method: "REGISTER", opaque: r.opaque, algorithm: "MD5", qop: "auth", nc: "00000001", cnonce: "abc",
	}
	noQop := c
	noQop.qop = ""
	return []string{
		head("<sip:agent1@127.0.0.1:5090;transport=udp>", "3600"),
		head("<sip:agent1@127.0.0.1:5090>", "3600", "Authorization: "+c.header()),
		head("<sip:agent1-0x55aa@127.0.0.1:5090>;expires=120, <sip:agent1@[2001:db8::10]:5062>;q=0.7", "", "Authorization: "+noQop.header()),
		head("*", "0", "Authorization: "+c.header()),
		head("<sip:agent1@127.0.0.1:5090>;expires=0", "", "Authorization: "+c.header()),
		head("", "", "Authorization: "+c.header()),
		head("<sip:agent1@127.0.0.1:5090>", "30", "Authorization: "+c.header()),
		head("<sip:agent1@127.0.0.1:5090>", "4294967296", "Authorization: "+c.header()),
		// Whitespace, folding, compact forms and mixed-case names.
		crlf(
			"REGISTER sip:127.0.0.1:5070 SIP/2.0",
			"v:  SIP/2.0/UDP 127.0.0.1:5090",
			"    ;branch=z9hG4bKkdjuw",
			"f:\t<sip:agent1@127.0.0.1>;tag=1",
			"t: <sip:agent1@127.0.0.1>",
			"i: folded",
			"cSeQ:\t3 \t REGISTER",
			"m: \"Agent, <One>\" <sip:agent1@127.0.0.1:5090;lr;;x=>;expires= 60 ",
			"EXPIRES:0",
			"l: 0",
		),
		// Escapes and unusual URIs.
		head("<sip:%61gent1@127.0.0.1:5090;transport=%74cp?Subject=hi&Priority=urgent>", "3600"),
		head("<sips:agent1@example.com>, <tel:+3212345678>", "3600"),
		head("sip:agent1@127.0.0.1:5090;expires=60", "60"),
		head("<sip:agent1@127.0.0.1:5090>;expires=99999999999999999999999", "-1"),
		head("*;expires=0", "0"),
		head("*, <sip:agent1@127.0.0.1>", "0"),
		head("<sip:agent1@127.0.0.1:5090>", "3600", "Expires: 60", "Require: path"),
		head("<sip:agent1@127.0.0.1:5090>", "3600", `Authorization: Digest username="agent1", realm="`+testRealm+`", nonce="\"", uri="sip:127.0.0.1:5070", response=""`),
		head("<sip:agent1@127.0.0.1:5090>", "3600", `Authorization: Digest username=agent1, nc=zz`),
		head("<sip:agent1@127.0.0.1:5090>", "3600", `Authorization: Digest , , ,username="a""b"`),
		head("<sip:agent1@127.0.0.1:5090>", "3600", "To: <sip:agent2@127.0.0.1>"),
		// Missing and broken mandatory headers.
		crlf("REGISTER sip:127.0.0.1 SIP/2.0", "Contact: <sip:x@y>", "Content-Length: 0"),
		crlf("REGISTER sip:127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP h", "To: sip:agent1@h", "From: sip:agent1@h",
			"Call-ID: 1", "CSeq: 4294967299 REGISTER", "Content-Length: 0"),
		crlf("REGISTER sip:127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP h", "To: <sip:@h>", "Call-ID:", "CSeq: 1 INVITE"),
		crlf("REGISTER sip:127.0.0.1 SIP/2.0", "To: \"\" <sip:agent1@h>;tag=", "Call-ID: 1", "CSeq: 1 REGISTER", "Content-Length: 5", "", "abc"),
		// Other methods and a response.
		crlf("INVITE sip:1000@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:agent1@h>;tag=1",
			"To: <sip:1000@h>", "Call-ID: 1", "CSeq: 1 INVITE", "Proxy-Authorization: "+c.header(), "Content-Length: 0"),
		crlf("SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Content-Length: 0"),
		"",
		"REGISTER",
	}
}

// FuzzHandleRegister feeds parsed arbitrary messages to HandleRegister:
// once as they are, and once more with correct credentials for their To
// user (so the fuzzer reaches the binding code). It checks that nothing
// panics, that every request gets exactly one response, and that only a
// 200 OK changes the bindings, to exactly what it lists.
func FuzzHandleRegister(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, changes := newFuzzRegistrar()
		msg, err := sip.ParseMessage(data)
		req, isReq := msg.(*sip.Request)
		if err != nil || !isReq {
			// Nothing reaches the registrar.
			if len(r.Users()) != 0 || len(changes.take()) != 0 {
				t.Fatal("bindings without a request")
			}
			return
		}

		if req.Method != sip.REGISTER {
			tx := newRecordingTx()
			user, ok := r.Authenticate(req, tx)
			if n := len(tx.Responses()); ok && (n != 0 || user == "") || !ok && n != 1 {
				t.Fatalf("Authenticate = %q, %v with %d responses", user, ok, n)
			}
		}

		res := handle(t, r, req)
		checkBindings(t, r, changes, req, res)
		if req.Method != sip.REGISTER || res.StatusCode != sip.StatusUnauthorized {
			return
		}

		// Answer the challenge correctly and try again.
		h := res.GetHeader("WWW-Authenticate")
		to := req.To()
		if h == nil || to == nil {
			t.Fatalf("401 without challenge or to a request without To:\n%s", res)
		}
		for req.RemoveHeader("Authorization") {
		}
		chal := mustChallenge(t, res, sip.StatusUnauthorized, "WWW-Authenticate")
		c := creds{
			username: to.Address.User, password: "pw", realm: chal.Realm, nonce: chal.Nonce,
			uri: req.Recipient.String(), method: string(req.Method), opaque: chal.Opaque,
			qop: "auth", nc: "00000001", cnonce: "c",
		}
		if strings.ContainsAny(c.username+c.uri, "\"\\") {
			return // cannot be written in a quoted-string as is
		}
		req.AppendHeader(sip.NewHeader("Authorization", c.header()))
		res = handle(t, r, req)
		checkBindings(t, r, changes, req, res)
	})
}

// handle runs HandleRegister and returns its only response.
func handle(t *testing.T, r *Registrar, req *sip.Request) *sip.Response {
	t.Helper()
	tx := newRecordingTx()
	r.HandleRegister(req, tx)
	return tx.onlyResponse(t)
}

// checkBindings checks that the bindings are empty unless res is a 200 OK,
// and then are exactly what it lists, for the To user only.
func checkBindings(t *testing.T, r *Registrar, changes *changeLog, req *sip.Request, res *sip.Response) {
	t.Helper()
	calls := changes.take()
	users := r.Users()
	if res.StatusCode != sip.StatusOK {
		if len(users) != 0 || len(calls) != 0 {
			t.Fatalf("%s changed the bindings: users %v, OnChange %+v", res.StartLine(), users, calls)
		}
		return
	}
	listed := responseContacts(t, res)
	if len(listed) == 0 {
		if len(users) != 0 || len(calls) != 0 {
			t.Fatalf("200 without contacts, users %v, OnChange %+v", users, calls)
		}
		return
	}
	user := req.To().Address.User
	if !slices.Equal(users, []string{user}) {
		t.Fatalf("200 for %q, users %v", user, users)
	}
	var bound []string
	for _, c := range r.Lookup(user) {
		bound = append(bound, fmt.Sprintf("%s;expires=%d", c.URI.String(), c.Expires.Sub(fuzzEpoch)/time.Second))
	}
	slices.Sort(bound)
	slices.Sort(listed)
	if !slices.Equal(bound, listed) {
		t.Fatalf("200 lists %q, Lookup %q", listed, bound)
	}
	if len(calls) != 1 || calls[0].user != user || len(calls[0].contacts) != len(bound) {
		t.Fatalf("OnChange = %+v", calls)
	}
}
