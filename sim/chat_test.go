package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// chatCenter is one im queue whose chats are 5 exchanges on average
// (geometric), the customer thinking 40 s (exponential) and the agent
// 30 s (lognormal) alone: 350 s a chat alone. %d is the agents' im
// capacity, %g the slowdown per other chat.
const chatCenter = `
queues: [{name: chat, media: im}]
agents: [{group: c, count: 6, skills: {chat: 5}, capacity: {im: %d}}]
traffic:
  - queue: chat
    arrivals: {poisson: {per_hour: 48}}
    chat:
      exchanges: {geometric: {mean: 5}}
      customer_think: {exponential: {mean: 40s}}
      agent_think: {lognormal: {mean: 30s, sd: 20s}}
      concurrency_slowdown: %g
run: {duration: 150h, warmup: 1h, replications: 10, seed: 11}
`

const (
	chatExchanges = 5.0
	chatCustomer  = 40.0
	chatAgent     = 30.0
)

// chatReplications runs f's replications with hook seeing every chat end.
func chatReplications(t *testing.T, f *config.File, hook chatEnded, observe func(int, *tserver.Server)) []replication {
	t.Helper()
	ctx := context.Background()
	if hook != nil {
		ctx = context.WithValue(ctx, chatEndedKey{}, hook)
	}
	var out []replication
	for r := range f.Run.Replications {
		rep, err := runReplication(ctx, f, r, replicationSeed(f.Run.Seed, r), observe)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rep)
	}
	return out
}

// meanHandles returns each replication's mean handle time of queue q, as
// tserver counts it (answer to release, no wrap-up here), in seconds.
func meanHandles(t *testing.T, f *config.File, hook chatEnded) []float64 {
	t.Helper()
	var servers []*tserver.Server
	chatReplications(t, f, hook, func(_ int, srv *tserver.Server) { servers = append(servers, srv) })
	var out []float64
	for _, srv := range servers {
		st, _ := srv.QueueStats("chat")
		if st.Handled < 1000 {
			t.Fatalf("only %d chats handled", st.Handled)
		}
		out = append(out, st.HandleTime.Seconds()/float64(st.Handled))
	}
	return out
}

// TestChatAloneLastsItsExchanges: with one chat per agent, or with
// several but no slowdown, a chat lasts exchanges × (customer think +
// agent think) on average: 5 × 70 s.
func TestChatAloneLastsItsExchanges(t *testing.T) {
	want := chatExchanges * (chatCustomer + chatAgent)
	for _, tc := range []struct {
		capacity int
		slowdown float64
	}{{1, 0.5}, {3, 0}} {
		f := mustParse(t, fmt.Sprintf(chatCenter, tc.capacity, tc.slowdown))
		within(t, fmt.Sprintf("capacity %d, slowdown %g: mean chat (s)", tc.capacity, tc.slowdown), meanHandles(t, f, nil), want)
	}
}

// TestChatAloneCatchesAWrongLength: the same check fails on a model whose
// agent thinks 20%% longer, so it has power.
func TestChatAloneCatchesAWrongLength(t *testing.T) {
	f := mustParse(t, fmt.Sprintf(chatCenter, 1, 0.0))
	f.Traffic[0].Chat.AgentThink.LogNormal.Mean = config.Duration(36 * time.Second)
	mean, half := MeanCI95(meanHandles(t, f, nil))
	if want := chatExchanges * (chatCustomer + chatAgent); math.Abs(mean-want) <= half {
		t.Fatalf("a chat 6 s a think too long passes: %.2f ±%.2f vs %.2f", mean, half, want)
	}
}

// TestChatConcurrencySlowsTheAgent: at the same load, agents taking 3
// chats at once with a slowdown of 0.25 per other chat make every chat
// longer than agents taking one. The expected length follows from the
// agent's chats as each of its thinks began (k): an exchange lasts the
// customer's think plus the agent's × (1 + 0.25 (k − 1)), so over all
// chats Σ length = thinks × 40 s + 30 s × Σ (1 + 0.25 (k − 1)), and the
// mean chat, against the one at one chat at a time, grows by
// (40 + 30 (1 + 0.25 (k̄ − 1))) / 70 at the mean k̄ the thinks saw.
func TestChatConcurrencySlowsTheAgent(t *testing.T) {
	const s = 0.25
	alone := meanHandles(t, mustParse(t, fmt.Sprintf(chatCenter, 1, s)), nil)

	var thinks, sumK, chats int64
	var residual, residual2, expected float64
	hook := func(_ int, d time.Duration, n int32, k int64) {
		thinks += int64(n)
		sumK += k
		chats++
		want := float64(n)*chatCustomer + chatAgent*(float64(n)+s*float64(k-int64(n)))
		r := d.Seconds() - want
		residual += r
		residual2 += r * r
		expected += want
	}
	busy := meanHandles(t, mustParse(t, fmt.Sprintf(chatCenter, 3, s)), hook)

	// Every chat's length against its own expectation given the k of
	// its thinks (which TestChatLoadIsTserversCount holds to tserver's
	// count): the mean residual within 4 standard errors of 0.
	n := float64(chats)
	mean := residual / n
	se := math.Sqrt((residual2/n - mean*mean) / n)
	t.Logf("%d chats: length - expected from their k: %.3f s (se %.3f s; expected mean %.1f s)", chats, mean, se, expected/n)
	if math.Abs(mean) > 4*se {
		t.Errorf("chats last %.3f s more than their k make them (se %.3f s)", mean, se)
	}
	kbar := float64(sumK) / float64(thinks)
	if kbar < 1.2 {
		t.Fatalf("mean chats per agent at a think %.3f: want concurrency above 1.2", kbar)
	}
	ma, ha := MeanCI95(alone)
	mb, hb := MeanCI95(busy)
	factor := (chatCustomer + chatAgent*(1+s*(kbar-1))) / (chatCustomer + chatAgent)
	got := mb / ma
	// The ratio's uncertainty from the two intervals, plus 1% for k̄.
	tol := got*(ha/ma+hb/mb) + 0.01
	t.Logf("alone %.1f ±%.1f s, 3 at once %.1f ±%.1f s: ratio %.4f, expected %.4f at k̄ = %.3f (±%.4f)", ma, ha, mb, hb, got, factor, kbar, tol)
	if mb <= ma+ha+hb {
		t.Errorf("chats at 3 at once (%.1f s) are not longer than alone (%.1f s)", mb, ma)
	}
	if math.Abs(got-factor) > tol {
		t.Errorf("chats grew by %.4f, want %.4f ± %.4f at the measured concurrency %.3f", got, factor, tol, kbar)
	}
}

// TestChatLoadIsTserversCount: the chats the simulator counts per agent
// (k) are the agent's interactions of media im as tserver reports them
// (established, not yet released), at every think; and never above the
// agent's capacity.
func TestChatLoadIsTserversCount(t *testing.T) {
	f := mustParse(t, fmt.Sprintf(chatCenter, 3, 0.25))
	f.Run.Replications, f.Run.Duration = 1, config.Duration(30*time.Hour)
	perAgent := map[string]int32{}
	observe := func(_ int, srv *tserver.Server) {
		srv.Subscribe(func(e tserver.Event) {
			if e.Media != pbx.IM || e.AgentID == "" {
				return
			}
			switch e.Type {
			case tserver.EventEstablished:
				perAgent[e.AgentID]++
			case tserver.EventReleased:
				perAgent[e.AgentID]--
			}
		})
	}
	var checked, wrong int
	seen := map[int32]bool{}
	think := func(a *tserver.Agent, k int32) {
		checked++
		seen[k] = true
		if k != perAgent[a.ID] || k < 1 || k > 3 {
			if wrong++; wrong <= 5 {
				t.Errorf("agent %s thinks with k = %d, tserver's events say %d", a.ID, k, perAgent[a.ID])
			}
		}
	}
	ctx := context.WithValue(context.Background(), chatThinkKey{}, chatThink(think))
	if _, err := runReplication(ctx, f, 0, replicationSeed(f.Run.Seed, 0), observe); err != nil {
		t.Fatal(err)
	}
	if checked < 5000 || !seen[1] || !seen[2] || !seen[3] {
		t.Errorf("%d thinks checked, k seen %v: want every k from 1 to 3", checked, seen)
	}
	t.Logf("%d thinks, %d with a k other than tserver's", checked, wrong)
}

// TestChatBotDelaysTheQueue: a constant time with the bot shifts the chat
// into its queue by exactly that much (the first arrival's time is drawn
// before anything else, with or without a bot), and patience starts
// after it: with the bot far longer than the patience, nobody abandons
// while every agent is free.
func TestChatBotDelaysTheQueue(t *testing.T) {
	const center = `
queues: [{name: chat, media: im}]
agents: [{group: c, count: 30, skills: {chat: 5}, capacity: {im: 2}}]
traffic:
  - queue: chat
    arrivals: {poisson: {per_hour: 60}}
    patience: {constant: {value: 30s}}
    chat:
      exchanges: 4
      customer_think: {exponential: {mean: 30s}}
      agent_think: {exponential: {mean: 20s}}
%s
run: {duration: 20h, warmup: 0s, replications: 2, seed: 4}
`
	first := func(f *config.File) (time.Duration, []replication) {
		var at []time.Duration
		reps := chatReplications(t, f, nil, func(r int, srv *tserver.Server) {
			srv.Subscribe(func(e tserver.Event) {
				if r == 0 && e.ConnID != 0 && len(at) == 0 {
					at = append(at, e.Time.Sub(clock.Epoch))
				}
			})
		})
		if len(at) == 0 {
			t.Fatal("no chat entered")
		}
		return at[0], reps
	}
	without, _ := first(mustParse(t, fmt.Sprintf(center, "")))
	with, reps := first(mustParse(t, fmt.Sprintf(center, "      bot: {constant: {value: 10m}}")))
	if with-without != 10*time.Minute {
		t.Errorf("first chat entered at %v with a 10m bot, %v without: want exactly 10m later", with, without)
	}
	for r, rep := range reps {
		o := rep.queues[0]
		if o.abandoned != 0 || o.answered < 1000 || o.offered != o.answered+o.abandoned+o.waitingAtEnd {
			t.Errorf("replication %d: offered %d answered %d abandoned %d: patience ran during the bot?", r, o.offered, o.answered, o.abandoned)
		}
		if wait := o.waitAnswered.Seconds() / float64(o.answered); wait > 1 {
			t.Errorf("replication %d: mean wait %.1f s: the bot's time counted as waiting", r, wait)
		}
	}
}

// TestChatPatienceIsTheChatsOwn: voice callers and chatters share agents;
// each line abandons at its own patience (exponential, 1 min for voice,
// 8 min for chats, after a bot): per queue, abandoned = θ × ∫ queue
// length with the line's own θ, within the 95% interval, and not with the
// other line's.
func TestChatPatienceIsTheChatsOwn(t *testing.T) {
	f := mustParse(t, `
queues: [{name: voice}, {name: chat, media: im}]
agents:
  - {group: v, count: 7, skills: {voice: 5}}
  - {group: c, count: 2, skills: {chat: 5}, capacity: {voice: 0, im: 2}}
  - {group: m, count: 2, skills: {voice: 5, chat: 5}, capacity: {voice: 1, im: 2}}
traffic:
  - {queue: voice, arrivals: {poisson: {per_hour: 120}}, handle: {exponential: {mean: 4m}}, patience: {exponential: {mean: 1m}}}
  - queue: chat
    arrivals: {poisson: {per_hour: 60}}
    patience: {exponential: {mean: 8m}}
    chat:
      exchanges: {poisson: {mean: 4}}
      customer_think: {gamma: {mean: 40s, sd: 30s}}
      agent_think: {exponential: {mean: 30s}}
      concurrency_slowdown: 0.3
      bot: {exponential: {mean: 1m}}
run: {duration: 60h, warmup: 1h, replications: 12, seed: 9}
`)
	reps := chatReplications(t, f, nil, nil)
	theta := []float64{1 / 60.0, 1 / 480.0}
	for qi, q := range f.Queues {
		var own, other []float64
		var abandoned int64
		for _, rep := range reps {
			o := rep.queues[qi]
			abandoned += o.abandoned
			own = append(own, float64(o.abandoned)-theta[qi]*o.queueArea)
			other = append(other, float64(o.abandoned)-theta[1-qi]*o.queueArea)
		}
		if abandoned < 500 {
			t.Fatalf("%s: only %d abandoned: the test says little", q.Name, abandoned)
		}
		t.Logf("%s: %d abandoned", q.Name, abandoned)
		within(t, q.Name+": abandoned - own θ × ∫queue length", own, 0)
		if mean, half := MeanCI95(other); math.Abs(mean) <= half {
			t.Errorf("%s: the other line's patience fits too (%.1f ±%.1f): the test has no power", q.Name, mean, half)
		}
	}
}

// TestChatSameBytesAtOneAndTwoWorkers: chats with a bot and a slowdown
// give the same bytes at any parallelism.
func TestChatSameBytesAtOneAndTwoWorkers(t *testing.T) {
	f := mustParse(t, fmt.Sprintf(chatCenter, 3, 0.25))
	f.Run.Duration, f.Run.Replications = config.Duration(30*time.Hour), 4
	f.Traffic[0].Chat.Bot = &config.Distribution{Exponential: &config.Exponential{Mean: config.Duration(time.Minute)}}
	sameJSONAtWorkers(t, f, Config{}, wholeResult, 1, 2)
}

// TestChatsAllocateNothingPerExchange: two days of chats of 20 exchanges
// allocate no more per chat than the same days of chats handled for one
// handle time (agents enough that nobody waits in either): the
// exchanges' events reuse their slots.
func TestChatsAllocateNothingPerExchange(t *testing.T) {
	const center = `
queues: [{name: chat, media: im}]
agents: [{group: c, count: 30, skills: {chat: 5}, capacity: {im: 3}}]
traffic:
  - queue: chat
    arrivals: {poisson: {per_hour: 120}}
%s
run: {duration: 48h, warmup: 0s, replications: 1, seed: 3}
`
	allocs := func(line string) (float64, int64) {
		f := mustParse(t, fmt.Sprintf(center, line))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rep, err := runReplication(context.Background(), f, 0, 1, nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		return float64(after.Mallocs - before.Mallocs), rep.queues[0].answered
	}
	plain, n1 := allocs("    handle: {constant: {value: 10m}}")
	chats, n2 := allocs("    chat: {exchanges: 20, customer_think: {exponential: {mean: 15s}}, agent_think: {exponential: {mean: 15s}}, concurrency_slowdown: 0.2}")
	perPlain, perChat := plain/float64(n1), chats/float64(n2)
	t.Logf("allocations per interaction: %.2f handled for a handle time, %.2f as 20 exchanges (%d, %d answered)", perPlain, perChat, n1, n2)
	if perChat > perPlain+0.5 {
		t.Errorf("a chat of 20 exchanges allocates %.2f, one handle time %.2f: the exchanges allocate", perChat, perPlain)
	}
}
