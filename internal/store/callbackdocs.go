package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// CallbackDoc is a callback request as the callback server keeps it
// (schema 8): the fields it is found by, and the whole request as JSON.
// The store does not import the callback package: Doc is its JSON.
type CallbackDoc struct {
	ID        string
	State     string
	Queue     string
	Requested time.Time
	Doc       json.RawMessage
}

var qPutCallbackDoc = prep(`INSERT INTO callbacks (id, state, queue, requested, updated, doc) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET state = excluded.state, queue = excluded.queue,
		requested = excluded.requested, updated = excluded.updated, doc = excluded.doc`)

func putCallbackDoc(ctx context.Context, tx txn, now time.Time, d CallbackDoc) error {
	d.ID, d.Queue = strings.TrimSpace(d.ID), strings.TrimSpace(d.Queue)
	var bad error
	switch {
	case d.ID == "":
		bad = fmt.Errorf("empty id: %w", ErrInvalid)
	case d.Queue == "":
		bad = fmt.Errorf("callback %s: empty queue: %w", d.ID, ErrInvalid)
	case !json.Valid(d.Doc):
		bad = fmt.Errorf("callback %s: the document is not JSON: %w", d.ID, ErrInvalid)
	}
	if bad == nil {
		bad = checkCallbackState(d.State)
	}
	if bad != nil {
		return fmt.Errorf("store: put callback: %w", bad)
	}
	if _, err := tx.ExecContext(ctx, qPutCallbackDoc, d.ID, d.State, d.Queue, d.Requested.UnixNano(), now.UnixNano(), string(d.Doc)); err != nil {
		return fmt.Errorf("store: put callback %s: %w", d.ID, err)
	}
	return nil
}

// PutCallbackDoc stores d, replacing the request of the same id.
func (s *Store) PutCallbackDoc(ctx context.Context, d CallbackDoc) error {
	now := s.now()
	return s.update(ctx, "put callback "+d.ID, func(tx txn) error { return putCallbackDoc(ctx, tx, now, d) })
}

// CallbackDoc adds a PutCallbackDoc.
func (b *Batch) CallbackDoc(d CallbackDoc) {
	b.add("callback "+d.ID, func(ctx context.Context, tx txn, now time.Time) error {
		return putCallbackDoc(ctx, tx, now, d)
	})
}

// CallbackDocs returns the stored callback requests, by id; with states,
// only those in one of them.
func (s *Store) CallbackDocs(ctx context.Context, states ...string) ([]CallbackDoc, error) {
	q, args := `SELECT id, state, queue, requested, doc FROM callbacks`, []any{}
	if len(states) > 0 {
		q += ` WHERE state IN (?` + strings.Repeat(", ?", len(states)-1) + `)`
		for _, st := range states {
			args = append(args, st)
		}
	}
	out, err := queryAll(ctx, s.rdb, func(r scanner) (CallbackDoc, error) {
		var (
			d         CallbackDoc
			requested int64
			doc       string
		)
		err := r.Scan(&d.ID, &d.State, &d.Queue, &requested, &doc)
		d.Requested, d.Doc = time.Unix(0, requested).UTC(), json.RawMessage(doc)
		return d, err
	}, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: callbacks: %w", err)
	}
	return out, nil
}

// AlertDoc is a customer's alert as the callback server keeps it.
type AlertDoc struct {
	ID  string
	Doc json.RawMessage
	// Removed: the alert is gone (it fired for good, or was withdrawn).
	Removed bool
}

var (
	qPutAlertDoc = prep(`INSERT INTO callback_alerts (id, updated, doc) VALUES (?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET updated = excluded.updated, doc = excluded.doc`)
	qDeleteAlertDoc = prep(`DELETE FROM callback_alerts WHERE id = ?`)
)

func putAlertDoc(ctx context.Context, tx txn, now time.Time, a AlertDoc) error {
	a.ID = strings.TrimSpace(a.ID)
	switch {
	case a.ID == "":
		return fmt.Errorf("store: put alert: empty id: %w", ErrInvalid)
	case a.Removed:
		_, err := tx.ExecContext(ctx, qDeleteAlertDoc, a.ID)
		return err
	case !json.Valid(a.Doc):
		return fmt.Errorf("store: put alert %s: the document is not JSON: %w", a.ID, ErrInvalid)
	}
	_, err := tx.ExecContext(ctx, qPutAlertDoc, a.ID, now.UnixNano(), string(a.Doc))
	return err
}

// AlertDoc adds a PutAlertDoc.
func (b *Batch) AlertDoc(a AlertDoc) {
	b.add("alert "+a.ID, func(ctx context.Context, tx txn, now time.Time) error {
		return putAlertDoc(ctx, tx, now, a)
	})
}

// PutAlertDoc stores a (or deletes it when Removed).
func (s *Store) PutAlertDoc(ctx context.Context, a AlertDoc) error {
	now := s.now()
	return s.update(ctx, "put alert "+a.ID, func(tx txn) error { return putAlertDoc(ctx, tx, now, a) })
}

// AlertDocs returns the stored alerts, by id.
func (s *Store) AlertDocs(ctx context.Context) ([]AlertDoc, error) {
	out, err := queryAll(ctx, s.rdb, func(r scanner) (AlertDoc, error) {
		var (
			a   AlertDoc
			doc string
		)
		err := r.Scan(&a.ID, &doc)
		a.Doc = json.RawMessage(doc)
		return a, err
	}, `SELECT id, doc FROM callback_alerts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return out, nil
}
