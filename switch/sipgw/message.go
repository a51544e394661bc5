package sipgw

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// MessageHandler takes the out-of-dialog MESSAGE requests (RFC 3428) the
// gateway receives: customers' and agents' chat lines. The IM side's SIP
// MESSAGE adapter (imgw/sipmsg) is one; internal/live connects them.
//
// HandleMessage runs on the sipgo goroutine that received req and must
// answer tx (a final response) before it returns. ctx ends when the
// gateway stops serving: work the handler waits for (the domain's loop)
// should end with it.
type MessageHandler interface {
	HandleMessage(ctx context.Context, req *sip.Request, tx sip.ServerTransaction)
}

// MessageHandlerFunc is a function as a MessageHandler.
type MessageHandlerFunc func(ctx context.Context, req *sip.Request, tx sip.ServerTransaction)

// HandleMessage calls f.
func (f MessageHandlerFunc) HandleMessage(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	f(ctx, req, tx)
}

// OnMessage makes h the handler of the MESSAGE requests the gateway
// receives. Without one, a MESSAGE gets 404. Call it before Serve.
func (g *Gateway) OnMessage(h MessageHandler) { g.msgHandler = h }

// onMessage passes a MESSAGE to the handler.
func (g *Gateway) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if g.msgHandler == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	}
	g.msgHandler.HandleMessage(g.ctx, req, tx)
}

// AllowRequest reports whether a request from req's source IP is within
// the per-source rate limit that INVITEs share (Config.InviteRate and
// InviteBurst), taking a token when it is. A MessageHandler asks it
// before it takes a chat line, and answers 503 when it is not.
func (g *Gateway) AllowRequest(req *sip.Request) bool {
	return g.limiter.allow(sourceIP(req.Source()))
}

// LocalURI is the address user has at the gateway: sip:user@host:port of
// its UDP listener. It is valid once Serve runs.
func (g *Gateway) LocalURI(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: g.host, Port: g.port}
}

// Status is the SIP response (code and reason phrase) of a domain error,
// by its kind (pbx.KindOf): the gateway's one table, for handlers that
// answer requests themselves.
func (g *Gateway) Status(err error) (int, string) { return statusOf(err) }

// Errors of SendMessage.
var (
	// ErrNotServing: the gateway does not serve yet, or no longer.
	ErrNotServing = errors.New("sipgw: not serving")
	// ErrQueueFull: MaxQueuedMessages requests already wait for the
	// target.
	ErrQueueFull = errors.New("sipgw: message queue full")
)

// StatusError is a final response other than 2xx to a request sent with
// SendMessage. Its text is the status line's code and reason ("486 Busy
// Here").
type StatusError struct {
	StatusCode int
	Reason     string
}

func (e *StatusError) Error() string { return strconv.Itoa(e.StatusCode) + " " + e.Reason }

// MaxQueuedMessages bounds the requests waiting for one target of
// SendMessage.
const MaxQueuedMessages = 256

// SendMessage sends req, an out-of-dialog request (a MESSAGE), through
// the gateway's client, in order per target: after the requests queued
// earlier for the same target have had their final response (sipgo
// handles every request it receives on a goroutine of its own, so two
// MESSAGEs in flight at once may be shown in either order). target is any
// key the caller chooses (a customer's address of record, an agent's
// contact). req needs its Request-URI, From, To and body; the client fills
// in Via, Call-ID, CSeq and Max-Forwards when they are missing, and sends
// it to req's destination (SetDestination) or its Request-URI.
//
// SendMessage does not block. It returns ErrNotServing or ErrQueueFull,
// sending nothing, when the gateway is not serving or
// MaxQueuedMessages already wait for target. Otherwise done, when not
// nil, gets the outcome once the final response came (at most 32 s, less
// when the gateway stops): nil for 2xx, a *StatusError for another final
// response, or the transaction's error. done runs on a goroutine the
// gateway owns, which Serve waits for: it must not block for long.
func (g *Gateway) SendMessage(target string, req *sip.Request, done func(error)) error {
	if g.cli == nil || g.ctx.Err() != nil {
		return ErrNotServing
	}
	return g.msgQueues.push(g, target, func() {
		err := g.sendMessage(req)
		if done != nil {
			done(err)
		}
	})
}

// sendMessage sends a MESSAGE and waits for its final response.
func (g *Gateway) sendMessage(req *sip.Request) error {
	ctx, cancel := context.WithTimeout(g.ctx, 32*time.Second)
	defer cancel()
	res, err := g.cli.Do(ctx, req)
	switch {
	case err != nil:
		return err
	case !res.IsSuccess():
		return &StatusError{StatusCode: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

// inOrder runs sends one at a time per target, each after the previous
// one returned. A busy target has one goroutine, owned by the gateway,
// which ends when its queue is empty. The zero value is ready.
type inOrder struct {
	mu     sync.Mutex
	queues map[string][]func() // target -> sends waiting for the one in flight
}

// push runs send after the target's earlier sends. It returns
// ErrQueueFull, dropping send, when MaxQueuedMessages already wait, and
// ErrNotServing when the gateway is closing.
func (q *inOrder) push(g *Gateway, target string, send func()) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		q.queues = map[string][]func(){}
	}
	waiting, busy := q.queues[target]
	if busy {
		if len(waiting) >= MaxQueuedMessages {
			return ErrQueueFull
		}
		q.queues[target] = append(waiting, send)
		return nil
	}
	q.queues[target] = nil
	if !g.goOwned(func() { q.run(g, target, send) }) {
		delete(q.queues, target)
		return ErrNotServing
	}
	return nil
}

// run sends a target's requests in order until none waits, or the
// gateway stops.
func (q *inOrder) run(g *Gateway, target string, next func()) {
	for {
		next()
		q.mu.Lock()
		waiting := q.queues[target]
		if len(waiting) == 0 || g.ctx.Err() != nil {
			delete(q.queues, target)
			q.mu.Unlock()
			return
		}
		waiting[0], next, q.queues[target] = nil, waiting[0], waiting[1:]
		q.mu.Unlock()
	}
}
