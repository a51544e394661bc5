package sipgw

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// call is one customer call carried by the gateway: the customer's leg
// (answered by the switch) and, once the router has picked an agent, the
// agent's leg.
type call struct {
	g     *Gateway
	id    pbx.ConnID
	codec media.Codec
	// events: the caller's SDP offered RFC 4733 telephone-events, on
	// payload type eventPT, and the switch's answer has them.
	events  bool
	eventPT uint8
	ctx     context.Context
	cancel  context.CancelFunc

	caller       *sipgo.DialogServerSession
	callerRTP    net.PacketConn
	callerRemote net.Addr
	// customerLeg is the customer's leg when the switch called the
	// customer (a customer-first callback) instead of being called; then
	// caller is nil.
	customerLeg *sipgo.DialogClientSession

	mu          sync.Mutex
	agent       *sipgo.DialogClientSession // the leg being rung or connected
	agentID     string                     // the agent offered the call
	agentRTP    net.PacketConn
	agentRemote net.Addr
	held        bool // the agent put the customer on hold
	// callerSends and agentSends: the leg's last SDP says it sends RTP
	// (sendrecv or sendonly), so its silence means a dead peer.
	callerSends, agentSends bool
	dead                    bool // the watchdog ended the call (no RTP, no session refresh)
	done                    bool
	// callerTimer and agentTimer are the legs' session timers (RFC 4028;
	// sessiontimer.go), zero when a peer does not use them.
	callerTimer, agentTimer sessionTimer
	// callerAnswered: the switch's 200 to the customer was acknowledged.
	callerAnswered bool

	// What the caller hears: a player (announcements, music) or the
	// relay from the agent. One at a time; stream keeps the caller's RTP
	// stream (SSRC, sequence, timestamp) contiguous across them.
	stream    media.Stream
	player    *media.Player
	relay     *media.Relay
	mediaStop context.CancelFunc
	mediaDone chan struct{}
}

// errStopRinging ends an agent leg's ringing with a CANCEL.
var errStopRinging = errors.New("sipgw: stop ringing")

// onInvite takes a new call (or answers a re-INVITE within a dialog).
func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	// The handler carries the call until it ends: Serve waits for it.
	if !g.enter() {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: closing", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		_ = tx.Respond(res)
		return
	}
	defer g.wg.Done()
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			g.onReInvite(req, tx)
			return
		}
	}
	// Overload control comes first, before any work on the request.
	if why := g.overloaded(); why != "" {
		g.refused.Add(1)
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: overloaded ("+why+")", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(g.cfg.OverloadRetryAfter/time.Second))))
		_ = tx.Respond(res)
		return
	}
	// From here until the caller acknowledges the 200 (or the call is
	// refused) the INVITE is a set-up in progress.
	g.setups.Add(1)
	inSetup := true
	endSetup := func() {
		if inSetup {
			inSetup = false
			g.setups.Add(-1)
		}
	}
	defer endSetup()
	src := sourceIP(req.Source())
	if g.draining.Load() {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: closing", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		_ = tx.Respond(res)
		return
	}
	if g.full() {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: too many calls", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		_ = tx.Respond(res)
		return
	}
	if !g.limiter.allow(src) {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		_ = tx.Respond(res)
		return
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Contact() == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Missing From, To, Call-ID, CSeq or Contact", nil))
		return
	}
	dnis := req.Recipient.User
	ani := req.From().Address.User
	if len(dnis) > 1 && dnis[0] == '*' {
		g.featureCode(req, tx, dnis)
		return
	}
	dn, known := g.ts.Directory().Lookup(dnis)
	switch {
	case !known:
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	case dn.Type == pbx.RoutePoint || dn.Type == pbx.ACDQueue:
		// Public numbers: anyone may call them.
	default:
		user, ok := g.cfg.Registrar.Authenticate(req, tx)
		if !ok {
			return // challenged or refused
		}
		ani = user
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: "+err.Error(), nil))
		return
	}
	codec, ok := media.Negotiate(offer, []media.Codec{media.PCMU, media.PCMA})
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: no PCMU or PCMA", nil))
		return
	}
	eventPT, events := media.NegotiateEvents(offer)
	callerTimer, tooSmall := callerSessionTimer(req, time.Now())
	if tooSmall != nil {
		_ = tx.Respond(tooSmall)
		return
	}
	conn, port, err := g.cfg.ListenRTP(g.cfg.MediaIP, g.cfg.RTPPortMin, g.cfg.RTPPortMax)
	if err != nil {
		g.log.Warn().Err(err).Msg("no RTP port")
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: no RTP port", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		_ = tx.Respond(res)
		return
	}
	dtx, err := g.in.ReadInvite(req, tx)
	if err != nil {
		_ = conn.Close()
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	m := pbx.VoIP
	if g.trunks[src] {
		m = pbx.Voice
	}
	ctx, cancel := context.WithCancel(g.ctx)
	c := &call{g: g, codec: codec, events: events, eventPT: eventPT, ctx: ctx, cancel: cancel, caller: dtx, callerRTP: conn,
		callerRemote: &net.UDPAddr{IP: net.ParseIP(offer.Address), Port: offer.Port},
		callerSends:  sends(offer), callerTimer: callerTimer,
		stream: media.Stream{SSRC: rand.Uint32(), Seq: uint16(rand.Uint32()), TS: rand.Uint32()}}
	var arriveErr error
	err = g.do(func() {
		arriveErr = g.arrive(c, &tserver.Arrival{Media: m, ANI: ani, DNIS: dnis,
			UserData: pbx.UserData{{Key: sipCallIDKey, Value: req.CallID().Value()}}})
	})
	if err == nil {
		err = arriveErr
	}
	if err != nil {
		cancel()
		_ = conn.Close()
		code, reason := statusOf(err)
		_ = dtx.Respond(code, reason, nil)
		dtx.Close()
		return
	}
	sdp := callerSDP(g.cfg.MediaIP, port, codec, events, eventPT, media.SendRecv)
	ok200 := sip.NewSDPResponseFromRequest(dtx.InviteRequest, sdp)
	addSessionHeaders(ok200, callerTimer)
	err = dtx.WriteResponse(ok200)
	endSetup()
	if err != nil {
		// The caller left before the ACK, or the ACK was processed after
		// the BYE (sipgo handles messages concurrently): a hang-up.
		g.release(c.id)
		c.hangUp()
		dtx.Close()
		return
	}
	c.mu.Lock()
	c.callerAnswered = true
	over := c.done
	if c.player == nil && c.relay == nil && !c.done {
		c.announceLocked(true)
	}
	c.mu.Unlock()
	if over {
		// The call ended before the customer's 200 was acknowledged (an
		// agent can answer and hang up that fast): hangUp could not end
		// the dialog yet, so end it now.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.byeCaller(ctx, dtx)
		dtx.Close()
		return
	}
	select {
	case <-dtx.Context().Done():
		g.release(c.id)
	case <-ctx.Done():
	}
	c.hangUp()
}

// release tells the domain the call is over (abandon if still waiting).
func (g *Gateway) release(id pbx.ConnID) {
	g.post(func() { _ = g.ts.ReleaseCall(id) })
}

// stopMediaLocked stops what the caller hears and waits for it to stop;
// c.mu is held (the media goroutines never take it).
func (c *call) stopMediaLocked() {
	if c.mediaStop == nil {
		return
	}
	c.mediaStop()
	<-c.mediaDone
	c.mediaStop, c.mediaDone = nil, nil
	switch {
	case c.player != nil:
		c.g.playing.Add(-1)
		c.stream = c.player.Next()
	case c.relay != nil:
		c.stream = c.relay.NextA()
	}
	c.player, c.relay = nil, nil
}

func (c *call) runMediaLocked(run func(context.Context) error) {
	ctx, stop := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.mediaStop, c.mediaDone = stop, done
	go func() {
		defer close(done)
		_ = run(ctx)
	}()
}

// answeredElsewhere stops the announcements when an agent without a SIP
// phone answered the customer.
func (c *call) answeredElsewhere() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.agent == nil && c.player != nil {
		c.stopMediaLocked()
	}
}

// announceLocked plays (the greeting,) the caller's position and wait,
// the callback offer of the caller's queue if it has one
// (Config.CallbackDigits), then music on hold.
func (c *call) announceLocked(greeting bool) {
	c.stopMediaLocked()
	if c.callerRTP == nil {
		return // no customer leg: a simulated or non-SIP customer
	}
	p := media.NewPlayer(c.callerRTP, c.callerRemote, c.codec, c.stream.SSRC, c.stream.Seq, c.stream.TS)
	if greeting {
		p.Play(media.Greeting())
	}
	id := c.id
	c.g.post(func() {
		pos, ewt, err := c.g.ts.Position(id)
		if err != nil {
			return
		}
		p.Play(media.PositionAndWait(pos, max(ewt.Staffing, ewt.Recent))...)
		if ct := c.g.ts.Contact(id); ct != nil {
			if d, ok := c.g.cfg.CallbackDigits[ct.Queue()]; ok {
				p.Play(media.CallbackOffer(d)...)
			}
		}
	})
	p.Loop(media.MusicOnHold())
	c.playLocked(p)
}

// musicLocked plays music on hold only (the agent holds the customer).
func (c *call) musicLocked() {
	c.stopMediaLocked()
	if c.callerRTP == nil {
		return
	}
	p := media.NewPlayer(c.callerRTP, c.callerRemote, c.codec, c.stream.SSRC, c.stream.Seq, c.stream.TS)
	p.Loop(media.MusicOnHold())
	c.playLocked(p)
}

// bridgeLocked relays media between the caller and the agent.
func (c *call) bridgeLocked() {
	c.stopMediaLocked()
	if c.callerRTP == nil {
		return // nobody's media to relay to the agent
	}
	r := media.NewRelay(media.Leg{Conn: c.callerRTP, Remote: c.callerRemote}, media.Leg{Conn: c.agentRTP, Remote: c.agentRemote})
	r.ContinueA(c.stream)
	c.relay = r
	c.runMediaLocked(r.Run)
}

// ringAgent starts the agent's leg; called on the loop.
func (g *Gateway) ringAgent(c *call, a *tserver.Agent) {
	agentDN := a.DN
	contacts := g.cfg.Registrar.Lookup(agentDN)
	id := c.id
	if len(contacts) == 0 {
		g.post(func() { _ = g.ts.RejectCall(id, "unreachable") })
		return
	}
	c.mu.Lock()
	c.agentID = a.ID
	c.mu.Unlock()
	g.goOwned(func() {
		reason := c.dialAgent(contacts[0])
		if reason != "" {
			g.post(func() { _ = g.ts.RejectCall(id, reason) })
		}
	})
}

// dialAgent rings the agent's phone and, when it answers, bridges it; it
// returns why the offer failed, or "".
func (c *call) dialAgent(contact registrar.Contact) string {
	g := c.g
	// The agent's leg shares the customer's RTP socket (the relay tells
	// the parties apart by address): one socket per call. Only a call
	// without a customer leg needs its own.
	conn, port := c.callerRTP, 0
	if conn != nil {
		port = localPort(conn)
	} else {
		var err error
		if conn, port, err = g.cfg.ListenRTP(g.cfg.MediaIP, g.cfg.RTPPortMin, g.cfg.RTPPortMax); err != nil {
			return "no_media_port"
		}
	}
	closeConn := func() {
		if conn != c.callerRTP {
			_ = conn.Close()
		}
	}
	sdp := media.BuildSDP(rand.Uint64()>>1, g.cfg.MediaIP, port, []media.Codec{c.codec}, "sendrecv")
	// The leg stops ringing at the ring timeout or when the caller goes.
	// A phone that sent a 1xx gets a CANCEL; one that sent nothing cannot
	// be cancelled (RFC 3261 §9.1): the INVITE transaction is dropped at
	// once rather than at Timer B (32 s).
	ringCtx, stopRinging := context.WithCancelCause(context.WithoutCancel(c.ctx))
	defer stopRinging(nil)
	var provisional, timedOut atomic.Bool
	stop := func() {
		if provisional.Load() {
			stopRinging(errStopRinging)
		} else {
			stopRinging(sipgo.WaitAnswerForceCancelErr)
		}
	}
	ringTimer := time.AfterFunc(g.cfg.RingTimeout, func() { timedOut.Store(true); stop() })
	defer ringTimer.Stop()
	defer context.AfterFunc(c.ctx, stop)()
	dlg, err := g.out.Invite(ringCtx, contact.URI, sdp, append(agentSessionHeaders(), sip.NewHeader("Content-Type", "application/sdp"))...)
	if err != nil {
		closeConn()
		return "unreachable"
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		closeConn()
		return ""
	}
	c.agent, c.agentRTP = dlg, conn
	c.mu.Unlock()
	onResponse := func(r *sip.Response) error {
		if r.IsProvisional() {
			provisional.Store(true)
		}
		return nil
	}
	if err := dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: onResponse}); err != nil {
		c.mu.Lock()
		c.agent, c.agentRTP = nil, nil
		c.mu.Unlock()
		closeConn()
		dlg.Close()
		var de *sipgo.ErrDialogResponse
		switch {
		case c.ctx.Err() != nil:
			return "" // the caller is gone: abandon already reported
		case errors.As(err, &de) && (de.Res.StatusCode == sip.StatusBusyHere || de.Res.StatusCode == 600):
			return "busy"
		case errors.As(err, &de) && de.Res.StatusCode == 603:
			return "declined"
		case errors.As(err, &de):
			return "refused"
		case timedOut.Load() && provisional.Load():
			return "ring_no_answer"
		}
		return "unreachable"
	}
	if err := dlg.Ack(c.ctx); err != nil {
		g.log.Warn().Err(err).Str("conn_id", c.id.String()).Msg("ACK to agent failed")
	}
	answer, err := media.ParseSDP(dlg.InviteResponse.Body())
	if err != nil {
		_ = g.byeAgent(c.ctx, dlg)
		return "bad_sdp"
	}
	c.mu.Lock()
	c.agentRemote = &net.UDPAddr{IP: net.ParseIP(answer.Address), Port: answer.Port}
	c.agentSends = sends(answer)
	c.agentTimer = agentSessionTimer(dlg.InviteResponse, time.Now())
	c.mu.Unlock()
	var answerErr error
	if err := g.do(func() { answerErr = g.ts.AnswerCall(c.id) }); err != nil || answerErr != nil {
		// The caller hung up while the phone rang, or the domain moved on.
		_ = g.byeAgent(context.Background(), dlg)
		return ""
	}
	c.mu.Lock()
	if !c.done && c.agent == dlg {
		c.bridgeLocked()
	}
	c.mu.Unlock()
	select {
	case <-dlg.Context().Done():
		c.mu.Lock()
		current := c.agent == dlg
		c.mu.Unlock()
		if current {
			g.release(c.id) // the agent hung up
		}
	case <-c.ctx.Done():
	}
	return ""
}

// hangUp ends both legs once.
func (c *call) hangUp() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	agent, agentRTP, answered := c.agent, c.agentRTP, c.callerAnswered
	c.stopMediaLocked()
	c.mu.Unlock()
	c.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// BYE only an answered agent leg: one still ringing is CANCELled by
	// dialAgent (c.cancel above stops its WaitAnswer), and one answered
	// but not yet ACKed is BYEd there when AnswerCall fails.
	if agent != nil && agent.LoadState() == sip.DialogStateConfirmed && agent.Context().Err() == nil {
		_ = c.g.byeAgent(ctx, agent)
	}
	// The customer's dialog exists only once the switch's 200 was
	// acknowledged; before that onInvite ends it (sipgo's Bye needs the
	// 200 sent).
	// Before the ACK the dialog must stay known to the server cache, or
	// the ACK would find nothing and the 200 would wait for it in vain.
	if c.caller != nil && answered {
		if c.caller.Context().Err() == nil {
			_ = c.g.byeCaller(ctx, c.caller)
		}
		c.caller.Close()
	}
	if leg := c.customerLeg; leg != nil {
		if leg.LoadState() == sip.DialogStateConfirmed && leg.Context().Err() == nil {
			_ = c.g.byeAgent(ctx, leg) // a leg the switch placed, like an agent's
		}
		leg.Close()
	}
	if agent != nil {
		agent.Close()
	}
	if c.callerRTP != nil {
		_ = c.callerRTP.Close()
	}
	if agentRTP != nil && agentRTP != c.callerRTP {
		_ = agentRTP.Close()
	}
	c.g.mu.Lock()
	delete(c.g.calls, c.id)
	c.g.mu.Unlock()
}

func (g *Gateway) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = g.in.ReadAck(req, tx)
}

func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := g.in.ReadBye(req, tx); err == nil {
		return
	}
	if err := g.out.ReadBye(req, tx); err == nil {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
}

func sourceIP(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return host
}

// arrive hands call c to tserver and keeps it by its interaction id; an
// agent tserver offered it to while it arrived rings now. It runs on the
// loop.
func (g *Gateway) arrive(c *call, in *tserver.Arrival) error {
	id, err := g.ts.Arrive(in)
	if err != nil {
		return err
	}
	c.id = id
	g.mu.Lock()
	g.calls[c.id] = c
	g.mu.Unlock()
	if a := g.pending[c.id]; a != nil {
		delete(g.pending, c.id)
		g.ringAgent(c, a)
	}
	return nil
}
