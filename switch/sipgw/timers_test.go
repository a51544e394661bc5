package sipgw

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/memnet"
	"github.com/ccswitch/ccswitch/internal/siptest"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// These tests run the gateway and sipgo inside a testing/synctest bubble
// over an in-memory network: sipgo's transaction timers (Timer A/B, 2xx
// retransmission) and the gateway's ring timeout run in virtual time, so
// a 32-second Timer B takes microseconds, and nothing sleeps.

const timerCenter = `queues: [{name: support, media: voip, number: "6000"}]
route_points: [{number: "5000", queue: support}]
agents: [{id: a1, number: "1001", password: secret, skills: {support: 5}}]
`

type tmHarness struct {
	t        testing.TB
	net      *memnet.Network
	gw       *Gateway
	loop     *clock.Loop
	gwAddr   string
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	events   []tserver.Event
	rtpPorts int
}

func tmStart(t testing.TB, ringTimeout time.Duration, tune ...func(*Config)) *tmHarness {
	t.Helper()
	return tmStartWith(t, ringTimeout, nil, tune...)
}

// tmStartWith is tmStart with setup run on the gateway before it serves.
func tmStartWith(t testing.TB, ringTimeout time.Duration, setup func(*Gateway), tune ...func(*Config)) *tmHarness {
	t.Helper()
	quietSIP.Do(func() { sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil))) })
	h := &tmHarness{t: t, net: memnet.New(), gwAddr: "127.0.0.1:5060", done: make(chan struct{})}
	f, err := config.Parse("timers.yaml", []byte(timerCenter))
	if err != nil {
		t.Fatal(err)
	}
	loop := clock.NewLoop()
	var gw *Gateway
	reg := registrar.New(registrar.Config{
		Realm:       "ccswitch",
		Credentials: registrar.StaticCredentials{"1001": registrar.HA1("1001", "ccswitch", "secret")},
		OnChange:    func(u string, c []registrar.Contact) { gw.OnRegistration(u, c) },
	})
	cfg := Config{Loop: loop, Registrar: reg, Log: zerolog.Nop(), RingTimeout: ringTimeout, ListenRTP: h.listenRTP}
	for _, f := range tune {
		f(&cfg)
	}
	gw, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tserver.New(f, tserver.Config{Clock: clock.NewReal(loop), Endpoints: gw, DeferLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	gw.Attach(ts)
	h.gw, h.loop = gw, loop
	if setup != nil {
		setup(gw)
	}
	ts.Subscribe(func(e tserver.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	})
	pc, err := h.net.Listen(h.gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go loop.Run(ctx)
	go func() {
		defer close(h.done)
		if err := gw.Serve(ctx, Listeners{UDP: pc}); err != nil {
			t.Error(err)
		}
	}()
	return h
}

// listenRTP gives the gateway its RTP sockets on the in-memory network
// (even ports from 20000), so media stays inside the bubble too.
func (h *tmHarness) listenRTP(ip string, _, _ int) (net.PacketConn, int, error) {
	h.mu.Lock()
	port := 20000 + 2*h.rtpPorts
	h.rtpPorts++
	h.mu.Unlock()
	c, err := h.net.Listen(net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		return nil, 0, err
	}
	return c, port, nil
}

func (h *tmHarness) stop() {
	h.cancel()
	<-h.done
}

func (h *tmHarness) transcript() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		s := e.Type.String()
		if e.Reason != "" {
			s += ":" + e.Reason
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// tmPhone is a hand-driven SIP endpoint on the in-memory network.
type tmPhone = siptest.Phone

func (h *tmHarness) phone(addr string) *tmPhone {
	c, err := h.net.Listen(addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return &siptest.Phone{T: h.t, Conn: c, Addr: addr, To: h.gwAddr}
}

// TestRingTimeoutRedirects: the agent's phone rings (180) and never
// answers; after the ring timeout the switch CANCELs the leg, the call
// goes back to its queue and the agent becomes not ready.
func TestRingTimeoutRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		agent := h.phone("127.0.0.1:7001")
		agent.Register()
		synctest.Wait()
		caller := h.phone("127.0.0.1:7002")
		inv := caller.Call("call-1")
		ok := caller.Expect("200", 5*time.Second).(*sip.Response)
		caller.Ack(inv, ok)
		offered := agent.Expect("INVITE", 5*time.Second).(*sip.Request)
		start := time.Now()
		agent.Respond(offered, 180, "Ringing")
		cancel := agent.Expect("CANCEL", time.Minute).(*sip.Request)
		if waited := time.Since(start); waited < 20*time.Second || waited > 21*time.Second {
			t.Errorf("CANCEL after %v, want the 20s ring timeout", waited)
		}
		agent.Respond(cancel, 200, "OK")
		agent.Respond(offered, 487, "Request Terminated")
		synctest.Wait()
		defer caller.HangUp(inv, ok)
		got := h.transcript()
		t.Logf("CANCEL after %v; transcript %s", time.Since(start), got)
		for _, want := range []string{
			"EventRinging EventReleased:ring_no_answer EventAgentNotReady:ring_no_answer EventQueued",
		} {
			if !strings.Contains(got, want) {
				t.Fatalf("transcript %q lacks %q", got, want)
			}
		}
	})
}

// TestLostACKReleases: the caller never ACKs the switch's 200; the switch
// retransmits it (Timer G style, T1 doubling to T2) and gives up after
// 64*T1 = 32 s, when the call is over: an abandon.
func TestLostACKReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		caller := h.phone("127.0.0.1:7002")
		caller.Call("call-2")
		start := time.Now()
		oks := 0
		for {
			m := caller.Recv(time.Minute)
			if m == nil {
				break
			}
			if r, ok := m.(*sip.Response); ok && r.StatusCode == 200 {
				oks++
			}
			if r, ok := m.(*sip.Request); ok && r.Method == sip.BYE {
				break
			}
		}
		synctest.Wait()
		t.Logf("200 sent %d times; gave up after %v; transcript %s", oks, time.Since(start), h.transcript())
		if oks < 7 {
			t.Errorf("200 sent %d times, want it retransmitted until Timer H (at least 7)", oks)
		}
		if got := h.transcript(); !strings.Contains(got, "EventQueued EventAbandoned") {
			t.Fatalf("transcript %q: want the call abandoned", got)
		}
		if d := time.Since(start); d < 32*time.Second {
			t.Errorf("gave up after %v, before 64*T1", d)
		}
	})
}

// TestTimerBUnreachable: the agent's phone never answers the INVITE at
// all (no 1xx); after Timer B (64*T1 = 32 s) the offer fails as
// unreachable and the call goes back to its queue.
func TestTimerBUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 5*time.Minute) // longer than Timer B
		defer h.stop()
		agent := h.phone("127.0.0.1:7001")
		agent.Register()
		synctest.Wait()
		caller := h.phone("127.0.0.1:7002")
		inv := caller.Call("call-3")
		ok := caller.Expect("200", 5*time.Second).(*sip.Response)
		caller.Ack(inv, ok)
		agent.Expect("INVITE", 5*time.Second)
		start := time.Now()
		invites := 1
		for time.Since(start) < 40*time.Second {
			m := agent.Recv(40*time.Second - time.Since(start))
			if m == nil {
				break
			}
			if r, ok := m.(*sip.Request); ok && r.Method == sip.INVITE {
				invites++ // Timer A retransmissions
			}
		}
		synctest.Wait()
		t.Logf("INVITE sent %d times; transcript %s", invites, h.transcript())
		if invites < 6 {
			t.Errorf("INVITE sent %d times, want Timer A retransmissions", invites)
		}
		defer caller.HangUp(inv, ok)
		if got := h.transcript(); !strings.Contains(got, "EventReleased:unreachable EventAgentNotReady:unreachable EventQueued") {
			t.Fatalf("transcript %q: want the offer to fail as unreachable", got)
		}
	})
}

// TestMaxCallsRefusesPastTheLimit: past MaxCalls the switch answers 503
// with Retry-After instead of running out of sockets.
func TestMaxCallsRefusesPastTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second, func(c *Config) { c.MaxCalls = 1 })
		defer h.stop()
		first := h.phone("127.0.0.1:7002")
		inv := first.Call("call-1")
		ok := first.Expect("200", 5*time.Second).(*sip.Response)
		first.Ack(inv, ok)
		defer first.HangUp(inv, ok)
		second := h.phone("127.0.0.1:7003")
		second.Call("call-2")
		res := second.Expect("503", 5*time.Second).(*sip.Response)
		if res.GetHeader("Retry-After") == nil {
			t.Error("503 without Retry-After")
		}
		synctest.Wait()
		if got := h.transcript(); strings.Count(got, "EventQueued") != 1 {
			t.Fatalf("transcript %q: want only the first call in the center", got)
		}
	})
}

// quietSIP silences sipgo's package-global logger once: setting it again
// while another harness's gateway runs would race with its reads.
var quietSIP sync.Once
