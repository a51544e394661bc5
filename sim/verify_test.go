package sim

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/config"
)

// On the model Erlang C is exact (one queue, its own agents, exponential
// times, fixed staffing), the formula and the simulation agree in every
// interval, and nothing is listed as unseen.
func TestVerifyAgreesWhereErlangIsExact(t *testing.T) {
	f, err := config.Parse("mmn.yaml", []byte(`queues: [{name: q, media: voice, sl_target: 20s}]
agents: [{group: a, count: 30, skills: {q: 5}}]
traffic:
  - {queue: q, arrivals: {poisson: {per_hour: 360}}, handle: {exponential: {mean: 240s}}}
run: {duration: 12h, warmup: 1h, replications: 10, seed: 4, interval: 1h}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	checks := Verify(f, res)
	if len(checks) != 11 {
		t.Fatalf("%d checks, want one per hour after the warm-up (11)", len(checks))
	}
	for _, c := range checks {
		if !c.Agree || c.Model != "erlang_c" || len(c.Blind) != 0 || c.Agents != 30 {
			t.Errorf("%+v: want agreement with Erlang C on 30 agents, nothing unseen", c)
		}
	}
}

// On the bank's day, Verify names what Erlang does not see (agents on
// several skills, chats taken several at once, shifts, lognormal handle
// times, overflow, retrials, transfers) and finds the intervals where it
// is wrong: the chat group's breaks.
func TestVerifyFindsWhereErlangIsBlind(t *testing.T) {
	f, err := config.Load("../examples/bank-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Run.Replications = 4
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	checks := Verify(f, res)
	blind := map[string][]string{}
	disagree := 0
	for _, c := range checks {
		blind[c.Queue] = c.Blind
		if !c.Agree {
			disagree++
		}
	}
	for q, want := range map[string][]string{
		"accounts": {"multi_skill", "shifts", "non_exponential", "retrials", "transfers"},
		"cards":    {"multi_skill", "overflow", "retrials"},
		"chat":     {"im_concurrency", "shifts"},
	} {
		for _, w := range want {
			if !slices.Contains(blind[q], w) {
				t.Errorf("%s: blind to %v, want %s among them", q, blind[q], w)
			}
		}
	}
	if slices.Contains(blind["chat"], "multi_skill") {
		t.Errorf("chat: %v; the voice agents with the chat's skill take no chat (capacity 0)", blind["chat"])
	}
	if disagree == 0 {
		t.Error("no interval of the bank's day disagrees with Erlang")
	}
	var out bytes.Buffer
	if err := WriteChecks(&out, checks); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "DISAGREE") || !strings.Contains(out.String(), "intervals: the Erlang formulas and the simulation disagree") {
		t.Errorf("the table:\n%s", out.String())
	}
}
