package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// WriterConfig tunes a Writer. The zero value is ready to use.
type WriterConfig struct {
	// Queue is how many submitted ops may wait for the writer; Submit
	// blocks while the queue is full (back-pressure: nothing is dropped).
	// Default 4096.
	Queue int
	// MaxBatch caps the ops committed in one transaction. Default 1024.
	MaxBatch int
	// Linger is how long the writer waits, once an op arrived, for more
	// to share its transaction (default 0: it commits what is queued at
	// once). A few milliseconds turn a steady trickle of ops into a few
	// large transactions: far less CPU and fsync per op, for that much
	// more delay before done.
	Linger time.Duration
}

// Writer commits writes for callers that must not wait for the disk: an
// event loop submits an op and goes on, and learns the op's outcome from a
// callback once its transaction has committed. Ops submitted close together
// share one transaction and so one fsync (group commit): while one batch
// commits, the next one gathers.
//
// A Writer never drops an op, and each op's outcome is its own: a failing
// op is rolled back to a savepoint taken just before it, and the batch goes
// on; if the COMMIT itself fails, the batch's ops are run again, each in a
// transaction of its own, so an op whose error shows only at COMMIT takes
// no other op down with it. An op may therefore run more than once (the
// earlier runs rolled back); it must only act through its tx.
type Writer struct {
	s        *Store
	maxBatch int
	linger   time.Duration
	queue    chan request
	quit     chan struct{}
	exited   chan struct{}

	mu     sync.RWMutex // Submit holds it shared while enqueueing
	closed bool

	batches, ops, failed, retried atomic.Uint64
}

// Each op of a batch runs under a savepoint.
var (
	qSavepoint  = prep("SAVEPOINT op")
	qRollbackTo = prep("ROLLBACK TO op")
	qRelease    = prep("RELEASE op")
)

type request struct {
	op   func(tx *sql.Tx) error // nil: a Flush marker
	done func(error)
}

// WriterStats counts what a Writer did.
type WriterStats struct {
	Batches uint64 // transactions committed
	Ops     uint64 // ops completed (committed or failed)
	Failed  uint64 // ops whose done got an error
	Retried uint64 // batches run again op by op after a failed COMMIT
}

// Writer returns the store's Writer, configured by Options.Writer. Store.Close
// drains it.
func (s *Store) Writer() *Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared == nil {
		s.shared = s.newWriter(s.wopts)
	}
	return s.shared
}

// NewWriter starts a Writer of its own on s (most callers share
// s.Writer()). Store.Close drains it too.
func NewWriter(s *Store, opts WriterConfig) *Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newWriter(opts)
}

// newWriter needs s.mu.
func (s *Store) newWriter(opts WriterConfig) *Writer {
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	w := &Writer{
		s:        s,
		linger:   opts.Linger,
		maxBatch: opts.MaxBatch,
		queue:    make(chan request, opts.Queue),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
	if s.closed {
		w.closed = true
		close(w.quit)
		close(w.exited)
		return w
	}
	s.writers = append(s.writers, w)
	go w.loop()
	return w
}

// Submit queues op to run in a write transaction, and calls done (if not
// nil) exactly once: with nil after the transaction holding op's writes has
// committed to disk, or with op's error (its writes rolled back), or with
// the COMMIT's error. done runs on the Writer's goroutine, in submission
// order, and must be quick: post the outcome to your own loop; it must not
// call Submit or Flush. On a closed Writer, done gets ErrClosed at once, on
// the caller's goroutine. Submit blocks while the queue is full.
func (w *Writer) Submit(op func(tx *sql.Tx) error, done func(error)) {
	if op == nil {
		finish(done, fmt.Errorf("store: writer: nil op: %w", ErrInvalid))
		return
	}
	if err := w.enqueue(context.Background(), request{op: op, done: done}); err != nil {
		finish(done, err)
	}
}

func finish(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

func (w *Writer) enqueue(ctx context.Context, r request) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return fmt.Errorf("store: writer: %w", ErrClosed)
	}
	select {
	case w.queue <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: writer: %w", ctx.Err())
	}
}

// SubmitTranscript appends a transcript line through the Writer (see
// Store.AppendTranscript for the rules). A zero line.Time is the time of
// submission.
func (w *Writer) SubmitTranscript(line TranscriptLine, done func(error)) {
	now := w.s.now()
	w.Submit(func(tx *sql.Tx) error {
		return appendTranscript(context.Background(), w.s.txn(tx), now, []TranscriptLine{line})
	}, done)
}

// SubmitConversation puts a conversation through the Writer (see
// Store.PutConversation for the rules). Submit it before its lines.
func (w *Writer) SubmitConversation(c Conversation, done func(error)) {
	now := w.s.now()
	w.Submit(func(tx *sql.Tx) error {
		return putConversation(context.Background(), w.s.txn(tx), now, c)
	}, done)
}

// SubmitDeviceClient merges client information through the Writer (see
// Store.PutDeviceClient).
func (w *Writer) SubmitDeviceClient(network, user, device string, c Client, done func(error)) {
	now := w.s.now()
	w.Submit(func(tx *sql.Tx) error {
		return putDeviceClient(context.Background(), w.s.txn(tx), now, network, user, device, c)
	}, done)
}

// SubmitDevicePresence records a presence through the Writer (see
// Store.PutDevicePresence).
func (w *Writer) SubmitDevicePresence(network, user, device string, p Presence, done func(error)) {
	now := w.s.now()
	w.Submit(func(tx *sql.Tx) error {
		return putDevicePresence(context.Background(), w.s.txn(tx), now, network, user, device, p)
	}, done)
}

// SubmitCallbackRequest records a callback request through the Writer (see
// Store.AddCallbackRequest).
func (w *Writer) SubmitCallbackRequest(r CallbackRequest, done func(error)) {
	now := w.s.now()
	w.Submit(func(tx *sql.Tx) error {
		_, err := addCallbackRequest(context.Background(), w.s.txn(tx), now, r)
		return err
	}, done)
}

// Flush waits until every op submitted before it has completed (its done
// called), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	flushed := make(chan struct{})
	err := w.enqueue(ctx, request{done: func(error) { close(flushed) }})
	switch {
	case errors.Is(err, ErrClosed):
		flushed = w.exited // closing drains the queue
	case err != nil:
		return err
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: writer: flush: %w", ctx.Err())
	}
}

// Close stops accepting ops, commits those queued, and returns when the
// last done has been called. Calling it again does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.quit)
	}
	w.mu.Unlock()
	<-w.exited
	s := w.s
	s.mu.Lock()
	if i := slices.Index(s.writers, w); i >= 0 {
		s.writers = slices.Delete(s.writers, i, i+1)
	}
	s.mu.Unlock()
	return nil
}

// Stats returns the Writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Batches: w.batches.Load(),
		Ops:     w.ops.Load(),
		Failed:  w.failed.Load(),
		Retried: w.retried.Load(),
	}
}

// loop takes what is queued, up to MaxBatch, commits it, and again.
func (w *Writer) loop() {
	defer close(w.exited)
	buf := make([]request, 0, w.maxBatch)
	errs := make([]error, w.maxBatch)
	for {
		select {
		case r := <-w.queue:
			b := w.fill(append(buf[:0], r))
			if w.linger > 0 && len(b) < w.maxBatch && !slices.ContainsFunc(b, isFlush) {
				b = w.gather(b)
			}
			w.commit(b, errs)
		case <-w.quit:
			// Close holds no Submit can enqueue now: drain and stop.
			for {
				b := w.fill(buf[:0])
				if len(b) == 0 {
					return
				}
				w.commit(b, errs)
			}
		}
	}
}

// isFlush tells Flush's marker: nobody waits for it to linger.
func isFlush(r request) bool { return r.op == nil }

// gather waits up to the linger for more ops, up to MaxBatch; it stops
// early when Close was called or Flush waits.
func (w *Writer) gather(b []request) []request {
	t := time.NewTimer(w.linger)
	defer t.Stop()
	for len(b) < w.maxBatch {
		select {
		case r := <-w.queue:
			b = append(b, r)
			if isFlush(r) {
				return w.fill(b)
			}
		case <-t.C:
			return b
		case <-w.quit:
			return w.fill(b)
		}
	}
	return b
}

// fill appends what is queued, without waiting, up to MaxBatch.
func (w *Writer) fill(b []request) []request {
	for len(b) < w.maxBatch {
		select {
		case r := <-w.queue:
			b = append(b, r)
		default:
			return b
		}
	}
	return b
}

// commit runs a batch and reports each op's outcome.
func (w *Writer) commit(batch []request, errs []error) {
	errs = errs[:len(batch)]
	clear(errs)
	if slices.ContainsFunc(batch, func(r request) bool { return r.op != nil }) {
		if !w.together(batch, errs) {
			w.retried.Add(1)
			w.oneByOne(batch, errs)
		}
	}
	for i, r := range batch {
		if r.op != nil {
			w.ops.Add(1)
			if errs[i] != nil {
				w.failed.Add(1)
			}
		}
		finish(r.done, errs[i])
	}
	clear(batch) // let the closures go
}

// together runs the batch in one transaction, each op under a savepoint.
// It reports false when the transaction could not be committed (nothing
// of it is written): the caller then runs the ops one by one.
func (w *Writer) together(batch []request, errs []error) bool {
	ctx := context.Background()
	tx, err := w.s.wdb.BeginTx(ctx, nil)
	if err != nil {
		for i, r := range batch {
			if r.op != nil {
				errs[i] = fmt.Errorf("store: writer: begin: %w", err)
			}
		}
		return true
	}
	ptx := w.s.txn(tx)
	for i, r := range batch {
		if r.op == nil {
			continue
		}
		if _, err := ptx.ExecContext(ctx, qSavepoint); err != nil {
			tx.Rollback()
			return false
		}
		if errs[i] = runOp(r.op, tx); errs[i] != nil {
			if _, err := ptx.ExecContext(ctx, qRollbackTo); err != nil {
				tx.Rollback() // SQLite may have rolled back the whole transaction
				return false
			}
		}
		if _, err := ptx.ExecContext(ctx, qRelease); err != nil {
			tx.Rollback()
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		return false
	}
	w.batches.Add(1)
	return true
}

// oneByOne runs each op of the batch in a transaction of its own.
func (w *Writer) oneByOne(batch []request, errs []error) {
	ctx := context.Background()
	for i, r := range batch {
		if r.op == nil {
			continue
		}
		tx, err := w.s.wdb.BeginTx(ctx, nil)
		if err != nil {
			errs[i] = fmt.Errorf("store: writer: begin: %w", err)
			continue
		}
		if errs[i] = runOp(r.op, tx); errs[i] != nil {
			tx.Rollback()
			continue
		}
		if err := tx.Commit(); err != nil {
			errs[i] = fmt.Errorf("store: writer: commit: %w", err)
			continue
		}
		w.batches.Add(1)
	}
}

// runOp runs op, turning a panic into its error so that one bad op cannot
// stop the Writer and strand the others.
func runOp(op func(tx *sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: writer: op panicked: %v", p)
		}
	}()
	return op(tx)
}
