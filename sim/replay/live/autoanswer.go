package live

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/sim/replay"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// An agent with auto_answer answers every interaction offered to it
// answer_after the offer, and releases it release_after the answer (when
// given), as in virtual time: a call ringing on its SIP phone on the
// phone (200, then BYE), anything else (a chat, a call to an agent with
// no phone) over CTI on its EventRinging (RequestAnswerCall, then
// RequestReleaseCall). manual stops answering what is offered next;
// what was offered before keeps its timers.

// setAutoAnswer plays an agent's auto_answer (act) or manual (nil).
func (c *Center) setAutoAnswer(a *agent, act *replay.Action) {
	c.mu.Lock()
	a.auto = act
	c.mu.Unlock()
}

// laterLocked runs f after d on a goroutine the Center owns, unless the Center
// closes first; it returns false when the Center is closing. The caller
// holds c.mu.
func (c *Center) laterLocked(d time.Duration, f func()) bool {
	if c.closing {
		return false
	}
	c.wg.Go(func() {
		if c.wait(d, nil) {
			f()
		}
	})
	return true
}

// autoAnswerDeskLocked: interaction id rings at agent a's desktop (its CTI
// EventRinging m). The caller holds c.mu.
func (c *Center) autoAnswerDeskLocked(a *agent, m cti.Message) {
	act := a.auto
	if act == nil || a.cli == nil || a.phone && m.Media != pbx.IM.String() {
		return // manual, or a call ringing on the agent's phone (onInvite answers it)
	}
	id, cl := m.ConnID, a.cli
	c.laterLocked(act.AnswerAfter, func() {
		if !c.atAgent(a, id, "ringing") {
			return // answered, rejected or gone meanwhile
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		err := cl.Answer(ctx, id)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil && c.atAgent(a, id, "ringing") {
				c.lateError(act, fmt.Errorf("agent %s answering %s: %w", a.id, c.nameOf(id), err))
			}
			return
		}
		if act.ReleaseAfter == 0 {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.laterLocked(act.ReleaseAfter, func() {
			if !c.atAgent(a, id, "established", "held") {
				return // the customer or someone else ended it
			}
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			defer cancel()
			if err := cl.Release(ctx, id); err != nil && c.ctx.Err() == nil && c.atAgent(a, id, "established", "held") {
				c.lateError(act, fmt.Errorf("agent %s releasing %s: %w", a.id, c.nameOf(id), err))
			}
		})
	})
}

// atAgent reports whether interaction id is at agent a in one of states,
// as its CTI events tell.
func (c *Center) atAgent(a *agent, id pbx.ConnID, states ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(a.hand, func(h held) bool { return h.id == id && slices.Contains(states, h.state) })
}

// nameOf is the script's name of interaction id, or #id.
func (c *Center) nameOf(id pbx.ConnID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.names[id]; ok {
		return n
	}
	return "#" + id.String()
}

// autoAnswerPhoneLocked: offer o rings on agent a's phone. The caller
// holds c.mu.
func (c *Center) autoAnswerPhoneLocked(a *agent, o *offer) {
	act := a.auto
	if act == nil {
		return
	}
	c.laterLocked(act.AnswerAfter, func() {
		if !c.takeOffer(a, o) {
			return // the script answered it, or the switch cancelled it
		}
		err := c.answerOffer(o, "agent "+a.id+"'s phone")
		close(o.decided)
		if err != nil {
			if c.ctx.Err() == nil {
				c.lateError(act, fmt.Errorf("agent %s's phone answering: %w", a.id, err))
			}
			return
		}
		if act.ReleaseAfter == 0 {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.laterLocked(act.ReleaseAfter, func() {
			if o.dlg.LoadState() == sip.DialogStateEnded {
				return // the caller hung up, or the switch ended it
			}
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			defer cancel()
			if err := o.dlg.Bye(ctx); err != nil && c.ctx.Err() == nil && o.dlg.LoadState() != sip.DialogStateEnded {
				c.lateError(act, fmt.Errorf("agent %s's phone hanging up: BYE: %w", a.id, err))
			}
		})
	})
}

// takeOffer removes offer o from agent a's ringing phone; false when it
// is no longer there or no longer rings.
func (c *Center) takeOffer(a *agent, o *offer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(a.ringing, o)
	if i < 0 {
		return false
	}
	a.ringing = slices.Delete(a.ringing, i, i+1)
	select {
	case <-o.tx.Done():
		return false
	default:
		return true
	}
}

// answerOffer answers offer o on the phone (its leg name is name): 200
// with an SDP naming an RTP socket of its own, then PCMU on it while the
// call is up (startRTP).
func (c *Center) answerOffer(o *offer, name string) error {
	conn, port, err := c.listenRTP()
	if err != nil {
		return err
	}
	if err := o.dlg.RespondSDP(media.BuildSDP(rand.Uint64()>>1, c.host, port, []media.Codec{media.PCMU}, media.SendRecv)); err != nil {
		_ = conn.Close()
		return err
	}
	return c.startRTP(name, conn, o.dlg.InviteRequest.Body(), o.dlg.Context())
}
