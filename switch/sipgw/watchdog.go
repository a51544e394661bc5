package sipgw

import (
	"time"

	"github.com/ccswitch/ccswitch/switch/media"
)

// The RTP watchdog finds dead peers: a phone that vanished mid-call (no
// BYE, no RTP) would otherwise keep its agent busy until the customer
// hangs up, and the agent would then be offered the next call on a dead
// phone. Each relay stamps the time of the last packet from each leg (one
// atomic store per packet); the watchdog, one goroutine the gateway owns,
// looks at the connected calls every RTPTimeout/4 (at most every 5 s).

// reasonRTPTimeout is the not-ready reason of an agent whose phone stopped
// sending RTP, and the log's word for a call ended that way.
const reasonRTPTimeout = "rtp_timeout"

// sends reports whether the side that sent sdp sends RTP: sendrecv or
// sendonly, and not the old-style hold address 0.0.0.0.
func sends(sdp media.SDP) bool {
	return (sdp.Direction == media.SendRecv || sdp.Direction == media.SendOnly) && sdp.Address != "0.0.0.0"
}

// watchInterval is how often the watchdog looks for silent legs.
func watchInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 10*time.Millisecond), 5*time.Second)
}

// watchRTP checks the calls until the gateway stops (their RTP when
// RTPTimeout is set, their session timers always); Serve starts it on a
// goroutine it owns.
func (g *Gateway) watchRTP() {
	every := 5 * time.Second
	if g.cfg.RTPTimeout > 0 {
		every = watchInterval(g.cfg.RTPTimeout)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var calls []*call
	for {
		select {
		case <-g.ctx.Done():
			return
		case now := <-t.C:
			g.mu.Lock()
			calls = calls[:0]
			for _, c := range g.calls {
				calls = append(calls, c)
			}
			g.mu.Unlock()
			for _, c := range calls {
				if g.cfg.RTPTimeout > 0 {
					c.checkRTP(now, g.cfg.RTPTimeout)
				}
				c.checkSession(now)
			}
			clear(calls)
		}
	}
}

// checkRTP ends c if a leg that should send RTP has been silent for
// timeout: the agent of a silent agent leg is made not ready first, so
// the release that follows cannot make it ready.
func (c *call) checkRTP(now time.Time, timeout time.Duration) {
	c.mu.Lock()
	if c.done || c.dead || c.relay == nil || c.held {
		c.mu.Unlock()
		return
	}
	heardCaller, heardAgent := c.relay.LastHeard()
	callerSilent := c.callerSends && now.Sub(heardCaller) >= timeout
	agentSilent := c.agentSends && now.Sub(heardAgent) >= timeout
	if !callerSilent && !agentSilent {
		c.mu.Unlock()
		return
	}
	c.dead = true
	agentID, id := c.agentID, c.id
	c.mu.Unlock()
	g := c.g
	g.log.Warn().Str("conn_id", id.String()).Str("agent_id", agentID).
		Bool("caller_silent", callerSilent).Bool("agent_silent", agentSilent).
		Dur("timeout", timeout).Msg("no RTP: ending the call")
	g.endDeadCall(c, agentSilent, reasonRTPTimeout)
}

// endDeadCall ends c, which the watchdog found dead (c.dead is set): the
// agent of a dead agent leg is made not ready with reason first, so that
// the release that follows cannot make it ready on a dead phone; the
// release hangs up both legs.
func (g *Gateway) endDeadCall(c *call, agentDead bool, reason string) {
	c.mu.Lock()
	agentID, id := c.agentID, c.id
	c.mu.Unlock()
	g.post(func() {
		if agentDead && agentID != "" {
			if err := g.ts.AgentNotReady(agentID, reason); err != nil {
				g.log.Debug().Err(err).Str("agent_id", agentID).Str("reason", reason).Msg("dead call: agent not made not ready")
			}
		}
		if err := g.ts.ReleaseCall(id); err != nil {
			// Not the domain's any more (released meanwhile): end the
			// legs anyway.
			g.goOwned(c.hangUp)
		}
	})
}
