package registrar

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// uriParamsThatMustMatch are the URI parameters that, present in one URI,
// must be present and equal in the other (RFC 3261 §19.1.4).
var uriParamsThatMustMatch = []string{"user", "ttl", "method", "maddr", "transport"}

// sameURI compares SIP URIs by the rules of RFC 3261 §19.1.4: scheme and
// host ignore case, user and password do not, a missing port differs from
// an explicit default one, the parameters user, ttl, method, maddr and
// transport must match when either URI has them, other parameters only
// when both have them, and URI headers must match.
func sameURI(a, b *sip.Uri) bool {
	if !strings.EqualFold(a.Scheme, b.Scheme) || a.Raw() != b.Raw() ||
		a.User != b.User || a.Password != b.Password ||
		!strings.EqualFold(a.Host, b.Host) || a.Port != b.Port ||
		a.Wildcard != b.Wildcard {
		return false
	}
	for _, kv := range a.UriParams {
		v, ok := param(b.UriParams, kv.K)
		if ok && !strings.EqualFold(v, kv.V) {
			return false
		}
	}
	for _, k := range uriParamsThatMustMatch {
		_, inA := param(a.UriParams, k)
		_, inB := param(b.UriParams, k)
		if inA != inB {
			return false
		}
	}
	if len(a.Headers) != len(b.Headers) {
		return false
	}
	for _, kv := range a.Headers {
		if v, ok := param(b.Headers, kv.K); !ok || v != kv.V {
			return false
		}
	}
	return true
}
