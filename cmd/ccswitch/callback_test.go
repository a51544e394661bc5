package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// End-to-end callbacks: examples/callback-center.yaml served with an
// outbound trunk that is a SIPp UAS logging every number it is called at,
// agents' phones that are SIPp, callbacks asked for over REST with the
// CRM's token.

const crmToken = "crm-token-for-the-e2e-tests-0123"

// trunk is a SIPp UAS standing for the outbound trunk: it answers every
// call and logs the number called.
type trunk struct {
	addr string
	log  string
	cmd  *exec.Cmd
}

func startTrunk(t *testing.T, ctx context.Context) *trunk {
	t.Helper()
	port := cctest.FreeUDPPort(t)
	tr := &trunk{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), "trunk.log")}
	tr.cmd = sipp(t, ctx, "-sf", sippScenario(t, "trunk-answers.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-trace_logs", "-log_file", tr.log)
	return tr
}

var calledRE = regexp.MustCompile(`called (\S+)`)

// called counts the calls the trunk got, by number.
func (tr *trunk) called(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(tr.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range calledRE.FindAllStringSubmatch(string(b), -1) {
		out[m[1]]++
	}
	return out
}

// callbackCenter serves examples/callback-center.yaml with tr as its
// trunk and store in dir.
func callbackCenter(t *testing.T, tr *trunk, store string) *liveCenter {
	t.Helper()
	t.Setenv("CCSWITCH_CRM_TOKEN", crmToken)
	lc := startServe(t, []string{"serve", "--config", "../../examples/callback-center.yaml",
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "info",
		"--trunk", tr.addr, "--store", store})
	logEventsOnFailure(t, lc)
	return lc
}

// logEventsOnFailure logs lc's CTI events if the test fails.
func logEventsOnFailure(t *testing.T, lc *liveCenter) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range lc.snapshot() {
				t.Logf("CTI %s %s conn=%s %s %v", e.Time.Format("15:04:05.000"), eventLine(e), e.ConnID, e.Queue, e.Media)
			}
		}
	})
}

// api calls lc's callback API with the CRM's token.
func api(t *testing.T, lc *liveCenter, method, path, body string) (int, map[string]any) {
	t.Helper()
	return httpAPI(t, lc.m.center.Addrs().HTTP, method, path, body)
}

// callbacksIn lists the callbacks in state.
func callbacksIn(t *testing.T, lc *liveCenter, state string) []map[string]any {
	t.Helper()
	code, out := api(t, lc, "GET", "/api/callbacks?state="+state, "")
	if code != http.StatusOK {
		t.Fatalf("list %s: %d %v", state, code, out)
	}
	var list []map[string]any
	for _, x := range out["callbacks"].([]any) {
		list = append(list, x.(map[string]any))
	}
	return list
}

// callbacksEnded is a condition: n callback interactions were released
// (an agent and the customer talked, then hung up).
func callbacksEnded(n int) func([]tserver.Event) bool {
	return func(events []tserver.Event) bool {
		k := 0
		for _, e := range events {
			if e.Media == pbx.Callback && e.Type == tserver.EventReleased && e.Reason == "" {
				k++
			}
		}
		return k >= n
	}
}

// TestCallbacksOverRESTDialledOnceEach: 100 callbacks posted for trunk
// numbers, with agents' phones registered: every one is dialled through
// the trunk exactly once (the trunk's log counts each number once), an
// agent talked with each customer, and every callback ends done with one
// answered attempt by phone.
func TestCallbacksOverRESTDialledOnceEach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tr := startTrunk(t, ctx)
	lc := callbackCenter(t, tr, filepath.Join(t.TempDir(), "cb.db"))
	for _, user := range []string{"1001", "1002", "1003", "1004", "1005"} {
		sippPhone(t, ctx, lc, user, "agent-waits-for-bye.xml")
	}
	n := 100
	if testing.Short() {
		n = 3
	}
	numbers := map[string]bool{}
	for i := range n {
		number := fmt.Sprintf("+1555%07d", 1000+i)
		numbers[number] = true
		code, out := api(t, lc, "POST", "/api/callbacks", fmt.Sprintf(`{"queue":"support","number":%q}`, number))
		if code != http.StatusCreated {
			t.Fatalf("POST %d: %d %v", i, code, out)
		}
	}
	lc.waitFor(t, fmt.Sprintf("%d callbacks talked and ended", n), time.Duration(n)*1500*time.Millisecond, callbacksEnded(n))

	done := callbacksIn(t, lc, "done")
	if len(done) != n {
		t.Fatalf("%d callbacks done, want %d (pending %d, failed %d)", len(done), n, len(callbacksIn(t, lc, "pending")), len(callbacksIn(t, lc, "failed")))
	}
	for _, cb := range done {
		attempts := cb["attempts"].([]any)
		a := attempts[0].(map[string]any)
		if len(attempts) != 1 || a["medium"] != "phone" || a["result"] != "answered" || a["target"] != cb["number"] {
			t.Fatalf("callback %v: attempts %v; want one answered call to its number by phone", cb["id"], attempts)
		}
	}
	called := tr.called(t)
	if len(called) != n {
		t.Fatalf("the trunk was called at %d numbers, want %d", len(called), n)
	}
	for number, k := range called {
		if !numbers[number] || k != 1 {
			t.Fatalf("the trunk was called %d times at %s (asked for: %v)", k, number, numbers[number])
		}
	}
	// The callback queue's statistics: 100 offered, 100 answered.
	var st tserver.QueueStats
	if err := lc.m.center.Do(ctx, func(ts *tserver.Server) { st, _ = ts.QueueStats("support-callback") }); err != nil {
		t.Fatal(err)
	}
	if st.Offered != int64(n) || st.Answered != int64(n) || st.Abandoned != 0 {
		t.Fatalf("support-callback %+v; want %d offered and answered", st, n)
	}
}

// TestCallbacksSurviveKill: 100 callbacks pending with no agent logged in;
// serve is killed (SIGKILL) and started again on the same store: all 100
// are listed pending; then agents' phones register and every one is
// dialled exactly once (the trunk, told to take 100 calls, counts each
// number once) and ends done.
func TestCallbacksSurviveKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := 100
	if testing.Short() {
		n = 5
	}
	t.Setenv("CCSWITCH_CRM_TOKEN", crmToken)
	port := cctest.FreeUDPPort(t)
	tr := &trunk{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), "trunk.log")}
	tr.cmd = sipp(t, ctx, "-sf", sippScenario(t, "trunk-answers.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-trace_logs", "-log_file", tr.log, "-m", strconv.Itoa(n))
	t.Setenv(serveCrashTrunk, tr.addr)
	path := filepath.Join(t.TempDir(), "cb.db")
	const config = "../../examples/callback-center.yaml"

	first := startServeChildConfig(t, ctx, "first", path, config)
	numbers := map[string]bool{}
	for i := range n {
		number := fmt.Sprintf("+1444%07d", 1000+i)
		numbers[number] = true
		code, out := httpAPI(t, first.http, "POST", "/api/callbacks", fmt.Sprintf(`{"queue":"support","number":%q}`, number))
		if code != http.StatusCreated {
			t.Fatalf("POST %d: %d %v", i, code, out)
		}
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(); !isKilled(err) {
		t.Fatalf("the first serve: %v, want killed", err)
	}
	if got := tr.called(t); len(got) != 0 {
		t.Fatalf("the trunk was called before any agent was there: %v", got)
	}

	second := startServeChildConfig(t, ctx, "second", path, config)
	code, out := httpAPI(t, second.http, "GET", "/api/callbacks?state=pending", "")
	if pending := out["callbacks"].([]any); code != http.StatusOK || len(pending) != n {
		t.Fatalf("after the restart: %d, %d pending, want %d", code, len(pending), n)
	}
	lc := &liveCenter{sipAddr: second.sip}
	for _, user := range []string{"1001", "1002", "1003", "1004", "1005"} {
		port := cctest.FreeUDPPort(t)
		sipp(t, ctx, "-sf", sippScenario(t, "agent-waits-for-bye.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port), second.sip)
		registerContact(t, ctx, lc, user, fmt.Sprintf("127.0.0.1:%d", port), "3600")
	}
	waitPeer(t, tr.cmd, time.Duration(n)*1500*time.Millisecond, fmt.Sprintf("the trunk taking its %d calls", n))
	called := tr.called(t)
	if len(called) != n {
		t.Fatalf("the trunk was called at %d numbers, want %d", len(called), n)
	}
	for number, k := range called {
		if !numbers[number] || k != 1 {
			t.Fatalf("the trunk was called %d times at %s (asked for: %v)", k, number, numbers[number])
		}
	}
	code, out = httpAPI(t, second.http, "GET", "/api/callbacks?state=done", "")
	if done := out["callbacks"].([]any); code != http.StatusOK || len(done) != n {
		t.Fatalf("%d callbacks done, want %d", len(done), n)
	}
	if err := second.stop(); err != nil {
		t.Fatalf("the second serve: %v", err)
	}
}

// httpAPI calls the callback API at addr with the CRM's token.
func httpAPI(t *testing.T, addr, method, path, body string) (int, map[string]any) {
	t.Helper()
	return cctest.JSONRequest(t, method, "http://"+addr+path, crmToken, body)
}

// sippPcap is SIPp's capture of an RFC 4733 "1" (Debian's sip-tester).
const sippPcap = "/usr/share/sip-tester/dtmf_2833_1.pcap"

// TestQueuedCallerPresses1IsCalledBack: a caller waiting in support (no
// agent yet) presses 1 (RFC 4733, SIPp playing a capture): the switch
// takes the call out of the queue (counted as a callback, not abandoned)
// and hangs up; once an agent's phone registers, the agent is rung and the
// caller is called back at the caller's number through the trunk, and
// the callback ends done.
func TestQueuedCallerPresses1IsCalledBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := os.Stat(sippPcap); err != nil {
		if os.Getenv("CCSWITCH_REQUIRE_PEERS") != "" {
			t.Fatalf("SIPp's DTMF capture: %v", err)
		}
		t.Skipf("SIPp's DTMF capture: %v", err)
	}
	port := cctest.FreeUDPPort(t)
	tr := &trunk{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), "trunk.log")}
	tr.cmd = sipp(t, ctx, "-sf", sippScenario(t, "trunk-answers.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-trace_logs", "-log_file", tr.log, "-m", "1")
	lc := callbackCenter(t, tr, filepath.Join(t.TempDir(), "cb.db"))

	scenario, err := os.ReadFile(sippScenario(t, "caller-presses-1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	caller := filepath.Join(t.TempDir(), "caller.xml")
	if err := os.WriteFile(caller, []byte(strings.ReplaceAll(string(scenario), "PCAP", sippPcap)), 0o600); err != nil {
		t.Fatal(err)
	}
	call := sipp(t, ctx, "-sf", caller, "-s", "6000", "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t)), lc.sipAddr)
	waitPeer(t, call, 20*time.Second, "the caller who pressed 1, hung up by the switch")

	pending := callbacksIn(t, lc, "pending")
	if len(pending) != 1 || pending[0]["number"] != "+15557770001" || pending[0]["origin"] != "voice" || pending[0]["queue"] != "support" {
		t.Fatalf("pending callbacks %v; want the caller's, from voice, for support", pending)
	}
	var st tserver.QueueStats
	if err := lc.m.center.Do(ctx, func(ts *tserver.Server) { st, _ = ts.QueueStats("support") }); err != nil {
		t.Fatal(err)
	}
	if st.Offered != 1 || st.Callback != 1 || st.Abandoned != 0 {
		t.Fatalf("support %+v; want offered 1, callback 1, abandoned 0", st)
	}

	sippPhone(t, ctx, lc, "1001", "agent-waits-for-bye.xml")
	waitPeer(t, tr.cmd, 20*time.Second, "the trunk taking the callback")
	if got := tr.called(t); len(got) != 1 || got["+15557770001"] != 1 {
		t.Fatalf("the trunk was called at %v; want +15557770001 once", got)
	}
	lc.waitFor(t, "the callback talked and ended", 10*time.Second, callbacksEnded(1))
	if done := callbacksIn(t, lc, "done"); len(done) != 1 {
		t.Fatalf("%d callbacks done, want 1", len(done))
	}
}

// TestCustomerFirstCallback: a customer-first callback is dialled once its
// queue's wait is over (agent 1001 free): the customer answers the
// switch's call through the trunk, the call goes to the head of the
// callback queue and agent 1001 is rung and talks with the customer.
func TestCustomerFirstCallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	port := cctest.FreeUDPPort(t)
	tr := &trunk{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), "trunk.log")}
	tr.cmd = sipp(t, ctx, "-sf", sippScenario(t, "trunk-answers.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-trace_logs", "-log_file", tr.log, "-m", "1")
	lc := callbackCenter(t, tr, filepath.Join(t.TempDir(), "cb.db"))
	sippPhone(t, ctx, lc, "1001", "agent-waits-for-bye.xml")
	code, made := api(t, lc, "POST", "/api/callbacks", `{"queue":"support","number":"+15550177","mode":"customer_first"}`)
	if code != http.StatusCreated || made["mode"] != "customer_first" {
		t.Fatalf("POST: %d %v", code, made)
	}
	waitPeer(t, tr.cmd, 30*time.Second, "the customer answering and hanging up")
	if got := tr.called(t); len(got) != 1 || got["+15550177"] != 1 {
		t.Fatalf("the trunk was called at %v; want +15550177 once", got)
	}
	lc.waitFor(t, "agent 1001 talking with the customer, then released", 10*time.Second, func(events []tserver.Event) bool {
		established := false
		for _, e := range events {
			if e.Media == pbx.Callback && e.Queue == "support-callback" && e.Type == tserver.EventEstablished && e.AgentID == "agent-01" {
				established = true
			}
			if established && e.Media == pbx.Callback && e.Type == tserver.EventReleased && e.Reason == "" {
				return true
			}
		}
		return false
	})
	code, got := api(t, lc, "GET", "/api/callbacks/"+made["id"].(string), "")
	if code != http.StatusOK || got["state"] != "done" {
		t.Fatalf("the callback: %d %v; want done", code, got)
	}
}
