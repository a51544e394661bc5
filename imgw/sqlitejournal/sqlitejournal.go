package sqlitejournal

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/store"
)

// Journal keeps the gateway's records in the embedded store: it is
// the Customers and the Journal of a live gateway. Lookups read the store
// directly (they are indexed and local).
//
// Records are made durable in a spool (store.Spool: an append-only file,
// fsync'ed in groups) and applied to SQLite behind it through the store's
// group-commit Writer, so the gateway's goroutine never waits for a disk.
// Conversations, devices and callback requests are applied at once;
// transcript lines wait, per conversation, until groupLines of them have
// gathered, the conversation ends or the oldest is lineAge old, and go in
// together: a line inserted on its own costs a B-tree page write for its
// conversation in every commit, a busy center's largest cost. What the
// spool holds and SQLite does not yet is applied again at the next open
// (OpenJournal). Without a spool, every record goes to the Writer as
// it comes.
type Journal struct {
	st    *store.Store
	w     *store.Writer
	spool *store.Spool
	log   zerolog.Logger
	// spoolFailed: the spool refused a record; from then on records go to
	// the writer alone.
	spoolFailed atomic.Bool
	stop        chan struct{} // ends ageLines
	stopped     chan struct{}

	mu sync.Mutex
	// pending gathers records until the writer takes them: one writer
	// op for everything journaled while the previous one waited; segs
	// counts the spool records in it, by segment.
	pending *store.Batch
	segs    segCounts
	// lines holds each conversation's transcript lines not yet handed to
	// the writer.
	lines map[string]*lineGroup
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

// lookupTimeout bounds a bot lookup.
const lookupTimeout = 2 * time.Second

// NewJournal returns the journal of st, writing through w, without
// a spool.
func New(st *store.Store, w *store.Writer, log zerolog.Logger) *Journal {
	return &Journal{st: st, w: w, log: log}
}

// OpenJournal returns the journal of st, writing through w behind
// the spool in directory spoolDir. It first applies what the spool kept
// from before (a crash, or records not yet applied at the last Close),
// and returns once that is in the store.
func Open(ctx context.Context, st *store.Store, w *store.Writer, spoolDir string, log zerolog.Logger) (*Journal, error) {
	sp, left, err := store.OpenSpool(spoolDir, store.SpoolOptions{Linger: spoolLinger})
	if err != nil {
		return nil, err
	}
	j := &Journal{st: st, w: w, spool: sp, log: log, lines: make(map[string]*lineGroup),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := j.replay(ctx, left); err != nil {
		_ = sp.Close()
		return nil, err
	}
	if err := sp.ReplayDone(); err != nil {
		_ = sp.Close()
		return nil, err
	}
	go j.ageLines()
	return j, nil
}

// replay applies records left in the spool, in order, idempotently: some
// may be in the store already.
func (j *Journal) replay(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	bad := 0
	for len(recs) > 0 {
		n := min(len(recs), 4096)
		b := &store.Batch{}
		for _, raw := range recs[:n] {
			r, err := decodeRecord(raw)
			if err != nil || !r.addTo(b, true) {
				bad++
			}
		}
		j.w.SubmitBatch(b, j.failed, j.done)
		recs = recs[n:]
	}
	if err := j.w.Flush(ctx); err != nil {
		return fmt.Errorf("sqlitejournal replay: %w", err)
	}
	if bad > 0 {
		j.log.Error().Int("records", bad).Msg("journal replay: unreadable records skipped")
	}
	return nil
}

// spoolRecord is a journal record as the spool keeps it.
type spoolRecord struct {
	Conversation *store.Conversation    `json:"c,omitempty"`
	Line         *store.TranscriptLine  `json:"l,omitempty"`
	Device       *deviceRecordJSON      `json:"d,omitempty"`
	Callback     *store.CallbackRequest `json:"b,omitempty"`
	Link         *linkRecordJSON        `json:"k,omitempty"`
	Route        *store.Route           `json:"r,omitempty"`
	RouteEnd     string                 `json:"re,omitempty"`
}

type linkRecordJSON struct {
	Network, User string
	Customer      int64
}

type deviceRecordJSON struct {
	Network, User, Device string
	Client                *store.Client   `json:",omitempty"`
	Presence              *store.Presence `json:",omitempty"`
}

// addTo adds the record to b; once makes a callback request idempotent
// (a replay).
func (r *spoolRecord) addTo(b *store.Batch, once bool) bool {
	switch {
	case r.Conversation != nil:
		b.Conversation(*r.Conversation)
	case r.Line != nil:
		b.Line(*r.Line)
	case r.Device != nil:
		d := r.Device
		if d.Client != nil {
			b.DeviceClient(d.Network, d.User, d.Device, *d.Client)
		}
		if d.Presence != nil {
			b.DevicePresence(d.Network, d.User, d.Device, *d.Presence)
		}
	case r.Link != nil:
		b.LinkDevice(r.Link.Network, r.Link.User, r.Link.Customer, store.LinkVerified)
	case r.Route != nil:
		b.Route(*r.Route)
	case r.RouteEnd != "":
		b.RouteEnded(r.RouteEnd)
	case r.Callback != nil && once:
		b.CallbackOnce(*r.Callback)
	case r.Callback != nil:
		b.Callback(*r.Callback)
	default:
		return false
	}
	return true
}

// A spool record is JSON (a spoolRecord), except a transcript line, the
// record of every relayed message, which is binary: lineTag, then the
// number, the time (Unix ns) and the lengths of the four strings as
// varints, then the conversation, sender, agent id and text.
const lineTag = 'L'

func appendLineRecord(b []byte, l *store.TranscriptLine) []byte {
	b = append(b, lineTag)
	b = binary.AppendVarint(b, l.Seq)
	b = binary.AppendVarint(b, l.Time.UnixNano())
	for _, f := range [...]string{l.Conversation, l.From, l.AgentID, l.Text} {
		b = binary.AppendUvarint(b, uint64(len(f)))
	}
	return append(append(append(append(b, l.Conversation...), l.From...), l.AgentID...), l.Text...)
}

var errBadLineRecord = errors.New("sqlitejournal: a damaged line record")

func decodeLineRecord(b []byte) (store.TranscriptLine, error) {
	if len(b) == 0 || b[0] != lineTag {
		return store.TranscriptLine{}, errBadLineRecord
	}
	b = b[1:]
	var nums [2]int64
	for i := range nums {
		v, n := binary.Varint(b)
		if n <= 0 {
			return store.TranscriptLine{}, errBadLineRecord
		}
		nums[i], b = v, b[n:]
	}
	var lens [4]uint64
	total := uint64(0)
	for i := range lens {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)) {
			return store.TranscriptLine{}, errBadLineRecord
		}
		lens[i], b = v, b[n:]
		total += v
	}
	if total != uint64(len(b)) {
		return store.TranscriptLine{}, errBadLineRecord
	}
	var f [4]string
	for i, n := range lens {
		f[i], b = string(b[:n]), b[n:]
	}
	return store.TranscriptLine{Conversation: f[0], Seq: nums[0], Time: time.Unix(0, nums[1]).UTC(), From: f[1], AgentID: f[2], Text: f[3]}, nil
}

// decodeRecord reads a spool record.
func decodeRecord(raw []byte) (spoolRecord, error) {
	if len(raw) > 0 && raw[0] == lineTag {
		l, err := decodeLineRecord(raw)
		return spoolRecord{Line: &l}, err
	}
	var r spoolRecord
	err := json.Unmarshal(raw, &r)
	return r, err
}

// spooled appends r to the spool; it returns the segment, or false when
// there is no spool or it has failed (the record then goes to the writer
// alone, as without a spool; a spool that failed once is not tried again
// until the next start).
func (j *Journal) spooled(r *spoolRecord) (uint64, bool) {
	if j.spool == nil || j.spoolFailed.Load() {
		return 0, false
	}
	var (
		raw []byte
		err error
	)
	if r.Line != nil {
		raw = appendLineRecord(make([]byte, 0, 64+len(r.Line.Text)), r.Line)
	} else {
		raw, err = json.Marshal(r)
	}
	if err == nil {
		var seg uint64
		if seg, err = j.spool.Append(raw); err == nil {
			return seg, true
		}
	}
	if first := j.spoolFailed.CompareAndSwap(false, true); first {
		j.log.Error().Err(err).Msg("journal spool failed; records go to the store directly")
	}
	return 0, false
}

// FindCustomer implements Customers.
func (j *Journal) FindCustomer(key string) (imgw.Customer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, ok, err := j.st.FindCustomer(ctx, key)
	switch {
	case errors.Is(err, store.ErrAmbiguous):
		return imgw.Customer{}, imgw.ErrAmbiguous
	case errors.Is(err, store.ErrInvalid):
		return imgw.Customer{}, imgw.ErrNotFound
	case err != nil:
		j.log.Error().Err(err).Msg("customer lookup failed")
		return imgw.Customer{}, imgw.ErrNotFound
	case !ok:
		return imgw.Customer{}, imgw.ErrNotFound
	}
	return customerOf(c), nil
}

func customerOf(c store.Customer) imgw.Customer {
	return imgw.Customer{ID: c.ID, Number: c.Number, Name: c.Name, Email: c.Email, Language: c.Language, Postcode: c.Postcode}
}

// LinkedCustomer implements Customers.
func (j *Journal) LinkedCustomer(from imgw.Address) (imgw.Customer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, ok, err := j.st.LinkedCustomer(ctx, from.Network, from.User)
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalid):
		j.log.Error().Err(err).Msg("linked customer lookup failed")
		return imgw.Customer{}, imgw.ErrNotFound
	case err != nil || !ok:
		return imgw.Customer{}, imgw.ErrNotFound
	}
	return customerOf(c), nil
}

// OrderStatus implements Customers. imgw.Customer 0 is nobody: it reads
// nothing and finds nothing.
func (j *Journal) OrderStatus(id string, customer int64) (string, error) {
	if customer <= 0 {
		return "", imgw.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	o, ok, err := j.st.Order(ctx, id)
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalid):
		j.log.Error().Err(err).Msg("order lookup failed")
		return "", imgw.ErrNotFound
	case err != nil || !ok || o.CustomerID != customer:
		return "", imgw.ErrNotFound
	}
	return o.Status, nil
}

// record adds a record to the pending batch (with its spool segment, when
// spooled); the first record of a batch submits it, and the writer takes
// whatever the batch holds by the time it runs.
func (j *Journal) record(r *spoolRecord) {
	seg, ok := j.spooled(r)
	j.apply(r, seg, ok)
}

// apply adds r to the pending batch; spooled says whether r is in the
// spool, in segment seg.
func (j *Journal) apply(r *spoolRecord, seg uint64, spooled bool) {
	j.mu.Lock()
	if r.Conversation != nil && !r.Conversation.Ended.IsZero() {
		j.takeLines(r.Conversation.ID) // its lines before its end
	}
	r.addTo(j.batch(), false)
	if spooled {
		j.segs.add(seg, 1)
	}
	j.mu.Unlock()
}

// batch returns the pending batch, submitting a new one to the writer;
// j.mu is held.
func (j *Journal) batch() *store.Batch {
	if j.pending != nil {
		return j.pending
	}
	j.pending = &store.Batch{}
	var (
		b    *store.Batch
		segs segCounts
	)
	j.w.Submit(func(tx *sql.Tx) error {
		if b == nil { // the first run takes the batch; a rerun (after a failed COMMIT) keeps it
			j.mu.Lock()
			b, j.pending = j.pending, nil
			segs, j.segs = j.segs, nil
			j.mu.Unlock()
		}
		return j.w.RunBatch(tx, b, j.failed)
	}, func(err error) {
		j.done(err)
		if err == nil && j.spool != nil {
			for _, c := range segs {
				j.spool.Applied(c.seg, c.n)
			}
		}
	})
	return j.pending
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
		b.Line(l)
	}
	for _, c := range g.segs {
		j.segs.add(c.seg, c.n)
	}
}

// ageLines hands lines that waited lineAge to the writer, until Close.
func (j *Journal) ageLines() {
	defer close(j.stopped)
	t := time.NewTicker(lineAge / 4)
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
			j.mu.Unlock()
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
	j.mu.Unlock()
}

// Durable calls done once every record journaled so far is durable: in
// the spool, or committed to the store when there is none. done runs on
// another goroutine and must not block.
func (j *Journal) Durable(done func(error)) {
	if j.spool != nil && !j.spoolFailed.Load() {
		j.spool.Sync(done)
		return
	}
	j.w.Submit(func(*sql.Tx) error { return nil }, done)
}

// Close hands the waiting lines to the writer, flushes it, and closes the
// spool: what is in the store is no longer replayed. The writer and the
// store stay open.
func (j *Journal) Close(ctx context.Context) error {
	if j.spool == nil {
		return j.w.Flush(ctx)
	}
	close(j.stop)
	<-j.stopped
	j.FlushLines()
	err := j.w.Flush(ctx)
	if cerr := j.spool.Close(); err == nil {
		err = cerr
	}
	return err
}

func (j *Journal) failed(what string, err error) {
	j.log.Error().Err(err).Str("record", what).Msg("journal record refused")
}

func (j *Journal) done(err error) {
	if err != nil {
		j.log.Error().Err(err).Msg("journal write failed")
	}
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
	seg, ok := j.spooled(r)
	if !ok {
		j.apply(r, 0, false)
		return
	}
	j.mu.Lock()
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
	j.mu.Unlock()
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

// Restorable returns the conversations a restart puts back
// (Gateway.Restore): those with a route and no end, in the order they
// queued, with their customers and transcripts. Call it after
// OpenJournal, which applied what the spool kept.
func (j *Journal) Restorable(ctx context.Context) ([]imgw.Restored, error) {
	routes, err := j.st.Routes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]imgw.Restored, 0, len(routes))
	for _, r := range routes {
		x := imgw.Restored{Route: imgw.RouteRecord{
			Conversation: r.Conversation, Phase: r.Phase, Queue: r.Queue, Priority: r.Priority, Enqueued: r.Enqueued,
			Agent: r.Agent, CustomerID: r.CustomerID, From: imgw.Address{Network: r.Network, User: r.User, Device: r.Device},
			ClientFamily: r.ClientFamily, ClientVersion: r.ClientVersion, Language: r.Language, Reason: r.Reason,
		}}
		if conv, ok, err := j.st.Conversation(ctx, r.Conversation); err == nil && ok {
			x.Started = conv.Started
		}
		if r.CustomerID != 0 {
			if cu, ok, err := j.st.Customer(ctx, r.CustomerID); err == nil && ok {
				c := customerOf(cu)
				x.Customer = &c
			}
		}
		lines, err := j.st.Transcript(ctx, r.Conversation)
		if err != nil {
			return nil, err
		}
		x.Lines = make([]imgw.Line, len(lines))
		for i, l := range lines {
			x.Lines[i] = imgw.Line{Conversation: l.Conversation, Seq: l.Seq, Time: l.Time, From: l.From, AgentID: l.AgentID, Text: l.Text}
		}
		out = append(out, x)
	}
	return out, nil
}
