package sipmsg

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/memnet"
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
type phone struct {
	t    testing.TB
	conn *memnet.Conn
	addr string
	to   string
}

func (h *harness) phone(addr string) *phone {
	c, err := h.net.Listen(addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return &phone{t: h.t, conn: c, addr: addr, to: h.gwAddr}
}

type addrString string

func (a addrString) Network() string { return "udp" }
func (a addrString) String() string  { return string(a) }

func (p *phone) send(m sip.Message) {
	p.t.Helper()
	if _, err := p.conn.WriteTo([]byte(m.String()), addrString(p.to)); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next message, or nil if none comes within d (virtual).
func (p *phone) recv(d time.Duration) sip.Message {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65535)
	n, _, err := p.conn.ReadFrom(buf)
	if err != nil {
		return nil
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("unparsable message from the switch: %v\n%s", err, buf[:n])
	}
	return m
}

// expect waits for a message matching want ("MESSAGE", "200", ...),
// skipping others, within d.
func (p *phone) expect(want string, d time.Duration) sip.Message {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m := p.recv(time.Until(deadline))
		if m == nil {
			break
		}
		switch m := m.(type) {
		case *sip.Request:
			if m.Method.String() == want {
				return m
			}
		case *sip.Response:
			if fmt.Sprint(m.StatusCode) == want {
				return m
			}
		}
	}
	p.t.Fatalf("%s: no %s within %v", p.addr, want, d)
	return nil
}

func (p *phone) request(method sip.RequestMethod, user string, cseq uint32, callID string) *sip.Request {
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: 5060})
	host, port := splitHostPort(p.addr)
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: host, Port: port,
		Params: params("branch", sip.GenerateBranch())})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: port}, Params: params("tag", "ftag"+callID)})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: port}})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	return req
}

func splitHostPort(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	var port int
	fmt.Sscan(s[i+1:], &port)
	return s[:i], port
}

func params(k, v string) sip.HeaderParams {
	p := sip.NewParams()
	p.Add(k, v)
	return p
}

// register registers the agent phone 1001 with digest authentication.
func (p *phone) register() {
	p.t.Helper()
	req := p.request(sip.REGISTER, "1001", 1, "reg-1")
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.SetBody(nil)
	p.send(req)
	res := p.expect("401", 5*time.Second).(*sip.Response)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: "1001", Password: "secret", Count: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	req = p.request(sip.REGISTER, "1001", 2, "reg-1")
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	req.SetBody(nil)
	p.send(req)
	p.expect("200", 5*time.Second)
}

// respond answers req with code.
func (p *phone) respond(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil {
		if _, ok := to.Params.Get("tag"); !ok {
			to.Params.Add("tag", "phone-tag")
		}
	}
	p.send(res)
	return res
}

// quietSIP silences sipgo's package-global logger once: setting it again
// while another harness's gateway runs would race with its reads.
var quietSIP sync.Once
