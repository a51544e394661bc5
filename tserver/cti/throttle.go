package cti

import (
	"net"
	"time"
)

// Failed logins are throttled per client host: after maxFailedLogins
// failures (an unknown agent or a wrong password) within failedLoginWindow
// of the first, every login from that host is refused until the window
// has passed, so that a password cannot be guessed at the speed of the
// network. A successful login clears the host's count.
const (
	maxFailedLogins   = 5
	failedLoginWindow = time.Minute
	// maxThrottledHosts bounds the table; past it the oldest windows are
	// the first to go.
	maxThrottledHosts = 10_000
)

// loginFailures is one host's failed logins in the current window.
type loginFailures struct {
	count int
	since time.Time
}

// loginHost is the host part of a connection's remote address.
func loginHost(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// loginWait returns how long logins from host are refused still (0: not
// refused). It runs on the loop.
func (s *Server) loginWait(host string) time.Duration {
	f := s.st.failed[host]
	if f == nil {
		return 0
	}
	left := failedLoginWindow - s.clock.Now().Sub(f.since)
	if left <= 0 {
		delete(s.st.failed, host)
		return 0
	}
	if f.count < maxFailedLogins {
		return 0
	}
	return left
}

// loginFailed counts a failed login from host. It runs on the loop.
func (s *Server) loginFailed(host string) {
	now := s.clock.Now()
	f := s.st.failed[host]
	if f == nil || now.Sub(f.since) >= failedLoginWindow {
		if len(s.st.failed) >= maxThrottledHosts {
			s.dropOldestFailures(now)
		}
		f = &loginFailures{since: now}
		s.st.failed[host] = f
	}
	f.count++
	if f.count == maxFailedLogins {
		s.log.Warn().Str("host", host).Int("failures", f.count).Dur("for", failedLoginWindow-now.Sub(f.since)).
			Msg("cti: too many failed logins; logins from this host refused for a while")
	}
}

// dropOldestFailures makes room in a full table: windows that are over
// go, and if none is, every window older than half of one.
func (s *Server) dropOldestFailures(now time.Time) {
	for h, f := range s.st.failed {
		if now.Sub(f.since) >= failedLoginWindow {
			delete(s.st.failed, h)
		}
	}
	if len(s.st.failed) < maxThrottledHosts {
		return
	}
	for h, f := range s.st.failed {
		if now.Sub(f.since) >= failedLoginWindow/2 {
			delete(s.st.failed, h)
		}
	}
	if len(s.st.failed) >= maxThrottledHosts {
		clear(s.st.failed) // all within half a window: a flood of hosts
	}
}
