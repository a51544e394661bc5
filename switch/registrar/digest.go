package registrar

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Credentials gives the stored secret of each SIP user.
type Credentials interface {
	// HA1 returns MD5(user:realm:password) in lower-case hex (see HA1) and
	// true, or false when the user is unknown in realm. It is called from
	// many goroutines at once and must not block for long.
	HA1(user, realm string) (ha1 string, ok bool)
}

// HA1 returns MD5(user ":" realm ":" password) in lower-case hex: the form in
// which credentials are stored (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).
func HA1(user, realm, password string) string {
	return md5hex(user + ":" + realm + ":" + password)
}

// StaticCredentials maps a user to its HA1 for the registrar's realm. The
// caller builds it from the configured passwords at load time (see
// NewStaticCredentials) and does not change it afterwards.
type StaticCredentials map[string]string

var _ Credentials = StaticCredentials(nil)

// NewStaticCredentials hashes passwords (user -> password) for realm.
func NewStaticCredentials(realm string, passwords map[string]string) StaticCredentials {
	c := make(StaticCredentials, len(passwords))
	for user, password := range passwords {
		c[user] = HA1(user, realm, password)
	}
	return c
}

// HA1 returns the stored HA1 of user. The map holds one realm, so realm is
// not consulted.
func (c StaticCredentials) HA1(user, _ string) (string, bool) {
	ha1, ok := c[user]
	return ha1, ok
}

// NoCredentials returns Credentials that know no user: every
// authentication fails.
func NoCredentials() Credentials { return noCredentials{} }

type noCredentials struct{}

func (noCredentials) HA1(string, string) (string, bool) { return "", false }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Nonce layout, before base64url encoding (33 bytes, 44 characters):
//
//	version(1) | issued, Unix ns, big endian(8) | salt(8) | MAC(16)
//
// MAC = HMAC-SHA256(secret, label | version | issued | salt | realm | 0 | user),
// truncated to 16 bytes. The registrar keeps no state per challenge: it
// recomputes the MAC to know it issued the nonce, for this user and realm,
// and reads the issue time to know whether it is stale.
const (
	nonceVersion = 1
	nonceHeadLen = 1 + 8 + 8
	nonceMACLen  = 16
	nonceLen     = nonceHeadLen + nonceMACLen
	// maxClockSkew tolerates nonces issued slightly in the future, by a
	// node sharing the secret whose clock is ahead.
	maxClockSkew = 30 * time.Second
	nonceLabel   = "ccswitch registrar nonce\x00"
)

func (r *Registrar) newNonce(user string, now time.Time) string {
	var raw [nonceLen]byte
	raw[0] = nonceVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(now.UnixNano()))
	rand.Read(raw[9:nonceHeadLen])
	copy(raw[nonceHeadLen:], r.nonceMAC(raw[:nonceHeadLen], user))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (r *Registrar) nonceMAC(head []byte, user string) []byte {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(nonceLabel))
	m.Write(head)
	m.Write([]byte(r.realm))
	m.Write([]byte{0})
	m.Write([]byte(user))
	return m.Sum(nil)[:nonceMACLen]
}

type nonceState uint8

const (
	nonceInvalid nonceState = iota // not ours, tampered, or for another user
	nonceFresh
	nonceStale
)

func (r *Registrar) checkNonce(nonce, user string, now time.Time) nonceState {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceLen || raw[0] != nonceVersion {
		return nonceInvalid
	}
	if !hmac.Equal(raw[nonceHeadLen:], r.nonceMAC(raw[:nonceHeadLen], user)) {
		return nonceInvalid
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[1:9])))
	switch age := now.Sub(issued); {
	case age < -maxClockSkew:
		return nonceInvalid
	case age > r.nonceTTL:
		return nonceStale
	}
	return nonceFresh
}

// makeOpaque derives the constant opaque value of the challenges.
func (r *Registrar) makeOpaque() string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte("ccswitch registrar opaque\x00" + r.realm))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// outcome is the result of checking a request's credentials.
type outcome uint8

const (
	authOK        outcome = iota
	authChallenge         // no usable credentials for our realm: challenge
	authStale             // right digest, expired nonce: challenge, stale=true
	authForbidden         // wrong password, unknown user, or not the user's AOR
	authBad               // malformed credentials: 400
)

// verdict is an outcome with a reason for the response and the log. The
// reason never contains a secret, a nonce or a digest.
type verdict struct {
	outcome outcome
	reason  string
	user    string // the username the client claimed, for the log
}

// authHeaders are the headers holding credentials, preferred first.
func authHeaders(m sip.RequestMethod) []string {
	if m == sip.REGISTER {
		return []string{"Authorization"}
	}
	return []string{"Proxy-Authorization", "Authorization"}
}

// findCredentials returns the digest credentials of req for realm; nil
// and no error when there are none, an error when one is malformed.
func findCredentials(req *sip.Request, realm string) (*digest.Credentials, error) {
	var bad error
	for _, name := range authHeaders(req.Method) {
		for _, h := range req.GetHeaders(name) {
			if !digest.IsDigest(h.Value()) {
				continue
			}
			cred, err := digest.ParseCredentials(h.Value())
			if err != nil {
				bad = fmt.Errorf("malformed %s header", name)
				continue
			}
			if cred.Realm == realm {
				return cred, nil
			}
		}
	}
	return nil, bad
}

// verify checks the digest credentials of req for identity, the user whose
// address of record the request acts on (the To user of a REGISTER, the
// From user otherwise).
func (r *Registrar) verify(req *sip.Request, identity string, now time.Time) verdict {
	cred, err := findCredentials(req, r.realm)
	switch {
	case err != nil && cred == nil:
		return verdict{outcome: authBad, reason: err.Error()}
	case cred == nil:
		return verdict{outcome: authChallenge, reason: "no credentials"}
	}
	v := verdict{user: cred.Username}
	fail := func(o outcome, reason string) verdict {
		v.outcome, v.reason = o, reason
		return v
	}
	switch {
	case cred.Username == "" || cred.Nonce == "" || cred.URI == "" || cred.Response == "":
		return fail(authBad, "incomplete credentials")
	case cred.Algorithm != "" && !strings.EqualFold(cred.Algorithm, "MD5"):
		return fail(authChallenge, "unsupported algorithm")
	case cred.Userhash:
		return fail(authChallenge, "userhash not supported")
	case cred.Opaque != "" && cred.Opaque != r.opaque:
		return fail(authChallenge, "opaque mismatch")
	case cred.Username != identity:
		return fail(authForbidden, "username does not match the address of record")
	case !digestURIMatches(cred.URI, &req.Recipient):
		return fail(authBad, "digest uri does not match the Request-URI")
	}
	var ncnonce string // nc:cnonce:qop: of the response, per qop
	switch strings.ToLower(cred.QOP) {
	case "":
	case "auth":
		if cred.Cnonce == "" || cred.Nc <= 0 {
			return fail(authBad, "qop=auth without cnonce or nc")
		}
		ncnonce = fmt.Sprintf("%08x:%s:%s:", cred.Nc, cred.Cnonce, cred.QOP)
	default:
		return fail(authBad, "unsupported qop")
	}
	state := r.checkNonce(cred.Nonce, identity, now)
	if state == nonceInvalid {
		return fail(authChallenge, "invalid nonce")
	}
	ha1, known := r.creds.HA1(cred.Username, r.realm)
	if !known {
		// Do the same work as for a known user, then fail the same way:
		// the response does not tell whether the user exists.
		ha1 = md5hex(r.opaque + cred.Username)
	}
	ha2 := md5hex(string(req.Method) + ":" + cred.URI)
	want := md5hex(strings.ToLower(ha1) + ":" + cred.Nonce + ":" + ncnonce + ha2)
	ok := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cred.Response))) == 1
	switch {
	case !known:
		return fail(authForbidden, "unknown user")
	case !ok:
		return fail(authForbidden, "wrong credentials")
	case state == nonceStale:
		return fail(authStale, "stale nonce")
	}
	return fail(authOK, "")
}

// digestURIMatches reports whether the digest-uri of the credentials names
// the Request-URI (RFC 2617 §3.2.2.5): equal text, equal by the URI
// comparison rules of RFC 3261 §19.1.4, or — as common clients write it
// (sipgo, SIPp) — the same user, host and port without the scheme or the
// URI parameters.
func digestURIMatches(s string, ruri *sip.Uri) bool {
	if s == ruri.String() {
		return true
	}
	var u sip.Uri
	if !strings.Contains(s, ":") || strings.Count(s, ":") == 1 && !strings.HasPrefix(strings.ToLower(s), "sip") {
		s = ruri.Scheme + ":" + s
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return false
	}
	if sameURI(&u, ruri) {
		return true
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User &&
		strings.EqualFold(u.Host, ruri.Host) && u.Port == ruri.Port && len(u.UriParams) == 0
}

// authResponse turns a failed verdict into the response to send: a
// challenge (401 for REGISTER, 407 otherwise), 403 or 400.
func (r *Registrar) authResponse(req *sip.Request, identity string, v verdict, now time.Time) *sip.Response {
	switch v.outcome {
	case authChallenge, authStale:
		code, reason, header := sip.StatusUnauthorized, "Unauthorized", "WWW-Authenticate"
		if req.Method != sip.REGISTER {
			code, reason, header = sip.StatusProxyAuthRequired, "Proxy Authentication Required", "Proxy-Authenticate"
		}
		chal := digest.Challenge{
			Realm:     r.realm,
			Nonce:     r.newNonce(identity, now),
			Opaque:    r.opaque,
			Stale:     v.outcome == authStale,
			Algorithm: "MD5",
			QOP:       []string{"auth"},
		}
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader(header, chal.String()))
		return res
	case authForbidden:
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	default:
		return badRequest(req, v.reason)
	}
}

// logFailure records a failed authentication: who claimed to be whom,
// from where, and why; never a password, nonce or digest.
func (r *Registrar) logFailure(req *sip.Request, identity string, v verdict) {
	if v.outcome == authChallenge && v.reason == "no credentials" {
		return // the normal first leg of every registration
	}
	r.log.Info().
		Str("method", string(req.Method)).
		Str("aor", identity).
		Str("username", v.user).
		Str("source", req.Source()).
		Str("reason", v.reason).
		Msg("registrar: authentication failed")
}

// Authenticate checks the digest credentials of req, a request from a
// registered user (INVITE, MESSAGE, ...): the username must be the From
// user (the To user for REGISTER). On success it returns the user and true
// and sends nothing. Otherwise it has already answered the request: 407
// with a Proxy-Authenticate challenge (401 with WWW-Authenticate for
// REGISTER), 403 for wrong credentials, 400 for malformed ones.
func (r *Registrar) Authenticate(req *sip.Request, tx sip.ServerTransaction) (user string, ok bool) {
	now := r.now()
	identity, res := r.identity(req)
	if res == nil {
		res = r.throttled(req, identity)
	}
	if res == nil {
		v := r.verify(req, identity, now)
		r.counted(req, identity, v)
		if v.outcome == authOK {
			return identity, true
		}
		res = r.authResponse(req, identity, v, now)
	}
	_ = tx.Respond(res) // a transport error leaves nothing to undo
	return "", false
}

// identity returns the user a request acts for: the To user of a
// REGISTER, the From user otherwise; or a 400 response.
func (r *Registrar) identity(req *sip.Request) (string, *sip.Response) {
	if req.Method == sip.REGISTER {
		to := req.To()
		if to == nil {
			return "", badRequest(req, "missing or malformed To header")
		}
		return aorUser(req, &to.Address, "To")
	}
	from := req.From()
	if from == nil {
		return "", badRequest(req, "missing or malformed From header")
	}
	return aorUser(req, &from.Address, "From")
}

func aorUser(req *sip.Request, u *sip.Uri, header string) (string, *sip.Response) {
	if !isSIPScheme(u.Scheme) || u.Wildcard {
		return "", badRequest(req, header+" is not a SIP URI")
	}
	if u.User == "" {
		return "", badRequest(req, header+" has no user")
	}
	return u.User, nil
}

func isSIPScheme(s string) bool {
	return strings.EqualFold(s, "sip") || strings.EqualFold(s, "sips")
}

// badRequest returns 400 with reason as the reason phrase.
func badRequest(req *sip.Request, reason string) *sip.Response {
	return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request ("+reason+")", nil)
}
