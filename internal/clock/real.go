package clock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Loop is the single goroutine that owns a live domain. Adapters Post work
// to it; a Real clock posts its timer callbacks to it. Work runs one item at
// a time, in the order posted.
type Loop struct {
	mu      sync.Mutex
	queue   []func()
	wake    chan struct{}
	stopped bool
	// pending counts work posted and not started yet: the loop's
	// backlog, read without the lock.
	pending atomic.Int64
}

// NewLoop returns a loop that runs nothing until Run is called.
func NewLoop() *Loop {
	return &Loop{wake: make(chan struct{}, 1)}
}

// Post queues f to run on the loop goroutine. It never blocks. Work posted
// after the loop stopped is dropped; Post reports whether f was queued.
func (l *Loop) Post(f func()) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, f)
	l.pending.Add(1)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// Do runs f on the loop goroutine and waits for it to finish. It returns
// ctx.Err() if ctx ends first or the loop has stopped.
func (l *Loop) Do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	if !l.Post(func() { f(); close(done) }) {
		return context.Canceled
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pending returns how many posted items wait to start: the loop's
// backlog, cheap enough (one atomic load) for an adapter to check on
// every request it admits.
func (l *Loop) Pending() int { return int(l.pending.Load()) }

// Run executes posted work until ctx ends. Work still queued then is dropped.
func (l *Loop) Run(ctx context.Context) {
	defer func() {
		l.mu.Lock()
		l.stopped = true
		l.queue = nil
		l.pending.Store(0)
		l.mu.Unlock()
	}()
	var batch []func()
	for {
		l.mu.Lock()
		batch, l.queue = l.queue, batch[:0]
		l.mu.Unlock()
		for i, f := range batch {
			if ctx.Err() != nil {
				return
			}
			l.pending.Add(-1)
			f()
			batch[i] = nil
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
	}
}

// Real is the wall clock; its timer callbacks run on a Loop.
type Real struct {
	loop *Loop
}

// NewReal returns a wall clock whose callbacks run on loop.
func NewReal(loop *Loop) *Real { return &Real{loop: loop} }

// Now returns the wall-clock time.
func (r *Real) Now() time.Time { return time.Now() }

// AfterFunc runs f on the loop after d.
func (r *Real) AfterFunc(d time.Duration, f func()) Timer {
	t := &realTimer{}
	t.t = time.AfterFunc(d, func() {
		r.loop.Post(func() {
			// Stop may have been called after the runtime timer fired
			// but before the loop ran us.
			if t.stopped.CompareAndSwap(false, true) {
				f()
			}
		})
	})
	return t
}

type realTimer struct {
	t       *time.Timer
	stopped atomic.Bool
}

// Stop cancels the callback if it has not started yet.
func (t *realTimer) Stop() bool {
	t.t.Stop()
	return t.stopped.CompareAndSwap(false, true)
}
