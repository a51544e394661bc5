package live

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/sim"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver"
)

// listen opens every listener: SIP over UDP and TCP, TLS and WebSocket
// when asked, and HTTP (HTTPS with a certificate). The TLS files are read
// first, so that a bad certificate fails before any port is taken.
func (c *Center) listen() error {
	cfg := &c.cfg
	var tlsConf *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("live: TLS certificate %s, key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var err error
	if c.sipUDP, c.sipTCP, err = listenSIP(cfg.SIPAddr); err != nil {
		return err
	}
	if cfg.SIPWSAddr != "" {
		if c.sipWS, err = listenTCP("sip ws", cfg.SIPWSAddr); err != nil {
			return err
		}
	}
	if tlsConf != nil {
		for _, l := range []struct {
			addr string
			dst  *net.Listener
			name string
		}{{cfg.SIPTLSAddr, &c.sipTLS, "sip tls"}, {cfg.SIPWSSAddr, &c.sipWSS, "sip wss"}} {
			ln, err := listenTCP(l.name, l.addr)
			if err != nil {
				return err
			}
			*l.dst = tls.NewListener(ln, tlsConf)
		}
	}
	if c.httpLn, err = listenTCP("http", cfg.HTTPAddr); err != nil {
		return err
	}
	if !isLoopback(c.httpLn.Addr().String()) && tlsConf == nil {
		c.log.Warn().Str("http", c.httpLn.Addr().String()).
			Msg("plain HTTP on an address that is not loopback: CTI passwords and chats cross the network in clear")
	}
	mux := c.routes()
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// The HTTP server's own complaints (a TLS handshake a stranger broke
	// off, say) go to the log like the SIP stack's: bounded.
	errLog := slog.NewLogLogger(newLimitedHandler(zerolog.NewSlogHandler(c.log.With().Str("component", "http").Logger()), nil), slog.LevelWarn)
	c.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: errLog}
	if tlsConf != nil {
		c.httpSrv.TLSConfig = tlsConf.Clone()
		c.https = true
	}
	return nil
}

func listenTCP(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("live: %s %s: %w", what, addr, err)
	}
	return ln, nil
}

// sipReadBuffer is the receive buffer asked for SIP's UDP socket.
const sipReadBuffer = 4 << 20

// listenSIP opens SIP's UDP socket at addr and a TCP listener on the same
// port. With port 0 the kernel picks a free UDP port whose TCP twin may be
// in use; then it tries again with another port.
func listenSIP(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("live: sip %s: %w", addr, err)
	}
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("live: sip udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			// A burst of datagrams beyond the default receive buffer
			// (about 200 KB) is dropped by the kernel, and each lost ACK
			// or BYE costs a string of retransmissions: ask for 4 MB (the
			// kernel caps it at net.core.rmem_max).
			if uc, ok := pc.(*net.UDPConn); ok {
				_ = uc.SetReadBuffer(sipReadBuffer)
			}
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("live: sip tcp %s: %w", addr, err)
		}
	}
}

// endpoints sends each offer to the agent's device: a simulated desk
// phone (Simulate), the IM gateway for chats, or the SIP gateway.
type endpoints struct {
	sip   *sipgw.Gateway
	desks *sim.Live
	im    *imgw.Gateway // answers for its automated agents
}

var _ tserver.Endpoints = (*endpoints)(nil)

func (e *endpoints) Offer(x *tserver.Contact, a *tserver.Agent) {
	if e.desks != nil && e.desks.Owns(a) {
		e.desks.Offer(x, a)
		return
	}
	if x.Media == pbx.IM {
		// A chat rings on the agent's CTI desktop (EventRinging), which
		// answers with RequestAnswerCall, or is an automated agent's,
		// which the gateway answers; no phone is involved.
		if e.im != nil {
			e.im.Offer(x, a)
		}
		return
	}
	if x.Media == pbx.Callback && !e.sip.Carries(x) {
		// The agent's phone rings, then the customer (agent first). A
		// customer-first callback's customer is on the line already: it
		// is offered like a caller.
		e.sip.OfferCallback(x, a)
		return
	}
	e.sip.Offer(x, a)
}

func (e *endpoints) Dial(x *tserver.Contact, a *tserver.Agent) {
	if e.desks != nil && e.desks.Owns(a) {
		e.desks.Dial(x, a)
		return
	}
	e.sip.Dial(x, a)
}
