package registrar

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// HandleRegister answers a REGISTER request (RFC 3261 §10.3). Use it as
// sipgo's OnRegister handler.
//
// The order of the checks, each answering and changing nothing when it
// fails: the request is well formed (To, Call-ID, CSeq, Contact and Expires
// parse; else 400 with the reason in the reason phrase) and requires no
// extension (else 420); the digest credentials are right for the To user
// (else 401 with a challenge, 401 stale=true for an expired nonce, 403 for
// a wrong password or an unknown user, 400 for malformed credentials); no
// contact asks for less than MinExpires (else 423 with Min-Expires); no
// update is older than the binding it updates (same Call-ID, CSeq not
// higher: else 500, per §10.3 step 7). Then all the contacts are applied at
// once and 200 OK lists every current binding with its remaining expires.
// A REGISTER without Contact is a query: 200 OK lists the bindings.
func (r *Registrar) HandleRegister(req *sip.Request, tx sip.ServerTransaction) {
	res := r.register(req)
	_ = tx.Respond(res) // a transport error leaves nothing to undo: the client retries
	r.deliver()
}

// register processes req and returns the response; OnChange calls are
// queued, not delivered.
func (r *Registrar) register(req *sip.Request) *sip.Response {
	if req.Method != sip.REGISTER {
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", "REGISTER"))
		return res
	}
	now := r.now()
	user, res := r.identity(req)
	if res != nil {
		return res
	}
	u, res := r.parseUpdate(req)
	if res != nil {
		return res
	}
	if res := r.throttled(req, user); res != nil {
		return res
	}
	v := r.verify(req, user, now)
	r.counted(req, user, v)
	if v.outcome != authOK {
		return r.authResponse(req, user, v, now)
	}
	for _, c := range u.contacts {
		if c.expires > 0 && c.expires < r.minExpires {
			res := sip.NewResponseFromRequest(req, sip.StatusIntervalToBrief, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int((r.minExpires+time.Second-1)/time.Second))))
			return res
		}
	}

	r.mu.Lock()
	contacts, err := r.apply(user, u, now)
	r.mu.Unlock()
	if err != nil {
		// RFC 3261 §10.3: a failed binding update fails the request with 500.
		return sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Out-Of-Order CSeq", nil)
	}

	r.log.Debug().Str("user", user).Str("source", req.Source()).
		Int("contacts", len(contacts)).Msg("registrar: registered")
	res = sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, c := range contacts {
		remaining := max(0, int64((c.Expires.Sub(now)+time.Second-1)/time.Second))
		res.AppendHeader(&sip.ContactHeader{
			Address: *c.URI.Clone(),
			Params:  sip.HeaderParams{{K: "expires", V: strconv.FormatInt(remaining, 10)}},
		})
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(http.TimeFormat)))
	return res
}

// update is what a well-formed REGISTER asks for.
type update struct {
	wildcard  bool // Contact: * (with Expires: 0): remove every binding
	contacts  []contactUpdate
	callID    string
	cseq      uint32
	source    string
	transport string
	userAgent string
}

type contactUpdate struct {
	uri     sip.Uri
	expires time.Duration // 0 removes the binding
}

// parseUpdate validates req and extracts the update, or returns a 400 (or
// 420) response.
func (r *Registrar) parseUpdate(req *sip.Request) (*update, *sip.Response) {
	u := &update{source: req.Source(), transport: req.Transport()}
	callID := req.CallID()
	if callID == nil || callID.Value() == "" {
		return nil, badRequest(req, "missing Call-ID")
	}
	u.callID = callID.Value()
	cseq := req.CSeq()
	if cseq == nil {
		return nil, badRequest(req, "missing or malformed CSeq")
	}
	if cseq.MethodName != sip.REGISTER {
		return nil, badRequest(req, "CSeq method is not REGISTER")
	}
	u.cseq = cseq.SeqNo
	if h := req.GetHeader("User-Agent"); h != nil {
		u.userAgent = h.Value()
	}
	if res := checkRequire(req); res != nil {
		return nil, res
	}

	headerExpires, hasExpires := time.Duration(0), false
	switch hs := req.GetHeaders("Expires"); len(hs) {
	case 0:
	case 1:
		d, err := parseDeltaSeconds(hs[0].Value())
		if err != nil {
			return nil, badRequest(req, "malformed Expires header")
		}
		headerExpires, hasExpires = d, true
	default:
		return nil, badRequest(req, "more than one Expires header")
	}

	headers, err := contactHeaders(req)
	if err != nil {
		return nil, badRequest(req, "malformed Contact header")
	}
	for _, h := range headers {
		if h.Address.Wildcard && h.Address.Scheme == "" {
			u.wildcard = true
			continue
		}
		if !isSIPScheme(h.Address.Scheme) || h.Address.Host == "" || h.Address.Wildcard {
			return nil, badRequest(req, "Contact is not a SIP URI")
		}
		cu := contactUpdate{uri: *h.Address.Clone()}
		if v, ok := param(h.Params, "expires"); ok {
			d, err := parseDeltaSeconds(v)
			if err != nil {
				return nil, badRequest(req, "malformed Contact expires parameter")
			}
			cu.expires = d
		} else if hasExpires {
			cu.expires = headerExpires
		} else {
			cu.expires = r.defaultExpires
		}
		cu.expires = min(cu.expires, r.maxExpires)
		u.contacts = append(u.contacts, cu)
	}
	if u.wildcard {
		// RFC 3261 §10.3 step 6.
		if len(headers) > 1 {
			return nil, badRequest(req, "Contact * with other contacts")
		}
		if !hasExpires || headerExpires != 0 {
			return nil, badRequest(req, "Contact * without Expires: 0")
		}
	}
	return u, nil
}

// contactHeaders returns the Contact headers of req, one per contact,
// parsing those that came as generic headers.
func contactHeaders(req *sip.Request) ([]*sip.ContactHeader, error) {
	var out []*sip.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		if ch, ok := h.(*sip.ContactHeader); ok {
			out = append(out, ch)
			continue
		}
		parsed, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte("Contact: "+h.Value()))
		if err != nil {
			return nil, err
		}
		for _, p := range parsed {
			ch, ok := p.(*sip.ContactHeader)
			if !ok {
				return nil, errors.New("not a contact")
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

// checkRequire answers 420 Bad Extension when req requires an option: this
// registrar supports none (RFC 3261 §10.3 step 2).
func checkRequire(req *sip.Request) *sip.Response {
	var unsupported []string
	for _, h := range req.GetHeaders("Require") {
		for opt := range strings.SplitSeq(h.Value(), ",") {
			if opt = strings.TrimSpace(opt); opt != "" {
				unsupported = append(unsupported, opt)
			}
		}
	}
	if len(unsupported) == 0 {
		return nil
	}
	res := sip.NewResponseFromRequest(req, sip.StatusBadExtension, "Bad Extension", nil)
	res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
	return res
}

// maxDelta is the largest delta-seconds value: RFC 3261 §20.19 treats
// larger ones as 2**32-1.
const maxDelta = math.MaxUint32 * time.Second

// parseDeltaSeconds parses delta-seconds (1*DIGIT).
func parseDeltaSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not delta-seconds")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return maxDelta, nil // all digits: only too large
	}
	return time.Duration(n) * time.Second, nil
}

// param returns the value of the header parameter named key, ignoring case.
func param(ps sip.HeaderParams, key string) (string, bool) {
	for _, kv := range ps {
		if strings.EqualFold(kv.K, key) {
			return kv.V, true
		}
	}
	return "", false
}

// errOutOfOrder fails a REGISTER older than a binding it would update.
var errOutOfOrder = errors.New("registrar: CSeq not higher than the binding's")

// apply commits u to user's bindings, all or nothing, queues OnChange when
// the set of bindings changed, and returns the current bindings. r.mu is
// held.
func (r *Registrar) apply(user string, u *update, now time.Time) ([]Contact, error) {
	old := r.aors[user]
	// RFC 3261 §10.3 steps 6 and 7: with the same Call-ID, a REGISTER must
	// have a higher CSeq than the one that last updated the binding.
	stale := func(b binding) bool { return b.CallID == u.callID && u.cseq <= b.CSeq }
	next := make([]binding, 0, len(old)+len(u.contacts))
	for _, b := range old {
		if b.Expires.After(now) {
			next = append(next, b)
		}
	}
	if u.wildcard {
		if slices.ContainsFunc(next, stale) {
			return nil, errOutOfOrder
		}
		next = next[:0]
	}
	n := uint64(len(u.contacts))
	for k, c := range u.contacts {
		i := slices.IndexFunc(next, func(b binding) bool { return sameURI(&b.URI, &c.uri) })
		if i >= 0 && stale(next[i]) && next[i].seq <= r.seq {
			// Bindings added by this request have seq > r.seq: a contact
			// listed twice is not out of order with itself.
			return nil, errOutOfOrder
		}
		if c.expires == 0 {
			if i >= 0 {
				next = slices.Delete(next, i, i+1)
			}
			continue
		}
		b := binding{
			Contact: Contact{
				URI:       c.uri,
				Source:    u.source,
				Transport: u.transport,
				Expires:   now.Add(c.expires),
				UserAgent: u.userAgent,
				CallID:    u.callID,
				CSeq:      u.cseq,
			},
			// The first contact of the request ranks first in Lookup.
			seq: r.seq + n - uint64(k),
		}
		if i >= 0 {
			next[i] = b
		} else {
			next = append(next, b)
		}
	}
	r.seq += n
	r.store(user, next)
	cur := live(next, now)
	if !sameSet(old, next) {
		r.notify(user, cur)
	}
	return cur, nil
}

// sameSet reports whether two binding lists hold the same contacts
// (compared as URIs), registered from the same places. Expiry times are
// not compared: a plain refresh is no change.
func sameSet(a, b []binding) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && x.Source == y.Source && x.Transport == y.Transport && sameURI(&x.URI, &y.URI) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}
