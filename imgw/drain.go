package imgw

import "slices"

// Texts of a center that is closing.
const (
	closingNewText = "The center is closing and cannot take a new chat now. Please write again later."
	closingEndText = "The center is closing now; this chat ends here. Thank you for contacting "
)

// Drain makes the gateway take no new conversation: a customer without
// one who writes is told that the center is closing, and nothing starts.
// The conversations under way go on. It runs on the domain's goroutine.
func (g *Gateway) Drain() { g.draining = true }

// Live is the number of conversations not ended. It runs on the domain's
// goroutine.
func (g *Gateway) Live() int { return len(g.byID) }

// EndAll ends every conversation, oldest first, as a closing center
// does: the customer is told, the agent gets the chat's end from
// "system", an interaction still queued leaves its queue, and the journal
// gets each end (outcome "handled" for a chat with an agent, "closed"
// otherwise). It runs on the domain's goroutine.
func (g *Gateway) EndAll() {
	convs := make([]*conversation, 0, len(g.byID))
	for _, c := range g.byID {
		convs = append(convs, c)
	}
	slices.SortFunc(convs, func(a, b *conversation) int { return int(a.n - b.n) })
	for _, c := range convs {
		outcome := "closed"
		if c.phase == phaseConnected {
			outcome = "handled"
		}
		g.say(c, "system", closingEndText+g.im.Name+".")
		c.endedBy = "system"
		conn := c.conn
		g.end(c, outcome)
		if conn != 0 {
			// The conversation is gone from byConn: the release's event
			// finds nothing more to do.
			_ = g.ts.ReleaseCall(conn)
		}
	}
}

// refuseWhileDraining tells a customer without a conversation that the
// center is closing; it reports whether it did.
func (g *Gateway) refuseWhileDraining(in Inbound) bool {
	if !g.draining {
		return false
	}
	g.send(in.From, "", closingNewText)
	return true
}
