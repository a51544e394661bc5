package tserver

import (
	"math/rand/v2"
	"testing"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// TestContactTableMatchesMap drives the table and a map with the same
// interactions, most short-lived, some living for many turns of the ring,
// and checks that they always agree.
func TestContactTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tab contactTable
	want := map[pbx.ConnID]*Contact{}
	var live []*Contact
	usedOld := false
	next := pbx.ConnID(1)
	check := func(id pbx.ConnID) {
		t.Helper()
		if got := tab.get(id); got != want[id] {
			t.Fatalf("get(%d) = %p, want %p", id, got, want[id])
		}
	}
	for step := 0; step < 200000; step++ {
		// The number of live contacts swings between a few and thousands.
		target := 50 + 3000*((step/20000)%3)
		if len(live) < target || r.IntN(2) == 0 {
			c := &Contact{}
			c.ID = next
			next++
			tab.put(c)
			want[c.ID] = c
			live = append(live, c)
		} else if len(live) > 0 {
			// Mostly the oldest go (FIFO-like), sometimes any; one in 500
			// is immortal.
			i := r.IntN(min(len(live), 64))
			if r.IntN(4) == 0 {
				i = r.IntN(len(live))
			}
			c := live[i]
			if c.ID%500 != 0 {
				live = append(live[:i], live[i+1:]...)
				tab.remove(c)
				delete(want, c.ID)
			}
		}
		usedOld = usedOld || len(tab.old) > 0
		check(next - 1)
		check(pbx.ConnID(r.Int64N(int64(next) + 10)))
		if tab.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(want))
		}
	}
	seen := 0
	for id, c := range tab.all() {
		if want[id] != c {
			t.Fatalf("all yields %d → %p, want %p", id, c, want[id])
		}
		seen++
	}
	if seen != len(want) {
		t.Fatalf("all yields %d contacts, want %d", seen, len(want))
	}
	if !usedOld {
		t.Fatal("no contact outlived its slot: the test misses the map")
	}
}

// TestRecycleContactsSameEvents runs the same traffic with and without
// RecycleContacts: the CTI events (and so every decision) are the same.
func TestRecycleContactsSameEvents(t *testing.T) {
	run := func(recycle bool) []string {
		m := newMMNModel(t, 30, Config{RecycleContacts: recycle})
		var lines []string
		m.s.Subscribe(func(e Event) { lines = append(lines, e.Time.Format(time.StampNano)+" "+eventLine(e)) })
		m.runContacts(20000)
		return lines
	}
	plain, recycled := run(false), run(true)
	if len(plain) != len(recycled) {
		t.Fatalf("%d events without recycling, %d with", len(plain), len(recycled))
	}
	for i := range plain {
		if plain[i] != recycled[i] {
			t.Fatalf("event %d: %q without recycling, %q with", i, plain[i], recycled[i])
		}
	}
}
