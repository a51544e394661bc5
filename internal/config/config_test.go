package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// example is the scenario of the package brief: one queue, thirty agents,
// Poisson traffic and a long run.
const example = `queues: [{name: support, media: voice, sl_target: 20s}]
agents: [{group: tier1, count: 30, skills: {support: 5}}]
traffic:
  - {queue: support, arrivals: {poisson: {per_hour: 360}}, handle: {exponential: {mean: 240s}},
     patience: {exponential: {mean: 120s}}}
run: {duration: 200h, warmup: 2h, replications: 10, seed: 7}
`

// MustParse parses src as center.yaml and fails the test on error.
func MustParse(tb testing.TB, src string) *File {
	tb.Helper()
	f, err := Parse("center.yaml", []byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return f
}

// errorsOf returns the *Error values in err, which Parse joins.
func errorsOf(tb testing.TB, err error) []*Error {
	tb.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*Error
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) {
			tb.Fatalf("error %q (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestParseExample(t *testing.T) {
	f := MustParse(t, example)
	if f.Path != "center.yaml" {
		t.Errorf("Path = %q, want center.yaml", f.Path)
	}
	q := f.Queues[0]
	wantQueue := Queue{Name: "support", Media: "voice", Skill: "support", MinLevel: 1,
		SLTarget: Duration(20 * time.Second), Strategy: "longest_idle"}
	if !reflect.DeepEqual(q, wantQueue) {
		t.Errorf("queue = %+v, want %+v", q, wantQueue)
	}
	g := f.Agents[0]
	wantCapacity := map[string]int{"voice": 1, "voip": 1, "im": 1, "callback": 1}
	if g.Weight != 1 || g.Ready == nil || !*g.Ready || !reflect.DeepEqual(g.Capacity, wantCapacity) {
		t.Errorf("agent group defaults: weight %d, ready %v, capacity %v", g.Weight, g.Ready, g.Capacity)
	}
	tr := f.Traffic[0]
	if tr.Media != "voice" || tr.Arrivals.Poisson.PerHour != 360 ||
		tr.Handle.Exponential.Mean.D() != 4*time.Minute || tr.Patience.Exponential.Mean.D() != 2*time.Minute {
		t.Errorf("traffic = %+v", tr)
	}
	wantRun := Run{Duration: Duration(200 * time.Hour), Warmup: Duration(2 * time.Hour), Replications: 10, Seed: 7}
	if f.Run != wantRun {
		t.Errorf("run = %+v, want %+v", f.Run, wantRun)
	}
	if n := len(f.ExpandAgents()); n != 30 {
		t.Errorf("ExpandAgents gave %d agents, want 30", n)
	}
}

func TestLoadFull(t *testing.T) {
	f, err := Load("testdata/center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "testdata/center.yaml" || f.Center.Name != "acme" {
		t.Errorf("path %q, center %q", f.Path, f.Center.Name)
	}
	support, billing, chat := f.Queues[0], f.Queues[1], f.Queues[2]
	if support.MinLevel != 2 || support.SLTarget.D() != 30*time.Second || support.Strategy != "highest_skill" ||
		*support.Aging != (Aging{Every: Duration(30 * time.Second), Step: 1, Max: 5}) || len(support.Overflow) != 3 {
		t.Errorf("support = %+v", support)
	}
	if billing.Skill != "billing" || billing.Media != "voice" || billing.SLTarget.D() != 20*time.Second {
		t.Errorf("billing defaults = %+v", billing)
	}
	if chat.Skill != "support" || chat.Media != "im" {
		t.Errorf("chat = %+v", chat)
	}
	if f.RoutePoints[0].Timeout.D() != 5*time.Second || f.RoutePoints[1].Timeout.D() != 2*time.Second {
		t.Errorf("route point timeouts %v, %v", f.RoutePoints[0].Timeout, f.RoutePoints[1].Timeout)
	}
	alice := f.Agents[0]
	wantCapacity := map[string]int{"voice": 1, "voip": 1, "im": 3, "callback": 0}
	if !reflect.DeepEqual(alice.Capacity, wantCapacity) || alice.Weight != 3 || alice.Clients["pidgin"] != ">=2.10" {
		t.Errorf("alice = %+v", alice)
	}
	if *f.Agents[1].Ready {
		t.Errorf("tier1 ready = true, want false")
	}
	// Traffic to a route point takes the media of the route point's queue.
	if f.Traffic[0].Media != "voice" || f.Traffic[1].Media != "im" {
		t.Errorf("traffic media %q, %q; want voice, im", f.Traffic[0].Media, f.Traffic[1].Media)
	}
	if f.Traffic[1].Handle.Constant.Value.D() != 90*time.Second {
		t.Errorf("constant handle = %v, want 1m30s", f.Traffic[1].Handle.Constant.Value)
	}
	if f.Run.Replications != 1 {
		t.Errorf("replications = %d, want the default 1", f.Run.Replications)
	}
	if len(f.Users) != 4 || f.Users[1].Name != "sup1" || f.Users[1].Roles[0] != "supervisor" ||
		f.Users[2].TokenEnv != "CCSWITCH_ROUTER_TOKEN" || len(alice.Roles) != 1 || alice.Roles[0] != "supervisor" {
		t.Errorf("users %+v, alice's roles %q", f.Users, alice.Roles)
	}
}

func TestParseNullTakesDefault(t *testing.T) {
	f := MustParse(t, "queues:\n  - {name: a, sl_target: ~, min_level: ~}\nrun: {replications: null}\n")
	if q := f.Queues[0]; q.SLTarget.D() != 20*time.Second || q.MinLevel != 1 || f.Run.Replications != 1 {
		t.Errorf("queue %+v, run %+v; want the defaults", q, f.Run)
	}
}

func TestParseReportsAtMostMaxErrors(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"validation", "queues: [" + strings.Repeat("{name: a, strategy: x},", 30) + "]"},
		{"decoding", "queues: [" + strings.Repeat("{colour: red},", 30) + "]"},
	} {
		_, err := Parse("center.yaml", []byte(tc.src))
		errs := errorsOf(t, err)
		if len(errs) != maxErrors+1 {
			t.Fatalf("%s: got %d errors, want %d", tc.name, len(errs), maxErrors+1)
		}
		if last := errs[maxErrors].Error(); !strings.HasSuffix(last, " more errors not shown") {
			t.Errorf("%s: last error %q, want a count of the rest", tc.name, last)
		}
	}
}

// TestREADMESchema keeps the schema example of README.md valid.
func TestREADMESchema(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(readme), "## Schema\n\n```yaml\n")
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no yaml block under ## Schema in README.md")
	}
	if _, err := Parse("README.md", []byte(src)); err != nil {
		t.Errorf("README example: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	if err == nil || !strings.Contains(err.Error(), "no-such-file.yaml") {
		t.Fatalf("Load = %v, want an error naming the file", err)
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{"c.yaml", 12, 15, "queues[0].strategy", "bad"}, "c.yaml:12:15: queues[0].strategy: bad"},
		{Error{"c.yaml", 3, 0, "", "did not find expected key"}, "c.yaml:3: did not find expected key"},
		{Error{"c.yaml", 0, 0, "", "empty configuration"}, "c.yaml: empty configuration"},
		{Error{"", 0, 0, "run", "bad"}, "run: bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestParseStrategyErrorMessage(t *testing.T) {
	_, err := Parse("center.yaml", []byte("queues:\n  - name: support\n    strategy: fastest\n"))
	want := `center.yaml:3:15: queues[0].strategy: unknown strategy "fastest" (want one of longest_idle, round_robin, ` +
		`fewest_interactions, least_talk_time, top_down, highest_skill, weighted_random)`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse error:\n got %v\nwant %s", err, want)
	}
}

// TestParseErrors has a failing case for each rule. Each source yields
// exactly one error; line 1 is the line after the opening backquote. A
// missing field is named in full but reported at the line of its parent.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string
		field string
		line  int
		msg   string // part of the message
	}{
		// Decoding.
		{"syntax", `
queues:
  - name: support
    media: voice: loud
`, "", 3, "mapping values are not allowed in this context"},
		// The YAML library places this one at the start of the enclosing block.
		{"syntax in block", `
queues:
  - name: support
   media: voice
`, "", 2, "did not find expected '-' indicator"},
		{"tab", "queues:\n\t- name: x\n", "", 2, "indent with spaces, not tabs"},
		{"unknown anchor", `
queues: [*base]
`, "", 0, "unknown anchor 'base' referenced"},
		{"unknown field", `
queues:
  - name: support
    colour: red
`, "queues[0].colour", 3, `unknown field "colour"`},
		{"unknown top-level field", `
queue: [{name: x}]
`, "queue", 1, `unknown field "queue"`},
		{"wrong type", `
agents:
  - {id: a, count: many}
`, "agents[0].count", 2, `want a whole number, got "many"`},
		{"list for mapping", `
run: [1, 2]
`, "run", 1, "want a mapping, got a list"},
		{"file is a list", `
- name: x
`, "", 1, "want a mapping, got a list"},
		{"duplicate key", `
queues:
  - name: a
    name: b
`, "queues[0].name", 3, `key "name" given twice`},
		{"bad duration", `
queues:
  - {name: a, sl_target: soon}
`, "queues[0].sl_target", 2, `invalid duration "soon"`},
		{"negative duration", `
queues:
  - name: a
    aging: {every: -5s, step: 1, max: 2}
`, "queues[0].aging.every", 3, `negative duration "-5s"`},
		{"empty", "", "", 0, "empty configuration"},
		{"callback digit not a key", `
queues:
  - {name: support, callback_digit: "12"}
`, "queues[0].callback_digit", 2, `"12" is not a key 0-9`},
		{"callback digit on a chat queue", `
queues:
  - {name: support, media: im, callback_digit: "1"}
`, "queues[0].callback_digit", 2, "only voice and voip queues take calls, not im"},
		{"only comments", "# nothing\n", "", 0, "empty configuration"},
		{"two documents", `
queues: [{name: a}]
---
queues: [{name: b}]
`, "", 2, "more than one YAML document"},

		// Media.
		{"queue media", `
queues:
  - {name: a, media: fax}
`, "queues[0].media", 2, `unknown media "fax" (want one of voice, voip, im, callback)`},
		{"traffic media", `
queues: [{name: a}]
traffic:
  - queue: a
    media: smoke
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].media", 4, `unknown media "smoke"`},
		{"traffic media differs from queue", `
queues: [{name: a}]
traffic:
  - queue: a
    media: im
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].media", 4, `im does not match queue "a" (voice)`},
		{"capacity key", `
agents:
  - id: a
    capacity: {voice: 1, fax: 2}
`, "agents[0].capacity.fax", 3, `unknown media "fax"`},
		{"block key", `
agents:
  - id: a
    block:
      fax: [voice]
`, "agents[0].block.fax", 4, `unknown media "fax"`},
		{"block value", `
agents:
  - id: a
    block:
      voice: [im, fax]
`, "agents[0].block.voice[1]", 4, `unknown media "fax"`},

		// Names and numbers.
		{"queue without name", `
queues:
  - name: a
  - media: im
`, "queues[1].name", 3, "required"},
		{"duplicate queue", `
queues:
  - name: a
  - name: a
`, "queues[1].name", 3, `duplicate queue name "a" (also queues[0])`},
		{"queue number used by route point", `
queues:
  - {name: a, number: "100"}
route_points:
  - {number: "100", queue: a}
`, "route_points[0].number", 4, `number "100" already used by queues[0].number`},
		{"route point number used twice", `
queues: [{name: a}]
route_points:
  - {number: "5000", queue: a}
  - {number: "5000", queue: a}
`, "route_points[1].number", 4, `number "5000" already used by route_points[0].number`},
		{"agent number used by queue", `
queues:
  - {name: a, number: "1001"}
agents:
  - {id: bob, number: "1001"}
`, "agents[0].number", 4, `number "1001" already used by queues[0].number`},
		{"group numbers overlap an agent", `
agents:
  - {id: bob, number: "1003"}
  - {group: t, count: 5, first_number: 1001}
`, "agents[1].first_number", 3, `number "1003" already used by agents[0]`},
		{"agent id used twice", `
agents:
  - {id: tier1-01}
  - {group: tier1, count: 30}
`, "agents[1].group", 3, `agent id "tier1-01" already used by agents[0]`},
		{"single agents with the same id", `
agents:
  - id: bob
  - id: bob
`, "agents[1].id", 3, `agent id "bob" already used by agents[0]`},
		{"id and group", `
agents:
  - {id: bob, group: tier1, count: 2}
`, "agents[0].id", 2, "set either id, or group and count, not both"},
		{"neither id nor group", `
agents:
  - {skills: {a: 1}}
`, "agents[0]", 2, "needs id, or group and count"},
		{"group without count", `
agents:
  - {group: tier1}
`, "agents[0].count", 2, `group "tier1" needs count >= 1`},
		{"group count too large", `
agents:
  - {group: tier1, count: 1000000}
`, "agents[0].count", 2, "too many"},
		{"first_number for one agent", `
agents:
  - {id: bob, first_number: 1001}
`, "agents[0].first_number", 2, "give a single agent a number"},
		{"number for a group", `
agents:
  - {group: t, count: 2, number: "1001"}
`, "agents[0].number", 2, "number a group with first_number"},

		// Where agents chat.
		{"unknown chat_via", `
agents:
  - id: bob
    number: "1001"
    chat_via: phone
`, "agents[0].chat_via", 4, `unknown chat_via "phone" (want cti or sip)`},
		{"empty chat_via", `
agents:
  - {id: bob, chat_via: ""}
`, "agents[0].chat_via", 2, `unknown chat_via ""`},
		{"chat_via sip without number", `
agents:
  - {id: bob, password: secret}
  - {id: cat, password: secret, chat_via: sip}
`, "agents[1].chat_via", 3, "sip needs the agent's number"},
		{"chat_via sip for a group without numbers", `
agents:
  - {group: night, count: 2, password: secret, chat_via: sip}
`, "agents[0].chat_via", 2, "sip needs first_number"},
		{"chat_via sip without password", `
agents:
  - id: bob
    number: "1001"
    chat_via: sip
`, "agents[0].chat_via", 4, "sip needs a password"},

		// Skills and levels.
		{"skill level", `
queues: [{name: support}]
agents:
  - {id: a, skills: {support: 5}}
  - {id: b, skills: {support: 10}}
  - {id: c, skills: {support: 11}}
`, "agents[2].skills.support", 5, "level 11 out of range 1..10"},
		{"skill level zero", `
agents:
  - id: a
    skills:
      support: 0
`, "agents[0].skills.support", 4, "level 0 out of range 1..10"},
		{"queue min_level zero", `
queues:
  - name: a
    min_level: 0
`, "queues[0].min_level", 3, "level 0 out of range"},
		{"overflow min_level", `
queues:
  - name: a
    overflow:
      - {after: 30s, min_level: 11}
`, "queues[0].overflow[0].min_level", 4, "level 11 out of range"},
		{"undeclared agent skill", `
skills: [support]
agents:
  - id: a
    skills: {support: 3, billing: 2}
`, "agents[0].skills.billing", 4, `skill "billing" not declared in skills`},
		{"undeclared queue skill", `
skills: [support]
queues:
  - name: a
    skill: sales
`, "queues[0].skill", 4, `skill "sales" not declared`},
		{"queue name as undeclared skill", `
skills: [support]
queues:
  - name: sales
`, "queues[0].name", 3, `skill "sales" (the queue's name; set skill for another) not declared`},
		{"undeclared overflow skill", `
skills: [support]
queues:
  - name: support
    overflow:
      - {after: 1m, add_skill: sales}
`, "queues[0].overflow[0].add_skill", 5, `skill "sales" not declared`},
		{"skill declared twice", `
skills: [a, b, a]
`, "skills[2]", 1, `skill "a" declared twice`},

		// Strategy and aging.
		{"strategy", `
queues:
  - {name: a, strategy: fastest}
`, "queues[0].strategy", 2, `unknown strategy "fastest"`},
		{"aging every", `
queues:
  - name: a
    aging: {step: 1, max: 3}
`, "queues[0].aging.every", 3, "must be > 0"},
		{"aging step", `
queues:
  - name: a
    aging:
      every: 10s
      step: 0
      max: 3
`, "queues[0].aging.step", 5, "0 must be >= 1"},
		{"aging max", `
queues:
  - name: a
    aging:
      every: 10s
      step: 2
      max: 1
`, "queues[0].aging.max", 6, "1 must be >= step (2)"},

		// Overflow.
		{"overflow after", `
queues:
  - name: a
    overflow:
      - {after: 0s, min_level: 1}
`, "queues[0].overflow[0].after", 4, "must be > 0"},
		{"overflow without action", `
queues:
  - name: a
    overflow:
      - after: 30s
`, "queues[0].overflow[0]", 4, "needs an action"},
		{"overflow with two actions", `
queues:
  - name: a
  - name: b
    overflow:
      - {after: 30s, to_queue: a, min_level: 1}
`, "queues[1].overflow[0].to_queue", 5, "to_queue cannot be combined"},
		{"overflow to unknown queue", `
queues:
  - name: a
  - name: b
    overflow:
      - {after: 30s, to_queue: c}
`, "queues[1].overflow[0].to_queue", 5, `unknown queue "c"`},
		{"overflow to itself", `
queues:
  - name: a
    overflow:
      - {after: 30s, to_queue: a}
`, "queues[0].overflow[0].to_queue", 4, `queue "a" overflows to itself`},
		{"overflow to other media", `
queues:
  - name: a
    overflow:
      - {after: 30s, to_queue: chat}
  - {name: chat, media: im}
`, "queues[0].overflow[0].to_queue", 4, `queue "chat" takes im, not voice`},
		{"overflow out of order", `
queues:
  - name: a
    overflow:
      - {after: 60s, min_level: 1}
      - {after: 30s, add_skill: b}
`, "queues[0].overflow[1].after", 5, "30s comes before overflow[0].after (1m0s)"},

		// Route points.
		{"route point without number", `
queues: [{name: a}]
route_points:
  - {queue: a}
`, "route_points[0].number", 3, "required"},
		{"route point to unknown queue", `
queues: [{name: a}]
route_points:
  - {number: "5000", queue: b}
`, "route_points[0].queue", 3, `unknown queue "b"`},

		// Agents.
		{"negative capacity", `
agents:
  - id: a
    capacity: {im: -1}
`, "agents[0].capacity.im", 3, "-1 must be >= 0"},
		{"weight", `
agents:
  - id: a
    weight: 0
`, "agents[0].weight", 3, "0 must be >= 1"},
		{"client constraint", `
agents:
  - id: a
    clients:
      pidgin: ">=2.x"
`, "agents[0].clients.pidgin", 4, `version constraint ">=2.x"`},

		// Traffic.
		{"traffic to queue and route point", `
queues: [{name: a}]
route_points: [{number: "5000", queue: a}]
traffic:
  - queue: a
    route_point: "5000"
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].route_point", 5, "set either queue or route_point, not both"},
		{"traffic to nowhere", `
traffic:
  - arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0]", 2, "needs queue or route_point"},
		{"traffic to unknown queue", `
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].queue", 2, `unknown queue "a"`},
		{"traffic to unknown route point", `
traffic:
  - route_point: "5000"
    media: voice
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].route_point", 2, `unknown route point "5000"`},
		{"traffic without arrivals", `
queues: [{name: a}]
traffic:
  - queue: a
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].arrivals", 3, "needs poisson"},
		{"traffic rate", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 0}}
    handle: {constant: {value: 1m}}
run: {duration: 1h}
`, "traffic[0].arrivals.poisson.per_hour", 4, "must be a number > 0"},
		{"traffic without handle", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
run: {duration: 1h}
`, "traffic[0].handle", 3, "needs exactly one of exponential"},
		{"traffic with two handles", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}, exponential: {mean: 1m}}
run: {duration: 1h}
`, "traffic[0].handle", 5, "needs exactly one of exponential"},
		{"traffic handle mean", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle:
      exponential: {mean: 0s}
run: {duration: 1h}
`, "traffic[0].handle.exponential.mean", 6, "must be > 0"},
		{"traffic patience value", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
    patience:
      constant: {value: 0}
run: {duration: 1h}
`, "traffic[0].patience.constant.value", 7, "must be > 0"},
		{"traffic client", `
queues: [{name: a, media: im}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
    client: pidgin/two
run: {duration: 1h}
`, "traffic[0].client", 6, `got "pidgin/two"`},

		// Run.
		{"run without duration", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
run: {warmup: 1h}
`, "run.duration", 6, "must be > 0 to simulate traffic"},
		{"warmup as long as the run", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
run:
  duration: 1h
  warmup: 60m
`, "run.warmup", 8, "1h0m0s must be shorter than run.duration (1h0m0s)"},
		{"no replications", `
run: {replications: 0}
`, "run.replications", 1, "0 out of range 1..1000"},
		{"too many replications", `
run:
  replications: 1001
`, "run.replications", 2, "1001 out of range 1..1000"},
		{"interval that does not divide a day", `
run:
  interval: 7m
`, "run.interval", 2, "7m0s must be at least 1m0s and divide a day"},
		{"interval under a minute", `
run: {interval: 30s}
`, "run.interval", 1, "30s must be at least 1m0s and divide a day"},
		{"too many intervals", `
queues: [{name: a}]
traffic:
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
run: {duration: 100h, interval: 1m}
`, "run.interval", 6, "1m0s cuts run.duration (100h0m0s) into more than 5000 intervals"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("center.yaml", []byte(strings.TrimPrefix(tc.src, "\n")))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %s", tc.field)
			}
			if f != nil {
				t.Errorf("Parse returned a File with its error")
			}
			errs := errorsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			e := errs[0]
			if e.File != "center.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q\n(line %d, field %q, msg %q)\nwant line %d, field %q, message with %q",
					err, e.Line, e.Field, e.Msg, tc.line, tc.field, tc.msg)
			}
		})
	}
}

// TestLoadRefusesAHugeFile: a 50 MB center file is refused quickly,
// having read no more than the cap, with an error naming the file.
func TestLoadRefusesAHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("  - {name: q, media: voice}\n")
	if _, err := f.WriteString("queues:\n"); err != nil {
		t.Fatal(err)
	}
	for written := 0; written < 50<<20; written += len(line) {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(path)
	runtime.ReadMemStats(&after)
	var e *Error
	if !errors.As(err, &e) || e.File != path || !strings.Contains(err.Error(), "larger than 2 MiB") {
		t.Fatalf("error %v: want the size refused, naming the file", err)
	}
	// Bounded memory: the cap and change, not the 50 MB file (nor the
	// gigabytes decoding it would take).
	if got := after.TotalAlloc - before.TotalAlloc; got > 8*MaxFileBytes {
		t.Errorf("refusing it allocated %d bytes", got)
	}
}
