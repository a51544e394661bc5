package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// webFrame is a frame of the web chat's WebSocket (imgw/webchat).
type webFrame struct {
	Type  string `json:"type"`
	Text  string `json:"text,omitempty"`
	State string `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// webLink is a web chat tab: the WebSocket of /chat/ws.
type webLink struct{ ws *websocket.Conn }

func (l webLink) say(ctx context.Context, line string) error {
	return l.write(ctx, webFrame{Type: "message", Text: line})
}

func (l webLink) gone(ctx context.Context) error {
	return l.write(ctx, webFrame{Type: "typing", State: "gone"})
}

func (l webLink) write(ctx context.Context, f webFrame) error {
	b, _ := json.Marshal(f)
	return l.ws.Write(ctx, websocket.MessageText, b)
}

func (l webLink) close() { _ = l.ws.CloseNow() }

// openWebChat opens the customer's tab at /chat/ws, its client as the
// User-Agent.
func (c *Center) openWebChat(ctx context.Context, a *replay.Action) (*chatter, error) {
	h := http.Header{}
	if a.ClientFamily != "" {
		h.Set("User-Agent", strings.TrimSuffix(a.ClientFamily+"/"+a.ClientVersion, "/"))
	}
	ws, _, err := websocket.Dial(ctx, "ws://"+c.cfg.HTTP+"/chat/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, fmt.Errorf("chat %s: %w", a.Chat, err)
	}
	ch := c.newChatter(a, webLink{ws})
	c.wg.Go(func() { c.listen(ch, ws) })
	return ch, nil
}

// listen records what the web chat customer receives.
func (c *Center) listen(ch *chatter, ws *websocket.Conn) {
	for {
		_, data, err := ws.Read(c.ctx)
		if err != nil {
			return
		}
		var f webFrame
		if json.Unmarshal(data, &f) != nil || f.Type != "message" || f.Text == "" {
			continue
		}
		c.hear(ch, f.Text)
	}
}
