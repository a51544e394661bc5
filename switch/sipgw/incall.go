package sipgw

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/switch/media"
)

// callOfAgentLeg finds the call whose agent leg is dlg.
func (g *Gateway) callOfAgentLeg(dlg *sipgo.DialogClientSession) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.calls {
		c.mu.Lock()
		match := c.agent == dlg
		c.mu.Unlock()
		if match {
			return c
		}
	}
	return nil
}

// callOfCallerLeg finds the call whose customer leg is dtx.
func (g *Gateway) callOfCallerLeg(dtx *sipgo.DialogServerSession) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.calls {
		if c.caller != nil && c.caller == dtx {
			return c
		}
	}
	return nil
}

// callOfRequest finds the call an in-dialog request belongs to, and
// whether it came from the agent's leg (else the customer's).
func (g *Gateway) callOfRequest(req *sip.Request) (c *call, fromAgent bool) {
	if dlg, err := g.out.MatchRequestDialog(req); err == nil {
		return g.callOfAgentLeg(dlg), true
	}
	if dtx, err := g.in.MatchDialogRequest(req); err == nil {
		return g.callOfCallerLeg(dtx), false
	}
	return nil, false
}

// mirror is the direction that answers an offered one (RFC 3264 §6.1).
func mirror(direction string) string {
	switch direction {
	case media.SendOnly:
		return media.RecvOnly
	case media.RecvOnly:
		return media.SendOnly
	case media.Inactive:
		return media.Inactive
	}
	return media.SendRecv
}

// onReInvite answers a re-INVITE within a dialog. From the agent's phone,
// sendonly or inactive is hold (the customer hears music on hold) and
// sendrecv again is retrieve; the domain hears HoldCall / RetrieveCall.
// From the customer it is answered and changes nothing.
func (g *Gateway) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: "+err.Error(), nil))
		return
	}
	c, fromAgent := g.callOfRequest(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	hold := offer.Direction == media.SendOnly || offer.Direction == media.Inactive || offer.Address == "0.0.0.0"
	if fromAgent {
		var opErr error
		err := g.do(func() {
			if hold {
				opErr = g.ts.HoldCall(c.id)
			} else {
				opErr = g.ts.RetrieveCall(c.id)
			}
		})
		if err == nil {
			err = opErr
		}
		// Holding twice or retrieving a call not held is a refresh, not an
		// error, for the phone: the domain's answer is only logged.
		if err != nil {
			g.log.Debug().Err(err).Bool("hold", hold).Msg("re-INVITE: hold state unchanged in the domain")
		}
		c.mu.Lock()
		c.agentSends = sends(offer)
		if !c.done {
			switch {
			case hold && !c.held:
				c.held = true
				c.musicLocked()
			case !hold && c.held:
				c.held = false
				c.bridgeLocked()
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	events, eventPT := false, uint8(0)
	if !fromAgent {
		c.callerSends = sends(offer)
		// The caller's digits come as the new offer says from the next
		// announcement on.
		eventPT, events = media.NegotiateEvents(offer)
		c.events, c.eventPT = events, eventPT
	}
	conn := c.callerRTP
	if fromAgent {
		conn = c.agentRTP
	}
	codec := c.codec
	c.mu.Unlock()
	port := 9
	if conn != nil {
		port = localPort(conn)
	}
	sdp := callerSDP(g.cfg.MediaIP, port, codec, events, eventPT, mirror(offer.Direction))
	res := sip.NewSDPResponseFromRequest(req, sdp)
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "ccswitch", Host: g.host, Port: g.port}})
	for _, h := range c.refreshed(fromAgent, time.Now()) { // a re-INVITE refreshes the session
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// onUpdate answers an UPDATE within a call (RFC 3311): without a body it
// refreshes the leg's session (RFC 4028) and changes nothing else; an
// UPDATE that offers new media is refused (488: the switch takes media
// changes by re-INVITE).
func (g *Gateway) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c, fromAgent := g.callOfRequest(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	if len(req.Body()) > 0 {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: media changes go by re-INVITE", nil))
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "ccswitch", Host: g.host, Port: g.port}})
	for _, h := range c.refreshed(fromAgent, time.Now()) {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// onRefer carries out a blind transfer asked by the agent's phone (RFC
// 3515): the customer goes to the Refer-To number (a queue, route point or
// agent), the agent's leg ends.
func (g *Gateway) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	dlg, err := g.out.MatchRequestDialog(req)
	var c *call
	if err == nil {
		c = g.callOfAgentLeg(dlg)
	}
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Missing Refer-To", nil))
		return
	}
	var to sip.Uri
	if err := sip.ParseUri(trimAngle(h.Value()), &to); err != nil || to.User == "" {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Refer-To", nil))
		return
	}
	// Detach the agent's leg first: the domain may offer the customer to
	// the next agent from inside the transfer.
	c.mu.Lock()
	if c.done || c.agent != dlg {
		c.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	oldRTP := c.agentRTP
	c.agent, c.agentRTP, c.agentRemote, c.held = nil, nil, nil, false
	c.announceLocked(false)
	c.mu.Unlock()
	var opErr error
	err = g.do(func() { opErr = g.ts.SingleStepTransfer(c.id, to.User) })
	if err == nil {
		err = opErr
	}
	if err != nil {
		// Nothing changed in the domain: the agent keeps the customer.
		c.mu.Lock()
		if !c.done && c.agent == nil {
			c.agent, c.agentRTP = dlg, oldRTP
			c.bridgeLocked()
		}
		c.mu.Unlock()
		status, reason := statusOf(err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusAccepted, "Accepted", nil))
	g.goOwned(func() {
		ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
		defer cancel()
		notify := sip.NewRequest(sip.NOTIFY, dlg.InviteResponse.Contact().Address)
		notify.AppendHeader(sip.NewHeader("Event", "refer"))
		notify.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
		notify.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
		notify.SetBody([]byte("SIP/2.0 200 OK\r\n"))
		if res, err := dlg.Do(ctx, g.fromListener(notify)); err != nil || !res.IsSuccess() {
			g.log.Debug().Err(err).Msg("NOTIFY after REFER not accepted")
		}
		if dlg.Context().Err() == nil {
			_ = g.byeAgent(ctx, dlg)
		}
		dlg.Close()
		if oldRTP != nil && oldRTP != c.callerRTP {
			_ = oldRTP.Close()
		}
	})
}

// trimAngle returns the URI inside <...> of a name-addr.
func trimAngle(s string) string {
	if _, rest, ok := strings.Cut(s, "<"); ok {
		s, _, _ = strings.Cut(rest, ">")
	}
	return s
}

func localPort(conn net.PacketConn) int {
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		return a.Port
	}
	return 9
}
