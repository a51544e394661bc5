package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ccswitch/ccswitch/internal/cctest"
)

// liveCallbackCenter is examples/callback-center.yaml with a monitor user
// (token_env) added, and Alice's allowed hours removed so that the test
// runs at any hour; the CRM's and the monitor's tokens are in the
// environment.
func liveCallbackCenter(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/callback-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var center map[string]any
	if err := yaml.Unmarshal(data, &center); err != nil {
		t.Fatal(err)
	}
	users, _ := center["users"].([]any)
	center["users"] = append(users, map[string]any{"name": "wallboard", "roles": []any{"monitor"}, "token_env": "CCSWITCH_REPLAY_MONITOR_TOKEN"})
	im, _ := center["im"].(map[string]any)
	customers, _ := im["customers"].([]any)
	found := false
	for _, c := range customers {
		if c := c.(map[string]any); c["number"] == "C1001" {
			delete(c["callback"].(map[string]any), "hours")
			found = true
		}
	}
	if !found {
		t.Fatal("examples/callback-center.yaml has no customer C1001")
	}
	out, err := yaml.Marshal(center)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCSWITCH_REPLAY_MONITOR_TOKEN", "replay-monitor-token-0123456789")
	t.Setenv("CCSWITCH_CRM_TOKEN", crmToken)
	// The scripts name the center relative to examples/replay/.
	return writeFile(t, "callback-center.yaml", string(out))
}

// TestReplayLiveCallback replays examples/replay/callback-presence.yaml
// as it is against serve in process, serve's trunk pointing at the
// replay's SIP address: the callback server calls Alice's registered
// softphone, then, once it unregistered, her mobile through the trunk;
// a copy expecting her softphone for the second callback exits 1 with
// its diff.
func TestReplayLiveCallback(t *testing.T) {
	center := liveCallbackCenter(t)
	example := "../../examples/replay/callback-presence.yaml"
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to string
		want           []string
		fail           bool
	}{
		{name: "example", want: []string{"13 expectations: 13 met, 0 failed"}},
		{name: "another device", from: `{phone: "+15550001", rings: true, callback: cb2, within: 5s}`, to: `{phone: "7001", rings: true, callback: cb2, within: 5s}`,
			fail: true, want: []string{"FAIL phone 7001 rings for cb2 within 5s: never came by the end", "phone +15550001 for cb2",
				"cb2 by phone to +15550001: answered", "12 met, 1 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listen := fmt.Sprintf("127.0.0.1:%d", cctest.FreeUDPPort(t))
			lc := startServe(t, []string{"serve", "--log-level", "warn", "--config", center,
				"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--trunk", listen,
				"--store", filepath.Join(t.TempDir(), "cb.db")})
			addrs := lc.m.center.Addrs()
			script := example
			if tc.from != "" {
				if !strings.Contains(string(data), tc.from) {
					t.Fatalf("the example has no %q", tc.from)
				}
				script = writeFile(t, "wrong.yaml", strings.Replace(strings.Replace(string(data), tc.from, tc.to, 1),
					"center: ../callback-center.yaml", "center: "+center, 1))
			}
			out, _, err := runMain(t, "replay", script, "--config", center, "--live", addrs.HTTP, "--sip", addrs.SIP, "--sip-listen", listen)
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
}
