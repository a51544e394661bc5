package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Route is where a routed conversation is: waiting in a queue or with an
// agent (table conversation_routes). The IM gateway journals it at each
// change and deletes it at the conversation's end; at start, the routes
// left are the conversations to put back in their queues.
type Route struct {
	Conversation string
	// Phase is RouteQueued or RouteConnected.
	Phase    string
	Queue    string
	Priority int
	// Enqueued is when the conversation entered the center's queues: its
	// wait counts from there.
	Enqueued time.Time
	// Agent is the agent it is with (connected).
	Agent      string
	CustomerID int64
	// Network, User and Device are the address to write to.
	Network, User, Device       string
	ClientFamily, ClientVersion string
	Language, Reason            string
	Updated                     time.Time
}

// Route phases.
const (
	RouteQueued    = "queued"
	RouteConnected = "connected"
)

const routeCols = `conversation, phase, queue, priority, enqueued, agent_id, COALESCE(customer_id, 0), network, im_user, device,
	client_family, client_version, language, reason, updated`

var (
	qPutRoute = prep(`INSERT INTO conversation_routes (` + strings.ReplaceAll(routeCols, "COALESCE(customer_id, 0)", "customer_id") + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (conversation) DO UPDATE SET phase = excluded.phase, queue = excluded.queue, priority = excluded.priority,
			enqueued = excluded.enqueued, agent_id = excluded.agent_id, customer_id = excluded.customer_id,
			device = excluded.device, client_family = excluded.client_family, client_version = excluded.client_version,
			language = excluded.language, reason = excluded.reason, updated = excluded.updated`)
	qDeleteRoute = prep(`DELETE FROM conversation_routes WHERE conversation = ?`)
)

func putRoute(ctx context.Context, tx txn, now time.Time, r Route) error {
	r.Conversation = strings.TrimSpace(r.Conversation)
	switch {
	case r.Conversation == "":
		return fmt.Errorf("store: put route: empty conversation id: %w", ErrInvalid)
	case r.Phase != RouteQueued && r.Phase != RouteConnected:
		return fmt.Errorf("store: put route %s: phase %q: %w", r.Conversation, r.Phase, ErrInvalid)
	case r.Queue == "" || r.Network == "" || r.User == "":
		return fmt.Errorf("store: put route %s: a route needs a queue, a network and a user: %w", r.Conversation, ErrInvalid)
	case r.Enqueued.IsZero():
		return fmt.Errorf("store: put route %s: no enqueue time: %w", r.Conversation, ErrInvalid)
	}
	if r.Updated.IsZero() {
		r.Updated = now
	}
	_, err := tx.ExecContext(ctx, qPutRoute, r.Conversation, r.Phase, r.Queue, r.Priority, r.Enqueued.UnixNano(), r.Agent,
		nullID(r.CustomerID), r.Network, r.User, r.Device, r.ClientFamily, r.ClientVersion, r.Language, r.Reason, r.Updated.UnixNano())
	if err != nil {
		return fmt.Errorf("store: put route %s: %w", r.Conversation, err)
	}
	return nil
}

// PutRoute inserts or replaces a conversation's route. The conversation
// must exist.
func (s *Store) PutRoute(ctx context.Context, r Route) error {
	now := s.now()
	return s.update(ctx, "put route "+r.Conversation, func(tx txn) error { return putRoute(ctx, tx, now, r) })
}

// DeleteRoute forgets a conversation's route (it ended); none is no error.
func (s *Store) DeleteRoute(ctx context.Context, conversation string) error {
	return s.update(ctx, "delete route "+conversation, func(tx txn) error {
		_, err := tx.ExecContext(ctx, qDeleteRoute, conversation)
		return err
	})
}

// Route adds a PutRoute.
func (b *Batch) Route(r Route) {
	b.add("route "+r.Conversation, func(ctx context.Context, tx txn, now time.Time) error {
		return putRoute(ctx, tx, now, r)
	})
}

// RouteEnded adds a DeleteRoute.
func (b *Batch) RouteEnded(conversation string) {
	b.add("route end "+conversation, func(ctx context.Context, tx txn, _ time.Time) error {
		_, err := tx.ExecContext(ctx, qDeleteRoute, conversation)
		return err
	})
}

func scanRoute(r scanner) (Route, error) {
	var (
		x                 Route
		enqueued, updated int64
	)
	err := r.Scan(&x.Conversation, &x.Phase, &x.Queue, &x.Priority, &enqueued, &x.Agent, &x.CustomerID, &x.Network, &x.User,
		&x.Device, &x.ClientFamily, &x.ClientVersion, &x.Language, &x.Reason, &updated)
	x.Enqueued, x.Updated = time.Unix(0, enqueued).UTC(), time.Unix(0, updated).UTC()
	return x, err
}

// Routes returns the routes of the conversations that have not ended,
// in the order they entered their queues.
func (s *Store) Routes(ctx context.Context) ([]Route, error) {
	out, err := queryAll(ctx, s.rdb, scanRoute, `SELECT `+routeCols+` FROM conversation_routes AS r
		WHERE NOT EXISTS (SELECT 1 FROM conversations AS c WHERE c.id = r.conversation AND c.ended IS NOT NULL)
		ORDER BY enqueued, conversation`)
	if err != nil {
		return nil, fmt.Errorf("store: routes: %w", err)
	}
	return out, nil
}
