package live

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

const crmToken = "crm-token-for-tests-0123456789"

// callbackConfig is examples/callback-center.yaml with the CRM's token.
func callbackConfig(t *testing.T) Config {
	cfg := testConfig(t, "callback-center.yaml")
	cfg.Getenv = func(name string) string {
		if name == "CCSWITCH_CRM_TOKEN" {
			return crmToken
		}
		return ""
	}
	return cfg
}

// register registers user's softphone (digest password) at the center,
// for expires seconds (0: unregisters).
func register(ctx context.Context, t *testing.T, c *Center, user, password string, expires int) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, c.Addrs().SIP)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:5998>"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := cli.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == sip.StatusUnauthorized {
		if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %d %s", user, res.StatusCode, res.Reason)
	}
}

// An agent watching a customer over CTI sees the customer's softphone
// register (online, reachable by sip) and unregister (offline), one event
// per change; a stranger's number is refused.
func TestCTIWatchesACustomersSoftphone(t *testing.T) {
	c := mustOpen(t, callbackConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	desk, err := cti.Dial(ctx, "ws://"+c.Addrs().HTTP+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	if _, err := desk.Login(ctx, "agent-01", "", "secret"); err != nil {
		t.Fatal(err)
	}
	ack, err := desk.Do(ctx, cti.Request{Request: cti.RequestMonitorCustomer, Customer: "C1001"})
	if err != nil || ack.Status != callback.Offline {
		t.Fatalf("monitor C1001: %+v %v; want offline", ack, err)
	}
	if _, err := desk.Do(ctx, cti.Request{Request: cti.RequestMonitorCustomer, Customer: "C9999"}); err == nil {
		t.Fatal("monitoring an unknown customer: no error")
	}
	next := func() cti.Message {
		t.Helper()
		for {
			m, err := desk.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Event == cti.EventCustomerStatus {
				return m
			}
		}
	}
	register(ctx, t, c, "7001", "alice-phone", 300)
	if m := next(); m.Customer != "C1001" || m.Status != callback.Online || !slices.Equal(m.Reachable, []callback.Medium{callback.SIP}) {
		t.Fatalf("after REGISTER: %+v; want C1001 online by sip", m)
	}
	register(ctx, t, c, "7001", "alice-phone", 0)
	if m := next(); m.Status != callback.Offline || len(m.Reachable) != 0 {
		t.Fatalf("after unREGISTER: %+v; want offline", m)
	}
}
