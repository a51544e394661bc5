package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockWriter submits an op that holds w's goroutine (and its transaction)
// until the returned function is called, and waits until it runs: ops
// submitted meanwhile queue up and form the next batch.
func blockWriter(tb testing.TB, w *Writer) (release func()) {
	tb.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	w.Submit(func(*sql.Tx) error {
		close(started)
		<-unblock
		return nil
	}, nil)
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	tb.Cleanup(release)
	return release
}

// results collects done callbacks by index.
type results struct {
	mu   sync.Mutex
	errs map[int]error
	seq  []int // order of calls
}

func newResults() *results { return &results{errs: map[int]error{}} }

func (r *results) done(i int) func(error) {
	return func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, twice := r.errs[i]; twice {
			panic(fmt.Sprintf("done %d called twice", i))
		}
		r.errs[i] = err
		r.seq = append(r.seq, i)
	}
}

func (r *results) get(i int) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.errs[i]
	return err, ok
}

func line(conv string, seq int64) TranscriptLine {
	return TranscriptLine{Conversation: conv, Seq: seq, From: FromCustomer, Text: fmt.Sprintf("line %d", seq)}
}

func seqsOf(tb testing.TB, s *Store, conv string) []int64 {
	tb.Helper()
	lines, err := s.Transcript(context.Background(), conv)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]int64, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.Seq)
	}
	return out
}

func upTo(n int64) []int64 {
	out := make([]int64, 0, n)
	for i := int64(1); i <= n; i++ {
		out = append(out, i)
	}
	return out
}

func TestWriterTranscript(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	w := s.Writer()
	if s.Writer() != w {
		t.Fatal("Store.Writer returns a new Writer each time")
	}
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	release := blockWriter(t, w)
	const n = 500
	r := newResults()
	for i := 1; i <= n; i++ {
		w.SubmitTranscript(line("im-1", int64(i)), r.done(i))
	}
	if _, called := r.get(1); called {
		t.Fatal("done called before the commit")
	}
	release()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.seq) != n || !slices.IsSorted(r.seq) {
		t.Fatalf("%d done calls, in order %v; want %d in submission order", len(r.seq), slices.IsSorted(r.seq), n)
	}
	for i := 1; i <= n; i++ {
		if err, _ := r.get(i); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(n)) {
		t.Fatalf("%d lines stored, want %d in order", len(got), n)
	}
	// The blocking op, then the 500 lines in one transaction.
	if st := w.Stats(); st != (WriterStats{Batches: 2, Ops: n + 1}) {
		t.Errorf("stats %+v, want 2 batches of %d ops", st, n+1)
	}
}

// Ops that fail, in every way, in the middle of a batch: the others'
// writes are kept, the failing ones' are not.
func TestWriterFailingOpKeepsOthers(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := s.Writer()
	insert := func(tx *sql.Tx, seq int64) error {
		_, err := tx.Exec("INSERT INTO transcript (conversation, seq, time, sender, text) VALUES ('im-1', ?, 0, 'bot', 'x')", seq)
		return err
	}
	boom := errors.New("boom")
	release := blockWriter(t, w)
	r := newResults()
	w.SubmitTranscript(line("im-1", 1), r.done(0))
	w.Submit(func(tx *sql.Tx) error { // fails after writing
		if err := insert(tx, 2); err != nil {
			return err
		}
		return boom
	}, r.done(1))
	w.SubmitTranscript(line("im-9", 1), r.done(2)) // bad input
	w.Submit(func(tx *sql.Tx) error {              // panics after writing
		if err := insert(tx, 3); err != nil {
			return err
		}
		panic("op bug")
	}, r.done(3))
	w.SubmitTranscript(line("im-1", 4), r.done(4))
	w.Submit(func(tx *sql.Tx) error { return insert(tx, 1) }, r.done(5)) // constraint
	w.SubmitConversation(Conversation{ID: "im-2", Network: "xmpp", User: "bob@x"}, r.done(6))
	w.Submit(nil, r.done(7))
	if err, ok := r.get(7); !ok || !errors.Is(err, ErrInvalid) {
		t.Errorf("nil op: %v, %v; want ErrInvalid at once", err, ok)
	}
	release()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "boom", "unknown conversation im-9", "op panicked: op bug", "", "UNIQUE constraint failed", ""} {
		err, ok := r.get(i)
		switch {
		case !ok:
			t.Errorf("op %d: done not called", i)
		case want == "" && err != nil:
			t.Errorf("op %d: %v", i, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("op %d: error %v, want %q", i, err, want)
		}
	}
	if err, _ := r.get(1); !errors.Is(err, boom) {
		t.Errorf("op 1: %v does not wrap the op's error", err)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, []int64{1, 4}) {
		t.Errorf("lines %v, want 1 and 4 (2 and 3 rolled back)", got)
	}
	if _, ok, _ := s.Conversation(ctx, "im-2"); !ok {
		t.Error("the conversation after the failures is lost")
	}
	if st := w.Stats(); st != (WriterStats{Batches: 2, Ops: 8, Failed: 4}) {
		t.Errorf("stats %+v, want one batch after the blocker, 4 failed, none retried", st)
	}
}

// An op whose error shows only at COMMIT (a deferred foreign key) makes the
// batch run again op by op: it fails alone.
func TestWriterCommitFails(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := s.Writer()
	release := blockWriter(t, w)
	r := newResults()
	w.SubmitTranscript(line("im-1", 1), r.done(0))
	w.Submit(func(tx *sql.Tx) error {
		if _, err := tx.Exec("PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		_, err := tx.Exec("INSERT INTO transcript (conversation, seq, time, sender, text) VALUES ('ghost', 1, 0, 'bot', 'x')")
		return err
	}, r.done(1))
	w.SubmitTranscript(line("im-1", 2), r.done(2))
	release()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err, ok := r.get(i)
		switch {
		case !ok:
			t.Errorf("op %d: done not called", i)
		case i == 1 && (err == nil || !strings.Contains(err.Error(), "FOREIGN KEY")):
			t.Errorf("op 1: %v, want a foreign key error at commit", err)
		case i != 1 && err != nil:
			t.Errorf("op %d: %v", i, err)
		}
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("lines %v, want 1 and 2", got)
	}
	if n := count(t, s, "transcript"); n != 2 {
		t.Errorf("%d lines, want 2 (the ghost line rolled back)", n)
	}
	if st := w.Stats(); st.Retried != 1 || st.Failed != 1 {
		t.Errorf("stats %+v, want 1 retried batch and 1 failed op", st)
	}
	// The writer goes on.
	done := make(chan error, 1)
	w.SubmitTranscript(line("im-1", 3), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A full queue makes Submit wait: nothing is dropped.
func TestWriterBackPressure(t *testing.T) {
	s := MustOpen(t)
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := NewWriter(s, WriterConfig{Queue: 2, MaxBatch: 1})
	release := blockWriter(t, w)
	r := newResults()
	w.SubmitTranscript(line("im-1", 1), r.done(1))
	w.SubmitTranscript(line("im-1", 2), r.done(2)) // the queue is full
	returned := make(chan struct{})
	go func() {
		w.SubmitTranscript(line("im-1", 3), r.done(3))
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Submit returned with the queue full")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Submit still blocked after the writer went on")
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err, ok := r.get(i); !ok || err != nil {
			t.Errorf("line %d: %v, %v", i, err, ok)
		}
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(3)) {
		t.Errorf("lines %v", got)
	}
	if st := w.Stats(); st.Batches != 4 {
		t.Errorf("%d batches with MaxBatch 1, want 4", st.Batches)
	}
}

func TestWriterFlushTimeout(t *testing.T) {
	s := MustOpen(t)
	w := s.Writer()
	release := blockWriter(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with the writer blocked: %v, want a deadline error", err)
	}
	release()
	if err := w.Flush(context.Background()); err != nil {
		t.Error(err)
	}
}

// Close commits what is queued; afterwards Submit fails at once.
func TestWriterClose(t *testing.T) {
	s := MustOpen(t)
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := NewWriter(s, WriterConfig{})
	const n = 300
	r := newResults()
	for i := 1; i <= n; i++ {
		w.SubmitTranscript(line("im-1", int64(i)), r.done(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.seq) != n {
		t.Fatalf("%d done calls after Close, want %d", len(r.seq), n)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(n)) {
		t.Fatalf("%d lines after Close, want %d", len(got), n)
	}
	var late error
	w.SubmitTranscript(line("im-1", n+1), func(err error) { late = err })
	wantErr(t, late, ErrClosed, "writer")
	if err := w.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Store.Close drains the Writers before closing the database.
func TestStoreCloseDrainsWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	r := newResults()
	const n = 200
	for i := 1; i <= n; i++ {
		s.Writer().SubmitTranscript(line("im-1", int64(i)), r.done(i))
		NewWriter(s, WriterConfig{}).SubmitTranscript(line("im-1", int64(n+i)), r.done(n+i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2*n; i++ {
		if err, ok := r.get(i); !ok || err != nil {
			t.Fatalf("line %d: %v, %v", i, err, ok)
		}
	}
	s2 := MustOpenPath(t, path, Config{})
	if got := seqsOf(t, s2, "im-1"); !slices.Equal(got, upTo(2*n)) {
		t.Fatalf("%d lines after reopening, want %d", len(got), 2*n)
	}
}

// Many goroutines write through one Writer while others use the store
// directly.
func TestWriterConcurrent(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := s.Writer()
	const workers, each = 8, 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				w.SubmitTranscript(TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: fmt.Sprintf("g%d-%d", g, i)},
					func(err error) {
						if err != nil {
							mu.Lock()
							failures = append(failures, err)
							mu.Unlock()
						}
					})
			}
		})
		wg.Go(func() {
			for i := range 10 {
				if err := s.PutDevicePresence(ctx, "xmpp", fmt.Sprintf("u%d@x", g), "pc", Presence{Available: i%2 == 0}); err != nil {
					t.Error(err)
				}
				if _, err := s.Transcript(ctx, "im-1"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(failures) > 0 {
		t.Fatalf("%d failures, first %v", len(failures), failures[0])
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(workers*each)) {
		t.Fatalf("%d lines numbered %v..., want 1..%d", len(got), got[:min(5, len(got))], workers*each)
	}
	st := w.Stats()
	t.Logf("%d ops in %d transactions", st.Ops, st.Batches)
}

// The wrappers for what the IM gateway journals.
func TestWriterJournalOps(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	w := s.Writer()
	r := newResults()
	w.SubmitConversation(Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"}, r.done(0))
	w.SubmitTranscript(TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: "hi"}, r.done(1))
	w.SubmitDeviceClient("xmpp", "ann@x", "pc", Client{Source: "xep-0115", Node: "http://gajim.org"}, r.done(2))
	w.SubmitDeviceClient("xmpp", "ann@x", "pc", Client{Source: "xep-0092", Family: "Gajim"}, r.done(3))
	w.SubmitDevicePresence("xmpp", "ann@x", "pc", Presence{Available: true, Show: "chat"}, r.done(4))
	w.SubmitCallbackRequest(CallbackRequest{Conversation: "im-1", Network: "xmpp", User: "ann@x", Queue: "support"}, r.done(5))
	w.SubmitCallbackRequest(CallbackRequest{Network: "xmpp", User: "ann@x"}, r.done(6)) // no queue
	w.SubmitDevicePresence("xmpp", "ann@x", "pc", Presence{Show: "sleeping"}, r.done(7))
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err, ok := r.get(i); !ok || err != nil {
			t.Errorf("op %d: %v, %v", i, err, ok)
		}
	}
	for i, text := range map[int]string{6: "empty queue", 7: `show "sleeping"`} {
		err, _ := r.get(i)
		wantErr(t, err, ErrInvalid, text)
	}
	ds, _ := s.Devices(ctx, "xmpp", "ann@x")
	if len(ds) != 1 || ds[0].Family != "Gajim" || ds[0].Node != "http://gajim.org" || ds[0].Show != "chat" {
		t.Errorf("devices %+v", ds)
	}
	if cb, _ := s.PendingCallbacks(ctx); len(cb) != 1 || cb[0].Conversation != "im-1" {
		t.Errorf("callbacks %+v", cb)
	}
	if lines, _ := s.Transcript(ctx, "im-1"); len(lines) != 1 {
		t.Errorf("transcript %+v", lines)
	}
}

// An op that ends the whole transaction (as SQLite itself does on some
// errors, disk full or I/O) makes the batch run again op by op: the others
// are kept.
func TestWriterOpEndsTransaction(t *testing.T) {
	s := MustOpen(t)
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := s.Writer()
	release := blockWriter(t, w)
	r := newResults()
	w.SubmitTranscript(line("im-1", 1), r.done(0))
	w.Submit(func(tx *sql.Tx) error {
		_, err := tx.Exec("ROLLBACK")
		return err
	}, r.done(1))
	w.SubmitTranscript(line("im-1", 2), r.done(2))
	release()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err, ok := r.get(i)
		switch {
		case !ok:
			t.Errorf("op %d: done not called", i)
		case i == 1 && err == nil:
			t.Error("op 1 ended the transaction and was told it committed")
		case i != 1 && err != nil:
			t.Errorf("op %d: %v", i, err)
		}
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("lines %v, want 1 and 2", got)
	}
	if st := w.Stats(); st.Retried != 1 {
		t.Errorf("stats %+v, want a retried batch", st)
	}
}

// While another process holds the write lock past the busy timeout, ops
// fail with the lock error (nothing is silently dropped), and the Writer
// recovers once the lock is released.
func TestWriterLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s := MustOpenPath(t, path, Config{BusyTimeout: 50 * time.Millisecond})
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	w := s.Writer()
	errc := make(chan error, 1)
	w.SubmitTranscript(line("im-1", 1), func(err error) { errc <- err })
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "begin") {
		t.Errorf("locked: %v, want a begin error", err)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	w.SubmitTranscript(line("im-1", 1), func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Errorf("after the lock: %v", err)
	}
	if st := w.Stats(); st.Failed != 1 || st.Ops != 2 {
		t.Errorf("stats %+v", st)
	}
}

// With a linger, ops submitted one after another while the writer is idle
// share one transaction: the writer waits for them (here until the batch
// is full, the linger being an hour).
func TestWriterLingerGathersABatch(t *testing.T) {
	s := MustOpen(t)
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := NewWriter(s, WriterConfig{MaxBatch: 10, Linger: time.Hour})
	r := newResults()
	for i := 1; i <= 10; i++ {
		w.SubmitTranscript(line("im-1", int64(i)), r.done(i))
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(10)) {
		t.Fatalf("stored %v", got)
	}
	if st := w.Stats(); st.Batches != 1 || st.Ops != 10 {
		t.Errorf("stats %+v, want the 10 ops in 1 batch", st)
	}
}

// Flush does not wait out the linger.
func TestWriterFlushCutsTheLinger(t *testing.T) {
	s := MustOpen(t)
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	w := NewWriter(s, WriterConfig{Linger: time.Hour})
	r := newResults()
	w.SubmitTranscript(line("im-1", 1), r.done(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err, called := r.get(1); !called || err != nil {
		t.Fatalf("line 1 after Flush: called %v, err %v", called, err)
	}
}
