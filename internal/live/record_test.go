package live

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim/replay"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// recBench is a center on a virtual clock with a Recorder subscribed, as
// Open wires it: the real tserver and the real IM gateway, agents' desks
// that answer when the test says, and one in-memory XMPP network.
type recBench struct {
	t   *testing.T
	clk *clock.Virtual
	ts  *tserver.Server
	gw  *imgw.Gateway
	rec *Recorder
	// conns are the interactions by the ANI of their calls, or "chat".
	conns map[string]pbx.ConnID
}

// Offer implements tserver.Endpoints: the gateway takes what is its own
// (the automated agents'); a desk rings until the test answers.
func (b *recBench) Offer(c *tserver.Contact, a *tserver.Agent) {
	if c.Media == pbx.IM {
		b.gw.Offer(c, a)
	}
}
func (b *recBench) Dial(*tserver.Contact, *tserver.Agent) {}
func (b *recBench) Network() string                       { return "xmpp:example.test" }
func (b *recBench) AuthenticatesUsers() bool              { return true }
func (b *recBench) Send(imgw.Outbound)                    {}

// written writes the bench's recording to path and returns it.
func (b *recBench) written(t *testing.T, path string) string {
	t.Helper()
	if err := b.rec.Write(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded:\n%s", data)
	return string(data)
}

func newRecBench(t *testing.T, example, script string) *recBench {
	t.Helper()
	f, err := config.Load(filepath.Join("..", "..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	b := &recBench{t: t, clk: clock.NewVirtual(clock.Epoch), conns: map[string]pbx.ConnID{}}
	b.rec = NewRecorder(RecorderConfig{Path: script, Center: f, RingTimeout: 20 * time.Second, Seed: 1, Log: zerolog.Nop()})
	b.ts, err = tserver.New(f, tserver.Config{Clock: b.clk, Endpoints: b, Seed: 1, RingTimeout: 20 * time.Second, DeferLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	b.ts.Subscribe(b.rec.Event)
	b.ts.Subscribe(func(e tserver.Event) {
		if e.Type == tserver.EventQueued || e.Type == tserver.EventRinging {
			key := e.ANI
			if e.Media == pbx.IM {
				key = "chat"
			}
			b.conns[key] = e.ConnID
		}
	})
	store := imgw.NewMemoryStore()
	b.gw, err = imgw.New(imgw.Config{Clock: b.clk, TServer: b.ts, Center: f, Desk: nopIMDesk{}, Log: zerolog.Nop(), Customers: store, Journal: store})
	if err != nil {
		t.Fatal(err)
	}
	b.gw.AddAdapter(b)
	return b
}

type nopIMDesk struct{}

func (nopIMDesk) DeliverChat(string, imgw.AgentChat) {}

// at runs f at virtual time d, failing the test on error.
func (b *recBench) at(d time.Duration, f func() error) {
	b.clk.AfterFunc(d, func() {
		if err := f(); err != nil {
			b.t.Errorf("at %s: %v", d, err)
		}
	})
}

func (b *recBench) customer(d time.Duration, in imgw.Inbound) {
	in.From = imgw.Address{Network: "xmpp:example.test", User: "alice@example.test", Device: "phone"}
	b.at(d, func() error {
		b.rec.Inbound(b.clk.Now(), in, b.gw, b.gw.Handle)
		return nil
	})
}

// TestRecorderWritesAScriptThatReplaysGreen: a session of calls (one
// answered and hung up, one abandoned in the queue, one rejected) and a
// chat (the bot, the queue, an agent's answer, the customer leaving),
// with presence, becomes a script that loads, says what happened, and
// replays with every expectation met and no action refused.
func TestRecorderWritesAScriptThatReplaysGreen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "session.yaml")
	b := newRecBench(t, "replay-center.yaml", path)
	login := func(id string) func() error {
		return func() error {
			if err := b.ts.AgentLogin(id, ""); err != nil {
				return err
			}
			return b.ts.AgentReady(id)
		}
	}
	b.at(10*time.Second, login("sam"))
	b.at(10*time.Second, login("liz"))
	b.at(10*time.Second, login("bea"))
	b.at(11*time.Second, func() error {
		_, err := b.ts.Arrive(&tserver.Arrival{Media: pbx.VoIP, ANI: "+15550001", DNIS: "7000"})
		return err
	})
	b.at(13*time.Second, func() error { return b.ts.AnswerCall(b.conns["+15550001"]) })
	b.at(12*time.Second, func() error {
		_, err := b.ts.Arrive(&tserver.Arrival{Media: pbx.VoIP, ANI: "+15550002", DNIS: "7000"})
		return err
	})
	b.at(15*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550002"]) }) // abandoned in the queue
	b.at(40*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550001"]) })
	b.at(41*time.Second, func() error {
		_, err := b.ts.Arrive(&tserver.Arrival{Media: pbx.VoIP, ANI: "+15550003", DNIS: "7002"})
		return err
	})
	b.at(43*time.Second, func() error { return b.ts.RejectCall(b.conns["+15550003"], "busy") })
	b.at(45*time.Second, func() error { return b.ts.AnswerCall(b.conns["+15550003"]) })
	b.at(50*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550003"]) })

	b.customer(20*time.Second, imgw.Inbound{Kind: imgw.Client, Client: &imgw.ClientInfo{Family: "slixmpp", Version: "1.8", Source: "xep-0092"}})
	b.customer(20*time.Second, imgw.Inbound{Kind: imgw.Message, Text: "hello"})
	b.customer(22*time.Second, imgw.Inbound{Kind: imgw.Message, Text: "my order"})
	b.at(25*time.Second, func() error { return b.ts.AnswerCall(b.conns["chat"]) })
	b.at(27*time.Second, func() error {
		if err := b.gw.AgentMessage("liz", b.conns["chat"], "Let me see."); err != nil {
			return err
		}
		b.rec.AgentLine(b.clk.Now(), "liz", b.conns["chat"], "Let me see.")
		return nil
	})
	b.customer(30*time.Second, imgw.Inbound{Kind: imgw.Message, Text: "thanks"})
	b.customer(35*time.Second, imgw.Inbound{Kind: imgw.Typing, State: imgw.StateGone})
	b.customer(36*time.Second, imgw.Inbound{Kind: imgw.Presence, Presence: &imgw.PresenceInfo{Available: true, Show: "away"}})
	b.clk.RunUntil(time.Minute)
	b.rec.Stop()
	// What comes after Stop (a drain) is not recorded.
	if _, err := b.ts.Arrive(&tserver.Arrival{Media: pbx.VoIP, ANI: "+15550009", DNIS: "7000"}); err != nil {
		t.Fatal(err)
	}
	got := b.written(t, path)
	for _, want := range []string{
		`center: "`,
		`- {at: 0, agent: "2001", do: login}`,
		`- {at: 0, agent: "2001", do: ready}`,
		`- {at: 1, call: c1, from: "+15550001", to: "7000"}`,
		`- {at: 3, agent: "2001", do: answer, interaction: c1}`,
		`- {at: 5, call: c2, do: hangup}`,
		`- {at: 30, call: c1, do: hangup}`,
		`- {at: 33, agent: "2002", do: reject, reason: "busy", interaction: c3}`,
		`- {at: 10, chat: k1, network: xmpp, from: "alice@example.test", client: "slixmpp 1.8", say: "hello"}`,
		`- {at: 12, chat: k1, say: "my order"}`,
		`- {at: 15, agent: "2003", do: answer, interaction: k1}`,
		`- {at: 17, agent: "2003", say: "Let me see.", interaction: k1}`,
		`- {at: 25, chat: k1, do: leave}`,
		`- {at: 26, presence: "alice@example.test", show: away, network: xmpp}`,
		`- {call: c1, event: EventEstablished, agent: "2001", within: 4}`,
		`- {call: c2, event: EventAbandoned, within: 5}`,
		`- {chat: k1, event: EventQueued, queue: "chats", within: 6}`,
		`- {chat: k1, event: EventReleased, agent: "2003", within: 17}`,
		`- {at_end: {queue: "sales", offered: 2, answered: 1, abandoned: 1, callback: 0}}`,
		`- {at_end: {queue: "chats", offered: 1, answered: 1, abandoned: 0, callback: 0}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %s", want)
		}
	}
	// Not recorded: the call after Stop; the agents' ready again when
	// their work ended (the center's), a reject's not ready; a release
	// of the chat the customer ended.
	for _, not := range []string{"+15550009", "c4", "not_ready", "do: release", "at: 25, agent: \"2003\", do: ready", "at: 30, agent: \"2001\", do: ready"} {
		if strings.Contains(got, not) {
			t.Errorf("script has %q: %s", not, not)
		}
	}
	s, err := replay.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Interactions() != 4 {
		t.Errorf("script: %d interactions, want 4", s.Interactions())
	}
	replaysGreen(t, s)
	t.Logf("replayed green: %d expectations", len(s.Expect))
}

// TestRecorderStopsAtItsBound: past MaxRecorded interactions the recorder
// stops, and says so in the log; what came before is written.
func TestRecorderStopsAtItsBound(t *testing.T) {
	f, err := config.Load(filepath.Join("..", "..", "examples", "replay-center.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	path := filepath.Join(t.TempDir(), "big.yaml")
	r := NewRecorder(RecorderConfig{Path: path, Center: f, RingTimeout: 20 * time.Second, Seed: 1, Log: zerolog.New(&logged)})
	for i := range MaxRecorded + 5 {
		r.Event(tserver.Event{Type: tserver.EventQueued, Time: clock.Epoch.Add(time.Duration(i) * time.Millisecond),
			ConnID: pbx.ConnID(i + 1), Media: pbx.VoIP, ANI: "+1555", DNIS: "7000", Queue: "sales"})
	}
	if err := r.Write(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	if !strings.Contains(got, "call: c10000,") || strings.Contains(got, "c10001") {
		t.Errorf("want c1..c10000 recorded, no more")
	}
	if !strings.Contains(logged.String(), "record: limit reached") || strings.Count(logged.String(), "limit reached") != 1 {
		t.Errorf("want one log line at the limit, got %q", logged.String())
	}
	if !strings.Contains(got, "offered: 10000,") {
		t.Errorf("want the queue's count of what was recorded")
	}
}

// TestRecordWrittenOnShutdown: a center opened with Config.Record writes
// its script when it shuts down (serve's SIGTERM drain) as when it
// closes: here the agents the center file makes ready at start; the
// script loads and replays green.
func TestRecordWrittenOnShutdown(t *testing.T) {
	for _, how := range []string{"shutdown", "close"} {
		t.Run(how, func(t *testing.T) {
			cfg := testConfig(t, "demo-center.yaml")
			cfg.Record = filepath.Join(t.TempDir(), "s.yaml")
			cfg.Drain = -1
			c, err := Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if how == "shutdown" {
				err = c.Shutdown(t.Context())
			} else {
				err = c.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			s, err := replay.Load(cfg.Record, nil)
			if err != nil {
				t.Fatal(err)
			}
			var logins int
			for _, a := range s.Actions {
				if a.Kind == replay.AgentAction && a.Do == "login" {
					logins++
				}
			}
			want := 0
			for _, a := range cfg.Center.ExpandAgents() {
				if a.Ready && a.Password == "" {
					want++
				}
			}
			if logins != want || want == 0 {
				t.Errorf("%d logins recorded, want %d", logins, want)
			}
			res, err := replay.Run(s)
			if err != nil || res.Failed != 0 || len(res.ActionErrors) != 0 {
				t.Fatalf("replay: %v %+v", err, res)
			}
		})
	}
}

// TestRecorderWritesRouters: a router's RouteCalls at a route point
// become router actions before the calls, a new one only when the target
// or the pace changes; its unregistering becomes stop; a call that went
// to the default queue after it writes none. The script replays green.
func TestRecorderWritesRouters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session.yaml")
	b := newRecBench(t, "replay-center.yaml", path)
	b.ts.WatchRouters(func(number string, routers int) { b.rec.Routers(b.clk.Now(), number, routers) })
	var unregister func()
	b.at(10*time.Second, func() error {
		if err := b.ts.AgentLogin("bea", ""); err != nil {
			return err
		}
		return b.ts.AgentReady("bea")
	})
	b.at(10*time.Second, func() (err error) {
		unregister, err = b.ts.RegisterRouter("5000")
		return err
	})
	call := func(d time.Duration, ani string) {
		b.at(d, func() error {
			_, err := b.ts.Arrive(&tserver.Arrival{Media: pbx.VoIP, ANI: ani, DNIS: "5000"})
			return err
		})
	}
	routing := map[string]pbx.ConnID{} // the calls at the route point, by ANI
	b.ts.Subscribe(func(e tserver.Event) {
		if e.Type == tserver.EventRouteRequest {
			routing[e.ANI] = e.ConnID
		}
	})
	route := func(d time.Duration, ani, target string) {
		b.at(d, func() error { return b.ts.RouteCall(routing[ani], target) })
	}
	call(11*time.Second, "+15550001")
	route(12*time.Second, "+15550001", "vip")
	b.at(13*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550001"]) })
	call(14*time.Second, "+15550002")
	route(15050*time.Millisecond, "+15550002", "vip") // the same pace, within the tolerance
	b.at(16*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550002"]) })
	call(17*time.Second, "+15550003")
	route(19*time.Second, "+15550003", "sales")
	b.at(20*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550003"]) })
	b.at(21*time.Second, func() error { unregister(); return nil })
	call(22*time.Second, "+15550004")
	b.at(23*time.Second, func() error { return b.ts.ReleaseCall(b.conns["+15550004"]) })
	b.clk.RunUntil(time.Minute)
	b.rec.Stop()
	got := b.written(t, path)
	for _, want := range []string{
		"- {at: 1, router: \"5000\", target: \"vip\", after: 1}\n  - {at: 1, call: c1, from: \"+15550001\", to: \"5000\"}",
		"- {at: 7, router: \"5000\", target: \"sales\", after: 2}\n  - {at: 7, call: c3, ",
		`- {at: 11, router: "5000", do: stop}`,
		`- {call: c2, event: EventQueued, queue: "vip", within: 3.05}`,
		`- {call: c4, event: EventQueued, queue: "sales", within: 2}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %s", want)
		}
	}
	if n := strings.Count(got, "router: \"5000\", target:"); n != 2 {
		t.Errorf("script has %d router actions with a target, want 2", n)
	}
	s, err := replay.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	replaysGreen(t, s)
}

// replaysGreen replays recorded script s in virtual time and fails t
// unless every expectation is met and every action played.
func replaysGreen(t *testing.T, s *replay.Script) {
	t.Helper()
	res, err := replay.Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || len(res.ActionErrors) != 0 || res.Met != len(s.Expect) {
		var rep replay.Report
		rep.Add(res)
		var out strings.Builder
		_ = rep.WriteText(&out)
		t.Fatalf("replay of the recording: %d met, %d failed, action errors %v\n%s", res.Met, res.Failed, res.ActionErrors, out.String())
	}
}
