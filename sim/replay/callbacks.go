package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// customerAnswerTimeout is how long the dialer lets a customer's phone
// ring before the attempt is no_answer: the SIP gateway's
// (sipgw.CustomerAnswerTimeout, not imported: this package holds no
// network code).
const customerAnswerTimeout = 45 * time.Second

// registrationTTL is how long a softphone's registration holds as
// presence (serve's is the registration's expiry; the script's phones
// register for an hour).
const registrationTTL = time.Hour

// virtualCallbacks is the virtual center's callback server: the callback
// package's Scheduler on the replay's clock, queueing in tserver's
// callback queues (tserver.CallbackQueues, as serve and sim do), its
// presence tracker fed as serve's is (the script's softphones
// registering, and the XMPP presence of customers' devices the IM
// gateway takes), each change of a customer's presence in the record,
// and a dialer that rings the customers' phones of the script. An agent who
// answers an agent-first callback has the scheduler pick whom to call
// (Scheduler.Pick), as serve's SIP gateway does once the agent's phone
// answered.
type virtualCallbacks struct {
	*tserver.CallbackQueues
	v       *Virtual
	sched   *callback.Scheduler
	tracker *callback.Tracker
	// names: the script's name of each callback by the scheduler's ID,
	// and back; asking is the name of the request being made (its
	// interaction may be offered before Request returns the ID).
	names  map[string]string
	ids    map[string]string
	asking string
	// devices: the customers' devices; phones: the customers' phones,
	// by softphone user or number.
	devices callback.Devices
	phones  map[string]*customerPhone
	// onLine: customer-first callbacks whose customer answered (their
	// interaction is the customer on the line, nothing to pick).
	onLine map[string]bool
	// recorded: how many attempts of each callback are in the record.
	recorded map[string]int
}

var (
	_ callback.Queues  = (*virtualCallbacks)(nil)
	_ callback.Dialer  = (*virtualCallbacks)(nil)
	_ callback.Journal = (*virtualCallbacks)(nil)
)

// customerPhone is a customer's softphone or a number.
type customerPhone struct {
	phone       string
	registered  bool
	auto        bool
	answerAfter time.Duration
	ringing     []*incoming // oldest first
}

// incoming is an attempt ringing on a customer's phone.
type incoming struct {
	id      string
	attempt int
	mode    callback.Mode
	timers  []clock.Timer
}

func newVirtualCallbacks(v *Virtual) (*virtualCallbacks, error) {
	cb := &virtualCallbacks{
		CallbackQueues: tserver.NewCallbackQueues(v.ts, v.script.Center), v: v,
		names: map[string]string{}, ids: map[string]string{}, devices: callback.ConfigDevices(v.script.Center),
		phones: map[string]*customerPhone{}, onLine: map[string]bool{}, recorded: map[string]int{},
	}
	dir, err := callback.ConfigDirectory(v.script.Center)
	if err != nil {
		return nil, err
	}
	cb.tracker = callback.NewTracker(v.clk, callback.DefaultRules(), cb.presenceChanged)
	cb.sched, err = callback.NewScheduler(callback.Config{
		Clock: v.clk, Directory: dir, Tracker: cb.tracker, Queues: cb, Dialer: cb, Journal: cb,
	})
	if err != nil {
		return nil, err
	}
	v.ts.Subscribe(cb.onEvent)
	return cb, nil
}

// imPresence takes an IM device's presence (imgw.Config.OnPresence), as
// serve does: an XMPP device of a customer (one of the center's
// customers' devices, or the device of a conversation verified as the
// customer's) reports its show to the tracker; any other device's
// presence is the gateway's alone.
func (cb *virtualCallbacks) imPresence(from imgw.Address, info imgw.PresenceInfo, verified string) {
	if !strings.HasPrefix(from.Network, config.DeviceXMPP) {
		return
	}
	customer, ok := cb.devices.Customer(config.DeviceXMPP, from.User)
	if !ok && verified != "" {
		customer, ok = verified, true
	}
	if ok {
		cb.tracker.Report(customer, callback.XMPPReport(from.User+"/"+from.Device, info.Available, info.Show))
	}
}

// presenceChanged is the tracker's onChange: the record keeps each
// change of a customer's combined presence.
func (cb *virtualCallbacks) presenceChanged(customer string, p callback.Presence) {
	reach := make([]string, len(p.Reachable))
	for i, m := range p.Reachable {
		reach[i] = string(m)
	}
	cb.v.rec.Presences = append(cb.v.rec.Presences, PresenceChanged{At: cb.v.clk.Elapsed(), Customer: customer,
		Status: string(p.Status), Reachable: reach})
}

// nameOf is the script's name of callback id.
func (cb *virtualCallbacks) nameOf(id string) (string, bool) {
	if n, ok := cb.names[id]; ok {
		return n, true
	}
	if cb.asking != "" {
		cb.names[id] = cb.asking
		return cb.asking, true
	}
	return "", false
}

// request asks for the script's callback a, as the CRM does.
func (cb *virtualCallbacks) request(a *Action) error {
	cb.asking = a.Callback
	r, err := cb.sched.Request(callback.Request{Queue: a.Queue, Customer: a.Customer, Number: a.Number,
		Mode: callback.Mode(a.Mode), Origin: callback.OriginREST})
	cb.asking = ""
	if err != nil {
		return err
	}
	cb.names[r.ID], cb.ids[a.Callback] = a.Callback, r.ID
	return nil
}

// state is the state of the script's callback name.
func (cb *virtualCallbacks) state(name string) (string, error) {
	id, ok := cb.ids[name]
	if !ok {
		return "", fmt.Errorf("callback %s was never accepted", name)
	}
	r, _ := cb.sched.Get(id)
	return string(r.State), nil
}

func (cb *virtualCallbacks) phone(p string) *customerPhone {
	ph := cb.phones[p]
	if ph == nil {
		ph = &customerPhone{phone: p}
		cb.phones[p] = ph
	}
	return ph
}

// phoneDo plays a customer's phone action.
func (cb *virtualCallbacks) phoneDo(a *Action) error {
	ph := cb.phone(a.Phone)
	now := cb.v.clk.Now()
	switch a.Do {
	case "register", "unregister":
		customer, _ := cb.devices.Customer(config.DeviceSIP, a.Phone)
		ph.registered = a.Do == "register"
		rep := callback.Report{Device: a.Phone, Medium: callback.SIP, Show: callback.Unavailable, At: now}
		if ph.registered {
			rep.Show, rep.TTL = callback.Available, registrationTTL
			ph.auto, ph.answerAfter = a.AnswerAfter > 0, a.AnswerAfter
		}
		cb.tracker.Report(customer, rep)
	case "auto_answer":
		ph.auto, ph.answerAfter = true, a.AnswerAfter
	case "manual":
		ph.auto = false
	case "answer", "reject":
		if len(ph.ringing) == 0 {
			return fmt.Errorf("nothing rings on phone %s", a.Phone)
		}
		res := callback.ResultAnswered
		if a.Do == "reject" {
			res = callback.ResultBusy
		}
		cb.end(ph, ph.ringing[0], res)
	}
	return nil
}

// Dial implements callback.Dialer: the customer's phone rings (a
// softphone only while registered, else unreachable) until it answers,
// rejects, or customerAnswerTimeout.
func (cb *virtualCallbacks) Dial(id string, attempt int, t callback.Target, mode callback.Mode) {
	clk := cb.v.clk
	ph := cb.phone(t.Address)
	if t.Medium == callback.SIP && !ph.registered {
		clk.AfterFunc(0, func() { _ = cb.sched.Result(id, attempt, callback.ResultUnreachable) })
		return
	}
	name, _ := cb.nameOf(id)
	cb.v.rec.Rings = append(cb.v.rec.Rings, Ring{At: clk.Elapsed(), Phone: t.Address, Callback: name})
	in := &incoming{id: id, attempt: attempt, mode: mode}
	ph.ringing = append(ph.ringing, in)
	in.timers = append(in.timers, clk.AfterFunc(customerAnswerTimeout, func() { cb.end(ph, in, callback.ResultNoAnswer) }))
	if ph.auto {
		in.timers = append(in.timers, clk.AfterFunc(ph.answerAfter, func() { cb.end(ph, in, callback.ResultAnswered) }))
	}
}

// end ends a call ringing on ph with res; a customer-first callback
// answered is queued at the head of its callback queue, as the SIP
// gateway does.
func (cb *virtualCallbacks) end(ph *customerPhone, in *incoming, res callback.Result) {
	i := slices.Index(ph.ringing, in)
	if i < 0 {
		return
	}
	ph.ringing = slices.Delete(ph.ringing, i, i+1)
	for _, t := range in.timers {
		t.Stop()
	}
	if err := cb.sched.Result(in.id, in.attempt, res); err != nil || res != callback.ResultAnswered || in.mode != callback.CustomerFirst {
		return
	}
	r, _ := cb.sched.Get(in.id)
	cq, ok := cb.Queue(r.Queue)
	if !ok {
		return
	}
	cb.onLine[in.id] = true
	arrival := &tserver.Arrival{Media: pbx.Callback, DNIS: cq, ANI: ph.phone, Priority: callback.CustomerFirstPriority, Since: r.Requested}
	arrival.UserData.Set(tserver.CallbackIDKey, in.id)
	_, _ = cb.v.ts.Arrive(arrival)
}

// onEvent: an agent answered an agent-first callback: the scheduler
// picks whom to call, or postpones and the interaction ends.
func (cb *virtualCallbacks) onEvent(e tserver.Event) {
	if e.Media != pbx.Callback || e.Type != tserver.EventEstablished {
		return
	}
	id, ok := e.UserData.Get(tserver.CallbackIDKey)
	if !ok || cb.onLine[id] {
		return
	}
	conn := e.ConnID
	cb.v.clk.AfterFunc(0, func() {
		cb.Taken(id)
		if _, err := cb.sched.Pick(id); err != nil {
			if _, still := cb.Callback(conn); still {
				cb.Forget(conn)
				_ = cb.v.ts.ReleaseCall(conn)
			}
		}
	})
}

// Save implements callback.Journal: each attempt's result goes to the
// record as it comes.
func (cb *virtualCallbacks) Save(r callback.Request) {
	name, _ := cb.nameOf(r.ID)
	for i := cb.recorded[r.ID]; i < len(r.Attempts) && r.Attempts[i].Result != ""; i++ {
		a := r.Attempts[i]
		cb.v.rec.Attempts = append(cb.v.rec.Attempts, AttemptEnded{At: cb.v.clk.Elapsed(), Callback: cmp.Or(name, r.ID),
			Medium: string(a.Medium), Target: a.Target, Result: string(a.Result)})
		cb.recorded[r.ID] = i + 1
	}
}

// SaveAlert implements callback.Journal.
func (cb *virtualCallbacks) SaveAlert(callback.Alert) {}

// chatJournal is the gateway's journal whose callback requests (the
// bot's offer, accepted) go to the callback scheduler, as serve's do; one
// the scheduler refuses (a queue without a callback queue) is kept as
// the journal's own record.
type chatJournal struct {
	*imgw.MemoryStore
	cb *virtualCallbacks
}

// Callback implements imgw.Journal.
func (j chatJournal) Callback(r imgw.CallbackRequest) {
	_, err := j.cb.sched.Request(callback.Request{Queue: r.Queue, Number: r.Number, Requested: r.Requested,
		Origin: callback.OriginIM, Conversation: r.Conversation})
	if err != nil {
		j.MemoryStore.Callback(r)
	}
}
