// Package config reads and validates the YAML description of a contact
// center: its queues, skills, agents, strategies and rules, and, for
// simulations, the traffic offered to it and how to run it. The same file
// serves `ccswitch serve`, `ccswitch sim` and `ccswitch replay`; every error
// names the file, the line and the field that is wrong.
package config

import "time"

// File is one parsed configuration file: the center, plus the optional
// simulation sections (traffic and run) that a scenario adds.
type File struct {
	// Path is the file name the configuration was read from (for errors).
	Path string `yaml:"-"`

	Center      CenterInfo   `yaml:"center"`
	Skills      []string     `yaml:"skills"`
	Queues      []Queue      `yaml:"queues"`
	RoutePoints []RoutePoint `yaml:"route_points"`
	Agents      []AgentGroup `yaml:"agents"`
	// IM configures the IM gateway (serve only).
	IM *IM `yaml:"im"`
	// Users are the people and programs other than agents that may use
	// the live switch's doors (CTI, HTTP): supervisors, routers,
	// monitors (wallboards), admins (serve only).
	Users []User `yaml:"users"`

	Traffic []Traffic `yaml:"traffic"`
	// Schedule gives agent groups shifts and breaks (simulations only).
	Schedule []Schedule `yaml:"schedule"`
	Run      Run        `yaml:"run"`
}

// CenterInfo names the center.
type CenterInfo struct {
	Name string `yaml:"name"`
}

// Queue is an ACD queue: interactions of one media wait there for an agent
// with the queue's skill.
type Queue struct {
	Name string `yaml:"name"`
	// Media is one of voice, voip, im, callback.
	Media string `yaml:"media"`
	// Number is the queue's directory number (optional).
	Number string `yaml:"number"`
	// Skill is the skill an agent needs; defaults to the queue's name.
	Skill string `yaml:"skill"`
	// MinLevel is the lowest skill level accepted (1-10, default 1).
	MinLevel int `yaml:"min_level"`
	// Priority is the base priority of the queue's interactions.
	Priority int `yaml:"priority"`
	// Aging raises an interaction's priority while it waits.
	Aging *Aging `yaml:"aging"`
	// SLTarget is the service-level target (answered within).
	SLTarget Duration `yaml:"sl_target"`
	// Strategy picks among eligible agents: longest_idle (default),
	// round_robin, fewest_interactions, least_talk_time, top_down,
	// highest_skill, weighted_random.
	Strategy string `yaml:"strategy"`
	// Overflow rules, applied in order of their After.
	Overflow []Overflow `yaml:"overflow"`
	// Requires lists attributes an agent must have (e.g. language: en).
	Requires map[string]string `yaml:"requires"`
	// CallbackQueue is the queue (media callback) where the callbacks
	// this queue's customers ask for wait, keeping their place.
	CallbackQueue string `yaml:"callback_queue"`
	// CallbackDigit is the key ("0"-"9") a queued voice caller presses
	// to be called back; its callers hear "press N to be called back,
	// keeping your place" (serve only; voice and voip queues).
	CallbackDigit string `yaml:"callback_digit"`
}

// Aging adds Step to the priority every Every of waiting, up to Max.
type Aging struct {
	Every Duration `yaml:"every"`
	Step  int      `yaml:"step"`
	Max   int      `yaml:"max"`
}

// Overflow widens the set of agents (or moves the interaction) once it has
// waited After. Exactly one of MinLevel, AddSkill, ToQueue is the action;
// MinLevel may accompany AddSkill as the level required in the added skill.
type Overflow struct {
	After    Duration `yaml:"after"`
	MinLevel int      `yaml:"min_level"`
	AddSkill string   `yaml:"add_skill"`
	ToQueue  string   `yaml:"to_queue"`
}

// RoutePoint is a directory number where interactions arrive to be routed;
// Queue is the default target when no external router answers within Timeout.
type RoutePoint struct {
	Number  string   `yaml:"number"`
	Queue   string   `yaml:"queue"`
	Timeout Duration `yaml:"timeout"`
}

// AgentGroup describes one agent (ID set) or Count identical agents named
// <Group>-<n>.
type AgentGroup struct {
	ID    string `yaml:"id"`
	Group string `yaml:"group"`
	Count int    `yaml:"count"`
	// Number is the agent's extension; FirstNumber numbers a group
	// consecutively.
	Number      string `yaml:"number"`
	FirstNumber int    `yaml:"first_number"`
	// Skills maps skill name to level 1-10.
	Skills map[string]int `yaml:"skills"`
	// Capacity per media (default voice 1, voip 1, im 1, callback 1).
	Capacity map[string]int `yaml:"capacity"`
	// Block is the cross-media rule: while handling the key media, no
	// offers of the listed media.
	Block map[string][]string `yaml:"block"`
	// WrapUp is the after-call work time.
	WrapUp Duration `yaml:"wrap_up"`
	// Clients maps an IM client family to a version constraint such as
	// "*", ">=2.10", "2.14", "<3".
	Clients map[string]string `yaml:"clients"`
	// Attributes the agent has (e.g. language: [en, fr]).
	Attributes map[string][]string `yaml:"attributes"`
	// Weight for weighted_random (default 1).
	Weight int `yaml:"weight"`
	// Ready logs the agent in and makes it ready at start (default true in
	// simulations).
	Ready *bool `yaml:"ready"`
	// Password for the agent's SIP device and CTI login (live switch
	// only).
	Password string `yaml:"password"`
	// Name is the agent's name as customers see it in chats (default
	// "Agent"); never an address.
	Name string `yaml:"name"`
	// ChatVia is where the agent handles chats: ChatViaCTI (default), its
	// CTI desktop; or ChatViaSIP, its SIP phone, by MESSAGE (RFC 3428),
	// which needs the agent's number and password (its phone registers
	// with them).
	ChatVia string `yaml:"chat_via"`
	// Roles the agents hold besides agent (for example supervisor: they
	// may join other agents' chats). Optional.
	Roles []string `yaml:"roles"`
}

// The values of AgentGroup.ChatVia.
const (
	ChatViaCTI = "cti"
	ChatViaSIP = "sip"
)

// User is one user of the live switch who is not an agent, such as a
// supervisor, an external router or a wallboard. It proves who it is with
// a password (only its hash is in the file) or a bearer token read, when
// the center opens, from a file or an environment variable: secrets are
// never in the file in clear, nor in argv.
type User struct {
	// Name is what the user logs in as; unique among users and agent ids.
	Name string `yaml:"name"`
	// Roles: one or more of supervisor, router, monitor, admin.
	Roles []string `yaml:"roles"`
	// PasswordHash is a bcrypt ($2a$, $2b$, $2y$) or argon2id
	// ($argon2id$v=19$m=...,t=...,p=...$salt$hash) hash.
	PasswordHash string `yaml:"password_hash"`
	// Password is never accepted: it is decoded only to say so, with the
	// file and line.
	Password string `yaml:"password"`
	// TokenFile holds the user's bearer token (surrounding white space
	// is ignored).
	TokenFile string `yaml:"token_file"`
	// TokenEnv names the environment variable holding the user's bearer
	// token.
	TokenEnv string `yaml:"token_env"`
}

// Roles are the roles a user or an agent may hold: agent (every agent's,
// implied), supervisor, router, monitor, admin.
var Roles = []string{"agent", "supervisor", "router", "monitor", "admin"}

// Run says how long to simulate and how often.
type Run struct {
	Duration     Duration `yaml:"duration"`
	Warmup       Duration `yaml:"warmup"`
	Replications int      `yaml:"replications"`
	Seed         uint64   `yaml:"seed"`
	// Interval is the length of the intervals the simulator reports
	// per-interval results for (0: the shortest forecast interval, else
	// 30m). It is at least 1m and divides a day.
	Interval Duration `yaml:"interval"`
}

// Duration is a time.Duration written in YAML as "20s", "1h30m" or a bare
// number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
