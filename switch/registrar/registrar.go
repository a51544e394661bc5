// Package registrar is the switch's SIP registrar and location service: it
// answers REGISTER requests (RFC 3261 §10.3) behind digest authentication
// (RFC 2617 / RFC 7616, MD5, with qop=auth and without qop), keeps each
// user's bindings (several contacts, each with its own expiry) and tells the
// switch where a user can be reached (Lookup).
//
// Credentials are stored as HA1 = MD5(user:realm:password), never in clear.
// Nonces are stateless: a timestamp, a salt and an HMAC over both, the realm
// and the user, so any number of phones can register at once without the
// registrar keeping per-challenge state, and nonces expire.
//
// A Registrar is safe for concurrent use by sipgo's handler goroutines and
// starts no goroutine of its own: the caller runs Expire periodically.
package registrar

import (
	"cmp"
	"crypto/rand"
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// Defaults for the zero fields of Options.
const (
	DefaultMinExpires     = 60 * time.Second
	DefaultMaxExpires     = 3600 * time.Second
	DefaultDefaultExpires = 3600 * time.Second
	DefaultNonceTTL       = 5 * time.Minute
	DefaultRealm          = "ccswitch"
)

// Config configures a Registrar. The zero value of every field has a
// sensible default; so has a negative duration.
type Config struct {
	// Realm is the digest realm offered in challenges (default "ccswitch").
	// HA1 values must have been computed with the same realm.
	Realm string
	// Credentials gives the HA1 of each user; nil knows no user, so every
	// authentication fails with 403.
	Credentials Credentials
	// Secret is the HMAC key of the stateless nonces. Nodes that share
	// registrations behind a load balancer share it; nil draws a random one,
	// so nonces do not survive a restart (clients then simply get a new
	// challenge).
	Secret []byte
	// Now returns the current time (default time.Now); tests pass a fake.
	Now func() time.Time
	// MinExpires is the shortest registration accepted; shorter ones get 423
	// Interval Too Brief (default 60s).
	MinExpires time.Duration
	// MaxExpires caps registrations; longer ones are shortened (default 3600s).
	MaxExpires time.Duration
	// DefaultExpires applies when neither the Contact nor the request has an
	// expiry (default 3600s).
	DefaultExpires time.Duration
	// NonceTTL is how long a nonce is accepted; an older one gets 401 with
	// stale=true (default 5m).
	NonceTTL time.Duration
	// OnChange is called whenever a user's set of bindings changes: a new
	// contact, a refresh that changes the contact set or where a contact
	// registered from, an unregistration, an expiry. contacts is what Lookup
	// would return right after the change (empty when the user has no
	// binding left). It is called outside any lock, one call at a time and in
	// the order of the changes, possibly on the goroutine of another
	// request; it may call any method of the Registrar.
	OnChange func(user string, contacts []Contact)
	// Throttle counts failed authentications per source host and user and
	// refuses them for a while past a limit (internal/auth.Throttle: 5 a
	// minute per user and host, 50 per host); nil: never refused.
	Throttle Throttle
	// Logger receives authentication failures (user, source and a reason,
	// never a password, a nonce or a digest) at Info level and registrations
	// at Debug level. The zero value discards.
	Logger zerolog.Logger
}

// Contact is one binding of a user: where the user's device can be reached.
type Contact struct {
	// URI is the Contact URI exactly as the device sent it
	// (baresip: sip:agent1-0x55..@127.0.0.1:5090).
	URI sip.Uri
	// Source is the ip:port the REGISTER came from (the connection's remote
	// address, RFC 3581 received/rport); send requests there when the
	// Contact is not reachable directly.
	Source string
	// Transport is the transport the REGISTER came on (UDP, TCP, ...).
	Transport string
	// Expires is when the binding ends unless refreshed.
	Expires   time.Time
	UserAgent string
	// CallID and CSeq of the REGISTER that last updated the binding
	// (RFC 3261 §10.3 step 7 orders updates with them).
	CallID string
	CSeq   uint32
}

// Registrar is the SIP registrar and location service. Create it with New.
type Registrar struct {
	realm          string
	creds          Credentials
	secret         []byte
	opaque         string
	now            func() time.Time
	minExpires     time.Duration
	maxExpires     time.Duration
	defaultExpires time.Duration
	nonceTTL       time.Duration
	onChange       func(string, []Contact)
	throttle       Throttle
	log            zerolog.Logger

	mu        sync.Mutex
	aors      map[string][]binding // user -> bindings, stored order
	seq       uint64               // orders bindings by last update
	pending   []change             // notifications not yet delivered
	notifying bool                 // a goroutine is delivering pending
	bindings  Bindings             // where changes are saved (Keep); nil: nowhere
}

// binding is a stored Contact with the sequence number of its last update.
type binding struct {
	Contact
	seq uint64
}

// change is one OnChange notification waiting to be delivered.
type change struct {
	user     string
	contacts []Contact
}

// New returns a Registrar configured by opts.
func New(opts Config) *Registrar {
	r := &Registrar{
		realm:          cmp.Or(opts.Realm, DefaultRealm),
		creds:          opts.Credentials,
		secret:         opts.Secret,
		now:            opts.Now,
		minExpires:     positiveOr(opts.MinExpires, DefaultMinExpires),
		maxExpires:     positiveOr(opts.MaxExpires, DefaultMaxExpires),
		defaultExpires: positiveOr(opts.DefaultExpires, DefaultDefaultExpires),
		nonceTTL:       positiveOr(opts.NonceTTL, DefaultNonceTTL),
		onChange:       opts.OnChange,
		log:            opts.Logger,
		aors:           make(map[string][]binding),
	}
	if r.creds == nil {
		r.creds = NoCredentials()
	}
	if r.throttle = opts.Throttle; r.throttle == nil {
		r.throttle = nopThrottle{}
	}
	if r.secret == nil {
		r.secret = make([]byte, 32)
		rand.Read(r.secret) // never fails (crypto/rand, Go 1.24+)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.maxExpires = max(r.maxExpires, r.minExpires)
	r.defaultExpires = min(max(r.defaultExpires, r.minExpires), r.maxExpires)
	r.opaque = r.makeOpaque()
	return r
}

func positiveOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Realm returns the digest realm of the registrar.
func (r *Registrar) Realm() string { return r.realm }

// Lookup returns the user's current (non-expired) contacts, the most
// recently registered or refreshed first; nil when there is none. The
// result is the caller's to keep.
func (r *Registrar) Lookup(user string) []Contact {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	return live(r.aors[user], now)
}

// Users returns the users that have at least one current binding, sorted.
func (r *Registrar) Users() []string {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	users := make([]string, 0, len(r.aors))
	for user, bs := range r.aors {
		if slices.ContainsFunc(bs, func(b binding) bool { return b.Expires.After(now) }) {
			users = append(users, user)
		}
	}
	slices.Sort(users)
	return users
}

// Expire removes the bindings whose time is up and calls OnChange for each
// user that lost one. The caller runs it periodically (every few seconds
// is plenty: Lookup never returns an expired contact anyway).
func (r *Registrar) Expire() {
	now := r.now()
	r.mu.Lock()
	users := make([]string, 0)
	for user, bs := range r.aors {
		if slices.ContainsFunc(bs, func(b binding) bool { return !b.Expires.After(now) }) {
			users = append(users, user)
		}
	}
	slices.Sort(users) // deterministic notification order
	for _, user := range users {
		kept := slices.DeleteFunc(r.aors[user], func(b binding) bool { return !b.Expires.After(now) })
		r.store(user, kept)
		r.notify(user, live(kept, now))
	}
	r.mu.Unlock()
	r.deliver()
}

// store replaces the user's bindings and saves them; r.mu is held.
func (r *Registrar) store(user string, bs []binding) {
	r.save(user, bs)
	if len(bs) == 0 {
		delete(r.aors, user)
		return
	}
	r.aors[user] = bs
}

// notify queues an OnChange call; r.mu is held. deliver makes it.
func (r *Registrar) notify(user string, contacts []Contact) {
	if r.onChange == nil {
		return
	}
	r.pending = append(r.pending, change{user, contacts})
}

// deliver calls OnChange for the queued changes, in order, outside the
// lock. If another goroutine is already delivering, it will deliver ours
// too: notifications never overtake each other, and OnChange may call back
// into the Registrar without deadlock.
func (r *Registrar) deliver() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notifying {
		return
	}
	r.notifying = true
	defer func() { r.notifying = false }()
	for len(r.pending) > 0 {
		c := r.pending[0]
		r.pending[0] = change{}
		r.pending = r.pending[1:]
		func() {
			r.mu.Unlock()
			defer r.mu.Lock()
			r.onChange(c.user, c.contacts)
		}()
	}
	r.pending = nil
}

// live returns copies of the bindings still current at now, most recent
// first.
func live(bs []binding, now time.Time) []Contact {
	var cur []binding
	for _, b := range bs {
		if b.Expires.After(now) {
			cur = append(cur, b)
		}
	}
	if len(cur) == 0 {
		return nil
	}
	slices.SortFunc(cur, func(a, b binding) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]Contact, len(cur))
	for i, b := range cur {
		out[i] = b.Contact
		out[i].URI = *b.URI.Clone()
	}
	return out
}
