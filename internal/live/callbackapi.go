package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/auth"
)

// The callback API (README.md, "Callbacks over HTTP"):
//
//   - POST /api/callbacks {"queue": Q, "number": N} or {"queue": Q,
//     "customer": C}, optional "at" (RFC 3339) and "mode" (agent_first,
//     the default, or customer_first): 201 and the request.
//   - GET /api/callbacks/{id}: the request, its state and every attempt.
//   - GET /api/callbacks?state=pending: {"callbacks": [...]}, by id.
//   - DELETE /api/callbacks/{id}: cancels it; 200 and the request.
//   - POST /api/alerts {"customer": C, "kind": "wait_under", "queue": Q,
//     "minutes": N} or {"customer": C, "kind": "before_callback",
//     "callback": ID, "minutes": N}, optional "medium" (xmpp, sip, web):
//     201 and the alert; GET /api/alerts; DELETE /api/alerts/{id}.
//
// Every call needs a bearer token of a router, supervisor or admin.
// Errors are {"error": "..."} with 400 (a bad body), 401, 403, 404 (an
// unknown queue, customer or callback), 409 (cancelling a finished one) or
// 422 (a time the customer does not accept calls); a refused request
// stores nothing.

// callbackService is what the API needs of the callback scheduler; its
// methods run on the loop.
type callbackService interface {
	Request(r callback.Request) (callback.Request, error)
	Get(id string) (callback.Request, bool)
	List(state callback.State) []callback.Request
	Cancel(id string) (callback.Request, error)
	AddAlert(a callback.Alert) (callback.Alert, error)
	Alerts() []callback.Alert
	RemoveAlert(id string) error
}

// alertBody is POST /api/alerts' body.
type alertBody struct {
	Customer string `json:"customer"`
	Queue    string `json:"queue"`
	Kind     string `json:"kind"`
	Minutes  int    `json:"minutes"`
	Medium   string `json:"medium"`
	Callback string `json:"callback"`
}

// decodeAlert reads a POST /api/alerts body; the scheduler checks the
// rest (known customer, queue, callback; minutes in range).
func decodeAlert(body []byte) (callback.Alert, error) {
	bad := func(format string, args ...any) (callback.Alert, error) {
		return callback.Alert{}, fmt.Errorf("%w: %s", errBadCallback, fmt.Sprintf(format, args...))
	}
	if len(body) > maxCallbackBody {
		return bad("the body has more than %d bytes", maxCallbackBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b alertBody
	if err := dec.Decode(&b); err != nil {
		return bad("the body is not a JSON object of customer, queue, kind, minutes, medium and callback: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("more than one JSON value in the body")
	}
	a := callback.Alert{Customer: strings.TrimSpace(b.Customer), Queue: strings.TrimSpace(b.Queue),
		Kind: callback.AlertKind(b.Kind), Minutes: b.Minutes, Medium: callback.Medium(b.Medium), Callback: strings.TrimSpace(b.Callback)}
	switch {
	case a.Customer == "":
		return bad(`"customer" is required`)
	case a.Kind != callback.WaitUnder && a.Kind != callback.BeforeCallback:
		return bad(`"kind" %q (want wait_under or before_callback)`, cutText(b.Kind))
	case a.Medium != "" && a.Medium != callback.XMPP && a.Medium != callback.SIP && a.Medium != callback.Web:
		return bad(`"medium" %q (want xmpp, sip or web, or none: the first that reaches the customer)`, cutText(b.Medium))
	}
	return a, nil
}

// maxCallbackBody bounds a POST's body.
const maxCallbackBody = 4 << 10

// callbackBody is POST /api/callbacks' body.
type callbackBody struct {
	Queue    string `json:"queue"`
	Number   string `json:"number"`
	Customer string `json:"customer"`
	At       string `json:"at"`
	Mode     string `json:"mode"`
}

// errBadCallback marks what decodeCallback refuses (400).
var errBadCallback = errors.New("bad callback request")

// decodeCallback reads a POST body into a request to schedule, or says
// what is wrong with it.
func decodeCallback(body []byte) (callback.Request, error) {
	bad := func(format string, args ...any) (callback.Request, error) {
		return callback.Request{}, fmt.Errorf("%w: %s", errBadCallback, fmt.Sprintf(format, args...))
	}
	if len(body) > maxCallbackBody {
		return bad("the body has more than %d bytes", maxCallbackBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b callbackBody
	if err := dec.Decode(&b); err != nil {
		return bad("the body is not a JSON object of queue, number or customer, at and mode: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("more than one JSON value in the body")
	}
	r := callback.Request{
		Queue: strings.TrimSpace(b.Queue), Number: strings.TrimSpace(b.Number),
		Customer: strings.TrimSpace(b.Customer), Origin: callback.OriginREST, Mode: callback.AgentFirst,
	}
	switch {
	case r.Queue == "":
		return bad(`"queue" is required`)
	case r.Number == "" && r.Customer == "":
		return bad(`give "number" or "customer"`)
	case r.Number != "" && r.Customer != "":
		return bad(`give "number" or "customer", not both`)
	case r.Number != "" && !phoneNumber(r.Number):
		return bad(`"number" %q is not a phone number (digits, an optional leading +, 3-20 long)`, cutText(r.Number))
	}
	if b.Mode != "" {
		r.Mode = callback.Mode(b.Mode)
		if !r.Mode.Valid() {
			return bad(`"mode" %q (want agent_first or customer_first)`, cutText(b.Mode))
		}
	}
	if b.At != "" {
		at, err := time.Parse(time.RFC3339, b.At)
		if err != nil {
			return bad(`"at" %q is not an RFC 3339 time such as 2026-12-02T15:04:05+01:00`, cutText(b.At))
		}
		r.At = at
	}
	return r, nil
}

func phoneNumber(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 3 || len(d) > 20 {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// cut shortens what a client sent before it is echoed in an error.
func cutText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// jsonProblem says what the JSON decoder found wrong, without Go types.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%q must be a string", te.Field)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return cutText(err.Error())
}

// creator is a POST that makes something the loop keeps and the store
// journals: it reads and decodes the body (400), has add make it on the
// loop (the scheduler's error mapped by callbackStatus), waits until it
// is stored (503 otherwise: a 201 promises it survives a crash) and
// answers 201 with it and its Location.
func creator[T any](c *Center, decode func([]byte) (T, error), add func(T) (T, error), durable func(context.Context) error,
	what string, location func(T) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody+1))
		if err != nil {
			apiError(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		}
		in, err := decode(body)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		var made T
		if err := c.loop.Do(r.Context(), func() { made, err = add(in) }); err != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if err != nil {
			apiError(w, callbackStatus(err), err.Error())
			return
		}
		if err := durable(r.Context()); err != nil {
			apiError(w, http.StatusServiceUnavailable, what+" "+location(made)+" may not be stored: "+err.Error())
			return
		}
		w.Header().Set("Location", location(made))
		apiJSON(w, http.StatusCreated, made)
	}
}

// mountCallbacks adds the callback API to mux; durable returns once what
// svc journaled is stored (a 201 promises that the callback survives a
// crash).
func (c *Center) mountCallbacks(mux *http.ServeMux, svc callbackService, durable func(context.Context) error) {
	mux.HandleFunc("POST /api/callbacks", creator(c, decodeCallback, svc.Request, durable, "the callback",
		func(r callback.Request) string { return "/api/callbacks/" + r.ID }))
	mux.HandleFunc("GET /api/callbacks/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		var (
			got   callback.Request
			found bool
		)
		if err := c.loop.Do(r.Context(), func() { got, found = svc.Get(r.PathValue("id")) }); err != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if !found {
			apiError(w, http.StatusNotFound, fmt.Sprintf("no callback %q", cutText(r.PathValue("id"))))
			return
		}
		apiJSON(w, http.StatusOK, got)
	})
	mux.HandleFunc("GET /api/callbacks", func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		state := callback.State(r.URL.Query().Get("state"))
		if state != "" && !state.Valid() {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("state %q (want pending, dialing, done, failed or cancelled)", cutText(string(state))))
			return
		}
		var list []callback.Request
		if err := c.loop.Do(r.Context(), func() { list = svc.List(state) }); err != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if list == nil {
			list = []callback.Request{}
		}
		apiJSON(w, http.StatusOK, map[string]any{"callbacks": list})
	})
	mux.HandleFunc("DELETE /api/callbacks/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		var (
			got callback.Request
			err error
		)
		if derr := c.loop.Do(r.Context(), func() { got, err = svc.Cancel(r.PathValue("id")) }); derr != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if err != nil {
			apiError(w, callbackStatus(err), err.Error())
			return
		}
		apiJSON(w, http.StatusOK, got)
	})
}

// mountAlerts adds the alert API to mux: POST /api/alerts, GET
// /api/alerts, DELETE /api/alerts/{id}, with the callback API's roles.
func (c *Center) mountAlerts(mux *http.ServeMux, svc callbackService, durable func(context.Context) error) {
	mux.HandleFunc("POST /api/alerts", creator(c, decodeAlert, svc.AddAlert, durable, "the alert",
		func(a callback.Alert) string { return "/api/alerts/" + a.ID }))
	mux.HandleFunc("GET /api/alerts", func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		var list []callback.Alert
		if err := c.loop.Do(r.Context(), func() { list = svc.Alerts() }); err != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if list == nil {
			list = []callback.Alert{}
		}
		apiJSON(w, http.StatusOK, map[string]any{"alerts": list})
	})
	mux.HandleFunc("DELETE /api/alerts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !c.callbackCaller(w, r) {
			return
		}
		var err error
		if derr := c.loop.Do(r.Context(), func() { err = svc.RemoveAlert(r.PathValue("id")) }); derr != nil {
			apiError(w, http.StatusServiceUnavailable, "the routing loop does not answer")
			return
		}
		if err != nil {
			apiError(w, callbackStatus(err), err.Error())
			return
		}
		apiJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "state": "removed"})
	})
}

// callbackCaller admits a router, supervisor or admin (bearer token);
// anyone else gets 401 or 403 and false.
func (c *Center) callbackCaller(w http.ResponseWriter, r *http.Request) bool {
	tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p, known := c.users.Token(strings.TrimSpace(tok))
	if !bearer || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ccswitch"`)
		apiError(w, http.StatusUnauthorized, "unauthorized: the callback API needs a bearer token")
		return false
	}
	if !p.Has(auth.RoleRouter) && !p.Has(auth.RoleSupervisor) && !p.Has(auth.RoleAdmin) {
		apiError(w, http.StatusForbidden, "forbidden: callbacks need a router, supervisor or admin")
		return false
	}
	return true
}

func apiJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	apiJSON(w, code, map[string]string{"error": msg})
}
