package live

import (
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/webchat"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// presence is the callback server's view of customers' devices: it links
// a device (an XMPP address, a SIP softphone's user) to its customer and
// feeds what the device says into the callback.Tracker, which combines a
// customer's devices. It runs on the loop: the sources post to it.
//
// A customer whose devices flood it is held to presenceBurst reports,
// then one per presenceEvery; what comes faster is coalesced (the last
// report of each device wins, applied when the customer's bucket refills),
// so the flood costs others nothing and the final state is never lost.
type presence struct {
	clock   clock.Clock
	tracker *callback.Tracker
	// devices links the center file's customers' devices
	// (im.customers[].devices) to their customers.
	devices callback.Devices
	// linked finds the customer an IM user was linked to (verified by the
	// bot, or registered), when the center file does not list it.
	linked func(imgw.Address) (string, bool)
	// watchers of each customer's combined presence (CTI).
	watchers map[string]map[uint64]func(callback.Presence)
	nextID   uint64
	// limits per customer.
	limits map[string]*presenceLimit
	// customers are the numbers of the customers the center knows.
	customers map[string]bool
	// xmppAt is where each customer was last seen on XMPP: the network
	// and bare JID a heads-up goes to.
	xmppAt map[string]imgw.Address
}

const (
	presenceBurst = 10
	presenceEvery = time.Second
	// maxPresenceLimits bounds the flood bookkeeping; beyond it the
	// buckets that are full again are forgotten.
	maxPresenceLimits = 100_000
)

type presenceLimit struct {
	tokens  float64
	at      time.Time
	pending map[string]callback.Report // by medium and device
	timer   clock.Timer
}

// newPresence builds the presence side of the center file f on clk.
func newPresence(clk clock.Clock, f *config.File, linked func(imgw.Address) (string, bool)) *presence {
	p := &presence{
		clock: clk, devices: callback.ConfigDevices(f), linked: linked,
		watchers: map[string]map[uint64]func(callback.Presence){}, limits: map[string]*presenceLimit{},
		customers: map[string]bool{}, xmppAt: map[string]imgw.Address{},
	}
	if f.IM != nil {
		for _, cu := range f.IM.Customers {
			p.customers[cu.Number] = true
		}
	}
	p.tracker = callback.NewTracker(clk, callback.DefaultRules(), p.changed)
	return p
}

// customerOfDevice is the customer a device of network belongs to.
func (p *presence) customerOfDevice(network, address string) (string, bool) {
	return p.devices.Customer(network, address)
}

// im takes an IM device's presence (imgw.Config.OnPresence): an XMPP
// device of a customer the center knows (its devices, the conversation's
// verified customer, the store's links) reports its show; a web chat page
// of a verified customer is available while open.
func (p *presence) im(from imgw.Address, info imgw.PresenceInfo, verified string) {
	switch {
	case strings.HasPrefix(from.Network, "xmpp"):
		p.xmpp(from, info, verified)
	case from.Network == webchat.Network && verified != "":
		show := callback.Unavailable
		if info.Available {
			show = callback.Available
		}
		// The page says when it closes: no need to go stale early.
		p.report(verified, callback.Report{Device: from.User + "/" + from.Device, Medium: callback.Web, Show: show, TTL: webPageTTL})
	}
}

// webPageTTL is how long an open web chat page counts without news.
const webPageTTL = 12 * time.Hour

// xmpp takes an XMPP device's presence.
func (p *presence) xmpp(from imgw.Address, info imgw.PresenceInfo, verified string) {
	customer, ok := p.customerOfDevice(config.DeviceXMPP, from.User)
	if !ok && verified != "" {
		customer, ok = verified, true
	}
	if !ok && p.linked != nil {
		customer, ok = p.linked(from)
	}
	if !ok {
		return
	}
	if info.Available {
		if len(p.xmppAt) >= maxPresenceLimits {
			clear(p.xmppAt)
		}
		p.xmppAt[customer] = imgw.Address{Network: from.Network, User: from.User}
	}
	p.report(customer, callback.XMPPReport(from.User+"/"+from.Device, info.Available, info.Show))
}

// sip takes what the SIP gateway says of a device (sipgw.OnPresence,
// posted to the loop): a customer's softphone is available while it is
// registered, or what its PUBLISHed PIDF says, until it expires.
func (p *presence) sip(r sipgw.PresenceReport) {
	customer, ok := p.customerOfDevice(config.DeviceSIP, r.User)
	if !ok {
		return // an agent's phone, or a stranger
	}
	p.report(customer, r.Report())
}

// report hands rep to the tracker, within customer's rate.
func (p *presence) report(customer string, rep callback.Report) {
	now := p.clock.Now()
	if rep.At.IsZero() {
		rep.At = now
	}
	l := p.limits[customer]
	if l == nil {
		if len(p.limits) >= maxPresenceLimits {
			p.forgetFullBuckets(now)
		}
		l = &presenceLimit{tokens: presenceBurst, at: now}
		p.limits[customer] = l
	}
	l.refill(now)
	if l.timer == nil && l.tokens >= 1 {
		l.tokens--
		p.tracker.Report(customer, rep)
		return
	}
	// Over the rate: the device's last word waits for the next token.
	if l.pending == nil {
		l.pending = map[string]callback.Report{}
	}
	l.pending[string(rep.Medium)+"\x00"+rep.Device] = rep
	if l.timer == nil {
		wait := time.Duration((1 - l.tokens) * float64(presenceEvery))
		l.timer = p.clock.AfterFunc(wait, func() { p.flush(customer, l) })
	}
}

// flush applies what a flooding customer's devices said last.
func (p *presence) flush(customer string, l *presenceLimit) {
	l.timer = nil
	l.refill(p.clock.Now())
	l.tokens = max(0, l.tokens-1)
	pending := l.pending
	l.pending = nil
	for _, rep := range pending {
		p.tracker.Report(customer, rep)
	}
}

func (l *presenceLimit) refill(now time.Time) {
	l.tokens = min(presenceBurst, l.tokens+float64(now.Sub(l.at))/float64(presenceEvery))
	l.at = now
}

func (p *presence) forgetFullBuckets(now time.Time) {
	for k, l := range p.limits {
		if l.timer == nil {
			l.refill(now)
			if l.tokens >= presenceBurst {
				delete(p.limits, k)
			}
		}
	}
}

// changed is the tracker's onChange: the customer's watchers hear it.
func (p *presence) changed(customer string, now callback.Presence) {
	for _, fn := range p.watchers[customer] {
		fn(now)
	}
}

var _ cti.CustomerPresence = (*presence)(nil)

// Watch implements cti.CustomerPresence: fn hears each change of a
// customer's combined presence until cancel; it returns the presence
// now. On the loop.
func (p *presence) Watch(customer string, fn func(callback.Presence)) (callback.Presence, func(), error) {
	return p.watch(customer, func(c string) bool { return p.customers[c] }, fn)
}

// watch is Watch for the customers known says exist.
func (p *presence) watch(customer string, known func(string) bool, fn func(callback.Presence)) (callback.Presence, func(), error) {
	if !known(customer) {
		return callback.Presence{}, nil, pbx.Errorf(pbx.NotFound, "no customer %q", customer)
	}
	p.nextID++
	id := p.nextID
	if p.watchers[customer] == nil {
		p.watchers[customer] = map[uint64]func(callback.Presence){}
	}
	p.watchers[customer][id] = fn
	cancel := func() {
		delete(p.watchers[customer], id)
		if len(p.watchers[customer]) == 0 {
			delete(p.watchers, customer)
		}
	}
	return p.tracker.Presence(customer), cancel, nil
}

// xmppAddress is where customer was last seen available on XMPP.
func (p *presence) xmppAddress(customer string) (imgw.Address, bool) {
	a, ok := p.xmppAt[customer]
	return a, ok
}
