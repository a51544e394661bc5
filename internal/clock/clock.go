// Package clock gives the routing domain its only notion of time. The domain
// reads Now and schedules work with AfterFunc; it never reads the wall clock
// nor starts goroutines. Live, a Real clock posts timer callbacks into the
// single Loop goroutine that owns the domain; in simulations, a Virtual clock
// runs callbacks from a (when, seq) min-heap on the caller's goroutine,
// deterministically and as fast as the CPU allows.
package clock

import "time"

// Clock is what the domain knows of time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc runs f once, d from now, on the domain's goroutine. A
	// non-positive d runs f as soon as possible, never from inside
	// AfterFunc itself.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call. It reports whether it stopped the call
	// before it ran.
	Stop() bool
}

// Epoch is the instant a Virtual clock starts at: a fixed date, so that
// simulated timestamps are the same on every run.
var Epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
