package main

import "testing"

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
