package sipgw

import (
	"context"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/imgw"
)

// Messages is the SIP MESSAGE (RFC 3428) network of the IM gateway:
// customers on SIP softphones write to the center's chat address
// (sip:support@switch by default) and get the conversation back as
// MESSAGE requests from that same address, whoever the agent is.
// Typing notifications travel as RFC 3994 isComposing documents. It is an
// imgw.Adapter; Gateway.Messages returns it.
type Messages struct {
	g    *Gateway
	user string
	recv imgw.Receiver

	mu      sync.Mutex
	targets map[string]messageTarget // customer AOR -> where to reach them
	out     inOrder                  // by customer AOR
}

// inOrder sends requests one at a time per target, each after the
// previous one's final response, so that they arrive in order: sipgo
// handles every request it receives on a goroutine of its own, so two
// MESSAGEs in flight at once may be shown in either order. A busy target
// has one goroutine, which ends when its queue is empty.
type inOrder struct {
	g      *Gateway
	mu     sync.Mutex
	queues map[string][]func() // target -> sends waiting for the one in flight
}

// maxQueuedMessages bounds the MESSAGEs waiting for one target.
const maxQueuedMessages = 256

// push runs send after the target's earlier sends; it reports false,
// dropping send, when maxQueuedMessages already wait.
func (q *inOrder) push(target string, send func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		q.queues = map[string][]func(){}
	}
	waiting, busy := q.queues[target]
	if busy {
		if len(waiting) >= maxQueuedMessages {
			return false
		}
		q.queues[target] = append(waiting, send)
		return true
	}
	q.queues[target] = nil
	if !q.g.goOwned(func() { q.run(target, send) }) {
		delete(q.queues, target)
		return false
	}
	return true
}

// run sends a target's requests in order until none waits, or the
// gateway stops.
func (q *inOrder) run(target string, next func()) {
	for {
		next()
		q.mu.Lock()
		waiting := q.queues[target]
		if len(waiting) == 0 || q.g.ctx.Err() != nil {
			delete(q.queues, target)
			q.mu.Unlock()
			return
		}
		waiting[0], next, q.queues[target] = nil, waiting[0], waiting[1:]
		q.mu.Unlock()
	}
}

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

// MessageNetwork is the network name of SIP MESSAGE customers.
const MessageNetwork = "sip"

// maxMessageTargets bounds the customers remembered for replies.
const maxMessageTargets = 100_000

// EnableMessages makes the gateway accept SIP MESSAGE to user (the chat
// address's user part, "support" when empty) and hand it to recv. Call it
// before Serve.
func (g *Gateway) EnableMessages(user string, recv imgw.Receiver) *Messages {
	if user == "" {
		user = "support"
	}
	g.msgs = &Messages{g: g, user: user, recv: recv, targets: map[string]messageTarget{}, out: inOrder{g: g}}
	return g.msgs
}

// Network implements imgw.Adapter.
func (m *Messages) Network() string { return MessageNetwork }

// address is the center's chat address, the From of every MESSAGE sent.
func (m *Messages) address() sip.Uri {
	return sip.Uri{Scheme: "sip", User: m.user, Host: m.g.host, Port: m.g.port}
}

// aor is the customer's address of record: scheme, user and host of From.
func aor(u sip.Uri) string {
	return "sip:" + u.User + "@" + u.Host
}

// onMessage answers a MESSAGE and passes its text or typing state on.
func (g *Gateway) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	m := g.msgs
	respond := func(code int, reason string, hdrs ...sip.Header) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
	}
	if m == nil || req.Recipient.User != m.user {
		respond(sip.StatusNotFound, "Not Found")
		return
	}
	from := req.From()
	if from == nil || from.Address.User == "" {
		respond(sip.StatusBadRequest, "Bad Request: From has no user")
		return
	}
	if !g.limiter.allow(sourceIP(req.Source())) {
		respond(sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "1"))
		return
	}
	if a := g.agentChats; a != nil {
		if agentID, ok := a.agentFrom(from.Address.User, req.Source()); ok {
			a.onMessage(agentID, req, respond)
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
	addr := imgw.Address{Network: MessageNetwork, User: aor(from.Address), Device: from.Address.User + "@" + req.Source()}
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
	if !ok || m.g.cli == nil {
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
		if !m.out.push(out.To.User, func() { m.deliver(req, out) }) {
			m.g.log.Warn().Str("to", out.To.User).Msg("MESSAGE queue full, message dropped")
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

// deliver sends one MESSAGE and reports a refusal as a Bounce.
func (m *Messages) deliver(req *sip.Request, out imgw.Outbound) {
	reason := m.g.sendMessage(req)
	if reason == "" || out.Text == "" {
		return
	}
	m.g.log.Debug().Str("to", out.To.User).Str("reason", reason).Msg("MESSAGE not delivered")
	m.recv.Receive(imgw.Inbound{Kind: imgw.Bounce, From: out.To, ID: out.ID, Error: reason})
}

// sendMessage sends a MESSAGE and waits for its final response: it
// returns why it failed, or "" when it was delivered.
func (g *Gateway) sendMessage(req *sip.Request) string {
	ctx, cancel := context.WithTimeout(g.ctx, 32*time.Second)
	defer cancel()
	res, err := g.cli.Do(ctx, req)
	switch {
	case err != nil:
		return err.Error()
	case !res.IsSuccess():
		return strconv.Itoa(res.StatusCode) + " " + res.Reason
	}
	return ""
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
