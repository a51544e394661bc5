// Package tserver is the routing brain of ccswitch, a software T-Server and
// ACD: agents and their states, skills with levels, queues with priorities,
// aging and overflow, the router and its strategies, estimated wait times,
// real-time statistics, and the CTI events and requests contact-center
// software speaks. It is pure logic on a clock.Clock: it never reads the
// wall clock and never starts a goroutine, so the live switch and the
// simulator run the very same code. A Server belongs to one goroutine.
package tserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// Endpoints delivers offers to agents' devices: simulated desk phones,
// SIP softphones, CTI chat desktops.
type Endpoints interface {
	// Offer alerts agent's device that interaction c is for it. The
	// device answers with Server.AnswerCall or refuses with
	// Server.RejectCall, later or from inside Offer.
	Offer(c *Contact, agent *Agent)
	// Dial places agent's outbound interaction c (MakeCall) to c.DNIS:
	// the device rings the agent's own phone if it must, then the far
	// end. The far end's answer is reported with Server.AnswerCall, a
	// failure or a hang-up with Server.ReleaseCall, later or from inside
	// Dial.
	Dial(c *Contact, agent *Agent)
}

type nopEndpoints struct{}

func (nopEndpoints) Offer(*Contact, *Agent) {}
func (nopEndpoints) Dial(*Contact, *Agent)  {}

// NopEndpoints returns Endpoints that do nothing: agents answer through
// CTI requests.
func NopEndpoints() Endpoints { return nopEndpoints{} }

// Config configures a Server.
type Config struct {
	// Clock is the domain's only source of time. Required.
	Clock clock.Clock
	// Endpoints reach agents' devices; NopEndpoints when nil.
	Endpoints Endpoints
	// Seed drives weighted random routing, so simulations repeat.
	Seed uint64
	// RingTimeout redirects an offer nobody answers (0: no timeout).
	RingTimeout time.Duration
	// DefaultHandleTime is the handle time EWT assumes before a queue has
	// handled anything (default 5 minutes).
	DefaultHandleTime time.Duration
	// DeferLogin leaves every agent logged out at start: their devices
	// (a SIP phone registering) or CTI requests log them in.
	DeferLogin bool
	// RecycleContacts lets the Server reuse the memory of an interaction
	// that is over for a later one, so that a long run allocates no
	// Contact per interaction. A *Contact the Server hands out
	// (Endpoints.Offer and Dial, Server.Contact) is then valid only while
	// its interaction lives: keep its ConnID, not the pointer. The
	// simulator, which keeps ConnIDs only, sets it.
	RecycleContacts bool
}

// Server is the routing domain's T-Server.
type Server struct {
	clock       clock.Clock
	endpoints   Endpoints
	bus         Bus
	rng         *rand.Rand
	ringTimeout time.Duration
	defaultAHT  time.Duration

	dir         *pbx.Directory
	skillIndex  map[string]int
	skillNames  []string
	agents      []*Agent
	agentByID   map[string]*Agent
	agentByDN   map[string]*Agent
	queues      []*queue
	queueByName map[string]*queue
	routePoints map[string]*routePoint
	avail       [][]*Agent                              // per skill: agents who may be offered work now
	ranked      [][pbx.NumMedia][numRankKinds]rankTrees // per skill: available agents in a strategy's order (agentindex.go)
	timeRef     time.Time                               // origin of the ranked trees' idle times
	touched     []*Agent                                // agents whose index entries are out of step (touch)

	// verifyPick, verifyServing, verifyAhead and verifyStatus, set by
	// tests only, see each ranked decision, counted serving() answer,
	// counted Position and Status counts, to check them against a walk of
	// every agent or of the queue.
	verifyPick    func(c *Contact, q *queue, got *Agent)
	verifyServing func(q *queue, c *Contact, agents, capacity, free int)
	verifyAhead   func(c *Contact, ahead int)
	verifyStatus  func(q *queue, loggedIn, ready, busy int)

	contacts contactTable // live interactions by ConnID (contacts.go)
	recycle  bool         // Config.RecycleContacts
	spare    []*Contact   // contacts over, for newContact to reuse (recycle)
	nextConn pbx.ConnID
	seq      uint64
	epoch    uint32

	// routersChanged, when set, hears each change of a route point's
	// external routers (WatchRouters).
	routersChanged func(routePoint string, routers int)
}

type routePoint struct {
	number    string
	queue     *queue
	timeout   time.Duration
	listeners int
}

// New builds the center described by cfg. Agents whose Ready is set are
// logged in on their extension and made ready.
func New(cfg *config.File, opts Config) (*Server, error) {
	if opts.Clock == nil {
		return nil, pbx.Errorf(pbx.Invalid, "tserver: no clock")
	}
	s := &Server{
		clock:       opts.Clock,
		endpoints:   opts.Endpoints,
		rng:         rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		ringTimeout: opts.RingTimeout,
		defaultAHT:  opts.DefaultHandleTime,
		dir:         pbx.NewDirectory(),
		skillIndex:  map[string]int{},
		agentByID:   map[string]*Agent{},
		agentByDN:   map[string]*Agent{},
		queueByName: map[string]*queue{},
		routePoints: map[string]*routePoint{},
		recycle:     opts.RecycleContacts,
		nextConn:    1,
		timeRef:     opts.Clock.Now(),
	}
	if s.endpoints == nil {
		s.endpoints = NopEndpoints()
	}
	if s.defaultAHT <= 0 {
		s.defaultAHT = 5 * time.Minute
	}
	agents := cfg.ExpandAgents()
	// Skills, in a stable order: declared ones, then as first met.
	for _, n := range cfg.Skills {
		s.skill(n)
	}
	for _, q := range cfg.Queues {
		s.skill(q.Skill)
		for _, o := range q.Overflow {
			if o.AddSkill != "" {
				s.skill(o.AddSkill)
			}
		}
	}
	for _, a := range agents {
		for _, n := range sortedKeys(a.Skills) {
			s.skill(n)
		}
	}
	s.avail = make([][]*Agent, len(s.skillNames))

	for i := range cfg.Queues {
		q, err := s.newQueue(&cfg.Queues[i], len(s.queues))
		if err != nil {
			return nil, err
		}
		s.queues = append(s.queues, q)
		s.queueByName[q.name] = q
	}
	for i, qc := range cfg.Queues { // overflow targets, once every queue exists
		for j, o := range qc.Overflow {
			if o.ToQueue != "" {
				s.queues[i].overflow[j].toQueue = s.queueByName[o.ToQueue]
			}
		}
	}
	for _, rp := range cfg.RoutePoints {
		q := s.queueByName[rp.Queue]
		if q == nil {
			return nil, pbx.Errorf(pbx.Invalid, "tserver: route point %s: no queue %q", rp.Number, rp.Queue)
		}
		if err := s.dir.Add(pbx.DN{Number: rp.Number, Type: pbx.RoutePoint, Owner: rp.Queue}); err != nil {
			return nil, err
		}
		s.routePoints[rp.Number] = &routePoint{number: rp.Number, queue: q, timeout: rp.Timeout.D()}
	}
	for _, ac := range agents {
		a, err := s.newAgent(ac, len(s.agents))
		if err != nil {
			return nil, err
		}
		s.agents = append(s.agents, a)
		s.agentByID[a.ID] = a
		if a.HomeDN != "" {
			s.agentByDN[a.HomeDN] = a
		}
	}
	s.buildIndexes()
	for _, a := range s.agents {
		if a.autoReady && !opts.DeferLogin {
			if err := s.AgentLogin(a.ID, ""); err != nil {
				return nil, err
			}
			if err := s.AgentReady(a.ID); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Server) skill(name string) int {
	if i, ok := s.skillIndex[name]; ok {
		return i
	}
	i := len(s.skillNames)
	s.skillIndex[name] = i
	s.skillNames = append(s.skillNames, name)
	return i
}

func (s *Server) newQueue(c *config.Queue, index int) (*queue, error) {
	m, err := pbx.ParseMedia(c.Media)
	if err != nil {
		return nil, fmt.Errorf("tserver: queue %s: %w", c.Name, err)
	}
	st, err := ParseStrategy(c.Strategy)
	if err != nil {
		return nil, fmt.Errorf("tserver: queue %s: %w", c.Name, err)
	}
	q := &queue{
		name:     c.Name,
		number:   c.Number,
		media:    m,
		skill:    s.skill(c.Skill),
		minLevel: c.MinLevel,
		priority: c.Priority,
		slTarget: c.SLTarget.D(),
		strategy: st,
		index:    index,
		rrCursor: -1,
	}
	if q.minLevel < 1 {
		q.minLevel = 1
	}
	if c.Aging != nil {
		q.agingEvery, q.agingStep, q.agingMax = c.Aging.Every.D(), c.Aging.Step, c.Aging.Max
	}
	for _, k := range sortedKeys(c.Requires) {
		q.requires = append(q.requires, pbx.KV{Key: k, Value: c.Requires[k]})
	}
	for _, o := range c.Overflow {
		r := overflowRule{after: o.After.D(), minLevel: o.MinLevel, addSkill: -1}
		if o.AddSkill != "" {
			r.addSkill = s.skill(o.AddSkill)
		}
		q.overflow = append(q.overflow, r)
	}
	if q.number != "" {
		if err := s.dir.Add(pbx.DN{Number: q.number, Type: pbx.ACDQueue, Owner: q.name}); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func (s *Server) newAgent(c config.Agent, index int) (*Agent, error) {
	a := &Agent{
		ID:         c.ID,
		HomeDN:     c.Number,
		order:      c.Order,
		index:      index,
		level:      make([]uint8, len(s.skillNames)),
		wrapUp:     c.WrapUp,
		attributes: c.Attributes,
		weight:     max(c.Weight, 1),
		autoReady:  c.Ready,
		clients:    map[string]config.VersionConstraint{},
	}
	for _, n := range sortedKeys(c.Skills) {
		i := s.skill(n)
		a.level[i] = uint8(c.Skills[n])
		a.skills = append(a.skills, i)
		a.availPos = append(a.availPos, -1)
	}
	for name, n := range c.Capacity {
		m, err := pbx.ParseMedia(name)
		if err != nil {
			return nil, fmt.Errorf("tserver: agent %s: capacity: %w", a.ID, err)
		}
		a.capacity[m] = uint8(min(n, 255))
	}
	for name, blocked := range c.Block {
		m, err := pbx.ParseMedia(name)
		if err != nil {
			return nil, fmt.Errorf("tserver: agent %s: block: %w", a.ID, err)
		}
		for _, bn := range blocked {
			b, err := pbx.ParseMedia(bn)
			if err != nil {
				return nil, fmt.Errorf("tserver: agent %s: block: %w", a.ID, err)
			}
			a.blockOf[m] |= 1 << b
		}
	}
	for fam, cons := range c.Clients {
		vc, err := config.ParseConstraint(cons)
		if err != nil {
			return nil, fmt.Errorf("tserver: agent %s: client %s: %w", a.ID, fam, err)
		}
		a.clients[fam] = vc
	}
	if a.HomeDN != "" {
		if err := s.dir.Add(pbx.DN{Number: a.HomeDN, Type: pbx.Extension, Owner: a.ID}); err != nil {
			return nil, err
		}
	}
	for _, q := range s.queues {
		if a.mayServe(q) {
			a.queues = append(a.queues, q)
		}
	}
	return a, nil
}

// mayServe reports whether the agent could ever take interactions from q:
// it has the queue's skill or an overflow skill, capacity for its media and
// the queue's required attributes.
func (a *Agent) mayServe(q *queue) bool {
	if a.capacity[q.media] == 0 || !a.hasAttributes(q.requires) {
		return false
	}
	if a.level[q.skill] > 0 {
		return true
	}
	for _, o := range q.overflow {
		if o.addSkill >= 0 && a.level[o.addSkill] > 0 {
			return true
		}
	}
	return false
}

// hasAttributes reports whether the agent has every required attribute
// value.
func (a *Agent) hasAttributes(req []pbx.KV) bool {
	for _, r := range req {
		if !slices.Contains(a.attributes[r.Key], r.Value) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Subscribe calls fn with every CTI event from now on; see Bus.
func (s *Server) Subscribe(fn func(Event)) (cancel func()) { return s.bus.Subscribe(fn) }

// WatchRouters calls fn, on the domain's loop, each time a route point
// gains or loses an external router (RegisterRouter, its unregister),
// with how many it has now; one watcher (serve --record's), replaced by
// the next call.
func (s *Server) WatchRouters(fn func(routePoint string, routers int)) { s.routersChanged = fn }

// Now returns the domain's time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Directory returns the switch's directory numbers.
func (s *Server) Directory() *pbx.Directory { return s.dir }

// Agent returns the agent with the given ID.
func (s *Server) Agent(id string) (*Agent, bool) {
	a, ok := s.agentByID[id]
	return a, ok
}

// Agents returns every configured agent in configuration order.
func (s *Server) Agents() []*Agent { return s.agents }

// Contact returns the live interaction id (nil once it is over).
func (s *Server) Contact(id pbx.ConnID) *Contact { return s.contacts.get(id) }

// emit publishes an event when somebody listens.
func (s *Server) emit(t EventType, c *Contact, a *Agent, q *queue, reason string) {
	if !s.bus.Active() {
		return
	}
	e := Event{Type: t, Time: s.clock.Now(), Reason: reason}
	if c != nil {
		e.ConnID, e.Media, e.ANI, e.DNIS = c.ID, c.Media, c.ANI, c.DNIS
		e.UserData = c.UserData.Clone()
	}
	if a != nil {
		e.AgentID, e.DN = a.ID, a.DN
	}
	if q != nil {
		e.Queue = q.name
		if a == nil {
			e.DN = q.number
		}
	}
	s.bus.Publish(e)
}
