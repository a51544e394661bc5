package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/live"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// serveCrashStore names, for TestServeCrashChild, the store file of the
// serve it runs.
const serveCrashStore = "CCSWITCH_CRASH_STORE"

// serveCrashConfig names, for TestServeCrashChild, the center file of the
// serve it runs (default examples/im-center.yaml).
const serveCrashConfig = "CCSWITCH_CRASH_CONFIG"

// serveCrashTrunk names, for TestServeCrashChild, the outbound trunk
// (HOST:PORT) of the serve child, if any.
const serveCrashTrunk = "CCSWITCH_CRASH_TRUNK"

// A real crash of `ccswitch serve`: an agent sends chat lines to a web
// chat customer as fast as the CTI connection takes them, and the serve
// process is killed (SIGKILL: no Close, no deferred code) while lines are
// in flight. A second serve on the same store replays the spool and stops
// cleanly; every line the switch acknowledged is then in the transcript,
// once, and the lines stored are the first ones sent, without a gap.
func TestServeKilledKeepsAcknowledgedChatLines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	// The kill must come while the spool holds acknowledged lines the
	// store's tables do not: on a slow machine (the race detector) the
	// tables sometimes caught up first. Such a run proves nothing about
	// the replay; another one is made, up to three.
	for attempt := 1; attempt <= 3; attempt++ {
		if killedServeKeepsLines(t) {
			return
		}
		t.Logf("attempt %d: the tables held every acknowledged line at the kill; again", attempt)
	}
	t.Fatal("in three runs the kill never came while the spool held lines the tables did not: the spool's replay is not tested")
}

// killedServeKeepsLines is one run of TestServeKilledKeepsAcknowledgedChatLines;
// it reports false, having checked nothing after the kill, when the kill
// came too late to test the spool's replay.
func killedServeKeepsLines(t *testing.T) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "cc.db")

	first := startServeChild(t, ctx, "first", path)
	c := &imCenter{http: first.http, store: path}
	ann := c.agentDesk(t, ctx, "ann")
	v := dialWebChat(t, ctx, c.http, chromeUA)
	v.askAsAliceForTechSupport(ctx)
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	v.expect(ctx, "You are now chatting with Ann.")
	// The customer reads everything the agent sends, until the kill.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, _, err := v.c.Read(ctx); err != nil {
				return
			}
		}
	}()

	// Line n goes with ref refBase+n; the agent sends them pipelined.
	const (
		lines     = 3000
		warm      = 200 // sent and acknowledged before the crash run
		killAfter = 300 // acknowledgements of the crash run before the kill
		refBase   = 1_000_000
	)
	var sent atomic.Int64
	send := func(from, to int64) <-chan error {
		done := make(chan error, 1)
		go func() {
			for n := from; n <= to; n++ {
				b, err := json.Marshal(cti.Request{Request: "RequestChatMessage", Ref: refBase + uint64(n), ConnID: ring.ConnID, Text: lineText(n)})
				if err == nil {
					err = ann.SendRaw(ctx, b)
				}
				if err != nil {
					done <- err
					return
				}
				sent.Store(n)
			}
			done <- nil
		}()
		return done
	}
	acked := make(map[int64]bool)
	var maxAcked int64
	// readReplies records the acknowledgements on the desk until onAck
	// says to stop (true) or the connection ends (false).
	readReplies := func(onAck func() bool) bool {
		for {
			m, err := ann.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatalf("waiting for acknowledgements: %v", err)
				}
				return false
			}
			n := int64(m.Ref) - refBase
			if !m.IsReply() || n < 1 || n > lines {
				continue // an event, the line's EventChatMessage among them
			}
			if m.Event != cti.EventACK {
				t.Fatalf("line %d: %s %s: %s", n, m.Event, m.Kind, m.Error)
			}
			if acked[n] {
				t.Fatalf("line %d acknowledged twice", n)
			}
			acked[n] = true
			maxAcked = max(maxAcked, n)
			if onAck() {
				return true
			}
		}
	}

	// First some lines, until the store's tables hold some of them: the
	// spool then holds records that are in the tables already (a replay
	// must not apply them twice) and others that are not.
	warmSent := send(1, warm)
	if !readReplies(func() bool { return len(acked) == warm }) {
		t.Fatalf("the connection ended after %d of the first %d lines", len(acked), warm)
	}
	if err := <-warmSent; err != nil {
		t.Fatal(err)
	}
	tables, err := store.Open(path, store.Config{}) // a reader beside serve's
	if err != nil {
		t.Fatal(err)
	}
	defer tables.Close()
	inTables := waitLinesInTables(t, ctx, tables, v.key)

	// Then the rest, as fast as the connection takes them; serve is
	// killed amid them.
	crashSent := send(warm+1, lines)
	var ackedAtKill, sentAtKill int64
	killed := false
	readReplies(func() bool {
		if !killed && len(acked) >= warm+killAfter {
			if err := first.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true // read on: what came before the kill was acknowledged
			ackedAtKill, sentAtKill = int64(len(acked)), sent.Load()
		}
		return false
	})
	if !killed {
		t.Fatalf("the connection ended after %d acknowledgements, before the kill", len(acked))
	}
	if err := first.wait(); !isKilled(err) {
		t.Fatalf("the first serve ended with %v, want killed", err)
	}
	<-drained
	if err := <-crashSent; err == nil {
		t.Logf("all %d lines were sent before the kill", lines)
	}
	if len(acked) == lines {
		t.Fatalf("every line was acknowledged: the kill came too late to prove anything")
	}
	t.Logf("killed serve after %d acknowledgements with %d lines sent; %d acknowledged in all, the highest line %d",
		ackedAtKill, sentAtKill, len(acked), maxAcked)
	afterKill, _ := agentLinesInTables(t, ctx, tables, v.key)
	t.Logf("the store's tables held %d of the agent's lines before the crash run, %d after the kill; the rest must come from the spool", inTables, afterKill)
	if afterKill >= len(acked) {
		return false
	}
	if err := tables.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart replays the spool; the second serve answers, then stops.
	restartAndStop(t, ctx, path)
	tr := storedTranscript(t, ctx, path, v.key)
	count := make(map[int64]int)
	seqs := make(map[int64]bool)
	var stored int64
	for _, l := range tr {
		if seqs[l.Seq] {
			t.Errorf("transcript line %d stored twice", l.Seq)
		}
		seqs[l.Seq] = true
		s, ok := strings.CutPrefix(l.Text, "line ")
		if l.From != "agent" || !ok {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || lineText(n) != l.Text {
			t.Errorf("an agent's line reads %q", l.Text)
			continue
		}
		count[n]++
		stored = max(stored, n)
	}
	t.Logf("%d lines acknowledged, %d stored (the transcript has %d lines in all)", len(acked), len(count), len(tr))
	for n := int64(1); n <= stored; n++ {
		if count[n] != 1 {
			t.Errorf("%q is in the transcript %d times", lineText(n), count[n])
		}
	}
	for n := range acked {
		if count[n] == 0 {
			t.Errorf("%q was acknowledged but is not in the transcript", lineText(n))
		}
	}
	if stored < maxAcked {
		t.Errorf("the transcript ends at line %d; line %d was acknowledged", stored, maxAcked)
	}
	return true
}

func lineText(n int64) string { return "line " + strconv.FormatInt(n, 10) }

// isKilled reports whether a child's Wait error says SIGKILL.
func isKilled(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// agentLinesInTables counts the agent's lines in the store's tables
// (not those the spool alone holds); false when the tables hold no
// conversation of the visitor.
func agentLinesInTables(t *testing.T, ctx context.Context, st *store.Store, visitor string) (int, bool) {
	t.Helper()
	convs, err := st.ConversationsOf(ctx, "webchat", visitor)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) == 0 {
		return 0, false
	}
	tr, err := st.Transcript(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range tr {
		if l.From == "agent" && strings.HasPrefix(l.Text, "line ") {
			n++
		}
	}
	return n, true
}

// waitLinesInTables waits until the store's tables, written by another
// process, hold some of the agent's lines, and returns how many. The
// other process tells nothing: the file is read every few milliseconds.
func waitLinesInTables(t *testing.T, ctx context.Context, st *store.Store, visitor string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, _ := agentLinesInTables(t, ctx, st, visitor); n > 0 {
			return n
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no line of the agent reached the store's tables: %v", ctx.Err())
		}
	}
}

// mustStatus checks that the center at addr serves its status.
func mustStatus(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Queues []json.RawMessage `json:"queues"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || len(body.Queues) == 0 {
		t.Fatalf("status: %s, %d queues, %v", resp.Status, len(body.Queues), err)
	}
}

// serveChild is `ccswitch serve` in a child process (TestServeCrashChild).
type serveChild struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	logs  bytes.Buffer // its stderr, read once it was waited for
	out   []string     // its other lines on stdout (the test's verdict)
	stdin io.Closer
	http  string        // its HTTP address
	sip   string        // its SIP (UDP) address
	read  chan struct{} // closed when its stdout ends
	done  chan struct{} // closed when it was waited for
	err   error         // what Wait said
}

// startServeChild runs serve on the store file path in a child process
// and returns once it listens. The child stops cleanly when its stdin
// closes (stop), and is killed when ctx ends or the test does.
func startServeChild(t *testing.T, ctx context.Context, name, path string) *serveChild {
	t.Helper()
	return startServeChildConfig(t, ctx, name, path, "")
}

// startServeChildConfig is startServeChild on the center file crashConfig
// ("" is examples/im-center.yaml).
func startServeChildConfig(t *testing.T, ctx context.Context, name, path, crashConfig string) *serveChild {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), serveCrashStore+"="+path, serveCrashConfig+"="+crashConfig)
	cmd.WaitDelay = 5 * time.Second
	c := &serveChild{t: t, name: name, cmd: cmd, read: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &c.logs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // an error: it was waited for already
		_ = c.wait()
	})
	addr := make(chan string, 1)
	go func() {
		defer close(c.read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "sip "); ok {
				c.sip = a // before the http line: read once that is
			} else if a, ok := strings.CutPrefix(sc.Text(), "http "); ok {
				select {
				case addr <- a:
				default:
				}
			} else if sc.Text() != "PASS" {
				c.out = append(c.out, sc.Text()) // read once c.read is closed
			}
		}
	}()
	select {
	case c.http = <-addr:
		return c
	case <-c.read:
		t.Fatalf("serve ended before it listened: %v", c.wait())
	case <-ctx.Done():
		t.Fatalf("serve did not listen: %v", ctx.Err())
	}
	return nil
}

// wait waits for the child to end and returns what Wait said.
func (c *serveChild) wait() error {
	select {
	case <-c.done:
	default:
		<-c.read // Wait closes stdout: read it all first
		c.err = c.cmd.Wait()
		close(c.done)
		c.report()
	}
	return c.err
}

// report logs what the child wrote, but for a count of the web chat's
// warnings that it dropped frames for the customer's tab (it cannot keep
// up with an agent sending as fast as this test does).
func (c *serveChild) report() {
	for _, line := range c.out {
		c.t.Logf("%s serve: %s", c.name, line)
	}
	dropped := 0
	for line := range strings.Lines(c.logs.String()) {
		if strings.Contains(line, "dropped") && strings.Contains(line, `"component":"webchat"`) {
			dropped++
			continue
		}
		c.t.Logf("%s serve: %s", c.name, strings.TrimSpace(line))
	}
	if dropped > 0 {
		c.t.Logf("%s serve: %d warnings of frames dropped for the customer's slow tab", c.name, dropped)
	}
}

// stop closes the child's stdin, which makes it close serve and exit.
func (c *serveChild) stop() error {
	if err := c.stdin.Close(); err != nil {
		return err
	}
	return c.wait()
}

// TestServeCrashChild is the serve child of
// TestServeKilledKeepsAcknowledgedChatLines; alone, it skips. It prints
// "http ADDR" once serve listens, and closes serve when its stdin ends.
func TestServeCrashChild(t *testing.T) {
	path := os.Getenv(serveCrashStore)
	if path == "" {
		t.Skip("run by TestServeKilledKeepsAcknowledgedChatLines")
	}
	ctx := context.Background()
	config := os.Getenv(serveCrashConfig)
	if config == "" {
		config = "../../examples/im-center.yaml"
	}
	m := NewMain(io.Discard, os.Stderr)
	if flag := os.Getenv(envFaultFullDisk); flag != "" {
		m.tune = func(c *live.Config) { c.JournalFault = fullDiskFault(flag) }
	}
	args := []string{"serve", "--config", config,
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warn", "--store", path}
	if trunk := os.Getenv(serveCrashTrunk); trunk != "" {
		args = append(args, "--trunk", trunk)
	}
	if err := m.ParseFlags(ctx, args); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("sip %s\n", m.center.Addrs().SIP)
	fmt.Printf("http %s\n", m.center.Addrs().HTTP)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent stops us, or dies
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// restartAndStop starts serve again on the store at path (which replays
// the spool), checks that it answers, and stops it cleanly.
func restartAndStop(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	second := startServeChild(t, ctx, "second", path)
	mustStatus(t, ctx, second.http)
	if err := second.stop(); err != nil {
		t.Fatalf("the second serve: %v", err)
	}
}

// storedTranscript reads the transcript of web chat visitor's one
// conversation from the store file at path (serve has stopped).
func storedTranscript(t *testing.T, ctx context.Context, path, visitor string) []store.TranscriptLine {
	t.Helper()
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs, err := st.ConversationsOf(ctx, "webchat", visitor)
	if err != nil || len(convs) != 1 {
		t.Fatalf("the store holds %d conversations of visitor %s (%v)", len(convs), visitor, err)
	}
	tr, err := st.Transcript(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// envFaultFullDisk names, for TestServeCrashChild, a file whose presence
// makes the journal's writes fail as on a full disk (fullDisk's fallback
// where no tmpfs can be mounted).
const envFaultFullDisk = "CCSWITCH_TEST_FULL_DISK"

// fullDiskFault fails the journal's writes with ENOSPC while flag exists.
func fullDiskFault(flag string) func(string) error {
	return func(string) error {
		if _, err := os.Stat(flag); err == nil {
			return &os.PathError{Op: "write", Path: flag, Err: syscall.ENOSPC}
		}
		return nil
	}
}
