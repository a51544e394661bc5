package cti

import (
	"net"
	"time"
)

// Failed logins (an unknown agent or a wrong password) are throttled so
// that a password cannot be guessed at the speed of the network: after
// maxFailedLogins failures for one agent from one client host within
// failedLoginWindow of the first, that agent's logins from that host are
// refused until the window has passed; after maxHostFailures failures for
// any agents, every login from the host is. A successful login clears the
// agent's count. Keyed by agent as well as host, a desktop behind the same
// proxy as an attacker is locked out only for the agent under attack
// (DESIGN.md puts CTI behind HTTP load balancers).
const (
	maxFailedLogins   = 5
	maxHostFailures   = 50
	failedLoginWindow = time.Minute
	// maxThrottledHosts bounds the table (hosts and host-agent pairs);
	// past it the oldest windows are the first to go.
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

// failureKey is the throttle's key for agentID's logins from host; the
// host's own key is host alone.
func failureKey(host, agentID string) string { return host + "\x00" + agentID }

// loginWait returns how long agentID's logins from host are refused still
// (0: not refused), and whether the whole host is. It runs on the loop.
func (s *Server) loginWait(host, agentID string) (time.Duration, bool) {
	if w := s.waitFor(host, maxHostFailures); w > 0 {
		return w, true
	}
	return s.waitFor(failureKey(host, agentID), maxFailedLogins), false
}

// waitFor is how long key's logins are refused still, at limit failures.
func (s *Server) waitFor(key string, limit int) time.Duration {
	f := s.st.failed[key]
	if f == nil {
		return 0
	}
	left := failedLoginWindow - s.clock.Now().Sub(f.since)
	if left <= 0 {
		delete(s.st.failed, key)
		return 0
	}
	if f.count < limit {
		return 0
	}
	return left
}

// loginFailed counts a failed login for agentID from host. It runs on
// the loop.
func (s *Server) loginFailed(host, agentID string) {
	if s.countFailure(failureKey(host, agentID)) == maxFailedLogins {
		s.log.Warn().Str("host", host).Str("agent", agentID).Int("failures", maxFailedLogins).
			Msg("cti: too many failed logins; this agent's logins from this host refused for a while")
	}
	if s.countFailure(host) == maxHostFailures {
		s.log.Warn().Str("host", host).Int("failures", maxHostFailures).
			Msg("cti: too many failed logins; every login from this host refused for a while")
	}
}

// countFailure counts one failure for key and returns its count in the
// current window.
func (s *Server) countFailure(key string) int {
	now := s.clock.Now()
	f := s.st.failed[key]
	if f == nil || now.Sub(f.since) >= failedLoginWindow {
		if len(s.st.failed) >= maxThrottledHosts {
			s.dropOldestFailures(now)
		}
		f = &loginFailures{since: now}
		s.st.failed[key] = f
	}
	f.count++
	return f.count
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
