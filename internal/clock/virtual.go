package clock

import "time"

// Virtual is a simulated clock. Time stands still until Step, RunUntil or
// Run executes the next scheduled callback, which sets the clock to that
// callback's time. Callbacks at the same instant run in the order they were
// scheduled. A Virtual clock is not safe for concurrent use: it belongs to
// one goroutine, like the domain it drives.
type Virtual struct {
	start time.Time
	now   time.Duration // since start
	at    time.Time     // start + now, what Now returns
	seq   uint64
	// heap orders the scheduled timers by (when, seq). Its entries carry
	// their keys and name their timer by slot, so that sifting compares
	// and moves plain values: no pointer to follow, no write barrier.
	heap   []heapEntry
	timers []*virtualTimer // by slot
	slots  []int32         // free slots
	fired  uint64
	free   []*virtualTimer // recycled fire-and-forget nodes
}

type heapEntry struct {
	when time.Duration
	seq  uint64
	slot int32
}

type virtualTimer struct {
	f         func()
	fa        func(uint64) // fire-and-forget callback (Schedule), with arg
	arg       uint64
	scheduled bool
}

// Stop cancels the timer lazily: it stays in the heap, marked, and the clock
// discards it when it reaches the top. That keeps Stop O(1).
func (t *virtualTimer) Stop() bool {
	if !t.scheduled || t.f == nil {
		return false
	}
	t.f = nil
	return true
}

// NewVirtual returns a virtual clock that starts at start.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{start: start, at: start}
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time { return v.at }

// setNow moves the clock to d since start.
func (v *Virtual) setNow(d time.Duration) {
	v.now = d
	v.at = v.start.Add(d)
}

// Elapsed returns the virtual time since the clock started.
func (v *Virtual) Elapsed() time.Duration { return v.now }

// Fired returns how many callbacks have run.
func (v *Virtual) Fired() uint64 { return v.fired }

// Pending returns the number of scheduled callbacks, including cancelled
// ones not yet discarded.
func (v *Virtual) Pending() int { return len(v.heap) }

// AfterFunc schedules f at Now()+d.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	if d < 0 {
		d = 0
	}
	t := &virtualTimer{f: f}
	v.push(t, v.now+d)
	return t
}

// Schedule runs f(arg) at Now()+d. Unlike AfterFunc it cannot be
// cancelled and allocates nothing in the steady state: the simulator's
// customers and agents schedule millions of such events. f is usually a
// method value created once.
func (v *Virtual) Schedule(d time.Duration, f func(uint64), arg uint64) {
	if d < 0 {
		d = 0
	}
	var t *virtualTimer
	if n := len(v.free); n > 0 {
		t = v.free[n-1]
		v.free = v.free[:n-1]
	} else {
		t = &virtualTimer{}
	}
	t.fa, t.arg = f, arg
	v.push(t, v.now+d)
}

// Step runs the next pending callback, advancing the clock to its time. It
// reports false when nothing is scheduled.
func (v *Virtual) Step() bool {
	for len(v.heap) > 0 {
		when, t := v.pop()
		if fa := t.fa; fa != nil {
			v.setNow(when)
			arg := t.arg
			t.fa = nil
			v.free = append(v.free, t)
			v.fired++
			fa(arg)
			return true
		}
		if t.f == nil {
			continue
		}
		v.setNow(when)
		f := t.f
		t.f = nil
		v.fired++
		f()
		return true
	}
	return false
}

// RunUntil runs every callback scheduled up to and including deadline (an
// offset from the start), then sets the clock to deadline.
func (v *Virtual) RunUntil(deadline time.Duration) {
	for len(v.heap) > 0 {
		if t := v.timers[v.heap[0].slot]; t.f == nil && t.fa == nil {
			v.pop()
			continue
		}
		if v.heap[0].when > deadline {
			break
		}
		v.Step()
	}
	if deadline > v.now {
		v.setNow(deadline)
	}
}

// Advance runs the callbacks due within d and moves the clock d forward.
func (v *Virtual) Advance(d time.Duration) { v.RunUntil(v.now + d) }

// Run runs callbacks until none is left.
func (v *Virtual) Run() {
	for v.Step() {
	}
}

func less(a, b *heapEntry) bool {
	if a.when != b.when {
		return a.when < b.when
	}
	return a.seq < b.seq
}

// push schedules t at when (since start), after everything already
// scheduled at that instant.
func (v *Virtual) push(t *virtualTimer, when time.Duration) {
	var slot int32
	if n := len(v.slots); n > 0 {
		slot = v.slots[n-1]
		v.slots = v.slots[:n-1]
		v.timers[slot] = t
	} else {
		slot = int32(len(v.timers))
		v.timers = append(v.timers, t)
	}
	t.scheduled = true
	e := heapEntry{when: when, seq: v.seq, slot: slot}
	v.seq++
	h := append(v.heap, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(&e, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	v.heap = h
}

// pop takes the earliest timer off the heap and returns it with its time.
func (v *Virtual) pop() (time.Duration, *virtualTimer) {
	h := v.heap
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	if n > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if r := c + 1; r < n && less(&h[r], &h[c]) {
				c = r
			}
			if !less(&h[c], &last) {
				break
			}
			h[i] = h[c]
			i = c
		}
		h[i] = last
	}
	v.heap = h
	t := v.timers[top.slot]
	v.timers[top.slot] = nil
	v.slots = append(v.slots, top.slot)
	t.scheduled = false
	return top.when, t
}
