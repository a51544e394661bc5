package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// QueueCounts are a queue's counters over some time. The fields are those
// of tserver.QueueStats, in the same order, so they convert:
// tserver.QueueStats(c). The store does not import tserver.
type QueueCounts struct {
	Offered       int64
	Answered      int64
	Abandoned     int64
	Callback      int64
	Waited        int64
	AnsweredInSL  int64
	WaitAnswered  time.Duration
	WaitAbandoned time.Duration
	WaitCallback  time.Duration
	Handled       int64
	HandleTime    time.Duration
}

// StatsInterval is the length of a statistics interval.
const StatsInterval = 15 * time.Minute

var qPutQueueStats = prep(`INSERT INTO queue_stats (interval_start, queue, offered, answered, abandoned, waited,
		answered_in_sl, wait_answered, wait_abandoned, handled, handle_time, callback, wait_callback)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (interval_start, queue) DO UPDATE SET offered = excluded.offered, answered = excluded.answered,
		abandoned = excluded.abandoned, waited = excluded.waited, answered_in_sl = excluded.answered_in_sl,
		wait_answered = excluded.wait_answered, wait_abandoned = excluded.wait_abandoned,
		callback = excluded.callback, wait_callback = excluded.wait_callback,
		handled = excluded.handled, handle_time = excluded.handle_time`)

func putQueueStats(ctx context.Context, tx txn, interval time.Time, queue string, c QueueCounts) error {
	queue = strings.TrimSpace(queue)
	if queue == "" {
		return fmt.Errorf("store: queue stats: empty queue name: %w", ErrInvalid)
	}
	if !interval.Equal(interval.Truncate(StatsInterval)) {
		return fmt.Errorf("store: queue stats %s: %s does not start an interval: %w", queue, interval.Format(time.RFC3339Nano), ErrInvalid)
	}
	_, err := tx.ExecContext(ctx, qPutQueueStats, interval.UnixNano(), queue, c.Offered, c.Answered, c.Abandoned, c.Waited,
		c.AnsweredInSL, int64(c.WaitAnswered), int64(c.WaitAbandoned), c.Handled, int64(c.HandleTime),
		c.Callback, int64(c.WaitCallback))
	if err != nil {
		return fmt.Errorf("store: queue stats %s: %w", queue, err)
	}
	return nil
}

// PutQueueStats sets what queue counted in the interval that starts at
// interval (a multiple of StatsInterval), replacing what was stored.
func (s *Store) PutQueueStats(ctx context.Context, interval time.Time, queue string, c QueueCounts) error {
	return s.update(ctx, "queue stats "+queue, func(tx txn) error { return putQueueStats(ctx, tx, interval, queue, c) })
}

// QueueStats adds a PutQueueStats.
func (b *Batch) QueueStats(interval time.Time, queue string, c QueueCounts) {
	b.add("queue stats "+queue, func(ctx context.Context, tx txn, _ time.Time) error {
		return putQueueStats(ctx, tx, interval, queue, c)
	})
}

// QueueStatsSince sums, per queue, the intervals that start at or after
// since.
func (s *Store) QueueStatsSince(ctx context.Context, since time.Time) (map[string]QueueCounts, error) {
	type row struct {
		queue string
		c     QueueCounts
	}
	rows, err := queryAll(ctx, s.rdb, func(r scanner) (row, error) {
		var (
			x              row
			wa, wb, ht, wc int64
		)
		err := r.Scan(&x.queue, &x.c.Offered, &x.c.Answered, &x.c.Abandoned, &x.c.Waited, &x.c.AnsweredInSL, &wa, &wb, &x.c.Handled, &ht,
			&x.c.Callback, &wc)
		x.c.WaitAnswered, x.c.WaitAbandoned, x.c.HandleTime, x.c.WaitCallback = time.Duration(wa), time.Duration(wb), time.Duration(ht), time.Duration(wc)
		return x, err
	}, `SELECT queue, SUM(offered), SUM(answered), SUM(abandoned), SUM(waited), SUM(answered_in_sl),
		SUM(wait_answered), SUM(wait_abandoned), SUM(handled), SUM(handle_time), SUM(callback), SUM(wait_callback)
		FROM queue_stats WHERE interval_start >= ? GROUP BY queue`, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: queue stats since %s: %w", since.Format(time.RFC3339), err)
	}
	out := make(map[string]QueueCounts, len(rows))
	for _, r := range rows {
		out[r.queue] = r.c
	}
	return out, nil
}
