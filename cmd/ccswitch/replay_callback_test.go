package main

import (
	"strings"
	"testing"
)

// TestReplayLiveCallback: a copy of examples/replay/callback-presence.yaml
// expecting Carol's softphone for the second callback, replayed against
// serve (its trunk the replay's SIP address), exits 1 with a diff naming
// the phone that rang instead (TestReplayExamplesLive replays the example
// itself).
func TestReplayLiveCallback(t *testing.T) {
	if testing.Short() {
		t.Skip("replays on the wall clock")
	}
	t.Parallel()
	p := wrongCopy(t, "callback-presence.yaml",
		`{phone: "+15550003", rings: true, callback: cb2, within: 5s}`, `{phone: "7003", rings: true, callback: cb2, within: 5s}`)
	out, err := replayExampleLive(t, p)
	expectFailure(t, out, err, "FAIL phone 7003 rings for cb2 within 5s: never came by the end", "phone +15550003 for cb2",
		"cb2 by phone to +15550003: answered", "12 met, 1 failed")
}

// livePresence: Carol's softphone registers, then goes: the callback
// server's presence of her, watched by a supervisor over CTI, is online
// then offline; Alice's never changes.
const livePresence = `center: CENTER
end: 5s
script:
  - {at: 0s, phone: "7003", do: register}
  - {at: 2s, phone: "7003", do: unregister}
expect:
  - {customer: C1003, status: online, within: 1s}
  - {customer: C1003, status: offline, within: 3s}
  - {never: {customer: C1001, status: online}}
`

// TestReplayLivePresence checks customers' presence expectations against
// serve (a supervisor monitors the customers over CTI); a copy expecting
// Carol away exits 1 with how her presence changed.
func TestReplayLivePresence(t *testing.T) {
	if testing.Short() {
		t.Skip("replays on the wall clock")
	}
	t.Parallel()
	center := mustAbs(t, "../../examples/callback-center.yaml")
	for _, tc := range []struct{ name, from, to string }{{name: "as written"}, {name: "away", from: "status: online, within: 1s", to: "status: away, within: 1s"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := strings.Replace(livePresence, "CENTER", center, 1)
			if tc.from != "" {
				script = strings.Replace(script, tc.from, tc.to, 1)
			}
			out, err := replayExampleLive(t, writeFile(t, "presence.yaml", script))
			if tc.from == "" {
				if err != nil || !strings.Contains(out, "3 expectations: 3 met, 0 failed") {
					t.Fatalf("err %v, want every expectation met:\n%s", err, out)
				}
				return
			}
			expectFailure(t, out, err, "FAIL customer C1003 away within 1s: never came by the end", "the presence of customer C1003 (offline at the start) changed:",
				"online [sip]", "offline []", "2 met, 1 failed")
		})
	}
}
