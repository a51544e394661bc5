package cti

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/jsonenc"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Subprotocol is the WebSocket subprotocol the server accepts when a client
// offers it. Clients need not offer it; the Go client does.
const Subprotocol = "ccswitch-cti.v1"

// The request names, in T-Server vocabulary.
const (
	RequestAgentLogin         = "RequestAgentLogin"
	RequestLogin              = "RequestLogin"
	RequestAgentLogout        = "RequestAgentLogout"
	RequestAgentReady         = "RequestAgentReady"
	RequestAgentNotReady      = "RequestAgentNotReady"
	RequestMakeCall           = "RequestMakeCall"
	RequestAnswerCall         = "RequestAnswerCall"
	RequestRejectCall         = "RequestRejectCall"
	RequestReleaseCall        = "RequestReleaseCall"
	RequestHoldCall           = "RequestHoldCall"
	RequestRetrieveCall       = "RequestRetrieveCall"
	RequestSingleStepTransfer = "RequestSingleStepTransfer"
	RequestAttachUserData     = "RequestAttachUserData"
	RequestRegisterAddress    = "RequestRegisterAddress"
	RequestUnregisterAddress  = "RequestUnregisterAddress"
	RequestRouteCall          = "RequestRouteCall"
	RequestQueryQueue         = "RequestQueryQueue"
	RequestQueryCall          = "RequestQueryCall"
	RequestQueryAgent         = "RequestQueryAgent"
	RequestChatMessage        = "RequestChatMessage"
	RequestChatTyping         = "RequestChatTyping"
	RequestChatJoin           = "RequestChatJoin"
	RequestChatLeave          = "RequestChatLeave"

	RequestMonitorCustomer     = "RequestMonitorCustomer"
	RequestStopMonitorCustomer = "RequestStopMonitorCustomer"
	RequestCallback            = "RequestCallback"
)

// EventCustomerStatus tells a connection that monitors a customer
// (RequestMonitorCustomer) of a change of the customer's combined
// presence: one event per change.
const EventCustomerStatus = "EventCustomerStatus"

// The replies: every request gets exactly one, carrying the request's ref.
const (
	EventACK   = "EventACK"
	EventError = "EventError"
)

// ChatEventType names a chat event pushed to an agent's desktop.
type ChatEventType string

// The chat events.
const (
	EventChatMessage ChatEventType = "EventChatMessage" // a line of the conversation
	EventChatTyping  ChatEventType = "EventChatTyping"  // a participant's chat state
	EventChatHistory ChatEventType = "EventChatHistory" // the conversation so far (Lines)
	EventChatEnded   ChatEventType = "EventChatEnded"   // the chat is over; From is who ended it
)

func (t ChatEventType) valid() bool {
	switch t {
	case EventChatMessage, EventChatTyping, EventChatHistory, EventChatEnded:
		return true
	}
	return false
}

// ChatStates are the typing states RequestChatTyping and EventChatTyping
// carry (XEP-0085 vocabulary).
var ChatStates = []string{"active", "composing", "paused", "inactive", "gone"}

func validChatState(s string) bool { return slices.Contains(ChatStates, s) }

// Request is one CTI request as a client sends it. Which fields a request
// needs is listed in the package README; the others are ignored.
type Request struct {
	Request string `json:"request"`
	// Ref is the client's reference, echoed in the reply. The Go client
	// numbers requests itself when Ref is 0.
	Ref      uint64 `json:"ref,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
	DN       string `json:"dn,omitempty"`
	Password string `json:"password,omitempty"`
	// User and Token log a user in (RequestLogin): User with Password, or
	// Token (with or without User).
	User        string       `json:"user,omitempty"`
	Token       string       `json:"token,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	ConnID      pbx.ConnID   `json:"conn_id,omitzero"`
	Destination string       `json:"destination,omitempty"`
	Media       string       `json:"media,omitempty"`
	Target      string       `json:"target,omitempty"`
	Queue       string       `json:"queue,omitempty"`
	UserData    pbx.UserData `json:"user_data,omitempty"`
	Text        string       `json:"text,omitempty"`
	State       string       `json:"state,omitempty"`
	// Customer is a customer number: whose status RequestMonitorCustomer
	// watches, whom RequestCallback calls back.
	Customer string `json:"customer,omitempty"`
	// Number, At and Mode of a RequestCallback: the number to call (instead
	// of a customer's devices), when (zero: as soon as the queue allows;
	// RFC 3339 on the wire) and who is dialled first (CallbackAgentFirst
	// when empty).
	Number string       `json:"number,omitempty"`
	At     time.Time    `json:"at,omitzero"`
	Mode   CallbackMode `json:"mode,omitempty"`

	// verdict is what the connection's reader found of a RequestLogin's
	// credentials, off the loop (a password hash takes milliseconds).
	verdict *loginVerdict
}

// wireRequest is Request as it is decoded: the connection ID as text.
type wireRequest struct {
	Request     *string      `json:"request"`
	Ref         uint64       `json:"ref"`
	AgentID     string       `json:"agent_id"`
	DN          string       `json:"dn"`
	Password    string       `json:"password"`
	User        string       `json:"user"`
	Token       string       `json:"token"`
	Reason      string       `json:"reason"`
	ConnID      *string      `json:"conn_id"`
	Destination string       `json:"destination"`
	Media       string       `json:"media"`
	Target      string       `json:"target"`
	Queue       string       `json:"queue"`
	UserData    pbx.UserData `json:"user_data"`
	Text        string       `json:"text"`
	State       string       `json:"state"`
	Customer    string       `json:"customer"`
	Number      string       `json:"number"`
	At          *string      `json:"at"`
	Mode        string       `json:"mode"`
}

// field is one request field a request may need.
type field uint16

const (
	fAgentID field = 1 << iota
	fConnID
	fDN
	fDestination
	fTarget
	fUserData
	fText
	fState
	fCustomer
	fQueue
)

var fieldNames = []struct {
	f    field
	name string
}{
	{fAgentID, "agent_id"}, {fConnID, "conn_id"}, {fDN, "dn"}, {fDestination, "destination"},
	{fTarget, "target"}, {fUserData, "user_data"}, {fText, "text"}, {fState, "state"},
	{fCustomer, "customer"}, {fQueue, "queue"},
}

// requestNeeds lists the fields each request must carry. It is the list of
// known requests, too.
var requestNeeds = map[string]field{
	RequestAgentLogin:         fAgentID,
	RequestLogin:              0, // user and password, or token: the handler says which is missing
	RequestAgentLogout:        0,
	RequestAgentReady:         0,
	RequestAgentNotReady:      0,
	RequestMakeCall:           fDestination,
	RequestAnswerCall:         fConnID,
	RequestRejectCall:         fConnID,
	RequestReleaseCall:        fConnID,
	RequestHoldCall:           fConnID,
	RequestRetrieveCall:       fConnID,
	RequestSingleStepTransfer: fConnID | fTarget,
	RequestAttachUserData:     fConnID | fUserData,
	RequestRegisterAddress:    fDN,
	RequestUnregisterAddress:  fDN,
	RequestRouteCall:          fConnID | fTarget,
	RequestQueryQueue:         0,
	RequestQueryCall:          fConnID,
	RequestQueryAgent:         0,
	RequestChatMessage:        fConnID | fText,
	RequestChatTyping:         fConnID | fState,
	RequestChatJoin:           fConnID,
	RequestChatLeave:          fConnID,

	RequestMonitorCustomer:     fCustomer,
	RequestStopMonitorCustomer: fCustomer,
	RequestCallback:            fQueue, // and number or customer: decodeRequest checks
}

// RequestNames returns every request the server knows, sorted.
func RequestNames() []string {
	out := make([]string, 0, len(requestNeeds))
	for n := range requestNeeds {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// decodeRequest parses and checks one request frame. On error it returns
// the request's ref when it could be read, so the EventError carries it.
func decodeRequest(data []byte) (Request, error) {
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Request{Ref: salvageRef(data)}, pbx.Errorf(pbx.Invalid, "cti: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{Ref: w.Ref}, pbx.Errorf(pbx.Invalid, "cti: trailing data after the request object")
	}
	r := Request{
		Ref: w.Ref, AgentID: w.AgentID, DN: w.DN, Password: w.Password, User: w.User, Token: w.Token, Reason: w.Reason,
		Destination: w.Destination, Media: w.Media, Target: w.Target, Queue: w.Queue,
		UserData: w.UserData, Text: w.Text, State: w.State,
		Customer: w.Customer, Number: w.Number, Mode: CallbackMode(w.Mode),
	}
	if w.Request == nil || *w.Request == "" {
		return r, pbx.Errorf(pbx.Invalid, "cti: missing field request (the request's name, e.g. RequestAgentReady)")
	}
	r.Request = *w.Request
	needs, ok := requestNeeds[r.Request]
	if !ok {
		return r, pbx.Errorf(pbx.Invalid, "cti: unknown request %q", r.Request)
	}
	present := field(0)
	if w.AgentID != "" {
		present |= fAgentID
	}
	if w.ConnID != nil && *w.ConnID != "" {
		present |= fConnID
		id, err := pbx.ParseConnID(*w.ConnID)
		if err != nil || id == 0 {
			return r, pbx.Errorf(pbx.Invalid, "cti: %s: conn_id %q is not a connection id (1 to 16 hex digits)", r.Request, *w.ConnID)
		}
		r.ConnID = id
	}
	if w.DN != "" {
		present |= fDN
	}
	if w.Destination != "" {
		present |= fDestination
	}
	if w.Target != "" {
		present |= fTarget
	}
	if len(w.UserData) > 0 {
		present |= fUserData
	}
	if w.Text != "" {
		present |= fText
	}
	if w.State != "" {
		present |= fState
	}
	if w.Customer != "" {
		present |= fCustomer
	}
	if w.Queue != "" {
		present |= fQueue
	}
	if missing := needs &^ present; missing != 0 {
		var names []string
		for _, fn := range fieldNames {
			if missing&fn.f != 0 {
				names = append(names, fn.name)
			}
		}
		return r, pbx.Errorf(pbx.Invalid, "cti: %s: missing %s", r.Request, strings.Join(names, ", "))
	}
	if needs&fState != 0 && !validChatState(r.State) {
		return r, pbx.Errorf(pbx.Invalid, "cti: %s: state %q is not one of %s", r.Request, r.State, strings.Join(ChatStates, ", "))
	}
	if r.Media != "" {
		if _, err := pbx.ParseMedia(r.Media); err != nil {
			return r, pbx.Errorf(pbx.Invalid, "cti: %s: %v", r.Request, err)
		}
	}
	if r.Request == RequestCallback {
		if err := decodeCallback(&r, w.At); err != nil {
			return r, err
		}
	}
	return r, nil
}

// decodeCallback checks what RequestCallback needs beyond its queue: a
// number or a customer (one of them), an RFC 3339 time if any, a known
// mode (CallbackAgentFirst when none).
func decodeCallback(r *Request, at *string) error {
	switch {
	case r.Number == "" && r.Customer == "":
		return pbx.Errorf(pbx.Invalid, "cti: %s: missing number or customer (whom to call back)", r.Request)
	case r.Number != "" && r.Customer != "":
		return pbx.Errorf(pbx.Invalid, "cti: %s: give number or customer, not both", r.Request)
	}
	if at != nil {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return pbx.Errorf(pbx.Invalid, "cti: %s: at %q is not an RFC 3339 time (e.g. 2026-12-02T15:04:05+01:00)", r.Request, *at)
		}
		r.At = t
	}
	switch r.Mode {
	case "":
		r.Mode = CallbackAgentFirst
	case CallbackAgentFirst, CallbackCustomerFirst:
	default:
		return pbx.Errorf(pbx.Invalid, "cti: %s: mode %q is not %s or %s", r.Request, r.Mode, CallbackAgentFirst, CallbackCustomerFirst)
	}
	return nil
}

// salvageRef reads the ref of a request that failed to decode, if it can.
func salvageRef(data []byte) uint64 {
	var v struct {
		Ref uint64 `json:"ref"`
	}
	_ = json.Unmarshal(data, &v)
	return v.Ref
}

// describeJSONError says in plain words what is wrong with a frame.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("a request is a JSON object, not %s", typ.Value)
		}
		return fmt.Sprintf("field %s: want %s, got %s", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.EOF):
		return "empty frame: a request is a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of frame"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return msg + " (see the protocol's field names)"
	}
	return "malformed request: " + msg
}

func jsonTypeName(kind string) string {
	switch kind {
	case "uint64", "int", "int64", "uint8":
		return "a non-negative integer"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "ptr":
		return "a string"
	case "struct":
		return "an object"
	}
	return kind
}

// kindCodes maps each domain error kind to its CTI code: the one table of
// this transport.
var kindCodes = [...]string{
	pbx.Internal:    "internal",
	pbx.Invalid:     "invalid",
	pbx.NotFound:    "not_found",
	pbx.Busy:        "busy",
	pbx.Unavailable: "unavailable",
	pbx.Conflict:    "conflict",
	pbx.Permission:  "permission",
}

// KindCode returns the CTI error code of a domain error kind.
func KindCode(k pbx.Kind) string {
	if int(k) < len(kindCodes) {
		return kindCodes[k]
	}
	return "internal"
}

// ParseKindCode returns the domain error kind of a CTI error code
// (Internal for an unknown code).
func ParseKindCode(code string) pbx.Kind {
	for k, c := range kindCodes {
		if c == code {
			return pbx.Kind(k)
		}
	}
	return pbx.Internal
}

// reply is an EventACK or EventError as the server writes it.
type reply struct {
	Event   string                `json:"event"`
	Ref     uint64                `json:"ref"`
	Error   string                `json:"error,omitempty"`
	Kind    string                `json:"kind,omitempty"`
	ConnID  pbx.ConnID            `json:"conn_id,omitzero"`
	Agent   *AgentInfo            `json:"agent,omitempty"`
	Resumed bool                  `json:"resumed,omitempty"`
	Missed  int                   `json:"missed,omitempty"`
	Queues  []tserver.QueueStatus `json:"queues,omitempty"`
	Call    *CallInfo             `json:"call,omitempty"`
	User    *UserInfo             `json:"user,omitempty"`
	// CallbackID names the callback RequestCallback asked for.
	CallbackID string `json:"callback_id,omitempty"`
	// The customer's status, in the reply to RequestMonitorCustomer:
	// customer, status and reachable, as EventCustomerStatus writes them.
	*CustomerStatus
}

// UserInfo is who a connection acts as, in the reply to RequestLogin.
type UserInfo struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// errorReply is the EventError of a request that failed with err. An
// internal error (a bug, a failed disk) is not described to the client:
// its text is generic, with an id, and the details go to the log with the
// same id.
func (s *Server) errorReply(ref uint64, err error) *reply {
	k := pbx.KindOf(err)
	if k != pbx.Internal {
		return &reply{Event: EventError, Ref: ref, Error: err.Error(), Kind: KindCode(k)}
	}
	id := errorID()
	s.log.Error().Err(err).Str("error_id", id).Uint64("ref", ref).Msg("cti: internal error")
	return &reply{Event: EventError, Ref: ref, Error: "cti: internal error (id " + id + ")", Kind: KindCode(k)}
}

// errorID returns a fresh id for an internal error: 16 hex digits.
func errorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AgentInfo is an agent's state, in the replies to RequestAgentLogin and
// RequestQueryAgent.
type AgentInfo struct {
	AgentID string `json:"agent_id"`
	DN      string `json:"dn,omitempty"`
	// State is logged_out, not_ready, ready, reserved, busy or
	// after_call_work.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// CallInfo is an interaction's state, in the reply to RequestQueryCall.
type CallInfo struct {
	Media string `json:"media"`
	// State is routing, queued, ringing, established, held or
	// redirected.
	State    string       `json:"state"`
	AgentID  string       `json:"agent_id,omitempty"`
	Queue    string       `json:"queue,omitempty"`
	ANI      string       `json:"ani,omitempty"`
	DNIS     string       `json:"dnis,omitempty"`
	UserData pbx.UserData `json:"user_data,omitempty"`
	// Position in its queue (1 is next) and estimated wait, while queued.
	Position int          `json:"position,omitempty"`
	EWT      *tserver.EWT `json:"ewt,omitempty"`
}

// QueueStatus is a queue's status as a client decodes it from
// RequestQueryQueue's reply: tserver.QueueStatus with the media as its name.
type QueueStatus struct {
	tserver.QueueStatus
	Media string `json:"media"`
}

// ChatEvent is a chat event for an agent's desktop, given to
// Server.DeliverChat by the IM gateway.
type ChatEvent struct {
	Type   ChatEventType `json:"event"`
	ConnID pbx.ConnID    `json:"conn_id"`
	// From is who wrote or typed: customer, agent, bot, system or
	// supervisor.
	From string `json:"from,omitempty"`
	// Name is From's display name (never a customer's or agent's network
	// address).
	Name string `json:"name,omitempty"`
	// Text of an EventChatMessage, the reason of an EventChatEnded: plain
	// text as its author wrote it (control and format characters removed,
	// markup kept as typed). A desktop renders it as text, never as HTML.
	Text string `json:"text,omitempty"`
	// State of an EventChatTyping: one of ChatStates.
	State string `json:"state,omitempty"`
	// Time the event happened; the domain's now when zero.
	Time time.Time `json:"time,omitzero"`
	// Lines of an EventChatHistory, oldest first.
	Lines []ChatLine `json:"lines,omitempty"`
}

// appendJSON appends e, which has no Lines, as encoding/json writes it,
// byte for byte: a chat line goes through here for every message relayed.
// Strings are HTML-safe, as encoding/json makes them (<, > and & as
// \u003c, \u003e and \u0026): a desktop may embed a frame in a page.
func (e *ChatEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"event":`...)
	b = jsonenc.AppendHTMLString(b, string(e.Type))
	b = append(b, `,"conn_id":"`...)
	b = append(b, e.ConnID.String()...)
	b = append(b, '"')
	for _, f := range [...]struct{ key, val string }{
		{`,"from":`, e.From}, {`,"name":`, e.Name}, {`,"text":`, e.Text}, {`,"state":`, e.State},
	} {
		if f.val != "" {
			b = append(b, f.key...)
			b = jsonenc.AppendHTMLString(b, f.val)
		}
	}
	if !e.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = e.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}')
}

// ChatLine is one line of a chat's history.
type ChatLine struct {
	From string    `json:"from"`
	Name string    `json:"name,omitempty"`
	Text string    `json:"text"`
	Time time.Time `json:"time,omitzero"`
}

// Message is anything the server sends, as the Go client decodes it: a
// reply (EventACK, EventError), a CTI event (tserver.Event's fields) or a
// chat event (ChatEvent's fields).
type Message struct {
	Event string `json:"event"`
	// Ref of the request a reply answers (0 for events).
	Ref uint64 `json:"ref"`
	// Error and Kind of an EventError.
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`

	Time     time.Time    `json:"time,omitzero"`
	ConnID   pbx.ConnID   `json:"conn_id,omitzero"`
	Media    string       `json:"media,omitempty"`
	AgentID  string       `json:"agent_id,omitempty"`
	DN       string       `json:"dn,omitempty"`
	Queue    string       `json:"queue,omitempty"`
	ANI      string       `json:"ani,omitempty"`
	DNIS     string       `json:"dnis,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	UserData pbx.UserData `json:"user_data,omitempty"`

	// Reply payloads.
	Agent   *AgentInfo    `json:"agent,omitempty"`
	Resumed bool          `json:"resumed,omitempty"`
	Missed  int           `json:"missed,omitempty"`
	Queues  []QueueStatus `json:"queues,omitempty"`
	Call    *CallInfo     `json:"call,omitempty"`
	User    *UserInfo     `json:"user,omitempty"`
	// CallbackID: the reply to RequestCallback.
	CallbackID string `json:"callback_id,omitempty"`

	// A customer's status: EventCustomerStatus, and the reply to
	// RequestMonitorCustomer.
	Customer  string            `json:"customer,omitempty"`
	Status    callback.Status   `json:"status,omitempty"`
	Reachable []callback.Medium `json:"reachable,omitempty"`

	// Chat events.
	From  string     `json:"from,omitempty"`
	Name  string     `json:"name,omitempty"`
	Text  string     `json:"text,omitempty"`
	State string     `json:"state,omitempty"`
	Lines []ChatLine `json:"lines,omitempty"`

	// Raw is the frame as received.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a frame, reading conn_id as pbx.ConnID writes it.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var w struct {
		plain
		ConnID string `json:"conn_id"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*m = Message(w.plain)
	if w.ConnID != "" {
		id, err := pbx.ParseConnID(w.ConnID)
		if err != nil {
			return err
		}
		m.ConnID = id
	}
	m.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// IsReply reports whether m answers a request.
func (m *Message) IsReply() bool { return m.Event == EventACK || m.Event == EventError }
