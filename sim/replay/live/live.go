// Package live drives a running `ccswitch serve` with a replay script:
// agents through CTI (each logs in with the password the center file
// gives it), their phones and the callers through SIP (sipgo; or the
// callers through a SIPp process each, sipp.go), web chat
// customers through the web chat's WebSocket, XMPP chat customers
// through an XMPP server's client port (mellium.im/xmpp), callbacks
// through the REST API as the CRM does, customers' softphones and
// numbers on its SIP user agent (phones.go), and it
// watches the CTI event stream of a monitor user (or, when the center
// has none, the agents' own sessions) on the wall clock. It implements
// replay.Center; sim/replay keeps no network code.
package live

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/sim/replay"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// Config says where the running center is.
type Config struct {
	// HTTP is serve's HTTP address (host:port): its CTI is at /cti.
	HTTP string
	// SIP is serve's SIP UDP address (host:port); empty: the script may
	// place no calls and agents have no phones.
	SIP string
	// Slack stretches the end of the replay (the expectations' within
	// are stretched by replay.Script.Slack).
	Slack time.Duration
	// XMPP is the client-to-server address (host:port) of the XMPP server
	// where the script's XMPP customers log in; empty: the script may
	// have no XMPP chats or presence.
	XMPP string
	// XMPPPasswords is the path of the customers' passwords file: one
	// "JID PASSWORD" per line, "*" as the JID for every other.
	XMPPPasswords string
	// Getenv reads a monitor's token_env (os.Getenv when nil).
	Getenv func(string) string
	// SIPListen is the replay's own SIP UDP address (host:port), where
	// the switch reaches the customers' phones: serve's --trunk points at
	// it for numbers. Empty: the local address facing the switch, any
	// port.
	SIPListen string
	// Callers says what places the script's voice calls: "sipgo" (or
	// empty) the replay's own SIP user agent, "sipp" a SIPp process per
	// call (sipp.go). Needs SIP.
	Callers string
	// SIPp is the sipp binary for Callers "sipp" (default: sipp in PATH).
	SIPp string
}

// Center is a running serve driven by a script. Play, QueueStats and
// AgentState belong to one goroutine; Close ends what it started.
type Center struct {
	s   *replay.Script
	rec *replay.Record
	cfg Config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the CTI readers and the callers
	start  time.Time

	watcher *cti.Client // the monitor's session; nil: the agents' sessions are the stream
	agents  map[string]*agent

	// The SIP side: one user agent for the callers and the agents'
	// phones, on one UDP socket.
	sipConn      net.PacketConn
	ua           *sipgo.UserAgent
	cli          *sipgo.Client
	srv          *sipgo.Server
	in           *sipgo.DialogServerCache
	out          *sipgo.DialogClientCache
	host         string
	port         int
	switchURI    sip.Uri
	phoneNumbers map[string]*agent // by number

	mu      sync.Mutex
	names   map[pbx.ConnID]string
	callIDs map[string]string // the callers' SIP Call-IDs -> call names
	seen    map[string]bool   // frames recorded, when agents' sessions are the stream
	calls   map[string]*caller
	late    []lateError // what went wrong off the Play goroutine
	over    bool        // Play has returned: nothing more is recorded

	// The web chat customers. An IM interaction is bound to a chat by its
	// conversation id (the events' user data); the first time one is
	// seen, it is the chat that last spoke among those not bound yet
	// (unbound, oldest first), since the center routes a chat when its
	// customer answers the bot.
	chats      map[string]*chatter
	convs      map[string]string // conversation id -> chat name
	unbound    []string
	boundChats map[string]bool
	sipChats   map[string]*chatter // SIP chats by the Contact user the switch writes to

	// The external routers: one CTI session with the router user's
	// token, registered for the route points the script routes.
	router *cti.Client
	routes map[string]*route // by route point (under mu)

	closing bool // Close has begun: no timer starts (under mu)

	// The callbacks the script requests and the customers' phones.
	callbacks      *callbackSide
	customerPhones map[string]*customerPhone
	xmpp           *xmppSide     // nil: the script has no XMPP customers
	watch          *presenceSide // nil: the script names no customer's presence
	sipp           *sippSide     // nil: sipgo places the calls

	rtpLegs []*rtpLeg // the answered legs' media, in answer order (under mu)
}

var _ replay.Center = (*Center)(nil)

type lateError struct {
	a   *replay.Action
	err error
}

// agent is an agent's CTI session and phone.
type agent struct {
	id, number, password string
	cli                  *cti.Client
	phone                bool           // it registered a phone (written under Center.mu)
	ringing              []*offer       // the phone's offers, oldest first (under Center.mu)
	hand                 []held         // interactions at the agent, from its CTI events (under Center.mu)
	auto                 *replay.Action // its auto_answer, nil when manual (under Center.mu)
}

// offer is an INVITE ringing on an agent's phone. Its handler waits
// until the script answers or rejects it (decided) or the switch cancels
// it: sipgo ends the transaction when the handler returns.
type offer struct {
	dlg     *sipgo.DialogServerSession
	tx      sip.ServerTransaction
	decided chan struct{}
}

type held struct {
	id    pbx.ConnID
	state string // ringing, established, held
}

// caller is a voice caller's dialog.
type caller struct {
	dlg      *sipgo.DialogClientSession
	rtp      net.PacketConn
	cancel   context.CancelFunc
	answered chan struct{} // closed when the switch answered
}

// New connects to the center for script s, reporting to rec: the monitor
// logs in now (a wrong token is an error before the script starts).
func New(ctx context.Context, s *replay.Script, rec *replay.Record, cfg Config) (*Center, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if err := refuseUnsupported(s, cfg); err != nil {
		return nil, err
	}
	c := &Center{s: s, rec: rec, cfg: cfg, agents: map[string]*agent{}, phoneNumbers: map[string]*agent{},
		names: map[pbx.ConnID]string{}, callIDs: map[string]string{}, seen: map[string]bool{}, calls: map[string]*caller{},
		chats: map[string]*chatter{}, convs: map[string]string{}, boundChats: map[string]bool{},
		sipChats: map[string]*chatter{}, routes: map[string]*route{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, a := range s.Center.ExpandAgents() {
		ag := &agent{id: a.ID, number: a.Number, password: a.Password}
		c.agents[a.ID] = ag
		if a.Number != "" {
			c.phoneNumbers[a.Number] = ag
		}
	}
	token, err := userToken(s, cfg.Getenv, "monitor")
	if err != nil {
		return nil, err
	}
	if token != "" {
		w, err := c.dialCTI(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := w.LoginToken(ctx, token); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("live: the monitor's CTI login: %w", err)
		}
		if err := w.Register(ctx, "*"); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("live: the monitor watching everything: %w", err)
		}
		c.watcher = w
	}
	if err := c.openPresence(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.openCallbacks(); err != nil {
		c.Close()
		return nil, err
	}
	c.openPhones()
	if err := c.openXMPP(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.openRouter(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.SIP != "" {
		if err := c.openSIP(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.openSIPp(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// refuseUnsupported names the first action live mode cannot do yet, or
// cannot do with cfg and the script's center.
func refuseUnsupported(s *replay.Script, cfg Config) error {
	for _, a := range s.Actions {
		var what, needs string
		switch a.Kind {
		case replay.ChatAction:
			switch a.Network {
			case "", "webchat":
			case "xmpp":
				needs = xmppNeeds(s, cfg, "chat "+a.Chat+" on network xmpp")
			case "sip":
				if cfg.SIP == "" {
					needs = "chat " + a.Chat + " on network sip needs the switch's SIP address (--sip)"
				}
			default:
				what = "chats on network " + a.Network + " (chat " + a.Chat + "; only webchat, xmpp and sip)"
			}
		case replay.PresenceAction:
			if a.Network != "xmpp" {
				what = "presence on network " + a.Network + " (only xmpp)"
			} else {
				needs = xmppNeeds(s, cfg, "presence of "+a.Presence)
			}
		}
		if what != "" {
			return fmt.Errorf("%s:%d: script[%d]: --live cannot replay %s yet", s.Path, a.Line, a.Index, what)
		}
		if needs != "" {
			return fmt.Errorf("%s:%d: script[%d]: --live: %s", s.Path, a.Line, a.Index, needs)
		}
	}
	return nil
}

// xmppNeeds says what an XMPP customer's action (what) lacks: --xmpp,
// --xmpp-passwords, an XMPP network in the center; "" when nothing.
func xmppNeeds(s *replay.Script, cfg Config, what string) string {
	switch {
	case cfg.XMPP == "":
		return what + " needs --xmpp HOST:PORT (the XMPP server's client address, where the customer logs in)"
	case cfg.XMPPPasswords == "":
		return what + " needs --xmpp-passwords FILE (the customers' account passwords)"
	case s.Center == nil || s.Center.IM == nil || len(s.Center.IM.Networks.XMPP) == 0:
		return what + ": the center " + s.CenterPath + " has no im.networks.xmpp (the customer writes to support@ its domain)"
	}
	return ""
}

func (c *Center) dialCTI(ctx context.Context) (*cti.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cti.Dial(dctx, "ws://"+c.cfg.HTTP+"/cti")
}

// openSIP starts the user agent of the callers and phones.
func (c *Center) openSIP() error {
	host, portStr, err := net.SplitHostPort(c.cfg.SIP)
	if err != nil {
		return fmt.Errorf("live: --sip %s: %w", c.cfg.SIP, err)
	}
	port, _ := strconv.Atoi(portStr)
	c.switchURI = sip.Uri{Scheme: "sip", Host: host, Port: port}
	// The local address facing the switch.
	probe, err := net.Dial("udp", c.cfg.SIP)
	if err != nil {
		return fmt.Errorf("live: --sip %s: %w", c.cfg.SIP, err)
	}
	local := probe.LocalAddr().(*net.UDPAddr).IP.String()
	_ = probe.Close()
	listen := net.JoinHostPort(local, "0")
	if c.cfg.SIPListen != "" {
		listen = c.cfg.SIPListen
	}
	if c.sipConn, err = net.ListenPacket("udp", listen); err != nil {
		return fmt.Errorf("live: sip: %w", err)
	}
	local = c.sipConn.LocalAddr().(*net.UDPAddr).IP.String()
	c.host = local
	c.port = c.sipConn.LocalAddr().(*net.UDPAddr).Port
	if c.ua, err = sipgo.NewUA(sipgo.WithUserAgent("ccswitch-replay"), sipgo.WithUserAgentHostname(local)); err != nil {
		return fmt.Errorf("live: sip: %w", err)
	}
	if c.srv, err = sipgo.NewServer(c.ua); err != nil {
		return fmt.Errorf("live: sip: %w", err)
	}
	if c.cli, err = sipgo.NewClient(c.ua, sipgo.WithClientHostname(local), sipgo.WithClientConnectionAddr(c.sipConn.LocalAddr().String())); err != nil {
		return fmt.Errorf("live: sip: %w", err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "replay", Host: local, Port: c.port}}
	c.in = sipgo.NewDialogServerCache(c.cli, contact)
	c.out = sipgo.NewDialogClientCache(c.cli, contact)
	c.srv.OnInvite(c.onInvite)
	c.srv.OnMessage(c.onSIPMessage)
	c.srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { _ = c.in.ReadAck(req, nil) })
	c.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if c.in.ReadBye(req, tx) == nil || c.out.ReadBye(req, tx) == nil {
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	})
	// The client sends from the server's socket only once the server
	// serves it (sipgo pools the socket, then reads): before, it would
	// bind the same address again and fail. The server's first read says
	// it is pooled.
	pc := &servedConn{PacketConn: c.sipConn, serving: make(chan struct{})}
	c.wg.Go(func() { _ = c.srv.ServeUDP(pc) })
	select {
	case <-pc.serving:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("live: sip: the user agent did not start serving %s", c.sipConn.LocalAddr())
	}
}

// servedConn is a socket that says when it is first read from.
type servedConn struct {
	net.PacketConn
	once    sync.Once
	serving chan struct{}
}

func (s *servedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	s.once.Do(func() { close(s.serving) })
	return s.PacketConn.ReadFrom(p)
}

// onInvite: the switch rings an agent's phone. It rings until the script
// answers or rejects, or the switch gives up (CANCEL).
func (c *Center) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if c.customerInvite(req, tx) {
		return
	}
	a := c.phoneNumbers[req.Recipient.User]
	c.mu.Lock()
	registered := a != nil && a.phone
	c.mu.Unlock()
	if !registered {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	}
	dlg, err := c.in.ReadInvite(req, tx)
	if err != nil {
		return
	}
	if err := dlg.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		return
	}
	o := &offer{dlg: dlg, tx: tx, decided: make(chan struct{})}
	c.mu.Lock()
	a.ringing = append(a.ringing, o)
	c.autoAnswerPhoneLocked(a, o)
	c.mu.Unlock()
	select {
	case <-o.decided:
	case <-tx.Done():
	case <-c.ctx.Done():
	}
}

// register registers agent a's phone (its number, digest with its
// password) at the switch, for expires seconds.
func (c *Center) register(ctx context.Context, a *agent, expires int) error {
	return c.registerUser(ctx, a.number, a.password, expires)
}

// registerUser registers SIP user (digest with password) at the switch
// on the replay's address, for expires seconds (0: unregisters).
func (c *Center) registerUser(ctx context.Context, user, password string, expires int) error {
	to := c.switchURI
	to.User = user
	req := sip.NewRequest(sip.REGISTER, to)
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s@%s>", user, net.JoinHostPort(c.host, strconv.Itoa(c.port)))))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.cli.Do(rctx, req, sipgo.ClientRequestRegisterBuild)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		res, err = c.cli.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	}
	if err != nil {
		return fmt.Errorf("phone %s: REGISTER: %w", user, err)
	}
	if res.StatusCode != sip.StatusOK {
		return fmt.Errorf("phone %s: REGISTER: %d %s", user, res.StatusCode, res.Reason)
	}
	return nil
}

// Play implements replay.Center: each action at its time on the wall
// clock, then it waits for the end (and the slack).
func (c *Center) Play(actions []replay.Action, end time.Duration, failed func(a *replay.Action, err error)) {
	order := make([]int, len(actions))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return int(actions[i].At - actions[j].At) })
	c.start = time.Now()
	if c.watcher != nil {
		c.watcher.Discard()
		c.read(c.watcher, nil)
	}
	c.watchPresence()
	for _, i := range order {
		a := &actions[i]
		if !c.sleepUntil(a.At) {
			break
		}
		if err := c.do(a); err != nil {
			failed(a, err)
		}
	}
	c.sleepUntil(end + c.cfg.Slack)
	if err := c.collectCallbacks(); err != nil {
		failed(&replay.Action{Index: -1, At: end}, err)
	}
	c.mu.Lock()
	c.over = true // the record is the runner's now
	late := c.late
	c.late = nil
	c.mu.Unlock()
	for _, l := range late {
		failed(l.a, l.err)
	}
}

func (c *Center) sleepUntil(at time.Duration) bool {
	d := time.Until(c.start.Add(at))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// read records client cl's events until the center closes; a is the
// agent whose session it is (nil: the monitor).
func (c *Center) read(cl *cti.Client, a *agent) {
	c.wg.Go(func() {
		for {
			m, err := cl.Next(c.ctx)
			if err != nil {
				return
			}
			c.onMessage(m, a)
		}
	})
}

func (c *Center) onMessage(m cti.Message, a *agent) {
	at := time.Since(c.start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if a != nil && m.ConnID != 0 && m.AgentID == a.id {
		offered := m.Event == "EventRinging" && !slices.ContainsFunc(a.hand, func(h held) bool { return h.id == m.ConnID })
		a.track(m)
		if offered {
			c.autoAnswerDeskLocked(a, m)
		}
	}
	typ, ok := tserver.ParseEventType(m.Event)
	if !ok || a != nil && c.watcher != nil || c.over {
		return
	}
	if c.watcher == nil {
		// Several agents may see one event.
		k := string(m.Raw)
		if c.seen[k] {
			return
		}
		c.seen[k] = true
	}
	o := replay.Observed{At: at, Type: typ, Agent: m.AgentID, Queue: m.Queue, Reason: m.Reason, DNIS: m.DNIS}
	if m.ConnID != 0 {
		name, ok := c.names[m.ConnID]
		if !ok {
			cid, isCall := m.UserData.Get("sip_call_id")
			if isCall {
				name, ok = c.callIDs[cid]
			}
			if cbID, has := m.UserData.Get("callback_id"); has && !ok {
				name, ok = c.callbackName(cbID)
			} else if conv, has := m.UserData.Get("conversation"); has {
				if name, ok = c.convs[conv]; !ok && len(c.unbound) > 0 {
					name, ok = c.unbound[len(c.unbound)-1], true
					c.unbound = c.unbound[:len(c.unbound)-1]
					c.convs[conv] = name
					c.boundChats[name] = true
				}
			}
			if ok {
				c.names[m.ConnID] = name
			}
		}
		if !ok {
			name = "#" + m.ConnID.String()
		}
		o.Interaction = name
	}
	c.rec.Events = append(c.rec.Events, o)
}

// track follows the interactions at agent a from its own events.
func (a *agent) track(m cti.Message) {
	i := slices.IndexFunc(a.hand, func(h held) bool { return h.id == m.ConnID })
	switch m.Event {
	case "EventRinging":
		if i < 0 {
			a.hand = append(a.hand, held{id: m.ConnID, state: "ringing"})
		}
	case "EventEstablished", "EventRetrieved", "EventHeld":
		st := "established"
		if m.Event == "EventHeld" {
			st = "held"
		}
		if i < 0 {
			a.hand = append(a.hand, held{id: m.ConnID, state: st})
		} else {
			a.hand[i].state = st
		}
	case "EventReleased", "EventAbandoned", "EventDiverted":
		if i >= 0 {
			a.hand = slices.Delete(a.hand, i, i+1)
		}
	}
}

func (c *Center) do(a *replay.Action) error {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	switch a.Kind {
	case replay.AgentAction:
		return c.agentDo(ctx, a)
	case replay.CallAction:
		if a.Do == "hangup" {
			return c.hangup(ctx, a)
		}
		return c.call(ctx, a)
	case replay.ChatAction:
		return c.chat(ctx, a)
	case replay.RouterAction:
		return c.routerDo(ctx, a)
	case replay.CallbackAction:
		return c.requestCallback(ctx, a)
	case replay.PhoneAction:
		return c.phoneDo(ctx, a)
	case replay.PresenceAction:
		return c.presence(ctx, a)
	}
	return fmt.Errorf("--live cannot replay this action yet")
}

// call places a caller's call: INVITE a.To at the switch, ACK its answer.
func (c *Center) call(ctx context.Context, a *replay.Action) error {
	if c.ua == nil {
		return errors.New("a call needs the switch's SIP address (--sip)")
	}
	if c.sipp != nil {
		return c.callSIPp(a)
	}
	if c.calls[a.Call] != nil {
		return fmt.Errorf("call %s was placed already", a.Call)
	}
	rtp, err := net.ListenPacket("udp", net.JoinHostPort(c.host, "0"))
	if err != nil {
		return err
	}
	sdp := media.BuildSDP(rand.Uint64()>>1, c.host, rtp.LocalAddr().(*net.UDPAddr).Port, []media.Codec{media.PCMU}, media.SendRecv)
	to := c.switchURI
	to.User = a.To
	from := a.From
	if from == "" {
		from = "anonymous"
	}
	fromHdr := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: c.host, Port: c.port}, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	callID := sip.CallIDHeader("replay-" + a.Call + "-" + sip.GenerateTagN(12))
	c.mu.Lock()
	c.callIDs[string(callID)] = a.Call
	c.mu.Unlock()
	cctx, ccancel := context.WithCancel(c.ctx)
	dlg, err := c.out.Invite(ctx, to, sdp, sip.NewHeader("Content-Type", "application/sdp"), fromHdr, &callID)
	if err != nil {
		ccancel()
		_ = rtp.Close()
		return fmt.Errorf("INVITE %s: %w", a.To, err)
	}
	cl := &caller{dlg: dlg, rtp: rtp, cancel: ccancel, answered: make(chan struct{})}
	c.calls[a.Call] = cl
	c.wg.Go(func() {
		if err := dlg.WaitAnswer(cctx, sipgo.AnswerOptions{}); err != nil {
			if cctx.Err() == nil {
				c.lateError(a, fmt.Errorf("call %s: %w", a.Call, err))
			}
			return
		}
		if err := dlg.Ack(cctx); err != nil {
			c.lateError(a, fmt.Errorf("call %s: ACK: %w", a.Call, err))
			return
		}
		close(cl.answered)
		if err := c.startRTP("call "+a.Call, rtp, dlg.InviteResponse.Body(), dlg.Context()); err != nil {
			c.lateError(a, err)
		}
	})
	return nil
}

func (c *Center) lateError(a *replay.Action, err error) {
	c.mu.Lock()
	c.late = append(c.late, lateError{a, err})
	c.mu.Unlock()
}

// hangup ends a caller's call: BYE once answered, else CANCEL.
func (c *Center) hangup(ctx context.Context, a *replay.Action) error {
	if c.sipp != nil {
		return c.hangupSIPp(a)
	}
	cl := c.calls[a.Call]
	if cl == nil {
		return fmt.Errorf("call %s was never placed", a.Call)
	}
	select {
	case <-cl.answered:
		if st := cl.dlg.LoadState(); st == sip.DialogStateEnded {
			return fmt.Errorf("call %s is over already", a.Call)
		}
		if err := cl.dlg.Bye(ctx); err != nil {
			return fmt.Errorf("call %s: BYE: %w", a.Call, err)
		}
	default:
		cl.cancel() // WaitAnswer sends CANCEL
	}
	return nil
}

// session returns agent a's CTI session, logging it in first.
func (c *Center) session(ctx context.Context, a *agent) (*cti.Client, error) {
	if a.cli != nil {
		return a.cli, nil
	}
	cl, err := c.dialCTI(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cl.Login(ctx, a.id, "", a.password); err != nil {
		_ = cl.Close()
		return nil, err
	}
	a.cli = cl
	c.read(cl, a)
	return cl, nil
}

// usesPhone reports whether agent a answers calls on a SIP phone: the
// center gives it a password and the replay has the switch's SIP address.
func (c *Center) usesPhone(a *agent) bool { return c.ua != nil && a.password != "" && a.number != "" }

func (c *Center) agentDo(ctx context.Context, act *replay.Action) error {
	a := c.agents[act.Agent]
	switch act.Do {
	case "auto_answer":
		c.setAutoAnswer(a, act)
		return nil
	case "manual":
		c.setAutoAnswer(a, nil)
		return nil
	case "login_ready", "login":
		if a.cli != nil {
			return fmt.Errorf("agent %s is logged in already", a.id)
		}
		cl, err := c.session(ctx, a)
		if err != nil {
			return err
		}
		if c.usesPhone(a) && !a.phone {
			c.mu.Lock()
			a.phone = true
			c.mu.Unlock()
			if err := c.register(ctx, a, 3600); err != nil {
				return err
			}
		}
		if act.Do == "login_ready" {
			return cl.Ready(ctx)
		}
		return nil
	}
	if a.cli == nil {
		return fmt.Errorf("agent %s has no CTI session (log it in first)", a.id)
	}
	switch act.Do {
	case "ready":
		return a.cli.Ready(ctx)
	case "not_ready":
		return a.cli.NotReady(ctx, act.Reason)
	case "logout":
		return a.cli.Logout(ctx)
	case "answer", "reject":
		if c.phoneRinging(a) {
			return c.phoneAnswer(act, a)
		}
	}
	var states []string
	switch {
	case len(act.Say) > 0:
		states = []string{"established"}
	case act.Do == "answer" || act.Do == "reject":
		states = []string{"ringing"}
	case act.Do == "hold":
		states = []string{"established"}
	case act.Do == "retrieve":
		states = []string{"held"}
	default: // release, transfer
		states = []string{"established", "held"}
	}
	id, err := c.pick(a, act, states)
	if err != nil {
		return err
	}
	if len(act.Say) > 0 {
		return a.cli.ChatSend(ctx, id, act.Say[0])
	}
	switch act.Do {
	case "answer":
		return a.cli.Answer(ctx, id)
	case "reject":
		return a.cli.Reject(ctx, id, act.Reason)
	case "hold":
		return a.cli.Hold(ctx, id)
	case "retrieve":
		return a.cli.Retrieve(ctx, id)
	case "transfer":
		return a.cli.Transfer(ctx, id, act.Target)
	}
	return a.cli.Release(ctx, id)
}

// phoneRinging reports whether a call rings on agent a's phone (else a
// chat ringing on its desktop is answered over CTI).
func (c *Center) phoneRinging(a *agent) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range a.ringing {
		select {
		case <-o.tx.Done():
		default:
			return true
		}
	}
	return false
}

// takeRinging takes the oldest offer of queue that still rings (those
// the switch gave up on are dropped); nil when none does. The caller
// holds Center.mu.
func takeRinging(queue *[]*offer) *offer {
	for len(*queue) > 0 {
		x := (*queue)[0]
		*queue = (*queue)[1:]
		select {
		case <-x.tx.Done():
		default:
			return x
		}
	}
	return nil
}

// phoneAnswer answers (200 with an SDP) or rejects (486, or 603 with a
// reason) the oldest call ringing on agent a's phone.
func (c *Center) phoneAnswer(act *replay.Action, a *agent) error {
	if act.Interaction != "" {
		return fmt.Errorf("--live cannot yet answer a named interaction (%s) on agent %s's phone", act.Interaction, a.id)
	}
	c.mu.Lock()
	o := takeRinging(&a.ringing)
	c.mu.Unlock()
	if o == nil {
		return fmt.Errorf("agent %s has no call ringing on its phone", a.id)
	}
	defer close(o.decided)
	dlg := o.dlg
	if act.Do == "reject" {
		if act.Reason != "" {
			return dlg.Respond(sip.StatusGlobalDecline, "Decline", nil)
		}
		return dlg.Respond(sip.StatusBusyHere, "Busy Here", nil)
	}
	return c.answerOffer(o, "agent "+a.id+"'s phone")
}

// pick finds the interaction an agent's CTI action is for.
func (c *Center) pick(a *agent, act *replay.Action, states []string) (pbx.ConnID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []pbx.ConnID
	for _, h := range a.hand {
		if !slices.Contains(states, h.state) {
			continue
		}
		if act.Interaction != "" && c.names[h.id] != act.Interaction {
			continue
		}
		found = append(found, h.id)
	}
	switch {
	case len(found) == 0 && act.Interaction != "":
		return 0, fmt.Errorf("%s is not %s at agent %s", act.Interaction, states[0], a.id)
	case len(found) == 0:
		return 0, fmt.Errorf("agent %s has no interaction that is %s", a.id, states[0])
	case len(found) > 1 && states[0] != "ringing":
		return 0, fmt.Errorf("agent %s has %d interactions: name one with interaction", a.id, len(found))
	}
	return found[0], nil
}

// asker is a CTI session that may ask about queues and agents.
func (c *Center) asker() *cti.Client {
	if c.watcher != nil {
		return c.watcher
	}
	for _, a := range c.s.Center.ExpandAgents() {
		if ag := c.agents[a.ID]; ag.cli != nil {
			return ag.cli
		}
	}
	return nil
}

// QueueStats implements replay.Center, over CTI (RequestQueryQueue).
func (c *Center) QueueStats(queue string) (tserver.QueueStats, error) {
	cl := c.asker()
	if cl == nil {
		return tserver.QueueStats{}, errors.New("no CTI session to ask about queue " + queue + " (no monitor user, no agent logged in)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qs, err := cl.QueryQueue(ctx, queue)
	if err != nil {
		return tserver.QueueStats{}, err
	}
	for _, q := range qs {
		if q.Name == queue {
			return q.Stats, nil
		}
	}
	return tserver.QueueStats{}, fmt.Errorf("the center has no queue %s", queue)
}

// AgentState implements replay.Center, over CTI (RequestQueryAgent).
func (c *Center) AgentState(id string) (tserver.AgentState, error) {
	cl := c.watcher
	if cl == nil {
		if a := c.agents[id]; a != nil {
			cl = a.cli
		}
	}
	if cl == nil {
		return 0, fmt.Errorf("no CTI session to ask agent %s's state (no monitor user, and the script never logged it in)", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := cl.QueryAgent(ctx, id)
	if err != nil {
		return 0, err
	}
	for s := tserver.AgentState(0); s < 6; s++ {
		if s.String() == info.State {
			return s, nil
		}
	}
	return 0, fmt.Errorf("agent %s: unknown state %q", id, info.State)
}

// Close hangs up the calls still up, unregisters the phones, logs the
// agents out and closes every session (CTI, SIP, XMPP), then waits for
// its goroutines.
func (c *Center) Close() {
	c.closeSIPp()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cl := range c.calls {
		select {
		case <-cl.answered:
			if cl.dlg.LoadState() != sip.DialogStateEnded {
				_ = cl.dlg.Bye(ctx)
			}
		default:
		}
	}
	if c.ua != nil {
		c.unregisterPhones(ctx)
	}
	for _, a := range c.agents {
		if a.phone {
			_ = c.register(ctx, a, 0)
		}
		if a.cli != nil {
			_ = a.cli.Logout(ctx)
		}
	}
	c.closeRouter(ctx)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	for _, cl := range c.calls {
		cl.cancel()
		_ = cl.rtp.Close()
	}
	for _, a := range c.agents {
		if a.cli != nil {
			_ = a.cli.Close()
		}
	}
	if c.watcher != nil {
		_ = c.watcher.Close()
	}
	if c.watch != nil && c.watch.cli != nil {
		_ = c.watch.cli.Close()
	}
	if c.ua != nil {
		_ = c.ua.Close()
	}
	if c.sipConn != nil {
		_ = c.sipConn.Close()
	}
	c.closeXMPP()
	c.wg.Wait()
}
