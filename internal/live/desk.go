package live

import (
	"errors"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/sipmsg"
	"github.com/ccswitch/ccswitch/internal/config"
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

// phoneGone tells the agents' phone desk that user's registrations went
// down to contacts (sipmsg.AgentChats.PhoneGone).
func (d *imDesk) phoneGone(user string, contacts int) {
	if d.phones != nil {
		d.phones.PhoneGone(user, contacts)
	}
}

// attachPhones makes the SIP MESSAGE network (msgs; nil when it is off)
// the desk of the agents who chat on their phones; what they write goes
// to chat (the IM gateway). Call it before the loop runs.
func (d *imDesk) attachPhones(msgs *sipmsg.Messages, chat sipmsg.AgentChatHandler, agents []config.Agent) error {
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
	var err error
	d.phones, err = msgs.EnableAgentChats(phones, chat)
	return err
}
