// Package live runs a contact center on the real clock: it opens the
// store, the domain's loop, the SIP gateway, the IM gateway with its
// networks, the CTI server and the HTTP listener, in that order, and
// closes them in reverse, also after a start that failed half way.
// cmd/ccswitch parses flags into a Config and calls Open; tests set the
// Config directly.
//
// Every goroutine the center starts is owned by the Center and joined by
// Close: the loop, the SIP gateway's listeners, the HTTP server, the
// registrar's expiry ticker and the XMPP components.
package live

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// Config is what a live center needs besides its center file. The zero
// value of a field takes the default its comment gives.
type Config struct {
	// Center is the parsed center file. Required.
	Center *config.File
	// Log receives the center's structured logs.
	Log zerolog.Logger

	// SIPAddr is the SIP listen address, UDP and TCP (127.0.0.1:5060).
	SIPAddr string
	// HTTPAddr serves the status, CTI and the web chat (127.0.0.1:8080).
	HTTPAddr string
	// InsecureHTTP allows plain HTTP (and so CTI passwords in clear) on an
	// address that is not loopback. Without it, such an HTTPAddr and no
	// TLS certificate is a configuration error.
	InsecureHTTP bool
	// TLSCert and TLSKey (PEM files) enable HTTPS (and so wss:// CTI) on
	// HTTPAddr, SIP over TLS on SIPTLSAddr and secure WebSocket on
	// SIPWSSAddr.
	TLSCert, TLSKey string
	// SIPTLSAddr (127.0.0.1:5061) and SIPWSSAddr (127.0.0.1:5063) are used
	// with a certificate; SIPWSAddr (plain WebSocket) only when set.
	SIPTLSAddr, SIPWSSAddr, SIPWSAddr string

	// Realm is the SIP digest realm (ccswitch).
	Realm string
	// RingTimeout is how long an agent's phone rings (20s).
	RingTimeout time.Duration
	// MediaIP is the address RTP is sent from (127.0.0.1).
	MediaIP string
	// RTPPortMin and RTPPortMax bound RTP ports (20000-29999).
	RTPPortMin, RTPPortMax int
	// Trunk (HOST:PORT) takes agents' calls to outside numbers.
	Trunk string
	// InviteRate is INVITEs per second accepted from one source (200;
	// burst twice that).
	InviteRate float64
	// MaxCalls bounds calls carried at once (0: the SIP gateway's default,
	// at most one call per even RTP port).
	MaxCalls int
	// MaxSetups and MaxLoopBacklog are the SIP gateway's overload
	// thresholds (sipgw.Config): new INVITEs get 503 with Retry-After at
	// once while that many INVITEs are in progress (200) or that much
	// work waits on the domain's loop (2,000). 0: the default; negative:
	// off.
	MaxSetups, MaxLoopBacklog int
	// MaxWaitingCalls bounds the calls hearing the switch's own media
	// (sipgw.Config.MaxPlaying; 0: 500; negative: no bound).
	MaxWaitingCalls int
	// RTPTimeout ends a connected call whose agent or customer stopped
	// sending RTP for this long (the agent made not ready, rtp_timeout);
	// 0 disables it. serve's --rtp-timeout gives 60s.
	RTPTimeout time.Duration

	// StorePath is the embedded store (ccswitch.db), opened by centers
	// with an im section; its journal spool is StorePath+".spool".
	StorePath string
	// SIPChatUser, when set, overrides im.networks.sip_message.user
	// (deprecated: the center file says it).
	SIPChatUser string
	// XMPP lists XMPP servers to join besides the center file's
	// im.networks.xmpp (deprecated: their secrets would be on the command
	// line; the center file names a secret file or variable).
	XMPP []XMPPProvider

	// Simulate runs the file's traffic as simulated trunk callers and
	// puts agents without a SIP password at simulated desk phones.
	Simulate bool
	// Drain is how long Shutdown lets calls and chats under way run
	// before it ends them (30s; negative: not at all).
	Drain time.Duration
	// Pprof serves Go's profiler at /debug/pprof/ on HTTPAddr.
	Pprof bool
	// JournalFault, when set, is asked before each of the journal's
	// writes to its spool and store (sqlitejournal.Config.Fault): tests
	// make the disk fail with it. nil in production.
	JournalFault func(op string) error
	// Getenv reads the environment variables the center file names for
	// its secrets (os.Getenv when nil).
	Getenv func(string) string
	// Seed seeds the router's and the simulation's random choices (0:
	// random).
	Seed uint64
	// Record, when set, is a file the center writes, when it closes, a
	// replay script of what happened to (serve --record): see Recorder.
	Record string
}

// XMPPProvider is one IM provider's XMPP server the gateway joins as an
// external component (XEP-0114).
type XMPPProvider struct {
	Addr, Domain, Secret string
}

// ConfigError is a start that failed on bad input (the center file or
// the Config), not on the machine: a command reports it as bad usage.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{fmt.Errorf(format, args...)}
}

// Center is a running live center.
type Center struct {
	cfg  Config
	log  zerolog.Logger
	loop *clock.Loop
	ts   *tserver.Server
	reg  *registrar.Registrar
	gw   *sipgw.Gateway
	cti  *cti.Server
	im   *imSide // with an im section
	ep   *endpoints
	// rec records the session (Config.Record); nil when not recording.
	rec      *Recorder
	closeErr error
	// presence combines customers' devices; callbacks is the callback
	// server (both on the loop).
	presence  *presence
	callbacks *callbacks
	// realClock is the domain's clock, on the loop.
	realClock clock.Clock
	// users are the center file's users and agents' roles; throttle
	// counts failed logins at every door together.
	users    *auth.Users
	throttle *auth.Throttle

	sipUDP                        net.PacketConn
	sipTCP, sipTLS, sipWS, sipWSS net.Listener
	httpLn                        net.Listener
	httpSrv                       *http.Server
	https                         bool

	draining  atomic.Bool     // Shutdown started
	ctx       context.Context // ends when Close starts
	cancel    context.CancelFunc
	loopCtx   context.Context // ends after the adapters stopped
	loopStop  context.CancelFunc
	running   sync.WaitGroup // the adapters' goroutines, joined by Close
	loopDone  chan struct{}  // closed when the loop goroutine returned
	closeOnce sync.Once
}

// sipgo's logger is package-global: set it once per process, not per
// center (tests run several centers, one after another, in one process).
var sipgoLogger sync.Once

// Open starts the center. On error, what it opened is closed again and
// the error names the cause (and the address or file); a *ConfigError is
// bad input. ctx bounds the start only: the center runs until Close.
func Open(ctx context.Context, cfg Config) (_ *Center, err error) {
	if cfg.Center == nil {
		return nil, configErrorf("live: Config.Center is required")
	}
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sipgoLogger.Do(func() {
		sip.SetDefaultLogger(slog.New(newLimitedHandler(
			zerolog.NewSlogHandler(cfg.Log.With().Str("component", "sipgo").Logger()), nil)))
	})
	c := &Center{cfg: cfg, log: cfg.Log, loop: clock.NewLoop()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.loopCtx, c.loopStop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			c.abort()
		}
	}()
	if err := c.openDomain(ctx); err != nil {
		return nil, err
	}
	if err := c.listen(); err != nil {
		return nil, err
	}
	c.serve()
	c.log.Info().Str("sip", c.sipUDP.LocalAddr().String()).Str("http", c.httpLn.Addr().String()).
		Bool("https", c.https).Int("agents", len(c.ts.Agents())).Msg("ccswitch serving")
	return c, nil
}

func (cfg *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.SIPAddr, "127.0.0.1:5060")
	def(&cfg.HTTPAddr, "127.0.0.1:8080")
	def(&cfg.SIPTLSAddr, "127.0.0.1:5061")
	def(&cfg.SIPWSSAddr, "127.0.0.1:5063")
	def(&cfg.Realm, "ccswitch")
	def(&cfg.MediaIP, "127.0.0.1")
	def(&cfg.StorePath, "ccswitch.db")
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 20 * time.Second
	}
	if cfg.RTPPortMin == 0 && cfg.RTPPortMax == 0 {
		cfg.RTPPortMin, cfg.RTPPortMax = 20000, 29999
	}
	if cfg.Drain == 0 {
		cfg.Drain = 30 * time.Second
	}
	if cfg.InviteRate == 0 {
		cfg.InviteRate = 200
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
}

// check refuses a Config that cannot work, before anything is opened.
func (cfg *Config) check() error {
	f := cfg.Center
	switch {
	case cfg.RTPPortMin < 1 || cfg.RTPPortMax > 65535 || cfg.RTPPortMin >= cfg.RTPPortMax:
		return configErrorf("live: RTP ports %d-%d: want MIN-MAX within 1-65535", cfg.RTPPortMin, cfg.RTPPortMax)
	case cfg.InviteRate < 0:
		return configErrorf("live: the INVITE rate must be positive")
	case cfg.MaxCalls < 0:
		return configErrorf("live: the call limit must not be negative")
	case cfg.RTPTimeout < 0:
		return configErrorf("live: the RTP timeout must not be negative")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return configErrorf("live: a TLS certificate and its key go together")
	case len(cfg.XMPP) > 0 && f.IM == nil:
		return configErrorf("live: XMPP providers given, but %s has no im section", f.Path)
	case cfg.Simulate && len(f.Traffic) == 0:
		return configErrorf("live: simulate: %s has no traffic section", f.Path)
	}
	if cfg.Record != "" {
		if st, err := os.Stat(filepath.Dir(cfg.Record)); err != nil || !st.IsDir() {
			return configErrorf("live: record %s: its folder does not exist", cfg.Record)
		}
	}
	if cfg.Trunk != "" {
		if _, _, err := net.SplitHostPort(cfg.Trunk); err != nil {
			return configErrorf("live: trunk %q wants HOST:PORT: %v", cfg.Trunk, err)
		}
	}
	if cfg.TLSCert == "" && !cfg.InsecureHTTP && !isLoopback(cfg.HTTPAddr) {
		return configErrorf("live: http %s is not a loopback address: plain HTTP there would carry CTI passwords in clear; give a TLS certificate, or allow it explicitly (--insecure-http)", cfg.HTTPAddr)
	}
	seen := map[string]bool{}
	for _, p := range cfg.XMPP {
		if _, _, err := net.SplitHostPort(p.Addr); err != nil {
			return configErrorf("live: xmpp component %q wants HOST:PORT: %v", p.Addr, err)
		}
		if p.Domain == "" || seen[p.Domain] {
			return configErrorf("live: xmpp domain %q is empty or given twice", p.Domain)
		}
		seen[p.Domain] = true
		if p.Secret == "" {
			return configErrorf("live: xmpp domain %s has no secret", p.Domain)
		}
	}
	return nil
}

// isLoopback reports whether addr's host is a loopback address or
// localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openDomain builds the registrar, the SIP gateway, the domain, the IM
// side and the CTI server; nothing listens yet.
func (c *Center) openDomain(ctx context.Context) error {
	cfg, f := &c.cfg, c.cfg.Center
	var err error
	if c.users, err = auth.New(f, cfg.Getenv); err != nil {
		return err
	}
	c.throttle = auth.NewThrottle(nil)
	creds := registrar.StaticCredentials{}
	agents := f.ExpandAgents()
	sipAccounts := accountThrottle{t: c.throttle, ids: map[string]string{}}
	for _, a := range agents {
		if a.Password != "" && a.Number != "" {
			creds[a.Number] = registrar.HA1(a.Number, cfg.Realm, a.Password)
			sipAccounts.ids[a.Number] = a.ID
		}
	}
	// Customers' softphones register too: their bindings are presence.
	if f.IM != nil {
		for _, cu := range f.IM.Customers {
			for _, d := range cu.Devices {
				if d.Network != config.DeviceSIP {
					continue
				}
				if _, taken := creds[d.Address]; taken {
					return configErrorf("live: customer %s's SIP device %q is an agent's number", cu.Number, d.Address)
				}
				creds[d.Address] = registrar.HA1(d.Address, cfg.Realm, d.Password)
			}
		}
	}
	realClock := clock.NewReal(c.loop)
	c.realClock = realClock
	c.presence = newPresence(realClock, f, c.linkedCustomer)
	desk := newIMDesk() // before the SIP side serves: OnChange reads it
	c.reg = registrar.New(registrar.Config{
		Realm:       cfg.Realm,
		Credentials: creds,
		Throttle:    sipAccounts,
		Logger:      c.log.With().Str("component", "registrar").Logger(),
		OnChange: func(user string, contacts []registrar.Contact) {
			desk.phoneGone(user, len(contacts))
			c.gw.OnRegistration(user, contacts)
		},
	})
	c.gw, err = sipgw.New(sipgw.Config{
		Loop: c.loop, Registrar: c.reg, Log: c.log.With().Str("component", "sipgw").Logger(),
		MediaIP: cfg.MediaIP, RingTimeout: cfg.RingTimeout, RTPPortMin: cfg.RTPPortMin, RTPPortMax: cfg.RTPPortMax,
		OutboundTrunk: cfg.Trunk, InviteRate: cfg.InviteRate, InviteBurst: 2 * cfg.InviteRate, MaxCalls: cfg.MaxCalls,
		RTPTimeout: cfg.RTPTimeout, MaxSetups: cfg.MaxSetups, MaxLoopBacklog: cfg.MaxLoopBacklog,
		MaxPlaying: cfg.MaxWaitingCalls, CallbackDigits: callbackDigits(f),
	})
	if err != nil {
		return err
	}
	c.ep = &endpoints{sip: c.gw}
	// Customers' softphones say where they are: registered, PUBLISHed.
	c.gw.OnPresence(sipgw.PresenceHandlerFunc(func(r sipgw.PresenceReport) {
		c.loop.Post(func() {
			if _, customers := c.presence.customerOfDevice(config.DeviceSIP, r.User); customers && c.rec != nil {
				c.rec.Softphone(r.At, r.User, r.Show != callback.Unavailable)
			}
			c.presence.sip(r)
		})
	}))
	c.ts, err = tserver.New(f, tserver.Config{
		Clock: realClock, Endpoints: c.ep, Seed: cfg.Seed, DeferLogin: true,
	})
	if err != nil {
		return &ConfigError{err}
	}
	if cfg.Record != "" {
		// Before anything happens: the agents logged in below are the
		// first things recorded.
		c.rec = NewRecorder(RecorderConfig{Path: cfg.Record, Center: f, RingTimeout: cfg.RingTimeout, Seed: cfg.Seed,
			Log: c.log.With().Str("component", "record").Logger()})
		c.ts.Subscribe(c.rec.Event)
		c.ts.WatchRouters(func(number string, routers int) { c.rec.Routers(realClock.Now(), number, routers) })
	}
	c.gw.Attach(c.ts)
	chat := cti.NopChat()
	if f.IM != nil {
		if err := c.openIM(ctx, realClock, desk); err != nil {
			return err
		}
		if err := desk.attachPhones(c.im.sipmsg, c.im.gw, agents); err != nil {
			return err
		}
		chat = c.im.gw
		if c.rec != nil {
			chat = recordingChat{ChatHandler: c.im.gw, c: c}
		}
		c.ep.im = c.im.gw
	}
	if err := c.openCallbacks(ctx); err != nil {
		return err
	}
	// A queued caller's key press may ask for a callback.
	c.gw.OnDigit(sipgw.DigitHandlerFunc(func(id pbx.ConnID, d rune) {
		c.loop.Post(func() { c.callbacks.digit(id, d) })
	}))
	if err := c.openCTI(agents, realClock, chat); err != nil {
		return err
	}
	desk.cti = c.cti
	if cfg.Simulate {
		var desks []string
		for _, a := range agents {
			if a.Password == "" {
				desks = append(desks, a.ID)
			}
		}
		if c.ep.desks, err = sim.NewLive(c.ts, realClock, f, desks, cfg.Seed^1); err != nil {
			return &ConfigError{err}
		}
	}
	// Agents without a SIP phone (CTI or simulated desks) log in now;
	// agents with one log in when it registers.
	for _, a := range agents {
		if a.Ready && a.Password == "" {
			_ = c.ts.AgentLogin(a.ID, "")
			_ = c.ts.AgentReady(a.ID)
		}
	}
	return nil
}

// accountThrottle is the login throttle as the registrar sees it: a SIP
// user is an agent's number, counted under the agent's id, so that the
// agent's password guessed over SIP and over CTI counts once.
type accountThrottle struct {
	t   *auth.Throttle
	ids map[string]string // number -> agent id
}

var _ registrar.Throttle = accountThrottle{}

func (a accountThrottle) id(user string) string {
	if id, ok := a.ids[user]; ok {
		return id
	}
	return user
}

func (a accountThrottle) Wait(host, user string) (time.Duration, bool) {
	return a.t.Wait(host, a.id(user))
}

func (a accountThrottle) Failed(host, user string) (bool, bool) { return a.t.Failed(host, a.id(user)) }
func (a accountThrottle) Succeeded(host, user string)           { a.t.Succeeded(host, a.id(user)) }

// openCTI builds the CTI server, with the IM gateway as its chat handler
// when the center takes chats.
func (c *Center) openCTI(agents []config.Agent, realClock clock.Clock, chat cti.ChatHandler) error {
	passwords := make(map[string]string, len(agents))
	for _, a := range agents {
		passwords[a.ID] = a.Password
	}
	var err error
	c.cti, err = cti.NewServer(cti.Config{
		Loop: c.loop, TServer: c.ts, Chat: chat, Clock: realClock,
		Log:   c.log.With().Str("component", "cti").Logger(),
		Users: c.users, Throttle: c.throttle, Customers: c.presence, Callbacks: ctiCallbacks{c.callbacks},
		Passwords: func(id string) (string, bool) {
			p, ok := passwords[id]
			return p, ok
		},
	})
	return err
}

// goOwned runs f as a goroutine the center owns: Close waits for it.
func (c *Center) goOwned(f func()) {
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		f()
	}()
}

// serve starts the loop, the SIP gateway, the HTTP server and the
// registrar's expiry on the listeners opened.
func (c *Center) serve() {
	c.loopDone = make(chan struct{})
	go func() {
		defer close(c.loopDone)
		c.loop.Run(c.loopCtx)
	}()
	c.goOwned(func() {
		var err error
		if c.https {
			err = c.httpSrv.ServeTLS(c.httpLn, "", "")
		} else {
			err = c.httpSrv.Serve(c.httpLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error().Err(err).Msg("http server stopped")
		}
	})
	c.goOwned(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				c.reg.Expire()
			}
		}
	})
	l := sipgw.Listeners{UDP: c.sipUDP, TCP: c.sipTCP, TLS: c.sipTLS, WS: c.sipWS, WSS: c.sipWSS}
	c.goOwned(func() {
		if err := c.gw.Serve(c.ctx, l); err != nil {
			c.log.Error().Err(err).Msg("sip gateway stopped")
		}
	})
	if c.ep.desks != nil {
		// Simulated callers start once the loop runs; they stop with it.
		c.loop.Post(c.ep.desks.Start)
	}
}

// Close stops the center and waits for every goroutine it started: the
// SIP side first (calls are hung up), then HTTP and CTI, the loop, and
// last the IM side, which makes every accepted record durable.
func (c *Center) Close() error {
	c.closeOnce.Do(func() {
		if c.rec != nil {
			c.rec.Stop()
		}
		c.cancel()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.httpSrv.Shutdown(shutdown)
		cancel()
		// Shutdown does not wait for hijacked WebSockets: Close does.
		c.cti.Close()
		// The SIP gateway hangs its calls up through the loop: the loop
		// stops after the adapters.
		c.running.Wait()
		c.loopStop()
		<-c.loopDone
		if c.rec != nil {
			// The loop is over: what it recorded is ours to read.
			c.closeErr = c.rec.Write()
		}
		c.closeIM()
	})
	return c.closeErr
}

// abort closes what a failed Open opened; no goroutine of serve runs yet
// (the XMPP components may).
func (c *Center) abort() {
	c.cancel()
	c.loopStop()
	if c.cti != nil {
		c.cti.Close()
	}
	c.closeIM()
	if c.sipUDP != nil {
		_ = c.sipUDP.Close()
	}
	for _, ln := range []net.Listener{c.sipTCP, c.sipTLS, c.sipWS, c.sipWSS, c.httpLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	c.running.Wait()
}

// Do runs f on the domain's loop (for tests and tools).
func (c *Center) Do(ctx context.Context, f func(*tserver.Server)) error {
	return c.loop.Do(ctx, func() { f(c.ts) })
}

// Addrs are the addresses a center listens on; empty when not listening.
type Addrs struct {
	SIP, SIPTLS, SIPWS, SIPWSS, HTTP string
}

// Addrs returns where the center listens (the ports chosen for port 0).
func (c *Center) Addrs() Addrs {
	a := Addrs{SIP: c.sipUDP.LocalAddr().String(), HTTP: c.httpLn.Addr().String()}
	for _, l := range []struct {
		ln  net.Listener
		dst *string
	}{{c.sipTLS, &a.SIPTLS}, {c.sipWS, &a.SIPWS}, {c.sipWSS, &a.SIPWSS}} {
		if l.ln != nil {
			*l.dst = l.ln.Addr().String()
		}
	}
	return a
}

// Registrar is the center's SIP registrar (for tests and tools).
func (c *Center) Registrar() *registrar.Registrar { return c.reg }

// callbackDigits are the keys queued callers press for a callback, by
// queue (queues[].callback_digit), for the queues that have a callback
// queue to wait in.
func callbackDigits(f *config.File) map[string]rune {
	out := map[string]rune{}
	for _, q := range f.Queues {
		if q.CallbackDigit != "" && q.CallbackQueue != "" {
			out[q.Name] = rune(q.CallbackDigit[0])
		}
	}
	return out
}
