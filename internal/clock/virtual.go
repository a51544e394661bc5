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
	seq   uint64
	heap  []*virtualTimer
	fired uint64
	free  []*virtualTimer // recycled fire-and-forget nodes
}

type virtualTimer struct {
	when  time.Duration
	seq   uint64
	f     func()
	fa    func(uint64) // fire-and-forget callback (Schedule), with arg
	arg   uint64
	index int // position in the heap, -1 when not scheduled
}

// Stop cancels the timer lazily: it stays in the heap, marked, and the clock
// discards it when it reaches the top. That keeps Stop O(1).
func (t *virtualTimer) Stop() bool {
	if t.index < 0 || t.f == nil {
		return false
	}
	t.f = nil
	return true
}

// NewVirtual returns a virtual clock that starts at start.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{start: start}
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time { return v.start.Add(v.now) }

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
	t := &virtualTimer{when: v.now + d, seq: v.seq, f: f}
	v.seq++
	v.push(t)
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
	t.when, t.seq, t.fa, t.arg = v.now+d, v.seq, f, arg
	v.seq++
	v.push(t)
}

// Step runs the next pending callback, advancing the clock to its time. It
// reports false when nothing is scheduled.
func (v *Virtual) Step() bool {
	for len(v.heap) > 0 {
		t := v.pop()
		if fa := t.fa; fa != nil {
			v.now = t.when
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
		v.now = t.when
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
		if v.heap[0].f == nil && v.heap[0].fa == nil {
			v.pop()
			continue
		}
		if v.heap[0].when > deadline {
			break
		}
		v.Step()
	}
	if deadline > v.now {
		v.now = deadline
	}
}

// Advance runs the callbacks due within d and moves the clock d forward.
func (v *Virtual) Advance(d time.Duration) { v.RunUntil(v.now + d) }

// Run runs callbacks until none is left.
func (v *Virtual) Run() {
	for v.Step() {
	}
}

func (v *Virtual) less(a, b *virtualTimer) bool {
	if a.when != b.when {
		return a.when < b.when
	}
	return a.seq < b.seq
}

func (v *Virtual) push(t *virtualTimer) {
	h := append(v.heap, t)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !v.less(t, h[p]) {
			break
		}
		h[i] = h[p]
		h[i].index = i
		i = p
	}
	h[i] = t
	t.index = i
	v.heap = h
}

func (v *Virtual) pop() *virtualTimer {
	h := v.heap
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = nil
	h = h[:n]
	if n > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if r := c + 1; r < n && v.less(h[r], h[c]) {
				c = r
			}
			if !v.less(h[c], last) {
				break
			}
			h[i] = h[c]
			h[i].index = i
			i = c
		}
		h[i] = last
		last.index = i
	}
	v.heap = h
	top.index = -1
	return top
}
