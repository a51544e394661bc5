// Package xmpp is the gateway's XMPP adapter: an XEP-0114 external
// component (mellium.im/xmpp) that owns a domain such as
// support.example.test on the center's XMPP server. Customers write, from
// any XMPP client on any server federated with it, to the center's one
// public address support@<domain>; every message to a customer leaves
// from exactly that address, so no agent's address ever reaches one.
//
// The adapter turns messages (XEP-0085 chat states included), bounces,
// presence per device and detected client software (XEP-0092, XEP-0115,
// XEP-0030) into imgw.Inbound events, and delivers imgw.Outbound
// messages. It approves presence subscriptions, remembers subscribers in
// a SubscriberStore and probes them after every (re)connect, answers
// probes, disco#info, software version and ping, and reconnects with
// exponential back-off while keeping messages sent during an outage.
package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/version"

	"github.com/ccswitch/ccswitch/imgw"
)

// Defaults for the zero values of Config.
const (
	DefaultPublic         = "support"
	DefaultMaxStanzaBytes = 64 << 10
	DefaultOutboxSize     = 1024
	DefaultInboxSize      = 4096
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultTimeout        = 10 * time.Second
	DefaultSoftwareName   = "ccswitch"
)

// maxInfoQueries bounds the client-information queries in flight.
const maxInfoQueries = 16

// maxTracked bounds the per-connection maps of devices (queried,
// caps); past it they are cleared, at worst re-querying a device.
const maxTracked = 10000

// maxInfoField caps each client-information string reported.
const maxInfoField = 256

// maxSent is how many sent message ids the adapter remembers to check
// bounces against.
const maxSent = 8192

// Config configures an Adapter.
type Config struct {
	// Addr is the server's component port, host:port.
	Addr string
	// Domain is the component's domain, e.g. support.example.test, and
	// Secret its shared secret (XEP-0114 handshake).
	Domain string
	Secret string
	// Public is the local part of the center's public address (default
	// "support": support@<Domain>).
	Public string
	// Receiver gets the inbound events, one at a time, from a goroutine
	// of the adapter (default: dropped).
	Receiver imgw.Receiver
	// Subscribers remembers presence subscribers (default: in memory).
	Subscribers SubscriberStore
	// Log gets the adapter's log lines (default: none).
	Log zerolog.Logger
	// MaxStanzaBytes is the largest stanza accepted from a customer;
	// a larger message is refused with a policy-violation error to its
	// sender and not forwarded, and a larger Outbound text bounces.
	MaxStanzaBytes int
	// OutboxSize bounds the messages kept while disconnected (or not
	// yet written); past it Send bounces with resource-constraint.
	OutboxSize int
	// InboxSize bounds the events waiting for the Receiver; past it
	// events are dropped (and logged).
	InboxSize int
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts: it doubles after every failed attempt, with jitter, and
	// starts again from BackoffMin after a successful handshake.
	BackoffMin, BackoffMax time.Duration
	// SoftwareName and SoftwareVersion answer XEP-0092 queries (no OS
	// is disclosed).
	SoftwareName    string
	SoftwareVersion string
	// Timeout bounds a connection attempt (dial and handshake), every
	// write, and each client-information query.
	Timeout time.Duration
	// Dial opens the TCP connection (default net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

type nopReceiver struct{}

func (nopReceiver) Receive(imgw.Inbound) {}

// Adapter is the XMPP component. Create it with New, run it with Run;
// Send is safe from any goroutine at any time.
type Adapter struct {
	cfg     Config
	log     zerolog.Logger
	network string
	domain  jid.JID // support.example.test
	self    jid.JID // support@support.example.test
	selfStr string
	running atomic.Bool
	// connects counts successful handshakes (tests check that hostile
	// stanzas cause no reconnect).
	connects atomic.Int64
	subs     SubscriberStore
	inbox    inbox
	infoSem  chan struct{}

	mu     sync.Mutex
	outbox []queued
	rcpts  map[imgw.Address]rcpt // recipients checked, up to maxTracked
	// chatStates holds the devices whose last message carried an XEP-0085
	// chat state (up to maxTracked): only they get chat states back.
	chatStates map[imgw.Address]bool
	sess       *xmpp.Session
	connected  chan struct{} // closed while connected
	down       chan struct{} // closed while disconnected
	asked      map[string]bool
	sent       sentLog
	wake       chan struct{} // outbox not empty (cap 1)
}

// queued is a message in the outbox, with its recipient checked.
type queued struct {
	out imgw.Outbound
	rcpt
}

// rcpt is a checked recipient: the JID a message goes to, and its bare
// JID.
type rcpt struct {
	to, bare string
}

// sentLog remembers the recipients (bare JIDs) of the last maxSent
// messages by id, so that a bounce is reported only when it comes from
// the recipient of the message it names: a customer cannot forge the
// bounce of a message sent to someone else.
type sentLog struct {
	ring []string // ids, oldest overwritten first
	next int
	to   map[string]string
}

func (l *sentLog) add(id, bare string) {
	if l.to == nil {
		l.ring = make([]string, maxSent)
		l.to = make(map[string]string, maxSent)
	}
	if _, ok := l.to[id]; !ok {
		if old := l.ring[l.next]; old != "" {
			delete(l.to, old)
		}
		l.ring[l.next] = id
		l.next = (l.next + 1) % maxSent
	}
	l.to[id] = bare
}

var _ imgw.Adapter = (*Adapter)(nil)

// New checks cfg, fills in defaults and returns an adapter that is not
// yet connected (see Run).
func New(cfg Config) (*Adapter, error) {
	if cfg.Addr == "" {
		return nil, errors.New("xmpp: no component address")
	}
	if cfg.Secret == "" {
		return nil, errors.New("xmpp: no component secret")
	}
	if cfg.Public == "" {
		cfg.Public = DefaultPublic
	}
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || cfg.Domain == "" || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return nil, fmt.Errorf("xmpp: bad component domain %q: %v", cfg.Domain, err)
	}
	self, err := jid.New(cfg.Public, domain.Domainpart(), "")
	if err != nil {
		return nil, fmt.Errorf("xmpp: bad public address %q@%s: %w", cfg.Public, cfg.Domain, err)
	}
	if cfg.Receiver == nil {
		cfg.Receiver = nopReceiver{}
	}
	if cfg.Subscribers == nil {
		cfg.Subscribers = &MemSubscribers{}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxStanzaBytes, DefaultMaxStanzaBytes)
	def(&cfg.OutboxSize, DefaultOutboxSize)
	def(&cfg.InboxSize, DefaultInboxSize)
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defd(&cfg.BackoffMin, DefaultBackoffMin)
	defd(&cfg.BackoffMax, DefaultBackoffMax)
	defd(&cfg.Timeout, DefaultTimeout)
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.SoftwareName == "" {
		cfg.SoftwareName = DefaultSoftwareName
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	a := &Adapter{
		cfg:       cfg,
		log:       cfg.Log.With().Str("adapter", "xmpp:"+domain.String()).Logger(),
		network:   "xmpp:" + domain.String(),
		domain:    domain,
		self:      self,
		selfStr:   self.String(),
		subs:      cfg.Subscribers,
		infoSem:   make(chan struct{}, maxInfoQueries),
		connected: make(chan struct{}),
		down:      closedChan(),
		asked:     make(map[string]bool),
		rcpts:     make(map[imgw.Address]rcpt),
		wake:      make(chan struct{}, 1),

		chatStates: make(map[imgw.Address]bool),
	}
	a.inbox.init(cfg.InboxSize)
	return a, nil
}

// Network implements imgw.Adapter: "xmpp:" + Domain.
func (a *Adapter) Network() string { return a.network }

// AuthenticatesUsers implements imgw.UserAuthenticator: the XMPP server
// the component is attached to authenticated the sender's JID (its own
// users by login, other domains' by server-to-server authentication), so
// a bare JID linked to a customer verifies that customer's chats.
func (a *Adapter) AuthenticatesUsers() bool { return true }

var _ imgw.UserAuthenticator = (*Adapter)(nil)

// Public returns the center's public address, support@<Domain>.
func (a *Adapter) Public() string { return a.selfStr }

// Connected reports whether the component is connected to the server.
func (a *Adapter) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sess != nil
}

// WaitConnected waits until the component is connected (it returns at
// once if it is), or ctx ends.
func (a *Adapter) WaitConnected(ctx context.Context) error {
	a.mu.Lock()
	ch := a.connected
	a.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xmpp: waiting for the connection: %w", ctx.Err())
	}
}

// waitDisconnected waits until the component is disconnected.
func (a *Adapter) waitDisconnected(ctx context.Context) error {
	a.mu.Lock()
	ch := a.down
	a.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xmpp: waiting for the disconnect: %w", ctx.Err())
	}
}

func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Send implements imgw.Adapter. It queues out for the connection's
// writer and returns at once. While disconnected, messages wait (in
// order, at most OutboxSize) and go out after the reconnect; a pure chat
// state (no text) is dropped instead, being stale by then. What cannot be
// sent comes back as a Bounce: a bad address (jid-malformed), a text over
// MaxStanzaBytes (policy-violation) or a full outbox
// (resource-constraint).
//
// Chat states follow XEP-0085's negotiation: a device gets them only
// while its own messages carry them. A chat state for any other device
// is left out of a message, and a pure chat state is not sent at all.
func (a *Adapter) Send(out imgw.Outbound) {
	if out.State != imgw.StateNone {
		a.mu.Lock()
		wanted := a.chatStates[out.To]
		a.mu.Unlock()
		if !wanted {
			out.State = imgw.StateNone
		}
	}
	if out.Text == "" && out.State == imgw.StateNone {
		return
	}
	r, err := a.checkRecipient(out.To)
	if err != nil {
		a.log.Warn().Err(err).Str("id", out.ID).Msg("outbound message dropped")
		a.bounce(out, "jid-malformed")
		return
	}
	if len(out.Text) > a.cfg.MaxStanzaBytes {
		a.bounce(out, "policy-violation")
		return
	}
	a.mu.Lock()
	if a.sess == nil && out.Text == "" {
		a.mu.Unlock()
		return
	}
	if len(a.outbox) >= a.cfg.OutboxSize {
		a.mu.Unlock()
		a.log.Warn().Str("id", out.ID).Int("outbox", a.cfg.OutboxSize).Msg("outbox full; message bounced")
		a.bounce(out, "resource-constraint")
		return
	}
	a.outbox = append(a.outbox, queued{out, r})
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// checkRecipient is recipient, remembered: checking a JID (PRECIS) is
// costly, and a chat's messages all go to the same one.
func (a *Adapter) checkRecipient(to imgw.Address) (rcpt, error) {
	a.mu.Lock()
	r, ok := a.rcpts[to]
	a.mu.Unlock()
	if ok {
		return r, nil
	}
	j, err := a.recipient(to)
	if err != nil {
		return rcpt{}, err
	}
	r = rcpt{to: j.String(), bare: j.Bare().String()}
	a.mu.Lock()
	if len(a.rcpts) >= maxTracked {
		clear(a.rcpts)
	}
	a.rcpts[to] = r
	a.mu.Unlock()
	return r, nil
}

// recipient checks that to is a device on this adapter's network that
// is not inside the component's own domain.
func (a *Adapter) recipient(to imgw.Address) (jid.JID, error) {
	if to.Network != a.network {
		return jid.JID{}, fmt.Errorf("xmpp: address on network %q, not %q", to.Network, a.network)
	}
	j, err := jid.Parse(to.User)
	if err != nil {
		return jid.JID{}, fmt.Errorf("xmpp: bad user %q: %w", to.User, err)
	}
	if j.Resourcepart() != "" || j.Localpart() == "" {
		return jid.JID{}, fmt.Errorf("xmpp: user %q is no bare JID", to.User)
	}
	if j.Domainpart() == a.domain.Domainpart() {
		return jid.JID{}, fmt.Errorf("xmpp: user %q is inside the component's domain", to.User)
	}
	if to.Device != "" {
		if j, err = jid.New(j.Localpart(), j.Domainpart(), to.Device); err != nil {
			return jid.JID{}, fmt.Errorf("xmpp: bad device %q: %w", to.Device, err)
		}
	}
	return j, nil
}

// noteChatStates remembers whether the device that sent in wants chat
// states (XEP-0085 §5.1): it does while its messages carry one, and no
// longer once it sends a message without.
func (a *Adapter) noteChatStates(in imgw.Inbound) {
	uses := in.State != imgw.StateNone
	a.mu.Lock()
	defer a.mu.Unlock()
	if uses == a.chatStates[in.From] {
		return
	}
	if !uses {
		delete(a.chatStates, in.From)
		return
	}
	if len(a.chatStates) >= maxTracked {
		clear(a.chatStates)
	}
	a.chatStates[in.From] = true
}

func (a *Adapter) bounce(out imgw.Outbound, cond string) {
	a.post(imgw.Inbound{Kind: imgw.Bounce, From: out.To, ID: out.ID, Error: cond})
}

// post hands an event to the Receiver's goroutine without blocking.
func (a *Adapter) post(in imgw.Inbound) {
	if !a.inbox.push(in) {
		a.log.Error().Str("from", in.From.String()).Int("kind", int(in.Kind)).
			Msg("inbox full; event dropped")
	}
}

// Run connects to the server and serves the component until ctx ends,
// reconnecting with exponential back-off and jitter whenever the
// connection fails or the server goes away. It delivers inbound events
// to the Receiver while it runs. It returns nil when ctx ends, and an
// error only if it is already running.
func (a *Adapter) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("xmpp: adapter already running")
	}
	defer a.running.Store(false)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.inbox.run(ctx, a.cfg.Receiver) })

	backoff := a.cfg.BackoffMin
	for {
		connected, err := a.connection(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = a.cfg.BackoffMin
		}
		// Full jitter over the upper half: [backoff/2, backoff).
		wait := backoff/2 + rand.N(backoff/2+1)
		a.log.Warn().Err(err).Dur("retry_in", wait).Msg("component disconnected")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, a.cfg.BackoffMax)
	}
}

// connection makes one connection attempt and, when the handshake
// succeeds, serves it until it ends. It reports whether the handshake
// succeeded, and why the connection ended.
func (a *Adapter) connection(ctx context.Context) (bool, error) {
	start := time.Now()
	// Cancelled only when the connection ends: see conn.write.
	dctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	nc, err := a.cfg.Dial(dctx, "tcp", a.cfg.Addr)
	if err != nil {
		return false, fmt.Errorf("xmpp: dial %s: %w", a.cfg.Addr, err)
	}
	sess, err := component.NewSession(dctx, a.domain, []byte(a.cfg.Secret), nc)
	if err != nil {
		nc.Close()
		return false, fmt.Errorf("xmpp: handshake with %s as %s: %w", a.cfg.Addr, a.domain, err)
	}
	a.connects.Add(1)
	a.log.Info().Str("addr", a.cfg.Addr).Dur("took", time.Since(start)).Msg("component connected")

	cctx, ccancel := context.WithCancel(ctx)
	c := &conn{
		a:       a,
		nc:      nc,
		sess:    sess,
		ctx:     cctx,
		queried: make(map[string]bool),
		caps:    make(map[string]string),
	}
	a.mu.Lock()
	a.sess = sess
	close(a.connected)
	a.down = make(chan struct{})
	a.mu.Unlock()

	serveErr := make(chan error, 1)
	go func() { serveErr <- sess.Serve(c) }()
	writeErr := make(chan error, 1)
	go func() { writeErr <- c.writeLoop() }()

	var served, wrote bool
	select {
	case err = <-serveErr:
		served = true
		if err == nil {
			err = errors.New("xmpp: server closed the stream")
		}
	case err = <-writeErr:
		wrote = true
	case <-ctx.Done():
	}
	a.mu.Lock()
	a.sess = nil
	a.connected = make(chan struct{})
	close(a.down)
	a.mu.Unlock()
	ccancel()
	c.abortWrite()
	if !wrote {
		<-writeErr
	}
	_ = nc.SetWriteDeadline(time.Time{}) // the writer is done
	if ctx.Err() != nil {
		a.log.Info().Msg("component stopping")
	}
	if !served {
		if ctx.Err() != nil {
			// Leaving: close our stream and give the server a moment
			// to close its own. (The connection's deadline, not
			// Session.SetCloseDeadline, which races with Serve.)
			_ = nc.SetReadDeadline(time.Now().Add(time.Second))
			_ = sess.Close()
		}
		nc.Close()
		<-serveErr
	}
	nc.Close()
	c.wg.Wait()
	return true, err
}

// conn is one component connection: Serve's handler, the writer, and
// the client-information queries.
type conn struct {
	a    *Adapter
	nc   net.Conn
	sess *xmpp.Session
	ctx  context.Context
	wg   sync.WaitGroup // client-information queries
	wmu  sync.Mutex     // orders the writer's write deadlines with abortWrite

	// Only Serve's goroutine (the handler) uses these.
	queried map[string]bool   // full JIDs queried for client info
	jids    jidCache          // addresses of stanzas read
	caps    map[string]string // full JID -> caps node#ver reported
}

// writeLoop announces the component to its subscribers, probes them so
// that their presence is learned again, then writes the outbox until the
// connection ends. It writes what is queued, up to maxBurst messages, at
// once, and takes those messages off the outbox only once written.
func (c *conn) writeLoop() error {
	a := c.a
	subs, err := a.subs.Subscribers(a.network)
	if err != nil {
		a.log.Error().Err(err).Msg("subscribers not loaded; no presence probes")
	}
	for _, s := range subs {
		to, err := jid.Parse(s)
		if err != nil {
			continue
		}
		to = to.Bare()
		if err := c.write(presence(a.selfStr, to.String(), ""), presence(a.selfStr, to.String(), "probe")); err != nil {
			return err
		}
	}
	if len(subs) > 0 {
		a.log.Debug().Int("subscribers", len(subs)).Msg("probed subscribers")
	}
	var (
		burst []queued
		raw   []byte
	)
	for {
		a.mu.Lock()
		n := min(len(a.outbox), maxBurst)
		burst = append(burst[:0], a.outbox[:n]...)
		for _, q := range burst {
			if q.out.ID != "" {
				a.sent.add(q.out.ID, q.bare)
			}
		}
		a.mu.Unlock()
		if n == 0 {
			select {
			case <-a.wake:
				continue
			case <-c.ctx.Done():
				return nil
			}
		}
		raw = raw[:0]
		for _, q := range burst {
			id := q.out.ID
			if id == "" {
				id = randomID()
			}
			raw = appendMessage(raw, a.selfStr, q.to, id, q.out.Text, q.out.State)
		}
		if err := c.writeRaw(raw); err != nil {
			return err
		}
		a.mu.Lock()
		clear(a.outbox[:n])
		a.outbox = a.outbox[n:]
		if len(a.outbox) == 0 {
			a.outbox = nil
		}
		a.mu.Unlock()
		clear(burst)
	}
}

// writeRaw writes stanzas already serialized (appendMessage) straight to
// the connection, in one system call, failing if the server does not take
// them within Timeout. It holds the session's token writer meanwhile, so
// that nothing the session writes (an IQ answer) can come in between; the
// session's encoder has nothing buffered then (each of its writers
// flushes when it closes).
func (c *conn) writeRaw(b []byte) error {
	return c.writing(func(xmlstream.TokenWriteFlushCloser) error {
		_, err := c.nc.Write(b)
		return err
	})
}

// maxBurst caps the messages written at once, in one system call.
const maxBurst = 64

// write sends stanzas, in one write when they fit the encoder's buffer,
// failing if the server does not take them within Timeout. It writes
// through the session's token writer, with the connection's write
// deadline as its timeout, rather than through Session.Send: Send starts
// a goroutine per stanza to watch its context and flushes each stanza
// on its own.
func (c *conn) write(stanzas ...tokens) error {
	return c.writing(func(w xmlstream.TokenWriteFlushCloser) error {
		for i := range stanzas {
			if _, err := xmlstream.Copy(w, &stanzas[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// writing runs f with the session's token writer held (so that nothing
// else the session writes comes in between) and the connection's write
// deadline set; closing the token writer flushes what f encoded.
func (c *conn) writing(f func(w xmlstream.TokenWriteFlushCloser) error) error {
	if !c.armWrite() {
		return fmt.Errorf("xmpp: write: %w", net.ErrClosed)
	}
	w := c.sess.TokenWriter()
	err := f(w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	c.disarmWrite()
	if err != nil {
		return fmt.Errorf("xmpp: write: %w", err)
	}
	return nil
}

// armWrite sets the write deadline for a write of the writer, unless the
// connection is ending.
func (c *conn) armWrite() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx.Err() != nil {
		return false
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.a.cfg.Timeout))
	return true
}

// disarmWrite clears the write deadline after a write of the writer.
func (c *conn) disarmWrite() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx.Err() == nil {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
}

// abortWrite makes a write of the writer in progress fail at once (the
// connection is ending); once the writer has returned, the caller clears
// the deadline again for the stream's closing tag.
func (c *conn) abortWrite() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Unix(1, 0))
}

// HandleXMPP is Serve's handler. It runs with the session's input locked
// (and its output too once it writes), so it answers only by writing to
// t and never calls the session's send methods; everything slow happens
// in other goroutines. It never returns an error, since that would end
// the stream: whatever a peer sends, the component stays connected.
func (c *conn) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	a := c.a
	st, err := decodeStanza(*start, t, a.cfg.MaxStanzaBytes)
	tooBig := errors.Is(err, errTooBig)
	if err != nil && !tooBig {
		a.log.Debug().Err(err).Str("stanza", start.Name.Local).Msg("unreadable stanza")
	}
	var out tokens
	switch st.Kind {
	case "message":
		out = c.onMessage(&st, tooBig)
	case "presence":
		out = c.onPresence(&st, tooBig)
	case "iq":
		out = c.onIQ(&st, tooBig)
	default:
		a.log.Debug().Str("element", start.Name.Local).Msg("unknown top-level element ignored")
	}
	if len(out) > 0 {
		if _, err := xmlstream.Copy(t, &out); err != nil {
			a.log.Debug().Err(err).Msg("reply not written")
		}
	}
	return nil
}

// addressee classifies a stanza's to: our public address, our bare
// domain, or anything else.
func (c *conn) addressee(to string) (public, domain bool) {
	a := c.a
	j, err := c.jids.parse(to)
	if err != nil || j.Domainpart() != a.domain.Domainpart() {
		return false, false
	}
	if j.Localpart() == "" {
		return false, j.Resourcepart() == ""
	}
	return j.Localpart() == a.self.Localpart(), false
}

func (c *conn) onMessage(st *inStanza, tooBig bool) tokens {
	a := c.a
	public, _ := c.addressee(st.To)
	switch {
	case st.Type == "error":
		in, ok := st.inboundParsed(a.network, c.jids.parse)
		if !public || !ok {
			return nil
		}
		a.mu.Lock()
		to, sent := a.sent.to[st.ID]
		a.mu.Unlock()
		if !sent || to != in.From.User {
			a.log.Debug().Str("from", st.From).Str("id", st.ID).Msg("error for no message sent to its sender; ignored")
			return nil
		}
		a.log.Debug().Str("from", st.From).Str("id", st.ID).Str("error", in.Error).Msg("bounce")
		a.post(in)
		return nil
	case st.Type == "headline" || st.Type == "groupchat":
		return nil
	case !public:
		// Only the public address exists; say nothing else about it.
		return errorStanza("message", a.selfStr, st.From, st.ID, "cancel", "service-unavailable", "")
	case tooBig:
		a.log.Info().Str("from", st.From).Int("max", a.cfg.MaxStanzaBytes).Msg("message too large; refused")
		return errorStanza("message", a.selfStr, st.From, st.ID, "modify", "policy-violation", "message too large")
	}
	in, ok := st.inboundParsed(a.network, c.jids.parse)
	if !ok {
		return nil
	}
	a.noteChatStates(in)
	a.post(in)
	if from, err := c.jids.parse(st.From); err == nil {
		c.queryClient(from)
	}
	return nil
}

func (c *conn) onPresence(st *inStanza, tooBig bool) tokens {
	a := c.a
	from, err := c.jids.parse(st.From)
	if public, _ := c.addressee(st.To); !public || err != nil || st.From == "" || tooBig {
		return nil
	}
	bare := from.Bare().String()
	switch st.Type {
	case "subscribe":
		// Approve, show ourselves, and subscribe back once.
		out := presence(a.selfStr, bare, "subscribed")
		out = append(out, presence(a.selfStr, bare, "")...)
		a.mu.Lock()
		ask := !a.asked[bare]
		a.asked[bare] = true
		a.mu.Unlock()
		if ask {
			out = append(out, presence(a.selfStr, bare, "subscribe")...)
		}
		if err := a.subs.AddSubscriber(a.network, bare); err != nil {
			a.log.Error().Err(err).Str("jid", bare).Msg("subscriber not stored")
		}
		a.log.Debug().Str("jid", bare).Bool("subscribe_back", ask).Msg("subscription approved")
		return out
	case "subscribed":
		if err := a.subs.AddSubscriber(a.network, bare); err != nil {
			a.log.Error().Err(err).Str("jid", bare).Msg("subscriber not stored")
		}
		return nil
	case "unsubscribe", "unsubscribed":
		a.mu.Lock()
		delete(a.asked, bare)
		a.mu.Unlock()
		if err := a.subs.RemoveSubscriber(a.network, bare); err != nil {
			a.log.Error().Err(err).Str("jid", bare).Msg("subscriber not removed")
		}
		if st.Type == "unsubscribe" {
			out := presence(a.selfStr, bare, "unsubscribed")
			return append(out, presence(a.selfStr, bare, "unavailable")...)
		}
		return nil
	case "probe":
		return presence(a.selfStr, st.From, "")
	}
	in, ok := st.inboundParsed(a.network, c.jids.parse)
	if !ok {
		return nil
	}
	a.post(in)
	full := from.String()
	if !in.Presence.Available {
		delete(c.queried, full)
		delete(c.caps, full)
		return nil
	}
	if st.CapsNode != "" {
		key := st.CapsNode + "#" + st.CapsVer
		if c.caps[full] != key {
			if len(c.caps) >= maxTracked {
				clear(c.caps)
			}
			c.caps[full] = key
			if ci := capsClient(truncate(st.CapsNode)); ci != nil {
				a.post(imgw.Inbound{Kind: imgw.Client, From: in.From, Client: ci})
			}
		}
	}
	c.queryClient(from)
	return nil
}

func (c *conn) onIQ(st *inStanza, tooBig bool) tokens {
	a := c.a
	if st.Type != "get" && st.Type != "set" {
		return nil // a late or unknown response
	}
	// Always answer a get or set ourselves: mellium's default answer
	// would parse the sender's address and end the stream if it failed.
	public, domain := c.addressee(st.To)
	from := a.selfStr
	if domain {
		from = a.domain.String()
	}
	fail := func(typ, cond, text string) tokens {
		return errorStanza("iq", from, st.From, st.ID, typ, cond, text)
	}
	switch {
	case !public && !domain:
		return fail("cancel", "service-unavailable", "")
	case tooBig:
		return fail("modify", "policy-violation", "request too large")
	case st.Type != "get":
		return fail("cancel", "service-unavailable", "")
	case st.Payload == xml.Name{Space: nsDiscoInfo, Local: "query"}:
		if st.PayloadNode != "" {
			return fail("cancel", "item-not-found", "")
		}
		return iqResult(from, st.From, st.ID, a.discoInfo(public))
	case st.Payload == xml.Name{Space: nsVersion, Local: "query"}:
		q := tokens{xml.StartElement{Name: xml.Name{Space: nsVersion, Local: "query"}}}
		q = append(q, textElement("name", a.cfg.SoftwareName)...)
		if a.cfg.SoftwareVersion != "" {
			q = append(q, textElement("version", a.cfg.SoftwareVersion)...)
		}
		q = append(q, xml.EndElement{Name: xml.Name{Space: nsVersion, Local: "query"}})
		return iqResult(from, st.From, st.ID, q)
	case st.Payload == xml.Name{Space: nsPing, Local: "ping"}:
		return iqResult(from, st.From, st.ID, nil)
	}
	return fail("cancel", "service-unavailable", "")
}

// discoInfo describes the public address (an automated client) or the
// component's domain (a generic component).
func (a *Adapter) discoInfo(public bool) tokens {
	q := xml.Name{Space: nsDiscoInfo, Local: "query"}
	toks := tokens{xml.StartElement{Name: q}}
	category, typ := "component", "generic"
	if public {
		category, typ = "client", "bot"
	}
	toks = append(toks,
		xml.StartElement{Name: xml.Name{Space: nsDiscoInfo, Local: "identity"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "category"}, Value: category},
			{Name: xml.Name{Local: "type"}, Value: typ},
			{Name: xml.Name{Local: "name"}, Value: a.cfg.SoftwareName},
		}},
		xml.EndElement{Name: xml.Name{Space: nsDiscoInfo, Local: "identity"}})
	features := []string{nsDiscoInfo, nsVersion, nsPing}
	if public {
		features = append(features, nsChatStates)
	}
	for _, f := range features {
		toks = append(toks,
			xml.StartElement{Name: xml.Name{Space: nsDiscoInfo, Local: "feature"}, Attr: []xml.Attr{
				{Name: xml.Name{Local: "var"}, Value: f},
			}},
			xml.EndElement{Name: xml.Name{Space: nsDiscoInfo, Local: "feature"}})
	}
	return append(toks, xml.EndElement{Name: q})
}

// queryClient asks a device, once per connection, which software it
// runs (XEP-0092) and what it is (XEP-0030), in another goroutine with
// the public address as sender (a component's IQ has no implicit from).
// Every answer is optional: errors and timeouts are only logged.
func (c *conn) queryClient(full jid.JID) {
	a := c.a
	key := full.String()
	if full.Resourcepart() == "" || c.queried[key] {
		return
	}
	select {
	case a.infoSem <- struct{}{}:
	default:
		a.log.Debug().Str("jid", key).Msg("too many client queries; skipped for now")
		return
	}
	if len(c.queried) >= maxTracked {
		clear(c.queried)
	}
	c.queried[key] = true
	addr := address(a.network, full)
	c.wg.Go(func() {
		defer func() { <-a.infoSem }()
		// Not cancelled on return but when the timeout passes, for the
		// reason given at write: the context of a finished query must
		// not end while mellium may still be watching it.
		ctx, cancel := context.WithTimeout(c.ctx, a.cfg.Timeout)
		defer time.AfterFunc(a.cfg.Timeout, cancel)
		iq := stanza.IQ{From: a.self, To: full}
		q, err := version.GetIQ(ctx, iq, c.sess)
		switch {
		case err != nil:
			a.log.Debug().Err(err).Str("jid", key).Msg("no software version")
		case q.Name != "":
			a.post(imgw.Inbound{Kind: imgw.Client, From: addr, Client: &imgw.ClientInfo{
				Source: "xep-0092", Family: truncate(q.Name), Version: truncate(q.Version), OS: truncate(q.OS),
			}})
		}
		info, err := disco.GetInfoIQ(ctx, "", iq, c.sess)
		if err != nil {
			a.log.Debug().Err(err).Str("jid", key).Msg("no disco#info")
			return
		}
		if len(info.Identity) == 0 {
			return
		}
		id := info.Identity[0]
		for _, i := range info.Identity {
			if i.Category == "client" {
				id = i
				break
			}
		}
		a.post(imgw.Inbound{Kind: imgw.Client, From: addr, Client: &imgw.ClientInfo{
			Source: "xep-0030", Category: truncate(id.Category), Type: truncate(id.Type),
		}})
	})
}

func truncate(s string) string {
	if len(s) <= maxInfoField {
		return s
	}
	// Cut at a rune boundary.
	for i := maxInfoField; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i]
		}
	}
	return ""
}

// inbox queues inbound events for one goroutine that calls the
// Receiver, so that neither Serve's handler nor Send ever waits for it.
type inbox struct {
	mu   sync.Mutex
	q    []imgw.Inbound
	max  int
	wake chan struct{}
}

func (b *inbox) init(max int) {
	b.max = max
	b.wake = make(chan struct{}, 1)
}

func (b *inbox) push(in imgw.Inbound) bool {
	b.mu.Lock()
	if len(b.q) >= b.max {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, in)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true
}

func (b *inbox) run(ctx context.Context, r imgw.Receiver) {
	for {
		b.mu.Lock()
		q := b.q
		b.q = nil
		b.mu.Unlock()
		for _, in := range q {
			r.Receive(in)
		}
		select {
		case <-b.wake:
		case <-ctx.Done():
			return
		}
	}
}
