package auth

import (
	"net"
	"sync"
	"time"
)

// Throttle limits failed logins so that a password cannot be guessed at
// the speed of the network: after MaxFailures failures for one name
// (agent id or user) from one client host within Window of the first,
// that name's logins from that host are refused until the window has
// passed; after MaxHostFailures failures for any names, every login from
// the host is. A success clears the name's count. Keyed by name as well as
// host, a desktop behind the same proxy as an attacker is locked out only
// for the name under attack (DESIGN.md puts CTI behind HTTP load
// balancers).
//
// One Throttle may serve several doors (CTI logins, SIP registrations):
// their failures then count together. It is safe for concurrent use.
type Throttle struct {
	now func() time.Time

	mu     sync.Mutex
	failed map[string]*failures
}

// The throttle's limits.
const (
	MaxFailures     = 5
	MaxHostFailures = 50
	Window          = time.Minute
	// maxThrottled bounds the table (hosts and host-name pairs); past it
	// the oldest windows are the first to go.
	maxThrottled = 10_000
)

// failures are one key's failed logins in the current window.
type failures struct {
	count int
	since time.Time
}

// NewThrottle returns a Throttle that reads the time from now (time.Now
// when nil).
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, failed: map[string]*failures{}}
}

// Host is the host part of a remote address ("192.0.2.7:5060" gives
// "192.0.2.7"); an address without a port is its own host.
func Host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func nameKey(host, name string) string { return host + "\x00" + name }

// Wait returns how long name's logins from host are refused still (0:
// not refused), and whether the whole host is.
func (t *Throttle) Wait(host, name string) (wait time.Duration, wholeHost bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if w := t.waitFor(now, host, MaxHostFailures); w > 0 {
		return w, true
	}
	return t.waitFor(now, nameKey(host, name), MaxFailures), false
}

func (t *Throttle) waitFor(now time.Time, key string, limit int) time.Duration {
	f := t.failed[key]
	if f == nil {
		return 0
	}
	left := Window - now.Sub(f.since)
	if left <= 0 {
		delete(t.failed, key)
		return 0
	}
	if f.count < limit {
		return 0
	}
	return left
}

// Failed counts a failed login for name from host. nameLocked and
// hostLocked report that this failure reached a limit, for the door to log
// once.
func (t *Throttle) Failed(host, name string) (nameLocked, hostLocked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	nameLocked = t.count(now, nameKey(host, name)) == MaxFailures
	hostLocked = t.count(now, host) == MaxHostFailures
	return nameLocked, hostLocked
}

// Succeeded clears name's failures from host (the host's own count
// stays).
func (t *Throttle) Succeeded(host, name string) {
	t.mu.Lock()
	delete(t.failed, nameKey(host, name))
	t.mu.Unlock()
}

// count counts one failure for key and returns its count in the current
// window.
func (t *Throttle) count(now time.Time, key string) int {
	f := t.failed[key]
	if f == nil || now.Sub(f.since) >= Window {
		if len(t.failed) >= maxThrottled {
			t.dropOldest(now)
		}
		f = &failures{since: now}
		t.failed[key] = f
	}
	f.count++
	return f.count
}

// dropOldest makes room in a full table: windows that are over go, and if
// none is, every window older than half of one.
func (t *Throttle) dropOldest(now time.Time) {
	for k, f := range t.failed {
		if now.Sub(f.since) >= Window {
			delete(t.failed, k)
		}
	}
	if len(t.failed) < maxThrottled {
		return
	}
	for k, f := range t.failed {
		if now.Sub(f.since) >= Window/2 {
			delete(t.failed, k)
		}
	}
	if len(t.failed) >= maxThrottled {
		clear(t.failed) // all within half a window: a flood of hosts
	}
}
