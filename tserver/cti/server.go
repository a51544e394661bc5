// Package cti is ccswitch's CTI protocol server: agent desktops,
// supervisors' wallboards and external routers talk to the T-Server over
// WebSocket, in JSON text frames, with T-Server names (RequestAgentLogin,
// RequestAnswerCall, RequestRouteCall, ...; EventRinging, EventEstablished,
// ...). Every request gets exactly one reply carrying its ref: EventACK, or
// EventError with a message and an error kind. A connection may do nothing
// but log in until it has: as one agent (RequestAgentLogin), whose events
// it then receives, or as a user of the center file (RequestLogin, with a
// password or a bearer token) holding roles (supervisor, router, monitor,
// admin); access.go says which roles may make which request. It also
// receives the events of whatever it registered with
// RequestRegisterAddress (a queue, an agent, a route point it routes for,
// or "*"), as its roles allow. Chat requests go to a
// ChatHandler (the IM gateway) and chat events come back with DeliverChat.
// Agents and supervisors monitor customers' combined presence
// (RequestMonitorCustomer, then EventCustomerStatus per change) through a
// CustomerPresence, and callbacks asked for over CTI (RequestCallback) go
// to Callbacks: the callback server's hooks.
//
// The tserver.Server belongs to one clock.Loop: every request runs there,
// and events are copied from the loop to each connection's bounded queue,
// written by the connection's own goroutine. A client too slow to drain its
// queue is disconnected rather than allowed to stall the loop or to miss
// events silently. The package also holds a Go client (Dial), used by tests
// and tools. The protocol is described in README.md.
package cti

import (
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// ChatHandler carries an agent desktop's chat actions to the IM gateway.
// Its methods run on the loop goroutine and must not block. An error
// refuses the request: its pbx kind becomes the EventError's kind (an
// error without a kind reads as internal), and the handler must have
// changed nothing.
type ChatHandler interface {
	// AgentMessage sends text, written by agentID (the interaction's
	// agent or a supervisor who joined it), into chat id.
	AgentMessage(agentID string, id pbx.ConnID, text string) error
	// AgentTyping reports agentID's chat state in chat id: active,
	// composing, paused, inactive or gone.
	AgentTyping(agentID string, id pbx.ConnID, state string) error
	// SupervisorJoin adds supervisor agentID to chat id; from then on the
	// gateway delivers the chat to it too (DeliverChat). A supervisor who
	// is a user, not an agent, comes under its user name (which is no
	// agent's id); AgentMessage and SupervisorLeave then name it so too.
	SupervisorJoin(agentID string, id pbx.ConnID) error
	// SupervisorLeave takes supervisor agentID out of chat id.
	SupervisorLeave(agentID string, id pbx.ConnID) error
}

type nopChat struct{}

func (nopChat) AgentMessage(string, pbx.ConnID, string) error { return errNoChat }
func (nopChat) AgentTyping(string, pbx.ConnID, string) error  { return errNoChat }
func (nopChat) SupervisorJoin(string, pbx.ConnID) error       { return errNoChat }
func (nopChat) SupervisorLeave(string, pbx.ConnID) error      { return errNoChat }

var errNoChat = pbx.Errorf(pbx.Unavailable, "cti: no IM gateway: chat is not available")

// NopChat returns the ChatHandler of a switch without an IM gateway: every
// chat request is refused as unavailable.
func NopChat() ChatHandler { return nopChat{} }

// Config configures a Server.
type Config struct {
	// Loop owns TServer. Required.
	Loop *clock.Loop
	// TServer is the domain the requests act on. Required.
	TServer *tserver.Server
	// Chat receives chat requests; NopChat when nil.
	Chat ChatHandler
	// Customers lets agents and supervisors monitor customers' combined
	// presence (RequestMonitorCustomer); NopCustomerPresence when nil.
	Customers CustomerPresence
	// Callbacks takes RequestCallback; NopCallbacks when nil.
	Callbacks Callbacks
	// MaxCustomerWatches is how many customers one connection may monitor
	// at a time (default 100).
	MaxCustomerWatches int
	// Log receives connection and session logs.
	Log zerolog.Logger
	// Passwords returns the password agentID must give to log in. An
	// agent without one (ok false or "") logs in without a password:
	// keep such a server on a trusted network.
	Passwords func(agentID string) (password string, ok bool)
	// Users is the directory RequestLogin checks passwords and tokens
	// against, and where an agent's roles beyond agent come from (an
	// agent entry's roles: [supervisor]). When nil, only agents log in
	// (RequestAgentLogin), as plain agents, and every request that needs
	// another role is refused: a server without users has no monitors,
	// routers or supervisors.
	Users *auth.Users
	// Throttle counts failed logins (RequestAgentLogin and RequestLogin)
	// per client host and name, and refuses logins past its limits. Give
	// the SIP registrar's, so that failures at either door count
	// together; nil: a throttle of this server's own, on Clock.
	Throttle *auth.Throttle
	// Clock times the logout grace period; its callbacks must run on
	// Loop. clock.NewReal(Loop) when nil.
	Clock clock.Clock
	// LogoutGrace is how long an agent logged in over CTI stays logged in
	// after its last connection dropped, waiting for the desktop to
	// reconnect (default 60s; negative: until RequestAgentLogout).
	LogoutGrace time.Duration
	// MaxMessageBytes is the largest request frame (default 64 KiB).
	// Larger ones, up to 16 times that, are discarded with an EventError;
	// beyond, the connection is closed with status 1009.
	MaxMessageBytes int
	// SendQueue is how many messages may wait for a connection's writer
	// (default 1024). A connection whose queue is full is closed with
	// status 1008 (policy violation).
	SendQueue int
	// WriteTimeout bounds writing one frame (default 10s).
	WriteTimeout time.Duration
	// PingInterval is how often an idle connection is pinged to detect a
	// dead peer (default 30s; negative: never).
	PingInterval time.Duration
	// OriginPatterns lists the browser origins allowed besides the
	// server's own host (see websocket.AcceptOptions).
	OriginPatterns []string
}

// Server serves the CTI protocol over WebSocket. It is an http.Handler.
type Server struct {
	loop *clock.Loop
	ts   *tserver.Server
	chat ChatHandler
	// customers and callbacks: the callback server's hooks.
	customers  CustomerPresence
	callbacks  Callbacks
	maxWatches int
	log        zerolog.Logger
	pw         func(string) (string, bool)
	users      *auth.Users
	throttle   *auth.Throttle
	clock      clock.Clock
	grace      time.Duration
	maxMsg     int
	sendQ      int
	wtime      time.Duration
	ping       time.Duration
	origins    []string

	mu     sync.Mutex
	closed bool
	live   map[*conn]struct{}
	wg     sync.WaitGroup

	// Owned by the loop.
	st loopState
}

// ReasonDisconnected is the not-ready reason of an agent whose desktop
// went away with work in hand and did not come back within the grace
// period (tserver.ReasonDeskLost: the IM gateway hands such chats to
// somebody else).
const ReasonDisconnected = tserver.ReasonDeskLost

// Default configuration values.
const (
	DefaultLogoutGrace     = 60 * time.Second
	DefaultMaxMessageBytes = 64 << 10
	DefaultSendQueue       = 1024
	DefaultWriteTimeout    = 10 * time.Second
	DefaultPingInterval    = 30 * time.Second
)

// NewServer returns a CTI server for cfg.TServer. It subscribes to the
// T-Server's events on the loop (it posts that work, so the loop need not
// run yet). Close it before the loop stops.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Loop == nil {
		return nil, pbx.Errorf(pbx.Invalid, "cti: no loop")
	}
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Loop.Post(s.start)
	return s, nil
}

// newServer builds a server without posting anything: tests that own the
// T-Server's goroutine call start themselves.
func newServer(cfg Config) (*Server, error) {
	if cfg.TServer == nil {
		return nil, pbx.Errorf(pbx.Invalid, "cti: no tserver")
	}
	s := &Server{
		loop: cfg.Loop, ts: cfg.TServer, chat: cfg.Chat, log: cfg.Log, pw: cfg.Passwords,
		customers: cfg.Customers, callbacks: cfg.Callbacks, maxWatches: cfg.MaxCustomerWatches,
		users: cfg.Users, throttle: cfg.Throttle,
		clock: cfg.Clock, grace: cfg.LogoutGrace, maxMsg: cfg.MaxMessageBytes, sendQ: cfg.SendQueue,
		wtime: cfg.WriteTimeout, ping: cfg.PingInterval, origins: cfg.OriginPatterns,
		live: map[*conn]struct{}{},
	}
	if s.chat == nil {
		s.chat = NopChat()
	}
	if s.customers == nil {
		s.customers = NopCustomerPresence()
	}
	if s.callbacks == nil {
		s.callbacks = NopCallbacks()
	}
	if s.maxWatches <= 0 {
		s.maxWatches = DefaultMaxCustomerWatches
	}
	if s.pw == nil {
		s.pw = func(string) (string, bool) { return "", false }
	}
	if s.clock == nil {
		if cfg.Loop == nil {
			return nil, pbx.Errorf(pbx.Invalid, "cti: no clock and no loop")
		}
		s.clock = clock.NewReal(cfg.Loop)
	}
	if s.throttle == nil {
		s.throttle = auth.NewThrottle(s.clock.Now)
	}
	if s.grace == 0 {
		s.grace = DefaultLogoutGrace
	}
	if s.maxMsg <= 0 {
		s.maxMsg = DefaultMaxMessageBytes
	}
	if s.sendQ <= 0 {
		s.sendQ = DefaultSendQueue
	}
	if s.wtime <= 0 {
		s.wtime = DefaultWriteTimeout
	}
	if s.ping == 0 {
		s.ping = DefaultPingInterval
	}
	s.st.init()
	return s, nil
}

// ServeHTTP upgrades the request to a WebSocket and serves the CTI
// protocol on it until either side closes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "cti: server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	cw := &corkWriter{ResponseWriter: w, timeout: s.wtime}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: s.origins,
	})
	if err != nil {
		s.log.Debug().Err(err).Str("remote", r.RemoteAddr).Msg("cti: websocket handshake failed")
		return
	}
	c := s.newConn(ws, r.RemoteAddr)
	c.cork = cw.conn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.live[c] = struct{}{}
	s.mu.Unlock()
	s.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Msg("cti: connected")

	c.serve()

	s.mu.Lock()
	delete(s.live, c)
	s.mu.Unlock()
	s.loop.Post(func() { s.detach(c) })
	s.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Str("why", c.why()).Msg("cti: disconnected")
}

// Close disconnects every client (status 1001) and waits for their
// goroutines. Agents stay logged in: a server shutting down logs nobody
// out. Close is meant to be called while the loop still runs; it does not
// wait for the loop.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Queued ahead of the connections' detach work, so that closing them
	// starts no logout grace period.
	s.loop.Post(s.stop)
	for _, c := range conns {
		c.kill(websocket.StatusGoingAway, "server shutting down")
	}
	s.wg.Wait()
}

// DeliverChat pushes a chat event to agentID's desktop(s). It runs on the
// loop and never blocks: the event is queued on each of the agent's
// connections. While the agent's desktop is away within the logout grace
// period the event is kept and delivered when it reconnects (up to half
// of SendQueue events; older ones are dropped and counted in the login
// reply's missed). It returns an Unavailable error when agentID has no CTI
// session at all (its desktop never logged in, or logged out): the gateway
// keeps the line in the transcript or ends the chat. It returns an Invalid
// error for an unknown event type. m.Lines is copied.
func (s *Server) DeliverChat(agentID string, m ChatEvent) error {
	if !m.Type.valid() {
		return pbx.Errorf(pbx.Invalid, "cti: deliver chat: unknown event type %q", m.Type)
	}
	ss := s.st.sessions[agentID]
	if ss == nil {
		return pbx.Errorf(pbx.Unavailable, "cti: deliver chat: agent %s has no CTI session", agentID)
	}
	if m.Time.IsZero() {
		m.Time = s.ts.Now()
	}
	m.Lines = append([]ChatLine(nil), m.Lines...)
	s.st.stamp++
	s.deliverSession(ss, &m)
	return nil
}
