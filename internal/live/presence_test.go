package live

import (
	"slices"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/switch/sipgw"
)

const presenceCenter = `
queues: [{name: chat, media: im}]
agents: [{id: a1, skills: {chat: 5}}]
im:
  customers:
    - number: C1
      devices:
        - {network: xmpp, address: Alice@Example.test}
        - {network: sip, address: "7001", password: secret}
    - number: C2
      devices: [{network: xmpp, address: bob@example.test}]
    - {number: C3}
`

func newTestPresence(t *testing.T) (*presence, *clock.Virtual, map[string][]callback.Presence) {
	t.Helper()
	f, err := config.Parse("center.yaml", []byte(presenceCenter))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(clock.Epoch)
	linked := func(a imgw.Address) (string, bool) {
		if a.User == "carol@example.test" {
			return "C3", true
		}
		return "", false
	}
	p := newPresence(clk, f, linked)
	seen := map[string][]callback.Presence{}
	for _, c := range []string{"C1", "C2", "C3"} {
		now, _, err := p.watch(c, func(string) bool { return true }, func(pr callback.Presence) { seen[c] = append(seen[c], pr) })
		if err != nil || now.Status != callback.Offline {
			t.Fatalf("watch %s: %v %v", c, now, err)
		}
	}
	return p, clk, seen
}

func xmppFrom(user, device string) imgw.Address {
	return imgw.Address{Network: "xmpp:support.example.test", User: user, Device: device}
}

// A customer's XMPP resources and SIP softphone registration combine into
// one status; a device found through the store's links counts too;
// strangers' devices are ignored.
func TestPresenceSourcesCombine(t *testing.T) {
	p, clk, seen := newTestPresence(t)
	p.im(xmppFrom("alice@example.test", "home"), imgw.PresenceInfo{Available: true, Show: "away"}, "")
	p.sip(sipgw.PresenceReport{User: "7001", Device: "sip:7001@192.0.2.7", Show: callback.Available, At: clk.Now(), Expires: clk.Now().Add(time.Hour)})
	p.im(xmppFrom("carol@example.test", "pc"), imgw.PresenceInfo{Available: true}, "")
	p.im(xmppFrom("stranger@example.test", "pc"), imgw.PresenceInfo{Available: true}, "")
	p.sip(sipgw.PresenceReport{User: "1001", Device: "sip:1001@192.0.2.8", Show: callback.Available, At: clk.Now(), Expires: clk.Now().Add(time.Hour)})

	want := []callback.Presence{
		{Status: callback.Idle, Reachable: []callback.Medium{callback.XMPP}},
		{Status: callback.Online, Reachable: []callback.Medium{callback.SIP}},
	}
	if !slices.EqualFunc(seen["C1"], want, callback.Presence.Equal) {
		t.Fatalf("C1 went %v, want %v", seen["C1"], want)
	}
	if got := p.tracker.Presence("C3"); got.Status != callback.Online {
		t.Fatalf("C3 (linked device) is %v, want online", got)
	}
	if len(p.tracker.Presence("stranger").Reachable) != 0 || len(seen["C2"]) != 0 {
		t.Fatalf("a stranger's device changed something: C2 %v", seen["C2"])
	}
	// The softphone's binding expires: only the away XMPP device is left.
	clk.Advance(time.Hour)
	if got := p.tracker.Presence("C1"); got.Status != callback.Idle || !slices.Equal(got.Reachable, []callback.Medium{callback.XMPP}) {
		t.Fatalf("after the binding's expiry C1 is %v, want away on xmpp", got)
	}
	// Unregistered, then the XMPP device says dnd.
	p.im(xmppFrom("alice@example.test", "home"), imgw.PresenceInfo{Available: true, Show: "dnd"}, "")
	if got := p.tracker.Presence("C1"); got.Status != callback.Busy || len(got.Reachable) != 0 {
		t.Fatalf("C1 is %v, want dnd with nothing reachable", got)
	}
}

// A flood from one customer is held to its rate and coalesced: the final
// state arrives, in bounded time; another customer's report at the same
// moment is applied at once.
func TestPresenceFloodIsRateLimited(t *testing.T) {
	p, clk, seen := newTestPresence(t)
	shows := []string{"away", ""}
	for i := range 1000 {
		p.im(xmppFrom("alice@example.test", "home"), imgw.PresenceInfo{Available: true, Show: shows[i%2]}, "")
	}
	p.im(xmppFrom("alice@example.test", "home"), imgw.PresenceInfo{Available: true, Show: "xa"}, "")
	if n := len(seen["C1"]); n > presenceBurst {
		t.Fatalf("%d changes told at once from a flood, want at most the burst %d", n, presenceBurst)
	}
	p.im(xmppFrom("bob@example.test", "pc"), imgw.PresenceInfo{Available: true}, "")
	if got := p.tracker.Presence("C2"); got.Status != callback.Online {
		t.Fatalf("the other customer is %v during the flood, want online at once", got)
	}
	clk.Advance(presenceEvery)
	if got := p.tracker.Presence("C1"); got.Status != callback.Idle {
		t.Fatalf("after the flood C1 is %v, want its last word (xa: away)", got)
	}
	before := len(seen["C1"])
	clk.Advance(time.Minute)
	if len(seen["C1"]) != before {
		t.Fatalf("changes told after the flood settled: %v", seen["C1"][before:])
	}
}

// A verified customer's web chat page counts as a web device while open;
// an unverified visitor's page counts for nobody.
func TestPresenceOfAWebPage(t *testing.T) {
	p, _, seen := newTestPresence(t)
	page := imgw.Address{Network: "webchat", User: "visitor-1", Device: "tab-1"}
	p.im(page, imgw.PresenceInfo{Available: true}, "")
	if len(seen["C2"]) != 0 {
		t.Fatalf("an unverified page changed C2: %v", seen["C2"])
	}
	p.im(page, imgw.PresenceInfo{Available: true}, "C2")
	p.im(page, imgw.PresenceInfo{}, "C2")
	want := []callback.Presence{
		{Status: callback.Online, Reachable: []callback.Medium{callback.Web}},
		{Status: callback.Offline},
	}
	if !slices.EqualFunc(seen["C2"], want, callback.Presence.Equal) {
		t.Fatalf("C2 went %v, want %v", seen["C2"], want)
	}
}
