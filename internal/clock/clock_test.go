package clock

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

func TestVirtualRunsInTimeThenScheduleOrder(t *testing.T) {
	v := NewVirtual(Epoch)
	var got []string
	at := func(d time.Duration, name string) {
		v.AfterFunc(d, func() { got = append(got, name+"@"+v.Elapsed().String()) })
	}
	at(3*time.Second, "c")
	at(time.Second, "a")
	at(3*time.Second, "d")
	at(2*time.Second, "b")
	at(-time.Second, "now")
	v.Run()
	want := []string{"now@0s", "a@1s", "b@2s", "c@3s", "d@3s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if v.Fired() != 5 {
		t.Fatalf("fired %d, want 5", v.Fired())
	}
}

func TestVirtualStop(t *testing.T) {
	v := NewVirtual(Epoch)
	ran := false
	tm := v.AfterFunc(time.Second, func() { ran = true })
	if !tm.Stop() {
		t.Fatal("first Stop reported false")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
	v.Run()
	if ran {
		t.Fatal("stopped timer ran")
	}
	fired := v.AfterFunc(time.Second, func() {})
	v.Run()
	if fired.Stop() {
		t.Fatal("Stop after firing reported true")
	}
}

func TestVirtualCallbacksScheduleMore(t *testing.T) {
	v := NewVirtual(Epoch)
	n := 0
	var tick func()
	tick = func() {
		n++
		if n < 10 {
			v.AfterFunc(time.Minute, tick)
		}
	}
	v.AfterFunc(time.Minute, tick)
	v.RunUntil(5 * time.Minute)
	if n != 5 || v.Elapsed() != 5*time.Minute {
		t.Fatalf("after RunUntil(5m): n=%d elapsed=%v", n, v.Elapsed())
	}
	v.Advance(time.Hour)
	if n != 10 || v.Elapsed() != 65*time.Minute {
		t.Fatalf("after Advance(1h): n=%d elapsed=%v", n, v.Elapsed())
	}
	if got := v.Now(); !got.Equal(Epoch.Add(65 * time.Minute)) {
		t.Fatalf("Now = %v", got)
	}
}

func TestVirtualHeapOrderUnderLoad(t *testing.T) {
	v := NewVirtual(Epoch)
	last := time.Duration(-1)
	// A deterministic pseudo-random sequence of delays, half cancelled.
	x := uint64(12345)
	var timers []Timer
	for i := 0; i < 5000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		d := time.Duration(x>>40) * time.Microsecond
		timers = append(timers, v.AfterFunc(d, func() {
			if v.Elapsed() < last {
				t.Fatalf("time went backwards: %v after %v", v.Elapsed(), last)
			}
			last = v.Elapsed()
		}))
	}
	for i := 0; i < len(timers); i += 2 {
		timers[i].Stop()
	}
	v.Run()
	if v.Fired() != 2500 {
		t.Fatalf("fired %d, want 2500", v.Fired())
	}
}

func TestRealClockRunsOnLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loop := NewLoop()
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	c := NewReal(loop)
	fired := make(chan string, 2)
	stopped := c.AfterFunc(time.Hour, func() { fired <- "stopped" })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending real timer reported false")
	}
	c.AfterFunc(time.Millisecond, func() { fired <- "ran" })
	select {
	case got := <-fired:
		if got != "ran" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("real timer did not fire within 10s")
	}
	var inLoop bool
	if err := loop.Do(ctx, func() { inLoop = true }); err != nil || !inLoop {
		t.Fatalf("Do: err=%v ran=%v", err, inLoop)
	}
	cancel()
	<-done
	if loop.Post(func() {}) {
		t.Fatal("Post after stop reported true")
	}
}

func BenchmarkVirtualScheduleAndRun(b *testing.B) {
	v := NewVirtual(Epoch)
	f := func() {}
	for i := 0; i < 1000; i++ {
		v.AfterFunc(time.Duration(i)*time.Millisecond, f)
	}
	for b.Loop() {
		v.AfterFunc(time.Second, f)
		v.Step()
	}
}

func TestVirtualScheduleInterleavesWithAfterFunc(t *testing.T) {
	v := NewVirtual(Epoch)
	var got []uint64
	record := func(arg uint64) { got = append(got, arg) }
	v.Schedule(2*time.Second, record, 2)
	v.AfterFunc(time.Second, func() { got = append(got, 1) })
	v.Schedule(2*time.Second, record, 3)
	stopped := v.AfterFunc(1500*time.Millisecond, func() { got = append(got, 99) })
	stopped.Stop()
	v.Schedule(-time.Second, record, 0)
	v.Run()
	want := []uint64{0, 1, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// Nodes are recycled: scheduling again reuses them.
	v.Schedule(time.Second, record, 4)
	if len(v.free) != 2 {
		t.Fatalf("free list %d, want 2 after reuse", len(v.free))
	}
	v.Run()
	if got[len(got)-1] != 4 {
		t.Fatalf("got %v", got)
	}
}

func BenchmarkVirtualSchedule(b *testing.B) {
	v := NewVirtual(Epoch)
	f := func(uint64) {}
	for i := 0; i < 1000; i++ {
		v.Schedule(time.Duration(i)*time.Millisecond, f, 0)
	}
	for b.Loop() {
		v.Schedule(time.Second, f, 0)
		v.Step()
	}
}

// TestLoopPendingCountsBacklog: Pending counts the work waiting to start,
// and drops to zero once the loop has caught up.
func TestLoopPendingCountsBacklog(t *testing.T) {
	l := NewLoop()
	release := make(chan struct{})
	started := make(chan struct{})
	l.Post(func() { close(started); <-release })
	for range 9 {
		l.Post(func() {})
	}
	if got := l.Pending(); got != 10 {
		t.Fatalf("Pending before Run = %d, want 10", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	<-started
	if got := l.Pending(); got != 9 {
		t.Errorf("Pending with the first item running = %d, want 9", got)
	}
	close(release)
	if err := l.Do(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	if got := l.Pending(); got != 0 {
		t.Errorf("Pending after catching up = %d, want 0", got)
	}
	cancel()
	<-done
}

// BenchmarkVirtualScheduleRandom keeps 6,000 callbacks pending at
// exponentially distributed delays, as the simulator's M/M/3000+M day
// does (arrivals, hang-ups and patience timers), and runs one and
// schedules one per op.
func BenchmarkVirtualScheduleRandom(b *testing.B) {
	v := NewVirtual(Epoch)
	r := rand.New(rand.NewPCG(1, 2))
	var f func(uint64)
	f = func(uint64) { v.Schedule(time.Duration(r.ExpFloat64()*float64(200*time.Second)), f, 0) }
	for range 6000 {
		f(0)
	}
	for b.Loop() {
		v.Step()
	}
}
