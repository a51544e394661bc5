package live

import (
	"errors"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/sipmsg"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// ctiDesk delivers the gateway's chat events to agents' CTI desktops.
type ctiDesk struct{ cti *cti.Server }

func (d *ctiDesk) DeliverChat(agentID string, m imgw.AgentChat) {
	ev := cti.ChatEvent{Type: cti.ChatEventType(m.Type), ConnID: m.ConnID, From: m.From, Name: m.Name,
		Text: m.Text, State: m.State, Time: m.Time}
	for _, l := range m.Lines {
		ev.Lines = append(ev.Lines, cti.ChatLine{From: l.From, Text: l.Text, Time: l.Time})
	}
	_ = d.cti.DeliverChat(agentID, ev)
}

// imDesk sends each agent's chat events where the agent chats (its
// chat_via): its CTI desktop, or its SIP phone as MESSAGEs.
type imDesk struct {
	*ctiDesk
	phones *sipmsg.AgentChats // the agents with chat_via: sip; nil when none
	// byNumber maps a phone agent's extension to the agent; gw is the IM
	// gateway its chats come from and post runs a function on the
	// domain's loop (phoneGone).
	byNumber map[string]string
	gw       *imgw.Gateway
	ts       *tserver.Server
	post     func(func()) bool
}

var (
	_ imgw.AgentDesk          = (*imDesk)(nil)
	_ sipmsg.AgentChatHandler = (*imgw.Gateway)(nil)
)

func newIMDesk() *imDesk { return &imDesk{ctiDesk: &ctiDesk{}} }

// DeliverChat implements imgw.AgentDesk.
func (d *imDesk) DeliverChat(agentID string, m imgw.AgentChat) {
	if d.phones != nil && d.phones.Has(agentID) {
		d.phones.DeliverChat(agentID, m)
		return
	}
	d.ctiDesk.DeliverChat(agentID, m)
}

// attachPhones makes the SIP MESSAGE network (msgs; nil when it is off)
// the desk of the agents who chat on their phones; what they write goes
// to chat (the IM gateway). Call it before the loop runs.
func (d *imDesk) attachPhones(msgs *sipmsg.Messages, chat sipmsg.AgentChatHandler, agents []config.Agent, ts *tserver.Server, post func(func()) bool) error {
	phones := map[string]string{}
	for _, a := range agents {
		if a.ChatVia == config.ChatViaSIP {
			phones[a.ID] = a.Number
		}
	}
	if len(phones) == 0 {
		return nil
	}
	if msgs == nil {
		return errors.New("live: agents chat on their phones (chat_via: sip) but im.networks.sip_message is off: they share its chat address")
	}
	d.byNumber = make(map[string]string, len(phones))
	for id, number := range phones {
		d.byNumber[number] = id
	}
	d.gw, _ = chat.(*imgw.Gateway)
	d.ts, d.post = ts, post
	var err error
	d.phones, err = msgs.EnableAgentChats(phones, chat)
	return err
}

// phoneGone hands the chats of an agent who chats on its phone to other
// agents when the phone's last registration goes (unregistered, expired):
// nobody would read them. Call it from the registrar's OnChange before the
// SIP gateway's OnRegistration: both post to the loop, in that order, so
// that the chats are gone when the gateway logs the agent out (which it
// cannot while the agent holds them).
func (d *imDesk) phoneGone(user string, contacts int) {
	if contacts > 0 || d.gw == nil {
		return
	}
	if id, ok := d.byNumber[user]; ok {
		d.post(func() {
			// Not ready first, so that the chats handed over do not come
			// straight back.
			_ = d.ts.AgentNotReady(id, reasonPhoneGone)
			d.gw.HandOverChats(id)
		})
	}
}

// reasonPhoneGone is the not-ready reason of an agent whose chat phone
// unregistered with chats in hand.
const reasonPhoneGone = "phone_unregistered"
