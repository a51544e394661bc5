package sipgw

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/callback"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
)

// Callbacks is the callback server as the gateway sees it while it
// carries an agent-first callback; both methods run on the loop.
type Callbacks interface {
	// Answered: the agent answered callback interaction id. The callback
	// server now has the gateway call the customer (DialCallback, maybe
	// from inside Answered) or ends the interaction.
	Answered(id pbx.ConnID)
	// Result is how attempt of interaction id ended: answered, busy,
	// no_answer or unreachable. After anything but answered the callback
	// server may have the same agent call the next target
	// (DialCallback), or end the interaction.
	Result(id pbx.ConnID, attempt int, r callback.Result)
}

// OnCallback sets the callback server the gateway reports to; without
// one, a callback offered to a SIP agent is refused. Set it before Serve.
func (g *Gateway) OnCallback(cb Callbacks) { g.callbacks = cb }

// CustomerAnswerTimeout bounds how long a callback lets the customer's
// phone ring: then the attempt is no_answer.
const CustomerAnswerTimeout = 45 * time.Second

// dialOrder is one call the callback server asked for.
type dialOrder struct {
	attempt int
	target  callback.Target
}

// OfferCallback carries callback interaction c offered to agent a (on the
// loop), agent first: the agent's phone rings; once the agent answers,
// the callback server is told (Callbacks.Answered) and has the gateway
// call the customer (DialCallback) while the agent hears ringback; the
// two are bridged when the customer answers. An agent who does not
// answer is a refused offer (tserver offers the callback to the next).
// The agent's leg stays up between the attempts of the callback server,
// until it ends the interaction or the agent hangs up.
func (g *Gateway) OfferCallback(c *tserver.Contact, a *tserver.Agent) {
	id, agentDN := c.ID, a.DN
	if g.callbacks == nil {
		g.log.Warn().Str("conn_id", id.String()).Msg("callback offered but no callback server is attached")
		g.post(func() { _ = g.ts.RejectCall(id, "unreachable") })
		return
	}
	contacts := g.cfg.Registrar.Lookup(agentDN)
	if len(contacts) == 0 {
		g.post(func() { _ = g.ts.RejectCall(id, "unreachable") })
		return
	}
	ctx, cancel := context.WithCancel(g.ctx)
	o := &outbound{g: g, id: id, ctx: ctx, cancel: cancel, orders: make(chan dialOrder, 4)}
	g.mu.Lock()
	g.outbound[id] = o
	g.mu.Unlock()
	agentURI := contacts[0].URI
	if !g.goOwned(func() {
		if refused := o.carryCallback(agentURI, agentDN); refused != "" {
			o.hangUp()
			g.post(func() { _ = g.ts.RejectCall(id, refused) })
			return
		}
		g.release(id)
		o.hangUp()
	}) {
		o.hangUp()
	}
}

// Carries reports whether interaction c is a call the gateway carries
// (a caller's, or a customer-first callback's customer on the line), as
// opposed to an agent-first callback still to be dialled.
func (g *Gateway) Carries(c *tserver.Contact) bool {
	if g.call(c.ID) != nil {
		return true
	}
	_, ours := c.UserData.Get(sipCallIDKey)
	return ours
}

// DialCallback has the agent on callback interaction id call t (attempt
// numbers the callback server's attempt); on the loop, never blocking.
// An interaction the gateway does not carry reports unreachable.
func (g *Gateway) DialCallback(id pbx.ConnID, attempt int, t callback.Target) {
	g.mu.Lock()
	o := g.outbound[id]
	g.mu.Unlock()
	if o != nil && o.orders != nil {
		select {
		case o.orders <- dialOrder{attempt: attempt, target: t}:
			return
		default:
		}
	}
	g.log.Warn().Str("conn_id", id.String()).Int("attempt", attempt).Msg("callback: no agent leg to dial from")
	cb := g.callbacks
	g.post(func() { cb.Result(id, attempt, callback.ResultUnreachable) })
}

// carryCallback rings the agent, then calls what the callback server
// orders, bridging the first customer who answers until either side
// hangs up. It returns why the agent's offer failed ("" once the agent
// answered).
func (o *outbound) carryCallback(agentURI sip.Uri, agentDN string) (refused string) {
	g := o.g
	log := g.log.With().Str("conn_id", o.id.String()).Str("dn", agentDN).Logger()
	agentLeg, agentConn, agentAnswer, res := o.dial(agentURI, "callback", []media.Codec{media.PCMU, media.PCMA}, g.cfg.RingTimeout)
	if res != callback.ResultAnswered {
		log.Info().Str("result", string(res)).Msg("callback: the agent's phone did not answer")
		return "no_answer"
	}
	codec, ok := media.Negotiate(agentAnswer, []media.Codec{media.PCMU, media.PCMA})
	if !ok {
		return "unreachable"
	}
	var answerErr error
	if err := g.do(func() {
		if answerErr = g.ts.AnswerCall(o.id); answerErr == nil {
			g.callbacks.Answered(o.id)
		}
	}); err != nil || answerErr != nil {
		return ""
	}
	agentRemote := &net.UDPAddr{IP: net.ParseIP(agentAnswer.Address), Port: agentAnswer.Port}
	player := media.NewPlayer(agentConn, agentRemote, codec, rand.Uint32(), uint16(rand.Uint32()), rand.Uint32())
	for {
		var order dialOrder
		select {
		case order = <-o.orders:
		case <-agentLeg.Context().Done():
			return ""
		case <-o.ctx.Done():
			return ""
		}
		farLeg, farConn, farAnswer, res := o.callCustomer(player, order.target, agentDN, codec)
		log.Info().Int("attempt", order.attempt).Str("medium", string(order.target.Medium)).Str("result", string(res)).Msg("callback: called the customer")
		cb := g.callbacks
		_ = g.do(func() { cb.Result(o.id, order.attempt, res) })
		if res != callback.ResultAnswered {
			continue
		}
		relay := media.NewRelay(
			media.Leg{Conn: agentConn, Remote: agentRemote},
			media.Leg{Conn: farConn, Remote: &net.UDPAddr{IP: net.ParseIP(farAnswer.Address), Port: farAnswer.Port}})
		relay.ContinueA(player.Next())
		g.goOwned(func() { _ = relay.Run(o.ctx) })
		select {
		case <-agentLeg.Context().Done():
		case <-farLeg.Context().Done():
		case <-o.ctx.Done():
		}
		return ""
	}
}

// callCustomer calls t while the agent hears ringback from player.
func (o *outbound) callCustomer(player *media.Player, t callback.Target, from string, codec media.Codec) (*sipgo.DialogClientSession, net.PacketConn, media.SDP, callback.Result) {
	g := o.g
	uri, ok := o.targetURI(t)
	if !ok {
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	player.Loop(media.Ringback())
	ringCtx, stopRingback := context.WithCancel(o.ctx)
	ringDone := make(chan struct{})
	if !g.goOwned(func() { defer close(ringDone); _ = player.Run(ringCtx) }) {
		close(ringDone)
	}
	defer func() {
		stopRingback()
		<-ringDone
	}()
	return o.dial(uri, from, []media.Codec{codec}, CustomerAnswerTimeout)
}

// targetURI is where target is called: the binding of a customer's
// registered softphone, or the number at the outbound trunk.
func (o *outbound) targetURI(t callback.Target) (sip.Uri, bool) {
	g := o.g
	switch t.Medium {
	case callback.SIP:
		if contacts := g.cfg.Registrar.Lookup(t.Address); len(contacts) > 0 {
			return contacts[0].URI, true
		}
	case callback.Phone:
		host, portStr, err := net.SplitHostPort(g.cfg.OutboundTrunk)
		if err != nil {
			return sip.Uri{}, false
		}
		port, _ := strconv.Atoi(portStr)
		return sip.Uri{Scheme: "sip", User: t.Address, Host: host, Port: port}, true
	}
	return sip.Uri{}, false
}

// dial calls uri showing from as the caller, lets it ring up to timeout,
// and acknowledges the answer; it says how the call went. A phone that
// sent no provisional response is not CANCELled (RFC 3261 §9.1): its
// transaction is dropped at the timeout.
func (o *outbound) dial(uri sip.Uri, from string, codecs []media.Codec, timeout time.Duration) (*sipgo.DialogClientSession, net.PacketConn, media.SDP, callback.Result) {
	g := o.g
	conn, port, err := g.cfg.ListenRTP(g.cfg.MediaIP, g.cfg.RTPPortMin, g.cfg.RTPPortMax)
	if err != nil {
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	o.mu.Lock()
	if o.done {
		o.mu.Unlock()
		_ = conn.Close()
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	o.conns = append(o.conns, conn)
	o.mu.Unlock()
	sdp := media.BuildSDP(rand.Uint64()>>1, g.cfg.MediaIP, port, codecs, media.SendRecv)
	ringCtx, stopRinging := context.WithCancelCause(o.ctx)
	defer stopRinging(nil)
	var provisional, timedOut atomic.Bool
	ringTimer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		if provisional.Load() {
			stopRinging(errStopRinging)
		} else {
			stopRinging(sipgo.WaitAnswerForceCancelErr)
		}
	})
	defer ringTimer.Stop()
	fromHdr := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: g.host}, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	dlg, err := g.out.Invite(ringCtx, uri, sdp, sip.NewHeader("Content-Type", "application/sdp"), fromHdr)
	if err != nil {
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	o.mu.Lock()
	o.legs = append(o.legs, dlg)
	o.mu.Unlock()
	onResponse := func(r *sip.Response) error {
		if r.IsProvisional() {
			provisional.Store(true)
		}
		return nil
	}
	if err := dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: onResponse}); err != nil {
		return nil, nil, media.SDP{}, dialResult(err, timedOut.Load())
	}
	if err := dlg.Ack(o.ctx); err != nil {
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	answer, err := media.ParseSDP(dlg.InviteResponse.Body())
	if err != nil {
		return nil, nil, media.SDP{}, callback.ResultUnreachable
	}
	return dlg, conn, answer, callback.ResultAnswered
}

// dialResult reads how an INVITE failed: busy (486, 600, 603), no answer
// (the timeout, 408, 480, 487), else unreachable.
func dialResult(err error, timedOut bool) callback.Result {
	var resp *sipgo.ErrDialogResponse
	if errors.As(err, &resp) && resp.Res != nil {
		switch resp.Res.StatusCode {
		case sip.StatusBusyHere, 600, 603: // busy here, busy everywhere, decline
			return callback.ResultBusy
		case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
			return callback.ResultNoAnswer
		}
		return callback.ResultUnreachable
	}
	if timedOut {
		return callback.ResultNoAnswer
	}
	return callback.ResultUnreachable
}

// DialCustomerFirst calls t for a customer-first callback (on the loop,
// never blocking): once the customer answers, report hears answered and
// the call enters queue (the callback queue) as an interaction of media
// callback, at its head (callback.CustomerFirstPriority), arrived at
// since, and is carried like any caller's: a short prompt and music until
// an agent is rung and bridged. A call that does not get through reports busy,
// no_answer or unreachable. report runs on the loop.
func (g *Gateway) DialCustomerFirst(t callback.Target, queue string, since time.Time, data pbx.UserData, report func(callback.Result)) {
	o := &outbound{g: g}
	o.ctx, o.cancel = context.WithCancel(g.ctx)
	if !g.goOwned(func() { o.carryCustomerFirst(t, queue, since, data, report) }) {
		o.cancel()
		g.post(func() { report(callback.ResultUnreachable) })
	}
}

// carryCustomerFirst calls the customer, then hands the answered leg to
// a call queued in queue until it ends.
func (o *outbound) carryCustomerFirst(t callback.Target, queue string, since time.Time, data pbx.UserData, report func(callback.Result)) {
	g := o.g
	defer o.cancel()
	uri, ok := o.targetURI(t)
	res := callback.ResultUnreachable
	var (
		leg    *sipgo.DialogClientSession
		conn   net.PacketConn
		answer media.SDP
	)
	if ok {
		leg, conn, answer, res = o.dial(uri, "callback", []media.Codec{media.PCMU, media.PCMA}, CustomerAnswerTimeout)
	}
	g.log.Info().Str("medium", string(t.Medium)).Str("queue", queue).Str("result", string(res)).Msg("callback: called the customer (customer first)")
	_ = g.do(func() { report(res) })
	if res != callback.ResultAnswered {
		o.hangUp()
		return
	}
	codec, ok := media.Negotiate(answer, []media.Codec{media.PCMU, media.PCMA})
	if !ok {
		o.hangUp()
		return
	}
	ctx, cancel := context.WithCancel(g.ctx)
	c := &call{g: g, codec: codec, ctx: ctx, cancel: cancel, customerLeg: leg, callerRTP: conn,
		callerRemote: &net.UDPAddr{IP: net.ParseIP(answer.Address), Port: answer.Port},
		callerSends:  sends(answer), callerAnswered: true,
		stream: media.Stream{SSRC: rand.Uint32(), Seq: uint16(rand.Uint32()), TS: rand.Uint32()}}
	// The leg is the call's now: the outbound's hang-up must not end it.
	o.mu.Lock()
	o.legs, o.conns, o.done = nil, nil, true
	o.mu.Unlock()
	// Marked as the gateway's own call, so that an offer made from inside
	// Arrive waits for the call to be known (Offer, pending).
	data = data.Clone()
	data.Set(sipCallIDKey, leg.InviteRequest.CallID().Value())
	var arriveErr error
	err := g.do(func() {
		arriveErr = g.arrive(c, &tserver.Arrival{Media: pbx.Callback, ANI: t.Address, DNIS: queue,
			Priority: callback.CustomerFirstPriority, Since: since, UserData: data})
	})
	if err != nil || arriveErr != nil {
		g.log.Warn().Err(cmp.Or(err, arriveErr)).Str("queue", queue).Msg("callback: the answered customer could not be queued")
		c.hangUp()
		return
	}
	c.mu.Lock()
	if c.player == nil && c.relay == nil && !c.done {
		c.announceLocked(true)
	}
	c.mu.Unlock()
	select {
	case <-leg.Context().Done():
		g.release(c.id)
	case <-ctx.Done():
	}
	c.hangUp()
}
