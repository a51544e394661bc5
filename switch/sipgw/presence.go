package sipgw

import (
	"crypto/rand"
	"errors"
	"maps"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/callback/pidf"
	"github.com/ccswitch/ccswitch/switch/registrar"
)

// PresenceReport is one change of a device's presence the gateway
// accepted: a PUBLISH (RFC 3903) that set, modified or refreshed a
// publication, its removal, or its expiry; or a registration (REGISTER)
// of a device that publishes nothing: new, refreshed, removed, expired.
type PresenceReport struct {
	// User is the user of the address of record the device publishes for
	// (the Request-URI's user, which authenticated as itself).
	User string
	// Device names the device: its Contact URI without parameters
	// (sip:alice@192.0.2.7:5060), the same for its REGISTER and its
	// PUBLISH; a PUBLISH without Contact is the device registered from
	// the same address, else "etag:" and the publication's first entity
	// tag. It stays the same across refreshes and
	// modifications; a new publication from the same device replaces the
	// old one.
	Device string
	// Show is what the device's PIDF says (pidf.Document.Show); for a
	// device registered that publishes nothing, callback.Available;
	// callback.Unavailable when the last of them ended (publication
	// removed or expired, binding removed or expired).
	Show callback.Show
	// IdleSince is when the user went idle (RPID user-input; zero: in use
	// or not said).
	IdleSince time.Time
	// At is when the gateway accepted the change.
	At time.Time
	// Expires is when the publication (or binding) ends unless
	// refreshed; zero when it ended.
	Expires time.Time
	// ETag is the publication's entity tag now (SIP-ETag); empty when it
	// ended, or for a registration.
	ETag string
}

// Report is r in the callback domain's words: a report of medium SIP
// that holds until the publication expires.
func (r PresenceReport) Report() callback.Report {
	rep := callback.Report{Device: r.Device, Medium: callback.SIP, Show: r.Show, IdleSince: r.IdleSince, At: r.At}
	if r.Show != callback.Unavailable {
		rep.TTL = r.Expires.Sub(r.At)
	}
	return rep
}

// PresenceHandler takes the presence changes the gateway accepted.
//
// HandlePresence is called after the PUBLISH was answered (or when a
// publication expired), one call at a time and in the order of the
// changes, from a goroutine of the gateway or of sipgo; it must not block
// (post the report to the domain's loop and return).
type PresenceHandler interface {
	HandlePresence(PresenceReport)
}

// PresenceHandlerFunc is a function as a PresenceHandler.
type PresenceHandlerFunc func(PresenceReport)

// HandlePresence calls f.
func (f PresenceHandlerFunc) HandlePresence(r PresenceReport) { f(r) }

// OnPresence makes h the handler of the presence the gateway accepts by
// PUBLISH (RFC 3903, event package presence, application/pidf+xml) and
// of the registrations of devices that publish nothing (every address of
// record's: the handler picks the users it knows, customers' devices).
// Without one, PUBLISH gets 405 and registrations report nothing. Call
// it before Serve.
func (g *Gateway) OnPresence(h PresenceHandler) { g.pres.handler = h }

// SIP responses of RFC 3903 that sipgo does not name.
const (
	statusConditionalRequestFailed = 412
	statusBadEvent                 = 489
)

// Defaults of the presence Config fields.
const (
	DefaultPublishMinExpires = 60 * time.Second
	DefaultPublishMaxExpires = time.Hour
	DefaultPublishRate       = 1 // PUBLISH a second per address of record
	DefaultPublishBurst      = 10
	// MaxPublications bounds the live publications of one address of
	// record (each device has one).
	MaxPublications = 16
)

// publication is one device's event state (RFC 3903 §2).
type publication struct {
	user, device, etag string
	show               callback.Show
	idleSince          time.Time
	expires            time.Time
}

// presence is the gateway's event state compositor for presence: the
// publications by entity tag, their expiry, and the reports waiting to be
// delivered.
type presence struct {
	handler PresenceHandler
	limiter *rateLimiter // PUBLISHes by address of record

	mu         sync.Mutex
	byETag     map[string]*publication
	byDevice   map[string]map[string]*publication // user -> device -> its publication
	registered map[string]map[string]time.Time    // user -> device registered -> binding's expiry
	pending    []PresenceReport
	delivering bool
	wake       chan struct{} // the expiry goroutine's: the next expiry may be sooner
}

// presenceError is a PUBLISH refused: the response's code, reason and
// extra headers.
type presenceError struct {
	code    int
	reason  string
	headers []sip.Header
}

func refuse(code int, reason string, headers ...sip.Header) *presenceError {
	return &presenceError{code: code, reason: reason, headers: headers}
}

// onPublish answers a PUBLISH (RFC 3903 §6), checking in this order, each
// refusal changing nothing: the request is within the per-source rate
// limit (else 503); Event is presence (else 489); digest credentials of
// the From user (else 407, 403, 400: registrar.Authenticate); the user
// publishes its own presence (the Request-URI's user, else 403); the
// address of record's PUBLISH rate (else 503 with Retry-After); SIP-If-
// Match names a live publication of the user (else 412); Expires is not
// below the minimum (else 423 with Min-Expires; above the maximum it is
// shortened); a body is application/pidf+xml (else 415) and a PIDF
// document Parse accepts (else 400, the reason naming the error). Then
// the publication is created, refreshed (no body), modified (a body) or
// removed (Expires: 0), and 200 carries SIP-ETag and Expires.
func (g *Gateway) onPublish(req *sip.Request, tx sip.ServerTransaction) {
	res := g.publish(req, tx)
	if res == nil {
		return // answered already (authentication)
	}
	_ = tx.Respond(res)
	g.pres.deliver() // the report, queued with the change, after the response
}

// publish processes a PUBLISH; it returns the response, or nil when the
// request was answered already.
func (g *Gateway) publish(req *sip.Request, tx sip.ServerTransaction) *sip.Response {
	respond := func(e *presenceError) *sip.Response {
		res := sip.NewResponseFromRequest(req, e.code, e.reason, nil)
		for _, h := range e.headers {
			res.AppendHeader(h)
		}
		return res
	}
	if !g.limiter.allow(sourceIP(req.Source())) {
		return respond(refuse(sip.StatusServiceUnavailable, "Service Unavailable", sip.NewHeader("Retry-After", "1")))
	}
	if e := checkEvent(req); e != nil {
		return respond(e)
	}
	user, ok := g.cfg.Registrar.Authenticate(req, tx)
	if !ok {
		return nil
	}
	if presentity := presentityOf(req); presentity != user {
		return respond(refuse(sip.StatusForbidden, "Forbidden ("+user+" may publish only its own presence)"))
	}
	if !g.pres.limiter.allow(user) {
		retry := max(1, int((time.Second+time.Duration(float64(time.Second)/g.cfg.PublishRate)-1)/time.Second))
		g.log.Debug().Str("aor", user).Msg("presence: PUBLISH rate limit")
		return respond(refuse(sip.StatusServiceUnavailable, "Service Unavailable (presence rate limit)",
			sip.NewHeader("Retry-After", strconv.Itoa(retry))))
	}
	now := time.Now()
	device := deviceOf(req)
	if device == "" {
		device = g.registeredDevice(user, req.Source())
	}
	rep, expires, e := g.pres.apply(req, user, device, now, g.cfg.PublishMinExpires, g.cfg.PublishMaxExpires)
	if e != nil {
		g.log.Debug().Str("aor", user).Int("status", e.code).Str("reason", e.reason).Msg("presence: PUBLISH refused")
		return respond(e)
	}
	if rep != nil {
		g.log.Debug().Str("aor", user).Str("device", rep.Device).Str("show", string(rep.Show)).
			Dur("expires", expires).Msg("presence: published")
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if rep != nil && rep.ETag != "" {
		res.AppendHeader(sip.NewHeader("SIP-ETag", rep.ETag))
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	return res
}

// checkEvent refuses a PUBLISH for an event package other than presence
// (RFC 3903 §6 step 2).
func checkEvent(req *sip.Request) *presenceError {
	h := req.GetHeader("Event")
	allow := sip.NewHeader("Allow-Events", "presence")
	if h == nil {
		return refuse(statusBadEvent, "Bad Event (no Event header)", allow)
	}
	pkg, _, _ := strings.Cut(h.Value(), ";")
	if strings.TrimSpace(pkg) != "presence" {
		return refuse(statusBadEvent, "Bad Event", allow)
	}
	return nil
}

// presentityOf is the user whose presence req publishes: the
// Request-URI's user, else the To user.
func presentityOf(req *sip.Request) string {
	if req.Recipient.User != "" {
		return req.Recipient.User
	}
	if to := req.To(); to != nil {
		return to.Address.User
	}
	return ""
}

// deviceOf names the device that sent req (PresenceReport.Device); ""
// when it sent no Contact.
func deviceOf(req *sip.Request) string {
	c := req.Contact()
	if c == nil || c.Address.Host == "" {
		return ""
	}
	return deviceName(c.Address)
}

// registeredDevice names the device of user registered from source (the
// same ip:port), for a PUBLISH without Contact (baresip sends none); ""
// when none is.
func (g *Gateway) registeredDevice(user, source string) string {
	for _, c := range g.cfg.Registrar.Lookup(user) {
		if c.Source == source {
			return deviceName(c.URI)
		}
	}
	return ""
}

// deviceName is a contact URI without its parameters: what names a
// device in both its REGISTER and its PUBLISH (registrar.Contact keeps no
// header parameter such as +sip.instance).
func deviceName(u sip.Uri) string {
	d := sip.Uri{Scheme: strings.ToLower(u.Scheme), User: u.User, Host: strings.ToLower(u.Host), Port: u.Port}
	return d.String()
}

// publishBody is what a PUBLISH carries: a parsed PIDF document, or
// nothing (a refresh or a removal).
func publishBody(req *sip.Request, now time.Time) (*PresenceReport, *presenceError) {
	body := req.Body()
	if len(body) == 0 {
		return nil, nil
	}
	ct := req.ContentType()
	accept := sip.NewHeader("Accept", "application/pidf+xml")
	if ct == nil {
		return nil, refuse(sip.StatusUnsupportedMediaType, "Unsupported Media Type (no Content-Type)", accept)
	}
	if mt, _, err := mime.ParseMediaType(ct.Value()); err != nil || mt != "application/pidf+xml" {
		return nil, refuse(sip.StatusUnsupportedMediaType, "Unsupported Media Type", accept)
	}
	doc, err := pidf.Parse(body)
	if err != nil {
		return nil, refuse(sip.StatusBadRequest, "Bad Request ("+reasonText(err.Error())+")")
	}
	show, idle := doc.Show(now)
	return &PresenceReport{Show: show, IdleSince: idle}, nil
}

// reasonText makes s fit a reason phrase: one line of at most 200 bytes.
func reasonText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

// publishExpires is the lifetime a PUBLISH asks for, within [min, max]:
// its Expires, else max (RFC 3903 §6 step 5); 0 removes.
func publishExpires(req *sip.Request, minExp, maxExp time.Duration) (time.Duration, *presenceError) {
	h := req.GetHeader("Expires")
	if h == nil {
		return maxExp, nil
	}
	secs, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, refuse(sip.StatusBadRequest, "Bad Request (malformed Expires header)")
	}
	d := time.Duration(secs) * time.Second
	switch {
	case d == 0:
		return 0, nil
	case d < minExp:
		return 0, refuse(sip.StatusIntervalToBrief, "Interval Too Brief",
			sip.NewHeader("Min-Expires", strconv.Itoa(int((minExp+time.Second-1)/time.Second))))
	}
	return min(d, maxExp), nil
}

var errNoMatch = errors.New("no such publication")

// apply checks the rest of a PUBLISH from user and, when all is well,
// changes the event state and queues the report of the change (in the
// order of the changes; deliver hands it over): it returns that report
// (nil when nothing changed) and the lifetime granted, or the refusal,
// having changed nothing.
func (p *presence) apply(req *sip.Request, user, device string, now time.Time, minExp, maxExp time.Duration) (*PresenceReport, time.Duration, *presenceError) {
	ifMatch := ""
	if h := req.GetHeader("SIP-If-Match"); h != nil {
		ifMatch = strings.TrimSpace(h.Value())
	}
	p.mu.Lock()
	_, err := p.lookup(user, ifMatch, now)
	p.mu.Unlock()
	if ifMatch != "" && err != nil {
		return nil, 0, refuse(statusConditionalRequestFailed, "Conditional Request Failed")
	}
	expires, e := publishExpires(req, minExp, maxExp)
	if e != nil {
		return nil, 0, e
	}
	body, e := publishBody(req, now)
	if e != nil {
		return nil, 0, e
	}
	if ifMatch == "" && body == nil {
		if expires == 0 {
			return nil, 0, nil // nothing to remove: nothing changes
		}
		return nil, 0, refuse(sip.StatusBadRequest, "Bad Request (an initial PUBLISH needs a PIDF body)")
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	var pub *publication
	if ifMatch != "" {
		// Looked up again: another PUBLISH may have ended it meanwhile.
		if pub, err = p.lookup(user, ifMatch, now); err != nil {
			return nil, 0, refuse(statusConditionalRequestFailed, "Conditional Request Failed")
		}
		if expires == 0 {
			p.remove(pub)
			rep := p.ended(user, pub.device, now)
			p.pending = append(p.pending, *rep)
			return rep, 0, nil
		}
		delete(p.byETag, pub.etag)
		pub.etag = rand.Text() // a new entity tag for each change (RFC 3903 §6 step 7)
	} else {
		if expires == 0 {
			return nil, 0, nil
		}
		pub = &publication{user: user, device: device, etag: rand.Text()}
		if pub.device == "" {
			pub.device = "etag:" + pub.etag
		}
		if old := p.byDevice[user][pub.device]; old != nil {
			p.remove(old) // the device publishes anew: this replaces its old state
		} else if len(p.byDevice[user]) >= MaxPublications {
			return nil, 0, refuse(sip.StatusForbidden, "Forbidden (too many publications for "+user+")")
		}
	}
	if body != nil {
		pub.show, pub.idleSince = body.Show, body.IdleSince
	}
	pub.expires = now.Add(expires)
	p.add(pub)
	p.poke()
	rep := PresenceReport{User: user, Device: pub.device, Show: pub.show, IdleSince: pub.idleSince,
		At: now, Expires: pub.expires, ETag: pub.etag}
	p.pending = append(p.pending, rep)
	return &rep, expires, nil
}

// add stores pub; p.mu is held.
func (p *presence) add(pub *publication) {
	p.byETag[pub.etag] = pub
	devices := p.byDevice[pub.user]
	if devices == nil {
		devices = map[string]*publication{}
		p.byDevice[pub.user] = devices
	}
	devices[pub.device] = pub
}

// remove forgets pub; p.mu is held.
func (p *presence) remove(pub *publication) {
	delete(p.byETag, pub.etag)
	if devices := p.byDevice[pub.user]; devices[pub.device] == pub {
		delete(devices, pub.device)
		if len(devices) == 0 {
			delete(p.byDevice, pub.user)
		}
	}
}

// ended is the report of a device whose publication ended: available
// while the device is still registered (until its binding expires), else
// unavailable; p.mu is held.
func (p *presence) ended(user, device string, now time.Time) *PresenceReport {
	if exp, ok := p.registered[user][device]; ok && exp.After(now) {
		return &PresenceReport{User: user, Device: device, Show: callback.Available, At: now, Expires: exp}
	}
	return &PresenceReport{User: user, Device: device, Show: callback.Unavailable, At: now}
}

// lookup finds user's live publication by entity tag; p.mu is held.
func (p *presence) lookup(user, etag string, now time.Time) (*publication, error) {
	pub := p.byETag[etag]
	if pub == nil || pub.user != user || !pub.expires.After(now) {
		return nil, errNoMatch
	}
	return pub, nil
}

// poke tells the expiry goroutine that the next expiry may be sooner;
// p.mu is held.
func (p *presence) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// deliver hands the queued reports to the handler, in order, outside the
// lock; when another goroutine is delivering already, it delivers ours
// too.
func (p *presence) deliver() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delivering {
		return
	}
	p.delivering = true
	defer func() { p.delivering = false }()
	for len(p.pending) > 0 {
		r := p.pending[0]
		p.pending[0] = PresenceReport{}
		p.pending = p.pending[1:]
		p.mu.Unlock()
		p.handler.HandlePresence(r)
		p.mu.Lock()
	}
	p.pending = nil
}

// expire ends the publications whose time is up and queues their
// reports; it returns when the next one ends (zero: none).
func (p *presence) expire(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next time.Time
	for _, pub := range p.byETag {
		if !pub.expires.After(now) {
			p.remove(pub)
			p.pending = append(p.pending, *p.ended(pub.user, pub.device, now))
			continue
		}
		if next.IsZero() || pub.expires.Before(next) {
			next = pub.expires
		}
	}
	return next
}

// expirePublications ends publications as their time comes, until the
// gateway stops. The gateway owns it.
func (g *Gateway) expirePublications() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := g.pres.expire(time.Now())
		g.pres.deliver()
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-g.ctx.Done():
			return
		case <-g.pres.wake:
		case <-timer.C:
		}
	}
}

// Publications is the number of live presence publications.
func (g *Gateway) Publications() int {
	g.pres.mu.Lock()
	defer g.pres.mu.Unlock()
	return len(g.pres.byETag)
}

// onRegister answers a REGISTER (the registrar's HandleRegister), then
// follows the bindings of its address of record: a refresh moves a
// binding's expiry without the registrar's OnChange, and the report's
// lifetime must move with it.
func (g *Gateway) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	g.cfg.Registrar.HandleRegister(req, tx)
	if to := req.To(); to != nil && to.Address.User != "" {
		g.followRegistration(to.Address.User, g.cfg.Registrar.Lookup(to.Address.User))
	}
}

// followRegistration reports the changes of user's bindings, when
// presence is reported.
func (g *Gateway) followRegistration(user string, contacts []registrar.Contact) {
	if g.pres.handler == nil {
		return
	}
	g.pres.registrations(user, contacts, time.Now())
	g.pres.deliver()
}

// registrations takes user's current bindings and queues a report for
// each device whose registration changed and that publishes nothing (a
// device that publishes is reported by its publications): available
// until the binding expires when it is new or its expiry moved,
// unavailable when its binding went.
func (p *presence) registrations(user string, contacts []registrar.Contact, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := map[string]time.Time{}
	for _, c := range contacts {
		if d := deviceName(c.URI); c.Expires.After(now) && c.Expires.After(cur[d]) {
			cur[d] = c.Expires
		}
	}
	old, published := p.registered[user], p.byDevice[user]
	for _, d := range slices.Sorted(maps.Keys(cur)) {
		if prev, ok := old[d]; (ok && prev.Equal(cur[d])) || published[d] != nil {
			continue
		}
		p.pending = append(p.pending, PresenceReport{User: user, Device: d, Show: callback.Available, At: now, Expires: cur[d]})
	}
	for _, d := range slices.Sorted(maps.Keys(old)) {
		if _, ok := cur[d]; ok || published[d] != nil {
			continue
		}
		p.pending = append(p.pending, PresenceReport{User: user, Device: d, Show: callback.Unavailable, At: now})
	}
	if len(cur) == 0 {
		delete(p.registered, user)
		return
	}
	p.registered[user] = cur
}
