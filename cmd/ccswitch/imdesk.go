package main

import (
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/switch/sipgw"
)

// imDesk sends each agent's chat events where the agent chats (its
// chat_via): its CTI desktop, or its SIP phone as MESSAGEs.
type imDesk struct {
	*ctiDesk
	phones *sipgw.AgentChats // the agents with chat_via: sip; nil when none
}

var (
	_ imgw.AgentDesk         = (*imDesk)(nil)
	_ sipgw.AgentChatHandler = (*imgw.Gateway)(nil)
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

// attachPhones makes the SIP gateway the desk of the agents who chat on
// their phones; what they write goes to chat (the IM gateway). Call it
// before the loop runs.
func (d *imDesk) attachPhones(gw *sipgw.Gateway, chat sipgw.AgentChatHandler, agents []config.Agent) error {
	phones := map[string]string{}
	for _, a := range agents {
		if a.ChatVia == config.ChatViaSIP {
			phones[a.ID] = a.Number
		}
	}
	if len(phones) == 0 {
		return nil
	}
	var err error
	d.phones, err = gw.EnableAgentChats(phones, chat)
	return err
}
