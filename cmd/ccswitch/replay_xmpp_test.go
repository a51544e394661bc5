package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// replayXMPPCenter writes examples/im-center.yaml with a monitor user,
// srv's component as its XMPP network (the secret in the environment),
// and Carol's XMPP address as a device of hers (customer 1003), for the
// presence the replay sends.
func replayXMPPCenter(t *testing.T, srv *xmpptest.Server) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var center map[string]any
	if err := yaml.Unmarshal(data, &center); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCSWITCH_REPLAY_MONITOR_TOKEN", "replay-monitor-token-0123456789")
	t.Setenv("CCSWITCH_REPLAY_XMPP_SECRET", srv.Secret)
	center["users"] = []any{map[string]any{"name": "wallboard", "roles": []any{"monitor"}, "token_env": "CCSWITCH_REPLAY_MONITOR_TOKEN"}}
	im := center["im"].(map[string]any)
	networks := im["networks"].(map[string]any)
	networks["xmpp"] = []any{map[string]any{"component": srv.ComponentAddr, "domain": srv.ComponentDomain, "secret_env": "CCSWITCH_REPLAY_XMPP_SECRET"}}
	carol := false
	for _, cu := range im["customers"].([]any) {
		if cu := cu.(map[string]any); cu["number"] == "1003" {
			cu["devices"] = []any{map[string]any{"network": "xmpp", "address": srv.JID("carol")}}
			carol = true
		}
	}
	if !carol {
		t.Fatal("examples/im-center.yaml has no customer 1003")
	}
	out, err := yaml.Marshal(center)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "center.yaml", string(out))
}

// liveXMPPPresence: Carol, logged in over XMPP, tells the center she is
// away, then busy.
const liveXMPPPresence = `center: CENTER
end: 3s
script:
  - {at: 0s, presence: carol@example.test, show: away}
  - {at: 1s, presence: carol@example.test, show: dnd}
`

// TestReplayLiveXMPP replays examples/replay/chat-routing.yaml as it is
// against serve joined to a real Prosody: Alice logs in there with
// mellium, answers the gateway's XEP-0092 query with her AliceChat 2.1,
// talks to the bot and to Ann. A copy whose customer must hear what no
// one says exits 1 with what she heard. A presence script makes Carol
// away then busy, which an agent monitoring her sees over CTI.
func TestReplayLiveXMPP(t *testing.T) {
	srv := xmpptest.Prosody(t, xmpptest.Config{})
	for user, password := range map[string]string{"alice": "alice-pw-1", "carol": "carol-pw-2"} {
		if err := srv.Register(user, password); err != nil {
			t.Fatal(err)
		}
	}
	passwords := writeFile(t, "customers.passwords", "# the replay's XMPP customers\n"+
		srv.JID("alice")+" alice-pw-1\n* carol-pw-2\n")
	center := replayXMPPCenter(t, srv)
	serve := func(t *testing.T) *liveCenter {
		lc := startServe(t, []string{"serve", "--config", center, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
			"--log-level", "warn", "--store", filepath.Join(t.TempDir(), "cc.db")})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := lc.m.center.WaitXMPP(ctx); err != nil {
			t.Fatal(err)
		}
		return lc
	}
	example, err := os.ReadFile("../../examples/replay/chat-routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to string
		want           []string
		fail           bool
	}{
		{name: "chat-routing", want: []string{"12 expectations: 12 met, 0 failed"}},
		{name: "wrong hears", from: `hears: "Ann: Let me look at your bill."`, to: `hears: "Ann: Let me look at your order."`, fail: true,
			want: []string{"end 62s", `FAIL k1 hears "Ann: Let me look at your order." within 25s`, "what k1 heard:", `"Ann: Let me look at your bill."`, "11 met, 1 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("takes the script's two minutes")
			}
			lc := serve(t)
			script := "../../examples/replay/chat-routing.yaml"
			if tc.from != "" {
				// The copy names the example's center by its absolute path.
				body := strings.Replace(string(example), tc.from, tc.to, 1)
				if body == string(example) {
					t.Fatalf("chat-routing.yaml has no %q", tc.from)
				}
				// It ends soon after Ann's release (at 60 s), not at the
				// example's two minutes.
				body = strings.Replace(body, "center: ../im-center.yaml", "center: "+mustAbs(t, "../../examples/im-center.yaml")+"\nend: 62s", 1)
				script = writeFile(t, "chat-routing.yaml", body)
			}
			start := time.Now()
			out, _, err := runMain(t, "replay", script, "--config", center, "--live", lc.m.center.Addrs().HTTP,
				"--xmpp", srv.C2SAddr, "--xmpp-passwords", passwords)
			t.Logf("replayed in %v", time.Since(start).Round(time.Millisecond))
			switch {
			case tc.fail && (err == nil || !errors.Is(err, errExpectations)):
				t.Errorf("err %v, want exit 1", err)
			case !tc.fail && err != nil:
				t.Errorf("err %v, want exit 0", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("presence", func(t *testing.T) {
		lc := serve(t)
		http := lc.m.center.Addrs().HTTP
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		desk, err := cti.Dial(ctx, "ws://"+http+"/cti")
		if err != nil {
			t.Fatal(err)
		}
		defer desk.Close()
		if _, err := desk.Login(ctx, "cat", "", "secret"); err != nil {
			t.Fatal(err)
		}
		if st, err := desk.MonitorCustomer(ctx, "1003"); err != nil || st.Status != callback.Offline {
			t.Fatalf("Carol before the replay: %+v %v, want offline", st, err)
		}
		p := writeFile(t, "presence.yaml", strings.Replace(liveXMPPPresence, "CENTER", center, 1))
		out, _, err := runMain(t, "replay", p, "--live", http, "--xmpp", srv.C2SAddr, "--xmpp-passwords", passwords)
		if err != nil {
			t.Fatalf("err %v, want exit 0:\n%s", err, out)
		}
		for _, want := range []callback.Status{callback.Idle, callback.Busy} {
			if _, err := desk.Expect(ctx, func(m cti.Message) bool {
				return m.Event == cti.EventCustomerStatus && m.Customer == "1003" && m.Status == want
			}); err != nil {
				var seen []callback.Status
				for _, m := range desk.Pending() {
					if m.Event == cti.EventCustomerStatus {
						seen = append(seen, m.Status)
					}
				}
				t.Fatalf("Carol never became %s: %v; her statuses: %v", want, err, seen)
			}
		}
	})
}

// TestReplayLiveXMPPRefuses: --xmpp needs --live and --xmpp-passwords
// needs --xmpp (exit 2); an XMPP chat without --xmpp, or against a center
// with no XMPP network, is refused naming the script's line before
// anything plays (exit 1). No XMPP server is needed.
func TestReplayLiveXMPPRefuses(t *testing.T) {
	chat := writeFile(t, "chat.yaml", "center: "+mustAbs(t, "../../examples/im-center.yaml")+`
script:
  - {at: 0s, agent: ann, do: login_ready}
  - {at: 1s, chat: k1, network: xmpp, from: alice@example.test, say: hi}
expect:
  - {chat: k1, hears: "hello", within: 5s}
`)
	passwords := writeFile(t, "pw", "* secret\n")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"xmpp without live", []string{"--xmpp", "127.0.0.1:5222"}, true, "replay: --xmpp needs --live"},
		{"passwords without xmpp", []string{"--live", "127.0.0.1:1", "--xmpp-passwords", passwords}, true, "replay: --xmpp-passwords needs --xmpp"},
		{"no xmpp", []string{"--live", "127.0.0.1:1"}, false,
			"chat.yaml:4: script[1]: --live: chat k1 on network xmpp needs --xmpp HOST:PORT"},
		{"no passwords", []string{"--live", "127.0.0.1:1", "--xmpp", "127.0.0.1:5222"}, false,
			"chat.yaml:4: script[1]: --live: chat k1 on network xmpp needs --xmpp-passwords FILE"},
		{"no xmpp network", []string{"--live", "127.0.0.1:1", "--xmpp", "127.0.0.1:5222", "--xmpp-passwords", passwords}, false,
			"chat.yaml:4: script[1]: --live: chat k1 on network xmpp: the center"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runMain(t, append([]string{"replay", chat}, tc.args...)...)
			if err == nil || errors.As(err, new(*usageError)) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q (usage error: %v)", err, tc.want, tc.usage)
			}
		})
	}
}
