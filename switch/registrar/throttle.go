package registrar

import (
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Throttle counts failed authentications by source host and user, so that
// a password cannot be guessed at the rate SIP carries. The CTI server's
// logins share one (internal/auth.Throttle implements it), so that the
// same password, guessed at either door, counts once.
type Throttle interface {
	// Wait returns how long user's attempts from host are refused still
	// (0: not refused), and whether every attempt from host is.
	Wait(host, user string) (wait time.Duration, wholeHost bool)
	// Failed counts one failure; it reports whether this one reached the
	// user's or the host's limit (for one warning).
	Failed(host, user string) (userLocked, hostLocked bool)
	// Succeeded clears user's failures from host.
	Succeeded(host, user string)
}

type nopThrottle struct{}

func (nopThrottle) Wait(string, string) (time.Duration, bool) { return 0, false }
func (nopThrottle) Failed(string, string) (bool, bool)        { return false, false }
func (nopThrottle) Succeeded(string, string)                  {}

// sourceHost is the host a request came from.
func sourceHost(req *sip.Request) string {
	if h, _, err := net.SplitHostPort(req.Source()); err == nil {
		return h
	}
	return req.Source()
}

// throttled answers a request whose credentials come from a host or for a
// user that failed too often: 403 at once, without checking them (a
// correct password is refused too, until the window is over); nil when
// the request may be checked. Requests without credentials (the first leg
// of every registration) are never throttled: a challenge costs nothing.
func (r *Registrar) throttled(req *sip.Request, identity string) *sip.Response {
	if cred, _ := findCredentials(req, r.realm); cred == nil {
		return nil
	}
	wait, _ := r.throttle.Wait(sourceHost(req), identity)
	if wait <= 0 {
		return nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return sip.NewResponseFromRequest(req, sip.StatusForbidden,
		"Forbidden: too many failed attempts, retry in "+strconv.Itoa(secs)+" s", nil)
}

// counted records the outcome of a credentials check with the throttle,
// and logs a failure while the user is not yet locked (then once, as a
// warning, when it gets locked): failures cost the log a bounded number
// of lines per user, host and window.
func (r *Registrar) counted(req *sip.Request, identity string, v verdict) {
	host := sourceHost(req)
	switch v.outcome {
	case authOK:
		r.throttle.Succeeded(host, identity)
		return
	case authForbidden:
		userLocked, hostLocked := r.throttle.Failed(host, identity)
		if userLocked || hostLocked {
			r.log.Warn().Str("aor", identity).Str("source", host).Bool("whole_host", hostLocked).
				Msg("registrar: too many failed authentications; refusing them for a while")
			return
		}
	}
	r.logFailure(req, identity, v)
}
