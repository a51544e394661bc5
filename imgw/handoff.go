package imgw

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// A hand-off token vouches, from the company's site, that whoever opens
// the web chat with it is the customer with that number, until it
// expires. The site signs it with the secret im.identity names; the
// gateway (Options.HandoffSecret) checks it on its own clock. Its form:
//
//	base64url(customer number) "." expiry (Unix seconds) "." base64url(HMAC-SHA256)
//
// The MAC covers handoffContext, the number and the expiry, each followed
// by a NUL byte.
const handoffContext = "ccswitch-handoff-v1"

// MinHandoffSecret is the least length of a hand-off secret, in bytes.
const MinHandoffSecret = 32

// maxHandoffToken bounds a token the gateway looks at.
const maxHandoffToken = 512

// Hand-off errors.
var (
	// ErrHandoffInvalid: the token is malformed or its signature does
	// not match (forged, or signed with another secret).
	ErrHandoffInvalid = errors.New("imgw: hand-off token invalid")
	// ErrHandoffExpired: the token's signature matches but it expired.
	ErrHandoffExpired = errors.New("imgw: hand-off token expired")
)

func handoffMAC(secret []byte, number string, expiry int64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(handoffContext + "\x00" + number + "\x00" + strconv.FormatInt(expiry, 10) + "\x00"))
	return m.Sum(nil)
}

// SignHandoff returns the token for the customer with that number, valid
// until expiry (to the second). The company's site does the same in its
// own language; tests and tools use this.
func SignHandoff(secret []byte, number string, expiry time.Time) string {
	exp := expiry.Unix()
	return base64.RawURLEncoding.EncodeToString([]byte(number)) + "." + strconv.FormatInt(exp, 10) + "." +
		base64.RawURLEncoding.EncodeToString(handoffMAC(secret, number, exp))
}

// VerifyHandoff checks token against secret, the signature in constant
// time, and returns the customer number it vouches for if it has not
// expired at now. An empty secret verifies nothing.
func VerifyHandoff(secret []byte, token string, now time.Time) (string, error) {
	if len(secret) == 0 || len(token) > maxHandoffToken {
		return "", ErrHandoffInvalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", ErrHandoffInvalid
	}
	num, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	mac, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(num) == 0 {
		return "", ErrHandoffInvalid
	}
	if !hmac.Equal(mac, handoffMAC(secret, string(num), exp)) {
		return "", ErrHandoffInvalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", ErrHandoffExpired
	}
	return string(num), nil
}
