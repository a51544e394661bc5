package tserver

// Property tests: a random center (queues, strategies, skills, overflow,
// aging, capacities, cross-media blocks, wrap-up, IM clients) driven by a
// random sequence of requests and virtual-clock advances, with the
// routing domain's invariants checked after every step and, for what only
// the moment of an offer shows, from a bus subscriber as the events flow.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// maxSteps bounds the actions of one run.
const maxSteps = 200

// strategies lists every strategy name the configuration accepts.
var strategies = []string{"longest_idle", "round_robin", "fewest_interactions",
	"least_talk_time", "top_down", "highest_skill", "weighted_random"}

// profile shapes the centers and the traffic of one property test.
type profile struct {
	name      string
	media     []string // queue media to draw from
	maxAgents int
	minIM     int  // least IM capacity of an agent
	ring      bool // always a ring timeout
	actions   []string
}

// actions are the kinds of step a run draws from, with weights given by
// repetition. The first is read-only: shrinking turns the steps a failure
// does not need into it.
var actions = []string{
	"query",
	"arrive", "arrive", "arrive", "arrive",
	"answer", "answer", "answer",
	"reject",
	"release", "release", "release",
	"hold", "retrieve",
	"transfer",
	"ready", "ready", "ready", "not_ready", "logout", "login",
	"make_call",
	"attach",
	"advance", "advance", "advance",
	"step", "step",
	"reset_stats",
	"router", "route_call",
}

// profiles: a general mix; few agents under many arrivals, with ring
// timeouts (queues fill, overflow and aging matter); chat only, where
// agents take several interactions at once.
var profiles = []profile{
	{name: "mixed", media: []string{"voice", "im"}, maxAgents: 12, actions: actions},
	{name: "crowded", media: []string{"voice", "im"}, maxAgents: 4, ring: true,
		actions: append(slices.Clone(actions), "arrive", "arrive", "arrive", "answer", "answer", "step", "step", "advance")},
	{name: "chat", media: []string{"im"}, maxAgents: 8, minIM: 1, actions: actions},
}

// uniform draws 16 unbiased bits, for choices that should not lean to
// the first of a list the way rapid's integers do (they favour small
// values); it still shrinks to 0.
var uniform = rapid.Custom(func(t *rapid.T) uint32 {
	var v uint32
	for range 16 {
		v <<= 1
		if rapid.Bool().Draw(t, "bit") {
			v |= 1
		}
	}
	return v
})

// queueSpec is one generated queue.
type queueSpec struct {
	name, media, strategy, number string
	minLevel, priority            int
	aging                         string // YAML flow mapping or ""
	overflow                      []string
}

// profileCenter generates the YAML of a random center and the ring timeout.
func profileCenter(t *rapid.T, pr *profile) (string, time.Duration) {
	nq := rapid.IntRange(1, 4).Draw(t, "queues")
	qs := make([]queueSpec, nq)
	for i := range qs {
		q := &qs[i]
		q.name = fmt.Sprintf("q%d", i)
		q.media = rapid.SampledFrom(pr.media).Draw(t, q.name+".media")
		q.strategy = rapid.SampledFrom(strategies).Draw(t, q.name+".strategy")
		q.minLevel = rapid.IntRange(0, 4).Draw(t, q.name+".min_level") // 0: left out
		if rapid.IntRange(0, 3).Draw(t, q.name+".has_priority") == 0 {
			q.priority = rapid.IntRange(-2, 3).Draw(t, q.name+".priority")
		}
		if rapid.Bool().Draw(t, q.name+".has_number") {
			q.number = fmt.Sprintf("80%d", i)
		}
		if rapid.IntRange(0, 2).Draw(t, q.name+".has_aging") == 0 {
			step := rapid.IntRange(1, 3).Draw(t, q.name+".aging.step")
			q.aging = fmt.Sprintf("{every: %ds, step: %d, max: %d}",
				rapid.IntRange(1, 60).Draw(t, q.name+".aging.every"), step,
				rapid.IntRange(step, 10).Draw(t, q.name+".aging.max"))
		}
	}
	skillPool := []string{"extra"}
	for _, q := range qs {
		skillPool = append(skillPool, q.name)
	}
	for i := range qs {
		q := &qs[i]
		var sameMedia []string
		for _, o := range qs {
			if o.name != q.name && o.media == q.media {
				sameMedia = append(sameMedia, o.name)
			}
		}
		after := 0
		for k := range rapid.IntRange(0, 2).Draw(t, q.name+".overflows") {
			p := fmt.Sprintf("%s.overflow[%d]", q.name, k)
			after += rapid.IntRange(1, 90).Draw(t, p+".after")
			var action string
			switch kind := rapid.IntRange(0, 2).Draw(t, p+".kind"); {
			case kind == 2 && len(sameMedia) > 0:
				action = "to_queue: " + rapid.SampledFrom(sameMedia).Draw(t, p+".to_queue")
			case kind >= 1:
				action = "add_skill: " + rapid.SampledFrom(skillPool).Draw(t, p+".add_skill")
				if rapid.Bool().Draw(t, p+".with_level") {
					action += fmt.Sprintf(", min_level: %d", rapid.IntRange(1, 5).Draw(t, p+".min_level"))
				}
			default:
				action = fmt.Sprintf("min_level: %d", rapid.IntRange(1, 5).Draw(t, p+".min_level"))
			}
			q.overflow = append(q.overflow, fmt.Sprintf("{after: %ds, %s}", after, action))
		}
	}

	var b strings.Builder
	b.WriteString("center: {name: property}\nqueues:\n")
	for _, q := range qs {
		fmt.Fprintf(&b, "  - name: %s\n    media: %s\n    strategy: %s\n", q.name, q.media, q.strategy)
		if q.minLevel > 0 {
			fmt.Fprintf(&b, "    min_level: %d\n", q.minLevel)
		}
		if q.priority != 0 {
			fmt.Fprintf(&b, "    priority: %d\n", q.priority)
		}
		if q.number != "" {
			fmt.Fprintf(&b, "    number: %q\n", q.number)
		}
		if q.aging != "" {
			fmt.Fprintf(&b, "    aging: %s\n", q.aging)
		}
		if len(q.overflow) > 0 {
			fmt.Fprintf(&b, "    overflow: [%s]\n", strings.Join(q.overflow, ", "))
		}
	}
	if rapid.IntRange(0, 2).Draw(t, "has_route_point") == 0 {
		fmt.Fprintf(&b, "route_points:\n  - {number: \"900\", queue: %s, timeout: %ds}\n",
			rapid.SampledFrom(skillPool[1:]).Draw(t, "route_point.queue"),
			rapid.IntRange(1, 30).Draw(t, "route_point.timeout"))
	}
	b.WriteString("agents:\n")
	for i := range rapid.IntRange(1, pr.maxAgents).Draw(t, "agents") {
		p := fmt.Sprintf("a%d", i)
		fmt.Fprintf(&b, "  - id: %s\n    number: \"2%02d\"\n", p, i)
		var skills []string
		for _, sk := range skillPool {
			if rapid.IntRange(0, 2).Draw(t, p+".has_"+sk) > 0 {
				skills = append(skills, fmt.Sprintf("%s: %d", sk, rapid.IntRange(1, 6).Draw(t, p+"."+sk)))
			}
		}
		fmt.Fprintf(&b, "    skills: {%s}\n", strings.Join(skills, ", "))
		voice := 1
		if rapid.IntRange(0, 5).Draw(t, p+".no_voice") == 0 {
			voice = 0
		}
		fmt.Fprintf(&b, "    capacity: {voice: %d, im: %d}\n", voice, rapid.IntRange(pr.minIM, 3).Draw(t, p+".im"))
		switch rapid.IntRange(0, 3).Draw(t, p+".block") {
		case 1:
			b.WriteString("    block: {voice: [im]}\n")
		case 2:
			b.WriteString("    block: {im: [voice]}\n")
		}
		if rapid.Bool().Draw(t, p+".has_wrap_up") {
			fmt.Fprintf(&b, "    wrap_up: %ds\n", rapid.IntRange(1, 60).Draw(t, p+".wrap_up"))
		}
		switch rapid.IntRange(0, 3).Draw(t, p+".clients") {
		case 1:
			b.WriteString("    clients: {pidgin: \"*\"}\n")
		case 2:
			b.WriteString("    clients: {pidgin: \">=2.10\", gajim: \"<1.5\"}\n")
		}
		if rapid.IntRange(0, 2).Draw(t, p+".weighted") == 0 {
			fmt.Fprintf(&b, "    weight: %d\n", rapid.IntRange(1, 4).Draw(t, p+".weight"))
		}
		if rapid.IntRange(0, 3).Draw(t, p+".not_ready") == 0 {
			b.WriteString("    ready: false\n")
		}
	}
	ring := time.Duration(0)
	if pr.ring || rapid.Bool().Draw(t, "has_ring_timeout") {
		ring = time.Duration(rapid.IntRange(1, 40).Draw(t, "ring_timeout")) * time.Second
	}
	return b.String(), ring
}

// harness is one run: the server under test, its clock, and what the
// test has seen of it.
type harness struct {
	t     *rapid.T
	pr    *profile
	s     *Server
	clk   *clock.Virtual
	ids   []pbx.ConnID        // every ConnID the test was given, in order
	made  map[pbx.ConnID]bool // the same, as a set
	final map[pbx.ConnID]int  // final events (released for good, abandoned) per ConnID
	// events counts every event; violations collects what the subscriber
	// found wrong, reported after the action.
	events     int
	violations []string
	unregister []func()
}

func (h *harness) violate(format string, args ...any) {
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

func newHarness(t *rapid.T, pr *profile) *harness {
	yaml, ring := profileCenter(t, pr)
	cfg, err := config.Parse("property.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("generated configuration does not parse: %v\n%s", err, yaml)
	}
	clk := clock.NewVirtual(clock.Epoch)
	s, err := New(cfg, Config{Clock: clk, RingTimeout: ring, Seed: rapid.Uint64().Draw(t, "seed"),
		RecycleContacts: rapid.Bool().Draw(t, "recycle")})
	if err != nil {
		t.Fatalf("New: %v\n%s", err, yaml)
	}
	h := &harness{t: t, pr: pr, s: s, clk: clk, made: map[pbx.ConnID]bool{}, final: map[pbx.ConnID]int{}}
	s.Subscribe(h.onEvent)
	t.Logf("center (ring timeout %v):\n%s", ring, yaml)
	return h
}

// onEvent checks what only the moment of an event shows: capacity and
// cross-media rules when an offer or a dial is made, FIFO order when a
// queued contact is taken, and that nothing is finished twice.
func (h *harness) onEvent(e Event) {
	h.events++
	s := h.s
	if e.ConnID != 0 {
		// Arrive and MakeCall return the ID after the first events of a
		// new contact; only the newest contact may be unknown yet.
		if !h.made[e.ConnID] && e.ConnID != s.nextConn-1 {
			h.violate("%v for ConnID %v that nobody was given", e.Type, e.ConnID)
		}
		if h.final[e.ConnID] > 0 {
			h.violate("%v for ConnID %v after its final event", e.Type, e.ConnID)
		}
	}
	switch e.Type {
	case EventAbandoned:
		h.final[e.ConnID]++
	case EventReleased:
		// A release with a reason is the agent's leg only: a transfer, a
		// refused or unanswered offer. The interaction goes on.
		if e.Reason == "" {
			h.final[e.ConnID]++
		}
	case EventRinging, EventDialing:
		c, a := s.contacts.get(e.ConnID), s.agentByID[e.AgentID]
		if c == nil || a == nil || c.agent != a {
			h.violate("%v %v: contact %v is not with agent %q", e.Type, e.ConnID, c != nil, e.AgentID)
			return
		}
		m := c.Media
		if a.load[m] > a.capacity[m] {
			h.violate("%v %v: agent %s over %s capacity: %d > %d", e.Type, e.ConnID, a.ID, m, a.load[m], a.capacity[m])
		}
		var blocked uint8
		for i := range a.load {
			n := int(a.load[i])
			if pbx.Media(i) == m {
				n-- // without the interaction just offered
			}
			if n > 0 {
				blocked |= a.blockOf[i]
			}
		}
		if blocked&(1<<m) != 0 {
			h.violate("%v %v: agent %s offered %s while blocked (load %v)", e.Type, e.ConnID, a.ID, m, a.load)
		}
	case EventDiverted:
		if e.AgentID != "" {
			h.checkTaken(e)
		}
	}
}

// checkTaken runs when a queued contact is taken off its queue for an
// agent: the agent is not yet charged with it. The agent must be eligible
// for it, and no contact still waiting that the agent could take may come
// before it (higher effective priority, or the same and earlier).
func (h *harness) checkTaken(e Event) {
	s := h.s
	c, a := s.contacts.get(e.ConnID), s.agentByID[e.AgentID]
	if c == nil || a == nil || c.queue == nil {
		h.violate("diverted %v to %q: no such contact, agent or queue", e.ConnID, e.AgentID)
		return
	}
	if c.bucket != nil {
		h.violate("diverted %v to %s: still in a bucket", c.ID, a.ID)
	}
	if _, ok := s.eligible(a, c, c.queue); !ok {
		h.violate("diverted %v (%s, stage %d) to %s who is not eligible (state %v, load %v)",
			c.ID, c.queue.name, c.stage, a.ID, a.state, a.load)
		return
	}
	now := s.clock.Now()
	p := c.queue.effectivePriority(c, now)
	for _, q := range s.queues {
		for _, b := range q.buckets {
			for d := b.head; d != nil; d = d.next {
				if _, ok := s.eligible(a, d, q); !ok {
					continue
				}
				dp := q.effectivePriority(d, now)
				if dp > p || dp == p && before(d, c) {
					h.violate("%s took %v (%s, priority %d, arrived %v, seq %d) before %v (%s, priority %d, arrived %v, seq %d)",
						a.ID, c.ID, c.queue.name, p, c.arrived.Sub(clock.Epoch), c.seq,
						d.ID, q.name, dp, d.arrived.Sub(clock.Epoch), d.seq)
				}
			}
		}
	}
}

// live lists the live contacts in ID order, those with state in states
// when any are given.
func (h *harness) live(states ...pbx.State) []pbx.ConnID {
	var out []pbx.ConnID
	for id, c := range h.s.contacts.all() {
		if len(states) == 0 || slices.Contains(states, c.State) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// pickConn draws a ConnID: mostly one of preferred, sometimes any the test
// knows (finished ones make requests fail), rarely one nobody made.
func (h *harness) pickConn(label string, preferred []pbx.ConnID) pbx.ConnID {
	switch r := rapid.IntRange(0, 19).Draw(h.t, label+".from"); {
	case r < 16 && len(preferred) > 0:
		return rapid.SampledFrom(preferred).Draw(h.t, label)
	case r < 19 && len(h.ids) > 0:
		return rapid.SampledFrom(h.ids).Draw(h.t, label)
	}
	return 1 << 40
}

func (h *harness) pickAgent(label string) string {
	ids := make([]string, 0, len(h.s.agents)+1)
	for _, a := range h.s.agents {
		ids = append(ids, a.ID)
	}
	if rapid.IntRange(0, 19).Draw(h.t, label+".bogus") == 0 {
		return "nobody"
	}
	return rapid.SampledFrom(ids).Draw(h.t, label)
}

// pickTarget draws a routing target: a queue by name or number, an agent
// by ID or extension, or nothing known.
func (h *harness) pickTarget(label string) string {
	var targets []string
	for _, q := range h.s.queues {
		targets = append(targets, q.name)
		if q.number != "" {
			targets = append(targets, q.number)
		}
	}
	for _, a := range h.s.agents {
		targets = append(targets, a.ID, a.HomeDN)
	}
	if _, ok := h.s.routePoints["900"]; ok {
		targets = append(targets, "900")
	}
	targets = append(targets, "nowhere")
	return rapid.SampledFrom(targets).Draw(h.t, label)
}

// pickArrival draws where a customer calls or writes: mostly a queue, by
// name or number, else the route point, an agent's extension, or a number
// nobody has.
func (h *harness) pickArrival(label string) string {
	s := h.s
	switch r := rapid.IntRange(0, 19).Draw(h.t, label+".kind"); {
	case r < 14:
		q := s.queues[rapid.IntRange(0, len(s.queues)-1).Draw(h.t, label+".queue")]
		if q.number != "" && rapid.Bool().Draw(h.t, label+".by_number") {
			return q.number
		}
		return q.name
	case r < 16 && len(s.routePoints) > 0:
		return "900"
	case r < 19:
		return s.agents[rapid.IntRange(0, len(s.agents)-1).Draw(h.t, label+".agent")].HomeDN
	}
	return "nowhere"
}

func (h *harness) track(id pbx.ConnID) {
	if id == 0 {
		return
	}
	if h.made[id] {
		h.t.Fatalf("ConnID %v handed out twice", id)
	}
	h.made[id] = true
	h.ids = append(h.ids, id)
}

// request runs a request that may fail. A failure must change nothing
// observable: no event, the same snapshot.
func (h *harness) request(what string, do func() error) {
	before, events := h.snapshot(), h.events
	err := do()
	h.t.Logf("%s: %v", what, err)
	if err == nil {
		seen.succeeded++
	} else {
		seen.failed++
	}
	if err == nil {
		return
	}
	if pbx.KindOf(err) == pbx.Internal {
		h.t.Fatalf("%s: error of kind internal: %v", what, err)
	}
	if h.events != events {
		h.t.Fatalf("%s failed (%v) but published %d events", what, err, h.events-events)
	}
	if after := h.snapshot(); after != before {
		h.t.Fatalf("%s failed (%v) but changed the center:\n%s", what, err, diffLines(before, after))
	}
}

// query runs a read-only request: it must change nothing at all.
func (h *harness) query(what string, do func()) {
	before, events := h.snapshot(), h.events
	do()
	if h.events != events {
		h.t.Fatalf("%s published %d events", what, h.events-events)
	}
	if after := h.snapshot(); after != before {
		h.t.Fatalf("%s changed the center:\n%s", what, diffLines(before, after))
	}
}

// snapshot renders everything a client could observe, and the routing
// state behind it, deterministically.
func (h *harness) snapshot() string {
	s := h.s
	var b strings.Builder
	fmt.Fprintf(&b, "now %v next %v epoch %d\n", s.clock.Now().Sub(clock.Epoch), s.nextConn, s.epoch)
	for _, id := range h.live() {
		c := s.contacts.get(id)
		agent, queue := "", ""
		if c.agent != nil {
			agent = c.agent.ID
		}
		if c.queue != nil {
			queue = c.queue.name
		}
		fmt.Fprintf(&b, "contact %v %v agent=%s queue=%s bucket=%t rp=%t prio=%d stage=%d counted=%t/%d answered=%t waited=%t data=%v\n",
			id, c.State, agent, queue, c.bucket != nil, c.rp != nil, c.Priority, c.stage, c.counted, c.epoch, c.answered, c.waited, c.UserData)
	}
	for _, a := range s.agents {
		fmt.Fprintf(&b, "agent %s dn=%s %v reason=%q pending=%t/%q load=%v offered=%d active=%d avail=%t handled=%d idle=%v\n",
			a.ID, a.DN, a.state, a.reason, a.pendingNR, a.pendingWhy, a.load, a.offered, a.active, a.inAvailable, a.handled, a.idleSince.Sub(clock.Epoch))
	}
	for _, q := range s.queues {
		fmt.Fprintf(&b, "queue %s waiting=%d rr=%d stats=%+v order=", q.name, q.waiting, q.rrCursor, q.stats)
		for _, bk := range q.buckets {
			fmt.Fprintf(&b, "[%d:", bk.priority)
			for c := bk.head; c != nil; c = c.next {
				fmt.Fprintf(&b, " %v", c.ID)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	for k, list := range s.avail {
		fmt.Fprintf(&b, "avail %s:", s.skillNames[k])
		for _, a := range list {
			b.WriteString(" " + a.ID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func diffLines(before, after string) string {
	x, y := strings.Split(before, "\n"), strings.Split(after, "\n")
	var b strings.Builder
	for i := range max(len(x), len(y)) {
		var l, r string
		if i < len(x) {
			l = x[i]
		}
		if i < len(y) {
			r = y[i]
		}
		if l != r {
			fmt.Fprintf(&b, "- %s\n+ %s\n", l, r)
		}
	}
	return b.String()
}

// step draws and runs one action.
func (h *harness) step() {
	t, s := h.t, h.s
	switch kind := h.pr.actions[uniform.Draw(t, "action")%uint32(len(h.pr.actions))]; kind {
	case "arrive":
		target := h.pickArrival("arrive.dnis")
		media := pbx.Voice
		if dn, ok := s.dir.Lookup(target); ok && dn.Type == pbx.ACDQueue {
			media = s.queueByName[dn.Owner].media
		} else if q := s.queueByName[target]; q != nil {
			media = q.media
		} else if rp := s.routePoints[target]; rp != nil {
			media = rp.queue.media
		} else if rapid.Bool().Draw(t, "arrive.im") {
			media = pbx.IM
		}
		if rapid.IntRange(0, 9).Draw(t, "arrive.wrong_media") == 0 {
			media = rapid.SampledFrom([]pbx.Media{pbx.Voice, pbx.VoIP, pbx.IM}).Draw(t, "arrive.media")
		}
		in := &Arrival{Media: media, ANI: fmt.Sprintf("cust-%d", len(h.ids)), DNIS: target}
		if rapid.IntRange(0, 2).Draw(t, "arrive.has_priority") == 0 {
			in.Priority = rapid.IntRange(-1, 4).Draw(t, "arrive.priority")
		}
		if media == pbx.IM && rapid.Bool().Draw(t, "arrive.has_client") {
			in.ClientFamily = rapid.SampledFrom([]string{"pidgin", "gajim"}).Draw(t, "arrive.client")
			in.ClientVersion = rapid.SampledFrom([]string{"", "1.2", "2.9", "2.14"}).Draw(t, "arrive.version")
		}
		if rapid.Bool().Draw(t, "arrive.has_data") {
			in.UserData = pbx.UserData{{Key: "account", Value: fmt.Sprint(len(h.ids))}}
		}
		what := fmt.Sprintf("arrive %v at %s prio %d client %s/%s", media, target, in.Priority, in.ClientFamily, in.ClientVersion)
		h.request(what, func() error {
			id, err := s.Arrive(in)
			if err == nil {
				h.track(id)
			} else if id != 0 {
				t.Fatalf("%s failed (%v) but returned ConnID %v", what, err, id)
			}
			return err
		})
	case "answer":
		id := h.pickConn("answer.id", h.live(pbx.Ringing))
		h.request(fmt.Sprintf("answer %v", id), func() error { return s.AnswerCall(id) })
	case "reject":
		id := h.pickConn("reject.id", h.live(pbx.Ringing))
		reason := rapid.SampledFrom([]string{"declined", "busy_elsewhere"}).Draw(t, "reject.reason")
		h.request(fmt.Sprintf("reject %v %s", id, reason), func() error { return s.RejectCall(id, reason) })
	case "release":
		id := h.pickConn("release.id", h.live())
		h.request(fmt.Sprintf("release %v", id), func() error { return s.ReleaseCall(id) })
	case "hold":
		id := h.pickConn("hold.id", h.live(pbx.Established))
		h.request(fmt.Sprintf("hold %v", id), func() error { return s.HoldCall(id) })
	case "retrieve":
		id := h.pickConn("retrieve.id", h.live(pbx.Held))
		h.request(fmt.Sprintf("retrieve %v", id), func() error { return s.RetrieveCall(id) })
	case "transfer":
		id := h.pickConn("transfer.id", h.live(pbx.Established, pbx.Held))
		target := h.pickTarget("transfer.target")
		h.request(fmt.Sprintf("transfer %v to %s", id, target), func() error { return s.SingleStepTransfer(id, target) })
	case "ready":
		id := h.pickAgent("ready.agent")
		h.request("ready "+id, func() error { return s.AgentReady(id) })
	case "not_ready":
		id := h.pickAgent("not_ready.agent")
		reason := rapid.SampledFrom([]string{"break", "lunch"}).Draw(t, "not_ready.reason")
		h.request("not ready "+id+" "+reason, func() error { return s.AgentNotReady(id, reason) })
	case "logout":
		id := h.pickAgent("logout.agent")
		h.request("logout "+id, func() error { return s.AgentLogout(id) })
	case "login":
		id := h.pickAgent("login.agent")
		dn := ""
		if rapid.IntRange(0, 4).Draw(t, "login.other_dn") == 0 {
			dn = s.agents[rapid.IntRange(0, len(s.agents)-1).Draw(t, "login.dn")].HomeDN
		}
		h.request("login "+id+" on "+dn, func() error { return s.AgentLogin(id, dn) })
	case "make_call":
		id := h.pickAgent("make_call.agent")
		dest := rapid.SampledFrom([]string{"+15550100", "+15550199", ""}).Draw(t, "make_call.dest")
		media := rapid.SampledFrom([]pbx.Media{pbx.Voice, pbx.IM}).Draw(t, "make_call.media")
		what := fmt.Sprintf("make call %s to %q %v", id, dest, media)
		h.request(what, func() error {
			conn, err := s.MakeCall(id, dest, media)
			if err == nil {
				h.track(conn)
			} else if conn != 0 {
				t.Fatalf("%s failed (%v) but returned ConnID %v", what, err, conn)
			}
			return err
		})
	case "attach":
		id := h.pickConn("attach.id", h.live())
		key := rapid.SampledFrom([]string{"account", "reason", ""}).Draw(t, "attach.key")
		data := pbx.UserData{{Key: "note", Value: "x"}, {Key: key, Value: fmt.Sprint(h.events)}}
		h.request(fmt.Sprintf("attach %v %q", id, key), func() error { return s.AttachUserData(id, data) })
	case "advance":
		d := time.Duration(rapid.IntRange(0, 120).Draw(t, "advance.seconds")) * time.Second
		t.Logf("advance %v", d)
		h.clk.Advance(d)
	case "step":
		t.Logf("step: %t", h.clk.Step())
	case "reset_stats":
		t.Logf("reset stats")
		s.ResetStats()
	case "router":
		if len(h.unregister) > 0 && rapid.Bool().Draw(t, "router.unregister") {
			t.Logf("unregister router")
			h.unregister[len(h.unregister)-1]()
			h.unregister = h.unregister[:len(h.unregister)-1]
			return
		}
		number := rapid.SampledFrom([]string{"900", "901"}).Draw(t, "router.number")
		h.request("register router "+number, func() error {
			un, err := s.RegisterRouter(number)
			if err == nil {
				h.unregister = append(h.unregister, un)
			}
			return err
		})
	case "route_call":
		id := h.pickConn("route_call.id", h.live(pbx.Routing))
		target := h.pickTarget("route_call.target")
		h.request(fmt.Sprintf("route call %v to %s", id, target), func() error { return s.RouteCall(id, target) })
	case "query":
		id := h.pickConn("query.id", h.live(pbx.Queued))
		h.query("queries", func() {
			for _, st := range s.Status() {
				q := s.queueByName[st.Name]
				if st.Waiting != q.waiting || st.Ready+st.Busy > st.LoggedIn {
					t.Fatalf("status of %s: %+v (waiting %d)", st.Name, st, q.waiting)
				}
				if _, err := s.EstimatedWait(st.Name); err != nil {
					t.Fatalf("ewt %s: %v", st.Name, err)
				}
				if _, err := s.QueueStats(st.Name); err != nil {
					t.Fatalf("stats %s: %v", st.Name, err)
				}
			}
			pos, _, err := s.Position(id)
			if c := s.contacts.get(id); c != nil && c.State == pbx.Queued {
				if err != nil || pos < 1 || pos > c.queue.waiting {
					t.Fatalf("position of %v: %d, %v (waiting %d)", id, pos, err, c.queue.waiting)
				}
			} else if err == nil {
				t.Fatalf("position of %v, which is not queued: %d", id, pos)
			}
			logged, busy, talk := s.AgentTotals()
			if logged < 0 || busy < 0 || talk < 0 {
				t.Fatalf("agent totals: %v %v %v", logged, busy, talk)
			}
		})
	default:
		t.Fatalf("unknown action %q", kind)
	}
}

// check verifies every invariant; it returns the first violations found.
func (h *harness) check() {
	var errs []string
	errs = append(errs, h.violations...)
	h.violations = nil
	errs = append(errs, h.checkAgents()...)
	errs = append(errs, h.checkPlacement()...)
	errs = append(errs, h.checkQueues()...)
	errs = append(errs, h.checkStats()...)
	errs = append(errs, h.checkFinal()...)
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = errs[:10]
		}
		h.t.Fatalf("invariants broken at %v:\n  %s\n%s", h.s.clock.Now().Sub(clock.Epoch), strings.Join(errs, "\n  "), h.snapshot())
	}
}

// checkAgents: capacity and load (1), and state against work and the
// availability index (5).
func (h *harness) checkAgents() []string {
	s := h.s
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	type work struct {
		load            [pbx.NumMedia]int
		offered, active int
	}
	byAgent := map[*Agent]*work{}
	for _, a := range s.agents {
		byAgent[a] = &work{}
	}
	for _, c := range s.contacts.all() {
		if c.agent == nil {
			continue
		}
		w := byAgent[c.agent]
		if w == nil {
			bad("contact %v is with an agent the server does not know", c.ID)
			continue
		}
		switch c.State {
		case pbx.Ringing:
			if c.outbound { // an agent's own call counts as active at once
				w.active++
			} else {
				w.offered++
			}
		case pbx.Established, pbx.Held:
			w.active++
		default:
			bad("contact %v is %v but still with agent %s", c.ID, c.State, c.agent.ID)
			continue
		}
		w.load[c.Media]++
	}
	for _, a := range s.agents {
		w := byAgent[a]
		for m := range pbx.Media(pbx.NumMedia) {
			if int(a.load[m]) != w.load[m] {
				bad("agent %s: load[%v] = %d, but %d live contacts", a.ID, m, a.load[m], w.load[m])
			}
			if w.load[m] > int(a.capacity[m]) {
				bad("agent %s: %d %v contacts over capacity %d", a.ID, w.load[m], m, a.capacity[m])
			}
		}
		if a.offered != w.offered || a.active != w.active {
			bad("agent %s: offered %d active %d, but %d ringing and %d connected", a.ID, a.offered, a.active, w.offered, w.active)
		}
		switch a.state {
		case Reserved:
			if a.offered == 0 || a.active != 0 {
				bad("agent %s reserved with offered %d active %d", a.ID, a.offered, a.active)
			}
		case Busy:
			if a.offered+a.active == 0 {
				bad("agent %s busy with nothing offered or active", a.ID)
			}
		case Ready, NotReady, LoggedOut, AfterCallWork:
			if a.offered+a.active != 0 {
				bad("agent %s %v with offered %d active %d", a.ID, a.state, a.offered, a.active)
			}
		default:
			bad("agent %s in unknown state %v", a.ID, a.state)
		}
		// A not-ready request waits for the work in hand (Reserved, Busy)
		// or the wrap-up after it (AfterCallWork); anywhere else it would
		// silently keep the agent from work.
		if a.pendingNR && a.state != Reserved && a.state != Busy && a.state != AfterCallWork {
			bad("agent %s is %v with a pending not-ready (%q)", a.ID, a.state, a.pendingWhy)
		}
		if a.state == AfterCallWork && a.wrapTimer == nil {
			bad("agent %s in after-call work with no wrap-up timer", a.ID)
		}
		// Time: talking is part of being busy, which is part of being
		// logged in.
		now := s.clock.Now()
		logged := a.loggedTime
		if a.state != LoggedOut {
			logged += now.Sub(a.loginSince)
		}
		if talk, busy := a.talkTime(now), a.busyTime(now); talk < 0 || talk > busy || busy > logged {
			bad("agent %s: talk %v, busy %v, logged in %v", a.ID, talk, busy, logged)
		}
		if a.inAvailable != a.available() {
			bad("agent %s: inAvailable %t but available() %t", a.ID, a.inAvailable, a.available())
		}
		for i, k := range a.skills {
			n := 0
			for _, b := range s.avail[k] {
				if b == a {
					n++
				}
			}
			want := 0
			if a.inAvailable {
				want = 1
			}
			if n != want {
				bad("agent %s listed %d times as available for %s (inAvailable %t)", a.ID, n, s.skillNames[k], a.inAvailable)
			}
			if a.inAvailable && (a.availPos[i] < 0 || int(a.availPos[i]) >= len(s.avail[k]) || s.avail[k][a.availPos[i]] != a) {
				bad("agent %s: availPos for %s is %d, wrong", a.ID, s.skillNames[k], a.availPos[i])
			}
		}
	}
	for k, list := range s.avail {
		for _, a := range list {
			if a.levelOf(k) == 0 || !a.inAvailable {
				bad("agent %s listed available for %s (level %d, inAvailable %t)", a.ID, s.skillNames[k], a.levelOf(k), a.inAvailable)
			}
		}
	}
	return errs
}

// checkPlacement: every live contact is in exactly one place (2), with the
// timers that move it on.
func (h *harness) checkPlacement() []string {
	s := h.s
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	inBucket := map[*Contact]int{}
	for _, q := range s.queues {
		n := 0
		for _, b := range q.buckets {
			var prev *Contact
			for c := b.head; c != nil; c = c.next {
				if c.prev != prev {
					bad("queue %s: broken links at %v", q.name, c.ID)
				}
				inBucket[c]++
				n++
				if c.Media != q.media {
					bad("%v contact %v in %v queue %s", c.Media, c.ID, q.media, q.name)
				}
				if c.bucket != b || c.queue != q {
					bad("contact %v in a bucket of %s but its bucket/queue say otherwise", c.ID, q.name)
				}
				if s.contacts.get(c.ID) != c {
					bad("contact %v in queue %s is not live", c.ID, q.name)
				}
				prev = c
				if n > s.contacts.len()+1 {
					bad("queue %s: cycle in a bucket", q.name)
					return errs
				}
			}
			if b.tail != prev {
				bad("queue %s: bucket %d tail is wrong", q.name, b.priority)
			}
		}
		if q.waiting != n {
			bad("queue %s: waiting %d but %d in its buckets", q.name, q.waiting, n)
		}
	}
	for c, n := range inBucket {
		if n > 1 {
			bad("contact %v is in %d bucket places", c.ID, n)
		}
	}
	for id, c := range s.contacts.all() {
		if c.ID != id {
			bad("contact %v filed under %v", c.ID, id)
		}
		if !h.made[id] {
			bad("live contact %v was never handed out", id)
		}
		switch c.State {
		case pbx.Queued:
			if inBucket[c] != 1 || c.agent != nil || c.rp != nil {
				bad("queued %v: in buckets %d, agent %t, route point %t", id, inBucket[c], c.agent != nil, c.rp != nil)
			}
			if c.queue != nil && c.stage < len(c.queue.overflow) && c.overflowT == nil {
				bad("queued %v in %s at overflow stage %d of %d with no overflow timer", id, c.queue.name, c.stage, len(c.queue.overflow))
			}
		case pbx.Ringing, pbx.Established, pbx.Held:
			if inBucket[c] != 0 || c.agent == nil || c.rp != nil {
				bad("%v %v: in buckets %d, agent %t, route point %t", c.State, id, inBucket[c], c.agent != nil, c.rp != nil)
			}
		case pbx.Routing:
			if inBucket[c] != 0 || c.agent != nil || c.rp == nil {
				bad("routing %v: in buckets %d, agent %t, route point %t", id, inBucket[c], c.agent != nil, c.rp != nil)
			}
			if c.routeT == nil {
				bad("routing %v with no route timer", id)
			}
		default:
			bad("live contact %v is %v", id, c.State)
		}
		if c.State != pbx.Queued && c.overflowT != nil {
			bad("%v %v has an overflow timer", c.State, id)
		}
		wantRing := c.State == pbx.Ringing && !c.outbound && s.ringTimeout > 0
		if (c.ringT != nil) != wantRing {
			bad("%v %v (outbound %t): ring timer %t", c.State, id, c.outbound, c.ringT != nil)
		}
	}
	return errs
}

// checkQueues: FIFO order within each bucket, buckets by priority, and
// no contact waiting while an agent who could take it is free (3).
func (h *harness) checkQueues() []string {
	s := h.s
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, q := range s.queues {
		for i, b := range q.buckets {
			if i > 0 && q.buckets[i-1].priority <= b.priority {
				bad("queue %s: bucket %d after bucket %d", q.name, b.priority, q.buckets[i-1].priority)
			}
			for c := b.head; c != nil; c = c.next {
				if p := q.priority + c.Priority; p != b.priority {
					bad("queue %s: contact %v of priority %d in bucket %d", q.name, c.ID, p, b.priority)
				}
				if c.next != nil && !before(c, c.next) {
					bad("queue %s: %v (arrived %v seq %d) ahead of %v (arrived %v seq %d)", q.name,
						c.ID, c.arrived.Sub(clock.Epoch), c.seq, c.next.ID, c.next.arrived.Sub(clock.Epoch), c.next.seq)
				}
				for _, a := range s.agents {
					if _, ok := s.eligible(a, c, q); ok {
						bad("queue %s: %v waits while agent %s (%v, load %v) could take it", q.name, c.ID, a.ID, a.state, a.load)
					}
				}
			}
		}
	}
	return errs
}

// checkStats: Offered = Answered + Abandoned + still counted and
// unanswered, per queue (4).
func (h *harness) checkStats() []string {
	s := h.s
	var errs []string
	open := map[*queue]int64{}
	for _, c := range s.contacts.all() {
		if c.counted && c.epoch == s.epoch && !c.answered {
			if c.statQueue == nil {
				errs = append(errs, fmt.Sprintf("contact %v counted without a queue", c.ID))
				continue
			}
			open[c.statQueue]++
		}
	}
	for _, q := range s.queues {
		st := q.stats
		if st.Offered != st.Answered+st.Abandoned+open[q] {
			errs = append(errs, fmt.Sprintf("queue %s: offered %d != answered %d + abandoned %d + open %d",
				q.name, st.Offered, st.Answered, st.Abandoned, open[q]))
		}
		if st.Waited > st.Offered || st.AnsweredInSL > st.Answered || st.Handled > st.Answered {
			errs = append(errs, fmt.Sprintf("queue %s: inconsistent stats %+v", q.name, st))
		}
		if st.WaitAnswered < 0 || st.WaitAbandoned < 0 || st.HandleTime < 0 {
			errs = append(errs, fmt.Sprintf("queue %s: negative times %+v", q.name, st))
		}
	}
	return errs
}

// checkFinal: every ConnID handed out is live or has had exactly one
// final event, never both (2).
func (h *harness) checkFinal() []string {
	var errs []string
	for _, id := range h.ids {
		live, n := h.s.contacts.get(id) != nil, h.final[id]
		switch {
		case live && n > 0:
			errs = append(errs, fmt.Sprintf("%v is live after %d final events", id, n))
		case !live && n != 1:
			errs = append(errs, fmt.Sprintf("%v is gone after %d final events", id, n))
		}
	}
	for id := range h.final {
		if !h.made[id] {
			errs = append(errs, fmt.Sprintf("final event for %v, which nobody made", id))
		}
	}
	return errs
}

// coverage tallies what the runs of one profile exercised, so that a
// generator change that makes the traffic degenerate shows in -v output.
type coverage struct {
	runs, steps, succeeded, failed, contacts, events int
	stepsRinging, stepsQueued, stepsTalking          int
}

var seen coverage

// batches is how many rapid.Check rounds (each -rapid.checks runs, 100
// by default, a fifth with -short) every profile gets.
const batches = 4

// runProfile is one property run: a center and up to maxSteps actions.
func runProfile(t *rapid.T, pr *profile, maxSteps int) {
	h := newHarness(t, pr)
	h.check()
	lo := min(20, maxSteps)
	n := lo + int(uniform.Draw(t, "steps"))%(maxSteps-lo+1)
	for range n {
		h.step()
		h.check()
		seen.steps++
		for _, c := range h.s.contacts.all() {
			switch c.State {
			case pbx.Ringing:
				seen.stepsRinging++
			case pbx.Queued:
				seen.stepsQueued++
			case pbx.Established, pbx.Held:
				seen.stepsTalking++
			}
		}
	}
	// Whatever is left, time alone must not break anything.
	h.clk.Advance(time.Hour)
	h.check()
	seen.runs++
	seen.contacts += len(h.ids)
	seen.events += h.events
}

// TestPropertyRouting drives random centers with random traffic, agent
// requests and time, checking the routing invariants after every step.
func TestPropertyRouting(t *testing.T) {
	for i := range profiles {
		pr := &profiles[i]
		t.Run(pr.name, func(t *testing.T) {
			seen = coverage{}
			for range batches {
				rapid.Check(t, func(t *rapid.T) { runProfile(t, pr, maxSteps) })
			}
			t.Logf("%d runs, %d steps, requests %d ok / %d refused, %d interactions, %d events; contact-steps ringing %d, queued %d, connected %d",
				seen.runs, seen.steps, seen.succeeded, seen.failed, seen.contacts, seen.events,
				seen.stepsRinging, seen.stepsQueued, seen.stepsTalking)
		})
	}
}

// Regressions: the cases the property tests found, as plain tests.

// wantRinging fails unless contact id rings at agent.
func wantRinging(t *testing.T, s *Server, id pbx.ConnID, agent string) {
	t.Helper()
	c := s.Contact(id)
	if c == nil || c.State != pbx.Ringing || c.Agent() == nil || c.Agent().ID != agent {
		st := "gone"
		if c != nil {
			st = c.State.String()
		}
		t.Fatalf("contact %v is %s, want ringing at %s", id, st, agent)
	}
}

// A rejected last offer makes the agent not ready; a not-ready that was
// pending from an earlier reject (or request) must not survive it, or the
// agent, once ready again, never gets another offer.
func TestRegressionRejectClearsPendingNotReady(t *testing.T) {
	s, clk := newTestServer(t, `
queues:
  - {name: calls, media: voice}
  - {name: chats, media: im}
agents:
  - {id: a0, number: "200", skills: {calls: 1, chats: 1}, capacity: {voice: 1, im: 1}}
`, Config{RingTimeout: 10 * time.Second})
	mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 0})
	clk.Advance(time.Second)
	mustArrive(t, s, Arrival{Media: pbx.Voice, DNIS: "calls", Priority: 0})
	clk.Advance(9 * time.Second) // the chat rings out: not ready pending
	clk.Advance(time.Second)     // the call rings out: not ready now
	a, _ := s.Agent("a0")
	if a.State() != NotReady || a.pendingNR {
		t.Fatalf("agent is %v, pending not-ready %t; want not_ready, none pending", a.State(), a.pendingNR)
	}
	// Both contacts wait again; ready, the agent takes them.
	cctest.MustOK(t, s.AgentReady("a0"), "regression step")
	if a.offered != 2 {
		t.Fatalf("ready agent was offered %d interactions, want the 2 waiting", a.offered)
	}
}

// A not-ready request during after-call work replaces one pending from
// before; left pending, it keeps the agent from work after the next ready.
func TestRegressionNotReadyDuringWrapUpClearsPending(t *testing.T) {
	s, _ := newTestServer(t, `
queues:
  - {name: calls, media: voice}
agents:
  - {id: a0, number: "200", skills: {calls: 1}, wrap_up: 30s}
`, Config{RingTimeout: 0})
	id := mustArrive(t, s, Arrival{Media: pbx.Voice, DNIS: "calls", Priority: 0})
	cctest.MustOK(t, s.AgentNotReady("a0", "break"), "regression step") // ringing: pending
	cctest.MustOK(t, s.AnswerCall(id), "regression step")
	cctest.MustOK(t, s.ReleaseCall(id), "regression step") // after-call work, still pending
	cctest.MustOK(t, s.AgentNotReady("a0", "lunch"), "regression step")
	a, _ := s.Agent("a0")
	if a.State() != NotReady || a.Reason() != "lunch" || a.pendingNR {
		t.Fatalf("agent is %v (%q), pending %t; want not_ready (lunch), none pending", a.State(), a.Reason(), a.pendingNR)
	}
	cctest.MustOK(t, s.AgentReady("a0"), "regression step")
	next := mustArrive(t, s, Arrival{Media: pbx.Voice, DNIS: "calls", Priority: 0})
	wantRinging(t, s, next, "a0")
}

// An interaction at a route point can end up in the route point's default
// queue, so it must have that queue's media; before the fix a voip call
// landed in a voice queue, where no agent ever took it.
func TestRegressionRoutePointRejectsOtherMedia(t *testing.T) {
	s, clk := newTestServer(t, `
queues:
  - {name: calls, media: voice}
route_points:
  - {number: "900", queue: calls, timeout: 5s}
agents:
  - {id: a0, number: "200", skills: {calls: 1}, capacity: {voice: 0}}
`, Config{RingTimeout: 0})
	if _, err := s.Arrive(&Arrival{Media: pbx.VoIP, DNIS: "900"}); pbx.KindOf(err) != pbx.Invalid {
		t.Fatalf("voip call at a voice route point: %v, want an invalid error", err)
	}
	clk.Advance(time.Minute)
	if s.contacts.len() != 0 || s.queueByName["calls"].waiting != 0 {
		t.Fatalf("%d contacts live, %d waiting", s.contacts.len(), s.queueByName["calls"].waiting)
	}
	// Its own media routes as before.
	mustArrive(t, s, Arrival{Media: pbx.Voice, DNIS: "900", Priority: 0})
}

// A transfer to a queue frees the transferring agent before the
// interaction is queued again: what already waits (here with a higher
// priority) goes first, instead of the transferred interaction jumping
// the queue back to the same agent.
func TestRegressionTransferToQueueKeepsOrder(t *testing.T) {
	s, _ := newTestServer(t, `
queues:
  - {name: chats, media: im}
agents:
  - {id: a0, number: "200", skills: {chats: 1}, capacity: {voice: 0, im: 1}}
`, Config{RingTimeout: 0})
	first := mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 0})
	urgent := mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 1})
	cctest.MustOK(t, s.AnswerCall(first), "regression step")
	cctest.MustOK(t, s.SingleStepTransfer(first, "chats"), "regression step")
	wantRinging(t, s, urgent, "a0")
	if c := s.Contact(first); c == nil || c.State != pbx.Queued {
		t.Fatalf("transferred contact should wait in chats, is %v", c)
	}
}

// Rejecting the last offer of a busy agent whose other interaction ended
// while it rang leaves no work: the agent must wrap up and go not ready,
// not stay busy with nothing (and no offers) for ever.
func TestRegressionRejectLastOfferOfBusyAgent(t *testing.T) {
	s, clk := newTestServer(t, `
queues:
  - {name: calls, media: voice}
  - {name: chats, media: im}
agents:
  - {id: a0, number: "200", skills: {calls: 1, chats: 1}, capacity: {voice: 1, im: 1}, wrap_up: 10s}
`, Config{RingTimeout: 0})
	chat := mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 0})
	cctest.MustOK(t, s.AnswerCall(chat), "regression step")
	call := mustArrive(t, s, Arrival{Media: pbx.Voice, DNIS: "calls", Priority: 0}) // rings while busy
	cctest.MustOK(t, s.ReleaseCall(chat), "regression step")                        // busy with the offer only
	cctest.MustOK(t, s.RejectCall(call, "declined"), "regression step")
	a, _ := s.Agent("a0")
	if a.State() != AfterCallWork {
		t.Fatalf("agent is %v after rejecting its last offer, want after_call_work", a.State())
	}
	clk.Advance(10 * time.Second)
	if a.State() != NotReady || a.Reason() != "declined" {
		t.Fatalf("after wrap-up the agent is %v (%q), want not_ready (declined)", a.State(), a.Reason())
	}
	cctest.MustOK(t, s.AgentReady("a0"), "regression step")
	wantRinging(t, s, call, "a0")
}

// Dialing out of after-call work makes the agent busy, and a busy agent
// with room takes waiting work of its other media; before the fix nobody
// offered it what waited, as if the agent were still wrapping up.
func TestRegressionMakeCallFromWrapUpTakesWaitingWork(t *testing.T) {
	s, _ := newTestServer(t, `
queues:
  - {name: chats, media: im}
agents:
  - {id: a0, number: "200", skills: {chats: 1}, capacity: {voice: 1, im: 1}, wrap_up: 30s}
`, Config{RingTimeout: 0})
	chat := mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 0})
	cctest.MustOK(t, s.AnswerCall(chat), "regression step")
	cctest.MustOK(t, s.ReleaseCall(chat), "regression step") // after-call work
	waiting := mustArrive(t, s, Arrival{Media: pbx.IM, DNIS: "chats", Priority: 0})
	if c := s.Contact(waiting); c.State != pbx.Queued {
		t.Fatalf("chat is %v during wrap-up, want queued", c.State)
	}
	if _, err := s.MakeCall("a0", "+15550100", pbx.Voice); err != nil {
		t.Fatal(err)
	}
	wantRinging(t, s, waiting, "a0")
}
