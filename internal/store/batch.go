package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Batch is an ordered list of journal records (conversations, transcript
// lines, device reports, callback requests) that a Writer writes as one op:
// a busy IM gateway journals thousands of lines a second, and one op for
// all of those gathered while the previous transaction committed costs far
// less than one op each. Records are written in the order they were added
// (a conversation before its lines). A record that fails is reported
// through the batch's error callback and takes no other record down.
type Batch struct {
	recs []batchRecord
}

type batchRecord struct {
	what string
	// line is a transcript line's record (write is nil): consecutive
	// numbered lines are inserted together.
	line  TranscriptLine
	write func(ctx context.Context, tx txn, now time.Time) error
}

// run writes the record on its own.
func (r *batchRecord) run(ctx context.Context, tx txn, now time.Time) error {
	if r.write == nil {
		return appendTranscript(ctx, tx, now, []TranscriptLine{r.line})
	}
	return r.write(ctx, tx, now)
}

// numbered reports whether the record is a numbered transcript line.
func (r *batchRecord) numbered() bool { return r.write == nil && r.line.Seq != 0 }

// Len returns how many records the batch holds.
func (b *Batch) Len() int { return len(b.recs) }

func (b *Batch) add(what string, f func(ctx context.Context, tx txn, now time.Time) error) {
	b.recs = append(b.recs, batchRecord{what: what, write: f})
}

// Conversation adds a PutConversation.
func (b *Batch) Conversation(c Conversation) {
	b.add("conversation "+c.ID, func(ctx context.Context, tx txn, now time.Time) error {
		return putConversation(ctx, tx, now, c)
	})
}

// Line adds a transcript line (AppendTranscript's rules).
func (b *Batch) Line(l TranscriptLine) {
	b.recs = append(b.recs, batchRecord{what: "transcript line", line: l})
}

// DeviceClient adds a PutDeviceClient.
func (b *Batch) DeviceClient(network, user, device string, c Client) {
	b.add("device client", func(ctx context.Context, tx txn, now time.Time) error {
		return putDeviceClient(ctx, tx, now, network, user, device, c)
	})
}

// DevicePresence adds a PutDevicePresence.
func (b *Batch) DevicePresence(network, user, device string, p Presence) {
	b.add("device presence", func(ctx context.Context, tx txn, now time.Time) error {
		return putDevicePresence(ctx, tx, now, network, user, device, p)
	})
}

// Callback adds an AddCallbackRequest.
func (b *Batch) Callback(r CallbackRequest) {
	b.add("callback request", func(ctx context.Context, tx txn, now time.Time) error {
		_, err := addCallbackRequest(ctx, tx, now, r)
		return err
	})
}

// CallbackOnce adds an AddCallbackRequest unless the store holds one
// already for the same conversation, address and number, asked for at the
// same time: replaying a journal must not ask for a callback twice.
func (b *Batch) CallbackOnce(r CallbackRequest) {
	b.add("callback request", func(ctx context.Context, tx txn, now time.Time) error {
		if !r.Requested.IsZero() {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM callback_requests
				WHERE conversation = ? AND network = ? AND im_user = ? AND number = ? AND requested = ? LIMIT 1`,
				strings.TrimSpace(r.Conversation), strings.TrimSpace(r.Network), strings.TrimSpace(r.User),
				strings.TrimSpace(r.Number), r.Requested.UnixNano()).Scan(&one)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: add callback request: %w", err)
			}
		}
		_, err := addCallbackRequest(ctx, tx, now, r)
		return err
	})
}

// Savepoints of a batch: all its records, then one record.
var (
	qBatchSavepoint  = prep("SAVEPOINT batch")
	qBatchRollbackTo = prep("ROLLBACK TO batch")
	qBatchRelease    = prep("RELEASE batch")
	qRecSavepoint    = prep("SAVEPOINT rec")
	qRecRollbackTo   = prep("ROLLBACK TO rec")
	qRecRelease      = prep("RELEASE rec")
)

// SubmitBatch writes b's records, in order, as one op (see RunBatch).
// The caller must not add to b after submitting it.
func (w *Writer) SubmitBatch(b *Batch, failed func(what string, err error), done func(error)) {
	w.Submit(func(tx *sql.Tx) error { return w.RunBatch(tx, b, failed) }, done)
}

// RunBatch writes b's records, in order, inside an op's transaction: all
// at once, or, if one fails, again one by one, each under a savepoint of
// its own, calling failed for each that fails. It returns an error only
// when the transaction itself failed. Call it from an op (Submit).
// In the first pass, consecutive numbered transcript lines go in together:
// each run of one conversation's consecutive numbers is one chunk row.
func (w *Writer) RunBatch(tx *sql.Tx, b *Batch, failed func(what string, err error)) error {
	now := w.s.now()
	ctx := context.Background()
	t := w.s.txn(tx)
	if _, err := t.ExecContext(ctx, qBatchSavepoint); err != nil {
		return err
	}
	ok := true
	for i := 0; ok && i < len(b.recs); {
		r := &b.recs[i]
		if !r.numbered() {
			ok = r.run(ctx, t, now) == nil
			i++
			continue
		}
		j := i + 1
		for j < len(b.recs) && b.recs[j].numbered() {
			j++
		}
		ok = insertLines(ctx, t, now, b.recs[i:j]) == nil
		i = j
	}
	if ok {
		_, err := t.ExecContext(ctx, qBatchRelease)
		return err
	}
	if _, err := t.ExecContext(ctx, qBatchRollbackTo); err != nil {
		return err
	}
	for i := range b.recs {
		r := &b.recs[i]
		if _, err := t.ExecContext(ctx, qRecSavepoint); err != nil {
			return err
		}
		if err := r.run(ctx, t, now); err != nil {
			if failed != nil {
				failed(r.what, err)
			}
			if _, err := t.ExecContext(ctx, qRecRollbackTo); err != nil {
				return fmt.Errorf("store: batch: %w", err)
			}
		}
		if _, err := t.ExecContext(ctx, qRecRelease); err != nil {
			return err
		}
	}
	_, err := t.ExecContext(ctx, qBatchRelease)
	return err
}

// insertLines writes numbered transcript lines (appendTranscript's
// rules): each run of one conversation's consecutive numbers is one chunk.
// Any error only says that a line failed; the caller runs the lines again
// one by one to tell which.
func insertLines(ctx context.Context, tx txn, now time.Time, recs []batchRecord) error {
	lines := make([]numberedLine, len(recs))
	for i := range recs {
		l := recs[i].line
		if err := l.check(); err != nil {
			return err
		}
		lines[i] = numberedLine{TranscriptLine: l, index: i, timed: !l.Time.IsZero()}
		if !lines[i].timed {
			lines[i].Time = now
		}
	}
	return writeLines(ctx, tx, lines, func(int) string { return "store: append transcript" })
}

// LinkDevice adds a LinkDevice.
func (b *Batch) LinkDevice(network, user string, customerID int64, via string) {
	b.add("device link", func(ctx context.Context, tx txn, now time.Time) error {
		return linkDevice(ctx, tx, now, network, user, customerID, via)
	})
}
