// Package sipgw connects SIP phones and trunks to the switch. It is the
// registrar's host and a back-to-back user agent (B2BUA): a customer's
// INVITE to a route point or queue becomes an interaction of media voip
// (or voice from a trunk marked as the switched network), answered by the
// switch, which plays the greeting, the caller's position and estimated
// wait, then music on hold over RTP; when the router picks an agent the
// gateway rings the agent's registered phone on a second leg, bridges the
// two on answer and keeps the media anchored, so no agent address ever
// reaches the customer. It implements tserver.Endpoints; every call into
// the domain is posted to the domain's loop goroutine.
package sipgw

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// Config configures a Gateway.
type Config struct {
	// Loop owns the domain: every call into TServer runs there.
	Loop *clock.Loop
	// Registrar authenticates phones and knows where agents' phones are.
	Registrar *registrar.Registrar
	Log       zerolog.Logger
	// MediaIP is the address RTP is sent from and announced in SDP
	// (default 127.0.0.1).
	MediaIP string
	// RTPPortMin and RTPPortMax bound the RTP ports (default 20000-29999).
	RTPPortMin, RTPPortMax int
	// RingTimeout is how long an agent's phone rings before the call goes
	// back to the queue (default 20s): sipgo has no Timer C.
	RingTimeout time.Duration
	// UserAgent is the User-Agent/Server header value.
	UserAgent string
	// SwitchedTrunks are source IPs whose calls are switched-network
	// (COST) calls: media voice instead of voip.
	SwitchedTrunks []string
	// InviteRate and InviteBurst limit INVITEs per source IP (default
	// 200/s, burst 400), so one flooding address cannot starve others.
	InviteRate, InviteBurst float64
	// OutboundTrunk (host:port) is where agents' outbound calls
	// (MakeCall) to numbers outside the switch go.
	OutboundTrunk string
	// MaxCalls bounds the calls carried at once; new INVITEs past it get
	// 503. Each call holds one RTP socket (two for a call without a SIP
	// customer), so the default is the smaller of what the RTP port range
	// carries (one even port per call, less room for the INVITEs being set
	// up: MaxSetups, at most a tenth of the ports) and what the process's
	// open-file
	// limit leaves for listeners and transient SIP connections:
	// RLIMIT_NOFILE less 1,024 (half the limit when it is small).
	MaxCalls int
	// Overload control (in the spirit of RFC 7339): a new INVITE is
	// refused at once with 503 and Retry-After, before any work (no SDP
	// parsed, no RTP port taken, nothing posted to the loop), while the
	// switch is past what it can set up in time, so that callers'
	// retransmissions do not multiply the load.
	//
	// MaxSetups bounds the INVITE server transactions in progress: calls
	// admitted whose 200 the caller has not acknowledged yet (default
	// 200; at 1,000 calls/s that is 200 ms of set-up each, well before a
	// caller's first retransmission at 500 ms). MaxLoopBacklog bounds the
	// work waiting on the domain's loop (clock.Loop.Pending; default
	// 2,000 items, a few tens of milliseconds). Negative disables either.
	//
	// MaxPlaying bounds the calls hearing the switch's own media
	// (greeting, position and wait, music on hold: 50 RTP packets a second
	// each), which is where the excess of an overload ends up: past it,
	// calls that would only wait are refused while the calls already
	// waiting reach agents (default 500; negative disables).
	MaxSetups, MaxLoopBacklog, MaxPlaying int
	// OverloadRetryAfter is the Retry-After of those 503s (default 2 s).
	OverloadRetryAfter time.Duration
	// RTPTimeout ends a connected call when a leg that should be sending
	// RTP (its SDP says sendrecv or sendonly, and it is not on hold) has
	// sent none for this long: both legs get a BYE, the interaction is
	// released, and an agent whose phone went silent is made not ready
	// with the reason rtp_timeout rather than offered the next call on a
	// dead phone. 0 disables the check; live centers use 60 s.
	RTPTimeout time.Duration
	// CallbackDigits, by queue name, is the key ('0'-'9') a queue's
	// callers press to be called back: after their position and wait
	// they hear "press N to be called back, keeping your place" (the
	// queue's callback_digit in the center file). What the key does is
	// the DigitHandler's (OnDigit), which gets every digit.
	CallbackDigits map[string]rune
	// PUBLISH (RFC 3903, presence; see OnPresence). PublishMinExpires is
	// the shortest publication accepted, shorter ones get 423 (default
	// 60 s); PublishMaxExpires caps them and is the lifetime of a PUBLISH
	// without Expires (default 1 h). PublishRate and PublishBurst limit the
	// PUBLISHes of one address of record (a token bucket, default 1 a
	// second after a burst of 10); past it, 503 with Retry-After.
	PublishMinExpires, PublishMaxExpires time.Duration
	PublishRate, PublishBurst            float64
	// ListenRTP opens an RTP socket in [min, max] (media.ListenRTP when
	// nil); tests give an in-memory one.
	ListenRTP func(ip string, min, max int) (net.PacketConn, int, error)
}

// Gateway is the SIP side of the switch.
type Gateway struct {
	cfg     Config
	log     zerolog.Logger
	ts      *tserver.Server
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	in      *sipgo.DialogServerCache
	out     *sipgo.DialogClientCache
	host    string
	port    int
	limiter *rateLimiter
	trunks  map[string]bool

	mu         sync.Mutex
	calls      map[pbx.ConnID]*call
	outbound   map[pbx.ConnID]*outbound
	pending    map[pbx.ConnID]*tserver.Agent // offers made before the call was known (loop only)
	msgHandler MessageHandler                // OnMessage's; nil: MESSAGE gets 404
	callbacks  Callbacks                     // OnCallback's; nil: callbacks are refused
	msgQueues  inOrder                       // SendMessage's, by target
	// digitHandler is OnDigit's; nil: callers' RTP is not read for digits.
	digitHandler DigitHandler
	digitQueues  inOrder  // digits on their way to digitHandler, by interaction
	pres         presence // PUBLISHed presence (OnPresence)
	// wg counts the goroutines the gateway owns (calls, transfers,
	// dialers, relays, hang-ups, MESSAGE queues); goOwned starts them and
	// refuses once Serve is closing, so that Serve's Wait is final.
	wg       sync.WaitGroup
	goMu     sync.Mutex
	closing  bool
	draining atomic.Bool  // Drain: new calls are refused
	setups   atomic.Int64 // INVITE server transactions in progress (admitted, not ACKed)
	playing  atomic.Int64 // calls hearing the switch's announcements or music
	refused  atomic.Int64 // new INVITEs refused for overload
	cancel   context.CancelFunc
	ctx      context.Context
}

var _ tserver.Endpoints = (*Gateway)(nil)

// New returns a gateway; Attach gives it the domain, Serve starts it.
func New(cfg Config) (*Gateway, error) {
	if cfg.Loop == nil || cfg.Registrar == nil {
		return nil, errors.New("sipgw: config needs a loop and a registrar")
	}
	if cfg.MediaIP == "" {
		cfg.MediaIP = "127.0.0.1"
	}
	if cfg.RTPPortMin == 0 {
		cfg.RTPPortMin, cfg.RTPPortMax = 20000, 29999
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 20 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ccswitch"
	}
	if cfg.InviteRate <= 0 {
		cfg.InviteRate, cfg.InviteBurst = 200, 400
	}
	if cfg.MaxSetups == 0 {
		cfg.MaxSetups = 200
	}
	if cfg.MaxCalls <= 0 {
		// INVITEs being set up hold a port before they count as calls:
		// keep room for them, so that the port range is not searched in
		// vain (a bind per even port) under load.
		ports := rtpPortCalls(cfg.RTPPortMin, cfg.RTPPortMax)
		cfg.MaxCalls = min(defaultMaxCalls(), max(1, ports-min(max(cfg.MaxSetups, 0), ports/10)))
	}
	if cfg.MaxLoopBacklog == 0 {
		cfg.MaxLoopBacklog = 2000
	}
	if cfg.MaxPlaying == 0 {
		cfg.MaxPlaying = 500
	}
	if cfg.OverloadRetryAfter <= 0 {
		cfg.OverloadRetryAfter = 2 * time.Second
	}
	if cfg.ListenRTP == nil {
		cfg.ListenRTP = media.ListenRTP
	}
	if err := checkCallbackDigits(cfg.CallbackDigits); err != nil {
		return nil, err
	}
	if cfg.PublishMinExpires <= 0 {
		cfg.PublishMinExpires = DefaultPublishMinExpires
	}
	if cfg.PublishMaxExpires <= 0 {
		cfg.PublishMaxExpires = DefaultPublishMaxExpires
	}
	cfg.PublishMaxExpires = max(cfg.PublishMaxExpires, cfg.PublishMinExpires)
	if cfg.PublishRate <= 0 {
		cfg.PublishRate = DefaultPublishRate
	}
	if cfg.PublishBurst < 1 {
		cfg.PublishBurst = DefaultPublishBurst
	}
	g := &Gateway{
		cfg:      cfg,
		log:      cfg.Log,
		limiter:  newRateLimiter(cfg.InviteRate, cfg.InviteBurst, time.Now),
		trunks:   map[string]bool{},
		calls:    map[pbx.ConnID]*call{},
		outbound: map[pbx.ConnID]*outbound{},
		pending:  map[pbx.ConnID]*tserver.Agent{},
	}
	g.pres = presence{
		limiter:    newRateLimiter(cfg.PublishRate, cfg.PublishBurst, time.Now),
		byETag:     map[string]*publication{},
		byDevice:   map[string]map[string]*publication{},
		registered: map[string]map[string]time.Time{},
		wake:       make(chan struct{}, 1),
	}
	for _, ip := range cfg.SwitchedTrunks {
		g.trunks[ip] = true
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g, nil
}

// Attach gives the gateway the domain it serves; call it before Serve.
func (g *Gateway) Attach(ts *tserver.Server) { g.ts = ts }

// Listeners are the sockets the gateway answers SIP on. UDP is required;
// the others may be nil. TLS and WSS listeners already speak TLS (wrap
// them with tls.NewListener).
type Listeners struct {
	UDP net.PacketConn
	TCP net.Listener
	TLS net.Listener
	WS  net.Listener
	WSS net.Listener
}

// Serve answers SIP on the listeners until ctx ends.
func (g *Gateway) Serve(ctx context.Context, l Listeners) error {
	if g.ts == nil {
		return errors.New("sipgw: Serve before Attach")
	}
	if l.UDP == nil {
		return errors.New("sipgw: Serve needs a UDP socket")
	}
	pc := l.UDP
	host, portStr, err := net.SplitHostPort(pc.LocalAddr().String())
	if err != nil {
		return err
	}
	g.host = host
	g.port, _ = strconv.Atoi(portStr)
	g.ua, err = sipgo.NewUA(sipgo.WithUserAgent(g.cfg.UserAgent), sipgo.WithUserAgentHostname(host))
	if err != nil {
		return fmt.Errorf("sipgw: %w", err)
	}
	g.srv, err = sipgo.NewServer(g.ua)
	if err != nil {
		return fmt.Errorf("sipgw: %w", err)
	}
	g.cli, err = sipgo.NewClient(g.ua, sipgo.WithClientHostname(host), sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	if err != nil {
		return fmt.Errorf("sipgw: %w", err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "ccswitch", Host: host, Port: g.port}}
	g.in = sipgo.NewDialogServerCache(g.cli, contact)
	g.out = sipgo.NewDialogClientCache(g.cli, contact)

	if g.pres.handler != nil {
		g.srv.OnRegister(g.onRegister) // the registrar's, then presence
	} else {
		g.srv.OnRegister(g.cfg.Registrar.HandleRegister)
	}
	g.srv.OnInvite(g.onInvite)
	g.srv.OnAck(g.onAck)
	g.srv.OnBye(g.onBye)
	g.srv.OnRefer(g.onRefer)
	g.srv.OnUpdate(g.onUpdate)
	g.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// CANCELs matching an INVITE are absorbed by its transaction.
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	})
	g.srv.OnMessage(g.onMessage)
	if g.pres.handler != nil {
		g.srv.OnPublish(g.onPublish)
		g.goOwned(g.expirePublications)
	}
	g.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	unsubscribe := make(chan func(), 1)
	g.cfg.Loop.Post(func() { unsubscribe <- g.ts.Subscribe(g.onEvent) })

	g.goOwned(g.watchRTP) // dead peers: silent RTP, sessions not refreshed
	errc := make(chan error, 5)
	var listening sync.WaitGroup // the listeners' goroutines
	listening.Go(func() { errc <- g.srv.ServeUDP(pc) })
	streams := []struct {
		ln    net.Listener
		serve func(net.Listener) error
	}{{l.TCP, g.srv.ServeTCP}, {l.TLS, g.srv.ServeTLS}, {l.WS, g.srv.ServeWS}, {l.WSS, g.srv.ServeWSS}}
	for _, st := range streams {
		if st.ln != nil {
			listening.Go(func() { errc <- st.serve(st.ln) })
		}
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	g.cancel()
	select {
	case u := <-unsubscribe:
		g.cfg.Loop.Post(u)
	default:
	}
	g.goMu.Lock()
	g.closing = true
	g.goMu.Unlock()
	g.hangUpAll()
	// The hang-ups under way (BYEs, CANCELs and their retransmissions)
	// need the transports, and so does any request a goroutine of the
	// gateway still sends: were the sockets closed first, sipgo would open
	// a new one for it (and read it for ever). So the transports close
	// only once the gateway's goroutines are done. A peer that keeps one
	// waiting (a 200 never acknowledged, a BYE never answered) is not
	// waited for past closeWait: the transactions still open are
	// terminated then, which ends those waits, and each goroutine's own
	// requests are bounded by their contexts.
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		g.log.Warn().Dur("after", closeWait).Msg("calls still ending; ending their SIP transactions")
		g.ua.TransactionLayer().Close()
		<-done
	}
	_ = pc.Close()
	for _, st := range streams {
		if st.ln != nil {
			_ = st.ln.Close()
		}
	}
	_ = g.srv.Close()
	_ = g.ua.Close()
	listening.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("sipgw: %w", err)
	}
	return nil
}

// rtpPortCalls is how many calls the RTP port range carries: one even
// port each (RFC 3550 §11).
func rtpPortCalls(minPort, maxPort int) int {
	first := minPort + minPort%2
	if first > maxPort {
		return 1
	}
	return (maxPort-first)/2 + 1
}

// overloaded reports why a new INVITE must be refused now, or "": too
// many set-ups in progress, or too much work waiting on the loop.
func (g *Gateway) overloaded() string {
	switch {
	case g.cfg.MaxSetups > 0 && g.setups.Load() >= int64(g.cfg.MaxSetups):
		return "set-ups"
	case g.cfg.MaxLoopBacklog > 0 && g.cfg.Loop.Pending() >= g.cfg.MaxLoopBacklog:
		return "loop backlog"
	case g.cfg.MaxPlaying > 0 && g.playing.Load() >= int64(g.cfg.MaxPlaying):
		return "calls waiting"
	}
	return ""
}

// Overload returns the INVITE server transactions in progress and how
// many new INVITEs were refused for overload so far.
func (g *Gateway) Overload() (setups, refused int64) {
	return g.setups.Load(), g.refused.Load()
}

// defaultMaxCalls leaves room under the open-file limit for the
// listeners, logs and HTTP clients.
func defaultMaxCalls() int {
	var rl syscall.Rlimit
	switch err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); {
	case err != nil || rl.Cur < 1024:
		return 256
	case rl.Cur < 4096:
		return int(rl.Cur / 2)
	}
	return int(min(rl.Cur-1024, 1<<20))
}

// closeWait bounds how long Serve, stopping, keeps its transports open
// for the calls that are ending (a BYE's transaction lasts up to 32 s when
// a peer never answers it; 5 s covers its retransmissions on loopback
// and on any LAN).
const closeWait = 5 * time.Second

// goOwned runs f on a goroutine the gateway owns: Serve waits for it
// before it returns. Once Serve is closing, f does not run and goOwned
// reports false.
func (g *Gateway) goOwned(f func()) bool {
	g.goMu.Lock()
	defer g.goMu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Go(f)
	return true
}

// enter counts the calling goroutine (a SIP handler that carries a call)
// as one the gateway owns; it must call g.wg.Done when it returns. It
// reports false, counting nothing, once Serve is closing.
func (g *Gateway) enter() bool {
	g.goMu.Lock()
	defer g.goMu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// Drain makes the gateway refuse new calls (503 with Retry-After: 30)
// while it keeps carrying the calls it has: a center that is closing.
// Requests within a call (re-INVITE, BYE, REFER) are still served.
func (g *Gateway) Drain() { g.draining.Store(true) }

// Calls is the number of calls the gateway carries (inbound and
// outbound).
func (g *Gateway) Calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls) + len(g.outbound)
}

// full reports whether the gateway carries as many calls as it may.
func (g *Gateway) full() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)+len(g.outbound) >= g.cfg.MaxCalls
}

// statusOf maps domain error kinds to SIP responses: the one table.
func statusOf(err error) (int, string) {
	switch pbx.KindOf(err) {
	case pbx.Invalid:
		return sip.StatusBadRequest, "Bad Request"
	case pbx.NotFound:
		return sip.StatusNotFound, "Not Found"
	case pbx.Busy:
		return sip.StatusBusyHere, "Busy Here"
	case pbx.Unavailable:
		return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
	case pbx.Conflict:
		return 409, "Conflict"
	case pbx.Permission:
		return sip.StatusForbidden, "Forbidden"
	}
	return sip.StatusInternalServerError, "Server Internal Error"
}

// do runs f on the domain's loop and waits for it.
func (g *Gateway) do(f func()) error {
	ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
	defer cancel()
	return g.cfg.Loop.Do(ctx, f)
}

// post runs f on the domain's loop without waiting.
func (g *Gateway) post(f func()) { g.cfg.Loop.Post(f) }

func (g *Gateway) call(id pbx.ConnID) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[id]
}

// Offer rings the agent's phone: tserver.Endpoints, on the loop.
func (g *Gateway) Offer(c *tserver.Contact, a *tserver.Agent) {
	if cl := g.call(c.ID); cl != nil {
		g.ringAgent(cl, a)
		return
	}
	if _, ours := c.UserData.Get(sipCallIDKey); ours {
		// Offered from inside our own Arrive, before the call is known.
		g.pending[c.ID] = a
		return
	}
	// An interaction that did not come over SIP (a simulated trunk, a
	// chat routed to a SIP phone's agent): only the agent's leg exists.
	ctx, cancel := context.WithCancel(g.ctx)
	cl := &call{g: g, id: c.ID, codec: media.PCMU, ctx: ctx, cancel: cancel}
	g.mu.Lock()
	g.calls[c.ID] = cl
	g.mu.Unlock()
	g.ringAgent(cl, a)
}

// sipCallIDKey is the attached-data key of the customer's SIP Call-ID.
const sipCallIDKey = "sip_call_id"

// onEvent follows the domain's CTI events (on the loop): when an
// interaction the gateway carries is over, both legs are hung up.
func (g *Gateway) onEvent(e tserver.Event) {
	switch e.Type {
	case tserver.EventEstablished:
		// Answered by an agent without a SIP phone (a simulated desk or a
		// CTI-only agent): the customer stops hearing announcements.
		if cl := g.call(e.ConnID); cl != nil {
			g.goOwned(cl.answeredElsewhere)
		}
		return
	case tserver.EventReleased:
		if e.Reason != "" { // an agent leg only: transfer or refused offer
			return
		}
	case tserver.EventAbandoned:
	default:
		return
	}
	delete(g.pending, e.ConnID)
	if cl := g.call(e.ConnID); cl != nil {
		g.goOwned(cl.hangUp)
	}
	g.mu.Lock()
	o := g.outbound[e.ConnID]
	g.mu.Unlock()
	if o != nil {
		g.goOwned(o.hangUp)
	}
}

func (g *Gateway) hangUpAll() {
	g.mu.Lock()
	calls := make([]*call, 0, len(g.calls))
	for _, c := range g.calls {
		calls = append(calls, c)
	}
	outs := make([]*outbound, 0, len(g.outbound))
	for _, o := range g.outbound {
		outs = append(outs, o)
	}
	g.mu.Unlock()
	for _, c := range calls {
		c.hangUp()
	}
	for _, o := range outs {
		o.hangUp()
	}
}
