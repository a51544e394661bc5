package cti

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// CustomerPresence lets CTI clients watch a customer's combined presence
// (RequestMonitorCustomer): the callback server's presence tracker, which
// the integrator adapts. cti takes the callback domain's own types
// (callback.Presence), so nothing is translated on the way.
//
// Threading: every call — Watch, the cancel it returns, and fn — runs on
// the loop goroutine that owns the T-Server (the tracker's clock is the
// loop's), and none may block.
type CustomerPresence interface {
	// Watch returns customer's presence now and calls fn, later, once per
	// change of it, until cancel is called; never from within Watch itself,
	// and never after cancel has returned. cti calls cancel exactly once:
	// on RequestStopMonitorCustomer, when the connection closes or logs
	// out, or when the server closes. An unknown customer is an error of
	// kind pbx.NotFound (nothing watched, cancel nil); another error refuses
	// the request with its pbx kind (internal when it has none).
	Watch(customer string, fn func(callback.Presence)) (now callback.Presence, cancel func(), err error)
}

// CallbackMode says whom a callback dials first.
type CallbackMode string

// The callback modes.
const (
	// CallbackAgentFirst reserves an agent, rings the agent's phone, then
	// dials the customer (the default).
	CallbackAgentFirst CallbackMode = "agent_first"
	// CallbackCustomerFirst dials the customer when the estimated wait
	// reaches zero; once the customer answers, the call waits at the head
	// of the queue for the next agent.
	CallbackCustomerFirst CallbackMode = "customer_first"
)

// CallbackRequest is a RequestCallback as cti hands it to Callbacks,
// checked as far as the protocol can: a known queue, a number or a
// customer (exactly one), a mode.
type CallbackRequest struct {
	// Queue is the queue's name (a queue number in the request is
	// resolved to its name).
	Queue string
	// Number to call back, or Customer, a customer number whose devices
	// and preferences say how: exactly one of them is set.
	Number   string
	Customer string
	// At is when to call back; zero: as soon as the queue allows.
	At time.Time
	// Mode is CallbackAgentFirst or CallbackCustomerFirst.
	Mode CallbackMode
	// By is who asked: the agent id or the user name of the connection.
	By string
}

// Callbacks takes callback requests made over CTI (RequestCallback): the
// callback server's scheduler, which the integrator adapts.
//
// Threading: Request runs on the loop goroutine and must not block.
type Callbacks interface {
	// Request stores r as a pending callback and returns its id. Its
	// errors refuse the request, with their pbx kind as the EventError's
	// kind, and must leave nothing stored: pbx.Invalid for a request the
	// callback server finds malformed (a number it cannot dial, a time in
	// the past); pbx.NotFound for an unknown customer or queue;
	// pbx.Conflict for a time outside the customer's allowed hours (REST
	// answers it with 422); pbx.Unavailable when callbacks cannot be taken
	// now. An error without a kind reads as internal.
	Request(r CallbackRequest) (id string, err error)
}

type nopCustomers struct{}

func (nopCustomers) Watch(string, func(callback.Presence)) (callback.Presence, func(), error) {
	return callback.Presence{}, nil, pbx.Errorf(pbx.Unavailable, "no callback server: customers' status is not available")
}

// NopCustomerPresence returns the CustomerPresence of a switch without a
// callback server: RequestMonitorCustomer is refused as unavailable.
func NopCustomerPresence() CustomerPresence { return nopCustomers{} }

type nopCallbacks struct{}

func (nopCallbacks) Request(CallbackRequest) (string, error) {
	return "", pbx.Errorf(pbx.Unavailable, "no callback server: callbacks are not available")
}

// NopCallbacks returns the Callbacks of a switch without a callback
// server: RequestCallback is refused as unavailable.
func NopCallbacks() Callbacks { return nopCallbacks{} }

// DefaultMaxCustomerWatches is how many customers one connection may
// monitor at a time, by default.
const DefaultMaxCustomerWatches = 100

// CustomerStatus is a customer's combined presence as CTI carries it, in
// EventCustomerStatus and in the reply to RequestMonitorCustomer.
type CustomerStatus struct {
	Customer string          `json:"customer"`
	Status   callback.Status `json:"status"`
	// Reachable lists the media that reach the customer now (sorted; an
	// empty list, never null, when none does).
	Reachable []callback.Medium `json:"reachable"`
}

func customerStatus(customer string, p callback.Presence) *CustomerStatus {
	return &CustomerStatus{Customer: customer, Status: p.Status, Reachable: append([]callback.Medium{}, p.Reachable...)}
}

// customerStatusEvent is an EventCustomerStatus as the server writes it.
type customerStatusEvent struct {
	Event string `json:"event"`
	*CustomerStatus
	Time time.Time `json:"time"`
}

// customerWatch is one customer a connection monitors (on the loop).
type customerWatch struct {
	cancel    func() // the CustomerPresence's
	cancelled bool   // fn ignores what comes after cancel
}

// monitorCustomer: RequestMonitorCustomer. The reply carries the status
// now; each change after it comes as an EventCustomerStatus, queued on the
// connection like any event (a full queue disconnects the client; the loop
// never waits).
func (s *Server) monitorCustomer(c *conn, r *Request) (*reply, error) {
	if _, ok := c.customers[r.Customer]; ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: already monitoring customer %s", r.Request, r.Customer)
	}
	if len(c.customers) >= s.maxWatches {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: this connection monitors %d customers, the limit: stop one first (RequestStopMonitorCustomer)", r.Request, len(c.customers))
	}
	w := &customerWatch{}
	customer := r.Customer
	now, cancel, err := s.customers.Watch(customer, func(p callback.Presence) {
		if w.cancelled {
			return
		}
		c.send(&customerStatusEvent{Event: EventCustomerStatus, CustomerStatus: customerStatus(customer, p), Time: s.ts.Now()})
	})
	if err != nil {
		return nil, fmt.Errorf("cti: %s %s: %w", r.Request, customer, err)
	}
	if cancel == nil {
		cancel = func() {}
	}
	w.cancel = cancel
	if c.customers == nil {
		c.customers = map[string]*customerWatch{}
	}
	c.customers[customer] = w
	s.st.monitoring[c] = struct{}{}
	return &reply{CustomerStatus: customerStatus(customer, now)}, nil
}

// stopMonitorCustomer: RequestStopMonitorCustomer. No EventCustomerStatus
// for the customer is queued after its reply.
func (s *Server) stopMonitorCustomer(c *conn, r *Request) (*reply, error) {
	if _, ok := c.customers[r.Customer]; !ok {
		return nil, pbx.Errorf(pbx.Conflict, "cti: %s: not monitoring customer %s", r.Request, r.Customer)
	}
	s.unwatchCustomer(c, r.Customer)
	return nil, nil
}

// unwatchCustomer cancels c's watch of customer.
func (s *Server) unwatchCustomer(c *conn, customer string) {
	w := c.customers[customer]
	if w == nil {
		return
	}
	delete(c.customers, customer)
	if len(c.customers) == 0 {
		delete(s.st.monitoring, c)
	}
	w.cancelled = true
	w.cancel()
}

// unwatchCustomers cancels every customer watch of c: it closed, logged
// out, or the server closes.
func (s *Server) unwatchCustomers(c *conn) {
	for _, customer := range slices.Sorted(maps.Keys(c.customers)) {
		s.unwatchCustomer(c, customer)
	}
}

// requestCallback: RequestCallback, handed to Callbacks once the queue is
// known; the reply carries the callback's id.
func (s *Server) requestCallback(c *conn, r *Request) (*reply, error) {
	queue, err := s.queueName(r)
	if err != nil {
		return nil, err
	}
	id, err := s.callbacks.Request(CallbackRequest{
		Queue: queue, Number: r.Number, Customer: r.Customer, At: r.At, Mode: r.Mode, By: c.principal.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("cti: %s: %w", r.Request, err)
	}
	return &reply{CallbackID: id}, nil
}

// queueName returns the name of the queue r names, by name or number.
func (s *Server) queueName(r *Request) (string, error) {
	if d, ok := s.ts.Directory().Lookup(r.Queue); ok && d.Type == pbx.ACDQueue {
		return d.Owner, nil
	}
	if _, err := s.ts.QueueStats(r.Queue); err == nil {
		return r.Queue, nil
	}
	return "", pbx.Errorf(pbx.NotFound, "cti: %s: no queue %q", r.Request, r.Queue)
}
