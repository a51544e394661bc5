package tserver

// Helpers of the table-driven unit tests (router_test.go, agent_test.go,
// requests_test.go, ewt_test.go). Every name starts with "ut" so that other
// test files of the package can define their own helpers freely.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// newTestServer builds the center described by yaml (validated by config.Parse)
// on a virtual clock that starts at clock.Epoch. opts.Clock is replaced by
// that clock.
func newTestServer(tb testing.TB, yaml string, opts Config) (*Server, *clock.Virtual) {
	tb.Helper()
	f, err := config.Parse("center.yaml", []byte(yaml))
	if err != nil {
		tb.Fatalf("config.Parse: %v", err)
	}
	clk := clock.NewVirtual(clock.Epoch)
	opts.Clock = clk
	s, err := New(f, opts)
	if err != nil {
		tb.Fatalf("tserver.New: %v", err)
	}
	return s, clk
}

// recorder collects the CTI events of a server's bus.
type recorder struct {
	events []Event
	cancel func()
}

// record subscribes a new recorder to s.
func record(s *Server) *recorder {
	r := &recorder{}
	r.cancel = s.Subscribe(func(e Event) { r.events = append(r.events, e) })
	return r
}

// Reset forgets the events recorded so far.
func (r *recorder) Reset() { r.events = nil }

// Mark records a marker line "-- label" among the events, to show in a
// transcript that nothing happened before some moment.
func (r *recorder) Mark(label string) { r.events = append(r.events, Event{Reason: label}) }

// Types returns the types of the recorded events, in order.
func (r *recorder) Types() []EventType {
	out := make([]EventType, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

// Lines returns the recorded events as eventLine writes them.
func (r *recorder) Lines() []string {
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = eventLine(e)
	}
	return out
}

// ConnTypes returns the types of the recorded events of interaction id.
func (r *recorder) ConnTypes(id pbx.ConnID) []EventType {
	var out []EventType
	for _, e := range r.events {
		if e.ConnID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

// eventLine writes an event compactly, for transcripts:
// "EventRinging conn=1 agent=alice queue=support reason=...".
func eventLine(e Event) string {
	if e.Type == 0 {
		return "-- " + e.Reason
	}
	var b strings.Builder
	b.WriteString(e.Type.String())
	if e.ConnID != 0 {
		fmt.Fprintf(&b, " conn=%d", uint64(e.ConnID))
	}
	if e.AgentID != "" {
		b.WriteString(" agent=" + e.AgentID)
	}
	if e.Queue != "" {
		b.WriteString(" queue=" + e.Queue)
	}
	if e.Reason != "" {
		b.WriteString(" reason=" + e.Reason)
	}
	return b.String()
}

// mustArrive brings in an interaction and fails the test on error.
func mustArrive(tb testing.TB, s *Server, in Arrival) pbx.ConnID {
	tb.Helper()
	id, err := s.Arrive(&in)
	if err != nil {
		tb.Fatalf("arrive at %s: %v", in.DNIS, err)
	}
	return id
}

// mustAgent returns the agent named id.
func mustAgent(tb testing.TB, s *Server, id string) *Agent {
	tb.Helper()
	a, ok := s.Agent(id)
	if !ok {
		tb.Fatalf("no agent %q", id)
	}
	return a
}

// mustContact returns the live interaction id.
func mustContact(tb testing.TB, s *Server, id pbx.ConnID) *Contact {
	tb.Helper()
	c := s.Contact(id)
	if c == nil {
		tb.Fatalf("interaction %d is gone", uint64(id))
	}
	return c
}

// mustStats returns the statistics of queue name.
func mustStats(tb testing.TB, s *Server, name string) QueueStats {
	tb.Helper()
	st, err := s.QueueStats(name)
	cctest.MustOK(tb, err, "stats "+name)
	return st
}

// env is a center on a virtual clock with a recorder on its bus: what
// most tests start from.
type env struct {
	tb  testing.TB
	s   *Server
	clk *clock.Virtual
	rec *recorder
}

// newEnv builds the center described by yaml; opts, if given, are its
// options (the clock is always a new virtual one).
func newEnv(tb testing.TB, yaml string, opts ...Config) *env {
	tb.Helper()
	var o Config
	if len(opts) > 0 {
		o = opts[0]
	}
	s, clk := newTestServer(tb, yaml, o)
	return &env{tb: tb, s: s, clk: clk, rec: record(s)}
}

func (e *env) must(err error, what string) {
	e.tb.Helper()
	cctest.MustOK(e.tb, err, what)
}

// advance moves virtual time forward by d, running what falls due.
func (e *env) advance(d time.Duration) { e.clk.Advance(d) }

// arrive brings in an interaction of media m at dnis.
func (e *env) arrive(dnis string, m pbx.Media) pbx.ConnID {
	e.tb.Helper()
	return mustArrive(e.tb, e.s, Arrival{Media: m, DNIS: dnis, ANI: "5550100"})
}

// call brings in a voice call at dnis.
func (e *env) call(dnis string) pbx.ConnID {
	e.tb.Helper()
	return e.arrive(dnis, pbx.Voice)
}

// agent returns agent id.
func (e *env) agent(id string) *Agent {
	e.tb.Helper()
	return mustAgent(e.tb, e.s, id)
}

// state returns agent id's state.
func (e *env) state(id string) AgentState {
	e.tb.Helper()
	return e.agent(id).State()
}

// login logs each agent in and makes it ready, in order, at the current
// time.
func (e *env) login(ids ...string) {
	e.tb.Helper()
	for _, id := range ids {
		e.must(e.s.AgentLogin(id, ""), "login "+id)
		e.must(e.s.AgentReady(id), "ready "+id)
	}
}

// agentOf returns the ID of the agent interaction id is offered to or
// connected with, "" when none (or when the interaction is over).
func (e *env) agentOf(id pbx.ConnID) string {
	c := e.s.Contact(id)
	if c == nil || c.Agent() == nil {
		return ""
	}
	return c.Agent().ID
}

// connState returns the state of interaction id; Released or Abandoned
// once the server has forgotten it (which of the two is not known here,
// so the ok result is false).
func (e *env) connState(id pbx.ConnID) (pbx.State, bool) {
	c := e.s.Contact(id)
	if c == nil {
		return pbx.Released, false
	}
	return c.State, true
}

// answer answers interaction id.
func (e *env) answer(id pbx.ConnID) {
	e.tb.Helper()
	e.must(e.s.AnswerCall(id), "answer")
}

// release ends interaction id.
func (e *env) release(id pbx.ConnID) {
	e.tb.Helper()
	e.must(e.s.ReleaseCall(id), "release")
}

// give gives agent id an established interaction of media m, through a
// direct arrival at the agent's extension, and returns it.
func (e *env) give(agentID string, m pbx.Media) pbx.ConnID {
	e.tb.Helper()
	a := e.agent(agentID)
	id := e.arrive(a.HomeDN, m)
	if got := e.agentOf(id); got != agentID {
		e.tb.Fatalf("direct %s to %s rings %q", m, agentID, got)
	}
	e.answer(id)
	return id
}

// handle has agent id take a voice call at its extension and talk for d;
// the call ends d later (the clock moves on by d).
func (e *env) handle(agentID string, d time.Duration) {
	e.tb.Helper()
	id := e.give(agentID, pbx.Voice)
	e.advance(d)
	e.release(id)
}

// ringing returns the interactions ringing at agent id, in arrival order.
func (e *env) ringing(agentID string) []pbx.ConnID {
	var out []pbx.ConnID
	for id, c := range e.s.contacts.all() {
		if c.State == pbx.Ringing && c.agent != nil && c.agent.ID == agentID {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// serveNext answers the single interaction ringing at agent id and ends it
// at once, returning it.
func (e *env) serveNext(agentID string) pbx.ConnID {
	e.tb.Helper()
	r := e.ringing(agentID)
	if len(r) != 1 {
		e.tb.Fatalf("%d interactions ring at %s, want 1", len(r), agentID)
	}
	e.answer(r[0])
	e.release(r[0])
	return r[0]
}

// wantEqual fails the test when got and want differ, showing both.
func wantEqual[T comparable](tb testing.TB, what string, got, want []T) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// wantEqualLines fails the test when two transcripts differ, one line each.
func wantEqualLines(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Fatalf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
