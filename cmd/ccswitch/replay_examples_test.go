package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/peer"
	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/sim/replay"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestReplayExamplesLive replays every script of examples/replay, as it
// is, against serve running in process with the script's center: the
// agents over CTI, the callers and phones over SIP, chats over the web
// chat, SIP MESSAGE and a real Prosody. The scripts run on the wall
// clock, all at once: the longest decides the test's time. Serve records
// each session (--record); once the live replay passed, the recording
// replays green in virtual time.
func TestReplayExamplesLive(t *testing.T) {
	if testing.Short() {
		t.Skip("replays each example on the wall clock")
	}
	t.Parallel()
	paths, err := filepath.Glob("../../examples/replay/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, lc, err := replayExampleLiveOn(t, p)
			if err != nil {
				t.Fatalf("replay --live %s: %v\n%s", p, err, out)
			}
			if !regexp.MustCompile(`expectations: (\d+) met, 0 failed`).MatchString(out) {
				t.Fatalf("replay --live %s: not every expectation met:\n%s", p, out)
			}
			t.Log(lastLine(out))
			replayRecording(t, lc.m, lc.recording, recordedFrom[name]...)
		})
	}
}

// recordedFrom is what the recording of an example's live session holds
// besides replaying green: what the outside world did that only the
// callback server, the registrar or a router saw.
var recordedFrom = map[string][]string{
	"callback-presence": {
		`phone: "+15550003", do: auto_answer, answer_after: 2`,
		`phone: "7003", do: register, answer_after: 2`,
		`callback: cb1, customer: "C1003", queue: "support"}`,
		`agent: "1001", do: answer, interaction: cb1}`,
		`agent: "1001", do: release, interaction: cb1}`,
		`phone: "7003", do: unregister}`,
		`callback: cb2, customer: "C1003", queue: "support"}`,
		`{phone: "7003", rings: true, callback: cb1, within: `,
		`{callback: cb1, medium: sip, result: answered, within: `,
		`{phone: "+15550003", rings: true, callback: cb2, within: `,
		`{callback: cb2, medium: phone, result: answered, within: `,
		`{at_end: {callback: cb1, state: done}}`,
		`{at_end: {callback: cb2, state: done}}`,
		`{at_end: {queue: "support-callback", offered: 2, answered: 2, abandoned: 0, callback: 0}}`,
	},
	"router": {
		`router: "5000", target: "vip", after: 1`,
		`router: "5000", do: stop}`,
		`{call: c1, event: EventQueued, queue: "vip", within: `,
		`{at_end: {queue: "sales", offered: 1, answered: 0, abandoned: 1, callback: 0}}`,
	},
}

// TestReplayExamplesLiveSIPp replays the examples with voice callers,
// as they are, with --callers sipp: each call is a SIPp process placing
// it at the in-process serve (BYE at the script's hangup, the switch's
// BYE answered).
func TestReplayExamplesLiveSIPp(t *testing.T) {
	if testing.Short() {
		t.Skip("replays each example on the wall clock")
	}
	peer.Require(t, "sipp")
	t.Parallel()
	for _, name := range []string{"ring-no-answer", "router", "overflow", "blended"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := "../../examples/replay/" + name + ".yaml"
			out, lc, err := replayExampleLiveOn(t, p, "--callers", "sipp")
			if err != nil {
				t.Fatalf("replay --live %s --callers sipp: %v\n%s", p, err, out)
			}
			if !regexp.MustCompile(`expectations: (\d+) met, 0 failed`).MatchString(out) {
				t.Fatalf("replay --live %s --callers sipp: not every expectation met:\n%s", p, out)
			}
			// Every call the switch saw came from a SIPp the replay started.
			calls := 0
			for _, e := range lc.snapshot() {
				if id, ok := e.UserData.Get("sip_call_id"); ok && e.Type == tserver.EventQueued {
					calls++
					if !strings.HasPrefix(id, "replay-sipp-") {
						t.Errorf("%s: a call with Call-ID %s, not one of the replay's SIPp callers", name, id)
					}
				}
			}
			if calls == 0 {
				t.Errorf("%s: the switch queued no SIP call", name)
			}
			t.Log(lastLine(out))
			replayRecording(t, lc.m, lc.recording)
		})
	}
}

// TestReplayLiveCallersUsage: --callers is sipgo or sipp, and sipp
// needs --sip (exit 2, before anything is played).
func TestReplayLiveCallersUsage(t *testing.T) {
	p := "../../examples/replay/ring-no-answer.yaml"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--live", "127.0.0.1:1", "--callers", "sipp"}, "replay: --callers sipp needs --sip"},
		{[]string{"--live", "127.0.0.1:1", "--sip", "127.0.0.1:1", "--callers", "baresip"}, `replay: --callers "baresip": want sipgo or sipp`},
	} {
		_, _, err := runMain(t, append([]string{"replay", p}, tc.args...)...)
		if !errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay %v: err %v, want a usage error %q", tc.args, err, tc.want)
		}
	}
}

// wrongCopy writes a copy of examples/replay/example with from replaced
// by to (once; the example must hold it), its center named by an
// absolute path.
func wrongCopy(t *testing.T, example, from, to string) string {
	t.Helper()
	path := filepath.Join("../../examples/replay", example)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), from) != 1 {
		t.Fatalf("%s holds %q %d times, want once", example, from, strings.Count(string(data), from))
	}
	s, err := replay.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	center, err := filepath.Abs(s.CenterPath)
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?m)^center: .*$`).ReplaceAllLiteralString(strings.Replace(string(data), from, to, 1), "center: "+center)
	return writeFile(t, example, body)
}

// expectFailure checks a replay of a wrong copy: exit 1, the output
// holding each of want.
func expectFailure(t *testing.T, out string, err error, want ...string) {
	t.Helper()
	checkReplay(t, out, err, true, want...)
}

// checkReplay checks a replay's exit, 1 (an expectation failed) when
// fail, else 0, and that its output holds each of want.
func checkReplay(t *testing.T, out string, err error, fail bool, want ...string) {
	t.Helper()
	switch {
	case fail && (err == nil || !errors.Is(err, errExpectations)):
		t.Errorf("err %v, want exit 1 (an expectation failed)", err)
	case !fail && err != nil:
		t.Errorf("err %v, want exit 0", err)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// replayExampleLive serves the center of the replay script at path and
// replays the script against it with --live; it returns the replay's
// output and the error that decides its exit code. The center is the
// script's, with what a deployment adds: a monitor user (and a router
// user when the script has routers, a supervisor when it expects
// customers' presence) whose tokens are in files, every
// token_env of the center turned into a token file, and, when the script
// chats over XMPP or reports presence, the XMPP network of a Prosody
// started for it with the customers' accounts. extra are more replay
// flags (--callers sipp).
func replayExampleLive(t *testing.T, path string, extra ...string) (string, error) {
	t.Helper()
	out, _, err := replayExampleLiveOn(t, path, extra...)
	return out, err
}

// replayExampleLiveOn is replayExampleLive, also returning the serve it
// replayed against (its events kept, the session recorded with --record
// into its recording file, written when it closes: see replayRecording).
func replayExampleLiveOn(t *testing.T, path string, extra ...string) (string, *liveCenter, error) {
	t.Helper()
	return replayExampleLiveServe(t, path, nil, extra...)
}

// replayExampleLiveServe is replayExampleLiveOn with more flags for serve
// (serveFlags, after the harness's own: a later flag wins).
func replayExampleLiveServe(t *testing.T, path string, serveFlags []string, extra ...string) (string, *liveCenter, error) {
	t.Helper()
	s, err := replay.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	center := deploymentCenter(t, s, dir)

	serve := []string{"serve", "--log-level", "warn", "--config", center.path,
		"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--store", filepath.Join(dir, "cc.db"),
		"--ring-timeout", s.RingTimeout.String(), "--record", filepath.Join(dir, "session.yaml")}
	var listen string
	if slices.ContainsFunc(s.Actions, func(a replay.Action) bool { return a.Kind == replay.PhoneAction }) {
		// The customers' phones: serve's trunk reaches the replay.
		listen = fmt.Sprintf("127.0.0.1:%d", cctest.FreeUDPPort(t))
		serve = append(serve, "--trunk", listen)
	}
	lc := startServe(t, append(serve, serveFlags...))
	lc.recording = filepath.Join(dir, "session.yaml")
	addrs := lc.m.center.Addrs()
	args := []string{"replay", path, "--config", center.path, "--live", addrs.HTTP, "--sip", addrs.SIP}
	if listen != "" {
		args = append(args, "--sip-listen", listen)
	}
	if center.xmpp != nil {
		args = append(args, "--xmpp", center.xmpp.C2SAddr, "--xmpp-passwords", center.passwords)
	}
	out, _, err := runMain(t, append(args, extra...)...)
	return out, lc, err
}

// deployment is a center file written for a live replay.
type deployment struct {
	path      string
	xmpp      *xmpptest.Server // nil: the script needs none
	passwords string           // the customers' XMPP passwords file
}

// deploymentCenter writes the center of script s, with what a
// deployment adds (see replayExampleLive), into dir.
func deploymentCenter(t *testing.T, s *replay.Script, dir string) deployment {
	t.Helper()
	data, err := os.ReadFile(s.CenterPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", s.CenterPath, err)
	}
	tokenFile := func(name string) string {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		p := filepath.Join(dir, name+".token")
		if err := os.WriteFile(p, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var users []any
	if us, ok := doc["users"].([]any); ok {
		for _, u := range us {
			m := u.(map[string]any)
			if env, ok := m["token_env"].(string); ok {
				delete(m, "token_env")
				m["token_file"] = tokenFile(strings.ToLower(env))
			}
			users = append(users, m)
		}
	}
	users = append(users, map[string]any{"name": "replay-monitor", "roles": []any{"monitor"}, "token_file": tokenFile("monitor")})
	if slices.ContainsFunc(s.Actions, func(a replay.Action) bool { return a.Kind == replay.RouterAction }) {
		users = append(users, map[string]any{"name": "replay-router", "roles": []any{"router"}, "token_file": tokenFile("router")})
	}
	if slices.ContainsFunc(s.Expect, func(e replay.Expectation) bool { return e.Match.Customer != "" }) {
		// Customers' presence shows to supervisors only.
		users = append(users, map[string]any{"name": "replay-supervisor", "roles": []any{"supervisor"}, "token_file": tokenFile("supervisor")})
	}
	doc["users"] = users

	d := deployment{path: filepath.Join(dir, "center.yaml")}
	jids := map[string]bool{}
	for _, a := range s.Actions {
		switch {
		case a.Kind == replay.ChatAction && a.Network == "xmpp":
			jids[a.From] = true
		case a.Kind == replay.PresenceAction:
			jids[a.Presence] = true
		}
	}
	if len(jids) > 0 {
		srv := xmpptest.Prosody(t, xmpptest.Config{})
		const password = "replay-customer-password"
		for jid := range jids {
			user, domain, ok := strings.Cut(jid, "@")
			if !ok || domain != srv.Domain {
				t.Fatalf("%s: the XMPP customer %s is not on the test server's domain %s", s.Path, jid, srv.Domain)
			}
			if err := srv.Register(user, password); err != nil {
				t.Fatal(err)
			}
		}
		d.xmpp = srv
		d.passwords = filepath.Join(dir, "xmpp-passwords")
		if err := os.WriteFile(d.passwords, []byte("* "+password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		secret := filepath.Join(dir, "xmpp.secret")
		if err := os.WriteFile(secret, []byte(srv.Secret), 0o600); err != nil {
			t.Fatal(err)
		}
		im, _ := doc["im"].(map[string]any)
		if im == nil {
			im = map[string]any{}
			doc["im"] = im
		}
		networks, _ := im["networks"].(map[string]any)
		if networks == nil {
			networks = map[string]any{}
			im["networks"] = networks
		}
		networks["xmpp"] = []any{map[string]any{"component": srv.ComponentAddr, "domain": srv.ComponentDomain, "secret_file": secret}}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}
