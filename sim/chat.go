package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// chatLine is how the chats of one im traffic line behave (config
// ChatModel): a time with the bot before they enter their queue, then,
// answered, exchanges of the customer's think and the agent's, the
// agent's slowed down by the other chats it has at that moment.
type chatLine struct {
	exchanges       func() int
	customer, agent sampler
	slowdown        float64
	bot             sampler // nil: no bot
}

func newChatLine(m *config.ChatModel, src rand.Source) *chatLine {
	return &chatLine{
		exchanges: newCountSampler(&m.Exchanges, src),
		customer:  newSampler(m.CustomerThink, src),
		agent:     newSampler(m.AgentThink, src),
		slowdown:  m.ConcurrencySlowdown,
		bot:       newSampler(m.Bot, src),
	}
}

// botTime draws how long a customer of line t spends with the bot before
// (re)entering the queue: 0 without a bot.
func (t *trafficModel) botTime() time.Duration {
	if t.chat == nil || t.chat.bot == nil {
		return 0
	}
	return t.chat.bot()
}

// maxCount bounds a drawn count (a geometric tail must end).
const maxCount = 1_000_000

// newCountSampler returns a sampler of counts >= 1 drawing from src.
func newCountSampler(n *config.Count, src rand.Source) func() int {
	rng := rand.New(src)
	switch {
	case n.Geometric != nil && n.Geometric.Mean > 1:
		// Failures before the first success of probability 1/mean,
		// plus that success: on 1, 2, 3, ... with the given mean.
		logq := math.Log1p(-1 / n.Geometric.Mean)
		return func() int {
			u := 1 - rng.Float64() // in (0, 1]
			return 1 + int(min(math.Floor(math.Log(u)/logq), maxCount))
		}
	case n.Poisson != nil && n.Poisson.Mean > 1:
		p := distuv.Poisson{Lambda: n.Poisson.Mean - 1, Src: src}
		return func() int { return 1 + int(min(p.Rand(), maxCount)) }
	case n.Empirical != nil:
		values := n.Empirical.Values
		return func() int { return values[rng.IntN(len(values))] }
	case n.Geometric != nil || n.Poisson != nil:
		return func() int { return 1 } // a mean of 1
	}
	v := n.Value
	return func() int { return v }
}

// alone draws the length of a chat handled alone (no slowdown): what a
// chat line's handle sampler draws where a chat is not simulated message
// by message (its callbacks' talk, a live desk).
func (l *chatLine) alone() time.Duration {
	var d time.Duration
	for n := l.exchanges(); n > 0; n-- {
		d += l.customer() + l.agent()
	}
	return min(d, maxSample)
}

// chatState is one chat in progress.
type chatState struct {
	id    pbx.ConnID
	tag   int32
	left  int32 // exchanges still to end, the current one included
	agent int32 // the agent's index in chats.load (-1: none)
	// since is when the chat was answered; thinks the agent's thinks so
	// far and chats the sum of the agent's chats as each began.
	since  time.Duration
	thinks int32
	chats  int64
}

// chats runs a replication's chats, one event per think. A chat's slot in
// slots is its events' argument; freed slots are reused, so that the
// steady state allocates nothing.
type chats struct {
	m     *model
	slots []chatState
	free  []int32
	// agents gives each agent's index in load: how many interactions of
	// media im it has now, as tserver counts them (answered and not yet
	// released or transferred away).
	agents map[*tserver.Agent]int32
	load   []int32
	// ended and think, when set (by tests), see each chat end and each
	// agent's think begin.
	ended chatEnded
	think chatThink

	customerDoneFn, agentDoneFn, botDoneFn func(uint64)
}

// chatEndedKey and chatThinkKey are the context keys of a test's
// chatEnded and chatThink hooks.
type (
	chatEndedKey struct{}
	chatThinkKey struct{}
)

// chatThink sees each agent's think begin (tests), with the agent's
// chats then.
type chatThink func(a *tserver.Agent, k int32)

// chatEnded sees each chat of a replication end (tests): its line, its
// length from answer to end, the agent's thinks and the sum of the
// agent's chats as each began.
type chatEnded func(tag int, length time.Duration, thinks int32, chats int64)

// newChats returns the replication's chats, or nil when no traffic line
// has a chat model (then nothing is counted). chatEnded and chatThink
// hooks in ctx (tests) see every chat end and every think begin.
func newChats(ctx context.Context, m *model) *chats {
	found := false
	for i := range m.traffic {
		found = found || m.traffic[i].chat != nil
	}
	if !found {
		return nil
	}
	agents := m.srv.Agents()
	ch := &chats{m: m, agents: make(map[*tserver.Agent]int32, len(agents)), load: make([]int32, len(agents))}
	for i, a := range agents {
		ch.agents[a] = int32(i)
	}
	ch.customerDoneFn, ch.agentDoneFn, ch.botDoneFn = ch.customerDone, ch.agentDone, ch.botDone
	ch.ended, _ = ctx.Value(chatEndedKey{}).(chatEnded)
	ch.think, _ = ctx.Value(chatThinkKey{}).(chatThink)
	return ch
}

// arrive brings in a customer of line i, after its time with the bot if
// it has one.
func (ch *chats) arrive(i int, l *chatLine) {
	if l.bot == nil {
		ch.m.enter(i, "")
		return
	}
	ch.m.clk.Schedule(l.bot(), ch.botDoneFn, uint64(i))
}

// botDone: the bot hands the chat of line i to its queue.
func (ch *chats) botDone(i uint64) { ch.m.enter(int(i), "") }

// taken notes that agent a answered an interaction of media im.
func (ch *chats) taken(a *tserver.Agent) {
	if k, ok := ch.agents[a]; ok {
		ch.load[k]++
	}
}

// left notes that an interaction of media im left agent a.
func (ch *chats) left(a *tserver.Agent) {
	if k, ok := ch.agents[a]; ok && ch.load[k] > 0 {
		ch.load[k]--
	}
}

// start begins chat c of line tag, just answered by a: the customer writes
// first.
func (ch *chats) start(c *tserver.Contact, tag int, a *tserver.Agent) {
	l := ch.m.traffic[tag].chat
	var slot int32
	if n := len(ch.free); n > 0 {
		slot, ch.free = ch.free[n-1], ch.free[:n-1]
	} else {
		slot = int32(len(ch.slots))
		ch.slots = append(ch.slots, chatState{})
	}
	k, ok := ch.agents[a]
	if !ok {
		k = -1 // not one of the center's agents: it thinks alone
	}
	ch.slots[slot] = chatState{id: c.ID, tag: int32(tag), left: int32(l.exchanges()), agent: k, since: ch.m.clk.Elapsed()}
	ch.m.clk.Schedule(l.customer(), ch.customerDoneFn, uint64(slot))
}

// customerDone: the customer's message is in; the agent reads and answers
// at the pace its chats allow now.
func (ch *chats) customerDone(arg uint64) {
	s := &ch.slots[arg]
	l := ch.m.traffic[s.tag].chat
	k := int32(1)
	if s.agent >= 0 {
		k = ch.load[s.agent]
	}
	d := l.agent()
	if k > 1 && l.slowdown > 0 {
		d = time.Duration(min(float64(d)*(1+l.slowdown*float64(k-1)), float64(maxSample)))
	}
	s.thinks++
	s.chats += int64(k)
	if ch.think != nil && s.agent >= 0 {
		ch.think(ch.m.srv.Agents()[s.agent], k)
	}
	ch.m.clk.Schedule(d, ch.agentDoneFn, arg)
}

// agentDone: the agent's answer is out; the chat goes on, or ends after
// its last exchange.
func (ch *chats) agentDone(arg uint64) {
	s := &ch.slots[arg]
	if s.left--; s.left > 0 {
		ch.m.clk.Schedule(ch.m.traffic[s.tag].chat.customer(), ch.customerDoneFn, arg)
		return
	}
	id, tag := s.id, int(s.tag)
	if ch.ended != nil {
		ch.ended(tag, ch.m.clk.Elapsed()-s.since, s.thinks, s.chats)
	}
	ch.free = append(ch.free, int32(arg))
	ch.m.hangUp(pack(id, tag))
}

// answerChat is the simulated agent a answering interaction c of media im
// while chats are counted: a chat of a line with a chat model goes
// exchange by exchange, any other is handled for its line's handle time.
func (m *model) answerChat(c *tserver.Contact, a *tserver.Agent) {
	t := &m.traffic[c.Tag]
	var handle time.Duration
	if t.chat == nil {
		handle = t.handle()
	}
	if err := m.srv.AnswerCall(c.ID); err != nil {
		return
	}
	m.intervals.answered(t.queue, c)
	m.chats.taken(a)
	if t.chat != nil {
		m.chats.start(c, c.Tag, a)
		return
	}
	m.clk.Schedule(handle, m.hangUpFn, pack(c.ID, c.Tag))
}

// ends notes that interaction id leaves its agent (released or
// transferred): one chat fewer for the agent if it is of media im.
func (ch *chats) ends(id pbx.ConnID) {
	if c := ch.m.srv.Contact(id); c != nil && c.Media == pbx.IM {
		ch.left(c.Agent())
	}
}
