package sipmsg

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/memnet"
	"github.com/ccswitch/ccswitch/internal/siptest"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver"
)

// These tests run the SIP gateway and sipgo inside a testing/synctest
// bubble over an in-memory network (as switch/sipgw's own tests do), with
// the adapter hooked to the gateway as internal/live hooks it: sipgo's
// retransmissions run in virtual time, and nothing sleeps.

const testCenter = `queues: [{name: support, media: voip, number: "6000"}]
route_points: [{number: "5000", queue: support}]
agents: [{id: a1, number: "1001", password: secret, skills: {support: 5}}]
`

var _ SIP = (*sipgw.Gateway)(nil)
var _ Registrations = (*registrar.Registrar)(nil)

type harness struct {
	t      testing.TB
	net    *memnet.Network
	gw     *sipgw.Gateway
	reg    *registrar.Registrar
	ts     *tserver.Server
	loop   *clock.Loop
	gwAddr string
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs a SIP gateway on 127.0.0.1:5060 of an in-memory network,
// with setup run before it serves.
func start(t testing.TB, setup func(*harness)) *harness {
	t.Helper()
	quietSIP.Do(func() { sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil))) })
	h := &harness{t: t, net: memnet.New(), gwAddr: "127.0.0.1:5060", done: make(chan struct{})}
	f, err := config.Parse("sipmsg.yaml", []byte(testCenter))
	if err != nil {
		t.Fatal(err)
	}
	h.loop = clock.NewLoop()
	h.reg = registrar.New(registrar.Config{
		Realm:       "ccswitch",
		Credentials: registrar.StaticCredentials{"1001": registrar.HA1("1001", "ccswitch", "secret")},
		OnChange:    func(u string, c []registrar.Contact) { h.gw.OnRegistration(u, c) },
	})
	if h.gw, err = sipgw.New(sipgw.Config{Loop: h.loop, Registrar: h.reg, Log: zerolog.Nop(), RingTimeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if h.ts, err = tserver.New(f, tserver.Config{Clock: clock.NewReal(h.loop), Endpoints: h.gw, DeferLogin: true}); err != nil {
		t.Fatal(err)
	}
	h.gw.Attach(h.ts)
	if setup != nil {
		setup(h)
	}
	pc, err := h.net.Listen(h.gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go h.loop.Run(ctx)
	go func() {
		defer close(h.done)
		if err := h.gw.Serve(ctx, sipgw.Listeners{UDP: pc}); err != nil {
			t.Error(err)
		}
	}()
	return h
}

// messages hooks a SIP MESSAGE network with chat user user to the
// gateway, as internal/live does; call it from start's setup.
func (h *harness) messages(user string, recv imgw.Receiver) *Messages {
	m := New(Config{SIP: h.gw, User: user, Receiver: recv, Log: zerolog.Nop(),
		Registrations: h.reg, Loop: h.loop, TServer: h.ts})
	h.gw.OnMessage(m)
	return m
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// phone is a hand-driven SIP endpoint on the in-memory network.
type phone = siptest.Phone

func (h *harness) phone(addr string) *phone {
	c, err := h.net.Listen(addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return &siptest.Phone{T: h.t, Conn: c, Addr: addr, To: h.gwAddr}
}

// quietSIP silences sipgo's package-global logger once: setting it again
// while another harness's gateway runs would race with its reads.
var quietSIP sync.Once
