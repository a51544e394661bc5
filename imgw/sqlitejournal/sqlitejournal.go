// Package sqlitejournal keeps the IM gateway's records in the embedded
// SQLite store (internal/store), behind a spool: it is the imgw.Journal
// and the imgw.Customers of a live gateway.
package sqlitejournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/store"
)

// Journal keeps the gateway's records in the embedded store. Lookups read
// the store directly (they are indexed and local).
//
// Records are made durable in a spool (store.Spool: an append-only file,
// fsync'ed in groups) and applied to SQLite behind it through the store's
// group-commit Writer, so the gateway's goroutine never waits for a disk.
// Conversations, devices and callback requests are applied at once;
// transcript lines wait, per conversation, until groupLines of them have
// gathered, the conversation ends or the oldest is lineAge old, and go in
// together: a line inserted on its own costs a B-tree page write for its
// conversation in every commit, a busy center's largest cost. What the
// spool holds and SQLite does not yet is applied again at the next open.
//
// Nothing is dropped while the disk cannot take it. Every record stays in
// memory until it is committed to the store's tables. A record the spool
// did not take (or lost in a failed write) is durable only once committed,
// and Durable says so only then; a commit that fails is tried again, with
// a growing back-off, the oldest records first, until it succeeds. The
// spool is tried again too (it opens a new segment by itself). Meanwhile
// Ready reports why the journal is not healthy, and Accepting refuses new
// chat lines once MaxBacklog records wait.
type Journal struct {
	st    *store.Store
	w     *store.Writer
	spool *store.Spool // nil: every record goes to the writer as it comes
	log   zerolog.Logger
	cfg   Config

	stop    chan struct{} // ends keep
	stopped chan struct{}

	mu sync.Mutex
	// pending gathers records until an op of the writer takes it; retry
	// holds, oldest first, what ops took and could not commit. An op
	// takes both, in order, so records reach the store in the order they
	// were journaled.
	pending *batch
	retry   []*batch
	// opQueued: an op is submitted and has not yet taken the backlog.
	opQueued bool
	gen      uint64 // batches started; pending's gen is gen
	// committed: every batch up to this gen is in the store's tables.
	committed uint64
	// mustCommit: batches up to this gen hold records that are durable
	// only once committed (the spool did not take them, or lost them).
	mustCommit uint64
	// lines holds each conversation's spooled transcript lines not yet
	// handed to a batch.
	lines map[string]*lineGroup
	// held counts the records in memory not yet committed.
	held int
	// storeErr is the last commit's error, until one succeeds; retryAt is
	// when the next attempt goes, backoff the wait before it.
	storeErr error
	retryAt  time.Time
	backoff  time.Duration
	// spoolErr is the spool's failure, until it takes a record again.
	spoolErr error
	// waiters wait for their gen to be committed (Durable while records
	// are durable only in the store).
	waiters []waiter
}

// Config configures a Journal.
type Config struct {
	Store  *store.Store
	Writer *store.Writer // usually Store.Writer()
	// Spool is the spool's directory (serve: the store's path + ".spool");
	// "" writes every record to the store as it comes, without a spool.
	Spool string
	Log   zerolog.Logger
	// MaxBacklog bounds the records held in memory that are not in the
	// store's tables yet (default 100,000): from there on, Accepting
	// reports an error and the gateway refuses chat lines.
	MaxBacklog int
	// RetryMin and RetryMax bound the back-off between two attempts to
	// commit what failed (defaults 100 ms and 5 s). RetryMin is also how
	// long the spool waits before trying a new segment.
	RetryMin, RetryMax time.Duration
	// Fault, when set, is asked before every spool write, fsync and new
	// segment (what: "spool") and every commit ("store"); an error fails
	// it as a full disk would. Tests set it.
	Fault func(what string) error
}

func (c *Config) defaults() {
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = 100_000
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(5*time.Second, c.RetryMin)
	}
}

// batch is records an op commits together; n counts them, segs counts
// those in the spool by segment.
type batch struct {
	b    *store.Batch
	segs segCounts
	gen  uint64
	n    int
}

type waiter struct {
	gen  uint64
	done func(error)
}

// lineGroup is a conversation's lines waiting to go to SQLite together.
type lineGroup struct {
	lines []store.TranscriptLine
	segs  segCounts
	first time.Time // when the oldest was journaled
}

// segCounts counts spool records by segment, in segment order.
type segCounts []segCount

type segCount struct {
	seg uint64
	n   int
}

func (c *segCounts) add(seg uint64, n int) {
	if k := len(*c); k > 0 && (*c)[k-1].seg == seg {
		(*c)[k-1].n += n
		return
	}
	*c = append(*c, segCount{seg, n})
}

// Grouping of transcript lines.
const (
	groupLines = 64
	lineAge    = 2 * time.Second
)

// spoolLinger is the least time between two fsyncs of the spool: a busy
// center syncs at most 100 times a second, and an agent's chat line is
// acknowledged at most this much later.
const spoolLinger = 10 * time.Millisecond

// Errors of Durable and Accepting.
var (
	// ErrNotDurable: records are in memory only (the store's last commit
	// failed); they are tried again.
	ErrNotDurable = errors.New("sqlitejournal: not on disk")
	// ErrBacklogFull: MaxBacklog records wait for the store.
	ErrBacklogFull = errors.New("sqlitejournal: too many records wait for the disk")
)

var (
	_ imgw.Journal   = (*Journal)(nil)
	_ imgw.Customers = (*Journal)(nil)
	_ imgw.Accepter  = (*Journal)(nil)
)

// New returns the journal of st, writing through w, without a spool.
func New(st *store.Store, w *store.Writer, log zerolog.Logger) *Journal {
	j, _ := Open(context.Background(), Config{Store: st, Writer: w, Log: log})
	return j
}

// Open returns the journal cfg describes. With a spool, it first applies
// what the spool kept from before (a crash, or records not yet applied at
// the last Close), and returns once that is in the store.
func Open(ctx context.Context, cfg Config) (*Journal, error) {
	cfg.defaults()
	j := &Journal{st: cfg.Store, w: cfg.Writer, log: cfg.Log, cfg: cfg, lines: make(map[string]*lineGroup),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if cfg.Spool != "" {
		opts := store.SpoolConfig{Linger: spoolLinger, RetryAfter: cfg.RetryMin, OnFailure: j.spoolFailed}
		if cfg.Fault != nil {
			opts.Open = func(path string) (store.SpoolFile, error) {
				if err := cfg.Fault("spool"); err != nil {
					return nil, err
				}
				f, err := store.OpenSpoolFile(path)
				if err != nil {
					return nil, err
				}
				return faultyFile{f, cfg.Fault}, nil
			}
		}
		sp, left, err := store.OpenSpool(cfg.Spool, opts)
		if err != nil {
			return nil, err
		}
		j.spool = sp
		if err := j.replay(ctx, left); err != nil {
			_ = sp.Close()
			return nil, err
		}
		if err := sp.ReplayDone(); err != nil {
			_ = sp.Close()
			return nil, err
		}
	}
	go j.keep()
	return j, nil
}

// faultyFile is a spool segment whose writes and syncs ask Config.Fault.
type faultyFile struct {
	store.SpoolFile
	fault func(string) error
}

func (f faultyFile) Write(p []byte) (int, error) {
	if err := f.fault("spool"); err != nil {
		return 0, err
	}
	return f.SpoolFile.Write(p)
}

func (f faultyFile) Sync() error {
	if err := f.fault("spool"); err != nil {
		return err
	}
	return f.SpoolFile.Sync()
}

// replay applies records left in the spool, in order, idempotently: some
// may be in the store already.
func (j *Journal) replay(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	bad := 0
	var failed error
	for len(recs) > 0 {
		n := min(len(recs), 4096)
		b := &store.Batch{}
		for _, raw := range recs[:n] {
			r, err := decodeRecord(raw)
			if err != nil || !r.addTo(b, true) {
				bad++
			}
		}
		j.w.SubmitBatch(b, j.refused, func(err error) {
			if err != nil && failed == nil {
				failed = err
			}
		})
		recs = recs[n:]
	}
	if err := j.w.Flush(ctx); err != nil {
		return fmt.Errorf("sqlitejournal: replay: %w", err)
	}
	if failed != nil { // the spool keeps them: the next start tries again
		return fmt.Errorf("sqlitejournal: replay: %w", failed)
	}
	if bad > 0 {
		j.log.Error().Int("records", bad).Msg("journal replay: unreadable records skipped")
	}
	return nil
}

// record journals r: in the spool if it takes it, and in the pending
// batch.
func (j *Journal) record(r *spoolRecord) {
	j.mu.Lock()
	seg, spooled := j.spooled(r)
	if r.Conversation != nil && !r.Conversation.Ended.IsZero() {
		j.takeLines(r.Conversation.ID) // its lines before its end
	}
	b := j.batch()
	r.addTo(b.b, false)
	b.n++
	j.held++
	if spooled {
		b.segs.add(seg, 1)
	} else {
		j.mustCommit = b.gen
	}
	submit := j.wantOp()
	j.mu.Unlock()
	if submit {
		j.submit()
	}
}

// spooled appends r to the spool; it returns the segment, or false when
// there is no spool or it refused r (r is then durable only once
// committed). A spool that failed is tried again with each record. j.mu
// is held.
func (j *Journal) spooled(r *spoolRecord) (uint64, bool) {
	if j.spool == nil {
		return 0, false
	}
	raw, err := encodeRecord(r)
	if err == nil {
		var seg uint64
		if seg, err = j.spool.Append(raw); err == nil {
			if j.spoolErr != nil {
				j.spoolErr = nil
				j.log.Info().Msg("journal spool writes again")
			}
			return seg, true
		}
	}
	if j.spoolErr == nil {
		j.spoolErr = err
		j.log.Error().Err(err).Msg("journal spool refused a record; records are durable once in the store")
	}
	return 0, false
}

// spoolOK says whether the spool takes records: it failed, and has not
// opened a new segment since. j.mu is held.
func (j *Journal) spoolOK() bool {
	if j.spoolErr != nil && j.spool.Err() == nil {
		j.spoolErr = nil
		j.log.Info().Msg("journal spool writes again")
	}
	return j.spoolErr == nil
}

// spoolFailed is the spool's word that a write or fsync failed: what it
// took since its last sync is lost from it, so everything journaled so
// far is durable only once committed. Runs on the spool's goroutine.
func (j *Journal) spoolFailed(err error) {
	j.mu.Lock()
	if j.spoolErr == nil {
		j.spoolErr = err
		j.log.Error().Err(err).Msg("journal spool failed; records are durable once in the store")
	}
	for id := range j.lines {
		j.takeLines(id)
	}
	if j.pending != nil {
		j.mustCommit = j.pending.gen
	} else {
		j.mustCommit = j.gen
	}
	submit := j.wantOp()
	j.mu.Unlock()
	if submit {
		j.submit()
	}
}

// batch returns the pending batch, starting one; j.mu is held.
func (j *Journal) batch() *batch {
	if j.pending == nil {
		j.gen++
		j.pending = &batch{b: &store.Batch{}, gen: j.gen}
	}
	return j.pending
}

// wantOp says whether an op must be submitted now (and marks it queued):
// there is a backlog, none is queued, and the store is not failing or its
// back-off is over. j.mu is held; the caller submits after unlocking.
func (j *Journal) wantOp() bool {
	if j.opQueued || (j.pending == nil && len(j.retry) == 0) {
		return false
	}
	if j.storeErr != nil && time.Now().Before(j.retryAt) {
		return false
	}
	j.opQueued = true
	return true
}

// submit gives the writer an op that takes the whole backlog, in order,
// when it runs.
func (j *Journal) submit() {
	var taken []*batch
	j.w.Submit(func(tx *sql.Tx) error {
		if taken == nil { // a rerun (after a failed COMMIT) keeps what the first run took
			j.mu.Lock()
			taken = j.retry
			j.retry = nil
			if j.pending != nil {
				taken = append(taken, j.pending)
				j.pending = nil
			}
			j.opQueued = false
			j.mu.Unlock()
			if taken == nil {
				taken = []*batch{}
			}
		}
		if j.cfg.Fault != nil {
			if err := j.cfg.Fault("store"); err != nil {
				return err
			}
		}
		var transient error
		refused := func(what string, err error) {
			if store.Transient(err) {
				transient = err // not the record's fault: roll back, try again
				return
			}
			j.refused(what, err)
		}
		for _, b := range taken {
			if err := j.w.RunBatch(tx, b.b, refused); err != nil {
				return err
			}
			if transient != nil {
				return transient
			}
		}
		return nil
	}, func(err error) { j.finished(taken, err) })
}

// finished takes an op's outcome; it runs on the writer's goroutine.
func (j *Journal) finished(taken []*batch, err error) {
	j.mu.Lock()
	if err != nil {
		j.retry = append(taken, j.retry...)
		first := j.storeErr == nil
		j.storeErr = err
		if first {
			j.backoff = j.cfg.RetryMin
		} else {
			j.backoff = min(2*j.backoff, j.cfg.RetryMax)
		}
		j.retryAt = time.Now().Add(j.backoff)
		ws := j.waiters
		j.waiters = nil
		j.mu.Unlock()
		if first {
			j.log.Error().Err(err).Msg("journal write failed; kept in memory and tried again")
		}
		for _, w := range ws {
			w.done(fmt.Errorf("%w: %w", ErrNotDurable, err))
		}
		return
	}
	n := 0
	for _, b := range taken {
		j.committed = max(j.committed, b.gen)
		n += b.n
	}
	j.held -= n
	if j.storeErr != nil {
		j.log.Info().Msg("journal writes again")
	}
	j.storeErr, j.backoff = nil, 0
	var ready []waiter
	keep := j.waiters[:0]
	for _, w := range j.waiters {
		if w.gen <= j.committed {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	j.waiters = keep
	j.mu.Unlock()
	for _, w := range ready {
		w.done(nil)
	}
	if j.spool != nil {
		for _, b := range taken {
			for _, c := range b.segs {
				j.spool.Applied(c.seg, c.n)
			}
		}
	}
}

// takeLines moves conversation id's waiting lines to the pending batch;
// j.mu is held.
func (j *Journal) takeLines(id string) {
	g := j.lines[id]
	if g == nil {
		return
	}
	delete(j.lines, id)
	b := j.batch()
	for _, l := range g.lines {
		b.b.Line(l)
	}
	b.n += len(g.lines)
	j.held += len(g.lines)
	for _, c := range g.segs {
		b.segs.add(c.seg, c.n)
	}
}

// keep hands lines that waited lineAge to the writer and tries failed
// commits again once their back-off is over, until Close.
func (j *Journal) keep() {
	defer close(j.stopped)
	t := time.NewTicker(min(lineAge/4, j.cfg.RetryMin))
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case now := <-t.C:
			j.mu.Lock()
			for id, g := range j.lines {
				if now.Sub(g.first) >= lineAge {
					j.takeLines(id)
				}
			}
			submit := j.wantOp()
			j.mu.Unlock()
			if submit {
				j.submit()
			}
		}
	}
}

// FlushLines hands every waiting transcript line to the writer (Flush the
// writer to see them in the store).
func (j *Journal) FlushLines() {
	j.mu.Lock()
	for id := range j.lines {
		j.takeLines(id)
	}
	submit := j.wantOp()
	j.mu.Unlock()
	if submit {
		j.submit()
	}
}

// Durable calls done once every record journaled so far is durable: in
// the spool and fsynced, or committed to the store's tables. While some
// are in memory only and the store's last commit failed, done gets an
// error at once (ErrNotDurable); they are kept and tried again, and a
// later Durable succeeds once they are in. done may run on another
// goroutine and must not block.
func (j *Journal) Durable(done func(error)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.mustCommit <= j.committed && j.spool != nil && j.spoolOK():
		// Under j.mu: a spool failure (spoolFailed) cannot slip between
		// the check and the sync.
		j.spool.Sync(done)
	case j.mustCommit <= j.committed: // no spool: every record counts in mustCommit
		done(nil)
	case j.storeErr != nil:
		done(fmt.Errorf("%w: %w", ErrNotDurable, j.storeErr))
	default:
		j.waiters = append(j.waiters, waiter{j.mustCommit, done})
	}
}

// Ready says whether the journal writes: nil, or why not (the spool or
// the store cannot write; records wait in memory).
func (j *Journal) Ready() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.storeErr != nil:
		return fmt.Errorf("sqlitejournal: %d records wait for the store: %w", j.held, j.storeErr)
	case j.spool != nil && !j.spoolOK():
		return fmt.Errorf("sqlitejournal: spool: %w", j.spoolErr)
	case j.held >= j.cfg.MaxBacklog:
		return ErrBacklogFull
	}
	return nil
}

// Accepting implements imgw.Accepter: an error once MaxBacklog records
// wait for the store.
func (j *Journal) Accepting() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.held >= j.cfg.MaxBacklog {
		return fmt.Errorf("%w (%d)", ErrBacklogFull, j.held)
	}
	return nil
}

// Close hands the waiting lines to the writer, flushes it, and closes the
// spool: what is in the store is no longer replayed. What the store could
// not take stays in the spool, if it has it (the error says so). The
// writer and the store stay open.
func (j *Journal) Close(ctx context.Context) error {
	close(j.stop)
	<-j.stopped
	j.mu.Lock()
	for id := range j.lines {
		j.takeLines(id)
	}
	j.storeErr = nil // one last attempt, now
	submit := j.wantOp()
	j.mu.Unlock()
	if submit {
		j.submit()
	}
	err := j.w.Flush(ctx)
	j.mu.Lock()
	if err == nil && j.held > 0 {
		err = fmt.Errorf("sqlitejournal: close: %d records not in the store: %w", j.held, j.storeErr)
	}
	j.mu.Unlock()
	if j.spool != nil {
		if cerr := j.spool.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// refused logs a record the store refused (bad input: it is not tried
// again).
func (j *Journal) refused(what string, err error) {
	j.log.Error().Err(err).Str("record", what).Msg("journal record refused")
}

// Conversation implements Journal.
func (j *Journal) Conversation(r imgw.ConversationRecord) {
	j.record(&spoolRecord{Conversation: &store.Conversation{
		ID: r.ID, Network: r.From.Network, User: r.From.User, CustomerID: r.CustomerID,
		Queue: r.Queue, Reason: r.Reason, Language: r.Language, Started: r.Started, Ended: r.Ended, Outcome: r.Outcome,
	}})
}

// Line implements Journal.
func (j *Journal) Line(l imgw.Line) {
	tl := store.TranscriptLine{Conversation: l.Conversation, Seq: l.Seq, Time: l.Time, From: l.From, AgentID: l.AgentID, Text: l.Text}
	r := &spoolRecord{Line: &tl}
	j.mu.Lock()
	seg, ok := j.spooled(r)
	if !ok {
		j.mu.Unlock()
		j.record(r)
		return
	}
	g := j.lines[tl.Conversation]
	if g == nil {
		g = &lineGroup{first: time.Now()}
		j.lines[tl.Conversation] = g
	}
	g.lines = append(g.lines, tl)
	g.segs.add(seg, 1)
	if len(g.lines) >= groupLines {
		j.takeLines(tl.Conversation)
	}
	submit := j.wantOp()
	j.mu.Unlock()
	if submit {
		j.submit()
	}
}

// Device implements Journal.
func (j *Journal) Device(from imgw.Address, client *imgw.ClientInfo, presence *imgw.PresenceInfo) {
	d := &deviceRecordJSON{Network: from.Network, User: from.User, Device: from.Device}
	if client != nil {
		c := store.Client(*client)
		d.Client = &c
	}
	if presence != nil {
		p := store.Presence(*presence)
		d.Presence = &p
	}
	j.record(&spoolRecord{Device: d})
}

// Callback implements Journal.
func (j *Journal) Callback(r imgw.CallbackRequest) {
	j.record(&spoolRecord{Callback: &store.CallbackRequest{
		Conversation: r.Conversation, Network: r.From.Network, User: r.From.User, CustomerID: r.CustomerID,
		Queue: r.Queue, Number: r.Number, Requested: r.Requested,
	}})
}

// Link implements Journal.
func (j *Journal) Link(from imgw.Address, customer int64) {
	j.record(&spoolRecord{Link: &linkRecordJSON{Network: from.Network, User: from.User, Customer: customer}})
}

// Route implements Journal.
func (j *Journal) Route(r imgw.RouteRecord) {
	if r.Phase == imgw.RouteEnded {
		j.record(&spoolRecord{RouteEnd: r.Conversation})
		return
	}
	j.record(&spoolRecord{Route: &store.Route{
		Conversation: r.Conversation, Phase: r.Phase, Queue: r.Queue, Priority: r.Priority, Enqueued: r.Enqueued,
		Agent: r.Agent, CustomerID: r.CustomerID, Network: r.From.Network, User: r.From.User, Device: r.From.Device,
		ClientFamily: r.ClientFamily, ClientVersion: r.ClientVersion, Language: r.Language, Reason: r.Reason,
	}})
}
