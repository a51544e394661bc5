package store

import (
	"context"
	"database/sql"
	"fmt"
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
	what  string
	write func(ctx context.Context, tx txn, now time.Time) error
}

// Len returns how many records the batch holds.
func (b *Batch) Len() int { return len(b.recs) }

func (b *Batch) add(what string, f func(ctx context.Context, tx txn, now time.Time) error) {
	b.recs = append(b.recs, batchRecord{what, f})
}

// Conversation adds a PutConversation.
func (b *Batch) Conversation(c Conversation) {
	b.add("conversation "+c.ID, func(ctx context.Context, tx txn, now time.Time) error {
		return putConversation(ctx, tx, now, c)
	})
}

// Line adds a transcript line (AppendTranscript's rules).
func (b *Batch) Line(l TranscriptLine) {
	b.add("transcript line", func(ctx context.Context, tx txn, now time.Time) error {
		return appendTranscript(ctx, tx, now, []TranscriptLine{l})
	})
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
func (w *Writer) RunBatch(tx *sql.Tx, b *Batch, failed func(what string, err error)) error {
	now := w.s.now()
	ctx := context.Background()
	t := w.s.txn(tx)
	if _, err := t.ExecContext(ctx, qBatchSavepoint); err != nil {
		return err
	}
	ok := true
	for _, r := range b.recs {
		if err := r.write(ctx, t, now); err != nil {
			ok = false
			break
		}
	}
	if ok {
		_, err := t.ExecContext(ctx, qBatchRelease)
		return err
	}
	if _, err := t.ExecContext(ctx, qBatchRollbackTo); err != nil {
		return err
	}
	for _, r := range b.recs {
		if _, err := t.ExecContext(ctx, qRecSavepoint); err != nil {
			return err
		}
		if err := r.write(ctx, t, now); err != nil {
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
