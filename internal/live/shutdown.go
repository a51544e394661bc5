package live

import (
	"context"
	"time"
)

// drainPoll is how often Shutdown looks whether the calls and chats under
// way have ended.
const drainPoll = 100 * time.Millisecond

// Shutdown closes the center gracefully: it stops taking new interactions
// (new calls are answered 503 with Retry-After, a customer who starts a
// chat is told the center is closing, /readyz says not ready), lets the
// calls and chats under way run until they end or Config.Drain has passed, then
// ends the rest cleanly (a chat's customer and agent are told; a call's
// legs get a BYE), makes the journal durable and closes. ctx ending cuts
// the drain short.
func (c *Center) Shutdown(ctx context.Context) error {
	drain := max(c.cfg.Drain, 0)
	if c.rec != nil {
		// What the drain ends is the center's doing, not the outside
		// world's: the recording stops here.
		c.rec.Stop()
	}
	c.draining.Store(true)
	c.gw.Drain()
	if c.im != nil {
		_ = c.loop.Do(ctx, c.im.gw.Drain)
	}
	c.log.Info().Dur("drain", drain).Int("calls", c.gw.Calls()).Int("chats", c.liveChats(ctx)).Msg("draining")
	deadline := time.NewTimer(drain)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
wait:
	for c.gw.Calls() > 0 || c.liveChats(ctx) > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	calls, chats := c.gw.Calls(), c.liveChats(ctx)
	if c.im != nil && chats > 0 {
		// With a short deadline of its own: ctx may be over.
		end, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.loop.Do(end, c.im.gw.EndAll)
		cancel()
	}
	c.log.Info().Int("calls", calls).Int("chats", chats).Msg("drained; ending what is left")
	return c.Close()
}

// liveChats is the number of chats not ended (0 without an IM side, or
// when the loop does not answer).
func (c *Center) liveChats(ctx context.Context) int {
	if c.im == nil {
		return 0
	}
	n := 0
	_ = c.loop.Do(ctx, func() { n = c.im.gw.Live() })
	return n
}
