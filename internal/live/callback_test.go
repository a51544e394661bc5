package live

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

const crmToken = "crm-token-for-tests-0123456789"

// callbackConfig is examples/callback-center.yaml with the CRM's token.
func callbackConfig(t *testing.T) Config {
	cfg := testConfig(t, "callback-center.yaml")
	cfg.Getenv = func(name string) string {
		if name == "CCSWITCH_CRM_TOKEN" {
			return crmToken
		}
		return ""
	}
	return cfg
}

// sipClient is a SIP client on loopback for one test.
func sipClient(t *testing.T) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// sipDoAuth sends req, answers a digest challenge as user, and returns
// the final response.
func sipDoAuth(ctx context.Context, t *testing.T, cli *sipgo.Client, req *sip.Request, user, password string, opts ...sipgo.ClientRequestOption) *sip.Response {
	t.Helper()
	res, err := cli.Do(ctx, req, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// register registers user's softphone (digest password) at the center,
// for expires seconds (0: unregisters).
func register(ctx context.Context, t *testing.T, c *Center, user, password string, expires int) {
	t.Helper()
	host, port := splitHostPort(t, c.Addrs().SIP)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:5998>"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	if res := sipDoAuth(ctx, t, sipClient(t), req, user, password, sipgo.ClientRequestRegisterBuild); res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %d %s", user, res.StatusCode, res.Reason)
	}
}

// An agent watching a customer over CTI sees the customer's softphone
// register (online, reachable by sip), PUBLISH on-the-phone (dnd), a
// broken PIDF refused with 400 changing nothing, then away: one event per
// change; a stranger's number is refused.
func TestCTIWatchesACustomersSoftphone(t *testing.T) {
	c := mustOpen(t, callbackConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	desk, err := cti.Dial(ctx, "ws://"+c.Addrs().HTTP+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	if _, err := desk.Login(ctx, "agent-01", "", "secret"); err != nil {
		t.Fatal(err)
	}
	ack, err := desk.Do(ctx, cti.Request{Request: cti.RequestMonitorCustomer, Customer: "C1001"})
	if err != nil || ack.Status != callback.Offline {
		t.Fatalf("monitor C1001: %+v %v; want offline", ack, err)
	}
	if _, err := desk.Do(ctx, cti.Request{Request: cti.RequestMonitorCustomer, Customer: "C9999"}); err == nil {
		t.Fatal("monitoring an unknown customer: no error")
	}
	next := func() cti.Message {
		t.Helper()
		for {
			m, err := desk.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Event == cti.EventCustomerStatus {
				return m
			}
		}
	}
	register(ctx, t, c, "7001", "alice-phone", 300)
	if m := next(); m.Customer != "C1001" || m.Status != callback.Online || !slices.Equal(m.Reachable, []callback.Medium{callback.SIP}) {
		t.Fatalf("after REGISTER: %+v; want C1001 online by sip", m)
	}
	// The softphone PUBLISHes that its user is on the phone: do not disturb.
	publish(ctx, t, c, "7001", "alice-phone", `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:7001@127.0.0.1">
  <tuple id="t1"><status><basic>open</basic></status><contact>sip:7001@127.0.0.1:5998</contact></tuple>
  <dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities></dm:person>
</presence>`, sip.StatusOK)
	if m := next(); m.Status != callback.Busy || len(m.Reachable) != 0 {
		t.Fatalf("after PUBLISH on-the-phone: %+v; want dnd, nothing reachable", m)
	}
	// Broken PIDF: 400, and nothing changes (no event before the next).
	publish(ctx, t, c, "7001", "alice-phone", `<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple id="t"><status><basic>maybe`, sip.StatusBadRequest)
	// Away from the phone: away, still reachable there.
	publish(ctx, t, c, "7001", "alice-phone", `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:7001@127.0.0.1">
  <tuple id="t1"><status><basic>open</basic></status><contact>sip:7001@127.0.0.1:5998</contact></tuple>
  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities></dm:person>
</presence>`, sip.StatusOK)
	if m := next(); m.Status != callback.Idle || !slices.Equal(m.Reachable, []callback.Medium{callback.SIP}) {
		t.Fatalf("after PUBLISH away: %+v; want away by sip (the broken one changed nothing)", m)
	}
}

// publish sends a PUBLISH of presence (PIDF) for user, with digest
// authentication, and wants status back.
func publish(ctx context.Context, t *testing.T, c *Center, user, password, pidf string, want int) {
	t.Helper()
	host, port := splitHostPort(t, c.Addrs().SIP)
	aor := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	req := sip.NewRequest(sip.PUBLISH, aor)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Event", "presence"))
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:5998>"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/pidf+xml"))
	req.SetBody([]byte(pidf))
	if res := sipDoAuth(ctx, t, sipClient(t), req, user, password); res.StatusCode != want {
		t.Fatalf("PUBLISH %s: %d %s, want %d", user, res.StatusCode, res.Reason, want)
	}
}

// apiCall sends a request to the callback API with token (none: no
// Authorization) and decodes the JSON answer.
func apiCall(t *testing.T, c *Center, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	return cctest.JSONRequest(t, method, "http://"+c.Addrs().HTTP+path, token, body)
}

// The callback API: a router's token schedules, reads, lists and
// cancels; bad requests get their status and a message, and store
// nothing; strangers get 401.
func TestCallbackAPI(t *testing.T) {
	c := mustOpen(t, callbackConfig(t))
	count := func() int {
		code, out := apiCall(t, c, "GET", "/api/callbacks", crmToken, "")
		if code != http.StatusOK {
			t.Fatalf("list: %d %v", code, out)
		}
		return len(out["callbacks"].([]any))
	}
	if code, _ := apiCall(t, c, "POST", "/api/callbacks", "", `{"queue":"support","number":"+15550100"}`); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := apiCall(t, c, "GET", "/api/callbacks", "not-a-token", ""); code != http.StatusUnauthorized {
		t.Fatalf("unknown token: %d, want 401", code)
	}
	// Sunday noon in New York is outside C1001's hours (weekdays 08-21).
	sunday := time.Date(2031, 1, 5, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"not json", `{"queue":`, 400, "not a JSON object"},
		{"unknown field", `{"queue":"support","number":"+15550100","priority":9}`, 400, `unknown field "priority"`},
		{"two values", `{"queue":"support","number":"+15550100"}{}`, 400, "more than one JSON value"},
		{"no queue", `{"number":"+15550100"}`, 400, `"queue" is required`},
		{"nobody", `{"queue":"support"}`, 400, `give "number" or "customer"`},
		{"both", `{"queue":"support","number":"+15550100","customer":"C1001"}`, 400, "not both"},
		{"bad number", `{"queue":"support","number":"call me"}`, 400, "not a phone number"},
		{"bad mode", `{"queue":"support","number":"+15550100","mode":"fast"}`, 400, `"mode" "fast"`},
		{"bad time", `{"queue":"support","number":"+15550100","at":"tomorrow"}`, 400, "not an RFC 3339 time"},
		{"number as a number", `{"queue":"support","number":15550100}`, 400, `"number" must be a string`},
		{"unknown queue", `{"queue":"nowhere","number":"+15550100"}`, 404, "nowhere"},
		{"unknown customer", `{"queue":"support","customer":"C9999"}`, 404, "C9999"},
		{"outside hours", `{"queue":"support","customer":"C1001","at":"` + sunday + `"}`, 422, "hours"},
		{"huge", `{"queue":"support","number":"+15550100","x":"` + strings.Repeat("a", 5000) + `"}`, 400, "more than 4096 bytes"},
	} {
		code, out := apiCall(t, c, "POST", "/api/callbacks", crmToken, tc.body)
		msg, _ := out["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want %d and %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d callbacks stored after bad requests, want 0", n)
	}

	code, made := apiCall(t, c, "POST", "/api/callbacks", crmToken, `{"queue":"support","number":"+15550100"}`)
	id, _ := made["id"].(string)
	if code != http.StatusCreated || id == "" || made["state"] != "pending" || made["origin"] != "rest" {
		t.Fatalf("POST: %d %v; want 201, an id, pending", code, made)
	}
	code, got := apiCall(t, c, "GET", "/api/callbacks/"+id, crmToken, "")
	if code != http.StatusOK || got["number"] != "+15550100" || got["queue"] != "support" {
		t.Fatalf("GET %s: %d %v", id, code, got)
	}
	code, list := apiCall(t, c, "GET", "/api/callbacks?state=pending", crmToken, "")
	if code != http.StatusOK || len(list["callbacks"].([]any)) != 1 {
		t.Fatalf("pending: %d %v", code, list)
	}
	if code, _ := apiCall(t, c, "GET", "/api/callbacks?state=lost", crmToken, ""); code != http.StatusBadRequest {
		t.Fatalf("bad state filter: %d", code)
	}
	if code, _ := apiCall(t, c, "GET", "/api/callbacks/cb-999", crmToken, ""); code != http.StatusNotFound {
		t.Fatalf("unknown id: %d", code)
	}
	if n := waitingIn(t, c, "support-callback"); n != 1 {
		t.Fatalf("%d waiting in support-callback, want the callback", n)
	}
	code, gone := apiCall(t, c, "DELETE", "/api/callbacks/"+id, crmToken, "")
	if code != http.StatusOK || gone["state"] != "cancelled" {
		t.Fatalf("DELETE: %d %v", code, gone)
	}
	if code, _ := apiCall(t, c, "DELETE", "/api/callbacks/"+id, crmToken, ""); code != http.StatusConflict {
		t.Fatalf("DELETE twice: %d, want 409", code)
	}
	if n := waitingIn(t, c, "support-callback"); n != 0 {
		t.Fatalf("%d waiting in support-callback after the cancel", n)
	}
}

// waitingIn is how many interactions wait in queue.
func waitingIn(t *testing.T, c *Center, queue string) int {
	t.Helper()
	n := -1
	if err := c.loop.Do(context.Background(), func() {
		for _, q := range c.ts.Status() {
			if q.Name == queue {
				n = q.Waiting
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// The alert API: a router's token adds, lists and removes a customer's
// alerts; bad ones get their status and store nothing.
func TestAlertAPI(t *testing.T) {
	c := mustOpen(t, callbackConfig(t))
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"not json", `{"customer":`, 400, "not a JSON object"},
		{"unknown field", `{"customer":"C1001","kind":"wait_under","queue":"support","minutes":5,"when":"now"}`, 400, `unknown field "when"`},
		{"no customer", `{"kind":"wait_under","queue":"support","minutes":5}`, 400, `"customer" is required`},
		{"bad kind", `{"customer":"C1001","kind":"weather","queue":"support","minutes":5}`, 400, `"kind" "weather"`},
		{"bad medium", `{"customer":"C1001","kind":"wait_under","queue":"support","minutes":5,"medium":"fax"}`, 400, `"medium" "fax"`},
		{"minutes", `{"customer":"C1001","kind":"wait_under","queue":"support","minutes":0}`, 400, "minutes"},
		{"unknown customer", `{"customer":"C9999","kind":"wait_under","queue":"support","minutes":5}`, 404, "C9999"},
		{"unknown queue", `{"customer":"C1001","kind":"wait_under","queue":"nowhere","minutes":5}`, 404, "nowhere"},
	} {
		code, out := apiCall(t, c, "POST", "/api/alerts", crmToken, tc.body)
		msg, _ := out["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want %d and %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	if code, _ := apiCall(t, c, "GET", "/api/alerts", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	code, made := apiCall(t, c, "POST", "/api/alerts", crmToken, `{"customer":"C1001","kind":"wait_under","queue":"support","minutes":5}`)
	id, _ := made["id"].(string)
	if code != http.StatusCreated || id == "" || made["active"] != true || made["armed"] != true {
		t.Fatalf("POST: %d %v", code, made)
	}
	code, list := apiCall(t, c, "GET", "/api/alerts", crmToken, "")
	if alerts := list["alerts"].([]any); code != http.StatusOK || len(alerts) != 1 {
		t.Fatalf("list: %d %v; want the one alert (bad ones stored nothing)", code, list)
	}
	if code, _ := apiCall(t, c, "DELETE", "/api/alerts/"+id, crmToken, ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	if code, _ := apiCall(t, c, "DELETE", "/api/alerts/"+id, crmToken, ""); code != http.StatusNotFound && code != http.StatusConflict {
		t.Fatalf("DELETE twice: %d, want 404 or 409", code)
	}
}

// A callback offered to an agent carries, as attached data, whose it is,
// the customer's combined status at that moment and the medium the dialer
// would use: the agent sees them in EventRinging.
func TestCallbackOfferCarriesStatusAndMedium(t *testing.T) {
	cfg := callbackConfig(t)
	cfg.Center.IM.Customers[0].Callback.Hours = nil // any hour: the test runs at any time
	c := mustOpen(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	register(ctx, t, c, "7001", "alice-phone", 300) // Alice online on her softphone
	desk, err := cti.Dial(ctx, "ws://"+c.Addrs().HTTP+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	if _, err := desk.Login(ctx, "agent-01", "", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := desk.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if code, out := apiCall(t, c, "POST", "/api/callbacks", crmToken, `{"queue":"support","customer":"C1001"}`); code != http.StatusCreated {
		t.Fatalf("POST: %d %v", code, out)
	}
	ring, err := desk.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventRinging" && m.Media == "callback" })
	if err != nil {
		t.Fatal(err)
	}
	got := ring.UserData.Map()
	if got["customer"] != "C1001" || got["customer_status"] != "online" || got["callback_medium"] != "sip" || got["callback_id"] == "" {
		t.Fatalf("attached data %v; want C1001, online, sip and the callback's id", got)
	}
}
