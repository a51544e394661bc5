package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// ChatModel is how the chats of an im traffic line behave (simulations),
// in place of a handle time: a chat spends Bot with the bot before it
// enters its queue; once answered it is Exchanges exchanges, each the
// customer's think (writing) then the agent's (reading and writing), and
// it ends after the last. An agent with k chats at once thinks
// 1 + ConcurrencySlowdown × (k − 1) times as long, k taken as each of its
// thinks begins.
type ChatModel struct {
	// Exchanges is the number of exchanges of a chat: a number, or a
	// distribution of counts.
	Exchanges Count `yaml:"exchanges"`
	// CustomerThink is how long the customer takes to write a message.
	CustomerThink *Distribution `yaml:"customer_think"`
	// AgentThink is how long the agent takes to read it and answer, with
	// one chat at a time.
	AgentThink *Distribution `yaml:"agent_think"`
	// ConcurrencySlowdown is how much slower an agent thinks per chat it
	// has beside this one (default 0: not at all).
	ConcurrencySlowdown float64 `yaml:"concurrency_slowdown"`
	// Bot is the time with the bot before the chat enters its queue
	// (nil: none). Nobody abandons during it: patience starts after.
	Bot *Distribution `yaml:"bot"`
}

// Count is a distribution of a number of things, at least 1: a number
// (`exchanges: 6`), or exactly one of Geometric, Poisson and Empirical.
type Count struct {
	// Value is a constant count, written as a bare number.
	Value int
	// Geometric counts on 1, 2, 3, ... with the given mean: after each
	// exchange the chat ends with probability 1/mean.
	Geometric *CountMean
	// Poisson is 1 + a Poisson count of mean mean − 1.
	Poisson *CountMean
	// Empirical draws one of its values, each equally likely.
	Empirical *CountValues
	// scalar is set when the file wrote a bare number.
	scalar bool
}

// CountMean is a count distribution's mean.
type CountMean struct {
	Mean float64 `yaml:"mean"`
}

// CountValues are observed counts.
type CountValues struct {
	Values []int `yaml:"values"`
}

// Limits of the chat model.
const (
	maxExchanges = 10_000
	maxSlowdown  = 10
)

// UnmarshalYAML reads a count: a bare number, or a mapping with one of
// geometric, poisson and empirical. Unknown keys are errors, as elsewhere
// in the file (yaml.Node.Decode alone would let them through).
func (n *Count) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		*n = Count{scalar: true}
		return node.Decode(&n.Value)
	}
	if err := knownKeys(node, "Count", "geometric", "poisson", "empirical"); err != nil {
		return err
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i].Value, node.Content[i+1]
		want := "mean"
		if k == "empirical" {
			want = "values"
		}
		if err := knownKeys(v, "CountMean", want); err != nil {
			return err
		}
	}
	var form struct {
		Geometric *CountMean   `yaml:"geometric"`
		Poisson   *CountMean   `yaml:"poisson"`
		Empirical *CountValues `yaml:"empirical"`
	}
	if err := node.Decode(&form); err != nil {
		return err
	}
	*n = Count{Geometric: form.Geometric, Poisson: form.Poisson, Empirical: form.Empirical}
	return nil
}

// knownKeys returns a *yaml.TypeError, worded as the strict decoder words
// it, for the first key of mapping node that is not one of keys.
func knownKeys(node *yaml.Node, typ string, keys ...string) error {
	if node.Kind != yaml.MappingNode {
		return nil
	}
next:
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		for _, want := range keys {
			if k.Value == want {
				continue next
			}
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type config.%s", k.Line, k.Value, typ)}}
	}
	return nil
}

// MarshalYAML writes a constant count as a bare number.
func (n Count) MarshalYAML() (any, error) {
	if n.Geometric == nil && n.Poisson == nil && n.Empirical == nil {
		return n.Value, nil
	}
	return struct {
		Geometric *CountMean   `yaml:"geometric,omitempty"`
		Poisson   *CountMean   `yaml:"poisson,omitempty"`
		Empirical *CountValues `yaml:"empirical,omitempty"`
	}{n.Geometric, n.Poisson, n.Empirical}, nil
}

// Mean returns the count's mean.
func (n *Count) Mean() float64 {
	switch {
	case n.Geometric != nil:
		return n.Geometric.Mean
	case n.Poisson != nil:
		return n.Poisson.Mean
	case n.Empirical != nil && len(n.Empirical.Values) > 0:
		sum := 0.0
		for _, v := range n.Empirical.Values {
			sum += float64(v)
		}
		return sum / float64(len(n.Empirical.Values))
	}
	return float64(n.Value)
}

// MeanDuration returns the mean length of a chat handled alone (one chat
// at a time): the mean number of exchanges times the mean customer and
// agent thinks.
func (m *ChatModel) MeanDuration() time.Duration {
	return time.Duration(m.Exchanges.Mean() * float64(m.CustomerThink.Mean()+m.AgentThink.Mean()))
}

// MeanHandle returns the mean time an interaction of line t is handled:
// its handle time's mean, or a chat's mean length at one chat at a time.
func (t *Traffic) MeanHandle() time.Duration {
	if t.Chat != nil {
		return t.Chat.MeanDuration()
	}
	return t.Handle.Mean()
}

// checkChatModel checks traffic line t's chat model at p (t.Chat is set).
func (c *checker) checkChatModel(p path, t *Traffic, line path) {
	m := t.Chat
	if t.Media != "im" {
		c.errorf(p, "a chat model is for im lines, not %s (give %s a handle time)", t.Media, t.Media)
	}
	if c.given(line.key("handle")) {
		c.errorf(line.key("handle"), "set either handle or chat, not both: a chat's length is its exchanges")
	}
	c.checkCount(p.key("exchanges"), &m.Exchanges)
	for _, th := range []struct {
		key string
		d   *Distribution
	}{{"customer_think", m.CustomerThink}, {"agent_think", m.AgentThink}} {
		if th.d == nil {
			c.errorf(p.key(th.key), "required: a distribution, such as {exponential: {mean: 30s}}")
			continue
		}
		c.checkDistribution(p.key(th.key), th.d)
	}
	if s := m.ConcurrencySlowdown; !(s >= 0 && s <= maxSlowdown) {
		c.errorf(p.key("concurrency_slowdown"), "must be a number >= 0 and <= %d, got %v", maxSlowdown, s)
	}
	if m.Bot != nil {
		c.checkDistribution(p.key("bot"), m.Bot)
	}
}

// checkCount records what is wrong with the count at p.
func (c *checker) checkCount(p path, n *Count) {
	if !c.given(p) {
		c.errorf(p, "required: a number of exchanges >= 1, or geometric: {mean: M}, poisson: {mean: M}, empirical: {values: [N, ...]}")
		return
	}
	kinds := 0
	for _, set := range []bool{n.scalar, n.Geometric != nil, n.Poisson != nil, n.Empirical != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		c.errorf(p, "needs a number >= 1 or exactly one of geometric: {mean: M}, poisson: {mean: M}, empirical: {values: [N, ...]}")
		return
	}
	mean := func(at path, m *CountMean) {
		if !(m.Mean >= 1 && m.Mean <= maxExchanges) {
			c.errorf(at.key("mean"), "must be a number >= 1 and <= %d, got %v", maxExchanges, m.Mean)
		}
	}
	switch {
	case n.scalar:
		if n.Value < 1 || n.Value > maxExchanges {
			c.errorf(p, "%d out of range 1..%d", n.Value, maxExchanges)
		}
	case n.Geometric != nil:
		mean(p.key("geometric"), n.Geometric)
	case n.Poisson != nil:
		mean(p.key("poisson"), n.Poisson)
	case n.Empirical != nil:
		vp := p.key("empirical").key("values")
		switch vs := n.Empirical.Values; {
		case len(vs) == 0:
			c.errorf(vp, "required: counts [N, ...], each >= 1")
		case len(vs) > maxEmpiricalValues:
			c.errorf(vp, "more than %d values", maxEmpiricalValues)
		default:
			for k, v := range vs {
				if v < 1 || v > maxExchanges {
					c.errorf(vp.index(k), "%d out of range 1..%d", v, maxExchanges)
					break
				}
			}
		}
	}
}
