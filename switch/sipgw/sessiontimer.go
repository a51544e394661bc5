package sipgw

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Session timers (RFC 4028). Where a peer supports them, each leg of a
// call is refreshed at an agreed interval, by the peer (a re-INVITE or an
// UPDATE) or by the switch (an UPDATE). A leg whose refresh does not come
// ends the call like a silent RTP leg does: a phone that vanished while
// its call was on hold (and so sent no RTP) is found this way too.
//
//   - The customer's leg: when the INVITE says Supported: timer and asks
//     for a Session-Expires, the switch's 200 agrees to it (at least
//     MinSE; a shorter one gets 422 with Min-SE) with refresher=uac and
//     Require: timer: the customer refreshes. Without Supported: timer the
//     leg has no session timer.
//   - The agent's leg: the switch's INVITE says Supported: timer and asks
//     for agentSessionExpires with refresher=uas; the phone's 200 says
//     what it agreed to. refresher=uas: the phone refreshes. refresher=uac:
//     the switch does, with a bodiless UPDATE at half the interval; a
//     refresh that fails ends the call. No Session-Expires: no timer.
//
// A refresher that is late by more than the RFC's margin (a third of the
// interval, at most 32 s) ends the call: both legs get a BYE and the agent
// of a dead phone is made not ready (reason session_expired).

const (
	// minSE is the shortest session interval the switch accepts (the
	// RFC's minimum).
	minSE = 90 * time.Second
	// agentSessionExpires is the interval asked of agents' phones.
	agentSessionExpires = 30 * time.Minute
	// reasonSessionExpired is the not-ready reason of an agent whose
	// phone's session was not refreshed in time.
	reasonSessionExpired = "session_expired"
)

// sessionTimer is one leg's session timer; the zero value is none.
type sessionTimer struct {
	interval   time.Duration
	weRefresh  bool      // the switch refreshes (else the peer does)
	last       time.Time // the last refresh, or the answer
	refreshing bool      // an UPDATE of ours is under way
}

func (t *sessionTimer) on() bool { return t.interval > 0 }

// expired reports whether a peer that refreshes has let the session run
// out (RFC 4028 §10: the interval less a third of it, at most 32 s).
func (t *sessionTimer) expired(now time.Time) bool {
	if !t.on() || t.weRefresh {
		return false
	}
	return now.Sub(t.last) >= t.interval-min(32*time.Second, t.interval/3)
}

// due reports whether the switch should refresh now (half the interval).
func (t *sessionTimer) due(now time.Time) bool {
	return t.on() && t.weRefresh && !t.refreshing && now.Sub(t.last) >= t.interval/2
}

// hasOption reports whether a Supported or Require header of m lists tag.
func hasOption(m sip.Message, tag string) bool {
	for _, name := range []string{"Supported", "Require", "k"} {
		for _, h := range m.GetHeaders(name) {
			for _, t := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(t), tag) {
					return true
				}
			}
		}
	}
	return false
}

// sessionExpires reads m's Session-Expires (or its compact form x): the
// interval and the refresher parameter ("uac", "uas" or "").
func sessionExpires(m sip.Message) (time.Duration, string, bool) {
	hs := m.GetHeaders("Session-Expires")
	if len(hs) == 0 {
		hs = m.GetHeaders("x")
	}
	if len(hs) == 0 {
		return 0, "", false
	}
	h := hs[0]
	parts := strings.Split(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || secs <= 0 {
		return 0, "", false
	}
	refresher := ""
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return time.Duration(secs) * time.Second, refresher, true
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// callerSessionTimer decides the customer leg's session timer from its
// INVITE: the timer (zero when none), or a 422 to send instead.
func callerSessionTimer(req *sip.Request, now time.Time) (sessionTimer, *sip.Response) {
	se, _, ok := sessionExpires(req)
	if !ok || !hasOption(req, "timer") {
		return sessionTimer{}, nil
	}
	if se < minSE {
		res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(sip.NewHeader("Min-SE", seconds(minSE)))
		return sessionTimer{}, res
	}
	return sessionTimer{interval: se, last: now}, nil
}

// addSessionHeaders puts t's agreement on a 2xx to the customer: the
// customer refreshes.
func addSessionHeaders(res *sip.Response, t sessionTimer) {
	if !t.on() {
		return
	}
	res.AppendHeader(sip.NewHeader("Session-Expires", seconds(t.interval)+";refresher=uac"))
	res.AppendHeader(sip.NewHeader("Require", "timer"))
}

// agentSessionHeaders are what the switch's INVITE to an agent's phone
// says of session timers.
func agentSessionHeaders() []sip.Header {
	return []sip.Header{
		sip.NewHeader("Supported", "timer"),
		sip.NewHeader("Session-Expires", seconds(agentSessionExpires)+";refresher=uas"),
		sip.NewHeader("Min-SE", seconds(minSE)),
	}
}

// agentSessionTimer reads the phone's 200: the agreed timer, or none.
func agentSessionTimer(res *sip.Response, now time.Time) sessionTimer {
	se, refresher, ok := sessionExpires(res)
	if !ok {
		return sessionTimer{}
	}
	return sessionTimer{interval: max(se, minSE), weRefresh: refresher == "uac", last: now}
}

// refreshed records a refresh of a leg by its peer (a re-INVITE or an
// UPDATE), and returns the headers the 2xx carries.
func (c *call) refreshed(fromAgent bool, now time.Time) []sip.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &c.callerTimer
	if fromAgent {
		t = &c.agentTimer
	}
	if !t.on() {
		return nil
	}
	t.last = now
	refresher := "uac"
	if fromAgent && t.weRefresh {
		refresher = "uas" // the phone's request; we stay the refresher
	}
	return []sip.Header{
		sip.NewHeader("Session-Expires", seconds(t.interval)+";refresher="+refresher),
		sip.NewHeader("Require", "timer"),
	}
}

// checkSession ends c when a peer let its session expire, and refreshes
// the agent's leg when the switch is its refresher.
func (c *call) checkSession(now time.Time) {
	c.mu.Lock()
	if c.done || c.dead {
		c.mu.Unlock()
		return
	}
	callerExpired, agentExpired := c.callerTimer.expired(now), c.agentTimer.expired(now)
	refresh := c.agentTimer.due(now) && c.agent != nil
	if refresh {
		c.agentTimer.refreshing = true
	}
	dlg := c.agent
	if callerExpired || agentExpired {
		c.dead = true
	}
	agentID, id := c.agentID, c.id
	c.mu.Unlock()
	g := c.g
	if callerExpired || agentExpired {
		g.log.Warn().Str("conn_id", id.String()).Str("agent_id", agentID).
			Bool("caller_expired", callerExpired).Bool("agent_expired", agentExpired).
			Msg("session not refreshed: ending the call")
		g.endDeadCall(c, agentExpired, reasonSessionExpired)
		return
	}
	if !refresh {
		return
	}
	g.goOwned(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 32*time.Second)
		defer cancel()
		req := sip.NewRequest(sip.UPDATE, dlg.InviteResponse.Contact().Address)
		for _, h := range agentSessionHeaders() {
			req.AppendHeader(h)
		}
		res, err := dlg.Do(ctx, g.fromListener(req))
		c.mu.Lock()
		c.agentTimer.refreshing = false
		ok := err == nil && res.IsSuccess()
		if ok {
			c.agentTimer.last = time.Now()
			if se, _, found := sessionExpires(res); found {
				c.agentTimer.interval = max(se, minSE)
			}
		}
		done := c.done || c.dead
		if !ok && !done {
			c.dead = true
		}
		c.mu.Unlock()
		if !ok && !done && c.ctx.Err() == nil {
			g.log.Warn().Err(err).Str("conn_id", id.String()).Str("agent_id", agentID).
				Msg("session refresh failed: ending the call")
			g.endDeadCall(c, true, reasonSessionExpired)
		}
	})
}
