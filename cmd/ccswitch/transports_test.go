package main

import (
	"context"
	"crypto/tls"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/tserver"
)

// TestSIPOverTLSAndWebSocket: with a certificate the switch also answers
// SIP over TLS and secure WebSocket (and plain WebSocket when asked): an
// OPTIONS ping over each, and a phone registering with digest
// authentication over WSS, which logs its agent in.
func TestSIPOverTLSAndWebSocket(t *testing.T) {
	cert, key := cctest.SelfSigned(t)
	lc := startCenter(t, "--tls-cert", cert, "--tls-key", key,
		"--sip-tls", "127.0.0.1:0", "--sip-wss", "127.0.0.1:0", "--sip-ws", "127.0.0.1:0")
	s := lc.m.center.Addrs()
	ua, err := sipgo.NewUA(sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tr := range []struct {
		name string
		addr string
	}{{"tls", s.SIPTLS}, {"wss", s.SIPWSS}, {"ws", s.SIPWS}} {
		t.Run("options over "+tr.name, func(t *testing.T) {
			host, port := splitAddr(t, tr.addr)
			req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "ccswitch", Host: host, Port: port,
				UriParams: sip.HeaderParams{{K: "transport", V: tr.name}}})
			req.SetTransport(tr.name)
			res, err := cli.Do(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("OPTIONS over %s: %d", tr.name, res.StatusCode)
			}
		})
	}
	t.Run("register over wss", func(t *testing.T) {
		host, port := splitAddr(t, s.SIPWSS)
		uri := sip.Uri{Scheme: "sip", User: "1002", Host: host, Port: port, UriParams: sip.HeaderParams{{K: "transport", V: "wss"}}}
		req := sip.NewRequest(sip.REGISTER, uri)
		req.SetTransport("wss")
		req.AppendHeader(sip.NewHeader("Contact", "<sip:1002@127.0.0.1:5999;transport=wss>"))
		req.AppendHeader(sip.NewHeader("Expires", "600"))
		res, err := cli.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != sip.StatusUnauthorized {
			t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
		}
		res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1002", Password: "secret"})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != sip.StatusOK {
			t.Fatalf("REGISTER with credentials: %d", res.StatusCode)
		}
		lc.waitFor(t, "agent 1002 logged in", 10*time.Second, func(ev []tserver.Event) bool {
			for _, e := range ev {
				if e.Type == tserver.EventAgentLogin && e.DN == "1002" {
					return true
				}
			}
			return false
		})
	})
}

func splitAddr(t *testing.T, a string) (string, int) {
	t.Helper()
	ta, err := net.ResolveTCPAddr("tcp", a)
	if err != nil {
		t.Fatalf("not a TCP address: %v", err)
	}
	return ta.IP.String(), ta.Port
}
