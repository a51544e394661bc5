package store

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// copyFile copies src to dst; a missing src is no file.
func copyFile(tb testing.TB, src, dst string) int64 {
	tb.Helper()
	in, err := os.Open(src)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := io.Copy(out, in)
	if err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// snapshot copies the database file and its WAL as a crash would leave
// them: the store stays open, nothing is flushed or closed first (the
// shared-memory index is not copied: SQLite rebuilds it from the WAL).
func snapshot(tb testing.TB, path, dst string) (walBytes int64) {
	tb.Helper()
	copyFile(tb, path, dst)
	return copyFile(tb, path+"-wal", dst+"-wal")
}

// Every line the Writer acknowledged is in a copy of the files taken
// while the store is still open.
func TestCrashCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s := MustOpenPath(t, path, Config{})
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := s.Writer()
	const n = 2000
	var wg sync.WaitGroup
	var acked atomic.Int64
	wg.Add(n)
	for i := 1; i <= n; i++ {
		w.SubmitTranscript(line("im-1", int64(i)), func(err error) {
			if err != nil {
				t.Error(err)
			} else {
				acked.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait() // every done called; no Flush, no Close
	copyPath := filepath.Join(dir, "crashed.db")
	wal := snapshot(t, path, copyPath)
	if wal == 0 {
		t.Fatal("no WAL to copy: the test would prove nothing")
	}
	t.Logf("%d lines acknowledged; copied a WAL of %d bytes", acked.Load(), wal)

	c := MustOpenPath(t, copyPath, Config{})
	if got := seqsOf(t, c, "im-1"); !slices.Equal(got, upTo(acked.Load())) {
		t.Fatalf("the copy holds %d lines, %d were acknowledged", len(got), acked.Load())
	}
}

// The same while the Writer keeps writing: with checkpoints off, the
// database file does not change and the WAL only grows, so a copy taken
// after some acknowledgements holds at least those lines (SQLite ignores
// a torn frame at the end of the WAL).
func TestCrashCopyDuringWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s := MustOpenPath(t, path, Config{})
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	if _, err := s.wdb.Exec("PRAGMA wal_autocheckpoint = 0"); err != nil { // the writer's only connection
		t.Fatal(err)
	}
	w := s.Writer()
	var acked atomic.Int64 // done calls come in order: lines 1..acked are acknowledged
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w.SubmitTranscript(line("im-1", i), func(err error) {
				if err == nil {
					acked.Store(i)
				}
			})
		}
	}()
	for acked.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	before := acked.Load()
	copyPath := filepath.Join(dir, "crashed.db")
	wal := snapshot(t, path, copyPath)
	close(stop)
	<-fed
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("copied a WAL of %d bytes after %d acknowledgements (%d by the end)", wal, before, acked.Load())

	c := MustOpenPath(t, copyPath, Config{})
	got := seqsOf(t, c, "im-1")
	if int64(len(got)) < before || !slices.Equal(got, upTo(int64(len(got)))) {
		t.Fatalf("the copy holds %d lines (1..n: %v), %d were acknowledged before it", len(got), slices.Equal(got, upTo(int64(len(got)))), before)
	}
}

// A real crash: a child process writes through the Writer and reports
// each acknowledgement on stdout; it is killed (SIGKILL, no Close, no
// deferred code) mid-stream. Every line it reported is in the file.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "killed.db")
	last := killAfterAcks(t, "TestCrashChild", "STORE_CRASH_DB="+path, 1)
	s := MustOpenPath(t, path, Config{})
	got := seqsOf(t, s, "im-1")
	t.Logf("killed after %d acknowledgements; the file holds %d lines", last, len(got))
	if int64(len(got)) < last || !slices.Equal(got[:last], upTo(last)) {
		t.Fatalf("the file holds %d lines, %d were acknowledged", len(got), last)
	}
}

// TestCrashChild is the child of TestCrashKill; alone, it skips.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("STORE_CRASH_DB")
	if path == "" {
		t.Skip("run by TestCrashKill")
	}
	s, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutConversation(context.Background(), Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"}); err != nil {
		t.Fatal(err)
	}
	w := s.Writer()
	for i := int64(1); ; i++ {
		w.SubmitTranscript(line("im-1", i), func(err error) {
			if err != nil {
				os.Stdout.WriteString("error " + err.Error() + "\n")
				return
			}
			os.Stdout.WriteString("ack " + strconv.FormatInt(i, 10) + "\n")
		})
	}
}

// killAfterAcks runs test child (of this binary) with env added, reads the
// "ack N" lines it prints (N rising by step: each ack covers the step
// before), kills it with SIGKILL once N reaches 3000, reads on to the end
// (what it acknowledged before dying counts) and returns the last N.
func killAfterAcks(t *testing.T, child, env string, step int64) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last int64
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		seq, err := strconv.ParseInt(n, 10, 64)
		if err != nil || seq != last+step {
			t.Fatalf("child said %q after ack %d", sc.Text(), last)
		}
		last = seq
		if last >= 3000 && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true // read on: what it wrote before dying was acknowledged
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("%s stopped by itself after %d acknowledgements", child, last)
	}
	return last
}
