package live

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/tserver"
)

// routes serves the center's health, status, CTI and web chat.
//
//   - GET /healthz: the process answers.
//   - GET /readyz: ready to take work: the loop runs, the center is not
//     closing and the IM journal writes (503 with the reason otherwise).
//   - GET /api/status: every queue's aggregates, for anyone; the live
//     conversations only for a caller whose bearer token has a role that
//     may watch them (see detailed).
//   - /api/callbacks: the callback API (callbackapi.go).
//   - /cti: the CTI protocol (WebSocket); /chat/: the web chat.
func (c *Center) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", c.readyz)
	mux.HandleFunc("GET /api/status", c.status)
	mux.Handle("/cti", c.cti)
	if c.callbacks != nil {
		c.mountCallbacks(mux, c.callbacks, c.callbacks.durable)
		c.mountAlerts(mux, c.callbacks, c.callbacks.durable)
	}
	if c.im != nil {
		c.im.mount(mux)
	}
	return mux
}

func (c *Center) readyz(w http.ResponseWriter, r *http.Request) {
	if c.draining.Load() {
		http.Error(w, "not ready: the center is draining", http.StatusServiceUnavailable)
		return
	}
	if c.ctx.Err() != nil {
		http.Error(w, "not ready: the center is closing", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := c.loop.Do(ctx, func() {}); err != nil {
		http.Error(w, "not ready: the routing loop does not answer", http.StatusServiceUnavailable)
		return
	}
	if c.im != nil && c.im.journal != nil {
		if err := c.im.journal.Ready(); err != nil {
			http.Error(w, "not ready: the store cannot write: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// status answers GET /api/status. Without credentials it carries the
// queues' aggregates (agents logged in, ready and busy, interactions
// waiting, oldest wait, EWT, service level and counters); the detailed
// view adds the live conversations (with customer numbers and agent ids).
func (c *Center) status(w http.ResponseWriter, r *http.Request) {
	detailed, ok := c.detailed(w, r)
	if !ok {
		return
	}
	var (
		queues []tserver.QueueStatus
		chats  []imgw.ConversationStatus
		agents []agentStatus
	)
	err := c.loop.Do(r.Context(), func() {
		queues = c.ts.Status()
		if !detailed {
			return
		}
		if c.im != nil {
			chats = c.im.gw.Conversations()
		}
		for _, a := range c.ts.Agents() {
			agents = append(agents, agentStatus{ID: a.ID, DN: a.DN, State: a.State().String(), Reason: a.Reason()})
		}
	})
	if err != nil {
		http.Error(w, "the routing loop does not answer", http.StatusServiceUnavailable)
		return
	}
	body := map[string]any{"queues": queues}
	if detailed {
		body["agents"] = agents
		if c.im != nil {
			body["conversations"] = chats
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// agentStatus is an agent in the detailed status.
type agentStatus struct {
	ID     string `json:"id"`
	DN     string `json:"dn,omitempty"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// detailed reports whether r may see the detailed status: no
// Authorization header is a stranger (false, ok); a bearer token of a
// monitor, supervisor or admin may (true, ok). Any other credentials are
// refused here (401 or 403, not ok), never read as a stranger's.
func (c *Center) detailed(w http.ResponseWriter, r *http.Request) (detailed, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false, true
	}
	tok, bearer := strings.CutPrefix(h, "Bearer ")
	p, known := c.users.Token(strings.TrimSpace(tok))
	if !bearer || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ccswitch"`)
		http.Error(w, "unauthorized: unknown bearer token", http.StatusUnauthorized)
		return false, false
	}
	if !p.Has(auth.RoleMonitor) && !p.Has(auth.RoleSupervisor) && !p.Has(auth.RoleAdmin) {
		http.Error(w, "forbidden: the detailed status needs a monitor, supervisor or admin", http.StatusForbidden)
		return false, false
	}
	return true, true
}
