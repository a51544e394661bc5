package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/peer"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// liveCenter is a running `ccswitch serve` with a CTI event recorder.
type liveCenter struct {
	m       *Main
	sipAddr string
	events  *cctest.Recorder[tserver.Event]
	// recording is the file serve --record writes when it closes; "" when
	// it does not record.
	recording string
}

func startCenter(t *testing.T, extra ...string) *liveCenter {
	t.Helper()
	return startServe(t, append([]string{"serve", "--config", "../../examples/sip-center.yaml",
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warn"}, extra...))
}

// startServe runs `ccswitch args...` (a serve command) and records its CTI
// events; it stops with the test.
func startServe(t *testing.T, args []string) *liveCenter {
	t.Helper()
	m := NewMain(&strings.Builder{}, &testLogWriter{t: t})
	if err := m.ParseFlags(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lc := &liveCenter{m: m, sipAddr: m.center.Addrs().SIP, events: cctest.NewRecorder[tserver.Event]()}
	t.Cleanup(func() { _ = m.Close() })
	err := m.center.Do(context.Background(), func(ts *tserver.Server) { ts.Subscribe(lc.events.Record) })
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

// waitFor waits until cond holds over the recorded events, or fails.
func (lc *liveCenter) waitFor(t *testing.T, what string, d time.Duration, cond func([]tserver.Event) bool) {
	t.Helper()
	lc.events.WaitFor(t, what, d, cond)
}

func (lc *liveCenter) snapshot() []tserver.Event { return lc.events.Events() }

type testLogWriter struct{ t *testing.T }

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// sipp starts SIPp with args; the process ends with the test.
func sipp(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	bin := peer.Require(t, "sipp")
	cmd := exec.CommandContext(ctx, bin, append(args, "-nostdin")...)
	cmd.Dir = t.TempDir()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp %v output:\n%s", args, out.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func countType(events []tserver.Event, typ tserver.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestSIPCallsReachAgents: 4 agents on SIPp phones, 100 callers at 10
// calls/s through route point 5000: every call is answered by an eligible
// agent, never more than one call per agent, each call's CTI transcript is
// EventQueued → EventRinging → EventEstablished → EventReleased, and
// offered = answered + abandoned.
func TestSIPCallsReachAgents(t *testing.T) {
	lc := startCenter(t, "--ring-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	scen, _ := filepath.Abs("testdata/sipp")
	agents := []string{"1001", "1002", "1003", "1004"}
	for _, user := range agents {
		registerPhone(t, ctx, lc, user, "agent-answers.xml", 0)
	}
	lc.waitFor(t, "4 agents ready", 20*time.Second, func(ev []tserver.Event) bool {
		return countType(ev, tserver.EventAgentReady) >= len(agents)
	})
	caller := sipp(t, ctx, "-sf", filepath.Join(scen, "caller-waits.xml"), "-s", "5000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "100", "-r", "10", "-l", "100",
		"-timeout", "80s", "-recv_timeout", "60000", lc.sipAddr)
	if err := caller.Wait(); err != nil {
		t.Fatalf("SIPp callers: %v (exit status 0 means every call succeeded)", err)
	}
	lc.waitFor(t, "100 calls released", 20*time.Second, func(ev []tserver.Event) bool {
		n := 0
		for _, e := range ev {
			if e.Type == tserver.EventReleased && e.Reason == "" {
				n++
			}
		}
		return n >= 100
	})
	events := lc.snapshot()

	transcripts := map[pbx.ConnID][]string{}
	busy := map[string]int{}
	answeredBy := map[pbx.ConnID]string{}
	for _, e := range events {
		switch e.Type {
		case tserver.EventQueued, tserver.EventRinging, tserver.EventEstablished, tserver.EventReleased:
			transcripts[e.ConnID] = append(transcripts[e.ConnID], e.Type.String())
		}
		switch e.Type {
		case tserver.EventEstablished:
			busy[e.AgentID]++
			answeredBy[e.ConnID] = e.DN
			if busy[e.AgentID] > 1 {
				t.Errorf("agent %s has %d calls at once", e.AgentID, busy[e.AgentID])
			}
		case tserver.EventReleased:
			if e.AgentID != "" {
				busy[e.AgentID]--
			}
		}
	}
	if len(transcripts) != 100 {
		t.Fatalf("%d interactions, want 100", len(transcripts))
	}
	want := "EventQueued EventRinging EventEstablished EventReleased"
	for id, tr := range transcripts {
		if got := strings.Join(tr, " "); got != want {
			t.Errorf("call %s: transcript %s, want %s", id, got, want)
		}
		if dn := answeredBy[id]; dn < "1001" || dn > "1004" {
			t.Errorf("call %s answered at %q, not by one of the registered agents", id, dn)
		}
	}
	var st tserver.QueueStats
	if err := lc.m.center.Do(ctx, func(ts *tserver.Server) { st, _ = ts.QueueStats("support") }); err != nil {
		t.Fatal(err)
	}
	if st.Offered != 100 || st.Offered != st.Answered+st.Abandoned {
		t.Fatalf("stats offered %d answered %d abandoned %d", st.Offered, st.Answered, st.Abandoned)
	}
	if st.Answered != 100 {
		t.Fatalf("answered %d of 100", st.Answered)
	}
}

// registerPhone starts a SIPp phone running scenario for user and
// registers it; it returns when the registration succeeded;
// calls bounds how many calls the phone takes (0: no bound).
func registerPhone(t *testing.T, ctx context.Context, lc *liveCenter, user, scenario string, calls int, keys ...string) {
	t.Helper()
	scen, _ := filepath.Abs("testdata/sipp")
	port := cctest.FreeUDPPort(t)
	args := []string{"-sf", filepath.Join(scen, scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(port)}
	if calls > 0 {
		args = append(args, "-m", strconv.Itoa(calls))
	}
	for i := 0; i+1 < len(keys); i += 2 {
		args = append(args, "-key", keys[i], keys[i+1])
	}
	sipp(t, ctx, append(args, lc.sipAddr)...)
	reg := sipp(t, ctx, "-sf", filepath.Join(scen, "register.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t)),
		"-m", "1", "-au", user, "-ap", "secret", "-key", "user", user,
		"-key", "contact_hostport", fmt.Sprintf("127.0.0.1:%d", port), "-key", "expires", "3600",
		"-timeout", "20s", lc.sipAddr)
	if err := reg.Wait(); err != nil {
		t.Fatalf("registering %s: %v", user, err)
	}
}

// readyPhone registers a SIPp phone for user (see registerPhone) and waits
// until its agent is ready.
func readyPhone(t *testing.T, ctx context.Context, lc *liveCenter, user, scenario string, calls int, keys ...string) {
	t.Helper()
	registerPhone(t, ctx, lc, user, scenario, calls, keys...)
	lc.waitFor(t, "agent "+user+" ready", 10*time.Second, func(ev []tserver.Event) bool {
		for _, e := range ev {
			if e.Type == tserver.EventAgentReady && e.DN == user {
				return true
			}
		}
		return false
	})
}

// TestSIPHoldRetrieveTransfer: the agent's phone holds the customer
// (re-INVITE sendonly), retrieves, then blind-transfers (REFER) to the
// billing queue, where another agent answers.
func TestSIPHoldRetrieveTransfer(t *testing.T) {
	lc := startCenter(t, "--config", "testdata/two-queues.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	readyPhone(t, ctx, lc, "1001", "agent-holds-transfers.xml", 1, "target", "6001")
	readyPhone(t, ctx, lc, "1003", "agent-answers.xml", 1)
	scen, _ := filepath.Abs("testdata/sipp")
	caller := sipp(t, ctx, "-sf", filepath.Join(scen, "caller-waits.xml"), "-s", "5000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-timeout", "40s", lc.sipAddr)
	if err := caller.Wait(); err != nil {
		t.Fatalf("caller: %v", err)
	}
	lc.waitFor(t, "the call released", 10*time.Second, func(ev []tserver.Event) bool {
		for _, e := range ev {
			if e.Type == tserver.EventReleased && e.Reason == "" {
				return true
			}
		}
		return false
	})
	var got []string
	for _, e := range lc.snapshot() {
		if e.ConnID == 0 || e.Type == tserver.EventDiverted {
			continue
		}
		s := e.Type.String()
		if e.Queue != "" {
			s += "(" + e.Queue
			if e.DN != "" && e.AgentID != "" {
				s += " " + e.DN
			}
			s += ")"
		} else if e.DN != "" {
			s += "(" + e.DN + ")"
		}
		if e.Reason != "" {
			s += ":" + e.Reason
		}
		got = append(got, s)
	}
	want := []string{
		"EventQueued(support)", "EventRinging(support 1001)", "EventEstablished(support 1001)",
		"EventHeld(support 1001)", "EventRetrieved(support 1001)",
		"EventReleased(support 1001):transferred", "EventQueued(billing)",
		"EventRinging(billing 1003)", "EventEstablished(billing 1003)", "EventReleased(billing 1003)",
	}
	// The route point's request and the route used come first.
	if len(got) < len(want) || strings.Join(got[len(got)-len(want):], " ") != strings.Join(want, " ") {
		t.Fatalf("transcript\n got %v\nwant ... %v", got, want)
	}
}

// TestSIPMakeCall: an agent's outbound call (MakeCall, the path callbacks
// take): the switch rings the agent's phone, then calls the destination
// through the outbound trunk (a SIPp uas), and the agent hangs up.
func TestSIPMakeCall(t *testing.T) {
	trunkPort := cctest.FreeUDPPort(t)
	lc := startCenter(t, "--trunk", fmt.Sprintf("127.0.0.1:%d", trunkPort))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sipp(t, ctx, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(trunkPort), "-m", "1", lc.sipAddr)
	readyPhone(t, ctx, lc, "1001", "agent-answers.xml", 1)
	var id pbx.ConnID
	var mcErr error
	if err := lc.m.center.Do(ctx, func(ts *tserver.Server) { id, mcErr = ts.MakeCall("agent-01", "5551234", pbx.VoIP) }); err != nil || mcErr != nil {
		t.Fatalf("MakeCall: %v %v", err, mcErr)
	}
	lc.waitFor(t, "the outbound call released", 20*time.Second, func(ev []tserver.Event) bool {
		for _, e := range ev {
			if e.ConnID == id && e.Type == tserver.EventReleased {
				return true
			}
		}
		return false
	})
	var got []string
	for _, e := range lc.snapshot() {
		if e.ConnID == id {
			got = append(got, e.Type.String()+"("+e.DN+" "+e.DNIS+")")
		}
	}
	want := "EventDialing(1001 5551234) EventEstablished(1001 5551234) EventReleased(1001 5551234)"
	if strings.Join(got, " ") != want {
		t.Fatalf("transcript %v, want %s", got, want)
	}
}

// TestSIPMixedSimulatedAndReal: serve --simulate mixes simulated trunk
// callers and simulated desk agents with a real SIP phone and a real SIP
// caller in one center: simulated callers reach the SIP phone (the switch
// rings it with no customer leg and hangs up when the simulated customer
// does), and the real caller can be answered by either.
func TestSIPMixedSimulatedAndReal(t *testing.T) {
	lc := startCenter(t, "--config", "testdata/mixed.yaml", "--simulate")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	scen, _ := filepath.Abs("testdata/sipp")
	registerPhone(t, ctx, lc, "1001", "agent-waits-for-bye.xml", 0)
	// Simulated customers answered by the SIP phone and by the desks.
	lc.waitFor(t, "simulated calls handled by the SIP phone and the desks", 40*time.Second, func(ev []tserver.Event) bool {
		sipDone, deskDone := 0, 0
		for _, e := range ev {
			if e.Type == tserver.EventReleased && e.Reason == "" && strings.HasPrefix(e.ANI, "sim-") {
				switch {
				case e.AgentID == "sip-1":
					sipDone++
				case strings.HasPrefix(e.AgentID, "desk-"):
					deskDone++
				}
			}
		}
		return sipDone >= 3 && deskDone >= 3
	})
	// A real caller to the route point is answered by a desk or the phone,
	// talks two seconds and hangs up.
	caller := sipp(t, ctx, "-sf", filepath.Join(scen, "caller-hangs-up.xml"), "-s", "5000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-d", "2000", "-timeout", "40s", lc.sipAddr)
	if err := caller.Wait(); err != nil {
		t.Fatalf("real caller: %v", err)
	}
	lc.waitFor(t, "the real caller answered and released", 10*time.Second, func(ev []tserver.Event) bool {
		answered := map[pbx.ConnID]bool{}
		for _, e := range ev {
			if strings.HasPrefix(e.ANI, "sim-") {
				continue
			}
			switch {
			case e.Type == tserver.EventEstablished:
				answered[e.ConnID] = true
			case e.Type == tserver.EventReleased && e.Reason == "" && answered[e.ConnID]:
				return true
			}
		}
		return false
	})
	var st tserver.QueueStats
	var waiting int
	if err := lc.m.center.Do(ctx, func(ts *tserver.Server) {
		st, _ = ts.QueueStats("support")
		waiting = ts.Status()[0].Waiting
	}); err != nil {
		t.Fatal(err)
	}
	inProgress := st.Offered - st.Answered - st.Abandoned
	if inProgress < 0 || st.Answered < 6 {
		t.Fatalf("stats %+v (waiting %d)", st, waiting)
	}
	t.Logf("offered %d answered %d abandoned %d, %d still waiting or ringing", st.Offered, st.Answered, st.Abandoned, inProgress)
}

// TestSIPLate180: the agent's phone's 180 arrives after its 200 (legal over
// UDP, and sipgo may also deliver them out of order): the call is
// established and released as usual.
func TestSIPLate180(t *testing.T) {
	lc := startCenter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	readyPhone(t, ctx, lc, "1001", "agent-late-180.xml", 1)
	scen, _ := filepath.Abs("testdata/sipp")
	caller := sipp(t, ctx, "-sf", filepath.Join(scen, "caller-waits.xml"), "-s", "5000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-timeout", "30s", lc.sipAddr)
	if err := caller.Wait(); err != nil {
		t.Fatalf("caller: %v", err)
	}
	lc.waitFor(t, "the call established and released", 10*time.Second, func(ev []tserver.Event) bool {
		return countType(ev, tserver.EventEstablished) == 1 && countType(ev, tserver.EventReleased) == 1
	})
}
