package registrar

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const testRealm = "test.ccswitch"

// testPasswords are the users of the test registrars.
var testPasswords = map[string]string{"agent1": "secret", "agent2": "hunter2", "agent-0x55": "p@ss:w;rd"}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recordingTx is a sip.ServerTransaction that records the responses sent
// on it.
type recordingTx struct {
	mu        sync.Mutex
	responses []*sip.Response
	done      chan struct{}
}

var _ sip.ServerTransaction = (*recordingTx)(nil)

func newRecordingTx() *recordingTx { return &recordingTx{done: make(chan struct{})} }

func (tx *recordingTx) Respond(res *sip.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.responses = append(tx.responses, res)
	return nil
}

func (tx *recordingTx) Responses() []*sip.Response {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return slices.Clone(tx.responses)
}

func (tx *recordingTx) Acks() <-chan *sip.Request                { return nil }
func (tx *recordingTx) OnCancel(sip.FnTxCancel) bool             { return false }
func (tx *recordingTx) Terminate()                               {}
func (tx *recordingTx) OnTerminate(f sip.FnTxTerminate) bool     { return false }
func (tx *recordingTx) Done() <-chan struct{}                    { return tx.done }
func (tx *recordingTx) Err() error                               { return nil }
func (tx *recordingTx) String() string                           { return "recordingTx" }
func (tx *recordingTx) onlyResponse(tb testing.TB) *sip.Response { return only(tb, tx.Responses()) }

func only(tb testing.TB, rs []*sip.Response) *sip.Response {
	tb.Helper()
	if len(rs) != 1 {
		tb.Fatalf("got %d responses, want exactly 1: %v", len(rs), rs)
	}
	return rs[0]
}

// changeLog records OnChange calls.
type changeLog struct {
	mu    sync.Mutex
	calls []change
}

func (l *changeLog) OnChange(user string, contacts []Contact) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, change{user, contacts})
}

// take returns the calls recorded since the last take.
func (l *changeLog) take() []change {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// newTestRegistrar returns a registrar with the test users, a fake clock
// and a change log.
func newTestRegistrar(tb testing.TB) (*Registrar, *fakeClock, *changeLog) {
	tb.Helper()
	clk := newFakeClock()
	log := &changeLog{}
	r := New(Config{
		Realm:       testRealm,
		Credentials: NewStaticCredentials(testRealm, testPasswords),
		Secret:      []byte("test secret"),
		Now:         clk.Now,
		OnChange:    log.OnChange,
	})
	return r, clk, log
}

// mustParseRequest parses a SIP request written as lines.
func mustParseRequest(tb testing.TB, lines ...string) *sip.Request {
	tb.Helper()
	msg, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n"))
	if err != nil {
		tb.Fatalf("parse request: %v\n%s", err, strings.Join(lines, "\n"))
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		tb.Fatalf("not a request: %v", msg)
	}
	return req
}

// phone is a test user agent that registers one user.
type phone struct {
	tb       testing.TB
	r        *Registrar
	user     string // the To/From user
	password string
	callID   string
	cseq     uint32
	source   string   // ip:port the requests come from
	contacts []string // Contact header values, one header each
	expires  string   // Expires header value; "" for none
	extra    []string // more header lines
	branch   int
}

func newPhone(tb testing.TB, r *Registrar, user string) *phone {
	return &phone{
		tb: tb, r: r, user: user, password: testPasswords[user],
		callID: "call-" + user, source: "127.0.0.1:5090",
		contacts: []string{"<sip:" + user + "@127.0.0.1:5090;transport=udp>"},
		expires:  "3600",
	}
}

// request builds the phone's next REGISTER, with the given extra header
// lines (Authorization ...).
func (p *phone) request(extra ...string) *sip.Request {
	p.tb.Helper()
	p.cseq++
	p.branch++
	lines := []string{
		"REGISTER sip:127.0.0.1:5070 SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d;rport", p.source, p.user, p.branch),
		"From: <sip:" + p.user + "@127.0.0.1>;tag=tag-" + p.user,
		"To: <sip:" + p.user + "@127.0.0.1>",
		"Call-ID: " + p.callID,
		fmt.Sprintf("CSeq: %d REGISTER", p.cseq),
		"Max-Forwards: 70",
		"User-Agent: registrar-test",
	}
	for _, c := range p.contacts {
		lines = append(lines, "Contact: "+c)
	}
	if p.expires != "" {
		lines = append(lines, "Expires: "+p.expires)
	}
	lines = append(lines, p.extra...)
	lines = append(lines, extra...)
	lines = append(lines, "Content-Length: 0")
	req := mustParseRequest(p.tb, lines...)
	req.SetSource(p.source)
	req.SetTransport("UDP")
	return req
}

// send hands req to HandleRegister and returns its only response.
func (p *phone) send(req *sip.Request) *sip.Response {
	p.tb.Helper()
	tx := newRecordingTx()
	p.r.HandleRegister(req, tx)
	return tx.onlyResponse(p.tb)
}

// challenge sends an unauthenticated REGISTER and returns the challenge.
func (p *phone) challenge() *digest.Challenge {
	p.tb.Helper()
	res := p.send(p.request())
	return mustChallenge(p.tb, res, sip.StatusUnauthorized, "WWW-Authenticate")
}

// register does the whole exchange (challenge, then credentials computed
// by github.com/icholy/digest, an implementation independent of ours) and
// returns the final response.
func (p *phone) register() *sip.Response {
	p.tb.Helper()
	chal := p.challenge()
	cred, err := digest.Digest(chal, digest.Options{
		Method: "REGISTER", URI: "sip:127.0.0.1:5070",
		Username: p.user, Password: p.password, Count: 1,
	})
	if err != nil {
		p.tb.Fatalf("digest: %v", err)
	}
	return p.send(p.request("Authorization: " + cred.String()))
}

// mustRegister registers and fails the test unless it gets 200.
func (p *phone) mustRegister() *sip.Response {
	p.tb.Helper()
	res := p.register()
	if res.StatusCode != sip.StatusOK {
		p.tb.Fatalf("register %s: got %s, want 200", p.user, res.StartLine())
	}
	return res
}

func mustChallenge(tb testing.TB, res *sip.Response, code int, header string) *digest.Challenge {
	tb.Helper()
	if res.StatusCode != code {
		tb.Fatalf("got %s, want %d", res.StartLine(), code)
	}
	h := res.GetHeader(header)
	if h == nil {
		tb.Fatalf("%d without %s:\n%s", code, header, res)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		tb.Fatalf("parse %s %q: %v", header, h.Value(), err)
	}
	return chal
}

// creds are the fields of a digest Authorization header, computed by
// clientDigest below from the challenge, independently of the registrar's
// code.
type creds struct {
	username, password, realm, nonce, uri, method string
	opaque, algorithm, qop, nc, cnonce            string
	response                                      string // computed when empty
	noOpaque                                      bool
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// header returns the Authorization header value for c, computing the
// response per RFC 2617 §3.2.2 unless c.response is set.
func (c creds) header() string {
	resp := c.response
	if resp == "" {
		ha1 := md5Hex(c.username + ":" + c.realm + ":" + c.password)
		ha2 := md5Hex(c.method + ":" + c.uri)
		if c.qop == "" {
			resp = md5Hex(ha1 + ":" + c.nonce + ":" + ha2)
		} else {
			resp = md5Hex(ha1 + ":" + c.nonce + ":" + c.nc + ":" + c.cnonce + ":" + c.qop + ":" + ha2)
		}
	}
	h := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
		c.username, c.realm, c.nonce, c.uri, resp)
	if c.algorithm != "" {
		h += ", algorithm=" + c.algorithm
	}
	if !c.noOpaque && c.opaque != "" {
		h += `, opaque="` + c.opaque + `"`
	}
	if c.qop != "" {
		h += fmt.Sprintf(`, qop=%s, nc=%s, cnonce="%s"`, c.qop, c.nc, c.cnonce)
	}
	return h
}

// answer returns the creds a correct client would send for user in
// answer to chal.
func answer(chal *digest.Challenge, user, password string) creds {
	return creds{
		username: user, password: password, realm: chal.Realm, nonce: chal.Nonce,
		uri: "sip:127.0.0.1:5070", method: "REGISTER", opaque: chal.Opaque,
		algorithm: "MD5", qop: "auth", nc: "00000001", cnonce: "0a4f113b",
	}
}

// contactURIs returns the URIs of contacts, in order.
func contactURIs(cs []Contact) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = cs[i].URI.String()
	}
	return out
}

// responseContacts returns the Contact headers of res as "uri;expires=N".
func responseContacts(tb testing.TB, res *sip.Response) []string {
	tb.Helper()
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			tb.Fatalf("Contact header of type %T", h)
		}
		e, _ := ch.Params.Get("expires")
		out = append(out, ch.Address.String()+";expires="+e)
	}
	return out
}
