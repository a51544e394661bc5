// Package sipmsg is the SIP MESSAGE (RFC 3428) network of the IM gateway:
// customers who chat from SIP softphones (Messages, an imgw.Adapter) and
// agents who handle their chats on their SIP phone, chat_via: sip
// (AgentChats, an imgw.AgentDesk). It speaks SIP through the SIP gateway,
// which it knows only as the small interface SIP: the gateway hands it
// the MESSAGEs it receives (sipgw.Gateway.OnMessage) and sends its
// MESSAGEs, in order per target (sipgw.Gateway.SendMessage); internal/live
// connects the two.
package sipmsg

import (
	"context"
	"mime"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// SIP is what the adapter needs from the SIP gateway; *sipgw.Gateway is
// one.
type SIP interface {
	// SendMessage sends req (an out-of-dialog MESSAGE) after the requests
	// sent earlier for the same target had their final response. It does
	// not block: it returns an error, sending nothing, when the gateway
	// does not serve or too many requests wait for target; otherwise done
	// (when not nil) gets nil once a 2xx came, or why req was not
	// delivered ("486 Busy Here", a timeout), on the gateway's goroutine.
	SendMessage(target string, req *sip.Request, done func(error)) error
	// AllowRequest reports whether req's source is within the gateway's
	// per-source rate limit, taking a token when it is.
	AllowRequest(req *sip.Request) bool
	// LocalURI is the address user has at the gateway
	// (sip:user@host:port), valid once the gateway serves.
	LocalURI(user string) sip.Uri
	// Status is the SIP response (code, reason phrase) of a domain error.
	Status(err error) (int, string)
}

// Registrations are where agents' phones are registered;
// *registrar.Registrar is one.
type Registrations interface {
	// Lookup returns user's registered contacts, none when it has none.
	Lookup(user string) []registrar.Contact
}

// Config configures the SIP MESSAGE network.
type Config struct {
	// SIP is the SIP gateway the MESSAGEs come from and go through.
	SIP SIP
	// User is the chat address's user part: customers write to
	// sip:User@switch (default support).
	User string
	// Receiver takes what customers write: the IM gateway.
	Receiver imgw.Receiver
	Log      zerolog.Logger

	// For agents who chat on their phones (EnableAgentChats):
	// Registrations finds their phones, Loop runs the domain (a phone's
	// line is carried out there) and TServer is the domain (an agent's
	// "/end" releases its chat).
	Registrations Registrations
	Loop          *clock.Loop
	TServer       *tserver.Server
}

// Messages is the SIP MESSAGE (RFC 3428) network of the IM gateway:
// customers on SIP softphones write to the center's chat address
// (sip:support@switch by default) and get the conversation back as
// MESSAGE requests from that same address, whoever the agent is.
// Typing notifications travel as RFC 3994 isComposing documents. It is an
// imgw.Adapter, and the SIP gateway's MessageHandler.
type Messages struct {
	cfg  Config
	sip  SIP
	log  zerolog.Logger
	user string
	recv imgw.Receiver

	mu      sync.Mutex
	targets map[string]messageTarget // customer AOR -> where to reach them

	agentChats *AgentChats // agents who chat from their phones, when enabled
}

var _ imgw.Adapter = (*Messages)(nil)

// New returns the SIP MESSAGE network; give it to the SIP gateway's
// OnMessage and to the IM gateway's AddAdapter before either runs.
func New(cfg Config) *Messages {
	if cfg.User == "" {
		cfg.User = "support"
	}
	return &Messages{cfg: cfg, sip: cfg.SIP, log: cfg.Log, user: cfg.User, recv: cfg.Receiver, targets: map[string]messageTarget{}}
}

// User is the chat address's user part.
func (m *Messages) User() string { return m.user }

// messageTarget is where a customer's MESSAGEs came from, and so where
// replies go.
type messageTarget struct {
	uri       sip.Uri
	addr      string
	transport string
	// callID of the customer's last MESSAGE: replies carry it, so a
	// client can thread the conversation (a MESSAGE makes no dialog; a
	// fresh From tag and CSeq keep each request its own).
	callID string
}

// Network is the network name of SIP MESSAGE customers.
const Network = "sip"

// maxMessageTargets bounds the customers remembered for replies.
const maxMessageTargets = 100_000

// Network implements imgw.Adapter.
func (m *Messages) Network() string { return Network }

// address is the center's chat address, the From of every MESSAGE sent.
func (m *Messages) address() sip.Uri { return m.sip.LocalURI(m.user) }

// aor is the customer's address of record: scheme, user and host of From.
func aor(u sip.Uri) string {
	return "sip:" + u.User + "@" + u.Host
}

// HandleMessage answers a MESSAGE the SIP gateway received: an agent's
// line goes to its chat (AgentChats), a customer's text or typing state
// to the IM gateway. ctx ends when the SIP gateway stops.
func (m *Messages) HandleMessage(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	respond := func(code int, reason string, hdrs ...sip.Header) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
	}
	if req.Recipient.User != m.user {
		respond(sip.StatusNotFound, "Not Found")
		return
	}
	from := req.From()
	if from == nil || from.Address.User == "" {
		respond(sip.StatusBadRequest, "Bad Request: From has no user")
		return
	}
	if !m.sip.AllowRequest(req) {
		respond(sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "1"))
		return
	}
	if a := m.agentChats; a != nil {
		if agentID, ok := a.agentFrom(from.Address.User, req.Source()); ok {
			a.onMessage(ctx, agentID, req, respond)
			return
		}
	}
	ct := "text/plain"
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		respond(sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "text/plain, application/im-iscomposing+xml"))
		return
	}
	addr := imgw.Address{Network: Network, User: aor(from.Address), Device: from.Address.User + "@" + req.Source()}
	var in imgw.Inbound
	switch mt {
	case "text/plain":
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			respond(sip.StatusUnsupportedMediaType, "Unsupported Media Type: charset "+cs, sip.NewHeader("Accept", "text/plain;charset=UTF-8"))
			return
		}
		in = imgw.Inbound{Kind: imgw.Message, From: addr, Text: string(req.Body())}
	case "application/im-iscomposing+xml":
		in = imgw.Inbound{Kind: imgw.Typing, From: addr, State: isComposingState(string(req.Body()))}
	default:
		respond(sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "text/plain, application/im-iscomposing+xml"))
		return
	}
	target := messageTarget{uri: from.Address, addr: req.Source(), transport: req.Transport()}
	if id := req.CallID(); id != nil {
		target.callID = id.Value()
	}
	if c := req.Contact(); c != nil {
		target.uri = c.Address
	}
	m.remember(addr.User, target)
	respond(sip.StatusOK, "OK")
	if ua := req.GetHeader("User-Agent"); ua != nil {
		if info := ParseSIPUserAgent(ua.Value()); info.Family != "" {
			m.recv.Receive(imgw.Inbound{Kind: imgw.Client, From: addr, Client: &info})
		}
	}
	m.recv.Receive(in)
}

func (m *Messages) remember(user string, t messageTarget) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.targets[user]; !ok && len(m.targets) >= maxMessageTargets {
		clear(m.targets)
	}
	m.targets[user] = t
}

// isComposingState reads the state of an RFC 3994 document.
func isComposingState(doc string) imgw.ChatState {
	_, rest, ok := strings.Cut(doc, "<state>")
	if !ok {
		return imgw.StateActive
	}
	state, _, _ := strings.Cut(rest, "</state>")
	if strings.TrimSpace(state) == "active" {
		return imgw.StateComposing // RFC 3994: active means composing
	}
	return imgw.StatePaused
}

// Send implements imgw.Adapter: a MESSAGE to the customer's device, from
// the chat address. A refusal comes back as a Bounce.
func (m *Messages) Send(out imgw.Outbound) {
	m.mu.Lock()
	t, ok := m.targets[out.To.User]
	m.mu.Unlock()
	if !ok {
		return
	}
	var body, ct string
	switch {
	case out.Text != "":
		body, ct = out.Text, "text/plain;charset=UTF-8"
	case out.State == imgw.StateComposing || out.State == imgw.StatePaused:
		state := "idle"
		if out.State == imgw.StateComposing {
			state = "active"
		}
		body = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>` + state + `</state><refresh>60</refresh></isComposing>`
		ct = "application/im-iscomposing+xml"
	default:
		return
	}
	// A long line over UDP goes in several MESSAGEs: RFC 3428 §7 keeps a
	// MESSAGE without congestion control under 1300 bytes, and sipgo
	// refuses larger datagrams.
	bodies := []string{body}
	if ct != "application/im-iscomposing+xml" && strings.EqualFold(t.transport, "udp") && len(body) > maxMessageBody {
		bodies = split(body, maxMessageBody)
	}
	for _, b := range bodies {
		req := m.request(t, ct, b)
		if err := m.sip.SendMessage("customer "+out.To.User, req, func(err error) { m.delivered(out, err) }); err != nil {
			m.log.Warn().Err(err).Str("to", out.To.User).Msg("MESSAGE dropped")
			return
		}
	}
}

// request is a MESSAGE to customer target t.
func (m *Messages) request(t messageTarget, ct, body string) *sip.Request {
	req := sip.NewRequest(sip.MESSAGE, t.uri)
	from := &sip.FromHeader{Address: m.address(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: t.uri.User, Host: t.uri.Host, Port: t.uri.Port}, Params: sip.NewParams()})
	if t.callID != "" {
		id := sip.CallIDHeader(t.callID)
		req.AppendHeader(&id)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", ct))
	req.SetBody([]byte(body))
	req.SetDestination(t.addr)
	req.SetTransport(t.transport)
	return req
}

// delivered reports a line's MESSAGE that was refused (err) as a Bounce.
func (m *Messages) delivered(out imgw.Outbound, err error) {
	if err == nil || out.Text == "" {
		return
	}
	reason := err.Error()
	m.log.Debug().Str("to", out.To.User).Str("reason", reason).Msg("MESSAGE not delivered")
	m.recv.Receive(imgw.Inbound{Kind: imgw.Bounce, From: out.To, ID: out.ID, Error: reason})
}

// ParseSIPUserAgent reads the client software from a SIP User-Agent
// header: its first product token ("baresip v3.10.0 (x86_64/linux)" is
// baresip 3.10.0 on linux; "Linphone/5.2.0 (belle-sip/5.2.0)" is Linphone
// 5.2.0).
func ParseSIPUserAgent(ua string) imgw.ClientInfo {
	info := imgw.ClientInfo{Source: "sip-user-agent"}
	ua = strings.TrimSpace(ua)
	if len(ua) > 256 {
		ua = ua[:256]
	}
	first, rest, _ := strings.Cut(ua, " ")
	name, ver, found := strings.Cut(first, "/")
	if !found {
		name = first
		if v, r, _ := strings.Cut(strings.TrimSpace(rest), " "); strings.ContainsAny(v, "0123456789") && !strings.HasPrefix(v, "(") {
			ver, rest = v, r
		}
	}
	info.Family = name
	info.Version = strings.TrimPrefix(strings.TrimPrefix(ver, "v"), "V")
	if open := strings.Index(rest, "("); open >= 0 {
		if end := strings.Index(rest[open:], ")"); end > 0 {
			inner := rest[open+1 : open+end]
			if _, os, ok := strings.Cut(inner, "/"); ok && !strings.Contains(inner, " ") {
				info.OS = os
			}
		}
	}
	return info
}
