// Package replay plays scripted scenarios with expectations on the
// virtual clock: a script is a timeline of what customers (callers,
// chatters and their devices' presence), agents and external routers do,
// plus what must happen (CTI events, lines a chat customer receives,
// callbacks' rings and attempts, customers' combined presence, events
// that must never happen, queue counts and agent states at the end). The runner drives the real domain (tserver and its directory) and
// the real IM gateway (bot, routing of chats) through in-process
// endpoints, deterministically; the format is in README.md.
package replay

import (
	"regexp"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// Script is one parsed, checked replay script.
type Script struct {
	// Path is the script's file name, as given to Load or Parse.
	Path string
	// Center is the center the script plays against, and CenterPath the
	// file it came from.
	Center     *config.File
	CenterPath string
	// RingTimeout is how long an offer rings unanswered before it goes
	// back to its queue (the center's ring timeout; default 20s).
	RingTimeout time.Duration
	// End is when the replay stops (default: a minute after the last
	// action, or later when a within reaches further).
	End time.Duration
	// Seed drives tserver's weighted random routing.
	Seed uint64
	// Start is the virtual clock's time at the script's start (default
	// clock.Epoch); customers' allowed callback hours are read on it.
	// Live, the wall clock is the time.
	Start time.Time
	// Slack stretches every within and the end when the script is played
	// live (the wall clock is not exact); 0 in virtual time.
	Slack time.Duration
	// Actions in the order of the file; they run in order of At, then of
	// the file.
	Actions []Action
	// Expect are the expectations, in the order of the file.
	Expect []Expectation
	// starts: when each call and chat starts, by name.
	starts map[string]time.Duration
}

// Interactions is how many calls and chats the script starts.
func (s *Script) Interactions() int { return len(s.starts) }

// ActionKind says who acts.
type ActionKind uint8

// The kinds of actions.
const (
	AgentAction    ActionKind = iota + 1 // an agent's desk: {agent, do} or {agent, say}
	CallAction                           // a caller: {call, from, to} or {call, do: hangup}
	ChatAction                           // a chat customer: {chat, network, from, client, say}, {chat, say}, {chat, do: leave}
	PresenceAction                       // a customer's device: {presence, show}
	RouterAction                         // an external router at a route point: {router, target, after} or {router, do: stop}
	CallbackAction                       // a callback requested as the CRM does: {callback, customer or number, queue, mode}
	PhoneAction                          // a customer's phone: {phone, do: register|unregister|answer|reject|auto_answer|manual}
)

// Action is one line of the script. Which fields count depends on Kind.
type Action struct {
	Index int // its place in script[]
	Line  int // its line in the file
	At    time.Duration
	Kind  ActionKind

	// Agent is the agent's id (AgentRef as written: an id or a number).
	Agent, AgentRef string
	// Do is what is done: an agent's login_ready, login, ready,
	// not_ready, logout, answer, reject, release, hold, retrieve,
	// transfer, auto_answer, manual; a call's hangup; a chat's leave; a
	// router's stop. Empty: a call or chat starts, a chat or an agent
	// says something, a router starts.
	Do string
	// Reason of not_ready and reject.
	Reason string
	// Target of a transfer or of a router's RouteCall.
	Target string
	// Interaction names the call or chat an agent's action is for
	// (default: the one it has, or the first ringing).
	Interaction string
	// AnswerAfter and ReleaseAfter: an auto_answer agent's ring and talk
	// times (ReleaseAfter 0: it keeps the interaction until told); a
	// router's delay is After.
	AnswerAfter, ReleaseAfter, After time.Duration

	// Call and Chat name the interaction a customer starts or acts in.
	Call, Chat string
	// From is the caller's number or the chat customer's address; To is
	// the number a call reaches (route point, queue number or name,
	// extension).
	From, To string
	Priority int
	// Media of a call: its queue's (voice or voip), or voice for an
	// extension (voip for an agent who takes no voice).
	Media pbx.Media
	// Network of a chat: xmpp, webchat or sip.
	Network string
	// ClientFamily and ClientVersion: a chat customer's software.
	ClientFamily, ClientVersion string
	// Say: the lines a chat customer sends, in order, or an agent's one
	// line.
	Say []string
	// Presence is the customer address whose device changes presence to
	// Show (available, chat, away, xa, dnd, unavailable).
	Presence, Show string
	// Router is the route point number an external router serves.
	Router string

	// Callback names a callback request; Customer (a customer number of
	// the center) or Number is whom it calls back, Queue its queue, Mode
	// agent_first (default) or customer_first.
	Callback, Customer, Number, Queue, Mode string
	// Phone is a customer's phone: a SIP softphone of the center's
	// customers (its user), or a number reached through the trunk. Do is
	// register or unregister (a softphone), answer or reject (the oldest
	// call ringing on it), auto_answer (each call after AnswerAfter; also
	// register with AnswerAfter) or manual.
	Phone string
}

// ExpectKind says what an expectation checks.
type ExpectKind uint8

// The kinds of expectations.
const (
	ExpectEvent    ExpectKind = iota + 1 // {call|chat, event, agent, queue, reason, agent_has, within}
	ExpectHears                          // {chat, hears, within}
	ExpectNever                          // {never: {event or hears, ...}}
	ExpectQueue                          // {at_end: {queue, offered, answered, abandoned, callback, waiting}}
	ExpectAgent                          // {at_end: {agent, state}}
	ExpectRings                          // {phone, rings: true, callback, within}
	ExpectAttempt                        // {callback, medium, result, within}
	ExpectCallback                       // {at_end: {callback, state}}
	ExpectPresence                       // {customer, status, within}
)

// Expectation is one item of expect.
type Expectation struct {
	Index int
	Line  int
	Kind  ExpectKind
	// Match says which events or lines: for ExpectEvent and ExpectHears
	// the ones that must come, for ExpectNever the ones that must not.
	Match Match
	// Within bounds the time from the action that started the
	// interaction to the event or line; 0 with HasWithin false: by the
	// end.
	Within    time.Duration
	HasWithin bool
	// Queue and Counts for ExpectQueue: each count given must equal the
	// queue's at the end.
	Queue  string
	Counts []Count
	// Agent (AgentRef as written) and State for ExpectAgent.
	Agent, AgentRef string
	State           tserver.AgentState
	// Medium and Result of an ExpectAttempt: an attempt of the callback
	// Match.Interaction on that medium (any when empty) ended so.
	Medium, Result string
	// CallbackState of an ExpectCallback: pending, dialing, done, failed
	// or cancelled.
	CallbackState string
}

// Match selects CTI events (Event set) or lines a chat customer hears
// (Hears or Regexp set); empty fields match anything.
type Match struct {
	// Interaction names a call, chat or callback of the script; Chat
	// and Callback say which.
	Interaction    string
	Chat, Callback bool
	// Phone selects the calls that rang a customer's phone (ExpectRings,
	// never) instead of events.
	Phone string
	// Customer and Status select the changes of a customer's combined
	// presence to a status (ExpectPresence, never) instead of events.
	Customer, Status string
	Event            tserver.EventType
	// Agent is an agent id (AgentRef as written).
	Agent, AgentRef string
	Queue           string
	Reason          string
	// HasSkill and HasClient: the event's agent has the skill (any
	// level) and supports the client (ClientFamily, ClientVersion).
	HasSkill                    string
	HasClient                   bool
	ClientFamily, ClientVersion string
	// Hears is a substring of a line, or Regexp (written /re/) matches
	// it.
	Hears  string
	Regexp *regexp.Regexp
}

// Count is one queue counter an at_end expectation checks.
type Count struct {
	Name string // offered, answered, abandoned, callback, waiting
	Want int64
}
