package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// States of a callback request.
const (
	CallbackPending   = "pending"   // waiting for the dialer
	CallbackDialing   = "dialing"   // the dialer is calling
	CallbackDone      = "done"      // the customer was reached
	CallbackFailed    = "failed"    // the dialer gave up
	CallbackCancelled = "cancelled" // the customer or an agent withdrew it
)

// CallbackRequest is a customer's request to be called back, for example
// accepted in chat while waiting in a queue.
type CallbackRequest struct {
	ID int64
	// Conversation the request was made in, if any (not checked: the
	// request is kept even if the conversation's record is not).
	Conversation string
	// Network and User: the IM address the request came from, if any.
	Network string
	User    string
	// CustomerID is 0 when the customer is unknown.
	CustomerID int64
	// Queue the callback is for.
	Queue string
	// Number to call; may be empty when the callback is to reach the
	// customer over IM.
	Number    string
	Requested time.Time
	State     string
}

func checkCallbackState(state string) error {
	switch state {
	case CallbackPending, CallbackDialing, CallbackDone, CallbackFailed, CallbackCancelled:
		return nil
	}
	return fmt.Errorf("state %q (want pending, dialing, done, failed or cancelled): %w", state, ErrInvalid)
}

// AddCallbackRequest records a callback request and returns it with its id.
// It needs a queue, and a number or an IM address (both network and
// user). Requested, when zero, is now; State, when empty, is pending.
func (s *Store) AddCallbackRequest(ctx context.Context, r CallbackRequest) (CallbackRequest, error) {
	now := s.now()
	err := s.update(ctx, "add callback request", func(tx txn) error {
		var err error
		r, err = addCallbackRequest(ctx, tx, now, r)
		return err
	})
	if err != nil {
		return CallbackRequest{}, err
	}
	return r, nil
}

func addCallbackRequest(ctx context.Context, tx txn, now time.Time, r CallbackRequest) (CallbackRequest, error) {
	r.Network, r.User = strings.TrimSpace(r.Network), strings.TrimSpace(r.User)
	r.Queue, r.Number = strings.TrimSpace(r.Queue), strings.TrimSpace(r.Number)
	r.Conversation = strings.TrimSpace(r.Conversation)
	if r.State == "" {
		r.State = CallbackPending
	}
	if r.Requested.IsZero() {
		r.Requested = now
	}
	r.Requested = r.Requested.Round(0).UTC()
	var bad error
	switch {
	case r.Queue == "":
		bad = fmt.Errorf("empty queue: %w", ErrInvalid)
	case (r.Network == "") != (r.User == ""):
		bad = fmt.Errorf("IM address %q needs both a network and a user: %w", r.Network+"!"+r.User, ErrInvalid)
	case r.Number == "" && r.User == "":
		bad = fmt.Errorf("neither a number nor an IM address to call back: %w", ErrInvalid)
	case r.CustomerID < 0:
		bad = fmt.Errorf("customer id %d: %w", r.CustomerID, ErrInvalid)
	default:
		bad = checkCallbackState(r.State)
	}
	if bad != nil {
		return CallbackRequest{}, fmt.Errorf("store: add callback request: %w", bad)
	}
	if r.CustomerID != 0 {
		ok, err := customerExists(ctx, tx, r.CustomerID)
		if err != nil {
			return CallbackRequest{}, fmt.Errorf("store: add callback request: %w", err)
		}
		if !ok {
			return CallbackRequest{}, fmt.Errorf("store: add callback request: unknown customer id %d: %w", r.CustomerID, ErrInvalid)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO callback_requests (conversation, network, im_user, customer_id, queue, number, requested, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Conversation, r.Network, r.User, nullID(r.CustomerID), r.Queue, r.Number, r.Requested.UnixNano(), r.State)
	if err != nil {
		return CallbackRequest{}, fmt.Errorf("store: add callback request: %w", err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return CallbackRequest{}, fmt.Errorf("store: add callback request: %w", err)
	}
	return r, nil
}

// PendingCallbacks returns the callback requests not finished yet, pending
// or dialing, the oldest first. A request left dialing by a crash is among
// them, so it is not lost.
func (s *Store) PendingCallbacks(ctx context.Context) ([]CallbackRequest, error) {
	out, err := queryAll(ctx, s.rdb, scanCallback, `SELECT id, conversation, network, im_user, COALESCE(customer_id, 0), queue, number, requested, state
		FROM callback_requests WHERE state IN ('pending', 'dialing') ORDER BY requested, id`)
	if err != nil {
		return nil, fmt.Errorf("store: pending callbacks: %w", err)
	}
	return out, nil
}

func scanCallback(r scanner) (CallbackRequest, error) {
	var c CallbackRequest
	var t sql.NullInt64
	err := r.Scan(&c.ID, &c.Conversation, &c.Network, &c.User, &c.CustomerID, &c.Queue, &c.Number, &t, &c.State)
	c.Requested = decTime(t)
	return c, err
}

// SetCallbackState moves a callback request to another state.
func (s *Store) SetCallbackState(ctx context.Context, id int64, state string) error {
	if err := checkCallbackState(state); err != nil {
		return fmt.Errorf("store: set callback %d state: %w", id, err)
	}
	return s.update(ctx, "set callback state", func(tx txn) error {
		res, err := tx.ExecContext(ctx, "UPDATE callback_requests SET state = ? WHERE id = ?", state, id)
		if err != nil {
			return fmt.Errorf("store: set callback %d state: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("store: set callback %d state: no such callback request: %w", id, ErrNotFound)
		}
		return nil
	})
}
