package sipgw

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The hook: without a handler a MESSAGE gets 404; with one, the handler
// gets the request, its transaction and a context that ends when the
// gateway stops.
func TestOnMessageHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, time.Second)
		phone := h.phone("127.0.0.1:7001")
		if res := phone.Message("support", "hello", 1); res.StatusCode != 404 {
			t.Errorf("no handler: %d, want 404", res.StatusCode)
		}
		h.stop()

		var mu sync.Mutex
		var got []string
		var ctxs []context.Context
		h = tmStartWith(t, time.Second, func(g *Gateway) {
			g.OnMessage(MessageHandlerFunc(func(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
				mu.Lock()
				got = append(got, req.Recipient.User+": "+string(req.Body()))
				ctxs = append(ctxs, ctx)
				mu.Unlock()
				_ = tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
			}))
		})
		phone = h.phone("127.0.0.1:7001")
		if res := phone.Message("support", "hello", 1); res.StatusCode != 202 {
			t.Errorf("handler's response: %d, want 202", res.StatusCode)
		}
		if u := h.gw.LocalURI("support"); u.String() != "sip:support@127.0.0.1:5060" {
			t.Errorf("LocalURI %s", u.String())
		}
		h.stop()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0] != "support: hello" {
			t.Fatalf("handler got %q", got)
		}
		if ctxs[0].Err() == nil {
			t.Error("the handler's context outlived the gateway")
		}
	})
}

// SendMessage sends one request at a time per target, each after the
// previous one's final response, and tells done how it went.
func TestSendMessageInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, time.Second)
		defer h.stop()
		if err := (&Gateway{ctx: context.Background()}).SendMessage("x", nil, nil); !errors.Is(err, ErrNotServing) {
			t.Errorf("before Serve: %v, want ErrNotServing", err)
		}
		phone := h.phone("127.0.0.1:7001")
		synctest.Wait()
		var mu sync.Mutex
		outcomes := map[string]error{}
		for _, text := range []string{"one", "two", "three"} {
			req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "carol", Host: "127.0.0.1", Port: 7001})
			from := &sip.FromHeader{Address: h.gw.LocalURI("support"), Params: sip.NewParams()}
			from.Params.Add("tag", sip.GenerateTagN(8))
			req.AppendHeader(from)
			req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "carol", Host: "127.0.0.1"}, Params: sip.NewParams()})
			req.SetBody([]byte(text))
			done := func(err error) {
				mu.Lock()
				outcomes[text] = err
				mu.Unlock()
			}
			if err := h.gw.SendMessage("carol", req, done); err != nil {
				t.Fatal(err)
			}
		}
		var order []string
		var last *sip.Request
		for len(order) < 3 {
			m := phone.Expect("MESSAGE", 5*time.Second).(*sip.Request)
			if last != nil && m.CallID().Value() == last.CallID().Value() {
				continue // a retransmission
			}
			// Nothing else comes while this one is unanswered.
			if other := phone.Recv(time.Second); other != nil {
				if r, ok := other.(*sip.Request); !ok || r.CallID().Value() != m.CallID().Value() {
					t.Fatalf("a second request while %q is unanswered", m.Body())
				}
			}
			last = m
			order = append(order, string(m.Body()))
			code, reason := 200, "OK"
			if string(m.Body()) == "two" {
				code, reason = 486, "Busy Here"
			}
			phone.Respond(m, code, reason)
		}
		if order[0] != "one" || order[1] != "two" || order[2] != "three" {
			t.Fatalf("order %q", order)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		var se *StatusError
		if outcomes["one"] != nil || outcomes["three"] != nil || !errors.As(outcomes["two"], &se) ||
			se.StatusCode != 486 || outcomes["two"].Error() != "486 Busy Here" {
			t.Errorf("outcomes %v", outcomes)
		}
	})
}

// A target with MaxQueuedMessages requests waiting takes no more.
func TestSendMessageQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, time.Second)
		phone := h.phone("127.0.0.1:7001") // never answers
		synctest.Wait()
		req := func() *sip.Request {
			r := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "carol", Host: "127.0.0.1", Port: 7001})
			from := &sip.FromHeader{Address: h.gw.LocalURI("support"), Params: sip.NewParams()}
			from.Params.Add("tag", sip.GenerateTagN(8))
			r.AppendHeader(from)
			r.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "carol", Host: "127.0.0.1"}, Params: sip.NewParams()})
			return r
		}
		for i := range MaxQueuedMessages + 1 { // one in flight, the rest waiting
			if err := h.gw.SendMessage("carol", req(), nil); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if err := h.gw.SendMessage("carol", req(), nil); !errors.Is(err, ErrQueueFull) {
			t.Errorf("past the bound: %v, want ErrQueueFull", err)
		}
		if err := h.gw.SendMessage("dave", req(), nil); err != nil {
			t.Errorf("another target: %v", err)
		}
		phone.Expect("MESSAGE", 5*time.Second)
		h.stop()
		if err := h.gw.SendMessage("carol", req(), nil); !errors.Is(err, ErrNotServing) {
			t.Errorf("after Serve: %v, want ErrNotServing", err)
		}
	})
}
