package callback

import (
	"slices"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// Mode is the order in which a callback brings agent and customer
// together.
type Mode string

// The modes.
const (
	// AgentFirst: the callback waits in its queue as an interaction of
	// media callback; when an agent is offered it, the agent's phone
	// rings, then the dialer calls the customer and bridges them (the
	// agent hears ringback). The default.
	AgentFirst Mode = "agent_first"
	// CustomerFirst: the dialer calls the customer when the queue's
	// estimated wait reaches zero; once the customer answers, the call
	// waits at the head of the queue for the next agent.
	CustomerFirst Mode = "customer_first"
)

// CustomerFirstPriority is the priority of a customer-first callback's
// interaction once the customer answered: it goes before the callbacks
// waiting in its callback queue (the customer is on the line), in serve
// and in sim alike.
const CustomerFirstPriority = 1000

// Valid reports whether m is a mode.
func (m Mode) Valid() bool { return m == AgentFirst || m == CustomerFirst }

// Origin is where a callback request came from.
type Origin string

// The origins.
const (
	OriginIM    Origin = "im"    // the IM bot's offer, accepted
	OriginVoice Origin = "voice" // a caller waiting in queue who pressed 1
	OriginCTI   Origin = "cti"   // RequestCallback by an agent or a router
	OriginREST  Origin = "rest"  // POST /api/callbacks
)

// Valid reports whether o is an origin.
func (o Origin) Valid() bool {
	return o == OriginIM || o == OriginVoice || o == OriginCTI || o == OriginREST
}

// State is where a callback request is; the strings are internal/store's
// Callback* constants.
type State string

// The states.
const (
	Pending   State = "pending"   // waiting: its time, its turn in the queue, a pause, the customer
	Dialing   State = "dialing"   // an attempt is in flight
	Done      State = "done"      // the customer answered
	Failed    State = "failed"    // the dialer gave up
	Cancelled State = "cancelled" // withdrawn by the customer or an agent
)

// Valid reports whether s is a state.
func (s State) Valid() bool {
	return s == Pending || s == Dialing || s == Done || s == Failed || s == Cancelled
}

// Finished reports whether s is final: done, failed or cancelled.
func (s State) Finished() bool { return s == Done || s == Failed || s == Cancelled }

// Result is how one attempt ended.
type Result string

// The results. An attempt in flight has none ("").
const (
	ResultAnswered    Result = "answered"
	ResultBusy        Result = "busy"
	ResultNoAnswer    Result = "no_answer"
	ResultUnreachable Result = "unreachable"
	// ResultUnknown: the attempt was in flight when the switch stopped,
	// or the dialer did not report within the attempt timeout.
	ResultUnknown Result = "unknown"
)

// Attempt is one call the dialer placed for a callback.
type Attempt struct {
	Medium Medium `json:"medium"`
	// Target is the address called (a SIP user, a number).
	Target string `json:"target"`
	Result Result `json:"result"`
	// At is when the attempt started, Ended when its result came.
	At    time.Time `json:"at"`
	Ended time.Time `json:"ended,omitzero"`
	// Round counts the rounds of the request's targets, from 1.
	Round int `json:"round"`
}

// Request is a callback request.
type Request struct {
	// ID is the scheduler's ("cb-1", "cb-2", ...).
	ID    string `json:"id"`
	Queue string `json:"queue"`
	// Customer is the customer number; empty when only a number is
	// known.
	Customer string `json:"customer,omitempty"`
	// Number to call when the customer's preferences name none (or
	// there is no customer).
	Number string `json:"number,omitempty"`
	// Requested is when the customer asked: the callback's wait counts
	// from there (virtual hold), so it keeps its place in its queue.
	Requested time.Time `json:"requested"`
	// At is the time the customer asked to be called; zero: as soon as
	// possible.
	At           time.Time `json:"at,omitzero"`
	Mode         Mode      `json:"mode"`
	Origin       Origin    `json:"origin,omitempty"`
	Conversation string    `json:"conversation,omitempty"`
	State        State     `json:"state"`
	Attempts     []Attempt `json:"attempts"`
	// NextTry is when a pending request waiting for a time (At, a pause
	// between rounds, the customer's hours, an attempt's timeout) is
	// tried; zero otherwise.
	NextTry time.Time `json:"next_try,omitzero"`
	// Round is the current round of targets, from 1 (0 before the first
	// attempt).
	Round int `json:"round"`
}

// clone returns r with its own copy of the attempts.
func (r Request) clone() Request {
	r.Attempts = slices.Clone(r.Attempts)
	if r.Attempts == nil {
		r.Attempts = []Attempt{}
	}
	return r
}

// inFlight returns the index of the attempt in flight, or -1.
func (r *Request) inFlight() int {
	if n := len(r.Attempts); n > 0 && r.Attempts[n-1].Result == "" {
		return n - 1
	}
	return -1
}

// counted is how many attempts count towards MaxAttempts: those with a
// known result.
func (r *Request) counted() int {
	n := 0
	for _, a := range r.Attempts {
		if a.Result != "" && a.Result != ResultUnknown {
			n++
		}
	}
	return n
}

// The errors the scheduler returns, wrapped with what was wrong:
// test with errors.Is. Each is also a domain error of a kind
// (pbx.KindOf) for the transports' tables; the REST API maps
// ErrInvalid to 400, ErrUnknownQueue, ErrUnknownCustomer,
// ErrUnknownCallback and ErrUnknownAlert to 404, ErrOutsideHours to 422
// and ErrConflict to 409.
var (
	ErrInvalid         = &pbx.Error{Kind: pbx.Invalid, Msg: "invalid"}
	ErrUnknownQueue    = &pbx.Error{Kind: pbx.NotFound, Msg: "unknown queue"}
	ErrUnknownCustomer = &pbx.Error{Kind: pbx.NotFound, Msg: "unknown customer"}
	ErrUnknownCallback = &pbx.Error{Kind: pbx.NotFound, Msg: "unknown callback"}
	ErrUnknownAlert    = &pbx.Error{Kind: pbx.NotFound, Msg: "unknown alert"}
	// ErrOutsideHours: a scheduled time the customer's allowed hours do
	// not include.
	ErrOutsideHours = &pbx.Error{Kind: pbx.Conflict, Msg: "outside the customer's allowed hours"}
	// ErrConflict: the request's state does not allow it (cancel a
	// callback that is done, pick one that is not waiting).
	ErrConflict = &pbx.Error{Kind: pbx.Conflict, Msg: "not in this state"}
	// ErrPostponed: Pick found nobody to call now (do-not-disturb, no
	// reachable target, outside hours, a round over): the callback left
	// its queue and waits (Scheduler.Pick).
	ErrPostponed = &pbx.Error{Kind: pbx.Unavailable, Msg: "postponed"}
)
