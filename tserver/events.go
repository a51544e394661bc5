package tserver

import (
	"fmt"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// EventType names a CTI event, in T-Server vocabulary.
type EventType uint8

// The CTI events.
const (
	EventAgentLogin EventType = iota + 1
	EventAgentLogout
	EventAgentReady
	EventAgentNotReady
	EventRouteRequest
	EventRouteUsed
	EventQueued
	EventDiverted
	EventRinging
	EventDialing
	EventEstablished
	EventHeld
	EventRetrieved
	EventReleased
	EventAbandoned
	EventAttachedDataChanged
	numEventTypes
)

var eventTypeNames = [numEventTypes]string{
	"", "EventAgentLogin", "EventAgentLogout", "EventAgentReady", "EventAgentNotReady",
	"EventRouteRequest", "EventRouteUsed", "EventQueued", "EventDiverted", "EventRinging",
	"EventDialing", "EventEstablished", "EventHeld", "EventRetrieved", "EventReleased",
	"EventAbandoned", "EventAttachedDataChanged",
}

func (t EventType) String() string {
	if t > 0 && t < numEventTypes {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// MarshalText writes the T-Server name.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// ParseEventType returns the event type with T-Server name s.
func ParseEventType(s string) (EventType, bool) {
	for i := EventType(1); i < numEventTypes; i++ {
		if eventTypeNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// Event is one CTI event. Subscribers get a copy; UserData is a snapshot
// they may keep.
type Event struct {
	Type     EventType    `json:"event"`
	Time     time.Time    `json:"time"`
	ConnID   pbx.ConnID   `json:"conn_id,omitzero"`
	Media    pbx.Media    `json:"media"`
	AgentID  string       `json:"agent_id,omitempty"`
	DN       string       `json:"dn,omitempty"`
	Queue    string       `json:"queue,omitempty"`
	ANI      string       `json:"ani,omitempty"`
	DNIS     string       `json:"dnis,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	UserData pbx.UserData `json:"user_data,omitempty"`
}

// Bus carries CTI events to any number of subscribers. Subscribers run on
// the domain's goroutine, in subscription order, and must not block: an
// adapter that writes to a network copies the event to its own queue.
// Publishing costs one length check when nobody subscribes.
type Bus struct {
	subs   []*subscription
	nextID int
}

type subscription struct {
	id int
	fn func(Event)
}

// Subscribe calls fn for every event from now on, until the returned
// cancel function is called.
func (b *Bus) Subscribe(fn func(Event)) (cancel func()) {
	b.nextID++
	s := &subscription{id: b.nextID, fn: fn}
	// Copy on write: a subscriber that cancels during delivery does not
	// disturb the slice being iterated.
	b.subs = append(b.subs[:len(b.subs):len(b.subs)], s)
	return func() {
		for i, x := range b.subs {
			if x == s {
				n := make([]*subscription, 0, len(b.subs)-1)
				n = append(n, b.subs[:i]...)
				b.subs = append(n, b.subs[i+1:]...)
				return
			}
		}
	}
}

// Active reports whether anybody listens. Callers check it before building
// an event.
func (b *Bus) Active() bool { return len(b.subs) > 0 }

// Publish delivers e to every subscriber.
func (b *Bus) Publish(e Event) {
	for _, s := range b.subs {
		s.fn(e)
	}
}

// ReasonDeskLost is the not-ready reason of an agent whose desktop went
// away with work in hand and did not come back (the CTI server's grace
// period ran out): work that only the desktop could carry on (a chat) is
// for somebody else.
const ReasonDeskLost = "cti_disconnected"
