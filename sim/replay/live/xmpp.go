package live

import (
	"bufio"
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// XMPP namespaces the customers' clients speak.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsVersion    = "jabber:iq:version"
)

// xmppSide is where the script's XMPP customers log in (--xmpp) and
// whom they write to: one client session per customer JID, shared by its
// chats and presence actions, opened by the first of them. The map
// belongs to the Play goroutine (and Close, after it).
type xmppSide struct {
	addr      string         // the server's client-to-server address
	center    jid.JID        // support@DOMAIN, the center's first XMPP network
	passwords *xmppPasswords // the customers' accounts
	conns     map[string]*xmppConn
}

// xmppConn is one customer JID's client session.
type xmppConn struct {
	c     *Center
	bare  string
	first *replay.Action // the action that logged it in
	sess  *xmpp.Session
	// ctx is what mellium watches while it writes: it is cancelled only
	// when the session closes, since mellium breaks the connection's
	// deadline when a write's context ends (see imgw/xmpp's README).
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu      sync.Mutex
	chat    *chatter // the chat the center's messages go to (the latest opened)
	family  string   // the client the customer's software says it is (XEP-0092)
	version string
}

// needsXMPP reports whether script s has XMPP customers: a chat or a
// presence on network xmpp.
func needsXMPP(s *replay.Script) bool {
	return slices.ContainsFunc(s.Actions, func(a replay.Action) bool {
		return (a.Kind == replay.ChatAction || a.Kind == replay.PresenceAction) && a.Network == "xmpp"
	})
}

// openXMPP prepares the XMPP side when script s needs it: the center's
// domain, the passwords file, a password for every customer.
func (c *Center) openXMPP() error {
	s := c.s
	if !needsXMPP(s) {
		return nil
	}
	// refuseUnsupported checked --xmpp, --xmpp-passwords and the center's
	// XMPP network.
	domain := s.Center.IM.Networks.XMPP[0].Domain
	center, err := jid.New("support", domain, "")
	if err != nil {
		return fmt.Errorf("live: the center's im.networks.xmpp[0].domain %q: %w", domain, err)
	}
	pw, err := readXMPPPasswords(c.cfg.XMPPPasswords)
	if err != nil {
		return fmt.Errorf("live: --xmpp-passwords: %w", err)
	}
	for i := range s.Actions {
		a := &s.Actions[i]
		if a.Network != "xmpp" {
			continue
		}
		var who string
		switch {
		case a.Kind == replay.PresenceAction:
			who = a.Presence
		case a.Kind == replay.ChatAction && a.From != "":
			who = a.From
		default:
			continue
		}
		if _, err := pw.lookup(who); err != nil {
			return fmt.Errorf("%s:%d: script[%d]: %w", s.Path, a.Line, a.Index, err)
		}
	}
	c.xmpp = &xmppSide{addr: c.cfg.XMPP, center: center, passwords: pw, conns: map[string]*xmppConn{}}
	return nil
}

// xmppSession returns customer who's session, logging it in first (a
// is the action that needs it).
func (c *Center) xmppSession(ctx context.Context, who string, a *replay.Action) (*xmppConn, error) {
	if c.xmpp == nil {
		return nil, errors.New("no XMPP server to log the customer in (--xmpp)")
	}
	addr, err := jid.Parse(who)
	if err != nil {
		return nil, fmt.Errorf("customer %q: %w", who, err)
	}
	bare := addr.Bare().String()
	if x := c.xmpp.conns[bare]; x != nil {
		return x, nil
	}
	password, err := c.xmpp.passwords.lookup(bare)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.xmpp.addr)
	if err != nil {
		return nil, fmt.Errorf("customer %s: --xmpp %s: %w", bare, c.xmpp.addr, err)
	}
	// The stream is plain TCP: it is declared Secure so that mellium
	// authenticates without TLS (the server must allow that, as a test
	// server on loopback does).
	features := []xmpp.StreamFeature{xmpp.SASL("", password, sasl.ScramSha1, sasl.Plain), xmpp.BindResource()}
	sess, err := xmpp.NewSession(ctx, addr.Domain(), addr.Bare(), conn, xmpp.Secure,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("customer %s: logging in at %s: %w", bare, c.xmpp.addr, err)
	}
	x := &xmppConn{c: c, bare: bare, first: a, sess: sess}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	c.xmpp.conns[bare] = x
	c.wg.Go(x.serve)
	// Initial presence: the server now routes messages to this resource.
	if err := sess.Send(x.ctx, stanza.Presence{ID: x.id()}.Wrap(nil)); err != nil {
		return nil, fmt.Errorf("customer %s: initial presence: %w", bare, err)
	}
	return x, nil
}

// serve reads the session until it closes.
func (x *xmppConn) serve() {
	err := x.sess.Serve(xmpp.HandlerFunc(x.handle))
	if err != nil && x.c.ctx.Err() == nil && x.ctx.Err() == nil {
		x.c.lateError(x.first, fmt.Errorf("customer %s: the XMPP session ended: %w", x.bare, err))
	}
}

func (x *xmppConn) id() string { return "replay-" + strconv.FormatUint(x.nextID.Add(1), 10) }

// close ends the session: the closing stream tag, then the connection.
func (x *xmppConn) close() {
	_ = x.sess.Conn().SetWriteDeadline(time.Now().Add(2 * time.Second))
	_ = x.sess.Close()
	x.cancel()
	_ = x.sess.Conn().Close()
}

// handle takes one stanza from the server (on the Serve goroutine: it
// must not use the session's send methods, only t).
func (x *xmppConn) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	switch start.Name.Local {
	case "message":
		var m struct {
			stanza.Message
			Body  string        `xml:"body"`
			Error *stanza.Error `xml:"error"`
		}
		// t holds what follows start: the decoder reads the whole element.
		d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
		if err := d.Decode(&m); err != nil {
			x.c.lateError(x.first, fmt.Errorf("customer %s: a message it received: %w", x.bare, err))
			return nil
		}
		if !m.From.Bare().Equal(x.c.xmpp.center) {
			return nil
		}
		x.mu.Lock()
		ch := x.chat
		x.mu.Unlock()
		if ch == nil {
			return nil
		}
		switch {
		case m.Type == stanza.ErrorMessage:
			cond := "unknown condition"
			if m.Error != nil {
				cond = string(m.Error.Condition)
			}
			x.c.lateError(ch.first, fmt.Errorf("chat %s: %s bounced a message of %s: %s", ch.name, m.From, x.bare, cond))
		case m.Body != "":
			x.c.hear(ch, m.Body)
		}
	case "iq":
		return x.answer(t, start)
	}
	return nil
}

// answer answers an IQ get: the software version (the chat's client) and
// disco#info (a client); Serve answers any other IQ with
// service-unavailable.
func (x *xmppConn) answer(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	iq, err := stanza.NewIQ(*start)
	if err != nil || iq.Type != stanza.GetIQ {
		return nil
	}
	var payload xml.StartElement
	for {
		tok, err := t.Token()
		if err != nil {
			return nil
		}
		if se, ok := tok.(xml.StartElement); ok {
			payload = se
			break
		}
	}
	x.mu.Lock()
	family, version := x.family, x.version
	x.mu.Unlock()
	var reply xml.TokenReader
	switch payload.Name {
	case xml.Name{Space: nsVersion, Local: "query"}:
		if family == "" {
			return nil
		}
		reply = xmlstream.Wrap(xmlstream.MultiReader(
			element("name", xmlstream.Token(xml.CharData(family))),
			element("version", xmlstream.Token(xml.CharData(version))),
		), xml.StartElement{Name: payload.Name})
	case xml.Name{Space: nsDiscoInfo, Local: "query"}:
		name := cmp.Or(family, "ccswitch replay")
		reply = xmlstream.Wrap(xmlstream.MultiReader(
			xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "identity"}, Attr: []xml.Attr{
				{Name: xml.Name{Local: "category"}, Value: "client"},
				{Name: xml.Name{Local: "type"}, Value: "pc"},
				{Name: xml.Name{Local: "name"}, Value: name},
			}}),
			feature(nsDiscoInfo),
			feature(nsVersion),
			feature(nsChatStates),
		), xml.StartElement{Name: payload.Name})
	default:
		return nil
	}
	_, err = xmlstream.Copy(t, iq.Result(reply))
	return err
}

func element(local string, inner xml.TokenReader) xml.TokenReader {
	return xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Local: local}})
}

func feature(v string) xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "feature"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: v}}})
}

// message sends a chat message to the center: a body, a chat state, or
// both.
func (x *xmppConn) message(body, state string) error {
	var parts []xml.TokenReader
	if body != "" {
		parts = append(parts, element("body", xmlstream.Token(xml.CharData(body))))
	}
	if state != "" {
		parts = append(parts, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsChatStates, Local: state}}))
	}
	m := stanza.Message{ID: x.id(), To: x.c.xmpp.center, Type: stanza.ChatMessage}
	return x.sess.Send(x.ctx, m.Wrap(xmlstream.MultiReader(parts...)))
}

// presence sends a directed presence to the center: show is chat, away,
// xa, dnd, unavailable, or available (no show).
func (x *xmppConn) presence(show string) error {
	p := stanza.Presence{ID: x.id(), To: x.c.xmpp.center}
	var payload xml.TokenReader
	switch show {
	case "unavailable":
		p.Type = stanza.UnavailablePresence
	case "", "available":
	default:
		payload = element("show", xmlstream.Token(xml.CharData(show)))
	}
	return x.sess.Send(x.ctx, p.Wrap(payload))
}

// xmppLink is an XMPP chat customer: the chat's view of its JID's
// session.
type xmppLink struct {
	x  *xmppConn
	ch *chatter // set once the chatter exists (under x.mu)
}

// The link's writes use the session's own context (xmppConn.ctx): the
// pacer's ctx must not reach mellium.
func (l *xmppLink) say(_ context.Context, line string) error {
	return l.x.message(line, "active")
}

// gone sends the chat state gone (XEP-0085), which the gateway takes for
// the customer leaving the chat.
func (l *xmppLink) gone(context.Context) error { return l.x.message("", "gone") }

// close detaches the chat: the session stays for the JID's other
// actions, until the center closes.
func (l *xmppLink) close() {
	l.x.mu.Lock()
	if l.x.chat == l.ch {
		l.x.chat = nil
	}
	l.x.mu.Unlock()
}

// openXMPPChat opens chat a of customer a.From: its session's
// software version becomes the chat's client.
func (c *Center) openXMPPChat(ctx context.Context, a *replay.Action) (*chatter, error) {
	x, err := c.xmppSession(ctx, a.From, a)
	if err != nil {
		return nil, fmt.Errorf("chat %s: %w", a.Chat, err)
	}
	l := &xmppLink{x: x}
	x.mu.Lock()
	if a.ClientFamily != "" {
		x.family, x.version = a.ClientFamily, a.ClientVersion
	}
	x.mu.Unlock()
	ch := c.newChatter(a, l)
	x.mu.Lock()
	l.ch = ch
	x.chat = ch
	x.mu.Unlock()
	return ch, nil
}

// presence plays a presence action: a directed presence from the
// customer's session to the center.
func (c *Center) presence(ctx context.Context, a *replay.Action) error {
	if a.Network != "xmpp" {
		return fmt.Errorf("--live cannot replay presence on network %s yet", a.Network)
	}
	x, err := c.xmppSession(ctx, a.Presence, a)
	if err != nil {
		return err
	}
	if err := x.presence(a.Show); err != nil {
		return fmt.Errorf("customer %s: presence %s: %w", x.bare, a.Show, err)
	}
	return nil
}

// closeXMPP ends every customer's session.
func (c *Center) closeXMPP() {
	if c.xmpp == nil {
		return
	}
	for _, x := range c.xmpp.conns {
		x.close()
	}
}

// xmppPasswords are the customers' account passwords (--xmpp-passwords):
// one "JID PASSWORD" per line, "*" as the JID for every other; blank
// lines and lines starting with # are ignored.
type xmppPasswords struct {
	path   string
	byJID  map[string]string // by bare JID as jid.Parse writes it
	others *string           // the "*" line's
}

// readXMPPPasswords reads the passwords file at path.
func readXMPPPasswords(path string) (*xmppPasswords, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseXMPPPasswords(path, f)
}

// parseXMPPPasswords parses a passwords file; its errors name path:line.
func parseXMPPPasswords(path string, r io.Reader) (*xmppPasswords, error) {
	p := &xmppPasswords{path: path, byJID: map[string]string{}}
	lines := map[string]int{} // where each JID was given
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		who, password, ok := strings.Cut(line, " ")
		if !ok {
			who, password, ok = strings.Cut(line, "\t")
		}
		password = strings.TrimSpace(password)
		if !ok || password == "" {
			return nil, fmt.Errorf("%s:%d: want JID PASSWORD (or * PASSWORD), got one word", path, n)
		}
		key := who
		if who != "*" {
			addr, err := jid.Parse(who)
			if err != nil || addr.Localpart() == "" || addr.Resourcepart() != "" {
				return nil, fmt.Errorf("%s:%d: %q is not a bare JID (user@domain) or *", path, n, who)
			}
			key = addr.String()
		}
		if first, dup := lines[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s again (first on line %d)", path, n, who, first)
		}
		lines[key] = n
		if who == "*" {
			p.others = &password
		} else {
			p.byJID[key] = password
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// lookup returns the password of customer who.
func (p *xmppPasswords) lookup(who string) (string, error) {
	addr, err := jid.Parse(who)
	if err != nil || addr.Localpart() == "" {
		return "", fmt.Errorf("customer %q is not an XMPP address (user@domain)", who)
	}
	if pw, ok := p.byJID[addr.Bare().String()]; ok {
		return pw, nil
	}
	if p.others != nil {
		return *p.others, nil
	}
	return "", fmt.Errorf("%s has no password for %s (nor a * line)", p.path, addr.Bare())
}
