package replay

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Center is a contact center a replay drives and watches. The virtual one
// (NewVirtual) runs the domain in process on a virtual clock; a live one
// would drive a running `ccswitch serve` through its doors (SIP, XMPP, web
// chat, CTI) on the wall clock. Either reports what happens to the Record
// it was built with.
type Center interface {
	// Play performs the script's actions at their times (in order of
	// time, then of the script) and returns once the script's end is
	// reached. An action the center refuses (an agent answering while
	// nothing rings) is reported to failed and the play goes on.
	Play(actions []Action, end time.Duration, failed func(a *Action, err error))
	// QueueStats are a queue's counts since the start.
	QueueStats(queue string) (tserver.QueueStats, error)
	// AgentState is an agent's state now.
	AgentState(id string) (tserver.AgentState, error)
	// CallbackState is the state of the script's callback name now
	// (pending, dialing, done, failed, cancelled).
	CallbackState(name string) (string, error)
}

// PresenceWatcher is a Center that may record each change of a
// customer's combined presence (Record.Presences): a customer's presence
// expectations are checked only against one whose WatchesPresence is nil
// (the virtual center; a running switch when a supervisor monitors the
// customers over CTI). A non-nil error says why it does not.
type PresenceWatcher interface {
	Center
	WatchesPresence() error
}

// Observed is one CTI event as the replay saw it.
type Observed struct {
	At          time.Duration // since the start of the script
	Type        tserver.EventType
	Interaction string // the script's name of the call or chat; "" for agent events
	Agent       string // agent id
	Queue       string
	Reason      string
	DNIS        string
}

// Heard is one line a chat customer received.
type Heard struct {
	At   time.Duration
	Chat string
	Text string
}

// Record is what happened during a replay: the CTI events, what chat
// customers heard, the calls that rang customers' phones and how the
// callbacks' attempts ended, each in order.
type Record struct {
	Events   []Observed
	Heard    []Heard
	Rings    []Ring
	Attempts []AttemptEnded
	// Presences: each change of a customer's combined presence, as the
	// callback server saw it (virtual only).
	Presences []PresenceChanged
}

// PresenceChanged is a change of a customer's combined presence: its
// status (online, away, dnd, offline) and the media that reach the
// customer now.
type PresenceChanged struct {
	At        time.Duration
	Customer  string // the customer's number
	Status    string
	Reachable []string
}

// Ring is a call of the callback server that reached a customer's phone
// (virtual: the dialer rang it; live: its INVITE arrived).
type Ring struct {
	At    time.Duration
	Phone string // the softphone's user or the number
	// Callback is the script's name of the callback that called ("" when
	// not known).
	Callback string
}

// AttemptEnded is an attempt of a callback with its result.
type AttemptEnded struct {
	At       time.Duration // when the result came
	Callback string        // the script's name
	Medium   string        // sip or phone
	Target   string
	Result   string
}

// Virtual is the virtual center: the real tserver (with the switch's
// directory) and the real IM gateway on a clock.Virtual, with in-process
// callers, agents' desks, chat customers on in-memory networks and
// external routers. It belongs to one goroutine.
type Virtual struct {
	script *Script
	rec    *Record
	clk    *clock.Virtual
	ts     *tserver.Server
	gw     *imgw.Gateway
	nets   map[string]*network // by script network name (xmpp, webchat, sip)

	// conns maps the domain's ConnIDs to the script's names, and names
	// to the ConnID they have now; conversations maps the gateway's
	// conversation ids to chat names.
	conns         map[pbx.ConnID]string
	byName        map[string]pbx.ConnID
	conversations map[string]string
	// arriving is the call being brought in (its events come before
	// Arrive returns its ConnID); chatting the chat whose customer's
	// input the gateway is handling.
	arriving, chatting string
	desks              map[string]*desk
	chats              map[string]*chatter
	customers          map[imgw.Address]*chatter // a customer's latest chat
	routers            map[string]*router
	agents             map[string]*tserver.Agent
	failed             func(a *Action, err error)
	// cb is the callback server and the customers' phones.
	cb *virtualCallbacks
}

var (
	_ Center            = (*Virtual)(nil)
	_ tserver.Endpoints = (*Virtual)(nil)
)

// desk is an agent's desktop: it rings, and answers only when the script
// says (answer, or auto_answer).
type desk struct {
	offered                   []pbx.ConnID // offers and interactions in hand, oldest first
	auto                      bool
	answerAfter, releaseAfter time.Duration
}

// chatter is a chat customer.
type chatter struct {
	name    string
	net     *network
	addr    imgw.Address
	pending []string    // lines still to say
	waiting bool        // a line went out and the next waits for an answer
	next    clock.Timer // the next line, or the fallback when no answer comes
}

// router is an external router at a route point.
type router struct {
	target     string
	after      time.Duration
	unregister func()
}

// The pace of a chat customer's lines: the next line goes lineGap after
// the center's first answer to the previous one, or noAnswerGap after the
// previous line when nothing came back.
const (
	lineGap     = time.Second
	noAnswerGap = 10 * time.Second
)

// NewVirtual builds the virtual center for script s, reporting to rec.
func NewVirtual(s *Script, rec *Record) (*Virtual, error) {
	v := &Virtual{
		script: s, rec: rec, clk: clock.NewVirtual(cmp.Or(s.Start, clock.Epoch)),
		nets: map[string]*network{}, conns: map[pbx.ConnID]string{}, byName: map[string]pbx.ConnID{},
		conversations: map[string]string{}, desks: map[string]*desk{}, chats: map[string]*chatter{},
		customers: map[imgw.Address]*chatter{},
		routers:   map[string]*router{}, agents: map[string]*tserver.Agent{},
	}
	ts, err := tserver.New(s.Center, tserver.Config{
		Clock: v.clk, Endpoints: v, Seed: s.Seed, RingTimeout: s.RingTimeout, DeferLogin: true,
	})
	if err != nil {
		return nil, fmt.Errorf("replay: %s: %w", s.CenterPath, err)
	}
	v.ts = ts
	for _, a := range ts.Agents() {
		v.agents[a.ID] = a
		v.desks[a.ID] = &desk{}
	}
	ts.Subscribe(v.onEvent)
	if v.cb, err = newVirtualCallbacks(v); err != nil {
		return nil, fmt.Errorf("replay: %s: %w", s.CenterPath, err)
	}
	if s.Center.IM != nil {
		store := imgw.NewMemoryStore()
		seedStore(store, s.Center.IM)
		v.gw, err = imgw.New(imgw.Config{Clock: v.clk, TServer: ts, Center: s.Center, Desk: nopDesk{}, Log: zerolog.Nop(),
			Customers: store, Journal: chatJournal{store, v.cb}, OnPresence: v.cb.imPresence})
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %w", s.CenterPath, err)
		}
		for _, name := range Networks {
			n := &network{v: v, script: name, name: networkName(s.Center, name), auth: name == "xmpp"}
			v.nets[name] = n
			v.gw.AddAdapter(n)
		}
		// Automated agents are the gateway's: they log in like people,
		// at the start, when the center says they are ready.
		for _, a := range s.Center.ExpandAgents() {
			if v.gw.Automated(a.ID) && a.Ready {
				_ = ts.AgentLogin(a.ID, "")
				_ = ts.AgentReady(a.ID)
			}
		}
	}
	return v, nil
}

// seedStore fills the customer store from the center's demo customers
// and orders, as serve does.
func seedStore(m *imgw.MemoryStore, im *config.IM) {
	for _, c := range im.Customers {
		id := m.AddCustomer(imgw.Customer{Number: c.Number, Name: c.Name, Email: c.Email, Language: c.Language, Postcode: c.Postcode})
		for _, o := range im.Orders {
			if o.Customer == c.Number {
				m.AddOrder(o.ID, id, o.Status)
			}
		}
	}
}

// networkName is the gateway's name of a script network.
func networkName(f *config.File, name string) string {
	if name != "xmpp" {
		return name
	}
	if x := f.IM.Networks.XMPP; len(x) > 0 && x[0].Domain != "" {
		return "xmpp:" + x[0].Domain
	}
	return "xmpp:replay.example.test"
}

type nopDesk struct{}

func (nopDesk) DeliverChat(string, imgw.AgentChat) {}

// network is an in-memory IM network: what the gateway sends its
// customers is what they hear.
type network struct {
	v            *Virtual
	script, name string
	auth         bool
}

func (n *network) Network() string          { return n.name }
func (n *network) AuthenticatesUsers() bool { return n.auth }

func (n *network) Send(out imgw.Outbound) {
	if out.Text == "" {
		return
	}
	c := n.v.customers[imgw.Address{Network: n.name, User: out.To.User}]
	if c == nil {
		return
	}
	n.v.rec.Heard = append(n.v.rec.Heard, Heard{At: n.v.clk.Elapsed(), Chat: c.name, Text: out.Text})
	if c.waiting {
		c.waiting = false
		if c.next != nil {
			c.next.Stop()
		}
		c.next = n.v.clk.AfterFunc(lineGap, func() { n.v.sayNext(c) })
	}
}

// Play implements Center.
func (v *Virtual) Play(actions []Action, end time.Duration, failed func(a *Action, err error)) {
	v.failed = failed
	order := make([]int, len(actions))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return int(actions[i].At - actions[j].At) })
	for _, i := range order {
		a := &actions[i]
		v.clk.AfterFunc(a.At, func() {
			if err := v.do(a); err != nil {
				failed(a, err)
			}
		})
	}
	v.clk.RunUntil(end)
}

// QueueStats implements Center.
func (v *Virtual) QueueStats(queue string) (tserver.QueueStats, error) { return v.ts.QueueStats(queue) }

// AgentState implements Center.
func (v *Virtual) AgentState(id string) (tserver.AgentState, error) {
	a, ok := v.ts.Agent(id)
	if !ok {
		return 0, fmt.Errorf("replay: no agent %s", id)
	}
	return a.State(), nil
}

// WatchesPresence implements PresenceWatcher.
func (v *Virtual) WatchesPresence() error { return nil }

// CallbackState implements Center.
func (v *Virtual) CallbackState(name string) (string, error) { return v.cb.state(name) }

func (v *Virtual) do(a *Action) error {
	switch a.Kind {
	case AgentAction:
		return v.agentDo(a)
	case CallAction:
		if a.Do == "hangup" {
			id, ok := v.byName[a.Call]
			if !ok || v.ts.Contact(id) == nil {
				return fmt.Errorf("call %s is over already", a.Call)
			}
			return v.ts.ReleaseCall(id)
		}
		in := &tserver.Arrival{Media: a.Media, ANI: a.From, DNIS: a.To, Priority: a.Priority}
		v.arriving = a.Call
		id, err := v.ts.Arrive(in)
		v.arriving = ""
		if err != nil {
			return err
		}
		v.bind(id, a.Call)
		return nil
	case ChatAction:
		return v.chat(a)
	case PresenceAction:
		n := v.nets[a.Network]
		if n == nil {
			return fmt.Errorf("the center takes no chats")
		}
		p := &imgw.PresenceInfo{Available: a.Show != "unavailable"}
		if p.Available && a.Show != "available" {
			p.Show = a.Show
		}
		v.handle("", imgw.Inbound{Kind: imgw.Presence, From: imgw.Address{Network: n.name, User: a.Presence, Device: "replay"}, Presence: p})
		return nil
	case CallbackAction:
		return v.cb.request(a)
	case PhoneAction:
		return v.cb.phoneDo(a)
	case RouterAction:
		if r := v.routers[a.Router]; r != nil {
			r.unregister()
			delete(v.routers, a.Router)
		}
		if a.Do == "stop" {
			return nil
		}
		un, err := v.ts.RegisterRouter(a.Router)
		if err != nil {
			return err
		}
		v.routers[a.Router] = &router{target: a.Target, after: a.After, unregister: un}
		return nil
	}
	return fmt.Errorf("unknown action")
}

func (v *Virtual) bind(id pbx.ConnID, name string) {
	v.conns[id] = name
	v.byName[name] = id
}

// handle gives the gateway a customer's input, as chat name's.
func (v *Virtual) handle(name string, in imgw.Inbound) {
	v.chatting = name
	v.gw.Handle(in)
	v.chatting = ""
	if name != "" {
		if id, ok := v.gw.ConversationID(in.From.Network, in.From.User); ok {
			v.conversations[id] = name
		}
	}
}

var clientSource = map[string]string{"xmpp": "xep-0092", "webchat": "http-user-agent", "sip": "sip-user-agent"}

func (v *Virtual) chat(a *Action) error {
	if v.gw == nil {
		return fmt.Errorf("the center takes no chats")
	}
	c := v.chats[a.Chat]
	if c == nil {
		n := v.nets[a.Network]
		c = &chatter{name: a.Chat, net: n, addr: imgw.Address{Network: n.name, User: a.From, Device: "replay"}}
		v.chats[a.Chat] = c
		v.customers[imgw.Address{Network: n.name, User: a.From}] = c
		if a.ClientFamily != "" {
			v.handle(a.Chat, imgw.Inbound{Kind: imgw.Client, From: c.addr,
				Client: &imgw.ClientInfo{Family: a.ClientFamily, Version: a.ClientVersion, Source: clientSource[a.Network]}})
		}
	}
	if a.Do == "leave" {
		c.pending, c.waiting = nil, false
		if c.next != nil {
			c.next.Stop()
		}
		v.handle(a.Chat, imgw.Inbound{Kind: imgw.Typing, From: c.addr, State: imgw.StateGone})
		return nil
	}
	busy := len(c.pending) > 0 || c.waiting
	c.pending = append(c.pending, a.Say...)
	if !busy {
		v.sayNext(c)
	}
	return nil
}

// sayNext sends the customer's next line; the one after waits for the
// center's answer (Send), or noAnswerGap.
func (v *Virtual) sayNext(c *chatter) {
	c.next = nil
	if len(c.pending) == 0 {
		c.waiting = false
		return
	}
	line := c.pending[0]
	c.pending = c.pending[1:]
	c.waiting = len(c.pending) > 0
	if c.waiting {
		c.next = v.clk.AfterFunc(noAnswerGap, func() { v.sayNext(c) })
	}
	v.handle(c.name, imgw.Inbound{Kind: imgw.Message, From: c.addr, Text: line})
}

// Offer implements tserver.Endpoints: the agent's desk rings. Automated
// agents and agents who chat on their SIP phone are the gateway's.
func (v *Virtual) Offer(c *tserver.Contact, a *tserver.Agent) {
	if v.gw != nil && c.Media == pbx.IM && v.gw.Offer(c, a) {
		return
	}
	d := v.desks[a.ID]
	d.offered = append(d.offered, c.ID)
	if d.auto {
		id, answer, release := c.ID, d.answerAfter, d.releaseAfter
		v.clk.AfterFunc(answer, func() {
			if x := v.ts.Contact(id); x == nil || x.State != pbx.Ringing || x.Agent() != a {
				return
			}
			if err := v.ts.AnswerCall(id); err != nil || release == 0 {
				return
			}
			v.clk.AfterFunc(release, func() {
				if x := v.ts.Contact(id); x != nil && x.Agent() == a && (x.State == pbx.Established || x.State == pbx.Held) {
					_ = v.ts.ReleaseCall(id)
				}
			})
		})
	}
}

// Dial implements tserver.Endpoints: scripts place no outbound calls.
func (v *Virtual) Dial(*tserver.Contact, *tserver.Agent) {}

// onEvent records the CTI events under the script's names and plays the
// external routers.
func (v *Virtual) onEvent(e tserver.Event) {
	o := Observed{At: v.clk.Elapsed(), Type: e.Type, Agent: e.AgentID, Queue: e.Queue, Reason: e.Reason, DNIS: e.DNIS}
	if e.ConnID != 0 {
		name, ok := v.conns[e.ConnID]
		if !ok {
			if cbID, has := e.UserData.Get(tserver.CallbackIDKey); e.Media == pbx.Callback && has {
				name, ok = v.cb.nameOf(cbID)
			} else if conv, has := e.UserData.Get("conversation"); e.Media == pbx.IM && has {
				if name, ok = v.conversations[conv]; !ok && v.chatting != "" {
					name, ok = v.chatting, true
					v.conversations[conv] = name
				}
			} else if v.arriving != "" {
				name, ok = v.arriving, true
			}
			if ok {
				v.bind(e.ConnID, name)
			}
		}
		o.Interaction = name
		if !ok {
			o.Interaction = "#" + e.ConnID.String()
		}
	}
	v.rec.Events = append(v.rec.Events, o)
	if e.Type == tserver.EventRouteRequest {
		if r := v.routers[e.DNIS]; r != nil {
			id, target := e.ConnID, r.target
			v.clk.AfterFunc(r.after, func() {
				if err := v.ts.RouteCall(id, target); err != nil && v.failed != nil {
					v.failed(&Action{Kind: RouterAction, Router: e.DNIS, Target: target, At: v.clk.Elapsed(), Index: -1}, err)
				}
			})
		}
	}
}

// inHand returns the interactions offered to or held by agent a, oldest
// first, dropping those that left it.
func (v *Virtual) inHand(a *tserver.Agent) []pbx.ConnID {
	d := v.desks[a.ID]
	kept := d.offered[:0]
	for _, id := range d.offered {
		if c := v.ts.Contact(id); c != nil && c.Agent() == a && !slices.Contains(kept, id) {
			kept = append(kept, id)
		}
	}
	d.offered = kept
	return kept
}

// pick finds the interaction an agent's action is for: the one named, or
// the agent's oldest in one of states.
func (v *Virtual) pick(a *tserver.Agent, act *Action, states ...pbx.State) (pbx.ConnID, error) {
	hand := v.inHand(a)
	if act.Interaction != "" {
		id, ok := v.byName[act.Interaction]
		if !ok || !slices.Contains(hand, id) {
			return 0, fmt.Errorf("%s is not at agent %s", act.Interaction, a.ID)
		}
		if c := v.ts.Contact(id); !slices.Contains(states, c.State) {
			return 0, fmt.Errorf("%s is %s at agent %s", act.Interaction, c.State, a.ID)
		}
		return id, nil
	}
	var found []pbx.ConnID
	for _, id := range hand {
		if slices.Contains(states, v.ts.Contact(id).State) {
			found = append(found, id)
		}
	}
	switch {
	case len(found) == 0:
		return 0, fmt.Errorf("agent %s has no interaction that is %s", a.ID, states[0])
	case len(found) > 1 && states[0] != pbx.Ringing:
		var names []string
		for _, id := range found {
			names = append(names, v.conns[id])
		}
		return 0, fmt.Errorf("agent %s has %d interactions (%v): name one with interaction", a.ID, len(found), names)
	}
	return found[0], nil
}

func (v *Virtual) agentDo(act *Action) error {
	a := v.agents[act.Agent]
	if len(act.Say) > 0 {
		if v.gw == nil {
			return fmt.Errorf("the center takes no chats")
		}
		id, err := v.pick(a, act, pbx.Established)
		if err != nil {
			return err
		}
		return v.gw.AgentMessage(a.ID, id, act.Say[0])
	}
	switch act.Do {
	case "login_ready":
		if err := v.ts.AgentLogin(a.ID, ""); err != nil {
			return err
		}
		return v.ts.AgentReady(a.ID)
	case "login":
		return v.ts.AgentLogin(a.ID, "")
	case "ready":
		return v.ts.AgentReady(a.ID)
	case "not_ready":
		return v.ts.AgentNotReady(a.ID, act.Reason)
	case "logout":
		return v.ts.AgentLogout(a.ID)
	case "auto_answer":
		d := v.desks[a.ID]
		d.auto, d.answerAfter, d.releaseAfter = true, act.AnswerAfter, act.ReleaseAfter
		return nil
	case "manual":
		v.desks[a.ID].auto = false
		return nil
	}
	var (
		id  pbx.ConnID
		err error
	)
	switch act.Do {
	case "answer", "reject":
		id, err = v.pick(a, act, pbx.Ringing)
	case "hold":
		id, err = v.pick(a, act, pbx.Established)
	case "retrieve":
		id, err = v.pick(a, act, pbx.Held)
	default: // release, transfer
		id, err = v.pick(a, act, pbx.Established, pbx.Held)
	}
	if err != nil {
		return err
	}
	switch act.Do {
	case "answer":
		return v.ts.AnswerCall(id)
	case "reject":
		return v.ts.RejectCall(id, act.Reason)
	case "hold":
		return v.ts.HoldCall(id)
	case "retrieve":
		return v.ts.RetrieveCall(id)
	case "transfer":
		return v.ts.SingleStepTransfer(id, act.Target)
	}
	return v.ts.ReleaseCall(id)
}
