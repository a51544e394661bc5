package main

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFlagsBeforeAndAfterArguments: every command takes its flags before
// and after its arguments (and a subcommand's before its name), and a flag
// given last is applied, not dropped.
func TestFlagsBeforeAndAfterArguments(t *testing.T) {
	p := writeFile(t, "s.yaml", smallScenario)
	for _, tc := range []struct {
		name     string
		variants [][]string // all print the same bytes
		other    []string   // differs from them by one flag: proves the flag is read
	}{
		{"sim",
			[][]string{
				{"sim", "--json", "--replications", "2", "--seed", "8", p},
				{"sim", p, "--json", "--replications", "2", "--seed", "8"},
				{"sim", "--json", p, "--replications=2", "--seed=8"},
				{"sim", "--replications", "2", p, "--seed", "8", "--json"},
			},
			[]string{"sim", "--json", "--replications", "2", p}},
		{"erlang",
			[][]string{
				{"erlang", "--json", "--agents", "30", "--per-hour", "360", "--handle", "240s", "--sl-target", "20s"},
				{"erlang", "--agents", "30", "--per-hour", "360", "--handle", "240", "--within", "20", "--json"},
				{"erlang", "--aht", "4m", "--per-hour", "360", "--agents", "30", "--json"},
			},
			[]string{"erlang", "--agents", "30", "--per-hour", "360", "--handle", "240", "--json", "--patience", "120"}},
		{"erlang staff",
			[][]string{
				{"erlang", "staff", "--per-hour", "360", "--aht", "180s", "--sl", "0.8", "--within", "20s", "--json"},
				{"erlang", "--json", "staff", "--per-hour", "360", "--handle", "180", "--sl", "0.8", "--sl-target", "20"},
				{"erlang", "--per-hour", "360", "staff", "--aht", "3m", "--sl", "0.8", "--json"},
			},
			[]string{"erlang", "staff", "--per-hour", "360", "--aht", "180s", "--sl", "0.8", "--within", "20s", "--json", "--patience", "2m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first string
			for i, args := range tc.variants {
				out, _, err := runMain(t, args...)
				if err != nil {
					t.Fatalf("%q: %v", args, err)
				}
				if !json.Valid([]byte(out)) {
					t.Fatalf("%q printed no JSON: %s", args, out)
				}
				if i == 0 {
					first = out
				} else if out != first {
					t.Errorf("%q printed\n%s\nbut %q printed\n%s", args, out, tc.variants[0], first)
				}
			}
			other, _, err := runMain(t, tc.other...)
			if err != nil {
				t.Fatalf("%q: %v", tc.other, err)
			}
			if other == first {
				t.Errorf("%q printed the same as %q: a flag was not read", tc.other, tc.variants[0])
			}
		})
	}
	t.Run("serve", func(t *testing.T) {
		// serve takes no arguments: its flags in any order, the one that
		// opens a listener last.
		lc := startServe(t, []string{"serve", "--log-level", "warn", "--http", "127.0.0.1:0", "--config", "../../examples/sip-center.yaml",
			"--sip", "127.0.0.1:0", "--sip-ws", "127.0.0.1:0"})
		if a := lc.m.center.Addrs(); a.SIPWS == "" || strings.HasSuffix(a.SIP, ":5060") || strings.HasSuffix(a.HTTP, ":8080") {
			t.Errorf("addresses %+v: want port-0 listeners and a SIP WebSocket", a)
		}
	})
}

// TestHelpGoesToStdout runs the real program: --help, -h and help print
// the command's usage with its examples to stdout and exit 0.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"},
		{"serve", "--help"}, {"sim", "--help"}, {"sim", "-h"}, {"help", "sim"},
		{"erlang", "--help"}, {"erlang", "staff", "--help"}, {"help", "erlang", "staff"},
		{"sim", "examples/demo-center.yaml", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			status, stdout, stderr, _ := runProcessOutput(t, 20*time.Second, args...)
			if status != 0 {
				t.Errorf("exit status %d, want 0; stderr:\n%s", status, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			for _, want := range []string{"Usage:", "Examples:\n  ccswitch "} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// TestUsageErrorsExit2 runs the real program: an unknown flag, before or
// after the arguments, exits 2 with one line on stderr naming it and the
// command; nothing goes to stdout.
func TestUsageErrorsExit2(t *testing.T) {
	p := abs(t, "../../examples/demo-center.yaml")
	for _, tc := range []struct {
		args []string
		want []string // in the last line of stderr
	}{
		{[]string{"sim", "--bogus", p}, []string{"sim: unknown flag: --bogus", "ccswitch sim --help"}},
		{[]string{"sim", p, "--bogus"}, []string{"sim: unknown flag: --bogus"}},
		{[]string{"sim", p, "--json=maybe"}, []string{"sim:", "--json"}},
		{[]string{"serve", "--config", p, "--bogus"}, []string{"serve: unknown flag: --bogus"}},
		{[]string{"serve", "--bogus", "--config", p}, []string{"serve: unknown flag: --bogus"}},
		{[]string{"erlang", "--agents", "3", "--bogus"}, []string{"erlang: unknown flag: --bogus"}},
		{[]string{"erlang", "staff", "--per-hour", "360", "--bogus"}, []string{"erlang staff: unknown flag: --bogus"}},
		{[]string{"erlang", "staff", "--agents", "30"}, []string{"erlang staff: unknown flag: --agents"}},
		{[]string{"sim", "-json", p}, []string{"sim: -json: long flags take two dashes: --json"}},
		{[]string{"erlang", "--handle", "soon"}, []string{"erlang:", `"--handle"`, "240s, 4m or a number of seconds"}},
		{[]string{"dance"}, []string{"ccswitch --help"}},
		{nil, []string{"ccswitch: no command given"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			status, stdout, stderr, _ := runProcessOutput(t, 20*time.Second, tc.args...)
			if status != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", status, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if tc.args != nil && len(lines) != 1 && tc.args[0] != "dance" {
				t.Errorf("stderr has %d lines, want one:\n%s", len(lines), stderr)
			}
			if tc.args != nil && tc.args[0] == "dance" && !strings.HasPrefix(lines[0], `ccswitch: unknown command "dance"`) {
				t.Errorf("first line %q: want it to name the unknown command", lines[0])
			}
			if tc.args != nil && tc.args[0] != "dance" && !strings.HasPrefix(last, "ccswitch: ") {
				t.Errorf("last line %q: want one message starting ccswitch:", last)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q does not name %q", last, w)
				}
			}
		})
	}
}

// TestErlangStaffJSON: erlang staff --json prints exactly the documented
// keys, with the fewest agents. The figures were computed apart from the
// code (Python, exact rationals for Erlang C, 80-digit decimals for
// Erlang A); sim/erlang_test.go checks more cases.
func TestErlangStaffJSON(t *testing.T) {
	base := []string{"erlang", "staff", "--per-hour", "360", "--aht", "180s", "--sl", "0.8", "--within", "20s", "--json"}
	for _, tc := range []struct {
		name                 string
		extra                []string
		agents               int
		pw, asa, sl, abandon float64
	}{
		{"erlang c", nil, 22, 0.2780781015, 12.513514569, 0.8217017748, 0},
		{"erlang a", []string{"--patience", "120s"}, 20, 0.3197176489, 6.1452543601, 0.8267562657, 0.0571473766},
		{"erlang a with an abandon cap", []string{"--patience", "120", "--max-abandon", "0.02"}, 23, 0.1349875785, 2.0419793974, 0.9422491124, 0.0191193389},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runMain(t, append(base, tc.extra...)...)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(maps.Keys(raw))
			if want := []string{"abandon_rate", "agents", "asa_s", "pw", "service_level"}; !slices.Equal(keys, want) {
				t.Fatalf("keys %q, want exactly %q", keys, want)
			}
			if raw["agents"] != float64(tc.agents) {
				t.Errorf("agents = %v, want %d", raw["agents"], tc.agents)
			}
			for k, want := range map[string]float64{"pw": tc.pw, "asa_s": tc.asa, "service_level": tc.sl, "abandon_rate": tc.abandon} {
				if got := raw[k].(float64); math.Abs(got-want) > 1e-8*max(1, want) {
					t.Errorf("%s = %.10g, want %.10g", k, got, want)
				}
			}
		})
	}
	out, _, err := runMain(t, base[:len(base)-1]...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "erlang_c: 22 agents  P(wait) 0.2781  ASA 12.51s  service level 0.8217") {
		t.Errorf("text output %q", out)
	}
}

const dayForecast = `start,calls,aht
# a morning, 15-minute intervals
08:00,90,180
08:15,0,
08:30,120,3m
08:45,60,240
`

// TestErlangStaffForecast: each interval of a forecast gets the staffing of
// its own rate (calls per interval over the interval's length) and handle
// time; an interval without calls gets none, and no KPIs.
func TestErlangStaffForecast(t *testing.T) {
	p := writeFile(t, "day.csv", dayForecast)
	goal := []string{"--sl", "0.8", "--within", "20s", "--patience", "120s", "--max-abandon", "0.05"}
	out, _, err := runMain(t, append([]string{"erlang", "staff", "--forecast", p, "--aht", "200s", "--json"}, goal...)...)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Model      string  `json:"model"`
		IntervalS  float64 `json:"interval_s"`
		PeakAgents int     `json:"peak_agents"`
		AgentHours float64 `json:"agent_hours"`
		Intervals  []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "erlang_a" || got.IntervalS != 900 || len(got.Intervals) != 4 {
		t.Fatalf("model %q interval_s %g, %d intervals: want erlang_a, 900, 4:\n%s", got.Model, got.IntervalS, len(got.Intervals), out)
	}
	peak, agentHours := 0, 0.0
	for i, tc := range []struct {
		start, perHour, aht string
	}{{"08:00", "360", "180"}, {"08:15", "", "200"}, {"08:30", "480", "180"}, {"08:45", "240", "240"}} {
		iv := got.Intervals[i]
		keys := slices.Sorted(maps.Keys(iv))
		if want := []string{"abandon_rate", "agents", "aht_s", "asa_s", "calls", "pw", "service_level", "start"}; !slices.Equal(keys, want) {
			t.Fatalf("interval %d keys %q, want %q", i, keys, want)
		}
		if iv["start"] != tc.start || iv["aht_s"] != mustFloat(t, tc.aht) {
			t.Errorf("interval %d: start %v aht_s %v, want %s and %s", i, iv["start"], iv["aht_s"], tc.start, tc.aht)
		}
		if tc.perHour == "" {
			if iv["agents"] != 0.0 || iv["pw"] != nil || iv["service_level"] != nil {
				t.Errorf("interval %d without calls: %v, want 0 agents and null KPIs", i, iv)
			}
			continue
		}
		one, _, err := runMain(t, append([]string{"erlang", "staff", "--per-hour", tc.perHour, "--aht", tc.aht, "--json"}, goal...)...)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(one), &want); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if iv[k] != v {
				t.Errorf("interval %d %s = %v, want %v as for --per-hour %s", i, k, iv[k], v, tc.perHour)
			}
		}
		n := int(want["agents"].(float64))
		peak = max(peak, n)
		agentHours += float64(n) / 4
	}
	if got.PeakAgents != peak || got.AgentHours != agentHours {
		t.Errorf("peak_agents %d agent_hours %g, want %d and %g", got.PeakAgents, got.AgentHours, peak, agentHours)
	}
	text, _, err := runMain(t, "erlang", "staff", "--forecast", p, "--aht", "200s", "--sl", "0.8")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"08:15      0    200       0      n/a", "erlang_c: 4 interval(s) of 15m0s, peak 29 agents"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var v float64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestErlangStaffBadInput: a goal, a rate or a forecast that cannot be
// staffed is a usage error (exit 2) that names what is wrong.
func TestErlangStaffBadInput(t *testing.T) {
	forecast := func(body string) string { return writeFile(t, "f.csv", body) }
	staff := func(args ...string) []string { return append([]string{"erlang", "staff"}, args...) }
	rate := []string{"--per-hour", "360", "--aht", "180s"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no goal", staff(rate...), "no goal: give --sl"},
		{"service level 1", staff(append(rate, "--sl", "1")...), "--sl 1: want a share of contacts in (0, 1)"},
		{"service level 80", staff(append(rate, "--sl", "80")...), "--sl 80: want a share"},
		{"abandon cap without patience", staff(append(rate, "--max-abandon", "0.05")...), "--max-abandon needs --patience"},
		{"abandon cap 0", staff(append(rate, "--patience", "2m", "--max-abandon", "0")...), "--max-abandon 0: want a share"},
		{"no rate", staff("--aht", "180s", "--sl", "0.8"), "--per-hour must be positive"},
		{"no handle time", staff("--per-hour", "360", "--sl", "0.8"), "--aht must be positive"},
		{"negative patience", staff(append(rate, "--sl", "0.8", "--patience", "-2m")...), `"--patience" flag: must not be negative`},
		{"interval without forecast", staff(append(rate, "--sl", "0.8", "--interval", "15m")...), "--interval goes with --forecast"},
		{"rate and forecast", staff("--per-hour", "360", "--forecast", forecast(dayForecast), "--aht", "3m", "--sl", "0.8"), "--per-hour or --forecast, not both"},
		{"missing forecast", staff("--forecast", "/nonexistent/day.csv", "--aht", "3m", "--sl", "0.8"), "/nonexistent/day.csv"},
		{"forecast gap", staff("--forecast", forecast("start,calls\n08:00,90\n08:15,90\n08:45,90\n"), "--aht", "3m", "--sl", "0.8"),
			"f.csv:4: start 08:45 is 30m0s after 08:15, but the starts above are 15m0s apart"},
		{"forecast out of order", staff("--forecast", forecast("start,calls\n08:15,90\n08:00,90\n"), "--aht", "3m", "--sl", "0.8"),
			"f.csv:3: start 08:00 is not after 08:15"},
		{"forecast unknown column", staff("--forecast", forecast("start,calls,ahtt\n08:00,90,3\n"), "--aht", "3m", "--sl", "0.8"),
			`f.csv:1: unknown column "ahtt"`},
		{"forecast without calls column", staff("--forecast", forecast("start,aht\n08:00,3\n"), "--sl", "0.8"), "f.csv:1: no calls column"},
		{"forecast negative calls", staff("--forecast", forecast("start,calls\n08:00,-9\n08:15,9\n"), "--aht", "3m", "--sl", "0.8"),
			`f.csv:2: calls "-9": want a number of contacts, 0 or more`},
		{"forecast bad start", staff("--forecast", forecast("start,calls\n8h,9\n"), "--aht", "3m", "--sl", "0.8"), `f.csv:2: start "8h"`},
		{"forecast row without aht", staff("--forecast", forecast("start,calls,aht\n08:00,9,\n08:15,9,180\n"), "--sl", "0.8"),
			"f.csv:2: no aht: fill the aht column or give --aht"},
		{"forecast of one row", staff("--forecast", forecast("start,calls\n08:00,9\n"), "--aht", "3m", "--sl", "0.8"), "give its length with --interval"},
		{"forecast interval disagrees", staff("--forecast", forecast(dayForecast), "--interval", "30m", "--sl", "0.8"),
			"--interval 30m0s, but the starts are 15m0s apart"},
		{"forecast empty", staff("--forecast", forecast(""), "--aht", "3m", "--sl", "0.8"), "f.csv: empty"},
		{"forecast header only", staff("--forecast", forecast("start,calls\n"), "--aht", "3m", "--sl", "0.8"), "no intervals"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runMain(t, tc.args...)
			if !errors.As(err, new(*usageError)) {
				t.Fatalf("err = %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "erlang staff: ") {
				t.Errorf("err = %q, want erlang staff: ... %q", err, tc.want)
			}
		})
	}
	// A forecast that works with one row and --interval.
	out, _, err := runMain(t, "erlang", "staff", "--forecast", forecast("start,calls\n08:00,90\n"), "--interval", "15m", "--aht", "180", "--sl", "0.8", "--json")
	if err != nil || !strings.Contains(out, `"agents":22`) {
		t.Errorf("one row with --interval 15m: %v\n%s", err, out)
	}
}

// A queue nobody serves is a warning; with --strict (before or after the
// file) it is bad input.
func TestSimStrictWarnings(t *testing.T) {
	path := writeFile(t, "unstaffed.yaml", `queues: [{name: support}, {name: sales}]
agents: [{id: a, skills: {support: 5}}]
traffic:
  - {queue: support, arrivals: {poisson: {per_hour: 10}}, handle: {exponential: {mean: 60s}}}
  - {queue: sales, arrivals: {poisson: {per_hour: 10}}, handle: {exponential: {mean: 60s}}}
run: {duration: 1h, replications: 1, seed: 1}
`)
	out, _, err := runMain(t, "sim", path)
	if err != nil || !strings.Contains(out, "warnings:") || !strings.Contains(out, "sales") {
		t.Fatalf("without --strict: err %v, output:\n%s", err, out)
	}
	for _, args := range [][]string{{"sim", "--strict", path}, {"sim", path, "--strict"}} {
		_, _, err := runMain(t, args...)
		if !errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "sales") {
			t.Fatalf("%v: err %v; want a usage error (exit 2) naming the queue", args, err)
		}
	}
}

// sim --verify (before or after the file) adds the Erlang check per
// interval: a table after the KPIs, a "verify" list in the JSON.
func TestSimVerify(t *testing.T) {
	out, _, err := runMain(t, "sim", "--verify", "--replications", "2", "--log-level", "disabled", "../../examples/n-model.yaml")
	if err != nil || !strings.Contains(out, "Erlang SL") || !strings.Contains(out, "intervals: the Erlang formulas and the simulation disagree") {
		t.Fatalf("text: err %v\n%s", err, out)
	}
	out, _, err = runMain(t, "sim", "../../examples/n-model.yaml", "--json", "--replications", "2", "--log-level", "disabled", "--verify")
	if err != nil || !strings.Contains(out, `"verify":[{"queue":"sales"`) {
		t.Fatalf("json: err %v\n%.400s", err, out)
	}
	out, _, err = runMain(t, "sim", "../../examples/n-model.yaml", "--json", "--replications", "2", "--log-level", "disabled")
	if err != nil || strings.Contains(out, `"verify"`) {
		t.Fatalf("without --verify: err %v, verify in the output", err)
	}
}
