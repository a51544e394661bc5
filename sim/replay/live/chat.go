package live

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// The pace of a chat customer's lines, as in virtual time: the next line
// goes lineGap after the center's first answer to the previous one, or
// noAnswerGap after the previous line when nothing came back.
const (
	lineGap     = time.Second
	noAnswerGap = 10 * time.Second
)

// chatter is a chat customer, on any network: the pacer feeds its
// lines to its link.
type chatter struct {
	name  string
	link  chatLink
	first *replay.Action // the action that opened the chat
	lines chan []string  // the lines of each say, to the pacer
	heard chan struct{}  // a line came from the center (capacity 1)
	leave chan struct{}
}

// chatLink is a chat customer's connection to the center on its network:
// a web chat tab, an XMPP client, a SIP user agent.
type chatLink interface {
	// say sends one of the customer's lines.
	say(ctx context.Context, line string) error
	// gone tells the center the customer left.
	gone(ctx context.Context) error
	// close ends the connection (the pacer calls it once, last).
	close()
}

// newChatter starts the pacer of a chat opened by action first on link.
func (c *Center) newChatter(first *replay.Action, link chatLink) *chatter {
	ch := &chatter{name: first.Chat, link: link, first: first, lines: make(chan []string, 64),
		heard: make(chan struct{}, 1), leave: make(chan struct{})}
	c.chats[first.Chat] = ch
	c.wg.Go(func() { c.pace(ch) })
	return ch
}

// hear records text the customer of chat ch received, and wakes its
// pacer.
func (c *Center) hear(ch *chatter, text string) {
	c.mu.Lock()
	if !c.over {
		c.rec.Heard = append(c.rec.Heard, replay.Heard{At: time.Since(c.start), Chat: ch.name, Text: text})
	}
	c.mu.Unlock()
	select {
	case ch.heard <- struct{}{}:
	default:
	}
}

// chat plays a chat action: the first opens the customer's connection on
// its network, each say queues lines for the pacer.
func (c *Center) chat(ctx context.Context, a *replay.Action) error {
	ch := c.chats[a.Chat]
	if ch == nil {
		var err error
		switch a.Network {
		case "webchat":
			ch, err = c.openWebChat(ctx, a)
		case "xmpp":
			ch, err = c.openXMPPChat(ctx, a)
		case "sip":
			ch, err = c.openSIPChat(a)
		default:
			err = fmt.Errorf("--live cannot replay chats on network %s yet", a.Network)
		}
		if err != nil {
			return err
		}
	}
	if a.Do == "leave" {
		select {
		case <-ch.leave:
		default:
			close(ch.leave)
		}
		return nil
	}
	select {
	case ch.lines <- a.Say:
		return nil
	default:
		return fmt.Errorf("chat %s: too many says queued", a.Chat)
	}
}

// pace sends the customer's lines one after the other: a line with
// another behind it waits for the center's answer (then lineGap) or
// noAnswerGap; a line with none behind goes at once.
func (c *Center) pace(ch *chatter) {
	defer ch.link.close()
	var pending []string
	for {
		if len(pending) == 0 {
			select {
			case l := <-ch.lines:
				pending = append(pending, l...)
				continue
			case <-ch.leave:
				c.send(ch, "")
				return
			case <-c.ctx.Done():
				return
			}
		}
		line := pending[0]
		pending = pending[1:]
		c.mu.Lock()
		c.spoke(ch.name)
		c.mu.Unlock()
		select {
		case <-ch.heard: // an answer to an earlier line
		default:
		}
		if !c.send(ch, line) {
			return
		}
		if len(pending) == 0 {
			continue
		}
		t := time.NewTimer(noAnswerGap)
		answered := false
		select {
		case <-ch.heard:
			answered = true
		case <-t.C:
		case <-ch.leave:
			t.Stop()
			c.send(ch, "")
			return
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
		if answered && !c.wait(lineGap, ch.leave) {
			if c.ctx.Err() == nil {
				c.send(ch, "")
			}
			return
		}
	}
}

// send sends line on chat ch's link ("": the customer leaves); false
// when it failed.
func (c *Center) send(ch *chatter, line string) bool {
	wctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	var err error
	if line == "" {
		err = ch.link.gone(wctx)
	} else {
		err = ch.link.say(wctx, line)
	}
	if err != nil {
		if c.ctx.Err() == nil {
			c.lateError(ch.first, fmt.Errorf("chat %s: %w", ch.name, err))
		}
		return false
	}
	return true
}

// spoke notes that chat name sent a line: until an IM interaction is
// bound to it, the next one the center routes is taken to be its.
func (c *Center) spoke(name string) {
	if c.boundChats[name] {
		return
	}
	c.unbound = append(slices.DeleteFunc(c.unbound, func(n string) bool { return n == name }), name)
}

// wait waits d, unless the center closes or stop closes first.
func (c *Center) wait(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-c.ctx.Done():
		return false
	}
}
