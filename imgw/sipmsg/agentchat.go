package sipmsg

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// AgentChats is the desk of the agents who handle chats on their SIP phone
// (chat_via: sip) instead of a CTI desktop. Every chat event the IM
// gateway has for such an agent becomes a text/plain MESSAGE (RFC 3428) to
// each contact the agent's extension has registered, from the center's
// chat address (the user Messages serves), one at a time per
// contact, in order. What a registered phone of the agent sends back to
// that address is the agent writing; a MESSAGE that only claims to come
// from the agent (From is the agent's extension, the source is none of
// its registered contacts) is a customer's, as any other.
//
// An agent may handle several chats at once: each gets a short number
// when it is offered, and every line on the phone shows it, with who
// wrote it: "[3 Alice Example] my router is broken". The agent writes
// "3 text" or "[3] text" to chat 3, bare text to the chat that last sent
// it a line (or to its only chat), and "/end" or "3 /end" to release a
// chat. A line that starts with a number addresses that chat: to start a
// reply with a number, write "[3] 2 routers".
//
// Typing notifications are not sent to phones: an isComposing document
// (RFC 3994) cannot say which of the agent's chats is typing. A phone's
// own isComposing documents are accepted and dropped.
//
// AgentChats implements imgw.AgentDesk for those agents. Its DeliverChat
// and its chat state run on the domain's loop; the SIP side only posts to
// it.
type AgentChats struct {
	m        *Messages
	sip      SIP
	reg      Registrations
	loop     *clock.Loop
	ts       *tserver.Server
	chat     AgentChatHandler
	user     string            // the chat address's user
	agents   map[string]string // agent ID -> extension
	byNumber map[string]string // extension -> agent ID
	callIDs  string            // the prefix of the Call-IDs of the chats

	// On the loop:
	desks map[string]*phoneDesk
	cseq  uint32     // of the last MESSAGE sent
	held  *heldSends // while a phone's MESSAGE is handled
}

var _ imgw.AgentDesk = (*AgentChats)(nil)

// AgentChatHandler takes what agents write from their phones; the IM
// gateway is one. Its methods run on the domain's loop. An error is a
// domain error (pbx kinds): the phone's MESSAGE gets the SIP response of
// its kind, with the error in the reason phrase, and the chat is
// unchanged.
type AgentChatHandler interface {
	// AgentMessage sends text, written by agentID, into chat id.
	AgentMessage(agentID string, id pbx.ConnID, text string) error
	// SupervisorLeave takes agentID, a supervisor in chat id, out of it.
	SupervisorLeave(agentID string, id pbx.ConnID) error
	// HandOverChats gives agentID's chats to other agents (the customer
	// is told); it runs on the domain's loop.
	HandOverChats(agentID string)
}

// EnableAgentChats makes m the desk of the agents in agents (agent ID ->
// extension), whose phones get their chats from m's chat address; chat
// takes what they write. It needs Config's Registrations, Loop and
// TServer. Call it before the SIP gateway serves.
func (m *Messages) EnableAgentChats(agents map[string]string, chat AgentChatHandler) (*AgentChats, error) {
	if m.cfg.Registrations == nil || m.cfg.Loop == nil || m.cfg.TServer == nil {
		return nil, errors.New("sipmsg: agents' chats need the registrations, the loop and the tserver")
	}
	a := &AgentChats{m: m, sip: m.sip, reg: m.cfg.Registrations, loop: m.cfg.Loop, ts: m.cfg.TServer,
		chat: chat, user: m.user, agents: map[string]string{}, byNumber: map[string]string{},
		callIDs: sip.GenerateTagN(16), desks: map[string]*phoneDesk{}}
	for id, number := range agents {
		if number == "" {
			return nil, fmt.Errorf("sipmsg: agent %s chats on its phone but has no extension", id)
		}
		if other, dup := a.byNumber[number]; dup {
			return nil, fmt.Errorf("sipmsg: agents %s and %s share extension %s", other, id, number)
		}
		a.agents[id], a.byNumber[number] = number, id
	}
	m.agentChats = a
	return a, nil
}

// ReasonPhoneGone is the not-ready reason of an agent who chats on its
// phone when the phone's last registration went with chats in hand.
const ReasonPhoneGone = "phone_unregistered"

// PhoneGone hands the chats of an agent who chats on its phone to other
// agents when the phone's last registration goes (unregistered, expired;
// contacts is how many the user has left): nobody would read them there.
// The agent is made not ready first, so that the chats handed over do not
// come straight back. Call it from the registrar's OnChange before the
// SIP gateway's OnRegistration: both post to the loop, in that order, so
// that the chats are gone when the gateway logs the agent out (which it
// cannot while the agent holds them).
func (a *AgentChats) PhoneGone(user string, contacts int) {
	id, ok := a.byNumber[user]
	if contacts > 0 || !ok {
		return
	}
	a.loop.Post(func() {
		_ = a.ts.AgentNotReady(id, ReasonPhoneGone)
		a.chat.HandOverChats(id)
	})
}

// Has reports whether agentID chats on its phone.
func (a *AgentChats) Has(agentID string) bool {
	_, ok := a.agents[agentID]
	return ok
}

// DeliverChat implements imgw.AgentDesk: the event, as one or more
// MESSAGEs, to the agent's registered phones. It runs on the domain's
// loop and does not block.
func (a *AgentChats) DeliverChat(agentID string, m imgw.AgentChat) {
	if !a.Has(agentID) {
		return
	}
	d := a.desks[agentID]
	if d == nil {
		d = newPhoneDesk()
		a.desks[agentID] = d
	}
	var bodies []string
	switch m.Type {
	case imgw.ChatHistory:
		n := d.open(m.ConnID)
		d.last = n
		bodies = []string{historyText(n, m)}
	case imgw.ChatMessage:
		n := d.open(m.ConnID)
		d.last = n
		bodies = lineTexts(n, m)
	case imgw.ChatEnded:
		n, ok := d.close(m.ConnID)
		if !ok {
			return
		}
		bodies = []string{endedText(n, m.From)}
	default: // typing: see the type's comment
		return
	}
	for _, b := range bodies {
		a.send(agentID, m.ConnID, b)
	}
}

// send queues body, a line of chat id, for each of the agent's registered
// phones. The MESSAGEs of one chat share a Call-ID, with increasing
// CSeqs, so that a phone can thread the chat (and SIPp, which tells calls
// apart by Call-ID, can run one scenario per chat).
func (a *AgentChats) send(agentID string, id pbx.ConnID, body string) {
	number := a.agents[agentID]
	contacts := a.reg.Lookup(number)
	if len(contacts) == 0 {
		a.m.log.Warn().Str("agent_id", agentID).Str("dn", number).Msg("chat line for an agent whose phone is not registered dropped")
		return
	}
	callID := sip.CallIDHeader(a.callIDs + "." + strconv.FormatUint(uint64(id), 10) + "." + number)
	for _, c := range contacts {
		a.cseq++
		req := sip.NewRequest(sip.MESSAGE, c.URI)
		cid := callID
		req.AppendHeader(&cid)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: a.cseq, MethodName: sip.MESSAGE})
		from := &sip.FromHeader{Address: a.address(), Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: a.sip.LocalURI(number), Params: sip.NewParams()})
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
		req.SetBody([]byte(body))
		contact := c.URI.String()
		push := func() {
			done := func(err error) { a.delivered(agentID, contact, err) }
			if err := a.sip.SendMessage("agent "+agentID+" "+contact, req, done); err != nil {
				a.m.log.Warn().Err(err).Str("agent_id", agentID).Msg("agent's MESSAGE not sent, chat line dropped")
			}
		}
		if a.held != nil {
			a.held.add(push)
		} else {
			push()
		}
	}
}

func (a *AgentChats) delivered(agentID, contact string, err error) {
	if err != nil {
		a.m.log.Warn().Str("agent_id", agentID).Str("contact", contact).Str("reason", err.Error()).Msg("chat line not delivered to the agent's phone")
	}
}

// address is the center's chat address, the From of every MESSAGE.
func (a *AgentChats) address() sip.Uri { return a.sip.LocalURI(a.user) }

// agentFrom reports which agent a MESSAGE from user (From's user part),
// received from source (ip:port), comes from: an agent that chats on its
// phone, whose extension is user, and which has a contact registered
// from source or at source. Anything else is a customer.
func (a *AgentChats) agentFrom(user, source string) (string, bool) {
	id, ok := a.byNumber[user]
	if !ok {
		return "", false
	}
	for _, c := range a.reg.Lookup(user) {
		if c.Source == source || uriHostPort(c.URI) == source {
			return id, true
		}
	}
	return "", false
}

// uriHostPort is where a SIP URI points, as ip:port (port 5060 when
// absent).
func uriHostPort(u sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// onMessage answers a MESSAGE an agent's phone sent: the line goes to its
// chat on the loop, and the response says whether it went. ctx ends when
// the SIP gateway stops.
func (a *AgentChats) onMessage(ctx context.Context, agentID string, req *sip.Request, respond func(int, string, ...sip.Header)) {
	ct := "text/plain"
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/im-iscomposing+xml":
		respond(sip.StatusOK, "OK") // see AgentChats: dropped
		return
	case mt == "text/plain":
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			respond(sip.StatusUnsupportedMediaType, "Unsupported Media Type: charset "+cs, sip.NewHeader("Accept", "text/plain;charset=UTF-8"))
			return
		}
		var opErr error
		line := parseAgentLine(string(req.Body()))
		held := &heldSends{}
		defer held.release()
		if err := a.do(ctx, func() {
			a.held = held
			opErr = a.apply(agentID, line)
			a.held = nil
		}); err != nil {
			respond(sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "1"))
			return
		}
		if opErr != nil {
			status, reason := a.sip.Status(opErr)
			respond(status, reason+": "+phrase(opErr.Error()))
			return
		}
		respond(sip.StatusOK, "OK")
		return
	}
	respond(sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "text/plain"))
}

// do runs f on the domain's loop and waits for it, at most 5 s.
func (a *AgentChats) do(ctx context.Context, f func()) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return a.loop.Do(ctx, f)
}

// phrase makes s fit a reason phrase: one line, not too long.
func phrase(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return clip(s, 200)
}

// apply carries out what the agent wrote; it runs on the loop.
func (a *AgentChats) apply(agentID string, l agentLine) error {
	d := a.desks[agentID]
	if d == nil {
		d = newPhoneDesk()
		a.desks[agentID] = d
	}
	n, id, err := d.chatFor(l.chat)
	if err != nil {
		return err
	}
	if l.end {
		return a.end(agentID, d, n, id)
	}
	err = a.chat.AgentMessage(agentID, id, l.text)
	if k := pbx.KindOf(err); k == pbx.NotFound || k == pbx.Permission {
		d.close(id) // the chat went elsewhere without ending here (a transfer)
	}
	return err
}

// end releases chat n (id) for its agent, or takes a supervisor out of it.
func (a *AgentChats) end(agentID string, d *phoneDesk, n int, id pbx.ConnID) error {
	if c := a.ts.Contact(id); c != nil && c.Agent() != nil && c.Agent().ID == agentID {
		// The IM gateway then delivers EventChatEnded: "[n] chat ended".
		return a.ts.ReleaseCall(id)
	}
	if err := a.chat.SupervisorLeave(agentID, id); err != nil {
		return err
	}
	d.close(id)
	a.send(agentID, id, tag(n, "")+" you left the chat")
	return nil
}

// heldSends are the MESSAGEs that a phone's own MESSAGE caused ("[3] chat
// ended" after "3 /end"): they go once the phone's MESSAGE is answered,
// so that the phone sees its 200 first.
type heldSends struct {
	mu       sync.Mutex
	sends    []func()
	released bool
}

// add sends f after release, or now if that was.
func (h *heldSends) add(f func()) {
	h.mu.Lock()
	if !h.released {
		h.sends = append(h.sends, f)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	f()
}

func (h *heldSends) release() {
	h.mu.Lock()
	sends := h.sends
	h.sends, h.released = nil, true
	h.mu.Unlock()
	for _, f := range sends {
		f()
	}
}

// phoneDesk is one agent's chats on its phone, by the short numbers its
// lines show. It lives on the domain's loop.
type phoneDesk struct {
	last   int // the chat that last sent the agent a line; 0: none
	given  int // the number given last
	byNum  map[int]pbx.ConnID
	byConn map[pbx.ConnID]int
}

// maxChatNumber: the numbers go round from 1 to 99 (further only for an
// agent with more chats at once), so a number is not given again soon
// after its chat ended, when the agent may still write to it.
const maxChatNumber = 99

func newPhoneDesk() *phoneDesk {
	return &phoneDesk{byNum: map[int]pbx.ConnID{}, byConn: map[pbx.ConnID]int{}}
}

// open returns chat id's number, giving it the next free one when it has
// none.
func (d *phoneDesk) open(id pbx.ConnID) int {
	if n, ok := d.byConn[id]; ok {
		return n
	}
	limit := max(maxChatNumber, len(d.byNum)+1)
	for {
		d.given = d.given%limit + 1
		if _, used := d.byNum[d.given]; !used {
			break
		}
	}
	d.byNum[d.given], d.byConn[id] = id, d.given
	return d.given
}

// close forgets chat id and returns the number it had.
func (d *phoneDesk) close(id pbx.ConnID) (int, bool) {
	n, ok := d.byConn[id]
	if !ok {
		return 0, false
	}
	delete(d.byConn, id)
	delete(d.byNum, n)
	if d.last == n {
		d.last = 0
	}
	return n, true
}

// chatFor picks the chat a line goes to: chat n; with n 0, the chat that
// last sent the agent a line, or the agent's only chat.
func (d *phoneDesk) chatFor(n int) (int, pbx.ConnID, error) {
	if n == 0 {
		switch {
		case d.last != 0:
			n = d.last
		case len(d.byNum) == 1:
			for only := range d.byNum {
				n = only
			}
		case len(d.byNum) == 0:
			return 0, 0, pbx.Errorf(pbx.NotFound, "you have no chat")
		default:
			return 0, 0, pbx.Errorf(pbx.Invalid, "which chat? start with its number, as in %d text", d.given)
		}
	}
	id, ok := d.byNum[n]
	if !ok {
		return 0, 0, pbx.Errorf(pbx.NotFound, "no chat %d", n)
	}
	return n, id, nil
}

// agentLine is what an agent wrote from its phone.
type agentLine struct {
	chat int    // the chat's number; 0: none given
	text string // what to send, unless end
	end  bool   // "/end": release the chat
}

// maxChatDigits bounds the digits of a chat number: longer numbers at the
// start of a line (an order number) are text.
const maxChatDigits = 4

// parseAgentLine reads "3 text", "[3] text" (or "[3 Alice] text", a
// quoted line's tag), bare "text", "/end", "3 /end" and "[3] /end".
func parseAgentLine(s string) agentLine {
	s = strings.TrimSpace(s)
	var l agentLine
	if inner, rest, ok := strings.Cut(s, "]"); ok && strings.HasPrefix(inner, "[") {
		if n, _, ok := leadingNumber(strings.TrimSpace(inner[1:])); ok {
			l.chat, s = n, strings.TrimSpace(rest)
		}
	} else if n, rest, ok := leadingNumber(s); ok {
		l.chat, s = n, rest
	}
	if strings.EqualFold(s, "/end") {
		l.end = true
		return l
	}
	l.text = s
	return l
}

// leadingNumber reads a chat number at the start of s: 1 to
// maxChatDigits digits, not 0, then the end or a space; rest is what
// follows, trimmed.
func leadingNumber(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > maxChatDigits || i < len(s) && !isSpace(s[i]) {
		return 0, "", false
	}
	n, _ = strconv.Atoi(s[:i])
	if n == 0 {
		return 0, "", false
	}
	return n, strings.TrimSpace(s[i:]), true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// maxMessageBody bounds the body of a MESSAGE the switch sends, to an
// agent's phone or over UDP to a customer. RFC 3428 §7 keeps a MESSAGE
// sent over a transport without congestion control under 1300 bytes (and
// sipgo refuses larger UDP datagrams); the headers take the rest. Longer
// lines go in several MESSAGEs; a long history keeps its latest lines.
const maxMessageBody = 800

// maxHistoryLine bounds one line of the history a phone gets, and
// maxTagName the name in a line's tag.
const (
	maxHistoryLine = 160
	maxTagName     = 40
)

// tag is a line's label: "[3 Alice Example]", or "[3]".
func tag(n int, name string) string {
	if name == "" {
		return "[" + strconv.Itoa(n) + "]"
	}
	return "[" + strconv.Itoa(n) + " " + clip(name, maxTagName) + "]"
}

// speaker is who a chat line shows as the writer: a person's name, or
// nobody for the switch's own lines.
func speaker(from, name string) string {
	switch from {
	case "customer", "agent", "supervisor":
		if name != "" {
			return name
		}
		return from
	}
	return ""
}

// lineTexts formats a line of chat n for the phone: "[3 Alice] text", in
// as many MESSAGE bodies as it needs.
func lineTexts(n int, m imgw.AgentChat) []string {
	prefix := tag(n, speaker(m.From, m.Name)) + " "
	var out []string
	for _, part := range split(m.Text, maxMessageBody-len(prefix)) {
		out = append(out, prefix+part)
	}
	return out
}

// historyText formats the conversation so far, when chat n is offered: a
// tag line, then the latest lines that fit one MESSAGE.
func historyText(n int, m imgw.AgentChat) string {
	head := tag(n, speaker("customer", m.Name)) + " new chat; reply with " + strconv.Itoa(n) + " text, end with " + strconv.Itoa(n) + " /end"
	lines := make([]string, len(m.Lines))
	for i, l := range m.Lines {
		who := l.From
		if l.From == "customer" {
			who = speaker("customer", m.Name)
		}
		lines[i] = who + ": " + clip(l.Text, maxHistoryLine)
	}
	// The latest lines that fit, with a note of how many are left out.
	size, first := len(head), len(lines)
	for first > 0 {
		next := size + 1 + len(lines[first-1])
		if first > 1 {
			next += len("\n(999 earlier lines)")
		}
		if next > maxMessageBody {
			break
		}
		size += 1 + len(lines[first-1])
		first--
	}
	var b strings.Builder
	b.WriteString(head)
	if first > 0 {
		fmt.Fprintf(&b, "\n(%d earlier lines)", first)
	}
	for _, l := range lines[first:] {
		b.WriteString("\n" + l)
	}
	return b.String()
}

// endedText tells the agent chat n is over.
func endedText(n int, by string) string {
	if by == "customer" {
		return tag(n, "") + " chat ended by the customer"
	}
	return tag(n, "") + " chat ended"
}

// clip cuts s to at most limit bytes on a rune boundary, marking the
// cut with an ellipsis.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// split cuts s into parts of at most size bytes, on rune boundaries, at a
// space when one is in the part's second half.
func split(s string, size int) []string {
	size = max(size, utf8.UTFMax)
	var parts []string
	for len(s) > size {
		cut := size
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if sp := strings.LastIndexByte(s[:cut], ' '); sp > cut/2 {
			cut = sp
		}
		parts = append(parts, strings.TrimSpace(s[:cut]))
		s = strings.TrimSpace(s[cut:])
	}
	return append(parts, s)
}
