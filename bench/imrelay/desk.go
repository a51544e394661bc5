package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/tserver/cti"
)

// startDesks logs the CTI agents in; each answers what rings and echoes
// every customer line back into its chat.
//
// A desk here is as lean as the direct mode's agents (mellium clients that
// decode a message's body and encode one reply): it reads the frames
// itself, decodes only the events it acts on into the four fields it
// needs, and writes its requests without waiting for their replies (a
// desktop does not block its agent on an acknowledgement). cti.Client,
// the test and tool client, decodes every frame in full and keeps a
// backlog: on this 2-core machine that cost, shared with the servers,
// would be counted against the gateway.
func startDesks(ctx context.Context, o options) error {
	for a := range o.agents {
		// As config.ExpandAgents names a group's members.
		id := fmt.Sprintf("bench-agent-%0*d", len(strconv.Itoa(o.agents)), a+1)
		d, err := dialDesk(ctx, o.ctiURL)
		if err != nil {
			return err
		}
		if err := d.request(ctx, cti.Request{Request: cti.RequestAgentLogin, AgentID: id, Password: o.password}); err != nil {
			return fmt.Errorf("login %s: %w", id, err)
		}
		if err := d.request(ctx, cti.Request{Request: cti.RequestAgentReady}); err != nil {
			return fmt.Errorf("ready %s: %w", id, err)
		}
		go d.echo(ctx)
	}
	return nil
}

// desk is one agent's CTI connection.
type desk struct {
	ws  *websocket.Conn
	ref uint64
}

func dialDesk(ctx context.Context, url string) (*desk, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{cti.Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("cti: dial %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	return &desk{ws: ws}, nil
}

// deskEvent is what a desk reads of a frame.
type deskEvent struct {
	Event  string          `json:"event"`
	Ref    uint64          `json:"ref"`
	Error  string          `json:"error"`
	ConnID json.RawMessage `json:"conn_id"`
	From   string          `json:"from"`
	Text   string          `json:"text"`
}

// request sends r and waits for its reply, skipping events.
func (d *desk) request(ctx context.Context, r cti.Request) error {
	d.ref++
	r.Ref = d.ref
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := d.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return err
	}
	for {
		_, data, err := d.ws.Read(ctx)
		if err != nil {
			return err
		}
		var e deskEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		switch {
		case e.Ref != d.ref:
		case e.Event == cti.EventACK:
			return nil
		case e.Event == cti.EventError:
			return fmt.Errorf("%s: %s", r.Request, e.Error)
		}
	}
}

// Frames a desk acts on; any other is skipped unread.
var (
	ringing     = []byte(`"event":"EventRinging"`)
	chatMessage = []byte(`"event":"EventChatMessage"`)
)

// echo answers what rings and sends each customer line back into its
// chat, until the connection ends.
func (d *desk) echo(ctx context.Context) {
	for {
		_, data, err := d.ws.Read(ctx)
		if err != nil {
			return
		}
		isRing := bytes.Contains(data, ringing)
		if !isRing && !bytes.Contains(data, chatMessage) {
			continue
		}
		var e deskEvent
		if err := json.Unmarshal(data, &e); err != nil {
			continue
		}
		var b []byte
		switch {
		case isRing:
			b = fmt.Appendf(nil, `{"request":%q,"conn_id":%s,"ref":1}`, cti.RequestAnswerCall, e.ConnID)
		case e.From == "customer":
			text, _ := json.Marshal(e.Text)
			b = fmt.Appendf(nil, `{"request":%q,"conn_id":%s,"text":%s,"ref":1}`, cti.RequestChatMessage, e.ConnID, text)
		default:
			continue
		}
		if err := d.ws.Write(ctx, websocket.MessageText, b); err != nil {
			return
		}
	}
}
