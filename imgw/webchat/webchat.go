// Package webchat is the IM gateway's own network: a web chat the center
// serves over WebSocket, for customers redirected to the center instead of
// writing from an IM network (the seed's second hosting mode). A visitor
// gets a signed key on the first connection and keeps the conversation
// across reconnects and tabs with it; messages sent while no tab is open
// wait in a bounded outbox. The browser's user agent is reported as the
// client software.
//
// A page of the company's site where the customer is logged in may open
// the chat with a signed hand-off token (imgw.SignHandoff):
// /?identity=TOKEN, which the page passes on to the WebSocket as
// ws?identity=TOKEN. Every message of that connection carries it to the
// gateway (imgw.Inbound.Identity), which verifies it. A visitor key is a
// browser's bearer key, not an account: the web chat does not
// authenticate users (it is no imgw.UserAuthenticator), so a visitor is
// never verified by a link, only by a token or the bot's question.
package webchat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
)

// Network is the name of this adapter's network.
const Network = "webchat"

//go:embed page
var page embed.FS

// Config configures the web chat.
type Config struct {
	// Receiver gets the visitors' messages (the gateway).
	Receiver imgw.Receiver
	Log      zerolog.Logger
	// MaxFrameBytes bounds one frame from a browser (default 16 KiB);
	// a larger one closes the connection.
	MaxFrameBytes int64
	// Outbox bounds the messages kept for a visitor with no open tab
	// (default 100; the oldest go first).
	Outbox int
	// Secret signs visitor keys (random when empty: keys then last as
	// long as the process).
	Secret []byte
	// OriginPatterns lists the other origins allowed to open the
	// WebSocket (the page's own origin always is).
	OriginPatterns []string
}

// Server serves the web chat page and its WebSocket, and is the
// imgw.Adapter of the web chat network.
type Server struct {
	cfg      Config
	mu       sync.Mutex
	visitors map[string]*visitor
	nextConn uint64
	closed   bool
	// changed is closed and replaced whenever a tab attaches or detaches.
	changed chan struct{}
}

type visitor struct {
	conns  map[uint64]chan frame
	outbox []frame
}

// frame is one JSON message on the WebSocket, both ways.
type frame struct {
	// Type is "welcome" (server: the visitor's key), "message" (both
	// ways), "typing" (both ways) or "error" (server).
	Type    string    `json:"type"`
	Visitor string    `json:"visitor,omitempty"`
	Text    string    `json:"text,omitempty"`
	State   string    `json:"state,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// New returns a web chat server.
func New(cfg Config) *Server {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 16 << 10
	}
	if cfg.Outbox <= 0 {
		cfg.Outbox = 100
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		_, _ = rand.Read(cfg.Secret)
	}
	return &Server{cfg: cfg, visitors: map[string]*visitor{}, changed: make(chan struct{})}
}

// Network implements imgw.Adapter.
func (s *Server) Network() string { return Network }

// Handler serves the page at its root and the WebSocket at ws.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, page, "page/index.html")
	})
	mux.HandleFunc("GET /chat.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, page, "page/chat.js")
	})
	return mux
}

// newKey returns a fresh visitor key: 16 random bytes and their MAC.
func (s *Server) newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	r := hex.EncodeToString(b[:])
	return r + "." + s.mac(r)
}

func (s *Server) mac(r string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(r))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// validKey reports whether k is a key this server issued.
func (s *Server) validKey(k string) bool {
	if len(k) != 65 || k[32] != '.' {
		return false
	}
	return hmac.Equal([]byte(s.mac(k[:32])), []byte(k[33:]))
}

// maxIdentity bounds the identity parameter passed on to the gateway.
const maxIdentity = 512

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("visitor")
	// identity is the company site's signed hand-off token, if the chat
	// was opened with one: the gateway checks it (imgw.VerifyHandoff).
	identity := r.URL.Query().Get("identity")
	if len(identity) > maxIdentity {
		identity = ""
	}
	if key != "" && !s.validKey(key) {
		// Not ours (forged, or from before a restart with another
		// secret): a new visitor, who gets a new key.
		key = ""
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.cfg.Log.Debug().Err(err).Msg("webchat: websocket refused")
		return
	}
	c.SetReadLimit(s.cfg.MaxFrameBytes)
	if key == "" {
		key = s.newKey()
	}
	out := make(chan frame, s.cfg.Outbox+8)
	id, ok := s.attach(key, out)
	if !ok {
		_ = c.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	from := imgw.Address{Network: Network, User: key, Device: "tab-" + strconv.FormatUint(id, 10)}
	// A tab is a device that is there while its WebSocket is open: the
	// gateway notices a customer whose every tab closed (departure).
	s.cfg.Receiver.Receive(imgw.Inbound{Kind: imgw.Presence, From: from, Presence: &imgw.PresenceInfo{Available: true}})
	if ua := r.UserAgent(); ua != "" {
		if info := ParseUserAgent(ua); info.Family != "" {
			s.cfg.Receiver.Receive(imgw.Inbound{Kind: imgw.Client, From: from, Client: &info})
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	var unsent []frame // what the writer could not write
	writerDone := make(chan struct{})
	defer func() {
		cancel()
		<-writerDone
		s.detach(key, id, out, unsent)
		s.cfg.Receiver.Receive(imgw.Inbound{Kind: imgw.Presence, From: from, Presence: &imgw.PresenceInfo{}})
	}()
	go func() {
		defer close(writerDone)
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-out:
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
				err := writeFrame(wctx, c, f)
				wcancel()
				if err != nil {
					unsent = append(unsent, f)
					return
				}
			}
		}
	}()
	out <- frame{Type: "welcome", Visitor: key}
	s.flushOutbox(key)
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				s.cfg.Log.Debug().Err(err).Msg("webchat: connection ended")
			}
			_ = c.CloseNow()
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			s.reply(out, "bad frame: "+err.Error())
			continue
		}
		switch f.Type {
		case "message":
			s.cfg.Receiver.Receive(imgw.Inbound{Kind: imgw.Message, From: from, Text: f.Text, Identity: identity})
		case "typing":
			st, ok := imgw.ParseChatState(f.State)
			if !ok || st == imgw.StateNone {
				s.reply(out, "unknown typing state "+strconv.Quote(f.State))
				continue
			}
			s.cfg.Receiver.Receive(imgw.Inbound{Kind: imgw.Typing, From: from, State: st})
		default:
			s.reply(out, "unknown frame type "+strconv.Quote(f.Type)+" (want message or typing)")
		}
	}
}

func writeFrame(ctx context.Context, c *websocket.Conn, f frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

// reply sends an error frame to one connection, dropping it if the
// connection is not keeping up.
func (s *Server) reply(out chan frame, msg string) {
	select {
	case out <- frame{Type: "error", Error: msg}:
	default:
	}
}

func (s *Server) attach(key string, out chan frame) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false
	}
	v := s.visitors[key]
	if v == nil {
		v = &visitor{conns: map[uint64]chan frame{}}
		s.visitors[key] = v
	}
	s.nextConn++
	v.conns[s.nextConn] = out
	s.signal()
	return s.nextConn, true
}

// detach forgets a closed tab. Messages it could not write, and those
// still queued for it, go back to the outbox unless another tab is open.
func (s *Server) detach(key string, id uint64, out chan frame, unsent []frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.signal()
	v := s.visitors[key]
	if v == nil {
		return
	}
	delete(v.conns, id)
	for more := true; more; {
		select {
		case f := <-out:
			unsent = append(unsent, f)
		default:
			more = false
		}
	}
	var keep []frame
	for _, f := range unsent {
		if f.Type == "message" {
			keep = append(keep, f)
		}
	}
	if len(keep) > 0 && len(v.conns) == 0 {
		v.outbox = append(keep, v.outbox...)
		if n := len(v.outbox) - s.cfg.Outbox; n > 0 {
			v.outbox = v.outbox[n:]
		}
	}
	if len(v.conns) == 0 && len(v.outbox) == 0 {
		delete(s.visitors, key)
	}
}

// signal wakes whoever waits for a change of tabs; s.mu is held.
func (s *Server) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitTabs waits until visitor key has n tabs open, or ctx ends.
func (s *Server) WaitTabs(ctx context.Context, key string, n int) error {
	for {
		s.mu.Lock()
		ch, tabs := s.changed, 0
		if v := s.visitors[key]; v != nil {
			tabs = len(v.conns)
		}
		s.mu.Unlock()
		if tabs == n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flushOutbox delivers what waited for the visitor.
func (s *Server) flushOutbox(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitors[key]
	if v == nil {
		return
	}
	pending := v.outbox
	v.outbox = nil
	for _, f := range pending {
		s.deliverLocked(key, v, f)
	}
}

// Send implements imgw.Adapter: the frame goes to every open tab of the
// visitor, or waits in the outbox.
func (s *Server) Send(out imgw.Outbound) {
	f := frame{Type: "message", Text: out.Text, Time: time.Now()}
	if out.Text == "" {
		if out.State == imgw.StateNone {
			return
		}
		f = frame{Type: "typing", State: out.State.String()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitors[out.To.User]
	if v == nil {
		if f.Type != "message" || !s.validKey(out.To.User) {
			return
		}
		v = &visitor{conns: map[uint64]chan frame{}}
		s.visitors[out.To.User] = v
	}
	s.deliverLocked(out.To.User, v, f)
}

func (s *Server) deliverLocked(key string, v *visitor, f frame) {
	sent := false
	for id, ch := range v.conns {
		select {
		case ch <- f:
			sent = true
		default:
			s.cfg.Log.Warn().Uint64("conn", id).Msg("webchat: tab not keeping up, frame dropped for it")
		}
	}
	if sent || f.Type != "message" {
		return
	}
	if len(v.outbox) == s.cfg.Outbox {
		s.cfg.Log.Warn().Str("visitor", key[:8]).Msg("webchat: outbox full, oldest message dropped")
		v.outbox = v.outbox[1:]
	}
	v.outbox = append(v.outbox, f)
}

// Close refuses new connections.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}
