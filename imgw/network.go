// Package imgw is ccswitch's IM gateway (patent WO 03/025776, Figs. 10-11):
// customers write from the IM software they already use, on the network
// they already use (XMPP servers, SIP MESSAGE, the center's web chat); a
// bot greets them, learns who they are, which client software they run and
// why they write; tserver routes the conversation like any call, as media
// im; and the gateway relays it to the chosen agent, so that a customer
// only ever sees the center's address and an agent's address never
// reaches a customer.
//
// The gateway is protocol-neutral. One Adapter per IM network (imgw/xmpp,
// imgw/webchat, the SIP MESSAGE adapter) turns that network's messages
// into Inbound events and sends Outbound messages; the gateway itself runs
// on the domain's loop goroutine next to tserver, on its clock, so the
// same code runs live and in simulations.
package imgw

// Address names one customer device on one IM network.
type Address struct {
	// Network is the adapter's name, e.g. "xmpp:support.example.test",
	// "webchat", "sip".
	Network string `json:"network"`
	// User is the customer's stable identity on that network: a bare JID,
	// a SIP address of record, a web chat visitor key.
	User string `json:"user"`
	// Device tells one of the user's devices from another: an XMPP
	// resource, a SIP contact, a browser tab. Empty when the network has
	// no such notion.
	Device string `json:"device,omitempty"`
}

// String writes the address as network!user/device, for logs.
func (a Address) String() string {
	s := a.Network + "!" + a.User
	if a.Device != "" {
		s += "/" + a.Device
	}
	return s
}

// ChatState is a typing notification (XEP-0085 vocabulary), carried the
// same way on every network.
type ChatState uint8

// The chat states.
const (
	StateNone      ChatState = iota
	StateActive              // paying attention
	StateComposing           // typing
	StatePaused              // stopped typing
	StateInactive            // not paying attention
	StateGone                // left the conversation
)

var chatStateNames = [...]string{"", "active", "composing", "paused", "inactive", "gone"}

func (s ChatState) String() string {
	if int(s) < len(chatStateNames) {
		return chatStateNames[s]
	}
	return "unknown"
}

// ParseChatState returns the state named s ("" is StateNone).
func ParseChatState(s string) (ChatState, bool) {
	for i, n := range chatStateNames {
		if n == s {
			return ChatState(i), true
		}
	}
	return StateNone, false
}

// InboundKind says what an Inbound event carries.
type InboundKind uint8

// The kinds of inbound events.
const (
	// Message: the customer wrote Text (with State, if the network sent
	// one along).
	Message InboundKind = iota + 1
	// Typing: the customer's chat state changed, no text.
	Typing
	// Client: the customer's client software was detected (Client set).
	// It may come late, after the conversation was routed, or never.
	Client
	// Presence: one of the customer's devices changed presence
	// (Presence set).
	Presence
	// Bounce: the network refused to deliver the Outbound whose ID is
	// ID; Error says why.
	Bounce
)

// Inbound is one event an adapter reports to the gateway.
type Inbound struct {
	Kind InboundKind
	From Address
	// Text of a Message, as received (the gateway sanitises it).
	Text string
	// State of a Typing event, or the state sent with a Message.
	State ChatState
	// Client is the detected software, for a Client event.
	Client *ClientInfo
	// Presence is the device's presence, for a Presence event.
	Presence *PresenceInfo
	// ID of the bounced Outbound, for a Bounce; the network's message
	// id otherwise (may be empty).
	ID string
	// Error is the network's reason for a Bounce.
	Error string
	// Identity is a signed hand-off token (SignHandoff) the customer's
	// session was opened with (the web chat's identity parameter), sent
	// along with a Message. The gateway checks it; a valid one verifies
	// the conversation's customer, anything else is ignored.
	Identity string
}

// ClientInfo is what the gateway learned of a device's client software,
// from the protocol itself (never by asking the customer). Every field is
// optional; several sources may report on one device.
type ClientInfo struct {
	// Family is the software's name as routing knows it (e.g. "slixmpp",
	// "Gajim", "baresip", "Firefox"): an agent's supported clients are
	// keyed by family.
	Family string `json:"family,omitempty"`
	// Version of the software, e.g. "1.8.3".
	Version string `json:"version,omitempty"`
	OS      string `json:"os,omitempty"`
	// Source names where it came from: "xep-0092", "xep-0115",
	// "xep-0030", "sip-user-agent", "http-user-agent".
	Source string `json:"source"`
	// Category and Type: the XEP-0030 identity (e.g. client/pc).
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
	// Node is the XEP-0115 caps node (e.g. http://slixmpp.com/ver/1.8.3).
	Node string `json:"node,omitempty"`
}

// PresenceInfo is one device's presence.
type PresenceInfo struct {
	Available bool `json:"available"`
	// Show is "" (plain available), "chat", "away", "xa" or "dnd".
	Show     string `json:"show,omitempty"`
	Status   string `json:"status,omitempty"`
	Priority int    `json:"priority,omitempty"`
}

// Outbound is a message or chat state the gateway asks an adapter to
// deliver to a customer's device. It has no sender: an adapter always
// sends as the center's public address, so an agent's address cannot
// leak by mistake.
type Outbound struct {
	To Address
	// Text to deliver; empty for a pure chat state.
	Text string
	// State to send along (StateNone: none).
	State ChatState
	// ID is the gateway's unique id for the message; a Bounce refers to
	// it.
	ID string
}

// Adapter connects the gateway to one IM network.
type Adapter interface {
	// Network is the name the adapter puts in Address.Network.
	Network() string
	// Send delivers out, or keeps it until the network is reachable
	// again; it never blocks on network I/O and is safe from any
	// goroutine. A message the network later refuses comes back as a
	// Bounce.
	Send(out Outbound)
}

// UserAuthenticator is an Adapter that may vouch for its users: when
// AuthenticatesUsers is true, Address.User is proven by the network (an
// XMPP server authenticates a JID) rather than merely claimed (a SIP
// MESSAGE's From, which anyone can write; a web chat visitor key, a
// browser's bearer key). Only such a network's users are linked to the
// customer who verified from them, and only there does a link verify a
// later chat. An adapter that is not a UserAuthenticator vouches for
// nobody.
type UserAuthenticator interface {
	AuthenticatesUsers() bool
}

// Receiver takes an adapter's inbound events; the Gateway is one. Receive
// is safe from any goroutine and does not block on the gateway's work.
type Receiver interface {
	Receive(in Inbound)
}
