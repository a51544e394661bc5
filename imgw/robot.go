package imgw

import (
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// robot is an automated agent: a tserver agent the gateway itself plays.
// It answers offers at once, greets, answers what its bot answers cover
// and transfers the rest to a human queue, the conversation attached
// (the next agent gets the whole history).
type robot struct {
	g       *Gateway
	cfg     config.AutomatedAgent
	answers []*config.BotAnswer
	// awaiting: chats whose customer is to give the key of a lookup, or
	// first the answer to the verification question.
	awaiting map[pbx.ConnID]robotWait
}

// robotWait is what a robot waits for in a chat.
type robotWait struct {
	answer *config.BotAnswer
	verify bool // the answer to the verification question, then the key
}

func (g *Gateway) addRobots(cfg []config.AutomatedAgent) {
	g.robots = map[string]*robot{}
	for _, rc := range cfg {
		r := &robot{g: g, cfg: rc, awaiting: map[pbx.ConnID]robotWait{}}
		for _, name := range rc.Answers {
			for i := range g.im.Bot.Answers {
				if g.im.Bot.Answers[i].Name == name {
					r.answers = append(r.answers, &g.im.Bot.Answers[i])
				}
			}
		}
		g.robots[rc.ID] = r
	}
}

// Automated reports whether agent id is one of the gateway's robots.
func (g *Gateway) Automated(id string) bool { return g.robots[id] != nil }

// Offer answers the chat tserver offers a robot, or an agent who chats
// from a SIP phone (chat_via: sip: a phone has no answer button; the
// chat's lines simply start arriving). It reports false for the agents
// who answer on their CTI desktop.
func (g *Gateway) Offer(c *tserver.Contact, a *tserver.Agent) bool {
	if g.robots[a.ID] == nil && !g.onPhone[a.ID] {
		return false
	}
	id := c.ID
	g.later(func() {
		if x := g.ts.Contact(id); x != nil && x.State == pbx.Ringing && x.Agent() == a {
			_ = g.ts.AnswerCall(id)
		}
	})
	return true
}

// later runs f on the domain's goroutine after the current event, so a
// robot never re-enters tserver from inside one of its callbacks.
func (g *Gateway) later(f func()) { g.clock.AfterFunc(0, f) }

// deliver hands m to agentID's desktop, or to the robot that agentID is.
func (g *Gateway) deliver(agentID string, m AgentChat) {
	if r := g.robots[agentID]; r != nil {
		g.later(func() { r.handle(m) })
		return
	}
	g.desk.DeliverChat(agentID, m)
}

func (r *robot) say(id pbx.ConnID, text string) {
	if text != "" {
		_ = r.g.AgentMessage(r.cfg.ID, id, text)
	}
}

// handle reacts to what the conversation brings.
func (r *robot) handle(m AgentChat) {
	c := r.g.byConn[m.ConnID]
	if c == nil || c.agent != r.cfg.ID || c.phase != phaseConnected {
		delete(r.awaiting, m.ConnID)
		return
	}
	switch m.Type {
	case ChatHistory:
		r.say(m.ConnID, r.g.fill(c, r.cfg.Greeting))
		// The reason the customer gave the bot may be answerable.
		if c.reason != "" {
			if a := r.match(c.reason); a != nil {
				r.answer(c, a)
			}
		}
	case ChatMessage:
		if m.From != "customer" {
			return
		}
		if w, ok := r.awaiting[m.ConnID]; ok {
			delete(r.awaiting, m.ConnID)
			if w.verify {
				r.verify(c, w.answer, m.Text)
				return
			}
			r.lookup(c, w.answer, m.Text)
			return
		}
		if isWord(m.Text, r.g.im.Bot.EscapeWords) {
			r.transfer(c)
			return
		}
		if a := r.match(m.Text); a != nil {
			r.answer(c, a)
			return
		}
		r.transfer(c)
	case ChatEnded:
		delete(r.awaiting, m.ConnID)
	}
}

// match picks the answer with the most keywords in text.
func (r *robot) match(text string) *config.BotAnswer {
	padded := padWords(text)
	var best *config.BotAnswer
	bestHits := 0
	for _, a := range r.answers {
		if hits := keywordHits(padded, a.Keywords); hits > bestHits {
			best, bestHits = a, hits
		}
	}
	return best
}

func (r *robot) answer(c *conversation, a *config.BotAnswer) {
	if a.Kind == "order_status" {
		switch r.g.access(c) {
		case accessOpen:
			r.awaiting[c.conn] = robotWait{answer: a}
			r.say(c.conn, r.g.fill(c, a.Prompt))
		case accessAsk:
			r.awaiting[c.conn] = robotWait{answer: a, verify: true}
			r.say(c.conn, r.g.fill(c, r.g.im.Bot.Identify.Verify.Prompt))
		default:
			r.say(c.conn, r.g.im.Identity.UnverifiedText)
			r.say(c.conn, r.g.fill(c, a.Then))
		}
		return
	}
	r.say(c.conn, r.g.fill(c, a.Text))
	r.say(c.conn, r.g.fill(c, a.Then))
}

// verify takes the answer to the verification question: right, the
// robot asks for the order; wrong, it asks again while tries remain.
func (r *robot) verify(c *conversation, a *config.BotAnswer, text string) {
	switch r.g.verifyAnswer(c, text) {
	case verifyOK:
		r.awaiting[c.conn] = robotWait{answer: a}
		r.say(c.conn, r.g.fill(c, a.Prompt))
	case verifyRetry:
		r.awaiting[c.conn] = robotWait{answer: a, verify: true}
		r.say(c.conn, r.g.verifyRetryText())
	default:
		r.say(c.conn, r.g.im.Identity.UnverifiedText)
		r.say(c.conn, r.g.fill(c, a.Then))
	}
}

// lookup answers the order key; only a verified customer's own orders
// are read (orderAnswer).
func (r *robot) lookup(c *conversation, a *config.BotAnswer, key string) {
	r.say(c.conn, r.g.orderAnswer(c, a, key))
	r.say(c.conn, r.g.fill(c, a.Then))
}

// transfer hands the chat to the people's queue.
func (r *robot) transfer(c *conversation) {
	h := r.cfg.Handoff
	if h == "" {
		h = "Let me pass you to a colleague."
	}
	r.say(c.conn, r.g.fill(c, h))
	if err := r.g.ts.SingleStepTransfer(c.conn, r.cfg.TransferTo); err != nil {
		r.g.log.Error().Err(err).Str("agent", r.cfg.ID).Msg("robot could not transfer")
	}
}
