package config

import (
	"strings"
	"testing"
	"time"
)

// TestParseChatModel reads the chat model in each of its count forms.
func TestParseChatModel(t *testing.T) {
	f, err := Parse("testdata/scenario.yaml", []byte(trafficHead+`
  - queue: c
    arrivals: {poisson: {per_hour: 30}}
    patience: {exponential: {mean: 10m}}
    chat:
      exchanges: 6
      customer_think: {exponential: {mean: 40s}}
      agent_think: {lognormal: {mean: 30s, sd: 20s}}
      concurrency_slowdown: 0.25
      bot: {constant: {value: 45s}}
  - {queue: c, arrivals: {poisson: {per_hour: 1}}, chat: {exchanges: {geometric: {mean: 4.5}}, customer_think: {constant: {value: 10s}}, agent_think: {constant: {value: 20s}}}}
  - {queue: c, arrivals: {poisson: {per_hour: 1}}, chat: {exchanges: {poisson: {mean: 3}}, customer_think: {constant: {value: 10s}}, agent_think: {constant: {value: 20s}}}}
  - {queue: c, arrivals: {poisson: {per_hour: 1}}, chat: {exchanges: {empirical: {values: [2, 3, 7]}}, customer_think: {constant: {value: 10s}}, agent_think: {constant: {value: 20s}}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Traffic[0].Chat
	if c == nil || c.Exchanges.Value != 6 || c.ConcurrencySlowdown != 0.25 || c.Bot.Mean() != 45*time.Second ||
		c.AgentThink.LogNormal.SD.D() != 20*time.Second {
		t.Fatalf("chat: %+v", c)
	}
	if got, want := f.Traffic[0].MeanHandle(), 6*70*time.Second; got != want {
		t.Errorf("mean chat %v, want %v", got, want)
	}
	for i, want := range []float64{6, 4.5, 3, 4} {
		if got := f.Traffic[i].Chat.Exchanges.Mean(); got != want {
			t.Errorf("traffic[%d]: mean exchanges %v, want %v", i, got, want)
		}
	}
	if f.Traffic[3].MeanHandle() != 4*30*time.Second {
		t.Errorf("empirical: mean chat %v", f.Traffic[3].MeanHandle())
	}
}

// TestParseChatModelErrors: every broken chat model gets one error naming
// the file, the line and the field.
func TestParseChatModelErrors(t *testing.T) {
	const think = "customer_think: {constant: {value: 10s}}, agent_think: {constant: {value: 20s}}"
	const thinkBlock = "customer_think: {constant: {value: 10s}}\n      agent_think: {constant: {value: 20s}}"
	for _, tc := range []struct {
		name, src, field string
		line             int
		msg              string
	}{
		{"chat on a voice line", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    chat: {exchanges: 3, ` + think + `}`,
			"traffic[0].chat", 6, "a chat model is for im lines, not voice"},
		{"handle and chat", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    chat: {exchanges: 3, ` + think + `}`,
			"traffic[0].handle", 6, "set either handle or chat, not both"},
		{"negative slowdown", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 3
      customer_think: {constant: {value: 10s}}
      agent_think: {constant: {value: 20s}}
      concurrency_slowdown: -0.1`,
			"traffic[0].chat.concurrency_slowdown", 10, "must be a number >= 0"},
		{"missing customer think", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 3
      agent_think: {constant: {value: 20s}}`,
			"traffic[0].chat.customer_think", 7, "required: a distribution"},
		{"missing agent think", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 3
      customer_think: {constant: {value: 20s}}`,
			"traffic[0].chat.agent_think", 7, "required: a distribution"},
		{"bad think", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 3
      customer_think: {constant: {value: 20s}}
      agent_think: {gamma: {mean: 20s}}`,
			"traffic[0].chat.agent_think.gamma.sd", 9, "required: a duration > 0"},
		{"missing exchanges", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat: {` + think + `}`,
			"traffic[0].chat.exchanges", 6, "required: a number of exchanges"},
		{"no exchange", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 0
      ` + thinkBlock,
			"traffic[0].chat.exchanges", 7, "0 out of range 1..10000"},
		{"geometric mean below 1", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: {geometric: {mean: 0.5}}
      ` + thinkBlock,
			"traffic[0].chat.exchanges.geometric.mean", 7, "must be a number >= 1"},
		{"empirical count of 0", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: {empirical: {values: [3, 0]}}
      ` + thinkBlock,
			"traffic[0].chat.exchanges.empirical.values[1]", 7, "0 out of range"},
		{"two count forms", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: {geometric: {mean: 2}, poisson: {mean: 2}}
      ` + thinkBlock,
			"traffic[0].chat.exchanges", 7, "exactly one of"},
		{"unknown count form", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: {binomial: {mean: 2}}
      ` + thinkBlock,
			"traffic[0].chat.exchanges.binomial", 7, `unknown field "binomial"`},
		{"unknown count key", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: {geometric: {man: 2}}
      ` + thinkBlock,
			"traffic[0].chat.exchanges.geometric.man", 7, `unknown field "man"`},
		{"count not a number", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: many
      ` + thinkBlock,
			"traffic[0].chat.exchanges", 7, `want`},
		{"bad bot", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}
    chat:
      exchanges: 3
      ` + thinkBlock + `
      bot: {exponential: {mean: 0s}}`,
			"traffic[0].chat.bot.exponential.mean", 10, "must be > 0"},
		{"im line without handle or chat", `
  - queue: c
    arrivals: {poisson: {per_hour: 1}}`,
			"traffic[0].handle", 4, "or chat: {exchanges"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := trafficHead + strings.TrimPrefix(tc.src, "\n") + "\n"
			f, err := Parse("testdata/center.yaml", []byte(src))
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
			if e.File != "testdata/center.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q\n(line %d, field %q, msg %q)\nwant line %d, field %q, message with %q",
					err, e.Line, e.Field, e.Msg, tc.line, tc.field, tc.msg)
			}
		})
	}
}
