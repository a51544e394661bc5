package replay

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver"
)

// Result is the outcome of one script.
type Result struct {
	File         string        `json:"file"`
	Center       string        `json:"center"`
	EndS         float64       `json:"end_s"`
	Met          int           `json:"met"`
	Failed       int           `json:"failed"`
	Expectations []Outcome     `json:"expectations"`
	ActionErrors []ActionError `json:"action_errors,omitempty"`
	// Interactions and Events count what the replay played.
	Interactions int `json:"interactions"`
	Events       int `json:"events"`
}

// Outcome is one expectation, met or not.
type Outcome struct {
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	Expect string `json:"expect"`
	Met    bool   `json:"met"`
	// AtS is when it was met (or, failed, when the matching event came
	// too late, or the forbidden event came), in seconds since the
	// start; nil when nothing matched.
	AtS *float64 `json:"at_s"`
	// Detail says how it was met or why not, in one line.
	Detail string `json:"detail"`
	// short is the expectation without its within, for the ok line.
	short string
	// Diff, for a failure: what was expected and what happened instead
	// around it, one line each.
	Diff []string `json:"diff,omitempty"`
	// Events and Heard, for a failure: the events around it (of its
	// interaction, its queue or its agent) and what its chat heard, as
	// data for tools.
	Events []EventRecord `json:"events,omitempty"`
	Heard  []HeardRecord `json:"heard,omitempty"`
	// Rings and Attempts, for a failure about callbacks: the calls that
	// rang customers' phones and the attempts that ended.
	Rings    []RingRecord    `json:"rings,omitempty"`
	Attempts []AttemptRecord `json:"attempts,omitempty"`
	// Presences, for a failure about a customer's presence: how it
	// changed.
	Presences []PresenceRecord `json:"presences,omitempty"`
}

// PresenceRecord is a change of a customer's combined presence, in a
// failure's context.
type PresenceRecord struct {
	AtS       float64  `json:"at_s"`
	Customer  string   `json:"customer"`
	Status    string   `json:"status"`
	Reachable []string `json:"reachable"`
}

// RingRecord is a call that rang a customer's phone, in a failure's
// context.
type RingRecord struct {
	AtS      float64 `json:"at_s"`
	Phone    string  `json:"phone"`
	Callback string  `json:"callback,omitempty"`
}

// AttemptRecord is a callback's attempt that ended, in a failure's
// context.
type AttemptRecord struct {
	AtS      float64 `json:"at_s"`
	Callback string  `json:"callback"`
	Medium   string  `json:"medium"`
	Target   string  `json:"target"`
	Result   string  `json:"result"`
}

// EventRecord is a CTI event in a failure's context.
type EventRecord struct {
	AtS         float64 `json:"at_s"`
	Interaction string  `json:"interaction,omitempty"`
	Event       string  `json:"event"`
	Agent       string  `json:"agent,omitempty"`
	Queue       string  `json:"queue,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

// HeardRecord is a line a chat customer received.
type HeardRecord struct {
	AtS  float64 `json:"at_s"`
	Text string  `json:"text"`
}

// ActionError is an action of the script the center refused.
type ActionError struct {
	Index int     `json:"index"` // in script[]; -1 for a router's RouteCall
	Line  int     `json:"line"`
	AtS   float64 `json:"at_s"`
	Error string  `json:"error"`
}

// Run plays script s on the virtual center and checks its expectations.
func Run(s *Script) (*Result, error) {
	rec := &Record{}
	v, err := NewVirtual(s, rec)
	if err != nil {
		return nil, err
	}
	return Play(s, v, rec), nil
}

// Play plays script s on center c, which reports to rec, and checks the
// expectations.
func Play(s *Script, c Center, rec *Record) *Result {
	res := &Result{File: s.Path, Center: s.CenterPath, EndS: s.End.Seconds()}
	c.Play(s.Actions, s.End, func(a *Action, err error) {
		ae := ActionError{Index: a.Index, Line: a.Line, AtS: a.At.Seconds(), Error: err.Error()}
		res.ActionErrors = append(res.ActionErrors, ae)
	})
	ev := newEvaluation(s, c, rec)
	for i := range s.Expect {
		o := ev.check(&s.Expect[i])
		if o.Met {
			res.Met++
		} else {
			res.Failed++
		}
		res.Expectations = append(res.Expectations, o)
	}
	res.Interactions = s.Interactions()
	res.Events = len(rec.Events)
	return res
}

// evaluation indexes a record for the expectations.
type evaluation struct {
	s       *Script
	c       Center
	rec     *Record
	byName  map[string][]int // events of each interaction
	byAgent map[string][]int
	heard   map[string][]int
	numbers map[string]string // agent id -> number
	agents  map[string]agentInfo
}

type agentInfo struct {
	skills  map[string]int
	clients map[string]string
}

func newEvaluation(s *Script, c Center, rec *Record) *evaluation {
	ev := &evaluation{s: s, c: c, rec: rec, byName: map[string][]int{}, byAgent: map[string][]int{},
		heard: map[string][]int{}, numbers: map[string]string{}, agents: map[string]agentInfo{}}
	for i, e := range rec.Events {
		if e.Interaction != "" {
			ev.byName[e.Interaction] = append(ev.byName[e.Interaction], i)
		}
		if e.Agent != "" {
			ev.byAgent[e.Agent] = append(ev.byAgent[e.Agent], i)
		}
	}
	for i, h := range rec.Heard {
		ev.heard[h.Chat] = append(ev.heard[h.Chat], i)
	}
	for _, a := range s.Center.ExpandAgents() {
		ev.numbers[a.ID] = a.Number
		ev.agents[a.ID] = agentInfo{skills: a.Skills, clients: a.Clients}
	}
	return ev
}

// slack writes the script's slack, when it has one.
func (ev *evaluation) slack() string {
	if ev.s.Slack == 0 {
		return ""
	}
	return " + slack " + dur(ev.s.Slack)
}

// dur writes a time of the replay: 3.2s, 1m5s.
func dur(d time.Duration) string { return d.Round(time.Millisecond).String() }

func secs(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// agentName is an agent as the output shows it: its id, and its number
// when it has one.
func (ev *evaluation) agentName(id string) string {
	if n := ev.numbers[id]; n != "" && n != id {
		return id + " (" + n + ")"
	}
	return id
}

// describe writes an expectation the way the script says it.
func describe(e *Expectation) string {
	switch e.Kind {
	case ExpectNever:
		return "never " + describeMatch(&e.Match)
	case ExpectQueue:
		var parts []string
		for _, c := range e.Counts {
			parts = append(parts, c.Name+" "+strconv.FormatInt(c.Want, 10))
		}
		return "at_end queue " + e.Queue + ": " + strings.Join(parts, ", ")
	case ExpectAgent:
		return "at_end agent " + e.AgentRef + " " + e.State.String()
	case ExpectCallback:
		return describeCallback(e)
	}
	s := describeMatch(&e.Match)
	if e.Kind == ExpectAttempt {
		s = describeCallback(e)
	}
	if e.HasWithin {
		s += " within " + dur(e.Within)
	}
	return s
}

func describeMatch(m *Match) string {
	if m.Customer != "" {
		return describePresence(m)
	}
	if m.Phone != "" {
		return describeCallback(&Expectation{Kind: ExpectRings, Match: *m})
	}
	var parts []string
	if m.Interaction != "" {
		parts = append(parts, m.Interaction)
	}
	switch {
	case m.Regexp != nil:
		parts = append(parts, "hears /"+m.Regexp.String()+"/")
	case m.Hears != "":
		parts = append(parts, "hears "+strconv.Quote(m.Hears))
	default:
		parts = append(parts, m.Event.String())
	}
	if m.AgentRef != "" {
		parts = append(parts, "agent "+m.AgentRef)
	}
	if m.Queue != "" {
		parts = append(parts, "queue "+m.Queue)
	}
	if m.Reason != "" {
		parts = append(parts, "reason "+m.Reason)
	}
	if m.HasSkill != "" {
		parts = append(parts, "agent_has skill "+m.HasSkill)
	}
	if m.HasClient {
		parts = append(parts, "agent_has client "+strings.TrimSpace(m.ClientFamily+" "+m.ClientVersion))
	}
	return strings.Join(parts, " ")
}

// matches reports whether event o is one m selects.
func (ev *evaluation) matches(m *Match, o *Observed) bool {
	if m.Event != 0 && o.Type != m.Event || m.Interaction != "" && o.Interaction != m.Interaction ||
		m.Agent != "" && o.Agent != m.Agent || m.Queue != "" && o.Queue != m.Queue || m.Reason != "" && o.Reason != m.Reason {
		return false
	}
	if m.HasSkill != "" || m.HasClient {
		a, ok := ev.agents[o.Agent]
		if !ok {
			return false
		}
		if m.HasSkill != "" && a.skills[m.HasSkill] == 0 {
			return false
		}
		if m.HasClient && !supports(a.clients, m.ClientFamily, m.ClientVersion) {
			return false
		}
	}
	return true
}

// supports reports whether an agent's clients take a family (and
// version, when given), as routing decides it.
func supports(clients map[string]string, family, version string) bool {
	for fam, cons := range clients {
		if fam != "*" && !strings.EqualFold(fam, family) {
			continue
		}
		if version == "" {
			return true
		}
		if vc, err := parseConstraint(cons); err == nil && vc(version) {
			return true
		}
	}
	return false
}

func hearsMatch(m *Match, text string) bool {
	if m.Regexp != nil {
		return m.Regexp.MatchString(text)
	}
	return strings.Contains(text, m.Hears)
}

func (ev *evaluation) check(e *Expectation) Outcome {
	o := Outcome{Index: e.Index, Line: e.Line, Expect: describe(e)}
	o.short = o.Expect
	switch e.Kind {
	case ExpectEvent, ExpectHears, ExpectRings, ExpectPresence:
		o.short = describeMatch(&e.Match)
	case ExpectAttempt:
		o.short = describeCallback(e)
	}
	switch e.Kind {
	case ExpectEvent, ExpectHears:
		ev.checkArrival(e, &o)
	case ExpectNever:
		ev.checkNever(e, &o)
	case ExpectQueue:
		ev.checkQueue(e, &o)
	case ExpectAgent:
		ev.checkAgent(e, &o)
	case ExpectRings, ExpectAttempt:
		ev.checkCallbackArrival(e, &o)
	case ExpectCallback:
		ev.checkCallbackState(e, &o)
	case ExpectPresence:
		ev.checkPresence(e, &o)
	}
	return o
}

// window is when expectation e's arrival counts: from start, when its
// interaction (or callback) began (0 for none: a customer's presence, a
// phone named without a callback), to deadline, its within (or the end)
// stretched by the slack.
func (ev *evaluation) window(e *Expectation) (start, deadline time.Duration) {
	start, _ = ev.s.Started(e.Match.Interaction)
	deadline = ev.s.End + ev.s.Slack
	if e.HasWithin {
		deadline = min(deadline, start+e.Within+ev.s.Slack)
	}
	return start, deadline
}

func (ev *evaluation) checkArrival(e *Expectation, o *Outcome) {
	m := &e.Match
	start, deadline := ev.window(e)
	var (
		at    time.Duration
		found bool
		what  string
	)
	if e.Kind == ExpectHears {
		for _, i := range ev.heard[m.Interaction] {
			if h := ev.rec.Heard[i]; hearsMatch(m, h.Text) {
				at, found, what = h.At, true, strconv.Quote(h.Text)
				break
			}
		}
	} else {
		for _, i := range ev.byName[m.Interaction] {
			if x := &ev.rec.Events[i]; ev.matches(m, x) {
				at, found, what = x.At, true, ev.eventWords(x)
				break
			}
		}
	}
	if found {
		o.AtS = secs(at)
	}
	after := fmt.Sprintf("+%s after %s began", dur(at-start), m.Interaction)
	switch {
	case found && at <= deadline:
		o.Met = true
		o.Detail = "at " + dur(at)
		if e.HasWithin {
			o.Detail += fmt.Sprintf(" (%s, within %s%s)", after, dur(e.Within), ev.slack())
		} else {
			o.Detail += " (by the end)"
		}
		return
	case found:
		o.Detail = fmt.Sprintf("came too late: at %s (%s), want within %s%s", dur(at), after, dur(e.Within), ev.slack())
	default:
		o.Detail = "never came by the end (" + dur(ev.s.End) + ")"
	}
	o.Diff = append(o.Diff, fmt.Sprintf("expected: %s by %s", describeMatch(m), dur(deadline)))
	if found {
		o.Diff = append(o.Diff, fmt.Sprintf("got:      %s at %s", what, dur(at)))
	}
	if e.Kind == ExpectHears {
		o.Diff = append(o.Diff, "what "+m.Interaction+" heard:")
		o.Diff = append(o.Diff, ev.heardLines(m.Interaction, 20)...)
	}
	o.Diff = append(o.Diff, "what happened to "+m.Interaction+":")
	o.Diff = append(o.Diff, ev.eventLines(ev.byName[m.Interaction], 30, true)...)
	o.Events = ev.records(ev.byName[m.Interaction])
	if e.Kind == ExpectHears {
		o.Heard = ev.heardRecords(m.Interaction)
	}
	if m.Agent != "" {
		o.Diff = append(o.Diff, "and to agent "+ev.agentName(m.Agent)+" from "+dur(start)+":")
		var near []int
		for _, i := range ev.byAgent[m.Agent] {
			if ev.rec.Events[i].At >= start {
				near = append(near, i)
			}
		}
		o.Diff = append(o.Diff, ev.eventLines(near, 15, false)...)
		o.Events = append(o.Events, ev.records(near)...)
	}
}

func (ev *evaluation) checkNever(e *Expectation, o *Outcome) {
	m := &e.Match
	if m.Phone != "" {
		ev.checkNeverRings(e, o)
		return
	}
	if m.Customer != "" {
		ev.checkNeverPresence(e, o)
		return
	}
	if m.Hears != "" || m.Regexp != nil {
		for _, i := range ev.heard[m.Interaction] {
			if h := ev.rec.Heard[i]; hearsMatch(m, h.Text) {
				o.AtS = secs(h.At)
				o.Detail = fmt.Sprintf("happened at %s: %s heard %q", dur(h.At), m.Interaction, h.Text)
				o.Diff = append(o.Diff, "expected: never "+describeMatch(m), "what "+m.Interaction+" heard:")
				o.Diff = append(o.Diff, ev.heardLines(m.Interaction, 20)...)
				o.Heard = ev.heardRecords(m.Interaction)
				return
			}
		}
		o.Met, o.Detail = true, "not heard by the end ("+dur(ev.s.End)+")"
		return
	}
	for i := range ev.rec.Events {
		x := &ev.rec.Events[i]
		if !ev.matches(m, x) {
			continue
		}
		o.AtS = secs(x.At)
		o.Detail = fmt.Sprintf("happened at %s: %s", dur(x.At), ev.eventWords(x))
		o.Diff = append(o.Diff, "expected: never "+describeMatch(m), "got:      "+ev.eventWords(x)+" at "+dur(x.At))
		if x.Interaction != "" {
			o.Diff = append(o.Diff, "what happened to "+x.Interaction+":")
			o.Diff = append(o.Diff, ev.eventLines(ev.byName[x.Interaction], 30, true)...)
			o.Events = ev.records(ev.byName[x.Interaction])
		} else {
			o.Events = ev.records([]int{i})
		}
		return
	}
	o.Met, o.Detail = true, "did not happen by the end ("+dur(ev.s.End)+")"
}

func (ev *evaluation) checkQueue(e *Expectation, o *Outcome) {
	st, err := ev.c.QueueStats(e.Queue)
	if err != nil {
		o.Detail = err.Error()
		return
	}
	got := map[string]int64{"offered": st.Offered, "answered": st.Answered, "abandoned": st.Abandoned,
		"callback": st.Callback, "waiting": st.Offered - st.Answered - st.Abandoned - st.Callback}
	var wrong []string
	for _, c := range e.Counts {
		if got[c.Name] != c.Want {
			wrong = append(wrong, fmt.Sprintf("%s %d, want %d", c.Name, got[c.Name], c.Want))
		}
	}
	if len(wrong) == 0 {
		o.Met = true
		return
	}
	o.Detail = strings.Join(wrong, "; ")
	o.Diff = append(o.Diff, fmt.Sprintf("expected: %s", describe(e)),
		fmt.Sprintf("got:      offered %d, answered %d, abandoned %d, callback %d, waiting %d",
			st.Offered, st.Answered, st.Abandoned, st.Callback, got["waiting"]),
		"the interactions of queue "+e.Queue+":")
	var lines []int
	for i, x := range ev.rec.Events {
		switch x.Type {
		case tserver.EventQueued, tserver.EventEstablished, tserver.EventAbandoned, tserver.EventDiverted:
			if x.Queue == e.Queue {
				lines = append(lines, i)
			}
		}
	}
	o.Diff = append(o.Diff, ev.eventLines(lines, 40, false)...)
	o.Events = ev.records(lines)
}

func (ev *evaluation) checkAgent(e *Expectation, o *Outcome) {
	st, err := ev.c.AgentState(e.Agent)
	if err != nil {
		o.Detail = err.Error()
		return
	}
	if st == e.State {
		o.Met = true
		return
	}
	o.Detail = fmt.Sprintf("%s, want %s", st, e.State)
	o.Diff = append(o.Diff, "expected: agent "+ev.agentName(e.Agent)+" "+e.State.String()+" at the end",
		"got:      "+st.String(), "the last events of agent "+ev.agentName(e.Agent)+":")
	list := ev.byAgent[e.Agent]
	o.Diff = append(o.Diff, ev.eventLines(list[max(0, len(list)-15):], 15, false)...)
	o.Events = ev.records(list[max(0, len(list)-15):])
}

// maxRecords bounds the events and lines of a failure in the JSON.
const maxRecords = 100

// records returns the events at indexes list (the first maxRecords).
func (ev *evaluation) records(list []int) []EventRecord {
	out := make([]EventRecord, 0, min(len(list), maxRecords))
	for _, i := range list[:min(len(list), maxRecords)] {
		x := &ev.rec.Events[i]
		out = append(out, EventRecord{AtS: x.At.Seconds(), Interaction: x.Interaction, Event: x.Type.String(),
			Agent: x.Agent, Queue: x.Queue, Reason: x.Reason})
	}
	return out
}

// heardRecords returns the last maxRecords lines chat heard.
func (ev *evaluation) heardRecords(chat string) []HeardRecord {
	list := ev.heard[chat]
	list = list[max(0, len(list)-maxRecords):]
	out := make([]HeardRecord, 0, len(list))
	for _, i := range list {
		out = append(out, HeardRecord{AtS: ev.rec.Heard[i].At.Seconds(), Text: ev.rec.Heard[i].Text})
	}
	return out
}

// eventWords writes one event in a line: what, to whom, where, why.
func (ev *evaluation) eventWords(x *Observed) string {
	parts := []string{x.Type.String()}
	if x.Agent != "" {
		parts = append(parts, "agent "+ev.agentName(x.Agent))
	}
	if x.Queue != "" {
		parts = append(parts, "queue "+x.Queue)
	}
	if x.Type == tserver.EventRouteRequest && x.DNIS != "" {
		parts = append(parts, "at "+x.DNIS)
	}
	if x.Reason != "" {
		parts = append(parts, "reason "+x.Reason)
	}
	return strings.Join(parts, " ")
}

// eventLines writes the events at indexes list, the first limit of them,
// each with its time (and interaction, unless same says they share one).
func (ev *evaluation) eventLines(list []int, limit int, same bool) []string {
	if len(list) == 0 {
		return []string{"  (nothing)"}
	}
	var out []string
	for n, i := range list {
		if n == limit {
			out = append(out, fmt.Sprintf("  ... and %d more", len(list)-limit))
			break
		}
		x := &ev.rec.Events[i]
		who := ""
		if !same && x.Interaction != "" {
			who = x.Interaction + " "
		}
		out = append(out, fmt.Sprintf("  %8s  %s%s", dur(x.At), who, ev.eventWords(x)))
	}
	return out
}

// heardLines writes the last limit lines chat heard.
func (ev *evaluation) heardLines(chat string, limit int) []string {
	list := ev.heard[chat]
	if len(list) == 0 {
		return []string{"  (nothing)"}
	}
	var out []string
	if len(list) > limit {
		out = append(out, fmt.Sprintf("  ... %d earlier lines", len(list)-limit))
		list = list[len(list)-limit:]
	}
	for _, i := range list {
		h := ev.rec.Heard[i]
		out = append(out, fmt.Sprintf("  %8s  %q", dur(h.At), h.Text))
	}
	return out
}

// parseConstraint reads an agent's client version constraint ("*",
// ">=2.10", "2.14") as routing does.
func parseConstraint(s string) (func(string) bool, error) {
	vc, err := config.ParseConstraint(s)
	if err != nil {
		return nil, err
	}
	return vc.Allows, nil
}
