package config

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// The media an interaction can have, and the strategies by which a queue
// picks among eligible agents.
var (
	medias     = []string{"voice", "voip", "im", "callback"}
	strategies = []string{"longest_idle", "round_robin", "fewest_interactions",
		"least_talk_time", "top_down", "highest_skill", "weighted_random"}
)

// Defaults and limits.
const (
	defaultMedia    = "voice"
	defaultStrategy = "longest_idle"
	defaultSLTarget = 20 * time.Second
	defaultTimeout  = 5 * time.Second

	minLevel, maxLevel = 1, 10
	maxReplications    = 1000
	// maxAgents bounds the agents of a file after expansion, so that a
	// typo in a count cannot exhaust memory.
	maxAgents = 100_000
)

// setDefaults fills in what the file leaves out. A number or duration takes
// its default only when its key is absent: an explicit 0 stays, for
// validate to judge.
func (c *checker) setDefaults(f *File) {
	queueMedia := make(map[string]string, len(f.Queues))
	for i := range f.Queues {
		q, p := &f.Queues[i], path{}.key("queues").index(i)
		if q.Skill == "" {
			q.Skill = q.Name
		}
		if c.unset(p.key("min_level"), q.MinLevel == 0) {
			q.MinLevel = minLevel
		}
		if q.Strategy == "" {
			q.Strategy = defaultStrategy
		}
		if q.Media == "" {
			q.Media = defaultMedia
		}
		if c.unset(p.key("sl_target"), q.SLTarget == 0) {
			q.SLTarget = Duration(defaultSLTarget)
		}
		if _, ok := queueMedia[q.Name]; !ok {
			queueMedia[q.Name] = q.Media
		}
	}

	routeQueue := make(map[string]string, len(f.RoutePoints))
	for i := range f.RoutePoints {
		r, p := &f.RoutePoints[i], path{}.key("route_points").index(i)
		if c.unset(p.key("timeout"), r.Timeout == 0) {
			r.Timeout = Duration(defaultTimeout)
		}
		if _, ok := routeQueue[r.Number]; !ok {
			routeQueue[r.Number] = r.Queue
		}
	}

	for i := range f.Agents {
		g, p := &f.Agents[i], path{}.key("agents").index(i)
		if c.unset(p.key("weight"), g.Weight == 0) {
			g.Weight = 1
		}
		if g.Capacity == nil {
			g.Capacity = make(map[string]int, len(medias))
		}
		for _, m := range medias {
			if _, ok := g.Capacity[m]; !ok {
				g.Capacity[m] = 1
			}
		}
		if g.Ready == nil {
			ready := true
			g.Ready = &ready
		}
		if c.unset(p.key("chat_via"), g.ChatVia == "") {
			g.ChatVia = ChatViaCTI
		}
	}

	for i := range f.Traffic {
		t := &f.Traffic[i]
		switch {
		case t.Media != "":
		case t.Queue != "":
			t.Media = queueMedia[t.Queue]
		case t.RoutePoint != "":
			t.Media = queueMedia[routeQueue[t.RoutePoint]]
		}
	}

	c.setCallbackModelDefaults(f)
	if c.unset(path{}.key("run").key("replications"), f.Run.Replications == 0) {
		f.Run.Replications = 1
	}
	c.setIMDefaults(f)
}

// validate checks f, with its defaults applied, and records what is wrong.
func (c *checker) validate(f *File) {
	declared := c.checkSkills(f)
	dns := make(map[string]string) // directory number -> its first user
	queues := c.checkQueues(f, declared, dns)
	routePoints := c.checkRoutePoints(f, queues, dns)
	agentIDs := c.checkAgents(f, declared, dns)
	c.checkTraffic(f, queues, routePoints)
	c.checkCallbackQueuesHaveNoTraffic(f, queues, routePoints)
	c.checkSchedule(f)
	c.checkRun(f)
	c.checkIM(f, queues)
	c.checkUsers(f, agentIDs)
}

// checkSkills returns the declared skills, or nil when the file declares
// none (and so any skill name goes).
func (c *checker) checkSkills(f *File) map[string]bool {
	if len(f.Skills) == 0 {
		return nil
	}
	declared := make(map[string]bool, len(f.Skills))
	for i, s := range f.Skills {
		p := path{}.key("skills").index(i)
		switch {
		case s == "":
			c.errorf(p, "empty skill name")
		case declared[s]:
			c.errorf(p, "skill %q declared twice", s)
		}
		declared[s] = true
	}
	return declared
}

// checkQueues returns the queues by name.
func (c *checker) checkQueues(f *File, declared map[string]bool, dns map[string]string) map[string]*Queue {
	byName := make(map[string]*Queue, len(f.Queues))
	index := make(map[string]int, len(f.Queues))
	for i := range f.Queues {
		q, p := &f.Queues[i], path{}.key("queues").index(i)
		switch _, dup := byName[q.Name]; {
		case q.Name == "":
			c.errorf(p.key("name"), "required")
		case dup:
			c.errorf(p.key("name"), "duplicate queue name %q (also queues[%d])", q.Name, index[q.Name])
		default:
			byName[q.Name], index[q.Name] = q, i
		}
		c.checkMedia(p.key("media"), q.Media)
		if q.Number != "" {
			c.useNumber(dns, p.key("number"), q.Number, p.key("number").String())
		}
		if c.given(p.key("skill")) {
			c.checkSkill(declared, p.key("skill"), q.Skill)
		} else if q.Name != "" && declared != nil && !declared[q.Name] {
			c.errorf(p.key("name"), "skill %q (the queue's name; set skill for another) not declared in skills", q.Name)
		}
		c.checkLevel(p.key("min_level"), q.MinLevel)
		c.checkCallbackDigit(p.key("callback_digit"), q)
		if !slices.Contains(strategies, q.Strategy) {
			c.errorf(p.key("strategy"), "unknown strategy %q (want one of %s)", q.Strategy, strings.Join(strategies, ", "))
		}
		if a := q.Aging; a != nil {
			ap := p.key("aging")
			if a.Every <= 0 {
				c.errorf(ap.key("every"), "must be > 0")
			}
			if a.Step < 1 {
				c.errorf(ap.key("step"), "%d must be >= 1", a.Step)
			} else if a.Max < a.Step {
				c.errorf(ap.key("max"), "%d must be >= step (%d)", a.Max, a.Step)
			}
		}
	}
	// Overflow rules and callback queues may name queues further down the file.
	for i := range f.Queues {
		c.checkOverflow(&f.Queues[i], path{}.key("queues").index(i), byName, declared)
		c.checkCallbackQueue(&f.Queues[i], path{}.key("queues").index(i), byName)
	}
	return byName
}

func (c *checker) checkOverflow(q *Queue, p path, queues map[string]*Queue, declared map[string]bool) {
	for k, o := range q.Overflow {
		op := p.key("overflow").index(k)
		switch {
		case o.After <= 0:
			c.errorf(op.key("after"), "must be > 0")
		case k > 0 && o.After < q.Overflow[k-1].After:
			c.errorf(op.key("after"), "%v comes before overflow[%d].after (%v); list the rules in order of after",
				o.After, k-1, q.Overflow[k-1].After)
		}
		hasLevel := o.MinLevel != 0 || c.given(op.key("min_level"))
		switch {
		case o.ToQueue != "" && (hasLevel || o.AddSkill != ""):
			c.errorf(op.key("to_queue"), "to_queue cannot be combined with min_level or add_skill")
		case o.ToQueue != "":
			switch to := queues[o.ToQueue]; {
			case to == nil:
				c.errorf(op.key("to_queue"), "unknown queue %q", o.ToQueue)
			case to == q:
				c.errorf(op.key("to_queue"), "queue %q overflows to itself", q.Name)
			case to.Media != q.Media:
				c.errorf(op.key("to_queue"), "queue %q takes %s, not %s", to.Name, to.Media, q.Media)
			}
		case !hasLevel && o.AddSkill == "":
			c.errorf(op, "needs an action: min_level, add_skill or to_queue")
		}
		if hasLevel {
			c.checkLevel(op.key("min_level"), o.MinLevel)
		}
		if o.AddSkill != "" {
			c.checkSkill(declared, op.key("add_skill"), o.AddSkill)
		}
	}
}

// checkRoutePoints returns the route points by number.
func (c *checker) checkRoutePoints(f *File, queues map[string]*Queue, dns map[string]string) map[string]*RoutePoint {
	byNumber := make(map[string]*RoutePoint, len(f.RoutePoints))
	for i := range f.RoutePoints {
		r, p := &f.RoutePoints[i], path{}.key("route_points").index(i)
		if r.Number == "" {
			c.errorf(p.key("number"), "required")
		} else if c.useNumber(dns, p.key("number"), r.Number, p.key("number").String()) {
			byNumber[r.Number] = r
		}
		switch {
		case r.Queue == "":
			c.errorf(p.key("queue"), "required")
		case queues[r.Queue] == nil:
			c.errorf(p.key("queue"), "unknown queue %q", r.Queue)
		}
	}
	return byNumber
}

// checkAgents returns the agent ids (nil when there are too many agents to
// list them).
func (c *checker) checkAgents(f *File, declared map[string]bool, dns map[string]string) map[string]string {
	total, tooMany := 0, false
	for i := range f.Agents {
		g, p := &f.Agents[i], path{}.key("agents").index(i)
		switch {
		case g.ID != "" && (g.Group != "" || g.Count != 0):
			c.errorf(p.key("id"), "set either id, or group and count, not both")
		case g.ID == "" && g.Group == "":
			c.errorf(p, "needs id, or group and count")
		case g.ID == "" && g.Count < 1:
			c.errorf(p.key("count"), "group %q needs count >= 1", g.Group)
		case g.ID == "" && g.Count > maxAgents:
			c.errorf(p.key("count"), "%d agents is too many (max %d)", g.Count, maxAgents)
			tooMany = true
		}
		switch {
		case g.FirstNumber < 0:
			c.errorf(p.key("first_number"), "%d must be > 0", g.FirstNumber)
		case g.FirstNumber > math.MaxInt-maxAgents:
			c.errorf(p.key("first_number"), "%d is too large", g.FirstNumber)
		case g.FirstNumber > 0 && g.Number != "":
			c.errorf(p.key("first_number"), "set either number or first_number, not both")
		case g.FirstNumber > 0 && g.ID != "":
			c.errorf(p.key("first_number"), "first_number numbers a group; give a single agent a number")
		case g.Number != "" && g.ID == "":
			c.errorf(p.key("number"), "number is for a single agent; number a group with first_number")
		}

		for _, s := range slices.Sorted(maps.Keys(g.Skills)) {
			sp := p.key("skills").key(s)
			if s == "" {
				c.errorf(sp, "empty skill name")
				continue
			}
			c.checkSkill(declared, sp, s)
			c.checkLevel(sp, g.Skills[s])
		}
		for _, m := range slices.Sorted(maps.Keys(g.Capacity)) {
			cp := p.key("capacity").key(m)
			if c.checkMedia(cp, m) && g.Capacity[m] < 0 {
				c.errorf(cp, "%d must be >= 0", g.Capacity[m])
			}
		}
		for _, m := range slices.Sorted(maps.Keys(g.Block)) {
			bp := p.key("block").key(m)
			c.checkMedia(bp, m)
			for j, b := range g.Block[m] {
				c.checkMedia(bp.index(j), b)
			}
		}
		for _, family := range slices.Sorted(maps.Keys(g.Clients)) {
			cp := p.key("clients").key(family)
			if family == "" {
				c.errorf(cp, "empty client family")
			} else if _, err := ParseConstraint(g.Clients[family]); err != nil {
				c.errorf(cp, "%v", err)
			}
		}
		if g.Weight < 1 {
			c.errorf(p.key("weight"), "%d must be >= 1", g.Weight)
		}
		c.checkChatVia(g, p)
		c.checkRoles(p.key("roles"), g.Roles, true)
		total += min(g.size(), maxAgents)
	}
	if tooMany {
		return nil
	}
	if total > maxAgents {
		c.errorf(path{}.key("agents"), "%d agents in all is too many (max %d)", total, maxAgents)
		return nil
	}

	// Agent IDs and extensions after expansion.
	ids := make(map[string]string, total)
	for i := range f.Agents {
		g, p := &f.Agents[i], path{}.key("agents").index(i)
		idPath := p.key("group")
		if g.ID != "" {
			idPath = p.key("id")
		}
		for n := range g.size() {
			id := g.agentID(n)
			if first, dup := ids[id]; dup {
				c.errorf(idPath, "agent id %q already used by %s", id, first)
				break
			}
			ids[id] = p.String()
		}
		switch {
		case g.ID != "" && g.Number != "":
			c.useNumber(dns, p.key("number"), g.Number, p.String())
		case g.ID == "" && g.FirstNumber > 0 && g.FirstNumber <= math.MaxInt-maxAgents:
			for n := range g.size() {
				who := p.String() + " (" + g.agentID(n) + ")"
				if !c.useNumber(dns, p.key("first_number"), g.agentNumber(n), who) {
					break
				}
			}
		}
	}
	return ids
}

// checkChatVia checks where g's agents chat: a phone needs an extension
// to be found at and a password to register with.
func (c *checker) checkChatVia(g *AgentGroup, p path) {
	cp := p.key("chat_via")
	switch g.ChatVia {
	case ChatViaCTI:
	case ChatViaSIP:
		switch {
		case g.ID != "" && g.Number == "":
			c.errorf(cp, "sip needs the agent's number: the extension its phone registers as")
		case g.ID == "" && g.FirstNumber == 0:
			c.errorf(cp, "sip needs first_number: the extensions the group's phones register as")
		case g.Password == "":
			c.errorf(cp, "sip needs a password: the agent's phone registers with it")
		}
	default:
		c.errorf(cp, "unknown chat_via %q (want %s or %s)", g.ChatVia, ChatViaCTI, ChatViaSIP)
	}
}

func (c *checker) checkRun(f *File) {
	r, p := &f.Run, path{}.key("run")
	if len(f.Traffic) > 0 {
		if r.Duration <= 0 {
			c.errorf(p.key("duration"), "must be > 0 to simulate traffic")
		} else if r.Warmup >= r.Duration {
			c.errorf(p.key("warmup"), "%v must be shorter than run.duration (%v)", r.Warmup, r.Duration)
		}
	}
	if r.Replications < 1 || r.Replications > maxReplications {
		c.errorf(p.key("replications"), "%d out of range 1..%d", r.Replications, maxReplications)
	}
	if c.given(p.key("interval")) {
		iv := r.Interval.D()
		switch {
		case iv < minForecastInterval || day%iv != 0:
			c.errorf(p.key("interval"), "%v must be at least %v and divide a day (15m, 30m, 1h, ...)", iv, minForecastInterval)
		case r.Duration > 0 && (r.Duration.D()+iv-1)/iv > MaxRunIntervals:
			c.errorf(p.key("interval"), "%v cuts run.duration (%v) into more than %d intervals: take a longer one",
				iv, r.Duration.D(), MaxRunIntervals)
		}
	}
}

// MaxRunIntervals bounds how many intervals a run reports results for.
const MaxRunIntervals = 5000

// checkMedia reports whether m is a known media, and records an error at p
// when it is not.
func (c *checker) checkMedia(p path, m string) bool {
	if slices.Contains(medias, m) {
		return true
	}
	c.errorf(p, "unknown media %q (want one of %s)", m, strings.Join(medias, ", "))
	return false
}

// checkCallbackDigit records an error for a callback digit that is not
// one key 0-9, or that is given to a queue that takes no calls.
func (c *checker) checkCallbackDigit(p path, q *Queue) {
	switch d := q.CallbackDigit; {
	case d == "":
	case len(d) != 1 || d[0] < '0' || d[0] > '9':
		c.errorf(p, "%q is not a key 0-9", d)
	case q.Media != "voice" && q.Media != "voip":
		c.errorf(p, "only voice and voip queues take calls, not %s", q.Media)
	}
}

// checkSkill records an error when the file declares its skills and skill
// is not one of them.
func (c *checker) checkSkill(declared map[string]bool, p path, skill string) {
	if declared != nil && !declared[skill] {
		c.errorf(p, "skill %q not declared in skills", skill)
	}
}

func (c *checker) checkLevel(p path, level int) {
	if level < minLevel || level > maxLevel {
		c.errorf(p, "level %d out of range %d..%d", level, minLevel, maxLevel)
	}
}

// useNumber claims directory number num for who, the field at p. It
// reports false, and records an error, when the number is already taken.
func (c *checker) useNumber(dns map[string]string, p path, num, who string) bool {
	if first, taken := dns[num]; taken {
		c.errorf(p, "number %q already used by %s", num, first)
		return false
	}
	dns[num] = who
	return true
}
