package sipgw

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/callback/pidf"
	"github.com/ccswitch/ccswitch/switch/registrar"
)

// presenceLog records the reports of OnPresence.
type presenceLog struct {
	mu      sync.Mutex
	reports []PresenceReport
}

func (l *presenceLog) HandlePresence(r PresenceReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports = append(l.reports, r)
}

// take returns the reports so far, once the gateway is idle, and forgets
// them.
func (l *presenceLog) take() []PresenceReport {
	synctest.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reports
	l.reports = nil
	return r
}

// customers are the SIP users of the presence tests, with password
// secret.
var customers = []string{"alice", "bob", "carol"}

// presStart starts a gateway whose registrar knows the customers and
// tells the gateway its changes (as internal/live wires them), with the
// presence log as its OnPresence handler.
func presStart(t *testing.T, tune ...func(*Config)) (*tmHarness, *presenceLog) {
	t.Helper()
	log := &presenceLog{}
	creds := registrar.StaticCredentials{}
	for _, u := range customers {
		creds[u] = registrar.HA1(u, "ccswitch", "secret")
	}
	var gw *Gateway
	tune = append(tune, func(c *Config) {
		c.Registrar = registrar.New(registrar.Config{Realm: "ccswitch", Credentials: creds,
			OnChange: func(u string, cs []registrar.Contact) { gw.OnRegistration(u, cs) }})
	})
	h := tmStartWith(t, time.Second, func(g *Gateway) { gw = g; g.OnPresence(log) }, tune...)
	return h, log
}

// register sends user's REGISTER from ph, with credentials, for expires
// seconds, and returns the response.
func register(ph *tmPhone, user string, expires int) *sip.Response {
	ph.T.Helper()
	publishes++
	req := ph.Request(sip.REGISTER, user, 1, fmt.Sprintf("reg-%d", publishes))
	req.Recipient.User = ""
	req.From().Address.User = user
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.SetBody(nil)
	return ph.DoAuth(req, user, "secret")
}

var publishes int

// publishReq is a PUBLISH from user's phone for user's presence; headers
// are "Name: value"; a body gets Content-Type application/pidf+xml unless
// headers give one.
func publishReq(ph *tmPhone, user, body string, headers ...string) *sip.Request {
	publishes++
	req := ph.Request(sip.PUBLISH, user, 1, fmt.Sprintf("pub-%d", publishes))
	req.From().Address.User = user
	hasType := false
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		hasType = hasType || strings.EqualFold(name, "Content-Type")
		req.AppendHeader(sip.NewHeader(name, strings.TrimSpace(value)))
	}
	if body != "" && !hasType {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/pidf+xml"))
	}
	req.SetBody([]byte(body))
	return req
}

// publish sends a PUBLISH with credentials and returns the response.
func publish(ph *tmPhone, user, body string, headers ...string) *sip.Response {
	ph.T.Helper()
	return ph.DoAuth(publishReq(ph, user, body, headers...), user, "secret")
}

// pidfDoc is a PIDF document with one tuple and a person doing acts.
func pidfDoc(basic pidf.Basic, acts ...pidf.Activity) string {
	return string(pidf.Document{Entity: "sip:alice@127.0.0.1",
		Tuples:  []pidf.Tuple{{ID: "t1", Basic: basic, Contact: "sip:alice@127.0.0.1:7001"}},
		Persons: []pidf.Person{{ID: "p1", Activities: acts}}}.Marshal())
}

// wantStatus fails the test unless res has code.
func wantStatus(t *testing.T, what string, res *sip.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("%s: %d %s, want %d", what, res.StatusCode, res.Reason, code)
	}
}

// brokenPIDF is well-formed XML but no valid PIDF.
const brokenPIDF = `<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple id="a"><status><basic>open</basic></status></tuple>` +
	`<tuple id="b"><status><basic>maybe</basic></status></tuple></presence>`

// TestPublishLifecycle walks RFC 3903 with one phone: an initial
// publication (200, SIP-ETag, Expires), a refresh without a body, a
// modification, a removal, and each refusal, which changes nothing.
func TestPublishLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, log := presStart(t, func(c *Config) { c.PublishBurst = 100 }) // many PUBLISHes at once, none limited
		defer h.stop()
		ph := h.phone("127.0.0.1:7001")
		const device = "sip:phone@127.0.0.1:7001"

		// Initial: busy, for 600 s.
		start := time.Now()
		res := publish(ph, "alice", pidfDoc(pidf.Open, pidf.BusyActivity), "Event: presence", "Expires: 600")
		wantStatus(t, "initial", res, 200)
		etag1 := header(res, "SIP-ETag")
		if etag1 == "" || header(res, "Expires") != "600" {
			t.Fatalf("initial: SIP-ETag %q, Expires %q; want an entity tag and 600", etag1, header(res, "Expires"))
		}
		got := log.take()
		want := PresenceReport{User: "alice", Device: device, Show: callback.DoNotDisturb, At: start,
			Expires: start.Add(600 * time.Second), ETag: etag1}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("initial: reports %+v, want %+v", got, want)
		}
		if rep := got[0].Report(); rep.Medium != callback.SIP || rep.TTL != 600*time.Second || rep.Show != callback.DoNotDisturb {
			t.Errorf("as a callback report: %+v", rep)
		}

		// Refresh, 100 s later: no body, a new entity tag, a later expiry.
		time.Sleep(100 * time.Second) // virtual
		res = publish(ph, "alice", "", "Event: presence", "Expires: 600", "SIP-If-Match: "+etag1)
		wantStatus(t, "refresh", res, 200)
		etag2 := header(res, "SIP-ETag")
		if etag2 == "" || etag2 == etag1 {
			t.Fatalf("refresh: SIP-ETag %q after %q, want a new one", etag2, etag1)
		}
		got = log.take()
		if len(got) != 1 || got[0].Show != callback.DoNotDisturb || got[0].Device != device ||
			!got[0].Expires.Equal(time.Now().Add(600*time.Second)) {
			t.Fatalf("refresh: reports %+v", got)
		}

		// The old entity tag no longer matches.
		res = publish(ph, "alice", "", "Event: presence", "Expires: 600", "SIP-If-Match: "+etag1)
		wantStatus(t, "refresh with the old entity tag", res, 412)

		// Modify: away.
		res = publish(ph, "alice", pidfDoc(pidf.Open, pidf.AwayActivity), "Event: presence", "SIP-If-Match: "+etag2, "Expires: 600")
		wantStatus(t, "modify", res, 200)
		etag3 := header(res, "SIP-ETag")
		if got = log.take(); len(got) != 1 || got[0].Show != callback.Away || got[0].ETag != etag3 {
			t.Fatalf("modify: reports %+v", got)
		}

		// Refusals, none of which changes anything.
		for _, tc := range []struct {
			name    string
			body    string
			headers []string
			code    int
			reason  string
			header  string
		}{
			{"broken PIDF", brokenPIDF, []string{"Event: presence"}, 400, `pidf: tuple 2: <basic> is "maybe", want open or closed`, ""},
			{"no Event", pidfDoc(pidf.Open), []string{"Expires: 600"}, 489, "", "Allow-Events: presence"},
			{"another event package", pidfDoc(pidf.Open), []string{"Event: dialog", "Expires: 600"}, 489, "", "Allow-Events: presence"},
			{"not PIDF", "hello", []string{"Event: presence", "Content-Type: text/plain"}, 415, "", "Accept: application/pidf+xml"},
			{"too brief", pidfDoc(pidf.Open), []string{"Event: presence", "Expires: 10"}, 423, "", "Min-Expires: 60"},
			{"malformed Expires", pidfDoc(pidf.Open), []string{"Event: presence", "Expires: soon"}, 400, "malformed Expires", ""},
			{"an unknown entity tag", "", []string{"Event: presence", "SIP-If-Match: nosuchtag"}, 412, "", ""},
		} {
			headers := append([]string{"SIP-If-Match: " + etag3}, tc.headers...)
			if tc.name == "an unknown entity tag" {
				headers = tc.headers
			}
			res := publish(ph, "alice", tc.body, headers...)
			if res.StatusCode != tc.code || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, res.StatusCode, res.Reason, tc.code, tc.reason)
			}
			if tc.header != "" {
				name, value, _ := strings.Cut(tc.header, ": ")
				if header(res, name) != value {
					t.Errorf("%s: %s %q, want %q", tc.name, name, header(res, name), value)
				}
			}
			if got := log.take(); len(got) != 0 {
				t.Errorf("%s changed the presence: %+v", tc.name, got)
			}
		}
		// Another user's presence is not alice's to publish.
		req := publishReq(ph, "bob", pidfDoc(pidf.Open), "Event: presence")
		req.From().Address.User = "alice"
		wantStatus(t, "alice publishing for bob", ph.DoAuth(req, "alice", "secret"), 403)
		if got := log.take(); len(got) != 0 || h.gw.Publications() != 1 {
			t.Fatalf("a refusal changed the presence: %+v, %d publications", got, h.gw.Publications())
		}
		// After all that, etag3 still holds the away state.
		res = publish(ph, "alice", "", "Event: presence", "SIP-If-Match: "+etag3, "Expires: 600")
		wantStatus(t, "refresh after the refusals", res, 200)
		etag4 := header(res, "SIP-ETag")
		if got = log.take(); len(got) != 1 || got[0].Show != callback.Away {
			t.Fatalf("after the refusals: %+v", got)
		}

		// Longer than the maximum: shortened.
		res = publish(ph, "alice", "", "Event: presence", "SIP-If-Match: "+etag4, "Expires: 100000")
		wantStatus(t, "refresh for too long", res, 200)
		if header(res, "Expires") != "3600" {
			t.Errorf("Expires %q, want the maximum 3600", header(res, "Expires"))
		}
		etag5 := header(res, "SIP-ETag")
		log.take()

		// Remove.
		res = publish(ph, "alice", "", "Event: presence", "SIP-If-Match: "+etag5, "Expires: 0")
		wantStatus(t, "remove", res, 200)
		if header(res, "Expires") != "0" {
			t.Errorf("remove: Expires %q, want 0", header(res, "Expires"))
		}
		got = log.take()
		if len(got) != 1 || got[0].Show != callback.Unavailable || got[0].Device != device || !got[0].Expires.IsZero() {
			t.Fatalf("remove: reports %+v", got)
		}
		if rep := got[0].Report(); rep.Show != callback.Unavailable || rep.TTL != 0 {
			t.Errorf("removal as a callback report: %+v", rep)
		}
		if h.gw.Publications() != 0 {
			t.Errorf("%d publications after the removal", h.gw.Publications())
		}
		wantStatus(t, "refresh after the removal", publish(ph, "alice", "", "Event: presence", "SIP-If-Match: "+etag5), 412)
	})
}

// TestPublishExpires: a publication not refreshed ends at its expiry,
// reported unavailable then, and its entity tag matches no more.
func TestPublishExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, log := presStart(t)
		defer h.stop()
		ph := h.phone("127.0.0.1:7001")
		res := publish(ph, "alice", pidfDoc(pidf.Open), "Event: presence", "Expires: 60")
		wantStatus(t, "initial", res, 200)
		expires := log.take()[0].Expires
		time.Sleep(59 * time.Second) // virtual
		if got := log.take(); len(got) != 0 {
			t.Fatalf("before the expiry: %+v", got)
		}
		time.Sleep(2 * time.Second)
		got := log.take()
		if len(got) != 1 || got[0].Show != callback.Unavailable || got[0].User != "alice" || !got[0].At.Equal(expires) {
			t.Fatalf("at the expiry (%v): %+v", expires, got)
		}
		wantStatus(t, "refresh after the expiry", publish(ph, "alice", "", "Event: presence", "SIP-If-Match: "+header(res, "SIP-ETag")), 412)
	})
}

// TestPublishFloodLimitedPerCustomer: one customer's flood of PUBLISHes
// is refused past its bucket (10, then 1 a second) with 503 and
// Retry-After, changing nothing, while another customer, from the same
// address even, is served; a second later the first gets one more.
func TestPublishFloodLimitedPerCustomer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, log := presStart(t)
		defer h.stop()
		carol, bob := h.phone("127.0.0.1:7001"), h.phone("127.0.0.1:7002")
		codes := map[int]int{}
		for i := range 30 {
			res := publish(carol, "carol", pidfDoc(pidf.Open), "Event: presence", "Expires: 600")
			codes[res.StatusCode]++
			if res.StatusCode == 503 && header(res, "Retry-After") != "1" {
				t.Errorf("PUBLISH %d: Retry-After %q, want 1", i, header(res, "Retry-After"))
			}
			if i == 20 {
				wantStatus(t, "bob during carol's flood", publish(bob, "bob", pidfDoc(pidf.Open, pidf.OnThePhone), "Event: presence"), 200)
			}
		}
		if codes[200] != 10 || codes[503] != 20 {
			t.Fatalf("carol's 30 PUBLISHes: %v, want 10 OK and 20 refused", codes)
		}
		perUser := map[string]int{}
		for _, r := range log.take() {
			perUser[r.User]++
		}
		if perUser["carol"] != 10 || perUser["bob"] != 1 {
			t.Fatalf("reports %v, want 10 of carol's and 1 of bob's", perUser)
		}
		time.Sleep(time.Second) // virtual: one token back
		wantStatus(t, "carol a second later", publish(carol, "carol", pidfDoc(pidf.Open), "Event: presence"), 200)
		wantStatus(t, "carol again at once", publish(carol, "carol", pidfDoc(pidf.Open), "Event: presence"), 503)
	})
}

// TestPublishHookNeverBlocksTheTransaction: the response leaves before
// the handler runs, so a slow handler delays no PUBLISH's answer; and a
// gateway without a handler refuses PUBLISH.
func TestPublishHookNeverBlocksTheTransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var got []PresenceReport
		var mu sync.Mutex
		creds := registrar.StaticCredentials{"alice": registrar.HA1("alice", "ccswitch", "secret")}
		h := tmStartWith(t, time.Second, func(g *Gateway) {
			g.OnPresence(PresenceHandlerFunc(func(r PresenceReport) {
				<-release
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
			}))
		}, func(c *Config) { c.Registrar = registrar.New(registrar.Config{Credentials: creds}) })
		ph := h.phone("127.0.0.1:7001")
		wantStatus(t, "PUBLISH while the handler is stuck", publish(ph, "alice", pidfDoc(pidf.Open), "Event: presence"), 200)
		close(release)
		synctest.Wait()
		mu.Lock()
		if len(got) != 1 || got[0].Show != callback.Available {
			t.Errorf("reports %+v", got)
		}
		mu.Unlock()
		h.stop()

		h = tmStart(t, time.Second)
		defer h.stop()
		ph = h.phone("127.0.0.1:7001")
		wantStatus(t, "PUBLISH without a handler", ph.Do(publishReq(ph, "1001", pidfDoc(pidf.Open), "Event: presence")), 405)
	})
}

// TestRegistrationPresence: a customer's phone that registers is
// reported available until its binding expires, each refresh moving the
// expiry; once it publishes, its publications speak for it, and when the
// last one ends it is available again while still registered; its
// unregistration, or its binding's expiry, reports it unavailable.
func TestRegistrationPresence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, log := presStart(t)
		defer h.stop()
		ph := h.phone("127.0.0.1:7001")
		const device = "sip:phone@127.0.0.1:7001"
		one := func(what string) PresenceReport {
			t.Helper()
			got := log.take()
			if len(got) != 1 || got[0].User != "alice" || got[0].Device != device {
				t.Fatalf("%s: reports %+v, want one of alice's %s", what, got, device)
			}
			return got[0]
		}

		wantStatus(t, "register", register(ph, "alice", 600), 200)
		if r := one("registered"); r.Show != callback.Available || !r.Expires.Equal(time.Now().Add(600*time.Second)) {
			t.Fatalf("registered: %+v, want available for 600 s", r)
		}
		time.Sleep(100 * time.Second) // virtual
		wantStatus(t, "refresh", register(ph, "alice", 600), 200)
		if r := one("refreshed"); r.Show != callback.Available || !r.Expires.Equal(time.Now().Add(600*time.Second)) {
			t.Fatalf("refreshed: %+v, want available, 600 s from now", r)
		}
		wantStatus(t, "bob registers", register(ph, "bob", 600), 200) // another user: nothing of alice's
		if got := log.take(); len(got) != 1 || got[0].User != "bob" {
			t.Fatalf("bob's registration: %+v", got)
		}

		res := publish(ph, "alice", pidfDoc(pidf.Open, pidf.Meeting), "Event: presence", "Expires: 60")
		wantStatus(t, "publish", res, 200)
		if r := one("published"); r.Show != callback.DoNotDisturb {
			t.Fatalf("published: %+v, want dnd", r)
		}
		wantStatus(t, "refresh the registration while publishing", register(ph, "alice", 600), 200)
		if got := log.take(); len(got) != 0 {
			t.Fatalf("a registration refresh spoke over the publication: %+v", got)
		}
		bindingExpires := time.Now().Add(600 * time.Second)
		time.Sleep(61 * time.Second) // the publication expires
		if r := one("publication expired"); r.Show != callback.Available || !r.Expires.Equal(bindingExpires) {
			t.Fatalf("publication expired, still registered: %+v, want available until %v", r, bindingExpires)
		}

		wantStatus(t, "unregister", register(ph, "alice", 0), 200)
		if r := one("unregistered"); r.Show != callback.Unavailable {
			t.Fatalf("unregistered: %+v", r)
		}

		// A binding that expires, told by the registrar's Expire (which
		// internal/live runs periodically).
		wantStatus(t, "register again", register(ph, "alice", 60), 200)
		one("registered again")
		time.Sleep(61 * time.Second)
		h.gw.cfg.Registrar.Expire()
		if r := one("binding expired"); r.Show != callback.Unavailable {
			t.Fatalf("binding expired: %+v", r)
		}
	})
}

// TestPublishWithoutContact: a PUBLISH without Contact (as baresip sends
// it) is the device registered from the same address; from an address
// that registered nothing, a device of its own.
func TestPublishWithoutContact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, log := presStart(t)
		defer h.stop()
		ph, other := h.phone("127.0.0.1:7001"), h.phone("127.0.0.1:7002")
		wantStatus(t, "register", register(ph, "alice", 600), 200)
		log.take()
		req := publishReq(ph, "alice", pidfDoc(pidf.Closed), "Event: presence")
		req.RemoveHeader("Contact")
		wantStatus(t, "publish", ph.DoAuth(req, "alice", "secret"), 200)
		if got := log.take(); len(got) != 1 || got[0].Device != "sip:phone@127.0.0.1:7001" || got[0].Show != callback.Unavailable {
			t.Fatalf("reports %+v, want the registered device closed", got)
		}
		req = publishReq(other, "alice", pidfDoc(pidf.Open), "Event: presence")
		req.RemoveHeader("Contact")
		res := other.DoAuth(req, "alice", "secret")
		wantStatus(t, "publish from elsewhere", res, 200)
		if got := log.take(); len(got) != 1 || got[0].Device != "etag:"+header(res, "SIP-ETag") {
			t.Fatalf("reports %+v, want a device named by the entity tag", got)
		}
	})
}
