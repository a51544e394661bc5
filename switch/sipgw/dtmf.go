package sipgw

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
)

// The keypad of a caller who hears the switch's own media (queued:
// greeting, position and wait, music on hold; or held by the agent): the
// digits it presses are read from its RTP, as RFC 4733 telephone-events
// when its SDP offered them (the switch answers with the same payload
// type) and otherwise as in-band tones in its PCMU or PCMA audio, and
// handed to the DigitHandler. Once an agent answers, the relay carries the
// caller's RTP (telephone-events included) and nothing is read for digits.

// DigitHandler takes the keypad digits of callers who hear the switch's
// media: what a digit means (a callback request, for example) is the
// handler's business. internal/live connects it.
//
// HandleDigit gets the interaction's connection ID and the digit ('0'-'9',
// '*', '#', 'A'-'D'), each key press once, in the order pressed, on a
// goroutine the gateway owns (never the one that reads RTP): the digits
// of one caller wait for it, and Serve waits for it, so it must not block
// for long (post to the domain's loop rather than wait for it). The
// interaction may have moved on (answered, abandoned) by the time a digit
// arrives.
type DigitHandler interface {
	HandleDigit(id pbx.ConnID, digit rune)
}

// DigitHandlerFunc is a function as a DigitHandler.
type DigitHandlerFunc func(id pbx.ConnID, digit rune)

// HandleDigit calls f.
func (f DigitHandlerFunc) HandleDigit(id pbx.ConnID, digit rune) { f(id, digit) }

// OnDigit makes h the handler of callers' keypad digits. Without one the
// gateway reads no RTP from callers who hear its media, and detects no
// digits. Call it before Serve.
func (g *Gateway) OnDigit(h DigitHandler) { g.digitHandler = h }

// checkCallbackDigits refuses a callback digit the prompts cannot say.
func checkCallbackDigits(digits map[string]rune) error {
	for queue, d := range digits {
		if _, ok := media.CallbackOfferWords(d); !ok {
			return fmt.Errorf("sipgw: callback digit %q of queue %q: want one of 0-9", d, queue)
		}
	}
	return nil
}

// dtmfConfigLocked is how the caller's digits arrive; c.mu is held.
func (c *call) dtmfConfigLocked() media.DTMFConfig {
	return media.DTMFConfig{Codec: c.codec, Events: c.events, EventPT: c.eventPT}
}

// playLocked makes p what the caller hears, and reads the caller's digits
// meanwhile when there is a digit handler; c.mu is held.
func (c *call) playLocked(p *media.Player) {
	c.player = p
	c.g.playing.Add(1)
	h := c.g.digitHandler
	if h == nil {
		c.runMediaLocked(p.Run)
		return
	}
	rx := media.NewDTMFReceiver(c.callerRTP, c.callerRemote, c.dtmfConfigLocked())
	id, g := c.id, c.g
	c.runMediaLocked(func(ctx context.Context) error {
		var wg sync.WaitGroup
		wg.Go(func() {
			// The receiver returns when ctx ends, or with an error when
			// the socket closes (the call is over).
			_ = rx.Run(ctx, func(d rune) { g.deliverDigit(h, id, d) })
		})
		err := p.Run(ctx)
		wg.Wait()
		return err
	})
}

// deliverDigit hands a digit to h on a goroutine the gateway owns, after
// the caller's earlier digits; it never blocks the RTP reader.
func (g *Gateway) deliverDigit(h DigitHandler, id pbx.ConnID, d rune) {
	g.log.Debug().Str("conn_id", id.String()).Str("digit", string(d)).Msg("caller pressed a key")
	err := g.digitQueues.push(g, id.String(), func() { h.HandleDigit(id, d) })
	if err != nil {
		g.log.Warn().Err(err).Str("conn_id", id.String()).Str("digit", string(d)).Msg("caller's digit dropped")
	}
}

// callerSDP is the switch's answer to a caller: the codec, and its
// telephone-events on the offer's payload type when it offered them.
func callerSDP(ip string, port int, codec media.Codec, events bool, eventPT uint8, direction string) []byte {
	if events {
		return media.BuildSDPWithEvents(rand.Uint64()>>1, ip, port, []media.Codec{codec}, eventPT, direction)
	}
	return media.BuildSDP(rand.Uint64()>>1, ip, port, []media.Codec{codec}, direction)
}
