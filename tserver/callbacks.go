package tserver

import (
	"cmp"
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// CallbackQueues are the center's queues as the callback scheduler sees
// them (callback.Queues), the one implementation `serve` and `sim` share:
// a callback waits in its callback queue (a queue of media callback, the
// queue's callback_queue) as an interaction of media callback, arrived
// when the customer asked, so that it keeps the customer's place; the
// first time it is counted as offered (Arrival.Since), afterwards it comes
// back resumed (Arrival.Resume), counted once, and as answered if an
// agent took it already (Taken). It belongs to the Server's goroutine.
type CallbackQueues struct {
	s *Server
	// queueOf maps a queue callbacks may be asked for to the callback
	// queue they wait in (a callback queue maps to itself).
	queueOf map[string]string
	// The interaction that carries each callback, and back.
	byConn map[pbx.ConnID]string
	byID   map[string]pbx.ConnID
	// entered: counted as offered already; taken: answered by an agent
	// already.
	entered, taken map[string]bool
	// Complete, when set, completes each callback's arrival before it
	// enters (attached data beyond callback_id, a tag).
	Complete func(r callback.Request, in *Arrival)
}

var _ callback.Queues = (*CallbackQueues)(nil)

// CallbackIDKey is the attached-data key of the callback an interaction
// of media callback carries.
const CallbackIDKey = "callback_id"

// NewCallbackQueues returns s's queues for callbacks, as f's queues name
// their callback queues; it forgets interactions as they end.
func NewCallbackQueues(s *Server, f *config.File) *CallbackQueues {
	q := &CallbackQueues{s: s, queueOf: map[string]string{}, byConn: map[pbx.ConnID]string{}, byID: map[string]pbx.ConnID{},
		entered: map[string]bool{}, taken: map[string]bool{}}
	for _, cq := range f.Queues {
		switch {
		case cq.Media == "callback":
			q.queueOf[cq.Name] = cq.Name
		case cq.CallbackQueue != "":
			q.queueOf[cq.Name] = cq.CallbackQueue
		}
	}
	s.Subscribe(func(e Event) {
		if e.Media != pbx.Callback {
			return
		}
		// An interaction that ended; not one transferred or whose offer
		// was refused: it goes on.
		if e.Type == EventAbandoned || e.Type == EventReleased && e.Reason == "" {
			q.Forget(e.ConnID)
		}
	})
	return q
}

// Known implements callback.Queues.
func (q *CallbackQueues) Known(queue string) bool { _, ok := q.queueOf[queue]; return ok }

// Queue is the callback queue where queue's callbacks wait.
func (q *CallbackQueues) Queue(queue string) (string, bool) {
	cq, ok := q.queueOf[queue]
	return cq, ok
}

// Enqueue implements callback.Queues. The interaction is offered at once
// when an agent is free (from inside Arrive: its attached data names the
// callback, CallbackIDKey, before Enqueue has bound it).
func (q *CallbackQueues) Enqueue(r callback.Request) error {
	cq, ok := q.queueOf[r.Queue]
	if !ok {
		return fmt.Errorf("no callback queue for %q", r.Queue)
	}
	in := &Arrival{Media: pbx.Callback, DNIS: cq, ANI: cmp.Or(r.Number, r.Customer)}
	in.UserData.Set(CallbackIDKey, r.ID)
	if q.entered[r.ID] {
		in.Resume = &Resume{Arrived: r.Requested, Answered: q.taken[r.ID]}
	} else {
		in.Since = r.Requested
	}
	if q.Complete != nil {
		q.Complete(r, in)
	}
	id, err := q.s.Arrive(in)
	if err != nil {
		return err
	}
	q.entered[r.ID] = true
	if q.s.Contact(id) != nil {
		// (Bound already if what happened inside Arrive queued it again.)
		if _, bound := q.byID[r.ID]; !bound {
			q.Bind(id, r.ID)
		}
	}
	return nil
}

// Withdraw implements callback.Queues: out of its queue without an
// outcome, or, offered or connected, the interaction ends.
func (q *CallbackQueues) Withdraw(id string) {
	conn, ok := q.byID[id]
	if !ok {
		return
	}
	q.Forget(conn)
	x := q.s.Contact(conn)
	if x == nil {
		return
	}
	switch x.State {
	case pbx.Queued, pbx.Routing, pbx.Redirected:
		_ = q.s.Withdraw(conn)
	default:
		_ = q.s.ReleaseCall(conn)
	}
}

// EWT implements callback.Queues: the estimated wait of queue itself (a
// customer-first callback is dialled when its callers' queue has no wait
// left; an alert speaks of the queue the customer asked about).
func (q *CallbackQueues) EWT(queue string) (time.Duration, bool) {
	e, err := q.s.EstimatedWait(queue)
	if err != nil {
		return 0, false
	}
	return e.Staffing, true
}

// Bind records that interaction conn carries callback id.
func (q *CallbackQueues) Bind(conn pbx.ConnID, id string) { q.byConn[conn], q.byID[id] = id, conn }

// Callback is the callback interaction conn carries.
func (q *CallbackQueues) Callback(conn pbx.ConnID) (string, bool) {
	id, ok := q.byConn[conn]
	return id, ok
}

// Interaction is the interaction that carries callback id now.
func (q *CallbackQueues) Interaction(id string) (pbx.ConnID, bool) {
	conn, ok := q.byID[id]
	return conn, ok
}

// Taken records that an agent answered callback id: should it come back
// (a retry after a pause), it is counted answered already.
func (q *CallbackQueues) Taken(id string) { q.taken[id] = true }

// Forget drops interaction conn (it ended, or the callback left it).
func (q *CallbackQueues) Forget(conn pbx.ConnID) {
	if id, ok := q.byConn[conn]; ok {
		delete(q.byConn, conn)
		if q.byID[id] == conn {
			delete(q.byID, id)
		}
	}
}
