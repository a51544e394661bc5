package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/peer"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// End-to-end scenarios of the live switch with real SIP peers: SIPp as
// callers and as agents' phones (scenarios in testdata/sipp), baresip as an
// auto-answering softphone. Each test runs its own center and asserts the
// CTI transcript and the queue statistics, not only the peers' exit codes.

// sipCenter starts a center (startCenter) that logs its CTI events when
// the test fails.
func sipCenter(t *testing.T, extra ...string) *liveCenter {
	t.Helper()
	lc := startCenter(t, extra...)
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range lc.snapshot() {
				t.Logf("CTI %s %s conn=%s %s", e.Time.Format("15:04:05.000"), eventLine(e), e.ConnID, e.Queue)
			}
		}
	})
	return lc
}

// sippScenario returns the absolute path of a SIPp scenario in testdata/sipp.
func sippScenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitPeer waits for a peer process to end successfully within d.
func waitPeer(t *testing.T, cmd *exec.Cmd, d time.Duration, what string) {
	t.Helper()
	if err := waitPeerErr(cmd, d); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitPeerErr waits for a peer process to end within d; it kills it when d
// is up.
func waitPeerErr(cmd *exec.Cmd, d time.Duration) error {
	done := exited(cmd)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %v (killed)", d)
	}
}

// exited waits for cmd in the background and reports how it ended.
func exited(cmd *exec.Cmd) <-chan error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

// sippPhone starts a SIPp agent phone running scenario and registers it as
// user (password secret); it returns once the agent is logged in and ready.
func sippPhone(t *testing.T, ctx context.Context, lc *liveCenter, user, scenario string, args ...string) *exec.Cmd {
	t.Helper()
	port := cctest.FreeUDPPort(t)
	args = append([]string{"-sf", sippScenario(t, scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
	phone := sipp(t, ctx, append(args, lc.sipAddr)...)
	registerContact(t, ctx, lc, user, fmt.Sprintf("127.0.0.1:%d", port), "3600")
	lc.waitFor(t, user+" ready", 10*time.Second, hasEvent(tserver.EventAgentReady, user, ""))
	return phone
}

// registerContact binds user to contact (host:port) for expires seconds ("0"
// unregisters), with SIPp and digest authentication.
func registerContact(t *testing.T, ctx context.Context, lc *liveCenter, user, contact, expires string) {
	t.Helper()
	reg := sipp(t, ctx, "-sf", sippScenario(t, "register.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t)),
		"-m", "1", "-au", user, "-ap", "secret", "-key", "user", user,
		"-key", "contact_hostport", contact, "-key", "expires", expires, "-timeout", "10s", lc.sipAddr)
	waitPeer(t, reg, 15*time.Second, "REGISTER "+user+" expires "+expires)
}

// sippCall runs one SIPp caller scenario against the center.
func sippCall(t *testing.T, ctx context.Context, lc *liveCenter, scenario string, args ...string) *exec.Cmd {
	t.Helper()
	args = append([]string{"-sf", sippScenario(t, scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t))}, args...)
	return sipp(t, ctx, append(args, lc.sipAddr)...)
}

// eventLine formats an event for a transcript: type, then @DN when an agent
// is named, then (reason).
func eventLine(e tserver.Event) string {
	s := e.Type.String()
	if e.AgentID != "" {
		s += "@" + e.DN
	}
	if e.Reason != "" {
		s += "(" + e.Reason + ")"
	}
	return s
}

// transcripts returns the CTI transcript of every interaction, in the
// order the interactions first appeared.
func transcripts(events []tserver.Event) (ids []pbx.ConnID, lines map[pbx.ConnID][]string) {
	lines = map[pbx.ConnID][]string{}
	for _, e := range events {
		if e.ConnID == 0 {
			continue
		}
		if _, ok := lines[e.ConnID]; !ok {
			ids = append(ids, e.ConnID)
		}
		lines[e.ConnID] = append(lines[e.ConnID], eventLine(e))
	}
	return ids, lines
}

// agentLines returns the agent-state events (no interaction) at dn.
func agentLines(events []tserver.Event, dn string) []string {
	var out []string
	for _, e := range events {
		if e.ConnID == 0 && e.DN == dn {
			out = append(out, eventLine(e))
		}
	}
	return out
}

// hasEvent reports whether an event of type typ with the given DN and
// reason was recorded.
func hasEvent(typ tserver.EventType, dn, reason string) func([]tserver.Event) bool {
	return func(ev []tserver.Event) bool {
		return slices.ContainsFunc(ev, func(e tserver.Event) bool {
			return e.Type == typ && e.DN == dn && e.Reason == reason
		})
	}
}

// ended reports whether n interactions have ended (EventReleased
// without a reason, or EventAbandoned).
func ended(n int) func([]tserver.Event) bool {
	return func(ev []tserver.Event) bool {
		k := 0
		for _, e := range ev {
			if (e.Type == tserver.EventReleased && e.Reason == "") || e.Type == tserver.EventAbandoned {
				k++
			}
		}
		return k >= n
	}
}

// queueStats returns the support queue's statistics, read on the loop.
func queueStats(t *testing.T, lc *liveCenter) tserver.QueueStats {
	t.Helper()
	var st tserver.QueueStats
	var err error
	if derr := lc.m.center.Do(context.Background(), func(ts *tserver.Server) { st, err = ts.QueueStats("support") }); derr != nil {
		t.Fatal(derr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkStats compares the counters that every scenario pins down.
func checkStats(t *testing.T, lc *liveCenter, offered, answered, abandoned int64) {
	t.Helper()
	st := queueStats(t, lc)
	if st.Offered != offered || st.Answered != answered || st.Abandoned != abandoned {
		t.Errorf("stats offered %d answered %d abandoned %d, want %d %d %d",
			st.Offered, st.Answered, st.Abandoned, offered, answered, abandoned)
	}
	if st.Offered != st.Answered+st.Abandoned {
		t.Errorf("stats offered %d != answered %d + abandoned %d", st.Offered, st.Answered, st.Abandoned)
	}
}

// rang returns how long the offer to dn lasted: from its EventRinging to
// the EventReleased that took the interaction off it.
func rang(events []tserver.Event, dn string) time.Duration {
	var rang, ended time.Time
	for _, e := range events {
		switch {
		case e.Type == tserver.EventRinging && e.DN == dn:
			rang = e.Time
		case e.Type == tserver.EventReleased && e.DN == dn:
			ended = e.Time
		}
	}
	return ended.Sub(rang)
}

// agentState returns the state and reason of the agent at extension dn.
func agentState(t *testing.T, lc *liveCenter, dn string) (tserver.AgentState, string) {
	t.Helper()
	var (
		state  tserver.AgentState
		reason string
		found  bool
	)
	err := lc.m.center.Do(context.Background(), func(ts *tserver.Server) {
		d, ok := ts.Directory().Lookup(dn)
		if !ok {
			return
		}
		a, ok := ts.Agent(d.Owner)
		if !ok {
			return
		}
		state, reason, found = a.State(), a.Reason(), true
	})
	if err != nil || !found {
		t.Fatalf("agent at %s: %v (found %v)", dn, err, found)
	}
	return state, reason
}

// wantTranscript checks that the recorded interactions, in order of
// arrival, have exactly the transcripts want (none when want is empty).
func wantTranscript(t *testing.T, events []tserver.Event, want ...string) {
	t.Helper()
	ids, lines := transcripts(events)
	if len(ids) != len(want) {
		for _, id := range ids {
			t.Logf("call %s: %s", id, strings.Join(lines[id], " "))
		}
		t.Fatalf("%d interactions, want %d", len(ids), len(want))
	}
	for i, id := range ids {
		if got := strings.Join(lines[id], " "); got != want[i] {
			t.Errorf("call %s transcript:\n got  %s\n want %s", id, got, want[i])
		}
	}
}

// TestSIPAbandonWhileQueued: nobody is logged in; a caller to route point
// 5000 is answered by the switch (announcements), waits, and hangs up:
// the interaction is queued, then abandoned, and counted so. The burst
// variant hangs up right after the ACK: sipgo may then handle the BYE
// before the ACK, which must still read as an abandon.
func TestSIPAbandonWhileQueued(t *testing.T) {
	for _, tt := range []struct {
		name       string
		calls      int
		rate, wait string
	}{
		{"after a second", 1, "10", "1000"},
		{"at once, 50 calls", 50, "50", "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lc := sipCenter(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			caller := sippCall(t, ctx, lc, "caller-hangs-up.xml", "-s", "5000", "-m", strconv.Itoa(tt.calls),
				"-r", tt.rate, "-d", tt.wait, "-timeout", "15s")
			waitPeer(t, caller, 20*time.Second, "SIPp callers")
			lc.waitFor(t, "the abandons", 5*time.Second, ended(tt.calls))
			want := make([]string, tt.calls)
			for i := range want {
				want[i] = "EventRouteRequest EventRouteUsed(default) EventQueued EventAbandoned"
			}
			wantTranscript(t, lc.snapshot(), want...)
			checkStats(t, lc, int64(tt.calls), 0, int64(tt.calls))
		})
	}
}

// TestSIPRingNoAnswerGoesToNextAgent: agent 1001's phone rings and is
// never picked up. At the ring timeout the switch cancels the agent's leg
// (CANCEL, 200, 487, ACK), makes 1001 not ready with reason ring_no_answer
// and puts the call back in the queue, where agent 1002 takes it.
func TestSIPRingNoAnswerGoesToNextAgent(t *testing.T) {
	const ringTimeout = 2 * time.Second
	lc := sipCenter(t, "--ring-timeout", ringTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phoneA := sippPhone(t, ctx, lc, "1001", "agent-no-answer.xml", "-m", "1")
	caller := sippCall(t, ctx, lc, "caller-waits.xml", "-s", "5000", "-m", "1", "-timeout", "20s")
	lc.waitFor(t, "1001 ringing", 10*time.Second, hasEvent(tserver.EventRinging, "1001", ""))
	// Only now is there a second agent: the call can only reach it
	// through the ring timeout.
	sippPhone(t, ctx, lc, "1002", "agent-answers.xml", "-m", "1")
	waitPeer(t, caller, 20*time.Second, "SIPp caller")
	waitPeer(t, phoneA, 5*time.Second, "1001's phone (CANCEL answered, 487 ACKed)")
	lc.waitFor(t, "the call released", 5*time.Second, ended(1))

	events := lc.snapshot()
	wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 "+
		"EventReleased@1001(ring_no_answer) EventQueued EventDiverted@1002 EventRinging@1002 EventEstablished@1002 EventReleased@1002")
	if d := rang(events, "1001"); d < ringTimeout-100*time.Millisecond || d > ringTimeout+2*time.Second {
		t.Errorf("1001 rang for %v, want about the ring timeout %v", d, ringTimeout)
	}
	if got, want := strings.Join(agentLines(events, "1001"), " "),
		"EventAgentLogin@1001 EventAgentReady@1001 EventAgentNotReady@1001(ring_no_answer)"; got != want {
		t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
	}
	if st, reason := agentState(t, lc, "1001"); st != tserver.NotReady || reason != "ring_no_answer" {
		t.Errorf("agent 1001 is %s (%s), want not_ready (ring_no_answer)", st, reason)
	}
	checkStats(t, lc, 1, 1, 0)
}

// TestSIPBusyOrDeclineGoesToNextAgent: agent 1001's phone refuses the call
// (486 Busy Here, 603 Decline): the call goes back to the queue and
// reaches agent 1002; 1001 is not ready with reason busy or declined.
func TestSIPBusyOrDeclineGoesToNextAgent(t *testing.T) {
	for _, tt := range []struct{ code, phone, reason string }{
		{"486", "agent-busy.xml", "busy"},
		{"603", "agent-declines.xml", "declined"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			lc := sipCenter(t, "--ring-timeout", "10s")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			phoneA := sippPhone(t, ctx, lc, "1001", tt.phone, "-m", "1")
			caller := sippCall(t, ctx, lc, "caller-waits.xml", "-s", "5000", "-m", "1", "-timeout", "20s")
			lc.waitFor(t, "1001 refusing", 10*time.Second, hasEvent(tserver.EventAgentNotReady, "1001", tt.reason))
			sippPhone(t, ctx, lc, "1002", "agent-answers.xml", "-m", "1")
			waitPeer(t, caller, 15*time.Second, "SIPp caller")
			waitPeer(t, phoneA, 5*time.Second, "1001's phone")
			lc.waitFor(t, "the call released", 5*time.Second, ended(1))

			events := lc.snapshot()
			wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 "+
				"EventReleased@1001("+tt.reason+") EventQueued EventDiverted@1002 EventRinging@1002 EventEstablished@1002 EventReleased@1002")
			if st, reason := agentState(t, lc, "1001"); st != tserver.NotReady || reason != tt.reason {
				t.Errorf("agent 1001 is %s (%s), want not_ready (%s)", st, reason, tt.reason)
			}
			checkStats(t, lc, 1, 1, 0)
		})
	}
}

// TestSIPHangUpFirst: either side may end a connected call. When the
// caller hangs up, the switch BYEs the agent's phone; when the agent hangs
// up, it BYEs the caller. Either way the agent is ready again.
func TestSIPHangUpFirst(t *testing.T) {
	for _, tt := range []struct{ name, caller, agent string }{
		{"caller", "caller-hangs-up.xml", "agent-waits-for-bye.xml"},
		{"agent", "caller-waits.xml", "agent-answers.xml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lc := sipCenter(t, "--ring-timeout", "10s")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			phone := sippPhone(t, ctx, lc, "1001", tt.agent, "-m", "1")
			caller := sippCall(t, ctx, lc, tt.caller, "-s", "5000", "-m", "1", "-d", "1500", "-timeout", "20s")
			waitPeer(t, caller, 15*time.Second, "SIPp caller")
			waitPeer(t, phone, 5*time.Second, "1001's phone")
			lc.waitFor(t, "the call released", 5*time.Second, ended(1))
			lc.waitFor(t, "1001 ready again", 5*time.Second, func(ev []tserver.Event) bool {
				return countType(ev, tserver.EventAgentReady) >= 2
			})
			events := lc.snapshot()
			wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 "+
				"EventEstablished@1001 EventReleased@1001")
			if got, want := strings.Join(agentLines(events, "1001"), " "),
				"EventAgentLogin@1001 EventAgentReady@1001 EventAgentReady@1001"; got != want {
				t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
			}
			checkStats(t, lc, 1, 1, 0)
			if st := queueStats(t, lc); st.Handled != 1 {
				t.Errorf("handled %d, want 1", st.Handled)
			}
		})
	}
}

// featureCode dials code from user's phone: the INVITE is challenged
// (407) and retried with digest credentials; the switch answers and hangs up.
func featureCode(t *testing.T, ctx context.Context, lc *liveCenter, user, code string) {
	t.Helper()
	// SIPp's digest uri is remote_ip:remote_port unless told; the switch
	// wants the Request-URI there (RFC 2617 §3.2.2.5).
	fc := sippCall(t, ctx, lc, "feature-code.xml", "-s", code, "-m", "1", "-key", "user", user,
		"-au", user, "-ap", "secret", "-auth_uri", code+"@"+lc.sipAddr, "-timeout", "10s")
	waitPeer(t, fc, 15*time.Second, "dialling "+code)
}

// TestSIPFeatureCodes: a desk with only a SIP phone works as an agent by
// dialling feature codes, each an INVITE authenticated with digest (407
// then credentials): *22 not ready, *21 ready, *23 log out, *24 log in.
func TestSIPFeatureCodes(t *testing.T) {
	lc := sipCenter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sippPhone(t, ctx, lc, "1001", "agent-answers.xml")
	steps := []struct {
		code  string
		event tserver.EventType
		state tserver.AgentState
	}{
		{"*22", tserver.EventAgentNotReady, tserver.NotReady},
		{"*21", tserver.EventAgentReady, tserver.Ready},
		{"*23", tserver.EventAgentLogout, tserver.LoggedOut},
		{"*24", tserver.EventAgentLogin, tserver.NotReady},
		{"*21", tserver.EventAgentReady, tserver.Ready},
	}
	for i, s := range steps {
		featureCode(t, ctx, lc, "1001", s.code)
		lc.waitFor(t, s.code+" done", 5*time.Second, func(ev []tserver.Event) bool {
			// login and ready at registration, then one event per code
			lines := agentLines(ev, "1001")
			return len(lines) >= 3+i && strings.HasPrefix(lines[2+i], s.event.String())
		})
		if st, _ := agentState(t, lc, "1001"); st != s.state {
			t.Errorf("after %s agent 1001 is %s, want %s", s.code, st, s.state)
		}
	}
	events := lc.snapshot()
	if got, want := strings.Join(agentLines(events, "1001"), " "),
		"EventAgentLogin@1001 EventAgentReady@1001 EventAgentNotReady@1001(feature_code) EventAgentReady@1001 "+
			"EventAgentLogout@1001 EventAgentLogin@1001 EventAgentReady@1001"; got != want {
		t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
	}
	// A feature code is not an interaction.
	wantTranscript(t, events)
	checkStats(t, lc, 0, 0, 0)
}

// TestSIPSecurity: only public numbers take unauthenticated calls, unknown
// numbers are refused, and a wrong password registers nothing.
func TestSIPSecurity(t *testing.T) {
	t.Run("invite to an extension without credentials", func(t *testing.T) {
		lc := sipCenter(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		phone := sippPhone(t, ctx, lc, "1001", "agent-answers.xml", "-m", "1")
		phoneDone := exited(phone)
		// The caller claims to be agent 1002: a From user is no credential.
		caller := sippCall(t, ctx, lc, "invite-challenged.xml", "-s", "1001", "-key", "user", "1002", "-m", "1", "-timeout", "10s")
		waitPeer(t, caller, 15*time.Second, "SIPp caller (want 407, then nothing)")
		barrier(t, lc)
		events := lc.snapshot()
		wantTranscript(t, events) // no interaction was created
		if got, want := strings.Join(agentLines(events, "1001"), " "), "EventAgentLogin@1001 EventAgentReady@1001"; got != want {
			t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
		}
		select {
		case err := <-phoneDone:
			t.Errorf("1001's phone took a call: %v", err)
		default:
		}
	})
	t.Run("invite to an unknown number", func(t *testing.T) {
		lc := sipCenter(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		caller := sippCall(t, ctx, lc, "invite-unknown.xml", "-s", "9999", "-key", "user", "customer", "-m", "1", "-timeout", "10s")
		waitPeer(t, caller, 15*time.Second, "SIPp caller (want 404)")
		barrier(t, lc)
		wantTranscript(t, lc.snapshot())
		checkStats(t, lc, 0, 0, 0)
	})
	t.Run("register with a wrong password", func(t *testing.T) {
		lc := sipCenter(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		reg := sippCall(t, ctx, lc, "register-refused.xml", "-m", "1", "-au", "1001", "-ap", "not-the-password",
			"-key", "user", "1001", "-timeout", "10s")
		waitPeer(t, reg, 15*time.Second, "SIPp REGISTER (want 401, then 403)")
		barrier(t, lc)
		if n := len(lc.snapshot()); n != 0 {
			t.Errorf("%d CTI events, want none: %v", n, lc.snapshot())
		}
		if c := lc.m.center.Registrar().Lookup("1001"); len(c) != 0 {
			t.Errorf("1001 has bindings %v", c)
		}
		if st, _ := agentState(t, lc, "1001"); st != tserver.LoggedOut {
			t.Errorf("agent 1001 is %s, want logged_out", st)
		}
	})
}

// barrier returns once everything posted to the center's loop so far has
// run (the gateway posts registrations and arrivals there).
func barrier(t *testing.T, lc *liveCenter) {
	t.Helper()
	if err := lc.m.center.Do(context.Background(), func(*tserver.Server) {}); err != nil {
		t.Fatal(err)
	}
}

// eventCounts reads the last line of the SIPp -trace_counts file in dir: the
// count of each scenario message, keyed by column name (2_404_Recv, ...).
func eventCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*_counts.csv"))
	if len(files) != 1 {
		t.Fatalf("want one SIPp counts file in %s, have %v", dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		t.Fatalf("SIPp counts file %s has no data:\n%s", files[0], data)
	}
	names := strings.Split(lines[0], ";")
	values := strings.Split(lines[len(lines)-1], ";")
	counts := map[string]int{}
	for i, name := range names {
		if i < len(values) {
			if n, err := strconv.Atoi(values[i]); err == nil {
				counts[name] = n
			}
		}
	}
	return counts
}

// countEvents returns the count of the column whose name ends in suffix.
func countEvents(counts map[string]int, suffix string) int {
	for name, n := range counts {
		if strings.HasSuffix(name, suffix) {
			return n
		}
	}
	return -1
}

// TestSIPInviteFloodIsRateLimited: 10,000 INVITEs from 127.0.0.2 at 2,000
// a second. The per-source limiter (200/s, burst 400) lets about 1,400 of
// them through, to a number that does not exist (404), and refuses the
// rest with 503; meanwhile callers from 127.0.0.1 reach an agent as usual.
func TestSIPInviteFloodIsRateLimited(t *testing.T) {
	const (
		floodCalls = 10000
		floodRate  = 2000
		limitRate  = 200 // sipgw.Config defaults
		limitBurst = 400
		calls      = 3
	)
	lc := sipCenter(t, "--ring-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sippPhone(t, ctx, lc, "1001", "agent-answers.xml")

	start := time.Now()
	flood := sipp(t, ctx, "-sf", sippScenario(t, "flood.xml"), "-s", "9999", "-i", "127.0.0.2", "-p", strconv.Itoa(cctest.FreeUDPPort(t)),
		"-m", strconv.Itoa(floodCalls), "-r", strconv.Itoa(floodRate), "-rp", "1000", "-l", "2000",
		"-trace_counts", "-timeout", "20s", lc.sipAddr)
	floodDone := exited(flood)
	caller := sippCall(t, ctx, lc, "caller-waits.xml", "-s", "5000", "-m", strconv.Itoa(calls), "-r", "2", "-timeout", "15s")
	waitPeer(t, caller, 20*time.Second, "SIPp callers from 127.0.0.1 during the flood")
	select {
	case err := <-floodDone:
		t.Fatalf("the flood ended (%v) before the normal calls did: nothing shown", err)
	default:
	}
	lc.waitFor(t, "the normal calls released", 5*time.Second, ended(calls))
	select {
	case err := <-floodDone:
		if err != nil {
			t.Fatalf("flood: %v", err)
		}
	case <-time.After(25 * time.Second):
		_ = flood.Process.Kill()
		t.Fatal("flood still running after 25s")
	}
	elapsed := time.Since(start)

	counts := eventCounts(t, flood.Dir)
	sent, notFound, limited := countEvents(counts, "_INVITE_Sent"), countEvents(counts, "_404_Recv"), countEvents(counts, "_503_Recv")
	t.Logf("flood: %d INVITEs in %v: %d let through (404), %d rate-limited (503)", sent, elapsed.Round(time.Millisecond), notFound, limited)
	if sent != floodCalls || notFound+limited != floodCalls {
		t.Errorf("flood: %d INVITEs sent, %d answered 404 + %d answered 503, want %d", sent, notFound, limited, floodCalls)
	}
	// The limiter lets the burst through at once, then limitRate a second.
	if most := limitBurst + int(elapsed.Seconds()*limitRate) + 50; notFound > most {
		t.Errorf("%d INVITEs let through in %v, want at most %d", notFound, elapsed, most)
	}
	if notFound < limitBurst {
		t.Errorf("only %d INVITEs let through, want at least the burst %d", notFound, limitBurst)
	}

	want := make([]string, calls)
	for i := range want {
		want[i] = "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 EventEstablished@1001 EventReleased@1001"
	}
	wantTranscript(t, lc.snapshot(), want...)
	checkStats(t, lc, calls, calls, 0)
}

// startBaresip starts baresip as an auto-answering softphone registered as
// user (password secret), with its configuration in a temporary directory
// (recipe: shared/recipes/sip.md §3b). It returns once the agent is ready,
// with baresip's ctrl_tcp address and its output.
func startBaresip(t *testing.T, ctx context.Context, lc *liveCenter, user string) (ctrl string, output *syncBuffer) {
	t.Helper()
	ctrl, output = runBaresip(t, ctx, baresipPhone{registrar: lc.sipAddr, user: user, password: "secret", audio: "agent",
		rtpPorts: "10000-10100", extra: []string{"call_local_timeout 120", "call_max_calls 4", "rtp_tos 0", "jitter_buffer_delay 5-10"}})
	lc.waitFor(t, user+" (baresip) ready", 10*time.Second, hasEvent(tserver.EventAgentReady, user, ""))
	return ctrl, output
}

// baresipPhone is a baresip softphone for a test: registered at registrar
// as user, answering calls itself, its audio through aubridge device
// audio, on RTP ports rtpPorts, with extra configuration lines and extra
// application modules (presence.so publishes its presence).
type baresipPhone struct {
	registrar, user, password, audio, rtpPorts string
	extra, modules                             []string
}

// runBaresip starts p in a temporary directory, killed when the test
// ends (its output logged if the test failed); it returns baresip's
// ctrl_tcp address and its output.
func runBaresip(t *testing.T, ctx context.Context, p baresipPhone) (ctrl string, output *syncBuffer) {
	t.Helper()
	bin := peer.Require(t, "baresip")
	dir := t.TempDir()
	ctrl = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	lines := []string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", cctest.FreeSIPPort(t)),
		"sip_trans_def udp",
		"audio_player aubridge," + p.audio,
		"audio_source aubridge," + p.audio,
		"audio_alert aubridge," + p.audio,
		"rtp_ports " + p.rtpPorts,
		"rtcp_mux no",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module aubridge.so",
		"module_app account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen " + ctrl,
	}
	lines = append(lines, p.extra...)
	for _, m := range p.modules {
		lines = append(lines, "module_app "+m)
	}
	account := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_user=%s;auth_pass=%s;answermode=auto;regint=600;pubint=600;audio_codecs=PCMU,PCMA\n",
		p.user, p.registrar, p.user, p.password)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-t", "90")
	cmd.Dir = dir
	out := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := exited(cmd)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", p.user, out.String())
		}
	})
	return ctrl, out
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output for the test to read and
// wait on.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // signalled after each write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until cond holds over the output, or fails the test.
func (b *syncBuffer) waitFor(t *testing.T, what string, d time.Duration, cond func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond(b.String()) {
		select {
		case <-b.changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// baresipCommand sends one command to baresip's ctrl_tcp (a netstring
// of JSON) and returns the data of its response.
func baresipCommand(t *testing.T, ctrl, command, params string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ctrl, 5*time.Second)
	if err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": "t1"})
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(req), req); err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	r := bufio.NewReader(conn)
	for {
		// Netstrings: LEN:JSON, — events may come before the response.
		lenStr, err := r.ReadString(':')
		if err != nil {
			t.Fatalf("baresip ctrl_tcp: %v", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(lenStr, ":")))
		if err != nil {
			t.Fatalf("baresip ctrl_tcp: bad netstring length %q", lenStr)
		}
		body := make([]byte, n+1) // and the comma
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("baresip ctrl_tcp: %v", err)
		}
		var msg struct {
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
			Token    string `json:"token"`
		}
		if err := json.Unmarshal(body[:n], &msg); err != nil {
			t.Fatalf("baresip ctrl_tcp: %v: %s", err, body[:n])
		}
		if msg.Response && msg.Token == "t1" {
			if !msg.OK {
				t.Fatalf("baresip %s %s: %s", command, params, msg.Data)
			}
			return msg.Data
		}
	}
}

// TestSIPBaresipAgent: baresip, a real softphone answering automatically,
// works as agent 1005 next to two SIPp agents. Callers hang up after a
// second of talk (baresip never hangs up by itself): every call is
// answered, at least one by baresip, and each of baresip's calls ends when
// the caller's does (the switch BYEs it).
func TestSIPBaresipAgent(t *testing.T) {
	const calls = 6
	lc := sipCenter(t, "--ring-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// baresip registers first: the longest idle agent takes the first call.
	ctrl, output := startBaresip(t, ctx, lc, "1005")
	for _, user := range []string{"1001", "1002"} {
		sippPhone(t, ctx, lc, user, "agent-waits-for-bye.xml")
	}
	caller := sippCall(t, ctx, lc, "caller-hangs-up.xml", "-s", "5000", "-m", strconv.Itoa(calls), "-r", "2", "-d", "1000", "-timeout", "25s")
	waitPeer(t, caller, 30*time.Second, "SIPp callers")
	lc.waitFor(t, "every call released", 5*time.Second, ended(calls))

	events := lc.snapshot()
	ids, lines := transcripts(events)
	if len(ids) != calls {
		t.Fatalf("%d interactions, want %d", len(ids), calls)
	}
	byBaresip := 0
	for _, id := range ids {
		got := strings.Join(lines[id], " ")
		ok := false
		for _, dn := range []string{"1001", "1002", "1005"} {
			want := "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@" + dn + " EventRinging@" + dn +
				" EventEstablished@" + dn + " EventReleased@" + dn
			if got == want {
				ok = true
				if dn == "1005" {
					byBaresip++
				}
			}
		}
		if !ok {
			t.Errorf("call %s: transcript %s", id, got)
		}
	}
	if byBaresip == 0 {
		t.Errorf("baresip (1005) answered none of the %d calls", calls)
	}
	t.Logf("baresip answered %d of %d calls", byBaresip, calls)
	checkStats(t, lc, calls, calls, 0)
	// baresip's side: it answered those calls, and each ended with the
	// switch's BYE (libre reports a BYE received as "Connection reset by
	// peer"), the last possibly just after the caller's.
	output.waitFor(t, "baresip's calls to end", 5*time.Second, func(out string) bool {
		return strings.Count(out, "terminated (duration") >= byBaresip
	})
	out := output.String()
	if n := strings.Count(out, "Call established"); n != byBaresip {
		t.Errorf("baresip established %d calls, the switch says %d", n, byBaresip)
	}
	if n := strings.Count(out, "session closed: Connection reset by peer"); n != byBaresip {
		t.Errorf("baresip got %d BYEs, want %d", n, byBaresip)
	}
	if active := baresipCommand(t, ctrl, "listcalls", ""); !strings.Contains(active, "Active calls (0)") {
		t.Errorf("baresip still has calls: %s", active)
	}
}

// TestSIPAbandonWhileRinging: the caller hangs up while the agent's phone
// rings: the interaction is abandoned, the switch CANCELs the agent's leg
// (the phone answers 200 and 487) and the agent is ready again.
func TestSIPAbandonWhileRinging(t *testing.T) {
	lc := sipCenter(t, "--ring-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phone := sippPhone(t, ctx, lc, "1001", "agent-no-answer.xml", "-m", "1")
	caller := sippCall(t, ctx, lc, "caller-hangs-up.xml", "-s", "5000", "-m", "1", "-d", "500", "-timeout", "15s")
	waitPeer(t, caller, 15*time.Second, "SIPp caller")
	waitPeer(t, phone, 5*time.Second, "1001's phone (CANCEL answered, 487 ACKed)")
	lc.waitFor(t, "the abandon", 5*time.Second, ended(1))
	events := lc.snapshot()
	wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 EventAbandoned@1001")
	// The offer ended with the interaction: 1001 was never not ready.
	if got, want := strings.Join(agentLines(events, "1001"), " "), "EventAgentLogin@1001 EventAgentReady@1001"; got != want {
		t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
	}
	if st, _ := agentState(t, lc, "1001"); st != tserver.Ready {
		t.Errorf("agent 1001 is %s, want ready", st)
	}
	checkStats(t, lc, 1, 0, 1)
}

// TestSIPSilentPhoneRingTimeout: agent 1001's registered contact never
// answers at all (no 1xx: a phone that went away without unregistering).
// The ring timeout still applies: the call goes to agent 1002 after it,
// not after Timer B (32 s).
func TestSIPSilentPhoneRingTimeout(t *testing.T) {
	const ringTimeout = 2 * time.Second
	lc := sipCenter(t, "--ring-timeout", ringTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A bound socket that never reads: no response, no ICMP.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	registerContact(t, ctx, lc, "1001", silent.LocalAddr().String(), "3600")
	lc.waitFor(t, "1001 ready", 10*time.Second, hasEvent(tserver.EventAgentReady, "1001", ""))
	caller := sippCall(t, ctx, lc, "caller-waits.xml", "-s", "5000", "-m", "1", "-timeout", "25s")
	lc.waitFor(t, "1001 ringing", 10*time.Second, hasEvent(tserver.EventRinging, "1001", ""))
	sippPhone(t, ctx, lc, "1002", "agent-answers.xml", "-m", "1")
	lc.waitFor(t, "1001's offer to fail", ringTimeout+3*time.Second, func(ev []tserver.Event) bool {
		return slices.ContainsFunc(ev, func(e tserver.Event) bool { return e.Type == tserver.EventReleased && e.DN == "1001" })
	})
	waitPeer(t, caller, 10*time.Second, "SIPp caller")
	lc.waitFor(t, "the call released", 5*time.Second, ended(1))
	events := lc.snapshot()
	wantTranscript(t, events, "EventRouteRequest EventRouteUsed(default) EventQueued EventDiverted@1001 EventRinging@1001 "+
		"EventReleased@1001(unreachable) EventQueued EventDiverted@1002 EventRinging@1002 EventEstablished@1002 EventReleased@1002")
	if d := rang(events, "1001"); d < ringTimeout-100*time.Millisecond || d > ringTimeout+2*time.Second {
		t.Errorf("1001 was tried for %v, want about the ring timeout %v", d, ringTimeout)
	}
	if st, reason := agentState(t, lc, "1001"); st != tserver.NotReady || reason != "unreachable" {
		t.Errorf("agent 1001 is %s (%s), want not_ready (unreachable)", st, reason)
	}
	checkStats(t, lc, 1, 1, 0)
}

// TestSIPUnregisterLogsOut: when an agent's phone unregisters (REGISTER
// with Expires: 0), its binding goes and the agent is logged out.
func TestSIPUnregisterLogsOut(t *testing.T) {
	lc := sipCenter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Registering needs no phone behind the contact.
	contact := fmt.Sprintf("127.0.0.1:%d", cctest.FreeUDPPort(t))
	registerContact(t, ctx, lc, "1001", contact, "3600")
	lc.waitFor(t, "1001 ready", 10*time.Second, hasEvent(tserver.EventAgentReady, "1001", ""))
	registerContact(t, ctx, lc, "1001", contact, "0")
	lc.waitFor(t, "1001 logged out", 5*time.Second, hasEvent(tserver.EventAgentLogout, "1001", ""))
	if c := lc.m.center.Registrar().Lookup("1001"); len(c) != 0 {
		t.Errorf("1001 still has bindings %v", c)
	}
	if got, want := strings.Join(agentLines(lc.snapshot(), "1001"), " "),
		"EventAgentLogin@1001 EventAgentReady@1001 EventAgentLogout@1001"; got != want {
		t.Errorf("agent 1001:\n got  %s\n want %s", got, want)
	}
}
