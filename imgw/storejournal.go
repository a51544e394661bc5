package imgw

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/store"
)

// StoreJournal keeps the gateway's records in the embedded store: it is
// the Customers and the Journal of a live gateway. Lookups read the store
// directly (they are indexed and local); writes go through the store's
// group-commit Writer, so the gateway's goroutine never waits for a disk
// flush, and each is durable a few milliseconds later.
type StoreJournal struct {
	st  *store.Store
	w   *store.Writer
	log zerolog.Logger

	// pending gathers records until the writer takes them: one writer
	// op for everything journaled while the previous one waited.
	mu      sync.Mutex
	pending *store.Batch
}

// lookupTimeout bounds a bot lookup.
const lookupTimeout = 2 * time.Second

// NewStoreJournal returns the journal of st, writing through w.
func NewStoreJournal(st *store.Store, w *store.Writer, log zerolog.Logger) *StoreJournal {
	return &StoreJournal{st: st, w: w, log: log}
}

// FindCustomer implements Customers.
func (j *StoreJournal) FindCustomer(key string) (Customer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, ok, err := j.st.FindCustomer(ctx, key)
	switch {
	case errors.Is(err, store.ErrAmbiguous):
		return Customer{}, ErrAmbiguous
	case errors.Is(err, store.ErrInvalid):
		return Customer{}, ErrNotFound
	case err != nil:
		j.log.Error().Err(err).Msg("customer lookup failed")
		return Customer{}, ErrNotFound
	case !ok:
		return Customer{}, ErrNotFound
	}
	return Customer{ID: c.ID, Number: c.Number, Name: c.Name, Email: c.Email, Language: c.Language}, nil
}

// OrderStatus implements Customers.
func (j *StoreJournal) OrderStatus(id string, customer int64) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	o, ok, err := j.st.Order(ctx, id)
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalid):
		j.log.Error().Err(err).Msg("order lookup failed")
		return "", ErrNotFound
	case err != nil || !ok || (customer != 0 && o.CustomerID != customer):
		return "", ErrNotFound
	}
	return o.Status, nil
}

// record adds a record to the pending batch; the first record of a
// batch submits it, and the writer takes whatever the batch holds by
// the time it runs.
func (j *StoreJournal) record(add func(b *store.Batch)) {
	j.mu.Lock()
	first := j.pending == nil
	if first {
		j.pending = &store.Batch{}
	}
	add(j.pending)
	j.mu.Unlock()
	if !first {
		return
	}
	var b *store.Batch
	j.w.Submit(func(tx *sql.Tx) error {
		if b == nil { // the first run takes the batch; a rerun (after a failed COMMIT) keeps it
			j.mu.Lock()
			b, j.pending = j.pending, nil
			j.mu.Unlock()
		}
		return j.w.RunBatch(tx, b, j.failed)
	}, j.done)
}

func (j *StoreJournal) failed(what string, err error) {
	j.log.Error().Err(err).Str("record", what).Msg("journal record refused")
}

func (j *StoreJournal) done(err error) {
	if err != nil {
		j.log.Error().Err(err).Msg("journal write failed")
	}
}

// Conversation implements Journal.
func (j *StoreJournal) Conversation(r ConversationRecord) {
	c := store.Conversation{
		ID: r.ID, Network: r.From.Network, User: r.From.User, CustomerID: r.CustomerID,
		Queue: r.Queue, Reason: r.Reason, Language: r.Language, Started: r.Started, Ended: r.Ended, Outcome: r.Outcome,
	}
	j.record(func(b *store.Batch) { b.Conversation(c) })
}

// Line implements Journal.
func (j *StoreJournal) Line(l Line) {
	tl := store.TranscriptLine{Conversation: l.Conversation, Seq: l.Seq, Time: l.Time, From: l.From, AgentID: l.AgentID, Text: l.Text}
	j.record(func(b *store.Batch) { b.Line(tl) })
}

// Device implements Journal.
func (j *StoreJournal) Device(from Address, client *ClientInfo, presence *PresenceInfo) {
	j.record(func(b *store.Batch) {
		if client != nil {
			b.DeviceClient(from.Network, from.User, from.Device, store.Client(*client))
		}
		if presence != nil {
			b.DevicePresence(from.Network, from.User, from.Device, store.Presence(*presence))
		}
	})
}

// Callback implements Journal.
func (j *StoreJournal) Callback(r CallbackRequest) {
	cr := store.CallbackRequest{
		Conversation: r.Conversation, Network: r.From.Network, User: r.From.User, CustomerID: r.CustomerID,
		Queue: r.Queue, Number: r.Number, Requested: r.Requested,
	}
	j.record(func(b *store.Batch) { b.Callback(cr) })
}
