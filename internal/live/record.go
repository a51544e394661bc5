package live

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// MaxRecorded bounds the interactions a Recorder keeps: past it, it stops
// recording (and logs it once); the script covers what came before.
const MaxRecorded = 10000

// maxRecordedEntries bounds what a Recorder buffers besides (agents going
// ready and not ready, chat lines): about 100 bytes each.
const maxRecordedEntries = 1_000_000

// RecordSlack is added to each observed delay to make a recorded
// expectation's within: the replay's agents act at the recorded times,
// but what the center does in between (a SIP phone's ringing, a bot's
// pace) may take a little longer or shorter in virtual time.
const RecordSlack = 2 * time.Second

// autoGap: an agent's ready or not ready this soon after its interaction
// ended, with no event of the agent in between, is the center's doing.
const autoGap = 50 * time.Millisecond

// Recorder keeps what happened at a live center (its CTI events, and what
// chat customers sent) and writes it as a replay script (sim/replay's
// format): the outside world's actions as the script's timeline, what the
// center did as its expectations. Event and Inbound run on the domain's
// loop and only append to a buffer; the script is built and written by
// Write, once the loop has stopped.
type Recorder struct {
	path       string
	centerPath string
	center     *config.File
	ring       time.Duration
	seed       uint64
	log        zerolog.Logger

	stopped atomic.Bool
	full    bool

	t0      time.Time
	entries []recEntry

	conns    map[pbx.ConnID]string // interaction names; "" for those not recorded
	convs    map[string]string     // conversation id -> chat name
	chats    map[string]*recChat
	byUser   map[recUser]*recChat // a customer's latest chat
	clients  map[recUser]imgw.ClientInfo
	calls    int
	handling *recChat // the chat whose customer's input the gateway is handling

	// callbackNames are the script's names (cb1, cb2...) of the callbacks
	// requested over REST, by the scheduler's id; callbacks are the last
	// state of every callback the scheduler journaled (any origin: their
	// attempts say how the customers' phones answered), in order.
	callbackNames map[string]string
	callbacks     map[string]callback.Request
	callbackOrder []string
	// softphones: the customers' SIP softphones registered now.
	softphones map[string]bool
}

type recUser struct{ network, user string }

type recChat struct {
	name           string
	network, user  string
	family, client string // the customer's software: family, version
	conv           string
}

type recKind uint8

const (
	recEvent     recKind = iota + 1 // a CTI event
	recLine                         // a chat customer's line
	recLeave                        // a chat customer closed the window
	recPresence                     // a customer's device changed presence
	recAgentLine                    // an agent's line in a chat
	recCallback                     // a callback requested over REST
	recSoftphone                    // a customer's softphone registered or unregistered
	recRouters                      // a route point's external routers changed
)

// recEntry is one thing that happened, as buffered on the loop.
type recEntry struct {
	at   time.Time
	kind recKind
	// name is the interaction's name in the script (c1, k1), or "".
	name string
	ev   tserver.EventType
	// agent, queue, reason, ani and dnis are the event's.
	agent, queue, reason, ani, dnis string
	// byCustomer: the event came while the gateway handled the chat
	// customer's input (the customer ended the chat).
	byCustomer bool
	// text is a line, or a presence's show; network and user a device's
	// (a softphone's user).
	text, network, user string
	// registered: the softphone registered (else unregistered).
	registered bool
	// routers is how many external routers the route point dnis has.
	routers int
}

// RecorderConfig says what a Recorder writes besides what it sees.
type RecorderConfig struct {
	// Path is the script's file.
	Path string
	// Center is the center file the live center runs (Center.Path is
	// written relative to Path when possible).
	Center *config.File
	// RingTimeout and Seed are the center's, written as the script's.
	RingTimeout time.Duration
	Seed        uint64
	Log         zerolog.Logger
}

// NewRecorder returns a Recorder that writes to cfg.Path.
func NewRecorder(cfg RecorderConfig) *Recorder {
	return &Recorder{
		path: cfg.Path, centerPath: cfg.Center.Path, center: cfg.Center, ring: cfg.RingTimeout, seed: cfg.Seed, log: cfg.Log,
		conns: map[pbx.ConnID]string{}, convs: map[string]string{}, chats: map[string]*recChat{},
		byUser: map[recUser]*recChat{}, clients: map[recUser]imgw.ClientInfo{},
		callbackNames: map[string]string{}, callbacks: map[string]callback.Request{}, softphones: map[string]bool{},
	}
}

// Stop ends the recording: what happens from now on (a drain ending the
// interactions under way) is the center's, not the outside world's. Any
// goroutine may call it.
func (r *Recorder) Stop() { r.stopped.Store(true) }

func (r *Recorder) on() bool { return !r.stopped.Load() && !r.full }

func (r *Recorder) add(e recEntry) {
	if len(r.entries) >= maxRecordedEntries {
		r.full = true
		r.log.Warn().Int("entries", maxRecordedEntries).Str("file", r.path).Msg("record: limit reached; recording stops here")
		return
	}
	if len(r.entries) == 0 {
		r.t0 = e.at
	}
	r.entries = append(r.entries, e)
}

// interactions is how many calls, chats and callbacks were named.
func (r *Recorder) interactions() int { return r.calls + len(r.chats) + len(r.callbackNames) }

func (r *Recorder) room() bool {
	if r.interactions() < MaxRecorded {
		return true
	}
	r.full = true
	r.log.Warn().Int("interactions", MaxRecorded).Str("file", r.path).Msg("record: limit reached; recording stops here")
	return false
}

// Event records a CTI event; it runs on the loop (a tserver subscriber).
func (r *Recorder) Event(e tserver.Event) {
	if !r.on() {
		return
	}
	x := recEntry{at: e.Time, kind: recEvent, ev: e.Type, agent: e.AgentID, queue: e.Queue, reason: e.Reason, ani: e.ANI, dnis: e.DNIS}
	if e.ConnID != 0 {
		name, known := r.conns[e.ConnID]
		if !known {
			conv, has := e.UserData.Get("conversation")
			switch {
			case e.Media == pbx.Callback:
				// A callback's interaction: named when its request was
				// recorded (REST), else the center's own (the bot's, a
				// caller's key, an agent's request).
				id, _ := e.UserData.Get(tserver.CallbackIDKey)
				name = r.callbackNames[id]
			case e.Media == pbx.IM && has:
				if name = r.convs[conv]; name == "" && r.handling != nil {
					name = r.handling.name
					r.convs[conv] = name
				}
			case e.Media == pbx.IM, e.Type == tserver.EventDialing:
				// A chat the recording did not see begin (restored at
				// start), or an outbound call (a callback): not the
				// outside world's doing.
			default:
				if !r.room() {
					return
				}
				r.calls++
				name = "c" + strconv.Itoa(r.calls)
			}
			r.conns[e.ConnID] = name
		}
		if name == "" {
			return
		}
		x.name = name
		x.byCustomer = r.handling != nil && r.handling.name == name
	}
	r.add(x)
}

// AgentLine records a line an agent's desktop sent into a chat (a CTI
// RequestChatMessage the gateway took); it runs on the loop.
func (r *Recorder) AgentLine(at time.Time, agent string, id pbx.ConnID, text string) {
	if !r.on() {
		return
	}
	if name := r.conns[id]; name != "" && r.chats[name] != nil {
		r.add(recEntry{at: at, kind: recAgentLine, name: name, agent: agent, text: text})
	}
}

// Callback records a callback request's state, as the scheduler journals
// it (every change: requested, each attempt and its result, done); it
// runs on the loop. A request made over REST is the outside world's: it
// is named (cb1, cb2...) and written as a callback action.
func (r *Recorder) Callback(at time.Time, req callback.Request) {
	if !r.on() {
		return
	}
	if _, seen := r.callbacks[req.ID]; !seen {
		if len(r.callbacks) >= MaxRecorded {
			return
		}
		r.callbackOrder = append(r.callbackOrder, req.ID)
		if req.Origin == callback.OriginREST && req.At.IsZero() {
			if !r.room() {
				return
			}
			name := "cb" + strconv.Itoa(len(r.callbackNames)+1)
			r.callbackNames[req.ID] = name
			r.add(recEntry{at: at, kind: recCallback, name: name, text: req.ID})
		}
	}
	req.Attempts = slices.Clone(req.Attempts)
	r.callbacks[req.ID] = req
}

// Softphone records a customer's SIP softphone (its user) registering or
// unregistering, as the registrar reports it (refreshes are no change);
// it runs on the loop.
func (r *Recorder) Softphone(at time.Time, user string, registered bool) {
	if !r.on() || r.softphones[user] == registered {
		return
	}
	r.softphones[user] = registered
	r.add(recEntry{at: at, kind: recSoftphone, user: user, registered: registered})
}

// Routers records that the route point at number has routers external
// routers now (tserver.Server.WatchRouters); it runs on the loop.
func (r *Recorder) Routers(at time.Time, number string, routers int) {
	if !r.on() {
		return
	}
	r.add(recEntry{at: at, kind: recRouters, dnis: number, routers: routers})
}

// conversations is what the recorder asks the IM gateway.
type conversations interface {
	ConversationID(network, user string) (string, bool)
}

// Inbound records a customer's input and hands it to handle (the IM
// gateway's Handle); it runs on the loop.
func (r *Recorder) Inbound(at time.Time, in imgw.Inbound, gw conversations, handle func(imgw.Inbound)) {
	if !r.on() {
		handle(in)
		return
	}
	k := recUser{in.From.Network, in.From.User}
	ch := r.byUser[k]
	switch in.Kind {
	case imgw.Message:
		conv, live := gw.ConversationID(k.network, k.user)
		if ch == nil || !live || ch.conv != conv {
			if !r.room() {
				handle(in)
				return
			}
			ch = &recChat{name: "k" + strconv.Itoa(len(r.chats)+1), network: scriptNetwork(k.network), user: k.user}
			if c, ok := r.clients[k]; ok {
				ch.family, ch.client = c.Family, c.Version
			}
			r.chats[ch.name] = ch
			r.byUser[k] = ch
		}
		r.add(recEntry{at: at, kind: recLine, name: ch.name, text: in.Text})
	case imgw.Typing:
		if ch == nil || in.State != imgw.StateGone {
			break
		}
		if conv, live := gw.ConversationID(k.network, k.user); live && conv == ch.conv {
			r.add(recEntry{at: at, kind: recLeave, name: ch.name})
		}
	case imgw.Client:
		if in.Client != nil && in.Client.Family != "" {
			r.clients[k] = *in.Client
			if ch != nil && ch.family == "" {
				ch.family, ch.client = in.Client.Family, in.Client.Version
			}
		}
	case imgw.Presence:
		if in.Presence != nil {
			show := "unavailable"
			if in.Presence.Available {
				show = cmp.Or(in.Presence.Show, "available")
			}
			r.add(recEntry{at: at, kind: recPresence, text: show, network: scriptNetwork(k.network), user: k.user})
		}
	}
	r.handling = ch
	handle(in)
	r.handling = nil
	if ch != nil && in.Kind == imgw.Message {
		if conv, ok := gw.ConversationID(k.network, k.user); ok {
			ch.conv = conv
			r.convs[conv] = ch.name
		}
	}
}

// scriptNetwork is a script's name of a gateway network: xmpp for every
// XMPP domain.
func scriptNetwork(n string) string {
	if n == "xmpp" || strings.HasPrefix(n, "xmpp:") {
		return "xmpp"
	}
	return n
}

// Write builds the script and writes it to the Recorder's file. Call it
// once the loop has stopped.
func (r *Recorder) Write() error {
	b := r.script()
	if err := os.WriteFile(r.path, b, 0o644); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	r.log.Info().Str("file", r.path).Int("interactions", r.interactions()).Int("events", len(r.entries)).Msg("recorded session written")
	return nil
}

// scriptWriter accumulates the script's lines.
type scriptWriter struct {
	r       *Recorder
	actions []string
	expect  []string
	agents  map[string]config.Agent
	gateway map[string]bool // automated agents: the gateway acts for them
	onPhone map[string]bool // agents whose chats their SIP phone takes
	// callbackStart is when each named callback was requested.
	callbackStart map[string]time.Duration
	// answerAfter is how long each customer's phone (a softphone's user,
	// a number) took to answer the first callback call it answered.
	answerAfter map[string]time.Duration
	// routing is what the script's router at each route point does now.
	routing map[string]routerPlan
}

// routerPlan is a router action's target and delay.
type routerPlan struct {
	target string
	after  time.Duration
}

// routerAfterTolerance: a RouteCall this close to the router's current
// delay is the same router's pace, not a new plan.
const routerAfterTolerance = 100 * time.Millisecond

// ref names an agent as a tester would: by its number when it has one.
func (w *scriptWriter) ref(id string) string {
	if a, ok := w.agents[id]; ok && a.Number != "" {
		return strconv.Quote(a.Number)
	}
	return strconv.Quote(id)
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64)
}

func (w *scriptWriter) act(at time.Duration, fields string) {
	w.actions = append(w.actions, "  - {at: "+secs(at)+", "+fields+"}")
}

// ixState is what the writer knows of one interaction as it goes.
type ixState struct {
	chat     bool
	callback bool
	start    time.Duration
	counted  string // the queue that counts it ("" until queued)
	recount  bool   // transferred: the next queue counts it again
	answered bool   // answered since counted
	agent    string // the agent it is offered to or connected with
	expected map[string]bool
}

// queueCounts are an at_end expectation's counts.
type queueCounts struct{ offered, answered, abandoned, callback int }

func (r *Recorder) script() []byte {
	f := r.center
	w := &scriptWriter{r: r, agents: map[string]config.Agent{}, gateway: map[string]bool{}, onPhone: map[string]bool{},
		callbackStart: map[string]time.Duration{}, answerAfter: map[string]time.Duration{}, routing: map[string]routerPlan{}}
	for _, a := range f.ExpandAgents() {
		w.agents[a.ID] = a
		w.onPhone[a.ID] = a.ChatVia == config.ChatViaSIP
	}
	if f.IM != nil {
		for _, a := range f.IM.AutomatedAgents {
			w.gateway[a.ID] = true
		}
	}
	ix := map[string]*ixState{}
	queues := map[string]*queueCounts{}
	var queueOrder []string
	count := func(q string) *queueCounts {
		if queues[q] == nil {
			queues[q] = &queueCounts{}
			queueOrder = append(queueOrder, q)
		}
		return queues[q]
	}
	// Agents' state changes that follow from something else: a reject's
	// or a ring-no-answer's not ready, the end of after-call work.
	consequence := map[string]string{}
	wrapping := map[string]bool{}
	// ended: agents whose interaction just ended; their next event, a
	// ready or not ready at once, is the center's (work over, no wrap-up).
	ended := map[string]time.Time{}
	w.customerPhones()
	for i := range r.entries {
		e := &r.entries[i]
		at := e.at.Sub(r.t0)
		switch e.kind {
		case recLine:
			s := ix[e.name]
			if s == nil {
				ch := r.chats[e.name]
				s = &ixState{chat: true, start: at, expected: map[string]bool{}}
				ix[e.name] = s
				fields := fmt.Sprintf("chat: %s, network: %s, from: %s", e.name, ch.network, strconv.Quote(ch.user))
				if ch.family != "" {
					fields += ", client: " + strconv.Quote(strings.TrimSpace(ch.family+" "+ch.client))
				}
				w.act(at, fields+", say: "+strconv.Quote(e.text))
				continue
			}
			w.act(at, fmt.Sprintf("chat: %s, say: %s", e.name, strconv.Quote(e.text)))
		case recLeave:
			w.act(at, "chat: "+e.name+", do: leave")
		case recAgentLine:
			// A supervisor's line is not the connected agent's action.
			if s := ix[e.name]; s != nil && s.agent == e.agent && !w.gatewayAnswers(s, e.agent) {
				w.act(at, fmt.Sprintf("agent: %s, say: %s, interaction: %s", w.ref(e.agent), strconv.Quote(e.text), e.name))
			}
		case recPresence:
			w.act(at, fmt.Sprintf("presence: %s, show: %s, network: %s", strconv.Quote(e.user), e.text, e.network))
		case recCallback:
			w.callbackStart[e.name] = at
			req := r.callbacks[e.text]
			fields := "callback: " + e.name
			if req.Customer != "" {
				fields += ", customer: " + strconv.Quote(req.Customer)
			} else {
				fields += ", number: " + strconv.Quote(req.Number)
			}
			fields += ", queue: " + strconv.Quote(req.Queue)
			if req.Mode == callback.CustomerFirst {
				fields += ", mode: " + string(req.Mode)
			}
			w.act(at, fields)
		case recSoftphone:
			if !e.registered {
				w.act(at, "phone: "+strconv.Quote(e.user)+", do: unregister")
				continue
			}
			fields := "phone: " + strconv.Quote(e.user) + ", do: register"
			if d, ok := w.answerAfter[e.user]; ok {
				fields += ", answer_after: " + secs(d)
			}
			w.act(at, fields)
		case recRouters:
			if _, routing := w.routing[e.dnis]; routing && e.routers == 0 {
				delete(w.routing, e.dnis)
				w.act(at, "router: "+strconv.Quote(e.dnis)+", do: stop")
			}
		case recEvent:
			if t, ok := ended[e.agent]; ok && e.agent != "" {
				delete(ended, e.agent)
				if e.name == "" && (e.ev == tserver.EventAgentReady || e.ev == tserver.EventAgentNotReady) &&
					e.reason != "after_call_work" && e.at.Sub(t) < autoGap {
					continue
				}
			}
			if e.name == "" {
				w.agentEvent(at, e, consequence, wrapping)
				continue
			}
			if e.agent != "" && (e.ev == tserver.EventReleased && e.reason == "" || e.ev == tserver.EventAbandoned) {
				ended[e.agent] = e.at
			}
			s := ix[e.name]
			if s == nil {
				if r.chats[e.name] != nil {
					continue // a chat's events before its first line: none
				}
				if start, ok := w.callbackStart[e.name]; ok {
					s = &ixState{callback: true, start: start, expected: map[string]bool{}}
					ix[e.name] = s
					w.interactionEvent(at, e, s, count, consequence, i)
					continue
				}
				s = &ixState{start: at, expected: map[string]bool{}}
				ix[e.name] = s
				if e.ev == tserver.EventRouteRequest {
					w.router(at, i, e)
				}
				fields := "call: " + e.name
				if e.ani != "" {
					fields += ", from: " + strconv.Quote(e.ani)
				}
				w.act(at, fields+", to: "+strconv.Quote(e.dnis))
			}
			w.interactionEvent(at, e, s, count, consequence, i)
		}
	}
	var b bytes.Buffer
	b.WriteString("# Recorded by ccswitch serve --record: what the outside world did (times since the first\n")
	b.WriteString("# thing recorded) and, as expectations, what the center did, each within the observed delay\n")
	b.WriteString("# plus " + RecordSlack.String() + ". Customers' numbers and addresses are written as they came.\n")
	b.WriteString("center: " + strconv.Quote(r.relCenter()) + "\n")
	b.WriteString("ring_timeout: " + secs(r.ring) + "\n")
	b.WriteString("seed: " + strconv.FormatUint(r.seed, 10) + "\n")
	b.WriteString("script:\n")
	if len(w.actions) == 0 {
		b.Truncate(b.Len() - 1)
		b.WriteString(" []\n")
	}
	for _, l := range w.actions {
		b.WriteString(l + "\n")
	}
	w.callbackExpectations()
	for _, q := range queueOrder {
		c := queues[q]
		w.expect = append(w.expect, fmt.Sprintf("  - {at_end: {queue: %s, offered: %d, answered: %d, abandoned: %d, callback: %d}}",
			strconv.Quote(q), c.offered, c.answered, c.abandoned, c.callback))
	}
	b.WriteString("expect:")
	if len(w.expect) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, l := range w.expect {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// relCenter is the center file relative to the script's folder when both
// are under the working directory (serve run from a project's folder),
// else its absolute path.
func (r *Recorder) relCenter() string {
	c, err1 := filepath.Abs(r.centerPath)
	s, err2 := filepath.Abs(r.path)
	wd, err3 := os.Getwd()
	if err1 != nil || err2 != nil || err3 != nil {
		return r.centerPath
	}
	under := func(p string) bool {
		rel, err := filepath.Rel(wd, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if !under(c) || !under(s) {
		return filepath.ToSlash(c)
	}
	rel, err := filepath.Rel(filepath.Dir(s), c)
	if err != nil {
		return filepath.ToSlash(c)
	}
	return filepath.ToSlash(rel)
}

// agentEvent maps an agent's own state change to its action; the changes
// that follow from something else are the center's and are left out.
func (w *scriptWriter) agentEvent(at time.Duration, e *recEntry, consequence map[string]string, wrapping map[string]bool) {
	id := e.agent
	if w.gateway[id] || id == "" {
		return
	}
	switch e.ev {
	case tserver.EventAgentLogin:
		w.act(at, "agent: "+w.ref(id)+", do: login")
	case tserver.EventAgentLogout:
		delete(wrapping, id)
		w.act(at, "agent: "+w.ref(id)+", do: logout")
	case tserver.EventAgentReady, tserver.EventAgentNotReady:
		if e.ev == tserver.EventAgentNotReady && e.reason == "after_call_work" {
			wrapping[id] = true
			return
		}
		if wrapping[id] {
			delete(wrapping, id) // the end of after-call work
			return
		}
		if e.ev == tserver.EventAgentReady {
			w.act(at, "agent: "+w.ref(id)+", do: ready")
			return
		}
		if r, ok := consequence[id]; ok && r == e.reason {
			delete(consequence, id)
			return
		}
		fields := "agent: " + w.ref(id) + ", do: not_ready"
		if e.reason != "" {
			fields += ", reason: " + strconv.Quote(e.reason)
		}
		w.act(at, fields)
	}
}

// gatewayAnswers says whether the IM gateway, not a desk, acts for the
// agent on a chat (an automated agent, or one whose SIP phone chats).
func (w *scriptWriter) gatewayAnswers(s *ixState, agent string) bool {
	return s.chat && (w.gateway[agent] || w.onPhone[agent])
}

// interactionEvent maps an event of a call or chat to the actions that
// caused it and to an expectation.
func (w *scriptWriter) interactionEvent(at time.Duration, e *recEntry, s *ixState, count func(string) *queueCounts,
	consequence map[string]string, i int) {
	kind := "call"
	switch {
	case s.chat:
		kind = "chat"
	case s.callback:
		kind = "callback"
	}
	within := at - s.start + RecordSlack
	expect := func(fields string) {
		w.expect = append(w.expect, fmt.Sprintf("  - {%s: %s, %s, within: %s}", kind, e.name, fields, secs(within)))
	}
	switch e.ev {
	case tserver.EventQueued:
		if s.counted == "" || s.recount {
			s.counted, s.recount, s.answered = e.queue, false, false
			count(e.queue).offered++
			if !s.expected["queued "+e.queue] {
				s.expected["queued "+e.queue] = true
				expect("event: EventQueued, queue: " + strconv.Quote(e.queue))
			}
		}
	case tserver.EventRinging:
		s.agent = e.agent
	case tserver.EventEstablished:
		s.agent = e.agent
		if !w.gatewayAnswers(s, e.agent) {
			w.act(at, fmt.Sprintf("agent: %s, do: answer, interaction: %s", w.ref(e.agent), e.name))
		}
		if s.counted != "" && !s.answered {
			s.answered = true
			count(s.counted).answered++
		}
		expect("event: EventEstablished, agent: " + w.ref(e.agent))
	case tserver.EventHeld, tserver.EventRetrieved:
		if !w.gatewayAnswers(s, e.agent) {
			do := "hold"
			if e.ev == tserver.EventRetrieved {
				do = "retrieve"
			}
			w.act(at, fmt.Sprintf("agent: %s, do: %s, interaction: %s", w.ref(e.agent), do, e.name))
		}
		expect("event: " + e.ev.String() + ", agent: " + w.ref(e.agent))
	case tserver.EventReleased:
		switch e.reason {
		case "":
			// The customer's own ending of a chat is the line or leave
			// already written; a call's caller and agent hanging up are
			// the same request to the center (ReleaseCall): written as the
			// caller's hangup.
			switch {
			case s.chat && e.byCustomer, s.chat && w.gatewayAnswers(s, e.agent):
			case s.chat, s.callback:
				// A callback's customer has no hangup in a script: the
				// agent's release ends it.
				w.act(at, fmt.Sprintf("agent: %s, do: release, interaction: %s", w.ref(e.agent), e.name))
			default:
				w.act(at, "call: "+e.name+", do: hangup")
			}
			expect("event: EventReleased, agent: " + w.ref(e.agent))
		case "transferred":
			s.recount = true
			if !w.gatewayAnswers(s, e.agent) {
				if t := w.transferTarget(i, e.name); t != "" {
					w.act(at, fmt.Sprintf("agent: %s, do: transfer, target: %s, interaction: %s", w.ref(e.agent), t, e.name))
				}
			}
			expect("event: EventReleased, agent: " + w.ref(e.agent) + ", reason: transferred")
		case "ring_no_answer":
			consequence[e.agent] = e.reason
			expect("event: EventReleased, agent: " + w.ref(e.agent) + ", reason: ring_no_answer")
		default:
			consequence[e.agent] = e.reason
			if !w.gatewayAnswers(s, e.agent) {
				w.act(at, fmt.Sprintf("agent: %s, do: reject, reason: %s, interaction: %s", w.ref(e.agent), strconv.Quote(e.reason), e.name))
			}
			expect("event: EventReleased, agent: " + w.ref(e.agent) + ", reason: " + strconv.Quote(e.reason))
		}
	case tserver.EventAbandoned:
		switch e.reason {
		case "":
			if !s.chat && !s.callback && !e.byCustomer {
				w.act(at, "call: "+e.name+", do: hangup")
			}
			if s.counted != "" && !s.answered {
				count(s.counted).abandoned++
			}
		case tserver.ReasonCallback:
			if s.counted != "" && !s.answered {
				count(s.counted).callback++
			}
		}
		f := "event: EventAbandoned"
		if e.reason != "" {
			f += ", reason: " + strconv.Quote(e.reason)
		}
		expect(f)
	}
}

// transferTarget is where interaction name went after the transfer at
// entry i: the queue it was queued in next, or the agent it rang at.
func (w *scriptWriter) transferTarget(i int, name string) string {
	for _, e := range w.r.entries[i+1:] {
		if e.name != name || e.kind != recEvent {
			continue
		}
		switch e.ev {
		case tserver.EventQueued:
			return strconv.Quote(e.queue)
		case tserver.EventRinging:
			return w.ref(e.agent)
		case tserver.EventReleased, tserver.EventAbandoned:
			return ""
		}
	}
	return ""
}

// customerPhones finds how the customers' phones answered the callback
// server's calls: each phone's first answered call gives its answer_after.
// A number's auto_answer, and the register of a softphone that answered
// but was registered before the recording began, are written at 0.
func (w *scriptWriter) customerPhones() {
	registers := map[string]bool{}
	for _, e := range w.r.entries {
		if e.kind == recSoftphone && e.registered {
			registers[e.user] = true
		}
	}
	for _, id := range w.r.callbackOrder {
		for _, a := range w.r.callbacks[id].Attempts {
			if a.Result != callback.ResultAnswered || a.Ended.IsZero() {
				continue
			}
			if _, known := w.answerAfter[a.Target]; known {
				continue
			}
			d := a.Ended.Sub(a.At)
			w.answerAfter[a.Target] = d
			switch {
			case a.Medium == callback.Phone:
				w.act(0, "phone: "+strconv.Quote(a.Target)+", do: auto_answer, answer_after: "+secs(d))
			case !registers[a.Target]:
				w.act(0, "phone: "+strconv.Quote(a.Target)+", do: register, answer_after: "+secs(d))
			}
		}
	}
}

// router writes, before a call that begins at a route point (entry i),
// the router action that routes it as a router did: the RouteCall's
// target, after the delay observed since the route request. Nothing
// when the call went to the route point's default queue, or when the
// script's router there does the same already.
func (w *scriptWriter) router(at time.Duration, i int, first *recEntry) {
	for _, e := range w.r.entries[i+1:] {
		if e.name != first.name || e.kind != recEvent || e.ev != tserver.EventRouteUsed {
			continue
		}
		if e.reason != "" {
			return // the route point's default: no router answered
		}
		plan := routerPlan{target: strconv.Quote(e.queue), after: e.at.Sub(first.at)}
		if e.queue == "" {
			plan.target = w.ref(e.agent)
		}
		if cur, ok := w.routing[first.dnis]; ok && cur.target == plan.target && (cur.after-plan.after).Abs() <= routerAfterTolerance {
			return
		}
		w.routing[first.dnis] = plan
		w.act(at, fmt.Sprintf("router: %s, target: %s, after: %s", strconv.Quote(first.dnis), plan.target, secs(plan.after)))
		return
	}
}

// callbackExpectations writes what became of each named callback: each
// attempt's phone ringing and result, within the observed delay since the
// request plus RecordSlack, and its state at the end.
func (w *scriptWriter) callbackExpectations() {
	for _, id := range w.r.callbackOrder {
		name, ok := w.r.callbackNames[id]
		if !ok {
			continue
		}
		start := w.callbackStart[name]
		req := w.r.callbacks[id]
		within := func(t time.Time) string { return secs(t.Sub(w.r.t0) - start + RecordSlack) }
		for _, a := range req.Attempts {
			switch a.Result {
			case callback.ResultAnswered, callback.ResultBusy, callback.ResultNoAnswer:
				w.expect = append(w.expect, fmt.Sprintf("  - {phone: %s, rings: true, callback: %s, within: %s}",
					strconv.Quote(a.Target), name, within(a.At)))
			}
			if a.Result != "" && !a.Ended.IsZero() {
				w.expect = append(w.expect, fmt.Sprintf("  - {callback: %s, medium: %s, result: %s, within: %s}",
					name, a.Medium, a.Result, within(a.Ended)))
			}
		}
		w.expect = append(w.expect, fmt.Sprintf("  - {at_end: {callback: %s, state: %s}}", name, req.State))
	}
}
