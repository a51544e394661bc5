package tserver

import (
	"fmt"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// Arrival describes an interaction entering the center.
type Arrival struct {
	Media pbx.Media
	ANI   string
	// DNIS is the number reached: a route point, a queue's number or name,
	// or an agent's extension.
	DNIS     string
	Priority int
	// ClientFamily and ClientVersion: the customer's IM software, when
	// known; only agents supporting it are eligible.
	ClientFamily, ClientVersion string
	Requires                    []pbx.KV
	UserData                    pbx.UserData
	// Tag is the caller's own mark, kept on the Contact (the simulator
	// keeps its traffic index there).
	Tag int
	// Resume, when not nil, brings back an interaction from before a
	// restart, with its original arrival (see Resume). It must arrive at
	// a queue.
	Resume *Resume
	// Since, when before now, is when the interaction's wait began: a
	// callback keeps the place its customer had when asking for it
	// (virtual hold). Its wait, its place in line (FIFO within its
	// priority), its aging and its service level count from there; it is
	// counted as offered like any new arrival (unlike Resume).
	Since time.Time
}

// Arrive brings a new interaction into the center and routes it: at a
// route point it waits for an external router (RouteCall) or the route
// point's timeout, at a queue it is queued and distributed, at an
// extension it rings the agent. It returns the interaction's ID.
func (s *Server) Arrive(in *Arrival) (pbx.ConnID, error) {
	var (
		rp *routePoint
		q  *queue
		a  *Agent
	)
	if rp = s.routePoints[in.DNIS]; rp == nil {
		if q = s.queueByName[in.DNIS]; q == nil {
			if dn, ok := s.dir.Lookup(in.DNIS); ok {
				switch dn.Type {
				case pbx.ACDQueue:
					q = s.queueByName[dn.Owner]
				case pbx.Extension:
					a = s.agentAt(in.DNIS)
				}
			}
		}
	}
	switch {
	case rp == nil && q == nil && a == nil:
		return 0, pbx.Errorf(pbx.NotFound, "tserver: arrive: no route point, queue or extension %q", in.DNIS)
	case q != nil && q.media != in.Media:
		return 0, pbx.Errorf(pbx.Invalid, "tserver: arrive: queue %s takes %s, not %s", q.name, q.media, in.Media)
	case rp != nil && rp.queue.media != in.Media:
		// Its default queue is where it may end up.
		return 0, pbx.Errorf(pbx.Invalid, "tserver: arrive: route point %s routes %s (queue %s), not %s", rp.number, rp.queue.media, rp.queue.name, in.Media)
	case in.Resume != nil && q == nil:
		return 0, pbx.Errorf(pbx.Invalid, "tserver: arrive: a resumed interaction must arrive at a queue, not %q", in.DNIS)
	case a != nil && (a.state == LoggedOut || !a.canTake(in.Media) || !a.takesWork()):
		return 0, pbx.Errorf(pbx.Busy, "tserver: arrive: agent %s at %s cannot take a %s interaction now", a.ID, in.DNIS, in.Media)
	}
	c := s.newContact(in)
	id := c.ID // c may be over (and recycled) by the time routing returns
	if in.Resume != nil {
		s.resume(c, in.Resume)
	}
	c.Fire(pbx.EvRoute)
	switch {
	case rp != nil:
		c.rp = rp
		s.emit(EventRouteRequest, c, nil, nil, "")
		if rp.listeners == 0 {
			s.routeTo(c, rp.queue, nil, "default")
		} else {
			c.routeT = s.clock.AfterFunc(rp.timeout, func() { s.routeTimeout(id) })
		}
	case q != nil:
		s.enqueue(c, q)
	default:
		s.offer(c, a)
	}
	return id, nil
}

func (s *Server) newContact(in *Arrival) *Contact {
	now := s.clock.Now()
	s.seq++
	var c *Contact
	if n := len(s.spare); n > 0 {
		c = s.spare[n-1]
		s.spare[n-1] = nil
		s.spare = s.spare[:n-1]
	} else {
		c = new(Contact)
	}
	*c = Contact{
		Interaction: pbx.Interaction{
			ID:       s.nextConn,
			Media:    in.Media,
			ANI:      in.ANI,
			DNIS:     in.DNIS,
			UserData: in.UserData,
			Created:  now,
		},
		Priority:      in.Priority,
		ClientFamily:  in.ClientFamily,
		ClientVersion: in.ClientVersion,
		Requires:      in.Requires,
		Tag:           in.Tag,
		arrived:       now,
		seq:           s.seq,
	}
	if !in.Since.IsZero() && in.Since.Before(now) {
		c.arrived, c.Created = in.Since, in.Since
	}
	s.nextConn++
	s.contacts.put(c)
	return c
}

func (s *Server) routeTimeout(id pbx.ConnID) {
	c := s.contacts.get(id)
	if c == nil || c.State != pbx.Routing || c.rp == nil {
		return
	}
	c.routeT = nil
	s.routeTo(c, c.rp.queue, nil, "default")
}

// routeTo sends a contact at a route point to its target.
func (s *Server) routeTo(c *Contact, q *queue, a *Agent, reason string) {
	c.rp = nil
	if c.routeT != nil {
		c.routeT.Stop()
		c.routeT = nil
	}
	if q != nil {
		s.emit(EventRouteUsed, c, nil, q, reason)
		s.enqueue(c, q)
		return
	}
	s.emit(EventRouteUsed, c, a, nil, reason)
	s.offer(c, a)
}

// enqueue puts c in queue q and tries to distribute it at once.
func (s *Server) enqueue(c *Contact, q *queue) {
	now := s.clock.Now()
	// A contact is counted by the first queue it enters (a transfer
	// starts over); overflow to another queue keeps it where it was
	// counted, so every offered contact gets its outcome there.
	if c.statQueue == nil && c.resumed {
		s.countResumed(c, q)
	}
	if c.statQueue == nil {
		c.statQueue = q
		c.counted = true
		c.epoch = s.epoch
		c.waited = false
		q.stats.Offered++
	}
	if c.queue != q {
		c.stage = 0
		c.queuedAt = now
	}
	c.queue = q
	c.Fire(pbx.EvQueue)
	s.emit(EventQueued, c, nil, q, "")
	if a := s.findAgent(c, q); a != nil {
		s.offer(c, a)
		return
	}
	q.insert(c)
	s.markWaited(c)
	s.armOverflow(c, q)
}

func (s *Server) markWaited(c *Contact) {
	if !c.waited && c.counted && c.epoch == s.epoch {
		c.waited = true
		c.statQueue.stats.Waited++
	}
}

func (s *Server) armOverflow(c *Contact, q *queue) {
	if c.overflowT != nil {
		c.overflowT.Stop()
		c.overflowT = nil
	}
	if c.stage >= len(q.overflow) {
		return
	}
	due := c.queuedAt.Add(q.overflow[c.stage].after).Sub(s.clock.Now())
	id := c.ID
	c.overflowT = s.clock.AfterFunc(due, func() { s.overflowDue(id) })
}

// overflowDue applies the next overflow rule to a waiting contact.
func (s *Server) overflowDue(id pbx.ConnID) {
	c := s.contacts.get(id)
	if c == nil || c.State != pbx.Queued || c.bucket == nil {
		return
	}
	c.overflowT = nil
	q := c.queue
	rule := q.overflow[c.stage]
	c.stage++
	if to := rule.toQueue; to != nil {
		q.remove(c)
		s.emit(EventDiverted, c, nil, q, "overflow")
		c.Fire(pbx.EvRoute)
		s.enqueue(c, to)
		return
	}
	if a := s.findAgent(c, q); a != nil {
		s.offer(c, a)
		return
	}
	s.armOverflow(c, q)
}

// offer rings agent a with contact c.
func (s *Server) offer(c *Contact, a *Agent) {
	now := s.clock.Now()
	if q := c.queue; q != nil && c.bucket != nil {
		q.remove(c)
	}
	if c.overflowT != nil {
		c.overflowT.Stop()
		c.overflowT = nil
	}
	if c.prefer != nil || c.preferT != nil {
		s.dropPreference(c)
	}
	if c.State == pbx.Queued && c.queue != nil {
		s.emit(EventDiverted, c, a, c.queue, "")
	}
	c.Fire(pbx.EvOffer)
	c.agent = a
	if !a.working() && a.state != AfterCallWork {
		a.busySince = now
	}
	a.offered++
	a.load[c.Media]++
	a.state, _ = AgentTransition(a.state, AgReserve)
	s.seq++
	a.lastOffer = s.seq
	if c.queue != nil && c.queue.strategy == RoundRobin {
		c.queue.rrCursor = a.order
	}
	s.setAvailable(a)
	s.emit(EventRinging, c, a, c.queue, "")
	if s.ringTimeout > 0 {
		id := c.ID
		c.ringT = s.clock.AfterFunc(s.ringTimeout, func() { s.ringTimedOut(id) })
	}
	s.endpoints.Offer(c, a)
}

func (s *Server) ringTimedOut(id pbx.ConnID) {
	if c := s.contacts.get(id); c != nil && c.State == pbx.Ringing && !c.outbound {
		c.ringT = nil
		_ = s.RejectCall(id, "ring_no_answer")
	}
}

func (s *Server) lookup(op string, id pbx.ConnID) (*Contact, error) {
	c := s.contacts.get(id)
	if c == nil {
		return nil, pbx.Errorf(pbx.NotFound, "tserver: %s: no interaction %s", op, id)
	}
	return c, nil
}

func (s *Server) fire(op string, c *Contact, e pbx.Event) error {
	if err := c.Fire(e); err != nil {
		return fmt.Errorf("tserver: %s: %w", op, err)
	}
	return nil
}

// AnswerCall connects a ringing interaction with the agent it rings (or,
// for an agent's outbound call, with the far end).
func (s *Server) AnswerCall(id pbx.ConnID) error {
	c, err := s.lookup("answer", id)
	if err != nil {
		return err
	}
	if err := s.fire("answer", c, pbx.EvAnswer); err != nil {
		return err
	}
	if c.ringT != nil {
		c.ringT.Stop()
		c.ringT = nil
	}
	now := s.clock.Now()
	a := c.agent
	if !c.outbound {
		a.offered--
		if a.active == 0 {
			a.talkSince = now
		}
		a.active++
		a.handled++
		a.state, _ = AgentTransition(a.state, AgAnswer)
		s.touch(a) // ranked by handled (fewest_interactions), talking or not (least_talk_time)
	}
	c.answerAt = now
	if !c.answered && c.counted && c.epoch == s.epoch {
		c.answered = true
		q := c.statQueue
		wait := now.Sub(c.arrived)
		q.stats.Answered++
		q.stats.WaitAnswered += wait
		if wait <= q.slTarget {
			q.stats.AnsweredInSL++
		}
		q.recent[q.nrec%recentWaits] = wait
		q.nrec++
	}
	s.emit(EventEstablished, c, a, c.queue, "")
	return nil
}

// RejectCall refuses an offer: the agent declined or did not answer. The
// interaction goes back to the head of its queue and the agent becomes not
// ready with the reason.
func (s *Server) RejectCall(id pbx.ConnID, reason string) error {
	c, err := s.lookup("reject", id)
	if err != nil {
		return err
	}
	if reason == "" {
		// An empty reason would read, on the CTI stream, as the final
		// EventReleased of the interaction.
		reason = "rejected"
	}
	if c.outbound {
		return pbx.Errorf(pbx.Conflict, "tserver: reject: %s is an outbound call; release it", id)
	}
	if err := s.fire("reject", c, pbx.EvRedirect); err != nil {
		return err
	}
	if c.ringT != nil {
		c.ringT.Stop()
		c.ringT = nil
	}
	a := c.agent
	c.agent = nil
	s.emit(EventReleased, c, a, c.queue, reason)
	a.offered--
	a.load[c.Media]--
	if !a.working() && a.state == Reserved {
		a.state, _ = AgentTransition(a.state, AgReject)
		// Not ready now, for this reason: a not-ready that was waiting
		// for the offers to end is done with.
		a.reason, a.pendingNR = reason, false
		s.endBusy(a)
		s.emit(EventAgentNotReady, nil, a, nil, reason)
		s.setAvailable(a)
	} else {
		s.goNotReadyLater(a, reason)
		if !a.working() {
			// A busy agent whose other interactions ended while this
			// one rang has no work left: wrap up, then not ready.
			s.workEnded(a)
		}
	}
	if q := c.queue; q != nil {
		c.Fire(pbx.EvQueue)
		s.emit(EventQueued, c, nil, q, "")
		if b := s.findAgent(c, q); b != nil {
			s.offer(c, b)
		} else {
			q.insert(c)
			s.markWaited(c)
			s.armOverflow(c, q)
		}
		return nil
	}
	// A direct call to an extension has nowhere to go back to.
	c.Fire(pbx.EvAbandon)
	s.finish(c, nil, EventAbandoned, reason)
	return nil
}

func (s *Server) goNotReadyLater(a *Agent, reason string) {
	if !a.pendingNR {
		a.pendingNR, a.pendingWhy = true, reason
		s.emit(EventAgentNotReady, nil, a, nil, reason)
	}
	s.setAvailable(a)
}

// ReleaseCall ends an interaction. Before it is connected this is the
// customer abandoning; after, either side hanging up.
func (s *Server) ReleaseCall(id pbx.ConnID) error {
	c, err := s.lookup("release", id)
	if err != nil {
		return err
	}
	switch c.State {
	case pbx.Established, pbx.Held:
		c.Fire(pbx.EvRelease)
		a := c.agent
		s.detach(c, a)
		s.finish(c, a, EventReleased, "")
		s.workEnded(a)
	case pbx.Ringing:
		if c.outbound {
			c.Fire(pbx.EvRelease)
			a := c.agent
			s.detach(c, a)
			s.finish(c, a, EventReleased, "")
			s.workEnded(a)
			return nil
		}
		c.Fire(pbx.EvAbandon)
		a := c.agent
		if c.ringT != nil {
			c.ringT.Stop()
			c.ringT = nil
		}
		a.offered--
		a.load[c.Media]--
		s.countAbandon(c)
		s.finish(c, a, EventAbandoned, "")
		s.workEnded(a)
	case pbx.Routing, pbx.Queued, pbx.Redirected:
		c.Fire(pbx.EvAbandon)
		if c.bucket != nil {
			c.queue.remove(c)
		}
		s.countAbandon(c)
		s.finish(c, nil, EventAbandoned, "")
	default:
		return pbx.Errorf(pbx.Conflict, "tserver: release: interaction %s is %s", id, c.State)
	}
	return nil
}

// ReasonCallback is the reason of the EventAbandoned of an interaction
// that left its queue for a callback (LeaveForCallback).
const ReasonCallback = "callback"

// LeaveForCallback takes a waiting interaction out of its queue because
// the customer accepted a callback instead of waiting (a chat's bot offer,
// a caller pressing 1). Its queue counts it under Callback, not
// Abandoned; subscribers see EventAbandoned with reason ReasonCallback.
// The callback itself, with the interaction's arrival as its place in
// line, is the callback server's.
func (s *Server) LeaveForCallback(id pbx.ConnID) error {
	c, err := s.takeOutWaiting("leave for callback", id)
	if err != nil {
		return err
	}
	if c.counted && c.epoch == s.epoch && !c.answered {
		q := c.statQueue
		q.stats.Callback++
		q.stats.WaitCallback += s.clock.Now().Sub(c.arrived)
		if !c.waited {
			c.waited = true
			q.stats.Waited++
		}
	}
	s.finish(c, nil, EventAbandoned, ReasonCallback)
	return nil
}

// takeOutWaiting takes waiting interaction id out of its queue (it
// leaves before an agent: EvAbandon), for op; the caller counts it and
// ends it.
func (s *Server) takeOutWaiting(op string, id pbx.ConnID) (*Contact, error) {
	c, err := s.lookup(op, id)
	if err != nil {
		return nil, err
	}
	switch c.State {
	case pbx.Routing, pbx.Queued, pbx.Redirected:
	default:
		return nil, pbx.Errorf(pbx.Conflict, "tserver: %s: interaction %s is %s, not waiting", op, id, c.State)
	}
	c.Fire(pbx.EvAbandon)
	if c.bucket != nil {
		c.queue.remove(c)
	}
	return c, nil
}

// ReasonWithdrawn is the reason of the EventAbandoned of an interaction
// taken out of its queue to come back later (Withdraw).
const ReasonWithdrawn = "withdrawn"

// Withdraw takes a waiting interaction out of its queue without an
// outcome: it is owed one still and comes back later through Arrive with
// a Resume of its original arrival (a callback postponed because its
// customer turned do-not-disturb), so its queue counts it once, as
// offered now and by its final outcome then. Subscribers see
// EventAbandoned with reason ReasonWithdrawn.
func (s *Server) Withdraw(id pbx.ConnID) error {
	c, err := s.takeOutWaiting("withdraw", id)
	if err != nil {
		return err
	}
	s.finish(c, nil, EventAbandoned, ReasonWithdrawn)
	return nil
}

func (s *Server) countAbandon(c *Contact) {
	if c.counted && c.epoch == s.epoch && !c.answered {
		q := c.statQueue
		q.stats.Abandoned++
		q.stats.WaitAbandoned += s.clock.Now().Sub(c.arrived)
		if !c.waited {
			c.waited = true
			q.stats.Waited++
		}
	}
}

// detach takes an established interaction off agent a.
func (s *Server) detach(c *Contact, a *Agent) {
	now := s.clock.Now()
	a.active--
	a.load[c.Media]--
	if a.active == 0 {
		a.talk += now.Sub(a.talkSince)
	}
	if c.statQueue != nil && c.answered && c.epoch == s.epoch {
		c.statQueue.stats.Handled++
		c.statQueue.stats.HandleTime += now.Sub(c.answerAt) + a.wrapUp
	}
	c.agent = nil
}

// finish forgets a contact that is over and says so; a is the agent it
// was with, if any.
func (s *Server) finish(c *Contact, a *Agent, t EventType, reason string) {
	if c.overflowT != nil {
		c.overflowT.Stop()
	}
	if c.routeT != nil {
		c.routeT.Stop()
	}
	if c.ringT != nil {
		c.ringT.Stop()
	}
	if c.prefer != nil || c.preferT != nil {
		s.dropPreference(c)
	}
	s.emit(t, c, a, c.queue, reason)
	s.contacts.remove(c)
	if s.recycle {
		// newContact clears it when it reuses it: until then a caller
		// up the stack may still read it.
		s.spare = append(s.spare, c)
	}
}

func (s *Server) endBusy(a *Agent) {
	if !a.busySince.IsZero() {
		a.busy += s.clock.Now().Sub(a.busySince)
		a.busySince = time.Time{}
	}
}

// workEnded updates agent a after one of its interactions went away.
func (s *Server) workEnded(a *Agent) {
	if !a.working() {
		switch a.state {
		case Busy:
			a.state, _ = AgentTransition(a.state, AgRelease)
			if a.wrapUp > 0 {
				s.setAvailable(a)
				s.emit(EventAgentNotReady, nil, a, nil, "after_call_work")
				id := a.ID
				a.wrapTimer = s.clock.AfterFunc(a.wrapUp, func() { s.wrapUpDone(id) })
				return
			}
			s.endWrapUp(a)
			return
		case Reserved:
			if a.pendingNR {
				a.state, _ = AgentTransition(a.state, AgReject)
				a.reason, a.pendingNR = a.pendingWhy, false
			} else {
				a.state, _ = AgentTransition(a.state, AgUnreserve)
			}
			s.endBusy(a)
		}
	}
	s.setAvailable(a)
	if a.inAvailable {
		s.dispatch(a)
	}
}

// wrapUpDone ends agent id's after-call work when its timer fires.
func (s *Server) wrapUpDone(id string) {
	if a := s.agentByID[id]; a != nil {
		s.endWrapUp(a)
	}
}

// endWrapUp ends agent a's after-call work, if it is in it.
func (s *Server) endWrapUp(a *Agent) {
	if a.state != AfterCallWork {
		return
	}
	a.wrapTimer = nil
	s.endBusy(a)
	a.idleSince = s.clock.Now()
	if a.pendingNR {
		a.state, _ = AgentTransition(a.state, AgNotReady)
		a.reason, a.pendingNR = a.pendingWhy, false
		s.emit(EventAgentNotReady, nil, a, nil, a.reason)
		s.setAvailable(a)
		return
	}
	a.state, _ = AgentTransition(a.state, AgReady)
	a.reason = ""
	s.emit(EventAgentReady, nil, a, nil, "")
	s.setAvailable(a)
	s.dispatch(a)
}

func (s *Server) agent(op, id string) (*Agent, error) {
	a := s.agentByID[id]
	if a == nil {
		return nil, pbx.Errorf(pbx.NotFound, "tserver: %s: no agent %q", op, id)
	}
	return a, nil
}

func (s *Server) agentFire(op string, a *Agent, e AgentEvent) error {
	st, err := AgentTransition(a.state, e)
	if err != nil {
		return fmt.Errorf("tserver: %s %s: %w", op, a.ID, err)
	}
	a.state = st
	return nil
}

// AgentLogin logs agent id in on extension dn ("" for the agent's own).
// The agent starts not ready.
func (s *Server) AgentLogin(id, dn string) error {
	a, err := s.agent("login", id)
	if err != nil {
		return err
	}
	if dn == "" {
		dn = a.HomeDN
	} else if d, ok := s.dir.Lookup(dn); !ok || d.Type != pbx.Extension {
		return pbx.Errorf(pbx.NotFound, "tserver: login %s: %s is not an extension", id, dn)
	}
	if other, ok := s.agentByDN[dn]; ok && other != a && other.state != LoggedOut && dn != "" {
		return pbx.Errorf(pbx.Conflict, "tserver: login %s: extension %s is in use by %s", id, dn, other.ID)
	}
	if err := s.agentFire("login", a, AgLogin); err != nil {
		return err
	}
	a.DN = dn
	if dn != "" {
		s.agentByDN[dn] = a
	}
	now := s.clock.Now()
	a.loginSince, a.idleSince = now, now
	// fewest_interactions and least_talk_time count from login.
	a.handled, a.talkAtLogin = 0, a.talk
	a.reason, a.pendingNR = "", false
	s.touch(a) // logged in: Status counts it
	s.emit(EventAgentLogin, nil, a, nil, "")
	return nil
}

// agentAt returns the agent reached at extension dn: the one logged in
// there, else the extension's owner.
func (s *Server) agentAt(dn string) *Agent {
	if a := s.agentByDN[dn]; a != nil && a.state != LoggedOut && a.DN == dn {
		return a
	}
	if d, ok := s.dir.Lookup(dn); ok && d.Type == pbx.Extension {
		return s.agentByID[d.Owner]
	}
	return nil
}

// AgentLogout logs agent id out; it must not be handling anything.
func (s *Server) AgentLogout(id string) error {
	a, err := s.agent("logout", id)
	if err != nil {
		return err
	}
	if err := s.agentFire("logout", a, AgLogout); err != nil {
		return err
	}
	if a.wrapTimer != nil {
		a.wrapTimer.Stop()
		a.wrapTimer = nil
	}
	s.endBusy(a)
	a.loggedTime += s.clock.Now().Sub(a.loginSince)
	a.pendingNR = false
	s.setAvailable(a)
	s.emit(EventAgentLogout, nil, a, nil, "")
	return nil
}

// AgentReady makes agent id ready for work. During after-call work it ends
// the wrap-up; while handling interactions it cancels a pending not-ready.
func (s *Server) AgentReady(id string) error {
	a, err := s.agent("ready", id)
	if err != nil {
		return err
	}
	switch a.state {
	case Reserved, Busy:
		a.pendingNR = false
		s.emit(EventAgentReady, nil, a, nil, "")
		s.setAvailable(a)
		s.dispatch(a)
		return nil
	case AfterCallWork:
		if a.wrapTimer != nil {
			a.wrapTimer.Stop()
		}
		a.pendingNR = false
		s.endWrapUp(a)
		return nil
	}
	was := a.state
	if err := s.agentFire("ready", a, AgReady); err != nil {
		return err
	}
	if was != Ready {
		a.idleSince = s.clock.Now()
	}
	a.reason = ""
	s.emit(EventAgentReady, nil, a, nil, "")
	s.setAvailable(a)
	s.dispatch(a)
	return nil
}

// AgentNotReady stops offers to agent id, with a reason code. While the
// agent handles interactions it takes effect when they end.
func (s *Server) AgentNotReady(id, reason string) error {
	a, err := s.agent("not ready", id)
	if err != nil {
		return err
	}
	switch a.state {
	case Reserved, Busy:
		a.pendingNR = false
		s.goNotReadyLater(a, reason)
		return nil
	case AfterCallWork:
		if a.wrapTimer != nil {
			a.wrapTimer.Stop()
			a.wrapTimer = nil
		}
		s.endBusy(a)
	}
	if err := s.agentFire("not ready", a, AgNotReady); err != nil {
		return err
	}
	// This request replaces a not-ready still pending from before the
	// wrap-up.
	a.reason, a.pendingNR = reason, false
	s.emit(EventAgentNotReady, nil, a, nil, reason)
	s.setAvailable(a)
	return nil
}

// RegisterRouter tells the route point at number that an external router
// will answer its route requests with RouteCall; until the returned
// function is called, interactions there wait for it (up to the route
// point's timeout, then go to its default queue).
func (s *Server) RegisterRouter(number string) (unregister func(), err error) {
	rp := s.routePoints[number]
	if rp == nil {
		return nil, pbx.Errorf(pbx.NotFound, "tserver: register router: no route point %q", number)
	}
	rp.listeners++
	s.routersChange(rp)
	done := false
	return func() {
		if !done {
			done = true
			rp.listeners--
			s.routersChange(rp)
		}
	}, nil
}

func (s *Server) routersChange(rp *routePoint) {
	if s.routersChanged != nil {
		s.routersChanged(rp.number, rp.listeners)
	}
}

// RouteCall routes an interaction waiting at a route point to target: a
// queue (name or number) or an agent (ID or extension).
func (s *Server) RouteCall(id pbx.ConnID, target string) error {
	c, err := s.lookup("route call", id)
	if err != nil {
		return err
	}
	if c.State != pbx.Routing || c.rp == nil {
		return pbx.Errorf(pbx.Conflict, "tserver: route call: interaction %s is %s, not waiting at a route point", id, c.State)
	}
	q, a, err := s.target("route call", target, c.Media)
	if err != nil {
		return err
	}
	s.routeTo(c, q, a, "")
	return nil
}

// target resolves a routing target to a queue or an available agent.
func (s *Server) target(op, target string, m pbx.Media) (*queue, *Agent, error) {
	q := s.queueByName[target]
	a := s.agentByID[target]
	if q == nil && a == nil {
		if dn, ok := s.dir.Lookup(target); ok {
			switch dn.Type {
			case pbx.ACDQueue:
				q = s.queueByName[dn.Owner]
			case pbx.Extension:
				a = s.agentAt(target)
			}
		}
	}
	switch {
	case q != nil:
		if q.media != m {
			return nil, nil, pbx.Errorf(pbx.Invalid, "tserver: %s: queue %s takes %s, not %s", op, q.name, q.media, m)
		}
		return q, nil, nil
	case a != nil:
		if !a.takesWork() || !a.canTake(m) {
			return nil, nil, pbx.Errorf(pbx.Busy, "tserver: %s: agent %s cannot take a %s interaction now", op, a.ID, m)
		}
		return nil, a, nil
	}
	return nil, nil, pbx.Errorf(pbx.NotFound, "tserver: %s: no queue or agent %q", op, target)
}

// MakeCall starts an outbound interaction from agent id to destination,
// the path callbacks use. The far end's answer is reported with
// AnswerCall.
func (s *Server) MakeCall(agentID, destination string, m pbx.Media) (pbx.ConnID, error) {
	a, err := s.agent("make call", agentID)
	if err != nil {
		return 0, err
	}
	if destination == "" {
		return 0, pbx.Errorf(pbx.Invalid, "tserver: make call: no destination")
	}
	if a.state == LoggedOut || a.state == Reserved {
		return 0, pbx.Errorf(pbx.Conflict, "tserver: make call: agent %s is %s", a.ID, a.state)
	}
	if !a.canTake(m) {
		return 0, pbx.Errorf(pbx.Busy, "tserver: make call: agent %s has no %s capacity left", a.ID, m)
	}
	if a.state == NotReady {
		// Back to not ready when the call ends.
		a.pendingNR, a.pendingWhy = true, a.reason
	}
	if err := s.agentFire("make call", a, AgDial); err != nil {
		return 0, err
	}
	if a.wrapTimer != nil {
		a.wrapTimer.Stop()
		a.wrapTimer = nil
	}
	c := s.newContact(&Arrival{Media: m, ANI: a.DN, DNIS: destination})
	c.outbound = true
	c.Fire(pbx.EvDial)
	c.agent = a
	now := s.clock.Now()
	if a.busySince.IsZero() {
		a.busySince = now
	}
	if a.active == 0 {
		a.talkSince = now
	}
	a.active++
	a.load[m]++
	s.setAvailable(a)
	s.emit(EventDialing, c, a, nil, "")
	id := c.ID
	if a.inAvailable {
		// Dialing out of after-call work ends it: busy, the agent takes
		// what waits for its other media, as on any other call.
		s.dispatch(a)
	}
	s.endpoints.Dial(c, a)
	return id, nil
}

// SingleStepTransfer moves an established interaction from its agent to
// target (a queue or an agent) in one step.
func (s *Server) SingleStepTransfer(id pbx.ConnID, target string) error {
	c, err := s.lookup("transfer", id)
	if err != nil {
		return err
	}
	if c.State != pbx.Established && c.State != pbx.Held {
		return pbx.Errorf(pbx.Conflict, "tserver: transfer: interaction %s is %s", id, c.State)
	}
	if c.outbound {
		return pbx.Errorf(pbx.Conflict, "tserver: transfer: interaction %s is an outbound call", id)
	}
	q, b, err := s.target("transfer", target, c.Media)
	if err != nil {
		return err
	}
	if b != nil && b == c.agent {
		return pbx.Errorf(pbx.Invalid, "tserver: transfer: %s already has interaction %s", b.ID, id)
	}
	a := c.agent
	c.Fire(pbx.EvRoute)
	s.emit(EventReleased, c, a, c.queue, "transferred")
	s.detach(c, a)
	// The transfer starts a new wait in the target's statistics.
	c.arrived = s.clock.Now()
	c.answered, c.counted, c.statQueue = false, false, nil
	c.resumed, c.first = false, false
	c.queue = nil
	// The agent's freed capacity goes to what already waits for it before
	// the transferred interaction is routed: enqueue offers a newcomer to
	// a free agent at once, which is only fair when no free agent could
	// take something that waited longer or has a higher priority.
	s.workEnded(a)
	if q != nil {
		s.enqueue(c, q)
	} else {
		s.offer(c, b)
	}
	return nil
}

// HoldCall puts an established interaction on hold.
func (s *Server) HoldCall(id pbx.ConnID) error {
	c, err := s.lookup("hold", id)
	if err != nil {
		return err
	}
	if err := s.fire("hold", c, pbx.EvHold); err != nil {
		return err
	}
	s.emit(EventHeld, c, c.agent, c.queue, "")
	return nil
}

// RetrieveCall takes an interaction off hold.
func (s *Server) RetrieveCall(id pbx.ConnID) error {
	c, err := s.lookup("retrieve", id)
	if err != nil {
		return err
	}
	if err := s.fire("retrieve", c, pbx.EvRetrieve); err != nil {
		return err
	}
	s.emit(EventRetrieved, c, c.agent, c.queue, "")
	return nil
}

// AttachUserData adds or replaces key-value pairs of an interaction's
// attached data.
func (s *Server) AttachUserData(id pbx.ConnID, data pbx.UserData) error {
	c, err := s.lookup("attach user data", id)
	if err != nil {
		return err
	}
	for _, kv := range data {
		if kv.Key == "" {
			return pbx.Errorf(pbx.Invalid, "tserver: attach user data: empty key")
		}
	}
	for _, kv := range data {
		c.UserData.Set(kv.Key, kv.Value)
	}
	s.emit(EventAttachedDataChanged, c, c.agent, c.queue, "")
	return nil
}
