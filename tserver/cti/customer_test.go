package cti

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// fakeCustomers is a CustomerPresence over a table of customers: emit
// (on the loop) plays the tracker telling a change. It records every
// cancel, sends it on cancelled, and counts what breaks the contract
// (a second cancel of one watch).
type fakeCustomers struct {
	mu        sync.Mutex
	known     map[string]callback.Presence
	watches   []*fakeWatch // every watch ever made, cancelled ones too
	calls     int          // Watch calls
	cancelled chan string  // the customer of each cancel
	broken    []string     // contract violations
}

type fakeWatch struct {
	customer  string
	fn        func(callback.Presence)
	cancelled bool
}

var _ CustomerPresence = (*fakeCustomers)(nil)

// newFakeCustomers knows C1001 (online on SIP and XMPP) and C1002
// (offline); the test fails if cti breaks the contract.
func newFakeCustomers(tb testing.TB) *fakeCustomers {
	f := &fakeCustomers{
		known: map[string]callback.Presence{
			"C1001": {Status: callback.Online, Reachable: []callback.Medium{callback.SIP, callback.XMPP}},
			"C1002": {Status: callback.Offline},
		},
		cancelled: make(chan string, 1024),
	}
	tb.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.broken) > 0 {
			tb.Errorf("customer presence contract broken: %q", f.broken)
		}
	})
	return f
}

func (f *fakeCustomers) add(customer string, p callback.Presence) {
	f.mu.Lock()
	f.known[customer] = p
	f.mu.Unlock()
}

func (f *fakeCustomers) Watch(customer string, fn func(callback.Presence)) (callback.Presence, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	p, ok := f.known[customer]
	if !ok {
		return callback.Presence{}, nil, pbx.Errorf(pbx.NotFound, "callback: no customer %q", customer)
	}
	w := &fakeWatch{customer: customer, fn: fn}
	f.watches = append(f.watches, w)
	return p, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if w.cancelled {
			f.broken = append(f.broken, "watch of "+customer+" cancelled twice")
			return
		}
		w.cancelled = true
		f.cancelled <- customer
	}, nil
}

// emit tells the live watches of customer that its presence is now p;
// sloppy also tells the cancelled ones (an implementation that breaks
// the contract). Call it on the loop.
func (f *fakeCustomers) emit(customer string, p callback.Presence, sloppy bool) {
	f.mu.Lock()
	f.known[customer] = p
	var fns []func(callback.Presence)
	for _, w := range f.watches {
		if w.customer == customer && (sloppy || !w.cancelled) {
			fns = append(fns, w.fn)
		}
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(p)
	}
}

// live counts the watches of customer not cancelled.
func (f *fakeCustomers) live(customer string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.watches {
		if w.customer == customer && !w.cancelled {
			n++
		}
	}
	return n
}

func (f *fakeCustomers) watchCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// waitCancel waits for the cancel of a watch of customer.
func (f *fakeCustomers) waitCancel(tb testing.TB, customer string) {
	tb.Helper()
	deadline := time.After(testWait)
	for {
		select {
		case got := <-f.cancelled:
			if got == customer {
				return
			}
			tb.Fatalf("watch of %s cancelled, waiting for %s", got, customer)
		case <-deadline:
			tb.Fatalf("the watch of %s was never cancelled", customer)
		}
	}
}

// fakeCallbacks records the callback requests; err, when set, refuses
// them.
type fakeCallbacks struct {
	mu  sync.Mutex
	got []CallbackRequest
	n   int // callbacks taken, for their ids
	err error
}

var _ Callbacks = (*fakeCallbacks)(nil)

func (f *fakeCallbacks) Request(r CallbackRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.got = append(f.got, r)
	f.n++
	return "cb-" + strconv.Itoa(f.n), nil
}

func (f *fakeCallbacks) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeCallbacks) take() []CallbackRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

// withCallbackServer configures the fakes.
func withCallbackServer(cust *fakeCustomers, cbs *fakeCallbacks) func(*Config) {
	return func(c *Config) { c.Customers = cust; c.Callbacks = cbs }
}

var (
	away    = callback.Presence{Status: callback.Idle, Reachable: []callback.Medium{callback.XMPP}}
	dnd     = callback.Presence{Status: callback.Busy}
	offline = callback.Presence{Status: callback.Offline}
)

// wantStatus fails unless m is C's status p.
func wantStatus(tb testing.TB, m Message, customer string, p callback.Presence) {
	tb.Helper()
	if m.Customer != customer || m.Status != p.Status || !slices.Equal(m.Reachable, p.Reachable) {
		tb.Fatalf("got %s, want %s %s %v", m.Raw, customer, p.Status, p.Reachable)
	}
	if !strings.Contains(string(m.Raw), `"reachable":[`) {
		tb.Fatalf("%s: reachable is not a list", m.Raw)
	}
}

// customerEvents returns the EventCustomerStatus kept by c, after a
// round trip that proves everything queued before it has arrived.
func customerEvents(tb testing.TB, c *Client) []Message {
	tb.Helper()
	_, err := c.QueryQueue(testCtx(tb), "support")
	mustOK(tb, err, "barrier")
	var out []Message
	for _, m := range c.Pending() {
		if m.Event == EventCustomerStatus {
			out = append(out, m)
		}
	}
	return out
}

// An agent monitors a customer: the reply has the status now, then each
// change comes once, in order; none after the stop, even from a tracker
// that calls a cancelled watch.
func TestMonitorCustomer(t *testing.T) {
	cust := newFakeCustomers(t)
	e := newEnv(t, withCallbackServer(cust, &fakeCallbacks{}))
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", false)
	now, err := a1.MonitorCustomer(ctx, "C1001")
	mustOK(t, err, "monitor C1001")
	if now.Customer != "C1001" || now.Status != callback.Online || !slices.Equal(now.Reachable, []callback.Medium{callback.SIP, callback.XMPP}) {
		t.Fatalf("status now %+v", now)
	}
	if got := customerEvents(t, a1); len(got) != 0 {
		t.Fatalf("events before any change: %s", names(got))
	}

	changes := []callback.Presence{away, dnd, offline}
	e.do(func() {
		for _, p := range changes {
			cust.emit("C1001", p, false)
		}
		cust.emit("C1002", away, false) // not monitored
	})
	got := customerEvents(t, a1)
	if len(got) != len(changes) {
		t.Fatalf("%d events for %d changes: %s", len(got), len(changes), names(got))
	}
	for i, p := range changes {
		wantStatus(t, got[i], "C1001", p)
		if got[i].Time.IsZero() {
			t.Errorf("event %d has no time: %s", i, got[i].Raw)
		}
	}
	if !strings.Contains(string(got[1].Raw), `"reachable":[]`) {
		t.Errorf("dnd: %s, want an empty reachable list", got[1].Raw)
	}
	a1.Discard()

	mustOK(t, a1.StopMonitorCustomer(ctx, "C1001"), "stop")
	cust.waitCancel(t, "C1001")
	e.do(func() { cust.emit("C1001", away, true) })
	if got := customerEvents(t, a1); len(got) != 0 {
		t.Fatalf("events after the stop: %s", names(got))
	}
	cctest.WantKind(t, a1.StopMonitorCustomer(ctx, "C1001"), pbx.Conflict, "stop twice")

	// Again, after a stop; twice is a conflict.
	now, err = a1.MonitorCustomer(ctx, "C1001")
	mustOK(t, err, "monitor again")
	if now.Status != away.Status || !slices.Equal(now.Reachable, away.Reachable) {
		t.Fatalf("status now %+v, want the last change's", now)
	}
	_, err = a1.MonitorCustomer(ctx, "C1001")
	cctest.WantKind(t, err, pbx.Conflict, "monitor twice")

	// Unknown and missing customers.
	calls := cust.watchCalls()
	_, err = a1.MonitorCustomer(ctx, "C9999")
	cctest.WantKind(t, err, pbx.NotFound, "unknown customer")
	if !strings.Contains(err.Error(), "C9999") {
		t.Errorf("error %q does not name the customer", err)
	}
	_, err = a1.Do(ctx, Request{Request: RequestMonitorCustomer})
	cctest.WantKind(t, err, pbx.Invalid, "no customer")
	if !strings.Contains(err.Error(), "RequestMonitorCustomer: missing customer") {
		t.Errorf("error %q does not say what is missing", err)
	}
	cctest.WantKind(t, a1.StopMonitorCustomer(ctx, "C1002"), pbx.Conflict, "stop what is not monitored")
	if n := cust.watchCalls() - calls; n != 1 {
		t.Fatalf("%d Watch calls for one unknown customer and one missing", n)
	}
	if n := cust.live("C1001"); n != 1 {
		t.Fatalf("%d live watches of C1001, want 1", n)
	}

	// The wire, as README.md shows it.
	mustOK(t, a1.SendRaw(ctx, []byte(`{"request":"RequestMonitorCustomer","ref":25,"customer":"C1002"}`)), "send")
	m, err := a1.Next(ctx)
	mustOK(t, err, "reply")
	if string(m.Raw) != `{"event":"EventACK","ref":25,"customer":"C1002","status":"away","reachable":["xmpp"]}` {
		t.Fatalf("reply %s", m.Raw)
	}
	e.do(func() { cust.emit("C1002", offline, false) })
	m, err = a1.Next(ctx)
	mustOK(t, err, "event")
	if want := `{"event":"EventCustomerStatus","customer":"C1002","status":"offline","reachable":[],"time":"`; !strings.HasPrefix(string(m.Raw), want) {
		t.Fatalf("event %s, want %s...", m.Raw, want)
	}
}

// Several connections monitor one customer, each gets each change; a
// connection that closes, or whose agent logs out, has its watch
// cancelled and gets nothing more; Close cancels the rest.
func TestMonitorCustomerEnds(t *testing.T) {
	cust := newFakeCustomers(t)
	e := newEnv(t, withCallbackServer(cust, &fakeCallbacks{}))
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", false)
	a2 := e.agent("a2", "", false)
	boss := e.dial()
	_, err := boss.LoginUser(ctx, "boss", "sup-secret")
	mustOK(t, err, "boss logs in")
	for _, c := range []*Client{a1, a2, boss} {
		_, err := c.MonitorCustomer(ctx, "C1001")
		mustOK(t, err, "monitor")
	}
	e.do(func() { cust.emit("C1001", away, false) })
	for i, c := range []*Client{a1, a2, boss} {
		if got := customerEvents(t, c); len(got) != 1 {
			t.Fatalf("client %d: %s", i, names(got))
		}
		c.Discard()
	}

	mustOK(t, boss.Close(), "boss disconnects")
	cust.waitCancel(t, "C1001")
	mustOK(t, a2.Logout(ctx), "a2 logs out")
	cust.waitCancel(t, "C1001")
	if n := cust.live("C1001"); n != 1 {
		t.Fatalf("%d live watches, want a1's only", n)
	}
	e.do(func() { cust.emit("C1001", dnd, true) })
	if got := customerEvents(t, a1); len(got) != 1 {
		t.Fatalf("a1: %s", names(got))
	}
	for _, m := range a2.Pending() {
		if m.Event == EventCustomerStatus && m.Status == callback.Busy {
			t.Fatalf("a2 got %s after its logout", m.Raw)
		}
	}
	// The logout took the right with it.
	_, err = a2.MonitorCustomer(ctx, "C1001")
	cctest.WantKind(t, err, pbx.Permission, "monitor after logout")

	e.cti.Close()
	cust.waitCancel(t, "C1001")
	if n := cust.live("C1001"); n != 0 {
		t.Fatalf("%d live watches after Close", n)
	}
}

// One connection monitors at most DefaultMaxCustomerWatches customers;
// beyond, a conflict that asks nothing of the tracker, until one stops.
func TestMonitorCustomerLimit(t *testing.T) {
	cust := newFakeCustomers(t)
	for i := range DefaultMaxCustomerWatches + 1 {
		cust.add("L"+strconv.Itoa(i), offline)
	}
	e := newEnv(t, withCallbackServer(cust, &fakeCallbacks{}))
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", false)
	for i := range DefaultMaxCustomerWatches {
		_, err := a1.MonitorCustomer(ctx, "L"+strconv.Itoa(i))
		mustOK(t, err, "monitor "+strconv.Itoa(i))
	}
	calls := cust.watchCalls()
	last := "L" + strconv.Itoa(DefaultMaxCustomerWatches)
	_, err := a1.MonitorCustomer(ctx, last)
	cctest.WantKind(t, err, pbx.Conflict, "one too many")
	if !strings.Contains(err.Error(), "monitors 100 customers, the limit") {
		t.Errorf("error %q does not say the limit", err)
	}
	if cust.watchCalls() != calls {
		t.Fatal("the refused request reached the tracker")
	}
	// Another connection has its own allowance.
	_, err = e.agent("a2", "", false).MonitorCustomer(ctx, last)
	mustOK(t, err, "another connection")
	mustOK(t, a1.StopMonitorCustomer(ctx, "L0"), "stop one")
	cust.waitCancel(t, "L0")
	_, err = a1.MonitorCustomer(ctx, last)
	mustOK(t, err, "after a stop")
}

// Agents, supervisors and admins monitor customers; routers, monitors and
// strangers may not. Routers, agents, supervisors and admins ask for
// callbacks; monitors and strangers may not. A refused request reaches
// neither collaborator.
func TestCustomerRoles(t *testing.T) {
	cust := newFakeCustomers(t)
	cbs := &fakeCallbacks{}
	e := newEnv(t, withCallbackServer(cust, cbs))
	ctx := testCtx(t)
	root := e.dial()
	_, err := root.LoginUser(ctx, "root", "root-secret")
	mustOK(t, err, "admin logs in")
	boss := e.dial()
	_, err = boss.LoginUser(ctx, "boss", "sup-secret")
	mustOK(t, err, "boss logs in")
	cb := Request{Queue: "support", Number: "5550100"}
	for _, c := range []*Client{e.agent("a1", "pw1", false), boss, root} {
		_, err := c.MonitorCustomer(ctx, "C1001")
		mustOK(t, err, "monitor")
		_, err = c.Callback(ctx, cb)
		mustOK(t, err, "callback")
	}
	router := e.router()
	_, err = router.Callback(ctx, cb)
	mustOK(t, err, "a router asks for a callback")
	if got := cbs.take(); len(got) != 4 || got[0].By != "a1" || got[1].By != "boss" || got[2].By != "root" || got[3].By != "router1" {
		t.Fatalf("requests %+v", got)
	}

	calls := cust.watchCalls()
	mon := e.monitor()
	for _, tt := range []struct {
		name string
		c    *Client
		r    Request
		msg  string
	}{
		{"router monitors", router, Request{Request: RequestMonitorCustomer, Customer: "C1001"}, "user router1 (roles: router) may not: it takes an agent, supervisor or admin"},
		{"monitor monitors", mon, Request{Request: RequestMonitorCustomer, Customer: "C1001"}, "user wall (roles: monitor) may not"},
		{"monitor stops", mon, Request{Request: RequestStopMonitorCustomer, Customer: "C1001"}, "may not"},
		{"monitor asks for a callback", mon, Request{Request: RequestCallback, Queue: "support", Number: "5550100"}, "it takes an agent, supervisor, router or admin"},
		{"stranger monitors", e.dial(), Request{Request: RequestMonitorCustomer, Customer: "C1001"}, "log in first"},
		{"stranger asks for a callback", e.dial(), Request{Request: RequestCallback, Queue: "support", Customer: "C1001"}, "log in first"},
	} {
		_, err := tt.c.Do(ctx, tt.r)
		cctest.WantKind(t, err, pbx.Permission, tt.name)
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %q does not say %q", tt.name, err, tt.msg)
		}
	}
	if cust.watchCalls() != calls {
		t.Fatal("a refused monitor reached the tracker")
	}
	if got := cbs.take(); len(got) != 0 {
		t.Fatalf("refused callbacks reached the scheduler: %+v", got)
	}
}

// RequestCallback: what the scheduler receives, the id in the reply, its
// errors as EventError kinds, and bad requests that never reach it.
func TestRequestCallback(t *testing.T) {
	cbs := &fakeCallbacks{}
	e := newEnv(t, withCallbackServer(newFakeCustomers(t), cbs))
	ctx := testCtx(t)
	router := e.router()
	at := "2026-12-02T15:30:00+01:00"
	id, err := router.Callback(ctx, Request{Queue: "7000", Number: "5550100", Mode: CallbackCustomerFirst, At: mustTime(t, at)})
	mustOK(t, err, "callback to a number")
	if id != "cb-1" {
		t.Fatalf("id %q", id)
	}
	a1 := e.agent("a1", "pw1", false)
	id, err = a1.Callback(ctx, Request{Queue: "chat", Customer: "C1001"})
	mustOK(t, err, "callback to a customer")
	if id != "cb-2" {
		t.Fatalf("id %q", id)
	}
	got := cbs.take()
	want := []CallbackRequest{
		{Queue: "support", Number: "5550100", At: mustTime(t, at), Mode: CallbackCustomerFirst, By: "router1"},
		{Queue: "chat", Customer: "C1001", Mode: CallbackAgentFirst, By: "a1"},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v", got)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Queue != w.Queue || g.Number != w.Number || g.Customer != w.Customer ||
			!g.At.Equal(w.At) || g.Mode != w.Mode || g.By != w.By {
			t.Errorf("request %d: %+v, want %+v", i, g, w)
		}
	}

	// The wire: the reply carries callback_id.
	mustOK(t, router.SendRaw(ctx, []byte(`{"request":"RequestCallback","ref":77,"queue":"support","customer":"C1002","at":"`+at+`","mode":"agent_first"}`)), "send")
	m, err := router.Next(ctx)
	mustOK(t, err, "reply")
	if string(m.Raw) != `{"event":"EventACK","ref":77,"callback_id":"cb-3"}` {
		t.Fatalf("reply %s", m.Raw)
	}
	cbs.take()

	// The scheduler's refusals.
	for _, tt := range []struct {
		err  error
		kind pbx.Kind
	}{
		{pbx.Errorf(pbx.Invalid, "callback: number 12 cannot be dialled"), pbx.Invalid},
		{pbx.Errorf(pbx.NotFound, "callback: no customer C1003"), pbx.NotFound},
		{pbx.Errorf(pbx.Conflict, "callback: 03:00 is outside C1001's allowed hours (08:00-20:00 Europe/Paris)"), pbx.Conflict},
		{pbx.Errorf(pbx.Unavailable, "callback: store read-only"), pbx.Unavailable},
	} {
		cbs.setErr(tt.err)
		_, err := router.Callback(ctx, Request{Queue: "support", Customer: "C1001"})
		cctest.WantKind(t, err, tt.kind, tt.err.Error())
		if !strings.Contains(err.Error(), "cti: RequestCallback: "+tt.err.Error()) {
			t.Errorf("error %q does not carry %q", err, tt.err)
		}
	}
	cbs.setErr(errors.New("disk on fire"))
	_, err = router.Callback(ctx, Request{Queue: "support", Customer: "C1001"})
	cctest.WantKind(t, err, pbx.Internal, "an error without a kind")
	if strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("internal error %q shows its cause", err)
	}
	cbs.setErr(nil)

	// Bad requests: refused before the scheduler.
	for _, tt := range []struct {
		frame string
		kind  pbx.Kind
		want  string
	}{
		{`{"request":"RequestCallback","number":"5550100"}`, pbx.Invalid, "RequestCallback: missing queue"},
		{`{"request":"RequestCallback","queue":"support"}`, pbx.Invalid, "missing number or customer"},
		{`{"request":"RequestCallback","queue":"support","number":"5550100","customer":"C1001"}`, pbx.Invalid, "give number or customer, not both"},
		{`{"request":"RequestCallback","queue":"support","number":"5550100","at":"tomorrow"}`, pbx.Invalid, `at "tomorrow" is not an RFC 3339 time`},
		{`{"request":"RequestCallback","queue":"support","number":"5550100","at":""}`, pbx.Invalid, `at "" is not an RFC 3339 time`},
		{`{"request":"RequestCallback","queue":"support","number":"5550100","mode":"whenever"}`, pbx.Invalid, `mode "whenever" is not agent_first or customer_first`},
		{`{"request":"RequestCallback","queue":"sales","number":"5550100"}`, pbx.NotFound, `no queue "sales"`},
	} {
		mustOK(t, router.SendRaw(ctx, []byte(tt.frame)), "send")
		m, err := router.Next(ctx)
		mustOK(t, err, "reply")
		if m.Event != EventError || m.Kind != KindCode(tt.kind) || !strings.Contains(m.Error, tt.want) {
			t.Errorf("%s: got %s, want %s containing %q", tt.frame, m.Raw, KindCode(tt.kind), tt.want)
		}
	}
	if got := cbs.take(); len(got) != 0 {
		t.Fatalf("bad requests reached the scheduler: %+v", got)
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	mustOK(tb, err, "time")
	return t
}

// Without a callback server both requests are unavailable.
func TestNoCallbackServer(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	a1 := e.agent("a1", "pw1", false)
	_, err := a1.MonitorCustomer(ctx, "C1001")
	cctest.WantKind(t, err, pbx.Unavailable, "monitor")
	if want := "RequestMonitorCustomer C1001: no callback server"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	_, err = a1.Callback(ctx, Request{Queue: "support", Number: "5550100"})
	cctest.WantKind(t, err, pbx.Unavailable, "callback")
	if want := "RequestCallback: no callback server"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// A client that monitors a customer and never reads is disconnected with
// 1008 when its queue is full: the tracker's calls, on the loop, never
// wait for it; another client is served throughout; the watch of the
// disconnected one is cancelled.
func TestCustomerMonitorSlowClient(t *testing.T) {
	cust := newFakeCustomers(t)
	// A long customer number makes each event big, so the socket's
	// buffers fill after a few hundred.
	big := "C" + strings.Repeat("9", 32<<10)
	cust.add(big, offline)
	e := newEnv(t, func(c *Config) { withCallbackServer(cust, &fakeCallbacks{})(c); c.SendQueue = 8 })
	ctx := testCtx(t)
	fast := e.agent("a1", "pw1", false)
	_, err := fast.MonitorCustomer(ctx, "C1001")
	mustOK(t, err, "fast monitors")

	slow, _, err := websocket.Dial(ctx, e.url, nil)
	mustOK(t, err, "dial")
	defer slow.CloseNow()
	slow.SetReadLimit(-1)
	mustOK(t, slow.Write(ctx, websocket.MessageText, []byte(`{"request":"RequestAgentLogin","ref":1,"agent_id":"a2"}`)), "login")
	mustOK(t, slow.Write(ctx, websocket.MessageText, []byte(`{"request":"RequestMonitorCustomer","ref":2,"customer":"`+big+`"}`)), "monitor")
	for { // read up to the monitor's reply, then no more
		_, data, err := slow.Read(ctx)
		mustOK(t, err, "the slow client's replies")
		var m Message
		mustOK(t, m.UnmarshalJSON(data), "decode")
		if m.Event == EventError {
			t.Fatalf("slow client: %s", data)
		}
		if m.Event == EventACK && m.Ref == 2 {
			break
		}
	}

	n := 0
	for round := 0; !e.killedWith(websocket.StatusPolicyViolation); round++ {
		if ctx.Err() != nil {
			t.Fatalf("no overflow after %d events", n)
		}
		e.do(func() {
			for i := range 4 { // half the queue per turn of the loop
				cust.emit(big, []callback.Presence{away, offline}[i%2], false)
			}
			cust.emit("C1001", []callback.Presence{away, dnd}[round%2], false)
		})
		n += 4
		m, err := fast.ExpectEvent(ctx, EventCustomerStatus, 0)
		mustOK(t, err, "the fast client's event")
		if want := []callback.Status{callback.Idle, callback.Busy}[round%2]; m.Status != want {
			t.Fatalf("round %d: fast got %s, want %s", round, m.Raw, want)
		}
	}
	t.Logf("overflow after %d events of %d KiB", n, len(big)>>10)

	// The slow client reads at last: what was written, then 1008.
	frames := 0
	for {
		_, _, err := slow.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("slow client: %v (status %v), want 1008", err, got)
			}
			break
		}
		frames++
	}
	if frames >= n+2 {
		t.Fatalf("slow client got %d frames of %d: nothing was dropped", frames, n+2)
	}
	cust.waitCancel(t, big)
	if _, err := fast.QueryAgent(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
}
