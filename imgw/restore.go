package imgw

import (
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/tserver"
)

// Route phases of a RouteRecord.
const (
	RouteQueued    = "queued"    // waiting in a queue
	RouteConnected = "connected" // with an agent
	RouteEnded     = "ended"     // over: the route is forgotten
)

// RouteRecord is where a routed conversation is, journaled at each change
// (queued, with an agent, transferred, ended) so that a restart can put it
// back (Gateway.Restore). It names no ConnID: those do not survive a
// restart.
type RouteRecord struct {
	Conversation string
	// Phase is RouteQueued, RouteConnected or RouteEnded.
	Phase string
	// From is the customer's address, the device included: where the
	// gateway writes to.
	From     Address
	Queue    string
	Priority int
	// Enqueued is when the conversation entered tserver's queues, or was
	// last transferred: its wait counts from there.
	Enqueued time.Time
	// Agent is the agent it is with (RouteConnected).
	Agent                       string
	CustomerID                  int64
	ClientFamily, ClientVersion string
	Language, Reason            string
}

// journalRoute journals where c is, once it has been routed.
func (g *Gateway) journalRoute(c *conversation) {
	r := RouteRecord{Conversation: c.id, From: c.addr, Queue: c.queue, Priority: c.priority, Enqueued: c.enqueued,
		Agent: c.agent, Language: c.language, Reason: c.reason}
	switch c.phase {
	case phaseEnded:
		if !c.routed {
			return
		}
		r.Phase = RouteEnded
	case phaseConnected:
		r.Phase = RouteConnected
	case phaseQueued, phaseCallback:
		r.Phase, r.Agent = RouteQueued, ""
	default:
		return
	}
	if c.enqueued.IsZero() {
		return // not routed by this gateway (a callback's chat)
	}
	c.routed = true
	if c.customer != nil {
		r.CustomerID = c.customer.ID
	}
	r.ClientFamily, r.ClientVersion, _ = g.clientFamily(c)
	g.journal.Route(r)
}

// Restored is a conversation to put back after a restart: its last route,
// when it started, its customer and its transcript so far.
type Restored struct {
	Route    RouteRecord
	Started  time.Time
	Customer *Customer // nil: not identified
	Lines    []Line    // in order
}

// RestoreText is what a customer whose chat is put back in its queue
// after a restart is told.
func RestoreText(pos int) string {
	return fmt.Sprintf("We are back. You are still in the queue, position %d.", pos)
}

// Restore puts back, after a restart, the conversations that were routed
// and had not ended, in the order given (the order they queued): each
// enters its queue again with the wait it had done (tserver.Resume). A
// conversation that was with an agent is offered to that agent first,
// for grace, then goes to the head of its queue; the agent gets the
// transcript when it answers. Each customer is told one line: that the
// center is back and where they are. Call it on the domain's goroutine
// before the adapters deliver: the customers' new lines then find their
// conversations.
func (g *Gateway) Restore(rs []Restored, grace time.Duration) (restored int) {
	now := g.clock.Now()
	for _, x := range rs {
		r := x.Route
		if r.Conversation == "" || r.From.Network == "" || r.From.User == "" || g.byID[r.Conversation] != nil {
			continue
		}
		k := userKey{r.From.Network, r.From.User}
		if g.byUser[k] != nil {
			continue // the user has a newer conversation
		}
		g.next++
		c := &conversation{
			id: r.Conversation, n: g.next, key: k, addr: r.From, phase: phaseQueued, started: x.Started,
			customer: x.Customer, language: r.Language, queue: r.Queue, priority: r.Priority, reason: r.Reason,
			enqueued: r.Enqueued, routed: true, outcome: "routed",
		}
		if c.started.IsZero() {
			c.started = r.Enqueued
		}
		if r.ClientFamily != "" {
			c.clients = []ClientInfo{{Family: r.ClientFamily, Version: r.ClientVersion}}
		}
		lines := x.Lines
		if n := len(lines); n > 0 {
			c.seq = lines[n-1].Seq
			lines = lines[max(0, n-maxHistory):]
		}
		c.lines = append([]Line(nil), lines...)
		c.outSeq = int(c.seq) // message ids stay unique: the old ones went up to at most this
		g.byUser[k], g.byID[c.id] = c, c
		in := g.arrival(c)
		in.Resume = &tserver.Resume{Arrived: r.Enqueued}
		if r.Phase == RouteConnected {
			in.Resume.Answered, in.Resume.Agent, in.Resume.Until = true, r.Agent, now.Add(grace)
		}
		g.arriving = c
		id, err := g.ts.Arrive(in)
		g.arriving = nil
		if err != nil {
			g.log.Error().Err(err).Str("conversation", c.id).Str("queue", c.queue).Msg("restore: routing failed")
			g.say(c, "system", "Sorry, we cannot take chats right now. Please try again later.")
			g.end(c, "failed")
			continue
		}
		g.bind(c, id)
		restored++
		if c.phase != phaseQueued {
			continue // an agent took it at once (and the customer was told)
		}
		g.journalRoute(c)
		pos, _, err := g.ts.Position(id)
		switch {
		case r.Phase == RouteConnected:
			g.say(c, "system", "We are back. "+g.agentName(r.Agent)+" will be with you again in a moment.")
		case err != nil: // ringing at an agent
			g.say(c, "system", "We are back. An agent will be with you in a moment.")
		default:
			g.say(c, "system", RestoreText(pos))
		}
		g.armWaiting(c)
	}
	g.log.Info().Int("conversations", restored).Msg("conversations restored after a restart")
	return restored
}
