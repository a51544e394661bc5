package imgw

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// AgentChat is what the gateway tells an agent's desktop about a chat: a
// message, a typing notification, the conversation so far, its end. The
// CTI server turns it into the events of the same names.
type AgentChat struct {
	// Type is EventChatMessage, EventChatTyping, EventChatHistory or
	// EventChatEnded.
	Type   string
	ConnID pbx.ConnID
	// From is "customer", "agent", "bot", "system" or "supervisor".
	From string
	// Name is the sender's display name (the customer's name when known,
	// never an address).
	Name  string
	Text  string
	State string
	Time  time.Time
	// Lines is the transcript so far, for EventChatHistory.
	Lines []Line
}

// The AgentChat types.
const (
	ChatMessage = "EventChatMessage"
	ChatTyping  = "EventChatTyping"
	ChatHistory = "EventChatHistory"
	ChatEnded   = "EventChatEnded"
)

// AgentDesk reaches agents' desktops (the CTI server). DeliverChat is
// called on the gateway's goroutine and must not block.
type AgentDesk interface {
	DeliverChat(agentID string, m AgentChat)
}

// Config configures a Gateway.
type Config struct {
	// Clock is the domain's clock (the one tserver runs on).
	Clock clock.Clock
	// Post runs f on the domain's goroutine (clock.Loop.Post); Receive
	// uses it. Nil runs f at once: for single-goroutine simulations.
	Post func(f func()) bool
	// TServer routes the conversations, as media im.
	TServer *tserver.Server
	// Center is the center's configuration; its im section drives the
	// bot.
	Center *config.File
	// Customers identifies customers; Journal keeps transcripts. Both
	// default to a MemoryStore.
	Customers Customers
	Journal   Journal
	// Desk reaches the agents.
	Desk AgentDesk
	Log  zerolog.Logger
	// HandoffSecret checks the web chat's hand-off tokens (SignHandoff):
	// the secret im.identity.handoff_secret_file or handoff_secret_env
	// names, read by whoever opens the center. Empty: every token is
	// refused. At least MinHandoffSecret bytes.
	HandoffSecret []byte
	// OnPresence, when set, is told of each change of a customer
	// device's presence (a device repeating itself is not a change), on
	// the domain's goroutine: the callback server's presence sources.
	// customer is the number of the customer the device's conversation
	// belongs to, when the customer is identified and verified there
	// (a hand-off token, a linked address, the verification question);
	// else empty.
	OnPresence func(from Address, p PresenceInfo, customer string)
	// OnAlert, when set, takes a waiting customer's "tell me when the wait
	// is under N minutes" (Alert) for the conversation's queue, on the
	// domain's goroutine; customer is as in OnPresence. It returns what
	// the bot answers, or an error the bot explains.
	OnAlert func(from Address, customer, queue string, minutes int) (string, error)
}

// phase is where a conversation is.
type phase uint8

const (
	phaseBot       phase = iota + 1 // talking with the bot
	phaseWaitInfo                   // bot done, waiting briefly for the client software
	phaseQueued                     // waiting for an agent
	phaseConnected                  // with an agent
	phaseCallback                   // asked for the number to call back
	phaseEnded
)

type userKey struct{ network, user string }

// conversation is one customer's chat, from the first message to its end.
type conversation struct {
	id       string
	n        uint64 // the gateway's count when it started
	key      userKey
	addr     Address // the device the customer last wrote from
	phase    phase
	started  time.Time
	bot      botState
	customer *Customer
	// anonymous: identification was tried and failed.
	anonymous bool
	// verified: customer is proven, not only claimed: the IM user is
	// linked to them, a hand-off token vouched for them, or they
	// answered the verification question. Only then does the bot open
	// their personal data.
	verified bool
	// verifyWrong counts wrong answers to the verification question.
	verifyWrong int
	// idText is what the customer typed to be identified.
	idText string
	// handoffTried: a hand-off token was looked at (one per
	// conversation).
	handoffTried bool
	answered     bool // the bot answered something itself
	language     string
	queue        string
	priority     int
	reason       string
	clients      []ClientInfo

	conn        pbx.ConnID
	agent       string
	supervisors []string
	enqueued    time.Time // entered tserver's queues (or was last transferred)
	routed      bool      // a route was journaled (journalRoute)

	seq       int64
	outSeq    int
	lines     []Line // the transcript, for the agents' history
	limit     rateLimit
	typing    rateLimit // typing notifications relayed
	lastState ChatState // the last one relayed to the agents
	botTimer  clock.Timer
	waitTimer clock.Timer // client info wait, position updates
	offerT    clock.Timer
	departT   clock.Timer // the customer went away: leaves when it fires
	offered   bool        // a callback was offered
	outcome   string
	endedBy   string // who ended the chat: "customer", "agent", or "" while nobody has
}

// maxHistory bounds the transcript lines kept in memory for agents.
const maxHistory = 200

// maxPendingClients bounds client reports kept for customers without a
// conversation (presence caps of subscribers).
const maxPendingClients = 10000

// Gateway is the IM gateway's core. Except Receive, its methods run on the
// domain's goroutine.
type Gateway struct {
	clock     clock.Clock
	post      func(func()) bool
	ts        *tserver.Server
	im        *config.IM
	customers Customers
	journal   Journal
	desk      AgentDesk
	log       zerolog.Logger

	adapters     map[string]Adapter
	byUser       map[userKey]*conversation
	byConn       map[pbx.ConnID]*conversation
	byID         map[string]*conversation
	arriving     *conversation
	pending      map[userKey][]ClientInfo
	presence     map[Address]PresenceInfo // last journaled, per device
	agentNames   map[string]string
	families     map[string]string // lower-case family -> as agents spell it
	attributes   map[string]bool   // attribute keys some agent has
	defaultQueue string
	prefix       string
	next         uint64
	cancel       func()
	robots       map[string]*robot
	// onPhone: agents who chat from their SIP phone (chat_via: sip),
	// whose offers the gateway answers for them.
	onPhone map[string]bool
	// handoffSecret checks hand-off tokens (none: refused).
	handoffSecret []byte
	// onPresence is Config.OnPresence; onAlert Config.OnAlert.
	onPresence func(Address, PresenceInfo, string)
	onAlert    func(Address, string, string, int) (string, error)
	// draining: the center is closing; no new conversation (drain.go).
	draining bool
}

// New builds a gateway for the center and subscribes it to tserver's
// events.
func New(o Config) (*Gateway, error) {
	if o.Clock == nil || o.TServer == nil || o.Center == nil {
		return nil, fmt.Errorf("imgw: clock, tserver and center are required")
	}
	im := o.Center.IM
	if im == nil {
		return nil, fmt.Errorf("imgw: %s has no im section", o.Center.Path)
	}
	if n := len(o.HandoffSecret); n > 0 && n < MinHandoffSecret {
		return nil, fmt.Errorf("imgw: the hand-off secret has %d bytes, want at least %d", n, MinHandoffSecret)
	}
	g := &Gateway{
		clock: o.Clock, post: o.Post, ts: o.TServer, im: im,
		customers: o.Customers, journal: o.Journal, desk: o.Desk, log: o.Log,
		adapters: map[string]Adapter{}, byUser: map[userKey]*conversation{},
		byConn: map[pbx.ConnID]*conversation{}, byID: map[string]*conversation{},
		pending: map[userKey][]ClientInfo{}, presence: map[Address]PresenceInfo{}, agentNames: map[string]string{},
		families: map[string]string{}, attributes: map[string]bool{}, onPhone: map[string]bool{},
		defaultQueue:  o.Center.IMQueue(),
		prefix:        strconv.FormatInt(o.Clock.Now().UnixMilli(), 36),
		handoffSecret: slices.Clone(o.HandoffSecret),
		onPresence:    o.OnPresence,
		onAlert:       o.OnAlert,
	}
	if g.customers == nil || g.journal == nil {
		m := NewMemoryStore()
		if g.customers == nil {
			g.customers = m
		}
		if g.journal == nil {
			g.journal = m
		}
	}
	if g.post == nil {
		g.post = func(f func()) bool { f(); return true }
	}
	for _, a := range o.Center.ExpandAgents() {
		g.agentNames[a.ID] = a.Name
		if a.ChatVia == config.ChatViaSIP {
			g.onPhone[a.ID] = true
		}
		for fam := range a.Clients {
			g.families[strings.ToLower(fam)] = fam
		}
		for k := range a.Attributes {
			g.attributes[k] = true
		}
	}
	g.addRobots(im.AutomatedAgents)
	g.cancel = g.ts.Subscribe(g.onEvent)
	return g, nil
}

// Close stops following tserver's events.
func (g *Gateway) Close() { g.cancel() }

// AddAdapter connects an IM network. Call it before the adapter reports.
func (g *Gateway) AddAdapter(a Adapter) { g.adapters[a.Network()] = a }

// Receive implements Receiver: it hands in to the domain's goroutine.
func (g *Gateway) Receive(in Inbound) {
	g.post(func() { g.Handle(in) })
}

// Handle processes one inbound event; it runs on the domain's goroutine.
func (g *Gateway) Handle(in Inbound) {
	k := userKey{in.From.Network, in.From.User}
	c := g.byUser[k]
	switch in.Kind {
	case Message:
		g.message(c, in)
	case Typing:
		if c == nil {
			return
		}
		if in.State == StateGone {
			g.customerEnds(c)
			return
		}
		g.typingToAgents(c, in.State)
	case Client:
		if in.Client == nil {
			return
		}
		g.journal.Device(in.From, in.Client, nil)
		if c == nil {
			if len(g.pending) >= maxPendingClients {
				clear(g.pending)
			}
			g.pending[k] = append(g.pending[k], *in.Client)
			return
		}
		g.clientInfo(c, *in.Client)
	case Presence:
		// Only changes are journaled: a device repeating its presence
		// (or a customer flooding it) costs no write.
		if in.Presence != nil && g.presence[in.From] != *in.Presence {
			if len(g.presence) >= maxPendingClients {
				clear(g.presence)
			}
			g.presence[in.From] = *in.Presence
			g.journal.Device(in.From, nil, in.Presence)
			if g.onPresence != nil {
				customer := ""
				if c != nil && c.customer != nil && c.verified {
					customer = c.customer.Number
				}
				g.onPresence(in.From, *in.Presence, customer)
			}
		}
		if c != nil && in.Presence != nil {
			g.departure(c, in)
		}
	case Bounce:
		g.bounce(in)
	}
}

func (g *Gateway) newConversation(in Inbound) *conversation {
	g.next++
	now := g.clock.Now()
	c := &conversation{
		id:      g.prefix + "-" + strconv.FormatUint(g.next, 10),
		n:       g.next,
		key:     userKey{in.From.Network, in.From.User},
		addr:    in.From,
		phase:   phaseBot,
		started: now,
	}
	if infos, ok := g.pending[c.key]; ok {
		c.clients = infos
		delete(g.pending, c.key)
	}
	g.byUser[c.key], g.byID[c.id] = c, c
	if g.authenticates(in.From.Network) {
		if cu, err := g.customers.LinkedCustomer(in.From); err == nil {
			g.identified(c, cu)
			c.verified = true
		}
	}
	g.handoff(c, in.Identity)
	g.journalConversation(c)
	g.log.Info().Str("conversation", c.id).Str("network", in.From.Network).Msg("conversation started")
	return c
}

// message handles a customer's text.
func (g *Gateway) message(c *conversation, in Inbound) {
	now := g.clock.Now()
	if c == nil {
		if !g.admit(in) || g.refuseWhileDraining(in) || g.refuseWhileBehind(in.From, nil) {
			return
		}
		c = g.newConversation(in)
		c.limit.allow(now, g.im.MessagesPerMinute)
		g.record(c, "customer", "", g.clean(in.Text))
		g.botStart(c)
		g.armBotTimeout(c)
		return
	}
	c.addr = in.From
	g.stayed(c)
	if in.Identity != "" && !c.handoffTried && c.phase == phaseBot {
		g.handoff(c, in.Identity)
		g.journalConversation(c)
	}
	if !c.limit.allow(now, g.im.MessagesPerMinute) {
		if c.limit.warn(now) {
			g.say(c, "system", "You are sending messages too fast; some were not delivered. Please wait a moment.")
		}
		return
	}
	if len(in.Text) > g.im.MaxMessageBytes {
		g.say(c, "system", fmt.Sprintf("Your message is too long (at most %d characters); please shorten it.", g.im.MaxMessageBytes))
		return
	}
	text := g.clean(in.Text)
	if text == "" || g.refuseWhileBehind(in.From, c) {
		return
	}
	g.record(c, "customer", "", text)
	if isWord(text, g.im.EndWords) {
		g.customerEnds(c)
		return
	}
	switch c.phase {
	case phaseBot:
		g.armBotTimeout(c)
		g.botInput(c, text)
	case phaseQueued:
		if minutes, ok := AlertRequest(text); ok && g.onAlert != nil {
			g.alert(c, minutes)
			return
		}
		if c.offered && isWord(text, []string{"callback", "call back", "call me"}) {
			c.phase = phaseCallback
			g.say(c, "bot", "Which phone number shall we call? (Your place in the queue is kept until you answer.)")
		}
	case phaseCallback:
		g.callbackNumber(c, text)
	case phaseConnected:
		c.lastState = StateActive // a message ends the typing
		g.toAgents(c, AgentChat{Type: ChatMessage, From: "customer", Name: g.customerName(c), Text: text, Time: now})
	}
}

// admit checks a first message before a conversation exists.
func (g *Gateway) admit(in Inbound) bool {
	if g.adapters[in.From.Network] == nil {
		g.log.Warn().Str("network", in.From.Network).Msg("message from a network without adapter dropped")
		return false
	}
	if len(in.Text) > g.im.MaxMessageBytes {
		g.send(in.From, "", fmt.Sprintf("Your message is too long (at most %d characters); please shorten it.", g.im.MaxMessageBytes))
		return false
	}
	return true
}

func (g *Gateway) clean(s string) string {
	out, changed := Sanitize(s)
	if changed && out != strings.TrimSpace(s) {
		g.log.Debug().Int("in", len(s)).Int("out", len(out)).Msg("customer text sanitised")
	}
	return out
}

func (g *Gateway) customerName(c *conversation) string {
	if c.customer != nil && c.customer.Name != "" {
		return c.customer.Name
	}
	return "Customer"
}

// agentName is what customers see of an agent.
func (g *Gateway) agentName(id string) string {
	if n := g.agentNames[id]; n != "" {
		return n
	}
	return "Agent"
}

// say sends text to the customer and records it.
func (g *Gateway) say(c *conversation, from, text string) {
	g.sayAs(c, from, "", text, text)
}

// sayAs records text from agentID and sends shown to the customer.
func (g *Gateway) sayAs(c *conversation, from, agentID, text, shown string) {
	if c.phase == phaseEnded && from != "system" {
		return
	}
	g.record(c, from, agentID, text)
	c.outSeq++
	g.send(c.addr, c.id+"."+strconv.Itoa(c.outSeq), shown)
}

func (g *Gateway) send(to Address, id, text string) {
	a := g.adapters[to.Network]
	if a == nil {
		return
	}
	a.Send(Outbound{To: to, Text: text, State: StateActive, ID: id})
}

// record appends a transcript line.
func (g *Gateway) record(c *conversation, from, agentID, text string) {
	if text == "" {
		return
	}
	c.seq++
	l := Line{Conversation: c.id, Seq: c.seq, Time: g.clock.Now(), From: from, AgentID: agentID, Text: text}
	if len(c.lines) == maxHistory {
		// Drop the oldest by slicing rather than moving the other
		// lines down for every line of a long chat: the lines are
		// copied only when append runs out of the array.
		c.lines[0] = Line{}
		c.lines = c.lines[1:]
	}
	c.lines = append(c.lines, l)
	g.journal.Line(l)
}

func (g *Gateway) journalConversation(c *conversation) {
	r := ConversationRecord{ID: c.id, From: Address{Network: c.key.network, User: c.key.user}, Queue: c.queue,
		Reason: c.reason, Language: c.language, Started: c.started, Outcome: c.outcome}
	if c.customer != nil {
		r.CustomerID = c.customer.ID
	}
	if c.phase == phaseEnded {
		r.Ended = g.clock.Now()
	}
	g.journal.Conversation(r)
}

func (g *Gateway) armBotTimeout(c *conversation) {
	if c.botTimer != nil {
		c.botTimer.Stop()
	}
	c.botTimer = g.clock.AfterFunc(g.im.Bot.Timeout.D(), func() {
		if c.phase != phaseBot && c.phase != phaseCallback {
			return
		}
		t := g.im.Bot.TimeoutText
		if t == "" {
			t = "This chat was closed because there was no answer. Write again any time."
		}
		g.say(c, "bot", t)
		if c.phase == phaseCallback && c.conn != 0 {
			_ = g.ts.ReleaseCall(c.conn)
		}
		g.end(c, "timeout")
	})
}

// clientInfo adds a client report to c; routing may have waited for it.
func (g *Gateway) clientInfo(c *conversation, info ClientInfo) {
	c.clients = append(c.clients, info)
	switch c.phase {
	case phaseWaitInfo:
		if _, _, ok := g.clientFamily(c); ok {
			g.arrive(c)
		}
	case phaseConnected:
		if info.Family != "" {
			// The client names itself: its words are text like a line's.
			text, _ := Sanitize("Client software: " + strings.TrimSpace(info.Family+" "+info.Version))
			g.toAgents(c, AgentChat{Type: ChatMessage, From: "system", Text: text, Time: g.clock.Now()})
		}
	}
}

// sourceRank orders client reports by trust: the software's own word
// first, a caps node, then a bare identity.
var sourceRank = map[string]int{"xep-0092": 0, "sip-user-agent": 1, "http-user-agent": 1, "xep-0115": 2, "xep-0030": 3}

// clientFamily picks, among c's client reports, the software routing
// matches agents against: a family some agent declares, preferring the
// software's own report (XEP-0092, user agents) over a caps node. ok is
// false when no report names a family any agent knows.
func (g *Gateway) clientFamily(c *conversation) (family, version string, ok bool) {
	best := math.MaxInt
	for _, ci := range c.clients {
		fam, known := g.families[strings.ToLower(ci.Family)]
		r, ranked := sourceRank[ci.Source]
		if !ranked {
			r = 4
		}
		if known && r < best {
			family, version, best, ok = fam, ci.Version, r, true
		}
	}
	return family, version, ok
}

// route ends the bot dialogue: the conversation waits for its client
// software briefly, then enters tserver.
func (g *Gateway) route(c *conversation) {
	if c.botTimer != nil {
		c.botTimer.Stop()
		c.botTimer = nil
	}
	if c.queue == "" {
		c.queue = g.defaultQueue
	}
	if _, _, ok := g.clientFamily(c); ok || len(g.families) == 0 || g.im.ClientWait <= 0 {
		g.arrive(c)
		return
	}
	c.phase = phaseWaitInfo
	c.waitTimer = g.clock.AfterFunc(g.im.ClientWait.D(), func() {
		if c.phase == phaseWaitInfo {
			g.arrive(c)
		}
	})
}

// arrive hands the conversation to tserver.
func (g *Gateway) arrive(c *conversation) {
	if c.waitTimer != nil {
		c.waitTimer.Stop()
		c.waitTimer = nil
	}
	in := g.arrival(c)
	c.phase = phaseQueued
	c.outcome = "routed"
	c.enqueued = g.clock.Now()
	g.journalConversation(c)
	g.arriving = c
	id, err := g.ts.Arrive(in)
	g.arriving = nil
	if err != nil {
		g.log.Error().Err(err).Str("conversation", c.id).Str("queue", c.queue).Msg("routing failed")
		g.say(c, "system", "Sorry, we cannot take chats right now. Please try again later.")
		g.end(c, "failed")
		return
	}
	g.bind(c, id)
	if c.phase == phaseQueued {
		g.journalRoute(c)
		g.waiting(c)
	}
}

// arrival is what tserver routes of conversation c.
func (g *Gateway) arrival(c *conversation) *tserver.Arrival {
	fam, ver, _ := g.clientFamily(c)
	in := &tserver.Arrival{Media: pbx.IM, DNIS: c.queue, Priority: c.priority, ClientFamily: fam, ClientVersion: ver}
	if c.language != "" && g.attributes["language"] {
		in.Requires = []pbx.KV{{Key: "language", Value: c.language}}
	}
	in.ANI = c.id
	in.UserData.Set("conversation", c.id)
	in.UserData.Set("network", c.key.network)
	if c.customer != nil {
		in.ANI = c.customer.Number
		in.UserData.Set("customer_number", c.customer.Number)
		in.UserData.Set("customer_name", c.customer.Name)
	}
	if c.reason != "" {
		in.UserData.Set("reason", c.reason)
	}
	if c.language != "" {
		in.UserData.Set("language", c.language)
	}
	if fam != "" {
		in.UserData.Set("client", fam)
		in.UserData.Set("client_version", ver)
	}
	return in
}

func (g *Gateway) bind(c *conversation, id pbx.ConnID) {
	if c.conn == 0 {
		c.conn = id
		g.byConn[id] = c
	}
}

// waiting tells a queued customer the position and estimated wait, now
// and every PositionEvery, and arms the callback offer.
func (g *Gateway) waiting(c *conversation) {
	g.tellPosition(c)
	g.armWaiting(c)
}

// armWaiting arms a queued conversation's position updates and callback
// offer.
func (g *Gateway) armWaiting(c *conversation) {
	if every := g.im.PositionEvery.D(); every > 0 && c.waitTimer == nil {
		var tick func()
		tick = func() {
			if c.phase != phaseQueued {
				c.waitTimer = nil
				return
			}
			g.tellPosition(c)
			c.waitTimer = g.clock.AfterFunc(every, tick)
		}
		c.waitTimer = g.clock.AfterFunc(every, tick)
	}
	if after := g.im.CallbackOfferAfter.D(); after > 0 && !c.offered && c.offerT == nil {
		c.offerT = g.clock.AfterFunc(after, func() {
			c.offerT = nil
			if c.phase != phaseQueued || c.offered {
				return
			}
			c.offered = true
			g.say(c, "bot", "Rather not wait? Reply CALLBACK and we will call you back; you keep your place until then.")
		})
	}
}

// PositionText is what a waiting customer is told: the position and the
// estimated wait the wallboard shows (the staffing estimate, or the
// recent waits when nobody staffs the queue).
func PositionText(pos int, e tserver.EWT) string {
	w := e.Staffing
	if w == 0 {
		w = e.Recent
	}
	return fmt.Sprintf("You are number %d in the queue. Estimated wait: %s.", pos, waitWords(w))
}

// noStaff is the estimate tserver gives when nobody serves a queue.
const noStaff = 24 * time.Hour

func waitWords(d time.Duration) string {
	switch {
	case d >= noStaff:
		return "unknown, no agent is available at the moment"
	case d < 30*time.Second:
		return "less than a minute"
	case d < 90*time.Second:
		return "about 1 minute"
	}
	return fmt.Sprintf("about %d minutes", int((d+30*time.Second)/time.Minute))
}

func (g *Gateway) tellPosition(c *conversation) {
	pos, e, err := g.ts.Position(c.conn)
	if err != nil {
		return
	}
	g.say(c, "bot", PositionText(pos, e))
}

// alertWords start a customer's request for an alert.
var alertWords = regexp.MustCompile(`(?i)\b(alert|tell me|notify me|let me know|message me)\b`)

// alertWait names the wait in such a request ("alert" alone is one).
var alertWait = regexp.MustCompile(`(?i)\b(alert|wait|waiting|under|below|less than|shorter than)\b`)

// alertMinutes is the number of minutes in such a request.
var alertMinutes = regexp.MustCompile(`(?i)\b(\d{1,4})\s*(m|min|mins|minute|minutes)?\b`)

// AlertRequest reads a waiting customer's "tell me when the wait is under
// N minutes" ("alert me under 5 min", "let me know when it is below 10
// minutes"): the minutes, and whether text is such a request.
func AlertRequest(text string) (minutes int, ok bool) {
	if !alertWords.MatchString(text) || !alertWait.MatchString(text) {
		return 0, false
	}
	m := alertMinutes.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > 1440 {
		return 0, false
	}
	return n, true
}

// alert passes a waiting customer's alert request to the callback
// server and says what it answered.
func (g *Gateway) alert(c *conversation, minutes int) {
	customer := ""
	if c.customer != nil && c.verified {
		customer = c.customer.Number
	}
	reply, err := g.onAlert(Address{Network: c.key.network, User: c.key.user, Device: c.addr.Device}, customer, c.queue, minutes)
	if err != nil {
		g.log.Info().Err(err).Str("conversation", c.id).Msg("alert refused")
		g.say(c, "bot", "Sorry, I cannot set that alert: "+err.Error())
		return
	}
	g.say(c, "bot", reply)
}

// callbackNumber takes the number of a customer who asked for a callback.
func (g *Gateway) callbackNumber(c *conversation, text string) {
	var digits strings.Builder
	for _, r := range text {
		if r >= '0' && r <= '9' || (r == '+' && digits.Len() == 0) {
			digits.WriteRune(r)
		}
	}
	n := digits.String()
	if len(strings.TrimPrefix(n, "+")) < 4 || len(n) > 20 {
		g.say(c, "bot", "That does not look like a phone number. Which number shall we call?")
		return
	}
	// The callback keeps the place the chat had in its queue.
	requested := g.clock.Now()
	if !c.enqueued.IsZero() && c.enqueued.Before(requested) {
		requested = c.enqueued
	}
	r := CallbackRequest{Conversation: c.id, From: Address{Network: c.key.network, User: c.key.user},
		Queue: c.queue, Number: n, Requested: requested}
	if c.customer != nil {
		r.CustomerID = c.customer.ID
	}
	g.journal.Callback(r)
	g.say(c, "bot", "Thank you. We will call you back at "+n+".")
	if c.conn != 0 {
		c.outcome = "callback"
		// Out of the queue, counted as a callback (not abandoned).
		_ = g.ts.LeaveForCallback(c.conn)
	}
	g.end(c, "callback")
}

// departure follows the presence of a customer whose chat waits for an
// agent (with the bot, queued, or asked for a callback number): gone from
// every device the gateway knows of, they have im.departure_grace to come
// back before the chat leaves the queue as abandoned (departed). A device
// that becomes available, or a message, keeps them (stayed).
func (g *Gateway) departure(c *conversation, in Inbound) {
	if in.Presence.Available {
		g.stayed(c)
		return
	}
	for a, p := range g.presence {
		if p.Available && a.Network == in.From.Network && a.User == in.From.User {
			return // another device is still there
		}
	}
	grace := g.im.DepartureGrace.D()
	if grace <= 0 || c.departT != nil || (c.phase != phaseBot && c.phase != phaseQueued && c.phase != phaseCallback) {
		return
	}
	g.log.Info().Str("conversation", c.id).Dur("grace", grace).Msg("customer went away")
	c.departT = g.clock.AfterFunc(grace, func() {
		c.departT = nil
		g.departed(c)
	})
}

// stayed: the customer is back (or never left).
func (g *Gateway) stayed(c *conversation) {
	if c.departT != nil {
		c.departT.Stop()
		c.departT = nil
	}
}

// departed: the customer went away and did not come back within the
// grace; a chat that still waits for an agent leaves its queue as
// abandoned (EventAbandoned), with nobody told but the transcript.
func (g *Gateway) departed(c *conversation) {
	if c.phase != phaseBot && c.phase != phaseQueued && c.phase != phaseCallback {
		return
	}
	g.log.Info().Str("conversation", c.id).Msg("customer gone: the chat is abandoned")
	g.record(c, "system", "", "The customer left.")
	c.outcome = "abandoned"
	c.endedBy = "customer"
	if c.conn != 0 {
		_ = g.ts.ReleaseCall(c.conn) // EventAbandoned
	}
	g.end(c, "abandoned")
}

// customerEnds: the customer left (end word or chat state gone).
func (g *Gateway) customerEnds(c *conversation) {
	if c.phase == phaseEnded {
		return
	}
	outcome := "abandoned"
	if c.phase == phaseConnected {
		outcome = "handled"
	} else if c.answered && c.phase == phaseBot {
		outcome = "answered_by_bot"
	}
	// The transcript says who ended the chat; the customer, who did, gets
	// a confirmation. endedBy is set before the release, whose event
	// (EventReleased) would otherwise read as the agent hanging up.
	g.sayAs(c, "system", "", "Chat ended by the customer.", "Chat ended by you. Thank you for contacting "+g.im.Name+".")
	c.outcome = outcome
	c.endedBy = "customer"
	if c.conn != 0 {
		_ = g.ts.ReleaseCall(c.conn) // the event ends the conversation
	}
	g.end(c, outcome)
}

// end closes the conversation: timers stop, agents are told, the journal
// gets its end.
func (g *Gateway) end(c *conversation, outcome string) {
	if c.phase == phaseEnded {
		return
	}
	for _, t := range []clock.Timer{c.botTimer, c.waitTimer, c.offerT, c.departT} {
		if t != nil {
			t.Stop()
		}
	}
	if c.phase == phaseConnected {
		by := c.endedBy
		if by == "" {
			by = "customer"
		}
		g.toAgents(c, AgentChat{Type: ChatEnded, From: by, Time: g.clock.Now()})
	}
	c.phase = phaseEnded
	if c.outcome == "" || c.outcome == "routed" {
		c.outcome = outcome
	}
	g.journalConversation(c)
	g.journalRoute(c)
	delete(g.byUser, c.key)
	delete(g.byID, c.id)
	if c.conn != 0 {
		delete(g.byConn, c.conn)
	}
	g.log.Info().Str("conversation", c.id).Str("outcome", c.outcome).Msg("conversation ended")
}

// onEvent follows tserver's events for the conversations it routes.
func (g *Gateway) onEvent(e tserver.Event) {
	if e.Type == tserver.EventAgentNotReady && e.Reason == tserver.ReasonDeskLost {
		// Nobody reads this agent's chats any more.
		g.DeskLost(e.AgentID)
		return
	}
	if e.Media != pbx.IM || e.ConnID == 0 {
		return
	}
	c := g.byConn[e.ConnID]
	if c == nil && g.arriving != nil {
		c = g.arriving
		g.bind(c, e.ConnID)
	}
	if c == nil || c.phase == phaseEnded {
		return
	}
	switch e.Type {
	case tserver.EventEstablished:
		g.connected(c, e.AgentID)
	case tserver.EventQueued:
		if c.phase != phaseCallback {
			c.phase = phaseQueued
		}
		if g.arriving == nil {
			g.waiting(c)
		}
	case tserver.EventReleased:
		switch e.Reason {
		case "transferred":
			g.say(c, "system", "You are being transferred. Please wait.")
			c.agent = ""
			c.phase = phaseQueued
			c.enqueued = g.clock.Now()
			g.journalRoute(c)
		case "":
			if c.phase == phaseConnected && c.endedBy == "" {
				// Not the customer's own release (customerEnds): the
				// agent ended the chat.
				g.say(c, "system", g.agentName(e.AgentID)+" has ended the chat. Thank you for contacting "+g.im.Name+".")
				c.endedBy = "agent"
			}
			g.end(c, "handled")
		}
	case tserver.EventAbandoned:
		g.end(c, "abandoned")
	}
}

// connected: an agent answered; the customer is told and the agent gets
// the conversation so far.
func (g *Gateway) connected(c *conversation, agentID string) {
	for _, t := range []*clock.Timer{&c.waitTimer, &c.offerT} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
	c.phase, c.agent = phaseConnected, agentID
	g.journalRoute(c)
	g.deliver(agentID, AgentChat{Type: ChatHistory, ConnID: c.conn, Name: g.customerName(c),
		Time: g.clock.Now(), Lines: append([]Line(nil), c.lines...)})
	g.say(c, "system", "You are now chatting with "+g.agentName(agentID)+".")
}

// toAgents delivers m to the conversation's agent and supervisors.
func (g *Gateway) toAgents(c *conversation, m AgentChat) {
	m.ConnID = c.conn
	if c.agent != "" {
		g.deliver(c.agent, m)
	}
	for _, s := range c.supervisors {
		g.deliver(s, m)
	}
}

// typingPerMinute bounds the typing notifications relayed from one
// customer: a flood of them must not swamp (or disconnect) a desktop.
const typingPerMinute = 120

func (g *Gateway) typingToAgents(c *conversation, s ChatState) {
	if c.phase != phaseConnected || s == c.lastState || !c.typing.allow(g.clock.Now(), typingPerMinute) {
		return
	}
	c.lastState = s
	g.toAgents(c, AgentChat{Type: ChatTyping, From: "customer", Name: g.customerName(c), State: s.String(), Time: g.clock.Now()})
}

// bounce handles a message the network could not deliver.
func (g *Gateway) bounce(in Inbound) {
	id, _, _ := strings.Cut(in.ID, ".")
	c := g.byID[id]
	g.log.Warn().Str("id", in.ID).Str("error", in.Error).Str("network", in.From.Network).Msg("message bounced")
	if c == nil {
		return
	}
	if c.phase == phaseConnected {
		text, _ := Sanitize("The customer's IM network could not deliver a message (" + in.Error + ").")
		g.toAgents(c, AgentChat{Type: ChatMessage, From: "system", Text: text, Time: g.clock.Now()})
	}
}

// chatFor finds the conversation of conn that agentID may write in.
func (g *Gateway) chatFor(op, agentID string, id pbx.ConnID) (*conversation, bool, error) {
	c := g.byConn[id]
	if c == nil {
		return nil, false, pbx.Errorf(pbx.NotFound, "imgw: %s: no chat %s", op, id)
	}
	if c.agent == agentID && c.phase == phaseConnected {
		return c, false, nil
	}
	for _, s := range c.supervisors {
		if s == agentID {
			return c, true, nil
		}
	}
	return nil, false, pbx.Errorf(pbx.Permission, "imgw: %s: chat %s is not %s's", op, id, agentID)
}

// AgentMessage relays an agent's (or a supervisor's) text to the customer.
func (g *Gateway) AgentMessage(agentID string, id pbx.ConnID, text string) error {
	c, super, err := g.chatFor("message", agentID, id)
	if err != nil {
		return err
	}
	if len(text) > g.im.MaxMessageBytes*4 {
		return pbx.Errorf(pbx.Invalid, "imgw: message: %d bytes is too long (at most %d)", len(text), g.im.MaxMessageBytes*4)
	}
	text, _ = Sanitize(text)
	if text == "" {
		return pbx.Errorf(pbx.Invalid, "imgw: message: empty text")
	}
	if err := g.accepting(); err != nil {
		return pbx.Errorf(pbx.Unavailable, "imgw: message: not sent, it could not be stored: %v", err)
	}
	from := "agent"
	if super {
		from = "supervisor"
	}
	g.sayAs(c, from, agentID, text, g.agentName(agentID)+": "+text)
	m := AgentChat{Type: ChatMessage, ConnID: c.conn, From: from, Name: g.agentName(agentID), Text: text, Time: g.clock.Now()}
	// The other agents in the chat see it too.
	if c.agent != agentID && c.agent != "" {
		g.deliver(c.agent, m)
	}
	for _, s := range c.supervisors {
		if s != agentID {
			g.deliver(s, m)
		}
	}
	return nil
}

// accepting is the journal's Accepting, if it has one.
func (g *Gateway) accepting() error {
	if a, ok := g.journal.(Accepter); ok {
		return a.Accepting()
	}
	return nil
}

// behindText is what a customer is told while the journal cannot take
// their lines.
const behindText = "Sorry, we cannot take your message right now. Please try again in a moment."

// refuseWhileBehind refuses a customer's line while the journal cannot
// take it (Accepter): the customer is told, at most once a minute in a
// conversation (c; nil before one starts), and nothing is journaled.
func (g *Gateway) refuseWhileBehind(to Address, c *conversation) bool {
	if g.accepting() == nil {
		return false
	}
	if c == nil || c.limit.warn(g.clock.Now()) {
		g.send(to, "", behindText)
	}
	return true
}

// Notify sends text to a customer outside any conversation (a callback's
// heads-up, an alert), through the network of to; false when the gateway
// has no such network. Nothing is journaled: it is not a chat line.
func (g *Gateway) Notify(to Address, text string) bool {
	a := g.adapters[to.Network]
	if a == nil || to.User == "" {
		return false
	}
	a.Send(Outbound{To: Address{Network: to.Network, User: to.User}, Text: text})
	return true
}

// Durable calls done once everything the gateway has journaled so far is
// durable: the CTI server acknowledges an agent's chat line (AgentMessage)
// only then. done may run on another goroutine and must not block.
func (g *Gateway) Durable(done func(error)) { g.journal.Durable(done) }

// AgentTyping relays an agent's chat state to the customer.
func (g *Gateway) AgentTyping(agentID string, id pbx.ConnID, state string) error {
	c, _, err := g.chatFor("typing", agentID, id)
	if err != nil {
		return err
	}
	s, ok := ParseChatState(state)
	if !ok || s == StateNone {
		return pbx.Errorf(pbx.Invalid, "imgw: typing: unknown chat state %q (want active, composing, paused, inactive or gone)", state)
	}
	if a := g.adapters[c.addr.Network]; a != nil {
		a.Send(Outbound{To: c.addr, State: s})
	}
	return nil
}

// SupervisorJoin adds a supervisor to a connected chat: it sees the
// conversation so far and every line after, and may write.
func (g *Gateway) SupervisorJoin(agentID string, id pbx.ConnID) error {
	c := g.byConn[id]
	if c == nil || c.phase != phaseConnected {
		return pbx.Errorf(pbx.NotFound, "imgw: join: no connected chat %s", id)
	}
	if c.agent == agentID {
		return pbx.Errorf(pbx.Conflict, "imgw: join: %s already handles chat %s", agentID, id)
	}
	for _, s := range c.supervisors {
		if s == agentID {
			return nil
		}
	}
	c.supervisors = append(c.supervisors, agentID)
	g.deliver(agentID, AgentChat{Type: ChatHistory, ConnID: c.conn, Name: g.customerName(c),
		Time: g.clock.Now(), Lines: append([]Line(nil), c.lines...)})
	g.deliver(c.agent, AgentChat{Type: ChatMessage, ConnID: c.conn, From: "system",
		Text: g.agentName(agentID) + " (supervisor) joined the chat.", Time: g.clock.Now()})
	return nil
}

// DeskLost hands the chats of an agent whose desktop is gone (and did not
// come back) to other agents: each goes back to its queue, conversation
// attached, and the customer is told. A supervisor just leaves.
func (g *Gateway) DeskLost(agentID string) {
	g.later(func() { g.HandOverChats(agentID) })
}

// HandOverChats does what DeskLost does, at once: call it on the domain's
// goroutine, outside tserver's event callbacks (a tserver subscriber calls
// DeskLost instead). When it returns, the agent holds none of its chats.
func (g *Gateway) HandOverChats(agentID string) {
	for id, c := range g.byConn {
		if c.phase == phaseConnected && c.agent == agentID {
			g.say(c, "system", "Your agent was disconnected; another agent will take over. Please wait.")
			if err := g.ts.SingleStepTransfer(id, c.queue); err != nil {
				g.log.Error().Err(err).Str("conversation", c.id).Msg("chat of a lost desk not transferred")
			}
		}
		if i := slices.Index(c.supervisors, agentID); i >= 0 {
			c.supervisors = slices.Delete(c.supervisors, i, i+1)
		}
	}
}

// SupervisorLeave takes a supervisor out of a chat.
func (g *Gateway) SupervisorLeave(agentID string, id pbx.ConnID) error {
	c := g.byConn[id]
	if c == nil {
		return pbx.Errorf(pbx.NotFound, "imgw: leave: no chat %s", id)
	}
	for i, s := range c.supervisors {
		if s == agentID {
			c.supervisors = append(c.supervisors[:i], c.supervisors[i+1:]...)
			return nil
		}
	}
	return pbx.Errorf(pbx.NotFound, "imgw: leave: %s is not in chat %s", agentID, id)
}

// ConversationStatus is one live conversation, for status pages.
type ConversationStatus struct {
	ID       string     `json:"id"`
	Network  string     `json:"network"`
	Phase    string     `json:"phase"`
	ConnID   pbx.ConnID `json:"conn_id,omitzero"`
	Agent    string     `json:"agent,omitempty"`
	Queue    string     `json:"queue,omitempty"`
	Customer string     `json:"customer,omitempty"`
	Client   string     `json:"client,omitempty"`
}

var phaseNames = [...]string{"", "bot", "wait_client", "queued", "connected", "callback", "ended"}

// Conversations lists the live conversations, oldest first.
func (g *Gateway) Conversations() []ConversationStatus {
	out := make([]ConversationStatus, 0, len(g.byUser))
	for _, c := range g.byUser {
		s := ConversationStatus{ID: c.id, Network: c.key.network, Phase: phaseNames[c.phase], ConnID: c.conn, Agent: c.agent, Queue: c.queue}
		if c.customer != nil {
			s.Customer = c.customer.Number
		}
		if fam, ver, ok := g.clientFamily(c); ok {
			s.Client = strings.TrimSpace(fam + " " + ver)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return g.byID[out[i].ID].n < g.byID[out[j].ID].n })
	return out
}

// ConversationID returns the id of the live conversation of the customer
// user on network (the id the CTI events' user data carry as
// "conversation"), if there is one.
func (g *Gateway) ConversationID(network, user string) (string, bool) {
	c := g.byUser[userKey{network, user}]
	if c == nil {
		return "", false
	}
	return c.id, true
}
