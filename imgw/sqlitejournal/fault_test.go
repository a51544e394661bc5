package sqlitejournal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/store"
)

// durable waits for j.Durable's answer.
func durable(t *testing.T, j *Journal) error {
	t.Helper()
	done := make(chan error, 1)
	j.Durable(func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Durable did not answer")
		return nil
	}
}

// waitFor waits, up to a deadline, until cond holds: the journal's own
// retries make it so.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A full disk (every spool write, fsync and commit fails with ENOSPC)
// never costs an acknowledged line: while it is full, Durable reports an
// error for every line, Ready says why, and Accepting refuses once
// MaxBacklog records wait; the journal keeps them all and tries again,
// and once the disk takes writes it commits them in order (a
// conversation started during the outage included), the spool takes
// records again and Durable acknowledges. A crash copy taken then holds
// every line ever journaled, each once.
func TestJournalKeepsEverythingThroughAFullDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	ctx := context.Background()
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := st.Writer()
	var full, storeFull atomic.Bool
	j, err := Open(ctx, Config{Store: st, Writer: w, Spool: path + ".spool", Log: zerolog.Nop(),
		MaxBacklog: 40, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond,
		Fault: func(what string) error {
			if full.Load() || (what == "store" && storeFull.Load()) {
				return &fsError{syscall.ENOSPC}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(ctx)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	conv := func(id string) {
		j.Conversation(imgw.ConversationRecord{ID: id, From: imgw.Address{Network: "webchat", User: "v-" + id}, Started: t0})
	}
	seq := map[string]int64{}
	var acked, journaled []string // "conversation/seq"
	line := func(id string) error {
		seq[id]++
		key := fmt.Sprintf("%s/%d", id, seq[id])
		j.Line(imgw.Line{Conversation: id, Seq: seq[id], Time: t0, From: "agent", AgentID: "ann", Text: key})
		journaled = append(journaled, key)
		err := durable(t, j)
		if err == nil {
			acked = append(acked, key)
		}
		return err
	}
	conv("im-1")
	for range 5 {
		if err := line("im-1"); err != nil {
			t.Fatalf("line before the disk is full: %v", err)
		}
	}
	if err := j.Ready(); err != nil {
		t.Fatalf("Ready before the disk is full: %v", err)
	}

	full.Store(true)
	conv("im-2") // started during the outage: its lines need it first
	for i := range 30 {
		id := []string{"im-1", "im-2"}[i%2]
		if err := line(id); err == nil {
			t.Fatalf("%s line %d acknowledged on a full disk", id, seq[id])
		}
	}
	if err := j.Ready(); err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ready on a full disk: %v, want ENOSPC", err)
	}
	for j.Accepting() == nil {
		j.Line(imgw.Line{Conversation: "im-2", Seq: seq["im-2"] + 1, Time: t0, From: "customer", Text: "filler"})
		seq["im-2"]++
		journaled = append(journaled, fmt.Sprintf("im-2/%d", seq["im-2"]))
	}
	if err := j.Accepting(); !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("Accepting with the backlog full: %v", err)
	}

	// The spool's disk has room again, the store's not yet: what waits
	// in memory is still not durable, new lines are not acknowledged.
	storeFull.Store(true)
	full.Store(false)
	waitFor(t, "the spool takes records again", func() bool { return j.spool.Err() == nil })
	for range 4 {
		id := "im-1"
		seq[id]++
		key := fmt.Sprintf("%s/%d", id, seq[id])
		j.Line(imgw.Line{Conversation: id, Seq: seq[id], Time: t0, From: "agent", AgentID: "ann", Text: key})
		journaled = append(journaled, key)
		if err := durable(t, j); err == nil {
			t.Fatalf("%s acknowledged while older lines are in memory only", key)
		}
	}
	if err := j.Ready(); err == nil {
		t.Fatal("Ready while the store cannot commit")
	}

	storeFull.Store(false)
	waitFor(t, "the journal is ready again", func() bool { return j.Ready() == nil })
	if err := j.Accepting(); err != nil {
		t.Fatalf("Accepting after the disk has room: %v", err)
	}
	for i := range 6 {
		if err := line([]string{"im-1", "im-2"}[i%2]); err != nil {
			t.Fatalf("line after the disk has room: %v", err)
		}
	}

	// A crash now: the files as they are, nothing closed.
	crashed := t.TempDir()
	copyTree(t, dir, crashed)
	copyTree(t, path+".spool", filepath.Join(crashed, "cc.db.spool"))
	cpath := filepath.Join(crashed, "cc.db")
	c, err := store.Open(cpath, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cj, err := Open(ctx, Config{Store: c, Writer: c.Writer(), Spool: cpath + ".spool", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cj.Close(ctx)
	have := map[string]int{}
	for _, id := range []string{"im-1", "im-2"} {
		lines, err := c.Transcript(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("%s: line %d has number %d", id, i+1, l.Seq)
			}
			have[fmt.Sprintf("%s/%d", id, l.Seq)]++
		}
	}
	for _, k := range acked {
		if have[k] != 1 {
			t.Errorf("acknowledged line %s is in the transcript %d times", k, have[k])
		}
	}
	for _, k := range journaled {
		if have[k] != 1 {
			t.Errorf("line %s is in the transcript %d times, want once (nothing dropped)", k, have[k])
		}
	}
}

// fsError is an error as the file system gives it.
type fsError struct{ errno syscall.Errno }

func (e *fsError) Error() string { return "write cc.db: " + e.errno.Error() }
func (e *fsError) Unwrap() error { return e.errno }
