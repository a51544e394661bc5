package tserver

import (
	"fmt"
	"time"

	"github.com/looplab/fsm"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/fsmtable"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// AgentState is an agent's work state.
type AgentState uint8

// Agent states.
const (
	LoggedOut     AgentState = iota
	NotReady                 // logged in, not taking interactions (with a reason)
	Ready                    // waiting for work
	Reserved                 // an interaction is being offered, none established
	Busy                     // handling at least one interaction
	AfterCallWork            // wrapping up after the last interaction
	numAgentStates
)

var agentStateNames = [numAgentStates]string{"logged_out", "not_ready", "ready", "reserved", "busy", "after_call_work"}

func (s AgentState) String() string {
	if s < numAgentStates {
		return agentStateNames[s]
	}
	return fmt.Sprintf("agentstate(%d)", s)
}

// MarshalText writes the state's name.
func (s AgentState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// AgentEvent is what happens to an agent.
type AgentEvent uint8

// Agent events.
const (
	AgLogin     AgentEvent = iota
	AgLogout               // leave the center
	AgReady                // become ready (also ends after-call work)
	AgNotReady             // stop taking work
	AgReserve              // an interaction is offered
	AgAnswer               // an offered interaction is answered
	AgUnreserve            // the last offer went away, nothing established
	AgReject               // the last offer was not answered or refused
	AgDial                 // the agent starts an outbound interaction
	AgRelease              // the last interaction ended
	numAgentEvents
)

var agentEventNames = [numAgentEvents]string{"login", "logout", "ready", "not_ready", "reserve", "answer", "unreserve", "reject", "dial", "release"}

func (e AgentEvent) String() string {
	if e < numAgentEvents {
		return agentEventNames[e]
	}
	return fmt.Sprintf("agentevent(%d)", e)
}

// AgentEvents is the agent state machine as looplab/fsm definitions, the
// single source of truth; the hot path uses a table derived from it once.
// Self-loops (reserve while busy, for another chat) keep the state.
var AgentEvents = fsm.Events{
	{Name: "login", Src: []string{"logged_out"}, Dst: "not_ready"},
	{Name: "logout", Src: []string{"not_ready", "ready", "after_call_work"}, Dst: "logged_out"},
	{Name: "ready", Src: []string{"not_ready", "ready", "after_call_work"}, Dst: "ready"},
	{Name: "not_ready", Src: []string{"ready", "not_ready", "after_call_work"}, Dst: "not_ready"},
	{Name: "reserve", Src: []string{"ready", "reserved"}, Dst: "reserved"},
	{Name: "reserve", Src: []string{"busy"}, Dst: "busy"},
	{Name: "answer", Src: []string{"reserved", "busy"}, Dst: "busy"},
	{Name: "unreserve", Src: []string{"reserved"}, Dst: "ready"},
	{Name: "reject", Src: []string{"reserved"}, Dst: "not_ready"},
	{Name: "dial", Src: []string{"ready", "not_ready", "busy", "after_call_work"}, Dst: "busy"},
	{Name: "release", Src: []string{"busy"}, Dst: "after_call_work"},
}

// NewAgentFSM returns the looplab/fsm machine of an agent in state s.
func NewAgentFSM(s AgentState) *fsm.FSM {
	return fsm.NewFSM(s.String(), AgentEvents, nil)
}

var agentTransitions = fsmtable.Derive(AgentEvents, numAgentStates, numAgentEvents, AgentState.String, AgentEvent.String)

// AgentTransition returns the state an agent in state s reaches on e, or
// an error of kind Conflict.
func AgentTransition(s AgentState, e AgentEvent) (AgentState, error) {
	if d, ok := agentTransitions.Next(s, e); ok {
		return d, nil
	}
	return s, pbx.Errorf(pbx.Conflict, "cannot %s an agent who is %s", e, s)
}

// Agent is a person (or a bot) who handles interactions.
type Agent struct {
	ID     string
	DN     string // extension while logged in
	HomeDN string // configured extension
	order  int    // position in the configuration (top_down)
	index  int    // position in Server.agents

	state       AgentState
	reason      string // not-ready reason
	pendingNR   bool   // go not ready when the current work ends
	pendingWhy  string // reason for pendingNR
	level       []uint8
	skills      []int // skill indexes the agent has, for the availability index
	availPos    []int32
	queues      []*queue // queues the agent may serve (skill or overflow skill)
	capacity    [pbx.NumMedia]uint8
	load        [pbx.NumMedia]uint8 // offered + active, per media
	offered     int                 // interactions ringing at the agent
	active      int                 // interactions established or held
	blockOf     [pbx.NumMedia]uint8 // media mask blocked while media m is loaded
	wrapUp      time.Duration
	clients     map[string]config.VersionConstraint
	attributes  map[string][]string
	weight      int
	autoReady   bool
	wrapTimer   clock.Timer
	idleSince   time.Time
	lastOffer   uint64 // routing sequence of the last offer (round robin)
	handled     int    // interactions answered since login
	talk        time.Duration
	talkAtLogin time.Duration // talk before the current login
	talkSince   time.Time     // when active went from 0 to >0
	busy        time.Duration
	busySince   time.Time // when the agent stopped being idle (offered, active or wrapping up)
	loggedTime  time.Duration
	loginSince  time.Time
	inAvailable bool
	ranks       []rankEntry    // its places in the ranked trees (agentindex.go)
	serving     []servingState // what it adds to the serving counts of each of queues
	touched     bool           // changed since the indexes were last brought in step (touch)
	preferred   []*Contact     // queued contacts resumed for this agent first (Resume)
}

// State returns the agent's state.
func (a *Agent) State() AgentState { return a.state }

// AutoReady reports whether the agent is configured to be ready as soon as
// it logs in (config: ready).
func (a *Agent) AutoReady() bool { return a.autoReady }

// Reason returns the not-ready reason.
func (a *Agent) Reason() string { return a.reason }

// Serves reports whether the agent may ever take interactions from the
// queue named queue: it has the queue's skill or an overflow skill,
// capacity for its media and the attributes it requires.
func (a *Agent) Serves(queue string) bool {
	for _, q := range a.queues {
		if q.name == queue {
			return true
		}
	}
	return false
}

// Level returns the agent's level in skill (0 when the agent lacks it).
func (a *Agent) levelOf(skill int) int { return int(a.level[skill]) }

// blocked returns the mask of media the agent may not be offered now.
func (a *Agent) blocked() uint8 {
	var m uint8
	for i := range a.load {
		if a.load[i] > 0 {
			m |= a.blockOf[i]
		}
	}
	return m
}

// canTake reports whether the agent's capacity and cross-media rules allow
// one more interaction of media m. It does not look at the agent's state.
func (a *Agent) canTake(m pbx.Media) bool {
	return a.load[m] < a.capacity[m] && a.blocked()&(1<<m) == 0
}

// working reports whether the agent has anything offered or active.
func (a *Agent) working() bool { return a.offered+a.active > 0 }

// takesWork reports whether the agent's state allows new offers.
func (a *Agent) takesWork() bool {
	return (a.state == Ready || a.state == Reserved || a.state == Busy) && !a.pendingNR
}

// available reports whether the agent may be offered something now.
func (a *Agent) available() bool {
	if !a.takesWork() {
		return false
	}
	for m := pbx.Media(0); m < pbx.NumMedia; m++ {
		if a.canTake(m) {
			return true
		}
	}
	return false
}

// supports reports whether the agent meets an interaction's requirements:
// its IM client and attributes.
func (a *Agent) supports(c *Contact) bool {
	if c.ClientFamily != "" {
		vc, ok := a.clients[c.ClientFamily]
		if !ok {
			// "*" as a family: any client (an automated agent, a web
			// desktop that renders plain text from everyone).
			vc, ok = a.clients["*"]
		}
		if !ok || !vc.Allows(c.ClientVersion) {
			return false
		}
	}
	return a.hasAttributes(c.Requires)
}

// busyTime returns how long the agent has not been idle while logged in,
// up to now.
func (a *Agent) busyTime(now time.Time) time.Duration {
	if !a.busySince.IsZero() {
		return a.busy + now.Sub(a.busySince)
	}
	return a.busy
}

// talkTime returns the agent's time with at least one established
// interaction, up to now.
func (a *Agent) talkTime(now time.Time) time.Duration {
	if a.active > 0 {
		return a.talk + now.Sub(a.talkSince)
	}
	return a.talk
}
