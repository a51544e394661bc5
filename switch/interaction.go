package pbx

import (
	"fmt"
	"strconv"
	"time"

	"github.com/looplab/fsm"

	"github.com/ccswitch/ccswitch/internal/fsmtable"
)

// ConnID identifies an interaction, as T-Server's connection ID does.
type ConnID uint64

// String returns the ID as 16 hex digits.
func (c ConnID) String() string {
	var b [16]byte
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = hex[c&0xf]
		c >>= 4
	}
	return string(b[:])
}

// ParseConnID reads an ID written by String.
func ParseConnID(s string) (ConnID, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || len(s) == 0 || len(s) > 16 {
		return 0, Errorf(Invalid, "pbx: bad connection id %q", s)
	}
	return ConnID(v), nil
}

// MarshalText writes the ID as String does.
func (c ConnID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// State is where an interaction is in its life.
type State uint8

// Interaction states.
const (
	Created     State = iota // known to the switch, not yet routed
	Routing                  // at a route point or being (re)directed
	Queued                   // waiting in an ACD queue
	Ringing                  // offered to an agent (alerting)
	Established              // connected to an agent
	Held                     // established, put on hold
	Redirected               // an offer was not answered; about to be routed again
	Released                 // over, after being established
	Abandoned                // the customer left before being connected
	numStates
)

var stateNames = [numStates]string{"created", "routing", "queued", "ringing", "established", "held", "redirected", "released", "abandoned"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// Final reports whether the interaction is over.
func (s State) Final() bool { return s == Released || s == Abandoned }

// Event is what happens to an interaction.
type Event uint8

// Interaction events.
const (
	EvRoute    Event = iota // arrive at a route point, or be transferred
	EvQueue                 // enter an ACD queue
	EvOffer                 // alert an agent
	EvDial                  // an agent dials out (MakeCall)
	EvAnswer                // the alerted party answers
	EvRedirect              // the offer was not answered or was refused
	EvHold                  // put on hold
	EvRetrieve              // taken off hold
	EvRelease               // either side hangs up after connection
	EvAbandon               // the customer leaves before connection
	numEvents
)

var eventNames = [numEvents]string{"route", "queue", "offer", "dial", "answer", "redirect", "hold", "retrieve", "release", "abandon"}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", e)
}

// InteractionEvents is the interaction lifecycle as looplab/fsm definitions:
// the single source of truth. The hot path uses a table derived from it
// once (see Transition); NewInteractionFSM builds the full machine.
var InteractionEvents = fsm.Events{
	{Name: "route", Src: []string{"created", "queued", "redirected", "established", "held"}, Dst: "routing"},
	{Name: "queue", Src: []string{"routing", "redirected"}, Dst: "queued"},
	{Name: "offer", Src: []string{"routing", "queued"}, Dst: "ringing"},
	{Name: "dial", Src: []string{"created"}, Dst: "ringing"},
	{Name: "answer", Src: []string{"ringing"}, Dst: "established"},
	{Name: "redirect", Src: []string{"ringing"}, Dst: "redirected"},
	{Name: "hold", Src: []string{"established"}, Dst: "held"},
	{Name: "retrieve", Src: []string{"held"}, Dst: "established"},
	{Name: "release", Src: []string{"ringing", "established", "held"}, Dst: "released"},
	{Name: "abandon", Src: []string{"routing", "queued", "ringing", "redirected"}, Dst: "abandoned"},
}

// NewInteractionFSM returns the looplab/fsm machine of an interaction in
// state s, for documentation and checks; the domain itself uses
// Transition.
func NewInteractionFSM(s State) *fsm.FSM {
	return fsm.NewFSM(s.String(), InteractionEvents, nil)
}

var transitions = fsmtable.Derive(InteractionEvents, numStates, numEvents, State.String, Event.String)

// Transition returns the state an interaction in state s reaches on event
// e, or an error of kind Conflict when e is not allowed in s.
func Transition(s State, e Event) (State, error) {
	if d, ok := transitions.Next(s, e); ok {
		return d, nil
	}
	return s, Errorf(Conflict, "cannot %s an interaction that is %s", e, s)
}

// Interaction is one customer contact crossing the switch.
type Interaction struct {
	ID       ConnID
	Media    Media
	ANI      string // the calling party (or the customer's IM address)
	DNIS     string // the number dialled (route point, queue, extension)
	State    State
	UserData UserData
	Created  time.Time
}

// Fire moves the interaction through event e.
func (i *Interaction) Fire(e Event) error {
	d, err := Transition(i.State, e)
	if err != nil {
		return fmt.Errorf("pbx: interaction %s: %w", i.ID, err)
	}
	i.State = d
	return nil
}
