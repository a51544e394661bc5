package live

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/sqlitejournal"
	"github.com/ccswitch/ccswitch/imgw/webchat"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/store"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// callbacks wires the callback server's scheduler to the center: its
// requests wait in tserver's callback queues as interactions of media
// callback, the SIP gateway dials them (agent first), the store keeps
// them, the IM bot, a caller's key press, CTI and the REST API ask for
// them. Everything here runs on the loop, but the REST handlers' waits.
type callbacks struct {
	// CallbackQueues are the scheduler's Queues: tserver's callback
	// queues, as in sim.
	*tserver.CallbackQueues
	c     *Center
	log   zerolog.Logger
	sched *callback.Scheduler
	// digits: the key a queue's callers press for a callback.
	digits map[string]rune
	// softphones: each customer's SIP devices (users), for SIP MESSAGE.
	softphones map[string][]string
	// chatAt: where a customer asked for an alert in a chat, by medium:
	// where its notices go when presence knows no better.
	chatAt map[string]map[callback.Medium]imgw.Address
}

var (
	_ callback.Queues   = (*callbacks)(nil)
	_ callback.Dialer   = (*callbacks)(nil)
	_ callback.Journal  = (*callbacks)(nil)
	_ sipgw.Callbacks   = (*callbacks)(nil)
	_ cti.Callbacks     = ctiCallbacks{}
	_ callbackService   = (*callbacks)(nil)
	_ callback.Notifier = (*callbacks)(nil)
)

// openCallbacks builds the callback side and restores what the store
// kept; before the loop runs.
func (c *Center) openCallbacks(ctx context.Context) error {
	f := c.cfg.Center
	cb := &callbacks{
		c: c, log: c.log.With().Str("component", "callback").Logger(),
		CallbackQueues: tserver.NewCallbackQueues(c.ts, f),
		digits:         map[string]rune{}, softphones: map[string][]string{},
		chatAt: map[string]map[callback.Medium]imgw.Address{},
	}
	// A callback enters its queue with whose it is and the customer's
	// status then.
	cb.Complete = func(r callback.Request, in *tserver.Arrival) {
		if r.Customer != "" {
			in.UserData.Set("customer", r.Customer)
			in.UserData.Set("customer_status", string(c.presence.tracker.Presence(r.Customer).Status))
		}
	}
	if f.IM != nil {
		for _, cu := range f.IM.Customers {
			for _, d := range cu.Devices {
				if d.Network == config.DeviceSIP {
					cb.softphones[cu.Number] = append(cb.softphones[cu.Number], d.Address)
				}
			}
		}
	}
	for _, q := range f.Queues {
		if q.CallbackDigit != "" {
			cb.digits[q.Name] = rune(q.CallbackDigit[0])
		}
	}
	dir, err := callback.ConfigDirectory(f)
	if err != nil {
		return &ConfigError{err}
	}
	cb.sched, err = callback.NewScheduler(callback.Config{
		Clock: c.realClock, Directory: dir, Tracker: c.presence.tracker,
		Queues: cb, Dialer: cb, Notifier: cb, Journal: cb,
	})
	if err != nil {
		return err
	}
	c.callbacks = cb
	c.ts.Subscribe(cb.onEvent)
	c.gw.OnCallback(cb)
	if c.im == nil {
		return nil
	}
	docs, err := c.im.st.CallbackDocs(ctx)
	if err != nil {
		return fmt.Errorf("live: store %s: %w", c.cfg.StorePath, err)
	}
	reqs := make([]callback.Request, 0, len(docs))
	for _, d := range docs {
		var r callback.Request
		if err := json.Unmarshal(d.Doc, &r); err != nil {
			return fmt.Errorf("live: store %s: callback %s: %w", c.cfg.StorePath, d.ID, err)
		}
		reqs = append(reqs, r)
	}
	if err := cb.sched.Restore(reqs); err != nil {
		return fmt.Errorf("live: store %s: %w", c.cfg.StorePath, err)
	}
	if len(reqs) > 0 {
		cb.log.Info().Int("callbacks", len(reqs)).Int("pending", len(cb.sched.List(callback.Pending))).Msg("callbacks restored")
	}
	adocs, err := c.im.st.AlertDocs(ctx)
	if err != nil {
		return fmt.Errorf("live: store %s: %w", c.cfg.StorePath, err)
	}
	alerts := make([]callback.Alert, 0, len(adocs))
	for _, d := range adocs {
		var a callback.Alert
		if err := json.Unmarshal(d.Doc, &a); err != nil {
			return fmt.Errorf("live: store %s: alert %s: %w", c.cfg.StorePath, d.ID, err)
		}
		alerts = append(alerts, a)
	}
	if err := cb.sched.RestoreAlerts(alerts); err != nil {
		return fmt.Errorf("live: store %s: %w", c.cfg.StorePath, err)
	}
	return nil
}

// Dial implements callback.Dialer. Agent first, the agent on the
// callback's interaction calls t; customer first, the gateway calls t and,
// once answered, queues the call at the head of the callback queue for
// the next agent.
func (cb *callbacks) Dial(id string, attempt int, t callback.Target, mode callback.Mode) {
	unreachable := func(why string) {
		cb.log.Error().Str("callback", id).Str("mode", string(mode)).Msg("callback: " + why)
		cb.c.loop.Post(func() { _ = cb.sched.Result(id, attempt, callback.ResultUnreachable) })
	}
	if mode == callback.CustomerFirst {
		r, ok := cb.sched.Get(id)
		queue, qok := cb.Queue(r.Queue)
		if !ok || !qok {
			unreachable("no callback queue for a customer-first callback")
			return
		}
		var data pbx.UserData
		data.Set("callback_id", id)
		data.Set("callback_medium", string(t.Medium))
		if r.Customer != "" {
			data.Set("customer", r.Customer)
			data.Set("customer_status", string(cb.c.presence.tracker.Presence(r.Customer).Status))
		}
		cb.c.gw.DialCustomerFirst(t, queue, r.Requested, data, func(res callback.Result) {
			if err := cb.sched.Result(id, attempt, res); err != nil {
				cb.log.Warn().Err(err).Str("callback", id).Msg("callback: result refused")
			}
		})
		return
	}
	conn, ok := cb.Interaction(id)
	if !ok {
		unreachable("nothing carries this call")
		return
	}
	if x := cb.c.ts.Contact(conn); x != nil {
		x.UserData.Set("callback_medium", string(t.Medium))
	}
	cb.c.gw.DialCallback(conn, attempt, t)
}

// Answered implements sipgw.Callbacks: the agent took the callback; the
// scheduler picks whom to call (and has the gateway dial), or postpones.
func (cb *callbacks) Answered(conn pbx.ConnID) {
	id, ok := cb.Callback(conn)
	if !ok {
		_ = cb.c.ts.ReleaseCall(conn)
		return
	}
	cb.Taken(id)
	if _, err := cb.sched.Pick(id); err != nil {
		cb.log.Info().Err(err).Str("callback", id).Msg("callback: nobody to call now")
		if _, still := cb.Callback(conn); still {
			cb.Forget(conn)
			_ = cb.c.ts.ReleaseCall(conn)
		}
	}
}

// Result implements sipgw.Callbacks.
func (cb *callbacks) Result(conn pbx.ConnID, attempt int, r callback.Result) {
	id, ok := cb.Callback(conn)
	if !ok {
		return
	}
	if err := cb.sched.Result(id, attempt, r); err != nil {
		cb.log.Warn().Err(err).Str("callback", id).Msg("callback: result refused")
	}
}

// onEvent: as a callback is offered to an agent (EventDiverted comes
// before EventRinging), it attaches the customer's status now and the
// medium the dialer would use.
func (cb *callbacks) onEvent(e tserver.Event) {
	if e.Media != pbx.Callback || e.Type != tserver.EventDiverted {
		return
	}
	// (Offered from inside Enqueue's Arrive, before the interaction is
	// bound: its attached data names the callback.)
	x := cb.c.ts.Contact(e.ConnID)
	if x == nil {
		return
	}
	id, ok := x.UserData.Get(tserver.CallbackIDKey)
	if !ok {
		return
	}
	if r, ok := cb.sched.Get(id); ok && r.Customer != "" {
		x.UserData.Set("customer_status", string(cb.c.presence.tracker.Presence(r.Customer).Status))
	}
	if t, ok := cb.sched.Planned(id); ok {
		x.UserData.Set("callback_medium", string(t.Medium))
	}
}

// Notify implements callback.Notifier: a heads-up or an alert over the
// customer's XMPP network (where the presence side last saw them), or by
// SIP MESSAGE to their registered softphones. Best effort: what cannot go
// out is logged.
func (cb *callbacks) Notify(customer string, medium callback.Medium, text string) {
	sent := false
	switch medium {
	case callback.XMPP, callback.Web:
		to, ok := cb.chatAt[customer][medium]
		if medium == callback.XMPP {
			if at, seen := cb.c.presence.xmppAddress(customer); seen {
				to, ok = at, true
			}
		}
		if ok && cb.c.im != nil {
			sent = cb.c.im.gw.Notify(to, text)
		}
	case callback.SIP:
		for _, user := range cb.softphones[customer] {
			for _, b := range cb.c.reg.Lookup(user) {
				req := sip.NewRequest(sip.MESSAGE, b.URI)
				from := &sip.FromHeader{Address: cb.c.gw.LocalURI(cb.chatUser()), Params: sip.NewParams()}
				from.Params.Add("tag", sip.GenerateTagN(16))
				req.AppendHeader(from)
				req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: b.URI.Host, Port: b.URI.Port}})
				req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
				req.SetBody([]byte(text))
				if err := cb.c.gw.SendMessage("callback:"+b.URI.String(), req, nil); err == nil {
					sent = true
				}
			}
		}
	}
	if !sent {
		cb.log.Info().Str("customer", customer).Str("medium", string(medium)).Msg("callback: a notice could not go out")
	}
}

// chatAlert takes a waiting chat customer's "tell me when the wait is
// under N minutes" (imgw.Config.OnAlert): an alert of the customer the
// chat is known to be (verified in it, or by its device), told on the
// chat's network.
func (cb *callbacks) chatAlert(from imgw.Address, verified, queue string, minutes int) (string, error) {
	customer := verified
	if customer == "" && strings.HasPrefix(from.Network, "xmpp") {
		if n, ok := cb.c.presence.customerOfDevice(config.DeviceXMPP, from.User); ok {
			customer = n
		} else if n, ok := cb.c.linkedCustomer(from); ok {
			customer = n
		}
	}
	if customer == "" {
		return "", errors.New("we do not know who you are yet; tell me your customer number first")
	}
	var medium callback.Medium
	switch {
	case strings.HasPrefix(from.Network, "xmpp"):
		medium = callback.XMPP
	case from.Network == webchat.Network:
		medium = callback.Web
	default:
		medium = callback.SIP
	}
	a, err := cb.sched.AddAlert(callback.Alert{Customer: customer, Queue: queue, Kind: callback.WaitUnder, Minutes: minutes, Medium: medium})
	if err != nil {
		cb.log.Info().Err(err).Str("customer", customer).Msg("callback: a chat's alert refused")
		return "", errors.New("not for this queue")
	}
	if cb.chatAt[customer] == nil {
		if len(cb.chatAt) >= maxPresenceLimits {
			clear(cb.chatAt)
		}
		cb.chatAt[customer] = map[callback.Medium]imgw.Address{}
	}
	cb.chatAt[customer][medium] = imgw.Address{Network: from.Network, User: from.User}
	return fmt.Sprintf("I will tell you here when the wait is under %d minutes (alert %s).", a.Minutes, a.ID), nil
}

// chatUser is the user part of the center's chat address, the sender of
// what the callback server says by SIP MESSAGE.
func (cb *callbacks) chatUser() string {
	if f := cb.c.cfg.Center; f.IM != nil && f.IM.Networks.SIPMessage.User != "" {
		return f.IM.Networks.SIPMessage.User
	}
	return "support"
}

// Save implements callback.Journal: the request, whole, to the store
// (and to the recording, when the session is recorded).
func (cb *callbacks) Save(r callback.Request) {
	if cb.c.rec != nil {
		cb.c.rec.Callback(cb.c.realClock.Now(), r)
	}
	if cb.c.im == nil {
		return
	}
	doc, err := json.Marshal(r)
	if err != nil {
		cb.log.Error().Err(err).Str("callback", r.ID).Msg("callback not stored")
		return
	}
	var b store.Batch
	b.CallbackDoc(store.CallbackDoc{ID: r.ID, State: string(r.State), Queue: r.Queue, Requested: r.Requested, Doc: doc})
	cb.c.im.w.SubmitBatch(&b, func(what string, err error) {
		cb.log.Error().Err(err).Str("record", what).Msg("callback not stored")
	}, nil)
}

// SaveAlert implements callback.Journal.
func (cb *callbacks) SaveAlert(a callback.Alert) {
	if cb.c.im == nil {
		return
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return
	}
	var b store.Batch
	b.AlertDoc(store.AlertDoc{ID: a.ID, Doc: doc})
	cb.c.im.w.SubmitBatch(&b, func(what string, err error) {
		cb.log.Error().Err(err).Str("record", what).Msg("alert not stored")
	}, nil)
}

// durable waits until what was journaled before it is in the store.
func (cb *callbacks) durable(ctx context.Context) error {
	if cb.c.im == nil {
		return nil
	}
	done := make(chan error, 1)
	cb.c.im.w.Submit(func(*sql.Tx) error { return nil }, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ctiCallbacks is the callback side as CTI's RequestCallback sees it.
type ctiCallbacks struct{ cb *callbacks }

// Request implements cti.Callbacks.
func (x ctiCallbacks) Request(r cti.CallbackRequest) (string, error) {
	if x.cb == nil {
		return "", pbx.Errorf(pbx.Unavailable, "callbacks are not available")
	}
	made, err := x.cb.Request(callback.Request{Queue: r.Queue, Number: r.Number, Customer: r.Customer, At: r.At,
		Mode: callback.Mode(r.Mode), Origin: callback.OriginCTI})
	return made.ID, err
}

// AddAlert, Alerts and RemoveAlert implement callbackService.
func (cb *callbacks) AddAlert(a callback.Alert) (callback.Alert, error) { return cb.sched.AddAlert(a) }

func (cb *callbacks) Alerts() []callback.Alert { return cb.sched.Alerts() }

func (cb *callbacks) RemoveAlert(id string) error { return cb.sched.RemoveAlert(id) }

// Get, List and Cancel implement callbackService.
func (cb *callbacks) Get(id string) (callback.Request, bool) { return cb.sched.Get(id) }

func (cb *callbacks) List(state callback.State) []callback.Request { return cb.sched.List(state) }

func (cb *callbacks) Cancel(id string) (callback.Request, error) {
	if err := cb.sched.Cancel(id); err != nil {
		return callback.Request{}, err
	}
	r, _ := cb.sched.Get(id)
	return r, nil
}

// Request schedules r (callbackService).
func (cb *callbacks) Request(r callback.Request) (callback.Request, error) {
	return cb.sched.Request(r)
}

// bot's callback: imgw's journal record of a chat customer's request,
// now scheduled. It keeps the chat's place (its arrival) when known.
func (cb *callbacks) fromChat(r imgw.CallbackRequest) error {
	req := callback.Request{Queue: r.Queue, Number: r.Number, Requested: r.Requested, Origin: callback.OriginIM, Conversation: r.Conversation}
	// The customer: whom the bot identified, else whose device wrote
	// (the center file's devices, the store's links).
	if r.CustomerID != 0 && cb.c.im != nil {
		if cu, ok, err := cb.c.im.st.Customer(context.Background(), r.CustomerID); err == nil && ok {
			req.Customer = cu.Number
		}
	}
	if req.Customer == "" && strings.HasPrefix(r.From.Network, "xmpp") {
		if n, ok := cb.c.presence.customerOfDevice(config.DeviceXMPP, r.From.User); ok {
			req.Customer = n
		} else if n, ok := cb.c.linkedCustomer(r.From); ok {
			req.Customer = n
		}
	}
	_, err := cb.Request(req)
	return err
}

// digit: a queued caller pressed a key (sipgw.OnDigit, posted to the
// loop); the queue's callback key takes the caller out of the queue with
// a callback to the caller's number, keeping the place.
func (cb *callbacks) digit(conn pbx.ConnID, d rune) {
	x := cb.c.ts.Contact(conn)
	if x == nil || x.State != pbx.Queued {
		return
	}
	q := x.Queue()
	if want, ok := cb.digits[q]; !ok || want != d {
		return
	}
	arrived, number := x.Arrived(), x.ANI
	if _, err := cb.Request(callback.Request{Queue: q, Number: number, Requested: arrived, Origin: callback.OriginVoice}); err != nil {
		cb.log.Info().Err(err).Str("conn_id", conn.String()).Str("ani", number).Msg("callback: a caller's key press refused")
		return
	}
	_ = cb.c.ts.LeaveForCallback(conn)
}

// callbackStatus is the HTTP status of a scheduler error.
func callbackStatus(err error) int {
	switch {
	case errors.Is(err, callback.ErrOutsideHours):
		return http.StatusUnprocessableEntity
	case errors.Is(err, callback.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, callback.ErrUnknownQueue), errors.Is(err, callback.ErrUnknownCustomer), errors.Is(err, callback.ErrUnknownCallback):
		return http.StatusNotFound
	case errors.Is(err, callback.ErrConflict):
		return http.StatusConflict
	case pbx.KindOf(err) == pbx.Unavailable:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// chatJournal is the IM gateway's journal with its callback requests
// (the bot's offer, accepted) handed to the callback scheduler; one the
// scheduler refuses is kept as the journal's own record, never lost.
type chatJournal struct {
	*sqlitejournal.Journal
	c *Center
}

// Callback implements imgw.Journal.
func (j chatJournal) Callback(r imgw.CallbackRequest) {
	if cb := j.c.callbacks; cb != nil {
		err := cb.fromChat(r)
		if err == nil {
			return
		}
		cb.log.Warn().Err(err).Str("conversation", r.Conversation).Msg("callback: the chat's request was not scheduled; journaled only")
	}
	j.Journal.Callback(r)
}
