package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/peer"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// drainCenter has a SIP phone agent for calls to 6000, a CTI agent for
// chats, and a monitor whose token comes from the environment.
const drainCenter = `center: {name: Drain Test}
queues:
  - {name: support, media: voip, number: "6000"}
  - {name: chat-general, media: im}
agents:
  - {id: agent-01, number: "1001", password: secret, skills: {support: 5}, capacity: {voip: 1, im: 0}}
  - {id: ann, name: Ann, password: secret, ready: false, skills: {chat-general: 5}, capacity: {im: 3, voip: 0}, clients: {"*": "*"}}
users:
  - {name: wall, roles: [monitor], token_env: DRAIN_TEST_MONITOR_TOKEN}
im:
  bot: {greeting: "Welcome!", handoff: "Connecting you to an agent."}
`

const drainMonitorToken = "drain-test-monitor-token-0123456789"

// processServe is `ccswitch serve` run by main() in a child process.
type processServe struct {
	cmd       *exec.Cmd
	sip, http string
	stderr    chan string // the child's stderr lines, after the address
	logBytes  atomic.Int64
	exited    chan error // what Wait said, once
}

// startProcessServe runs the real program (main, signals and exit code
// included) as `ccswitch serve args...` with SIP and HTTP on free
// loopback ports, and waits until it serves.
func startProcessServe(t *testing.T, ctx context.Context, env []string, args ...string) *processServe {
	t.Helper()
	args = append([]string{"-test.run=^$", "--", "serve", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRunMain+"=1"), env...)
	cmd.WaitDelay = 5 * time.Second
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &processServe{cmd: cmd, stderr: make(chan string, 1024), exited: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	serving := make(chan struct{})
	go func() {
		defer close(p.stderr)
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			p.logBytes.Add(int64(len(sc.Bytes()) + 1))
			var l struct{ Message, SIP, HTTP string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "ccswitch serving" && p.sip == "" {
				p.sip, p.http = l.SIP, l.HTTP
				close(serving)
				continue
			}
			select {
			case p.stderr <- sc.Text():
			default:
			}
		}
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case <-serving:
		return p
	case err := <-p.exited:
		t.Fatalf("serve exited before serving: %v", err)
	case <-ctx.Done():
		t.Fatalf("serve did not serve: %v", ctx.Err())
	}
	return nil
}

// TestServeSIGTERMDrains: SIGTERM with a call and a chat up. serve stops
// taking new work at once (a new web chat customer is told the center is
// closing), lets the call and the chat go on for --drain, then ends them
// cleanly: the caller and the agent's phone each get a BYE (their SIPp
// scenarios only succeed with it), the chat's customer is told and the
// agent's chat ends; serve exits 0 and every transcript line, the last
// one included, is in the store.
func TestServeSIGTERMDrains(t *testing.T) {
	peer.Require(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	centerFile, storePath := filepath.Join(dir, "center.yaml"), filepath.Join(dir, "cc.db")
	if err := os.WriteFile(centerFile, []byte(drainCenter), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startProcessServe(t, ctx, []string{"DRAIN_TEST_MONITOR_TOKEN=" + drainMonitorToken},
		"--config", centerFile, "--store", storePath, "--drain", "3s", "--log-level", "info")
	lc := &liveCenter{sipAddr: srv.sip}

	wall, err := cti.Dial(ctx, "ws://"+srv.http+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer wall.Close()
	if _, err := wall.LoginToken(ctx, drainMonitorToken); err != nil {
		t.Fatal(err)
	}
	if err := wall.Register(ctx, "*"); err != nil {
		t.Fatal(err)
	}

	// The call: agent-01's SIPp phone answers and waits for a BYE; the
	// caller waits in the queue, talks, and waits for a BYE too.
	phonePort := cctest.FreeUDPPort(t)
	phone := sipp(t, ctx, "-sf", sippScenario(t, "agent-waits-for-bye.xml"), "-i", "127.0.0.1",
		"-p", strconv.Itoa(phonePort), "-m", "1", "-timeout", "40s", srv.sip)
	registerContact(t, ctx, lc, "1001", fmt.Sprintf("127.0.0.1:%d", phonePort), "3600")
	if _, err := wall.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventAgentReady" && m.AgentID == "agent-01" }); err != nil {
		t.Fatal(err)
	}
	caller := sipp(t, ctx, "-sf", sippScenario(t, "caller-waits.xml"), "-s", "6000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-timeout", "40s", srv.sip)
	if _, err := wall.Expect(ctx, func(m cti.Message) bool { return m.Event == "EventEstablished" && m.AgentID == "agent-01" }); err != nil {
		t.Fatal(err)
	}

	// The chat: Alice writes from the web chat, Ann answers on CTI.
	c := &imCenter{http: srv.http, store: storePath}
	ann := c.agentDesk(t, ctx, "ann")
	alice := dialWebChat(t, ctx, srv.http, chromeUA)
	alice.say(ctx, "hello")
	alice.expect(ctx, "Connecting you to an agent.")
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	alice.expect(ctx, "You are now chatting with Ann.")
	alice.say(ctx, "my bill is wrong")
	expectChat(t, ctx, ann, "EventChatMessage", func(m cti.Message) bool { return m.Text == "my bill is wrong" })

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: the chat goes on, a newcomer is turned away.
	if err := ann.ChatSend(ctx, ring.ConnID, "Let me look at it."); err != nil {
		t.Fatalf("the agent's line while draining: %v", err)
	}
	alice.expect(ctx, "Ann: Let me look at it.")
	late := dialWebChat(t, ctx, srv.http, chromeUA)
	late.say(ctx, "hi")
	late.expect(ctx, "The center is closing")

	// After --drain: the chat and the call are ended by the switch.
	alice.expect(ctx, "The center is closing now")
	expectChat(t, ctx, ann, "EventChatEnded", func(m cti.Message) bool { return m.From == "system" })
	if err := caller.Wait(); err != nil {
		t.Fatalf("the caller did not get its BYE: %v", err)
	}
	if err := phone.Wait(); err != nil {
		t.Fatalf("the agent's phone did not get its BYE: %v", err)
	}
	select {
	case err := <-srv.exited:
		if err != nil {
			var lines []string
			for l := range srv.stderr {
				lines = append(lines, l)
			}
			t.Fatalf("serve exited with %v after SIGTERM; stderr:\n%s", err, strings.Join(lines, "\n"))
		}
	case <-ctx.Done():
		t.Fatal("serve did not exit after SIGTERM and its drain")
	}

	got := c.transcript(t, ctx, "webchat", alice.key)
	want := []string{"customer: hello", "bot: Welcome!", "bot: Connecting you to an agent.",
		"system: You are now chatting with Ann.", "customer: my bill is wrong", "agent: Let me look at it.",
		"system: The center is closing now; this chat ends here. Thank you for contacting Drain Test."}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestServeSIGTERMHangsUpEveryCall: 30 calls up, 5 of them with agents'
// SIPp phones and 25 waiting in the queue on the switch's announcements;
// SIGTERM with no drain. Every caller and every phone gets its BYE (each
// SIPp scenario succeeds only with it) and serve exits 0. Before, the
// transports closed while hang-ups were under way: 2 callers of 38 never
// got one.
func TestServeSIGTERMHangsUpEveryCall(t *testing.T) {
	peer.Require(t, "sipp")
	const agents, calls = 5, 30
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startProcessServe(t, ctx, nil, "--config", abs(t, "../../examples/sip-center.yaml"),
		"--drain", "0", "--log-level", "info")
	lc := &liveCenter{sipAddr: srv.sip}
	var phones []*exec.Cmd
	for i := range agents {
		port := cctest.FreeUDPPort(t)
		phones = append(phones, sipp(t, ctx, "-sf", sippScenario(t, "agent-waits-for-bye.xml"), "-i", "127.0.0.1",
			"-p", strconv.Itoa(port), "-m", "1", "-timeout", "50s", srv.sip))
		registerContact(t, ctx, lc, strconv.Itoa(1001+i), fmt.Sprintf("127.0.0.1:%d", port), "3600")
	}
	callers := sipp(t, ctx, "-sf", sippScenario(t, "caller-waits.xml"), "-s", "5000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", strconv.Itoa(calls), "-r", "30", "-l", strconv.Itoa(calls),
		"-timeout", "50s", srv.sip)
	waitQueue(t, ctx, srv.http, "support", "every call up", func(q crashQueueStatus) bool {
		return q.Busy == agents && q.Waiting == calls-agents
	})

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := callers.Wait(); err != nil {
		t.Fatalf("not every caller got its BYE: %v", err)
	}
	for i, p := range phones {
		if err := p.Wait(); err != nil {
			t.Fatalf("agent phone %d did not get its BYE: %v", 1001+i, err)
		}
	}
	if err := <-srv.exited; err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
}
