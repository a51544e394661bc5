package live

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/store"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// The statistics keeper writes each 15-minute interval's counters shortly
// after they change, and a new keeper on the same store (a restart) seeds
// the day's counters and goes on in the current interval's row.
func TestStatsKeeperContinuesAfterRestart(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "cc.db"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := config.Parse("center.yaml", []byte("queues: [{name: q}]\nagents: [{id: a, skills: {q: 5}, ready: false}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 4, 10, 14, 0, 0, time.UTC)
	center := func(at time.Time) (*tserver.Server, *clock.Virtual, *statsKeeper) {
		clk := clock.NewVirtual(at)
		ts, err := tserver.New(f, tserver.Config{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		k, err := newStatsKeeper(ctx, st, st.Writer(), ts, clk, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return ts, clk, k
	}
	arrive := func(ts *tserver.Server) {
		if _, err := ts.Arrive(&tserver.Arrival{Media: pbx.Voice, DNIS: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(from time.Time) int64 {
		t.Helper()
		if err := st.Writer().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := st.QueueStatsSince(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		return got["q"].Offered
	}
	ts, clk, _ := center(start)
	arrive(ts)
	clk.Advance(100 * time.Millisecond)
	if n := rows(start.Truncate(store.StatsInterval)); n != 0 {
		t.Fatalf("written before the flush delay: %d", n)
	}
	clk.Advance(time.Second)
	if n := rows(start.Truncate(store.StatsInterval)); n != 1 {
		t.Fatalf("10:00 interval: %d offered, want 1", n)
	}
	clk.Advance(2 * time.Minute) // 10:16
	arrive(ts)
	clk.Advance(time.Second)
	i1015 := time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC)
	if n := rows(i1015); n != 1 {
		t.Fatalf("10:15 interval: %d offered, want 1 (the other is 10:00's)", n)
	}
	// A restart at 10:20: the day's 2 go on.
	ts2, clk2, _ := center(time.Date(2026, 3, 4, 10, 20, 0, 0, time.UTC))
	if got := ts2.AllStats()["q"].Offered; got != 2 {
		t.Fatalf("after the restart, offered %d, want 2", got)
	}
	arrive(ts2)
	clk2.Advance(time.Second)
	if n := rows(i1015); n != 2 {
		t.Fatalf("10:15 interval after the restart: %d offered, want 2", n)
	}
	if n := rows(start.Truncate(24 * time.Hour)); n != 3 {
		t.Fatalf("the day: %d offered, want 3", n)
	}
}
