package sipgw

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver"
)

// outbound is an agent's outbound call (MakeCall), the path callbacks
// take: the switch rings the agent's phone first, then calls the
// destination through the outbound trunk, and relays media between them.
type outbound struct {
	g      *Gateway
	id     pbx.ConnID
	ctx    context.Context
	cancel context.CancelFunc

	// orders are a callback's calls to place (DialCallback); nil for a
	// MakeCall.
	orders chan dialOrder

	mu    sync.Mutex
	legs  []*sipgo.DialogClientSession
	conns []net.PacketConn
	done  bool
}

// Dial places an outbound interaction: tserver.Endpoints, on the loop.
func (g *Gateway) Dial(c *tserver.Contact, a *tserver.Agent) {
	ctx, cancel := context.WithCancel(g.ctx)
	o := &outbound{g: g, id: c.ID, ctx: ctx, cancel: cancel}
	g.mu.Lock()
	g.outbound[c.ID] = o
	g.mu.Unlock()
	agentDN, dest := a.DN, c.DNIS
	g.goOwned(func() {
		o.run(agentDN, dest)
		// However it ended, the domain hears it; a second release of an
		// interaction already over is refused harmlessly.
		g.release(o.id)
		o.hangUp()
	})
}

// run rings the agent, then the destination, then bridges until either
// side hangs up.
func (o *outbound) run(agentDN, dest string) {
	g := o.g
	log := g.log.With().Str("conn_id", o.id.String()).Str("dn", agentDN).Str("destination", dest).Logger()
	if g.cfg.OutboundTrunk == "" {
		log.Warn().Msg("make call: no outbound trunk configured")
		return
	}
	contacts := g.cfg.Registrar.Lookup(agentDN)
	if len(contacts) == 0 {
		log.Info().Msg("make call: the agent's phone is not registered")
		return
	}
	// The agent's leg, offering both codecs; the far leg then uses the one
	// the agent's phone chose, so the relay needs no transcoding.
	agentLeg, agentConn, agentAnswer, ok := o.invite(contacts[0].URI, dest, []media.Codec{media.PCMU, media.PCMA}, g.cfg.RingTimeout)
	if !ok {
		log.Info().Msg("make call: the agent's phone did not answer")
		return
	}
	codec, ok := media.Negotiate(agentAnswer, []media.Codec{media.PCMU, media.PCMA})
	if !ok {
		return
	}
	host, portStr, err := net.SplitHostPort(g.cfg.OutboundTrunk)
	if err != nil {
		log.Warn().Err(err).Msg("make call: bad outbound trunk address")
		return
	}
	port, _ := strconv.Atoi(portStr)
	farURI := sip.Uri{Scheme: "sip", User: dest, Host: host, Port: port}
	farLeg, farConn, farAnswer, ok := o.invite(farURI, agentDN, []media.Codec{codec}, time.Minute)
	if !ok {
		log.Info().Msg("make call: the destination did not answer")
		return
	}
	var answerErr error
	if err := g.do(func() { answerErr = g.ts.AnswerCall(o.id) }); err != nil || answerErr != nil {
		return
	}
	relay := media.NewRelay(
		media.Leg{Conn: agentConn, Remote: &net.UDPAddr{IP: net.ParseIP(agentAnswer.Address), Port: agentAnswer.Port}},
		media.Leg{Conn: farConn, Remote: &net.UDPAddr{IP: net.ParseIP(farAnswer.Address), Port: farAnswer.Port}})
	o.g.goOwned(func() { _ = relay.Run(o.ctx) })
	select {
	case <-agentLeg.Context().Done():
	case <-farLeg.Context().Done():
	case <-o.ctx.Done():
	}
}

// invite calls uri showing from as the caller, waits up to timeout for the
// answer and acknowledges it.
func (o *outbound) invite(uri sip.Uri, from string, codecs []media.Codec, timeout time.Duration) (*sipgo.DialogClientSession, net.PacketConn, media.SDP, bool) {
	g := o.g
	conn, port, err := g.cfg.ListenRTP(g.cfg.MediaIP, g.cfg.RTPPortMin, g.cfg.RTPPortMax)
	if err != nil {
		return nil, nil, media.SDP{}, false
	}
	o.mu.Lock()
	if o.done {
		o.mu.Unlock()
		_ = conn.Close()
		return nil, nil, media.SDP{}, false
	}
	o.conns = append(o.conns, conn)
	o.mu.Unlock()
	sdp := media.BuildSDP(rand.Uint64()>>1, g.cfg.MediaIP, port, codecs, media.SendRecv)
	ctx, cancel := context.WithTimeout(o.ctx, timeout)
	defer cancel()
	fromHdr := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: g.host}, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	dlg, err := g.out.Invite(ctx, uri, sdp, sip.NewHeader("Content-Type", "application/sdp"), fromHdr)
	if err != nil {
		return nil, nil, media.SDP{}, false
	}
	o.mu.Lock()
	o.legs = append(o.legs, dlg)
	o.mu.Unlock()
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, nil, media.SDP{}, false
	}
	if err := dlg.Ack(o.ctx); err != nil {
		return nil, nil, media.SDP{}, false
	}
	answer, err := media.ParseSDP(dlg.InviteResponse.Body())
	if err != nil {
		return nil, nil, media.SDP{}, false
	}
	return dlg, conn, answer, true
}

// hangUp ends both legs once.
func (o *outbound) hangUp() {
	o.mu.Lock()
	if o.done {
		o.mu.Unlock()
		return
	}
	o.done = true
	legs, conns := o.legs, o.conns
	o.mu.Unlock()
	o.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range legs {
		if l.InviteResponse != nil && l.InviteResponse.IsSuccess() && l.Context().Err() == nil {
			_ = o.g.byeAgent(ctx, l)
		}
		l.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	o.g.mu.Lock()
	if o.g.outbound[o.id] == o { // not a new offer of the same interaction
		delete(o.g.outbound, o.id)
	}
	o.g.mu.Unlock()
}
