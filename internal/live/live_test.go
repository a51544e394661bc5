package live

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// testConfig is a center from an example file on loopback port 0, with
// its store in a temporary folder.
func testConfig(t *testing.T, example string) Config {
	t.Helper()
	f, err := config.Load(filepath.Join("..", "..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Center: f, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		SIPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		StorePath: filepath.Join(t.TempDir(), "ccswitch.db"),
	}
}

func mustOpen(t *testing.T, cfg Config) *Center {
	t.Helper()
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestOpenCloseJoinsEveryGoroutine: a center with SIP, CTI, HTTP and the
// IM side leaves no goroutine behind once Close returns.
func TestOpenCloseJoinsEveryGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, example := range []string{"sip-center.yaml", "im-center.yaml"} {
		c, err := Open(context.Background(), testConfig(t, example))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + c.Addrs().HTTP + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /readyz %s", example, resp.Status)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestOpenFailingHalfWayClosesWhatItOpened: with its HTTP port taken, a
// center that had opened its store, spool and SIP sockets closes them
// again: the same store and SIP address open at once afterwards, and no
// goroutine is left.
func TestOpenFailingHalfWayClosesWhatItOpened(t *testing.T) {
	defer goleak.VerifyNone(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sip, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sipAddr := sip.LocalAddr().String()
	_ = sip.Close()

	cfg := testConfig(t, "im-center.yaml")
	cfg.SIPAddr, cfg.HTTPAddr = sipAddr, taken.Addr().String()
	c, err := Open(context.Background(), cfg)
	if err == nil {
		_ = c.Close()
		t.Fatal("Open with the HTTP port taken: no error")
	}
	if !strings.Contains(err.Error(), taken.Addr().String()) || errors.As(err, new(*ConfigError)) {
		t.Fatalf("error %q: want the address named, and not a config error", err)
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	c, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("the same store and SIP address after the failure: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigErrors: a Config that cannot work is refused before anything
// opens, as a *ConfigError naming what is wrong.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"no center", func(c *Config) { c.Center = nil }, "Center is required"},
		{"plain http beyond loopback", func(c *Config) { c.HTTPAddr = "0.0.0.0:0" }, "--insecure-http"},
		{"cert without key", func(c *Config) { c.TLSCert = "x.pem" }, "go together"},
		{"xmpp without im", func(c *Config) { c.XMPP = []XMPPProvider{{Addr: "127.0.0.1:5347", Domain: "a.test", Secret: "s"}} }, "no im section"},
		{"rtp ports", func(c *Config) { c.RTPPortMin, c.RTPPortMax = 30000, 20000 }, "RTP ports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "sip-center.yaml")
			tc.set(&cfg)
			_, err := Open(context.Background(), cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want a ConfigError containing %q", err, tc.want)
			}
		})
	}
	// Plain HTTP beyond loopback is allowed when asked for.
	cfg := testConfig(t, "sip-center.yaml")
	cfg.HTTPAddr, cfg.InsecureHTTP = "0.0.0.0:0", true
	c := mustOpen(t, cfg)
	if _, port, _ := net.SplitHostPort(c.Addrs().HTTP); port == "0" {
		t.Fatalf("listening on %s", c.Addrs().HTTP)
	}
}

// TestStatusWithoutCredentials: a stranger reads every queue's aggregates
// and nothing about a conversation, a customer or an agent.
func TestStatusWithoutCredentials(t *testing.T) {
	c := mustOpen(t, testConfig(t, "im-center.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addrs().HTTP+"/api/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string][]map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body["queues"]) != len(c.cfg.Center.Queues) {
		t.Fatalf("%d queues, want %d", len(body["queues"]), len(c.cfg.Center.Queues))
	}
	for k := range body {
		if k != "queues" {
			t.Errorf("public status has %q", k)
		}
	}
	for _, q := range body["queues"] {
		for k := range q {
			switch k {
			case "name", "media", "logged_in", "ready", "busy", "waiting", "oldest_wait", "ewt", "service_level", "stats":
			default:
				t.Errorf("queue %v has field %q", q["name"], k)
			}
		}
	}
}

// TestListenSIP: the SIP listeners share one port; with port 0 a UDP
// port whose TCP twin is taken is given up for another.
func TestListenSIP(t *testing.T) {
	pc, ln, err := listenSIP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := pc.LocalAddr().(*net.UDPAddr), ln.Addr().(*net.TCPAddr)
	if udp.Port != tcp.Port {
		t.Errorf("UDP port %d, TCP port %d", udp.Port, tcp.Port)
	}
	// That port's TCP twin is now taken: an explicit port fails.
	_ = pc.Close()
	defer ln.Close()
	if pc2, ln2, err := listenSIP(udp.String()); err == nil {
		_ = pc2.Close()
		_ = ln2.Close()
		t.Errorf("listenSIP(%s) with its TCP port taken: no error", udp)
	}
}

// TestStatusDetailedNeedsAWatchingRole: the detailed status (agents and
// conversations) is for a monitor's, supervisor's or admin's bearer
// token; a router's is forbidden, an unknown one unauthorized, and
// neither falls back to the public view.
func TestStatusDetailedNeedsAWatchingRole(t *testing.T) {
	cfg := testConfig(t, "im-center.yaml")
	tokens := map[string]string{"WALL_TOKEN": "wallboard-token-0123456789", "ROUTER_TOKEN": "router-token-0123456789"}
	cfg.Getenv = func(k string) string { return tokens[k] }
	cfg.Center.Users = append(cfg.Center.Users,
		config.User{Name: "wall", Roles: []string{"monitor"}, TokenEnv: "WALL_TOKEN"},
		config.User{Name: "router1", Roles: []string{"router"}, TokenEnv: "ROUTER_TOKEN"})
	c := mustOpen(t, cfg)
	get := func(auth string) (int, map[string]json.RawMessage) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+c.Addrs().HTTP+"/api/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	code, body := get("Bearer " + tokens["WALL_TOKEN"])
	if code != http.StatusOK || body["agents"] == nil || body["conversations"] == nil || body["queues"] == nil {
		t.Fatalf("monitor: %d %v", code, body)
	}
	if !strings.Contains(string(body["agents"]), `"id":"ann"`) {
		t.Errorf("monitor's agents: %s", body["agents"])
	}
	for auth, want := range map[string]int{
		"Bearer " + tokens["ROUTER_TOKEN"]:  http.StatusForbidden,
		"Bearer not-a-token-of-anyone-here": http.StatusUnauthorized,
		"Basic d2FsbDp4":                    http.StatusUnauthorized,
	} {
		if code, body := get(auth); code != want || body["queues"] != nil {
			t.Errorf("%s: %d with %d keys, want %d and no status", auth, code, len(body), want)
		}
	}
}

// TestSIPAndCTIFailuresCountTogether: wrong passwords for agent-01's phone
// (number 1001) over SIP lock the agent's CTI login from the same host
// too: the doors share one throttle, keyed by the agent.
func TestSIPAndCTIFailuresCountTogether(t *testing.T) {
	c := mustOpen(t, testConfig(t, "sip-center.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli := sipClient(t)
	host, port := splitHostPort(t, c.Addrs().SIP)
	for i := range auth.MaxFailures + 1 {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", User: "1001", Host: host, Port: port})
		req.AppendHeader(sip.NewHeader("Contact", "<sip:1001@127.0.0.1:5999>"))
		if res := sipDoAuth(ctx, t, cli, req, "1001", "guess", sipgo.ClientRequestRegisterBuild); res.StatusCode != sip.StatusForbidden {
			t.Fatalf("wrong password %d: %d", i, res.StatusCode)
		}
	}
	desk, err := cti.Dial(ctx, "ws://"+c.Addrs().HTTP+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	_, err = desk.Login(ctx, "agent-01", "", "secret")
	if err == nil || !strings.Contains(err.Error(), "too many failed logins") {
		t.Fatalf("CTI login with the right password after SIP failures: %v", err)
	}
	if _, err := desk.Login(ctx, "agent-02", "", "secret"); err != nil {
		t.Fatalf("another agent: %v", err)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return h, n
}
