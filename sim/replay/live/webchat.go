package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// The pace of a chat customer's lines, as in virtual time: the next line
// goes lineGap after the center's first answer to the previous one, or
// noAnswerGap after the previous line when nothing came back.
const (
	lineGap     = time.Second
	noAnswerGap = 10 * time.Second
)

// chatter is a web chat customer: one WebSocket tab.
type chatter struct {
	name  string
	ws    *websocket.Conn
	lines chan []string // the lines of each say, to the pacer
	heard chan struct{} // a line came from the center (capacity 1)
	leave chan struct{}
}

// webFrame is a frame of the web chat's WebSocket (imgw/webchat).
type webFrame struct {
	Type  string `json:"type"`
	Text  string `json:"text,omitempty"`
	State string `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// chat plays a chat action: the first opens the customer's tab at
// /chat/ws (its client as the User-Agent), each say queues lines.
func (c *Center) chat(ctx context.Context, a *replay.Action) error {
	ch := c.chats[a.Chat]
	if ch == nil {
		if a.Network != "webchat" {
			return fmt.Errorf("--live cannot replay chats on network %s yet (only webchat)", a.Network)
		}
		h := http.Header{}
		if a.ClientFamily != "" {
			h.Set("User-Agent", strings.TrimSuffix(a.ClientFamily+"/"+a.ClientVersion, "/"))
		}
		ws, _, err := websocket.Dial(ctx, "ws://"+c.cfg.HTTP+"/chat/ws", &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			return fmt.Errorf("chat %s: %w", a.Chat, err)
		}
		ch = &chatter{name: a.Chat, ws: ws, lines: make(chan []string, 64), heard: make(chan struct{}, 1), leave: make(chan struct{})}
		c.chats[a.Chat] = ch
		c.wg.Go(func() { c.listen(ch) })
		c.wg.Go(func() { c.pace(ch, a) })
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

// listen records what the customer receives.
func (c *Center) listen(ch *chatter) {
	for {
		_, data, err := ch.ws.Read(c.ctx)
		if err != nil {
			return
		}
		var f webFrame
		if json.Unmarshal(data, &f) != nil || f.Type != "message" || f.Text == "" {
			continue
		}
		c.mu.Lock()
		if !c.over {
			c.rec.Heard = append(c.rec.Heard, replay.Heard{At: time.Since(c.start), Chat: ch.name, Text: f.Text})
		}
		c.mu.Unlock()
		select {
		case ch.heard <- struct{}{}:
		default:
		}
	}
}

// pace sends the customer's lines one after the other: a line with
// another behind it waits for the center's answer (then lineGap) or
// noAnswerGap; a line with none behind goes at once.
func (c *Center) pace(ch *chatter, first *replay.Action) {
	defer func() { _ = ch.ws.CloseNow() }()
	var pending []string
	for {
		if len(pending) == 0 {
			select {
			case l := <-ch.lines:
				pending = append(pending, l...)
				continue
			case <-ch.leave:
				c.send(ch, first, webFrame{Type: "typing", State: "gone"})
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
		if !c.send(ch, first, webFrame{Type: "message", Text: line}) {
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
			c.send(ch, first, webFrame{Type: "typing", State: "gone"})
			return
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
		if answered && !c.wait(lineGap, ch.leave) {
			if c.ctx.Err() == nil {
				c.send(ch, first, webFrame{Type: "typing", State: "gone"})
			}
			return
		}
	}
}

// send writes frame f on chat ch's tab; false when it failed.
func (c *Center) send(ch *chatter, first *replay.Action, f webFrame) bool {
	b, _ := json.Marshal(f)
	wctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	err := ch.ws.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.lateError(first, fmt.Errorf("chat %s: %w", ch.name, err))
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
