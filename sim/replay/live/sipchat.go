package live

import (
	"cmp"
	"context"
	"fmt"
	"mime"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim/replay"
)

// sipLink is a chat customer's SIP softphone (network sip, imgw/sipmsg):
// its lines are MESSAGEs (text/plain) from the replay's user agent to the
// center's chat address, sip:USER@switch, with the chat's address as From
// and its client as User-Agent. The switch writes back to the Contact of
// the customer's last MESSAGE, at the address it came from: the Contact's
// user names the chat (Center.sipChats), and onSIPMessage records what
// arrives.
type sipLink struct {
	c       *Center
	to      sip.Uri // the center's chat address
	from    sip.Uri // the customer's address of record
	contact sip.Uri // where the switch writes back
	client  string  // the User-Agent, "" for none
	callID  string  // one Call-ID for the conversation's MESSAGEs
	end     string  // what the customer says to leave
}

func (l *sipLink) say(ctx context.Context, line string) error {
	req := sip.NewRequest(sip.MESSAGE, l.to)
	from := &sip.FromHeader{Address: l.from, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: l.to, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: l.contact})
	id := sip.CallIDHeader(l.callID)
	req.AppendHeader(&id)
	if l.client != "" {
		req.AppendHeader(sip.NewHeader("User-Agent", l.client))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
	req.SetBody([]byte(line))
	res, err := l.c.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("MESSAGE %s: %w", l.to.String(), err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("MESSAGE %s: %d %s", l.to.String(), res.StatusCode, res.Reason)
	}
	return nil
}

// gone sends the center's end word (imgw ends a conversation when the
// customer sends one alone; a SIP MESSAGE customer has no other way).
func (l *sipLink) gone(ctx context.Context) error { return l.say(ctx, l.end) }

// close keeps the chat's address: what the switch still sends (its
// goodbye) is answered and heard, as in virtual time.
func (l *sipLink) close() {}

// openSIPChat starts the softphone of chat a.Chat on the replay's SIP
// user agent.
func (c *Center) openSIPChat(a *replay.Action) (*chatter, error) {
	if c.ua == nil {
		return nil, fmt.Errorf("chat %s on network sip needs the switch's SIP address (--sip)", a.Chat)
	}
	im := c.s.Center.IM
	if im == nil {
		return nil, fmt.Errorf("chat %s: the center file has no im section: it takes no chats", a.Chat)
	}
	if !im.Networks.SIPMessage.On() {
		return nil, fmt.Errorf("chat %s: the center turns SIP MESSAGE off (im.networks.sip_message.enabled: false)", a.Chat)
	}
	from, err := customerURI(a.From)
	if err != nil {
		return nil, fmt.Errorf("chat %s: from %q: %w", a.Chat, a.From, err)
	}
	to := c.switchURI
	to.User = cmp.Or(im.Networks.SIPMessage.User, config.DefaultSIPMessageUser)
	end := "/end"
	if len(im.EndWords) > 0 {
		end = im.EndWords[0]
	}
	l := &sipLink{c: c, to: to, from: from, end: end,
		contact: sip.Uri{Scheme: "sip", User: "chat-" + sip.GenerateTagN(12), Host: c.host, Port: c.port},
		client:  strings.TrimSpace(a.ClientFamily + " " + a.ClientVersion),
		callID:  "replay-chat-" + sip.GenerateTagN(16)}
	ch := c.newChatter(a, l)
	c.mu.Lock()
	c.sipChats[l.contact.User] = ch
	c.mu.Unlock()
	return ch, nil
}

// customerURI parses a SIP chat customer's address: sip:user@host, the
// scheme optional.
func customerURI(s string) (sip.Uri, error) {
	if !strings.HasPrefix(s, "sip:") && !strings.HasPrefix(s, "sips:") {
		s = "sip:" + s
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return sip.Uri{}, err
	}
	if u.User == "" || u.Host == "" {
		return sip.Uri{}, fmt.Errorf("want sip:user@host")
	}
	return u, nil
}

// onSIPMessage takes a MESSAGE the switch sends a chat customer: 200,
// and a text/plain line is what the customer hears (typing notices are
// not recorded).
func (c *Center) onSIPMessage(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	ch := c.sipChats[req.Recipient.User]
	c.mu.Unlock()
	if ch == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	mt := "text/plain"
	if h := req.ContentType(); h != nil {
		if t, _, err := mime.ParseMediaType(h.Value()); err == nil {
			mt = t
		}
	}
	if mt == "text/plain" && len(req.Body()) > 0 {
		c.hear(ch, string(req.Body()))
	}
}
