package live

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver"
)

// statsFlushDelay gathers the statistics changes of this long into one
// write; statsEvery writes them at least this often (and rolls the
// interval over when nothing happens).
const (
	statsFlushDelay = 200 * time.Millisecond
	statsEvery      = time.Minute
)

// statsKeeper keeps tserver's queue statistics in the store per
// 15-minute interval (table queue_stats), and seeds them at start with
// what the day counted before: the counters continue after a restart.
// It runs on the loop; the writes go through the store's Writer, so the
// loop never waits for the disk.
type statsKeeper struct {
	ts       *tserver.Server
	w        *store.Writer
	clock    clock.Clock
	log      zerolog.Logger
	interval time.Time                     // start of the current interval
	base     map[string]tserver.QueueStats // the counters when it started
	written  map[string]tserver.QueueStats // what was last written for it
	timer    clock.Timer
	due      time.Time // when timer fires
	cancel   func()
}

// keepStats restores the day's statistics from the store and starts
// keeping them there.
func (c *Center) keepStats(ctx context.Context, clk clock.Clock) error {
	k, err := newStatsKeeper(ctx, c.im.st, c.im.w, c.ts, clk, c.log.With().Str("component", "stats").Logger())
	if err != nil {
		return err
	}
	c.im.stats = k
	return nil
}

// newStatsKeeper seeds ts's statistics with what st holds of the day
// (ts's clock says which) and keeps them there from now on, through w.
func newStatsKeeper(ctx context.Context, st *store.Store, w *store.Writer, ts *tserver.Server, clk clock.Clock, log zerolog.Logger) (*statsKeeper, error) {
	now := clk.Now()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	k := &statsKeeper{ts: ts, w: w, clock: clk, log: log, interval: now.Truncate(store.StatsInterval)}
	dayStats, err := st.QueueStatsSince(ctx, day)
	if err != nil {
		return nil, fmt.Errorf("live: restore statistics: %w", err)
	}
	cur, err := st.QueueStatsSince(ctx, k.interval)
	if err != nil {
		return nil, fmt.Errorf("live: restore statistics: %w", err)
	}
	seed := make(map[string]tserver.QueueStats, len(dayStats))
	for q, s := range dayStats {
		seed[q] = tserver.QueueStats(s)
	}
	ts.RestoreStats(seed)
	// The current interval's row holds what it counted before the
	// restart: it goes on from there.
	k.base, k.written = ts.AllStats(), map[string]tserver.QueueStats{}
	for q, s := range cur {
		k.base[q] = k.base[q].Sub(tserver.QueueStats(s))
		k.written[q] = tserver.QueueStats(s)
	}
	k.cancel = ts.Subscribe(func(e tserver.Event) {
		if e.ConnID != 0 {
			k.soon(statsFlushDelay)
		}
	})
	k.soon(statsEvery)
	return k, nil
}

// soon writes the statistics within d, unless a write is due sooner.
func (k *statsKeeper) soon(d time.Duration) {
	due := k.clock.Now().Add(d)
	if k.timer != nil {
		if !k.due.After(due) {
			return
		}
		k.timer.Stop()
	}
	k.due = due
	k.timer = k.clock.AfterFunc(d, func() {
		k.timer = nil
		k.flush()
		k.soon(statsEvery)
	})
}

// flush writes what changed in the current interval, and starts the next
// interval when its time has come.
func (k *statsKeeper) flush() {
	now := k.clock.Now()
	all := k.ts.AllStats()
	b := &store.Batch{}
	for q, s := range all {
		d := s.Sub(k.base[q])
		if d != k.written[q] {
			b.QueueStats(k.interval, q, store.QueueCounts(d))
			k.written[q] = d
		}
	}
	if next := now.Truncate(store.StatsInterval); next.After(k.interval) {
		k.interval, k.base, k.written = next, all, map[string]tserver.QueueStats{}
	}
	if b.Len() > 0 {
		k.w.SubmitBatch(b, func(what string, err error) {
			k.log.Error().Err(err).Str("record", what).Msg("statistics not stored")
		}, func(err error) {
			if err != nil {
				k.log.Error().Err(err).Msg("statistics not stored")
			}
		})
	}
}

// close writes the last changes (the loop has stopped: nothing else
// touches tserver).
func (k *statsKeeper) close() {
	if k.timer != nil {
		k.timer.Stop()
	}
	k.cancel()
	k.flush()
}
