package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the program as main would and returns stdout, stderr and
// the error that decides the exit code.
func runMain(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := NewMain(&out, &errOut)
	err := m.ParseFlags(context.Background(), args)
	if err == nil {
		err = m.Run(context.Background())
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const smallScenario = `queues: [{name: support, media: voice, sl_target: 20s}]
agents: [{group: tier1, count: 10, skills: {support: 5}}]
traffic:
  - {queue: support, arrivals: {poisson: {per_hour: 120}}, handle: {exponential: {mean: 240s}},
     patience: {exponential: {mean: 120s}}}
run: {duration: 20h, warmup: 1h, replications: 6, seed: 7}
`

func TestSimJSONIsByteIdentical(t *testing.T) {
	p := writeFile(t, "s.yaml", smallScenario)
	first, _, err := runMain(t, "sim", "--json", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"sim", "--json", p},
		{"sim", "--json", "--parallel", "1", p},
		{"sim", "--json", "--parallel", "5", p},
	} {
		again, _, err := runMain(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("%v gave different bytes:\n%s\nvs\n%s", args, again, first)
		}
	}
	other, _, err := runMain(t, "sim", "--json", "--seed", "8", p)
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Fatal("another seed gave the same result")
	}
}

func TestSimJSONKeys(t *testing.T) {
	p := writeFile(t, "s.yaml", smallScenario)
	out, _, err := runMain(t, "sim", "--json", p)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"queues", "agents", "replications", "events"} {
		if _, ok := r[k]; !ok {
			t.Errorf("missing top-level key %q", k)
		}
	}
	if r["replications"].(float64) != 6 || r["events"].(float64) <= 0 {
		t.Errorf("replications %v events %v", r["replications"], r["events"])
	}
	if _, ok := r["agents"].(map[string]any)["occupancy"]; !ok {
		t.Error("missing agents.occupancy")
	}
	q := r["queues"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "media", "offered", "answered", "abandoned", "pw", "asa_s", "service_level", "abandon_rate", "ci95"} {
		if _, ok := q[k]; !ok {
			t.Errorf("missing queues[0].%s", k)
		}
	}
	ci := q["ci95"].(map[string]any)
	for _, k := range []string{"pw", "asa_s", "service_level", "abandon_rate"} {
		if _, ok := ci[k]; !ok {
			t.Errorf("missing queues[0].ci95.%s", k)
		}
	}
	if q["name"] != "support" || q["media"] != "voice" {
		t.Errorf("queue %v %v", q["name"], q["media"])
	}
	if q["offered"].(float64) != q["answered"].(float64)+q["abandoned"].(float64) {
		t.Errorf("offered %v != answered %v + abandoned %v", q["offered"], q["answered"], q["abandoned"])
	}
}

func TestSimTable(t *testing.T) {
	out, _, err := runMain(t, "sim", "../../examples/demo-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"support", "billing", "chat", "agent occupancy"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestBadUsageAndInput(t *testing.T) {
	broken := writeFile(t, "broken.yaml", "queues:\n  - {name: support, media: voice, strategy: fastest}\n")
	noTraffic := writeFile(t, "center.yaml", "queues: [{name: support}]\n")
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"dance"}, `unknown command "dance"`},
		{"sim without file", []string{"sim"}, "want one scenario file, got 0"},
		{"sim missing file", []string{"sim", "/nonexistent/x.yaml"}, "x.yaml"},
		{"sim broken file", []string{"sim", broken}, "broken.yaml:2"},
		{"sim names the field", []string{"sim", broken}, "queues[0].strategy"},
		{"sim no traffic", []string{"sim", noTraffic}, "no traffic"},
		{"sim bad flag", []string{"sim", "--bogus", broken}, "bogus"},
		{"erlang missing", []string{"erlang"}, "--agents, --per-hour, --handle"},
		{"erlang unstable", []string{"erlang", "--agents", "2", "--per-hour", "60", "--handle", "10m"}, "erlang: unstable queue: 10 erlangs offered"},
		{"erlang negative handle", []string{"erlang", "--agents", "2", "--per-hour", "60", "--handle", "-10"}, `invalid argument "-10" for "--handle" flag: must not be negative`},
		{"erlang handle not a duration", []string{"erlang", "--agents", "2", "--per-hour", "60", "--handle", "4 min"}, `"--handle" flag: want a duration`},
		{"sim second file", []string{"sim", broken, noTraffic}, "sim: want one scenario file, got 2"},
		{"serve negative drain", []string{"serve", "--config", "../../examples/sip-center.yaml", "--drain", "-1s"}, `invalid argument "-1s" for "--drain" flag: must not be negative`},
		{"serve argument", []string{"serve", "--config", "../../examples/sip-center.yaml", "extra"}, `serve: unexpected argument "extra"`},
		{"serve record nowhere", []string{"serve", "--config", "../../examples/sip-center.yaml", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0",
			"--record", "/nonexistent/s.yaml"}, "live: record /nonexistent/s.yaml: its folder does not exist"},
		{"single-dash long flag", []string{"serve", "-config", "../../examples/sip-center.yaml"}, "-config: long flags take two dashes: --config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runMain(t, tt.args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.want)
			}
			if len(tt.args) > 0 && tt.args[0] == "erlang" && !strings.HasPrefix(err.Error(), "erlang: ") {
				t.Errorf("err = %q, want it to start with the command, erlang:", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"sim", "--help"}, {"erlang", "--help"}} {
		out, errOut, err := runMain(t, args...)
		if !errors.Is(err, errHelp) {
			t.Fatalf("%v: err = %v", args, err)
		}
		if !strings.Contains(out+errOut, "Example") && !strings.Contains(out+errOut, "Usage") {
			t.Fatalf("%v printed no usage", args)
		}
	}
}

func TestErlang(t *testing.T) {
	out, _, err := runMain(t, "erlang", "--json", "--agents", "30", "--per-hour", "360", "--handle", "240s", "--sl-target", "20s")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Model    string  `json:"model"`
		PW       float64 `json:"pw"`
		Blocking float64 `json:"blocking"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// Erlang B(30, 24 erlangs) = 0.0401 (the definition, summed).
	if r.Model != "erlang_c" || r.PW < 0.1728 || r.PW > 0.1729 || r.Blocking < 0.0401 || r.Blocking > 0.0402 {
		t.Fatalf("got %+v, want erlang_c with pw 0.17286 and Erlang B blocking 0.0401", r)
	}
}

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestSimGolden pins the example center's result for its fixed seed: a
// change in routing or in the simulator that moves any figure shows here
// (refresh deliberately with go test -update).
func TestSimGolden(t *testing.T) {
	out, _, err := runMain(t, "sim", "--json", "--log-level", "disabled", "../../examples/demo-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "demo-center.json")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("result differs from %s (run go test -update if the change is intended):\n%s", golden, out)
	}
}
