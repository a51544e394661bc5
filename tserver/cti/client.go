package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// ClientBacklog is how many unconsumed events a Client keeps; older ones
// are dropped (and counted by Dropped).
const ClientBacklog = 1 << 16

// Client is a CTI client: a Go desktop, router or monitor, and the CTI test
// client of ccswitch's tests. Its methods are safe for concurrent use.
//
// Replies are matched to requests by ref. Everything else the server
// sends (events, and replies to frames sent with SendRaw) is kept in
// arrival order until Next or Expect consumes it.
type Client struct {
	ws     *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{} // closed when the read loop ends
	ref    atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan Message
	events  []Message
	dropped int
	notify  chan struct{} // closed and replaced when events arrive
	err     error         // why the read loop ended
}

// Dial connects to a CTI server at url (ws:// or wss://).
func Dial(ctx context.Context, url string) (*Client, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("cti: dial %s: %w", url, err)
	}
	ws.SetReadLimit(64 << 20)
	rctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		ws: ws, cancel: cancel, done: make(chan struct{}),
		pending: map[uint64]chan Message{}, notify: make(chan struct{}),
	}
	go c.read(rctx)
	return c, nil
}

func (c *Client) read(ctx context.Context) {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("cti: connection closed: %w", err)
			for ref, ch := range c.pending {
				close(ch)
				delete(c.pending, ref)
			}
			close(c.notify)
			c.mu.Unlock()
			return
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			m = Message{Event: "", Error: "cti client: undecodable frame: " + err.Error(), Raw: data}
		}
		c.mu.Lock()
		if ch, ok := c.pending[m.Ref]; ok && m.IsReply() {
			delete(c.pending, m.Ref)
			ch <- m
			c.mu.Unlock()
			continue
		}
		if len(c.events) >= ClientBacklog {
			c.events = append(c.events[:0], c.events[1:]...)
			c.dropped++
		}
		c.events = append(c.events, m)
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
	}
}

// ReplyError is an EventError reply. errors.As finds the pbx.Error under
// it, so pbx.KindOf(err) gives its kind.
type ReplyError struct {
	Request string
	Ref     uint64
	Code    string // the CTI error code: not_found, invalid, ...
	Message string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s refused (%s): %s", e.Request, e.Code, e.Message)
}

// Unwrap returns the reply as a domain error of its kind.
func (e *ReplyError) Unwrap() error { return &pbx.Error{Kind: ParseKindCode(e.Code), Msg: e.Message} }

// Do sends r and waits for its reply. It numbers r when r.Ref is 0. An
// EventError reply is returned with a *ReplyError.
func (c *Client) Do(ctx context.Context, r Request) (Message, error) {
	if r.Ref == 0 {
		r.Ref = c.ref.Add(1)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return Message{}, fmt.Errorf("cti: encode %s: %w", r.Request, err)
	}
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return Message{}, err
	}
	if _, busy := c.pending[r.Ref]; busy {
		c.mu.Unlock()
		return Message{}, fmt.Errorf("cti: %s: ref %d is already waiting for a reply", r.Request, r.Ref)
	}
	c.pending[r.Ref] = ch
	c.mu.Unlock()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.forget(r.Ref)
		return Message{}, fmt.Errorf("cti: send %s: %w", r.Request, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return Message{}, c.closedErr()
		}
		if m.Event == EventError {
			return m, &ReplyError{Request: r.Request, Ref: m.Ref, Code: m.Kind, Message: m.Error}
		}
		return m, nil
	case <-ctx.Done():
		c.forget(r.Ref)
		return Message{}, fmt.Errorf("cti: %s: no reply: %w", r.Request, ctx.Err())
	}
}

func (c *Client) forget(ref uint64) {
	c.mu.Lock()
	delete(c.pending, ref)
	c.mu.Unlock()
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return errors.New("cti: connection closed")
}

// SendRaw sends data as one text frame, as is. Its reply, if any, is kept
// with the events (for tests of bad input).
func (c *Client) SendRaw(ctx context.Context, data []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, data)
}

// SendBinary sends data as one binary frame (which the server refuses).
func (c *Client) SendBinary(ctx context.Context, data []byte) error {
	return c.ws.Write(ctx, websocket.MessageBinary, data)
}

// Expect waits for the first kept message that match accepts, removes it
// and returns it. Messages it skips stay for later calls. It fails when
// ctx ends or the connection closes first.
func (c *Client) Expect(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		c.mu.Lock()
		for i, m := range c.events {
			if match(m) {
				c.events = append(c.events[:i], c.events[i+1:]...)
				c.mu.Unlock()
				return m, nil
			}
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return Message{}, err
		}
		wait := c.notify
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("cti: expected message did not come: %w", ctx.Err())
		}
	}
}

// Next waits for the oldest kept message and removes it.
func (c *Client) Next(ctx context.Context) (Message, error) {
	return c.Expect(ctx, func(Message) bool { return true })
}

// Is matches messages named event about interaction id (any interaction
// when id is 0).
func Is(event string, id pbx.ConnID) func(Message) bool {
	return func(m Message) bool { return m.Event == event && (id == 0 || m.ConnID == id) }
}

// ExpectEvent waits for an event named event about interaction id (any
// when 0).
func (c *Client) ExpectEvent(ctx context.Context, event string, id pbx.ConnID) (Message, error) {
	return c.Expect(ctx, Is(event, id))
}

// Pending returns a copy of the kept messages, oldest first.
func (c *Client) Pending() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.events...)
}

// Discard forgets the kept messages.
func (c *Client) Discard() {
	c.mu.Lock()
	c.events = c.events[:0]
	c.mu.Unlock()
}

// Dropped counts the messages dropped because more than ClientBacklog
// were kept.
func (c *Client) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// Done is closed when the connection is over; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (nil while it is up).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally and waits for the read loop.
func (c *Client) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
	return err
}

// Login logs in as agentID at extension dn ("" for the agent's own) and
// returns the reply (its Agent, Resumed and Missed).
func (c *Client) Login(ctx context.Context, agentID, dn, password string) (Message, error) {
	return c.Do(ctx, Request{Request: RequestAgentLogin, AgentID: agentID, DN: dn, Password: password})
}

// LoginUser logs the connection in as user, with password (RequestLogin),
// and returns the reply, whose User lists the user's roles.
func (c *Client) LoginUser(ctx context.Context, user, password string) (Message, error) {
	return c.Do(ctx, Request{Request: RequestLogin, User: user, Password: password})
}

// LoginToken logs the connection in with a bearer token (RequestLogin).
func (c *Client) LoginToken(ctx context.Context, token string) (Message, error) {
	return c.Do(ctx, Request{Request: RequestLogin, Token: token})
}

// Logout logs the connection's agent out.
func (c *Client) Logout(ctx context.Context) error {
	return c.simple(ctx, Request{Request: RequestAgentLogout})
}

// Ready makes the connection's agent ready.
func (c *Client) Ready(ctx context.Context) error {
	return c.simple(ctx, Request{Request: RequestAgentReady})
}

// NotReady makes the connection's agent not ready, for reason.
func (c *Client) NotReady(ctx context.Context, reason string) error {
	return c.simple(ctx, Request{Request: RequestAgentNotReady, Reason: reason})
}

// Answer answers interaction id.
func (c *Client) Answer(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestAnswerCall, ConnID: id})
}

// Reject refuses the offer of interaction id.
func (c *Client) Reject(ctx context.Context, id pbx.ConnID, reason string) error {
	return c.simple(ctx, Request{Request: RequestRejectCall, ConnID: id, Reason: reason})
}

// Release ends interaction id.
func (c *Client) Release(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestReleaseCall, ConnID: id})
}

// Hold puts interaction id on hold.
func (c *Client) Hold(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestHoldCall, ConnID: id})
}

// Retrieve takes interaction id off hold.
func (c *Client) Retrieve(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestRetrieveCall, ConnID: id})
}

// Transfer moves interaction id to target (a queue or an agent).
func (c *Client) Transfer(ctx context.Context, id pbx.ConnID, target string) error {
	return c.simple(ctx, Request{Request: RequestSingleStepTransfer, ConnID: id, Target: target})
}

// AttachUserData adds key-value pairs to interaction id.
func (c *Client) AttachUserData(ctx context.Context, id pbx.ConnID, data pbx.UserData) error {
	return c.simple(ctx, Request{Request: RequestAttachUserData, ConnID: id, UserData: data})
}

// MakeCall dials destination on media ("" for voice) and returns the new
// interaction.
func (c *Client) MakeCall(ctx context.Context, destination, media string) (pbx.ConnID, error) {
	m, err := c.Do(ctx, Request{Request: RequestMakeCall, Destination: destination, Media: media})
	return m.ConnID, err
}

// Register watches dn: a route point (and routes for it), a queue, an
// agent or extension, or "*".
func (c *Client) Register(ctx context.Context, dn string) error {
	return c.simple(ctx, Request{Request: RequestRegisterAddress, DN: dn})
}

// Unregister stops watching dn.
func (c *Client) Unregister(ctx context.Context, dn string) error {
	return c.simple(ctx, Request{Request: RequestUnregisterAddress, DN: dn})
}

// RouteCall routes interaction id, waiting at a registered route point,
// to target.
func (c *Client) RouteCall(ctx context.Context, id pbx.ConnID, target string) error {
	return c.simple(ctx, Request{Request: RequestRouteCall, ConnID: id, Target: target})
}

// QueryQueue returns the status of queue (every queue when "").
func (c *Client) QueryQueue(ctx context.Context, queue string) ([]QueueStatus, error) {
	m, err := c.Do(ctx, Request{Request: RequestQueryQueue, Queue: queue})
	return m.Queues, err
}

// QueryCall returns the state of interaction id, with its position and
// estimated wait while queued.
func (c *Client) QueryCall(ctx context.Context, id pbx.ConnID) (*CallInfo, error) {
	m, err := c.Do(ctx, Request{Request: RequestQueryCall, ConnID: id})
	return m.Call, err
}

// QueryAgent returns the state of agentID ("" for the connection's own).
func (c *Client) QueryAgent(ctx context.Context, agentID string) (*AgentInfo, error) {
	m, err := c.Do(ctx, Request{Request: RequestQueryAgent, AgentID: agentID})
	return m.Agent, err
}

// ChatSend writes text into chat id.
func (c *Client) ChatSend(ctx context.Context, id pbx.ConnID, text string) error {
	return c.simple(ctx, Request{Request: RequestChatMessage, ConnID: id, Text: text})
}

// Typing sends the agent's chat state in chat id.
func (c *Client) Typing(ctx context.Context, id pbx.ConnID, state string) error {
	return c.simple(ctx, Request{Request: RequestChatTyping, ConnID: id, State: state})
}

// ChatJoin joins chat id as a supervisor.
func (c *Client) ChatJoin(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestChatJoin, ConnID: id})
}

// ChatLeave leaves chat id.
func (c *Client) ChatLeave(ctx context.Context, id pbx.ConnID) error {
	return c.simple(ctx, Request{Request: RequestChatLeave, ConnID: id})
}

func (c *Client) simple(ctx context.Context, r Request) error {
	_, err := c.Do(ctx, r)
	return err
}

// MonitorCustomer subscribes to customer's combined presence: it returns
// the status now, and each change comes as an EventCustomerStatus.
func (c *Client) MonitorCustomer(ctx context.Context, customer string) (*CustomerStatus, error) {
	m, err := c.Do(ctx, Request{Request: RequestMonitorCustomer, Customer: customer})
	if err != nil {
		return nil, err
	}
	return &CustomerStatus{Customer: m.Customer, Status: m.Status, Reachable: m.Reachable}, nil
}

// StopMonitorCustomer ends the subscription to customer's status.
func (c *Client) StopMonitorCustomer(ctx context.Context, customer string) error {
	return c.simple(ctx, Request{Request: RequestStopMonitorCustomer, Customer: customer})
}

// Callback asks for a callback (r.Request is set to RequestCallback:
// Queue, Number or Customer, At, Mode) and returns its id.
func (c *Client) Callback(ctx context.Context, r Request) (id string, err error) {
	r.Request = RequestCallback
	m, err := c.Do(ctx, r)
	return m.CallbackID, err
}
