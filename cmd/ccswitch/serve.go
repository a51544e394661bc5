package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

const serveUsage = `Usage: ccswitch serve --config CENTER.yaml [flags]

Runs the center live on the real clock: SIP phones register and take calls,
customers call route points and queues over SIP (UDP and TCP), and the
status is served over HTTP. Everything listens on loopback by default.

Example:
  ccswitch serve --config examples/sip-center.yaml --sip 127.0.0.1:5060 --http 127.0.0.1:8080

Flags:
`

var sipgoLogger sync.Once

// server is what `serve` runs.
type server struct {
	loop     *clock.Loop
	ts       *tserver.Server
	reg      *registrar.Registrar
	gw       *sipgw.Gateway
	sipUDP   net.PacketConn
	sipTCP   net.Listener
	sipTLS   net.Listener // with --tls-cert
	sipWS    net.Listener // with --sip-ws
	sipWSS   net.Listener // with --tls-cert
	httpLn   net.Listener
	httpSrv  *http.Server
	cti      *cti.Server
	im       *imSide // with an im section
	cancel   context.CancelFunc
	finished chan struct{}
}

// serveOptions are serve's flags.
type serveOptions struct {
	sipAddr, httpAddr string
	ringTimeout       time.Duration
	realm             string
	mediaIP           string
	rtpMin, rtpMax    int
	trunk             string
	inviteRate        float64
	simulate          bool
	tlsCert, tlsKey   string
	tlsAddr, wssAddr  string
	wsAddr            string
	maxCalls          int
	pprof             bool
	im                imOptions
}

func (m *Main) parseServe(args []string) error {
	fs := m.newFlagSet("serve", serveUsage)
	var o serveOptions
	cfgPath := fs.String("config", "", "center configuration (required)")
	fs.StringVar(&o.sipAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	fs.StringVar(&o.httpAddr, "http", "127.0.0.1:8080", "HTTP listen address (status)")
	fs.DurationVar(&o.ringTimeout, "ring-timeout", 20*time.Second, "how long an agent's phone rings before the call goes back to the queue")
	fs.StringVar(&o.realm, "realm", "ccswitch", "SIP digest realm")
	fs.StringVar(&o.mediaIP, "media-ip", "127.0.0.1", "address RTP is sent from and announced in SDP")
	rtpPorts := fs.String("rtp-ports", "20000-29999", "RTP port range `MIN-MAX`; each call takes one even port (two for a call without a SIP customer)")
	fs.StringVar(&o.trunk, "trunk", "", "outbound SIP trunk `HOST:PORT` for agents' calls to outside numbers (MakeCall)")
	fs.Float64Var(&o.inviteRate, "invite-rate", 200, "INVITEs per second accepted from one source IP (burst: twice that)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "certificate `FILE` (PEM): enables SIP over TLS and secure WebSocket")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key `FILE` (PEM) of --tls-cert")
	fs.StringVar(&o.tlsAddr, "sip-tls", "127.0.0.1:5061", "SIP over TLS listen address (with --tls-cert)")
	fs.StringVar(&o.wssAddr, "sip-wss", "127.0.0.1:5063", "SIP over secure WebSocket listen address (with --tls-cert)")
	fs.StringVar(&o.wsAddr, "sip-ws", "", "SIP over plain WebSocket listen address (off when empty; for loopback use)")
	fs.IntVar(&o.maxCalls, "max-calls", 0, "calls carried at once before new INVITEs get 503 (0: the open-file limit less 1,024)")
	fs.StringVar(&o.im.storePath, "store", "ccswitch.db", "embedded store `FILE` (SQLite) for customers, transcripts and callbacks (centers with an im section)")
	fs.StringVar(&o.im.chatUser, "sip-chat-user", "support", "user part of the SIP address customers send MESSAGEs to")
	var xmppAddrs, xmppDomains, xmppSecrets listFlag
	fs.Var(&xmppAddrs, "xmpp-component", "XMPP server's component port `HOST:PORT` the IM gateway connects to (XEP-0114); repeat once per IM provider")
	fs.Var(&xmppDomains, "xmpp-domain", "the gateway's component `DOMAIN` on that server; customers write to support@DOMAIN")
	fs.Var(&xmppSecrets, "xmpp-secret", "the component's shared `SECRET` on that server")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the HTTP address (keep it on loopback)")
	fs.BoolVar(&o.simulate, "simulate", false, "run the file's traffic as simulated trunk callers, and agents without a SIP password at simulated desk phones, beside the real phones")
	logLevel := m.addLogFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := m.setLogLevel(*logLevel); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return usagef("serve: want --config FILE and no other arguments")
	}
	if _, err := fmt.Sscanf(*rtpPorts, "%d-%d", &o.rtpMin, &o.rtpMax); err != nil ||
		fmt.Sprintf("%d-%d", o.rtpMin, o.rtpMax) != *rtpPorts || o.rtpMin < 1 || o.rtpMax > 65535 || o.rtpMin >= o.rtpMax {
		return usagef("serve: --rtp-ports wants MIN-MAX within 1-65535, e.g. 20000-29999")
	}
	if o.trunk != "" {
		if _, _, err := net.SplitHostPort(o.trunk); err != nil {
			return usagef("serve: --trunk wants HOST:PORT: %v", err)
		}
	}
	if o.inviteRate <= 0 {
		return usagef("serve: --invite-rate must be positive")
	}
	if o.maxCalls < 0 {
		return usagef("serve: --max-calls must not be negative")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	var err error
	if o.im.xmpp, err = parseXMPP(xmppAddrs, xmppDomains, xmppSecrets); err != nil {
		return err
	}
	f, err := config.Load(*cfgPath)
	if err != nil {
		return &usageError{err}
	}
	if len(o.im.xmpp) > 0 && f.IM == nil {
		return usagef("serve: --xmpp-component: %s has no im section", f.Path)
	}
	if o.simulate && len(f.Traffic) == 0 {
		return usagef("serve: --simulate: %s has no traffic section", f.Path)
	}
	m.run = func(ctx context.Context) error { return m.startServer(ctx, f, o) }
	return nil
}

func (m *Main) startServer(ctx context.Context, f *config.File, o serveOptions) (err error) {
	// sipgo's logger is package-global: set it once per process, not per
	// server (tests run several servers, one after another, in one process).
	sipgoLogger.Do(func() {
		sip.SetDefaultLogger(slog.New(zerolog.NewSlogHandler(m.log.With().Str("component", "sipgo").Logger())))
	})
	s := &server{loop: clock.NewLoop(), finished: make(chan struct{})}
	m.server = s
	ctx, s.cancel = context.WithCancel(ctx)

	creds := registrar.StaticCredentials{}
	agents := f.ExpandAgents()
	for _, a := range agents {
		if a.Password != "" && a.Number != "" {
			creds[a.Number] = registrar.HA1(a.Number, o.realm, a.Password)
		}
	}
	var (
		gw   *sipgw.Gateway
		desk = newIMDesk() // before the SIP side serves: OnChange reads it
	)
	s.reg = registrar.New(registrar.Options{
		Realm:       o.realm,
		Credentials: creds,
		OnChange: func(user string, contacts []registrar.Contact) {
			desk.phoneGone(user, len(contacts))
			gw.OnRegistration(user, contacts)
		},
	})
	gw, err = sipgw.New(sipgw.Config{
		Loop: s.loop, Registrar: s.reg, Log: m.log.With().Str("component", "sipgw").Logger(),
		MediaIP: o.mediaIP, RingTimeout: o.ringTimeout, RTPPortMin: o.rtpMin, RTPPortMax: o.rtpMax,
		OutboundTrunk: o.trunk, InviteRate: o.inviteRate, InviteBurst: 2 * o.inviteRate, MaxCalls: o.maxCalls,
	})
	if err != nil {
		return err
	}
	s.gw = gw
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	ep := &endpoints{sip: gw}
	realClock := clock.NewReal(s.loop)
	s.ts, err = tserver.New(f, tserver.Options{
		Clock: realClock, Endpoints: ep, Seed: binary.LittleEndian.Uint64(seed[:]), DeferLogin: true,
	})
	if err != nil {
		return &usageError{err}
	}
	gw.Attach(s.ts)
	var chat cti.ChatHandler
	if f.IM != nil {
		if s.im, err = s.startIM(ctx, m, f, o, realClock, desk); err != nil {
			return err
		}
		if err := desk.attachPhones(gw, s.im.gw, agents, s.ts, s.loop.Post); err != nil {
			s.closeIM()
			return err
		}
		chat = s.im.gw
		ep.im = s.im.gw
	}
	if err := s.startCTI(m, agents, realClock, chat); err != nil {
		s.closeIM()
		return err
	}
	desk.cti = s.cti
	if o.simulate {
		var desks []string
		for _, a := range agents {
			if a.Password == "" {
				desks = append(desks, a.ID)
			}
		}
		if ep.desks, err = sim.NewLive(s.ts, realClock, f, desks, binary.LittleEndian.Uint64(seed[:])^1); err != nil {
			return &usageError{err}
		}
	}
	// Agents without a SIP phone (CTI or simulated desks) log in now;
	// agents with one log in when it registers.
	for _, a := range agents {
		if a.Ready && a.Password == "" {
			_ = s.ts.AgentLogin(a.ID, "")
			_ = s.ts.AgentReady(a.ID)
		}
	}
	if s.sipUDP, s.sipTCP, err = listenSIP(o.sipAddr); err != nil {
		return err
	}
	if err := s.listenStreams(o); err != nil {
		s.closeListeners()
		return err
	}
	if s.httpLn, err = net.Listen("tcp", o.httpAddr); err != nil {
		s.closeListeners()
		return fmt.Errorf("serve: http: %w", err)
	}
	mux := s.routes()
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	go func() {
		defer close(s.finished)
		loopDone := make(chan struct{})
		go func() { s.loop.Run(ctx); close(loopDone) }()
		httpDone := make(chan struct{})
		go func() {
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.log.Error().Err(err).Msg("http server stopped")
			}
			close(httpDone)
		}()
		expiryDone := make(chan struct{})
		go func() {
			defer close(expiryDone)
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					s.reg.Expire()
				}
			}
		}()
		if err := gw.Serve(ctx, sipgw.Listeners{UDP: s.sipUDP, TCP: s.sipTCP, TLS: s.sipTLS, WS: s.sipWS, WSS: s.sipWSS}); err != nil {
			m.log.Error().Err(err).Msg("sip gateway stopped")
		}
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.httpSrv.Shutdown(shutdown)
		cancel()
		// Shutdown does not wait for hijacked WebSockets: Close does.
		s.cti.Close()
		<-httpDone
		<-expiryDone
		s.cancel()
		<-loopDone
		s.closeIM()
	}()
	if ep.desks != nil {
		// Simulated callers start once the loop runs; they stop with it.
		s.loop.Post(ep.desks.Start)
	}
	m.log.Info().Str("sip", s.sipUDP.LocalAddr().String()).Str("http", s.httpLn.Addr().String()).
		Int("agents", len(s.ts.Agents())).Msg("ccswitch serving")
	return nil
}

// endpoints sends each offer to the agent's device: a simulated desk
// phone (serve --simulate) or the SIP gateway.
type endpoints struct {
	sip   *sipgw.Gateway
	desks *sim.Live
	im    *imgw.Gateway // answers for its automated agents
}

func (e *endpoints) Offer(c *tserver.Contact, a *tserver.Agent) {
	if e.desks != nil && e.desks.Owns(a) {
		e.desks.Offer(c, a)
		return
	}
	if c.Media == pbx.IM {
		// A chat rings on the agent's CTI desktop (EventRinging), which
		// answers with RequestAnswerCall, or is an automated agent's,
		// which the gateway answers; no phone is involved.
		if e.im != nil {
			e.im.Offer(c, a)
		}
		return
	}
	e.sip.Offer(c, a)
}

func (e *endpoints) Dial(c *tserver.Contact, a *tserver.Agent) {
	if e.desks != nil && e.desks.Owns(a) {
		e.desks.Dial(c, a)
		return
	}
	e.sip.Dial(c, a)
}

// routes serves the center's status.
func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		var (
			status []tserver.QueueStatus
			chats  []imgw.ConversationStatus
		)
		if err := s.loop.Do(r.Context(), func() { status, chats = s.ts.Status(), s.im.conversations() }); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		body := map[string]any{"queues": status}
		if s.im != nil {
			body["conversations"] = chats
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("/cti", s.cti)
	if s.im != nil {
		s.im.mount(mux)
	}
	return mux
}

// Do runs f on the live domain's loop (for tests and tools).
func (s *server) Do(ctx context.Context, f func(*tserver.Server)) error {
	return s.loop.Do(ctx, func() { f(s.ts) })
}

// close stops the server and waits for it.
func (s *server) close() {
	s.cancel()
	<-s.finished
}

// listenStreams opens the TLS and WebSocket listeners the flags ask for.
func (s *server) listenStreams(o serveOptions) error {
	if o.wsAddr != "" {
		ln, err := net.Listen("tcp", o.wsAddr)
		if err != nil {
			return fmt.Errorf("serve: sip ws: %w", err)
		}
		s.sipWS = ln
	}
	if o.tlsCert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return &usageError{fmt.Errorf("serve: --tls-cert/--tls-key: %w", err)}
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for _, l := range []struct {
		addr string
		dst  *net.Listener
		name string
	}{{o.tlsAddr, &s.sipTLS, "tls"}, {o.wssAddr, &s.sipWSS, "wss"}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("serve: sip %s: %w", l.name, err)
		}
		*l.dst = tls.NewListener(ln, conf)
	}
	return nil
}

// closeIM stops the IM side (when it was started before a failure).
func (s *server) closeIM() {
	if s.im != nil {
		s.cancel() // the XMPP components stop with the server's context
		s.im.close()
		s.im = nil
	}
}

// closeListeners closes whatever listeners are open, and the IM side.
func (s *server) closeListeners() {
	if s.cti != nil {
		s.cti.Close()
	}
	s.closeIM()
	if s.sipUDP != nil {
		_ = s.sipUDP.Close()
	}
	for _, ln := range []net.Listener{s.sipTCP, s.sipTLS, s.sipWS, s.sipWSS, s.httpLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// listenSIP opens SIP's UDP socket at addr and a TCP listener on the same
// port. With port 0 the kernel picks a free UDP port whose TCP twin may be
// in use; then it tries again with another port.
func listenSIP(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: sip: %w", err)
	}
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("serve: sip: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("serve: sip tcp: %w", err)
		}
	}
}
