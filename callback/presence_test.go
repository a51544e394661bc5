package callback

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
)

var t0 = clock.Epoch

func rep(m Medium, dev string, s Show, agoAt time.Duration) Report {
	return Report{Medium: m, Device: dev, Show: s, At: t0.Add(-agoAt)}
}

// TestCombine is the combination's table (Combine's comment), case by
// case.
func TestCombine(t *testing.T) {
	r := DefaultRules()
	idle := func(x Report, since time.Duration) Report { x.IdleSince = t0.Add(-since); return x }
	withTTL := func(x Report, ttl time.Duration) Report { x.TTL = ttl; return x }
	for _, tc := range []struct {
		name    string
		reports []Report
		want    string
	}{
		{"no device", nil, "offline []"},
		{"one XMPP client available", []Report{rep(XMPP, "a@x/laptop", Available, 0)}, "online [xmpp]"},
		{"chat is available", []Report{rep(XMPP, "a@x/laptop", Chat, 0)}, "online [xmpp]"},
		{"away", []Report{rep(XMPP, "a@x/laptop", Away, 0)}, "away [xmpp]"},
		{"extended away", []Report{rep(XMPP, "a@x/laptop", ExtAway, 0)}, "away [xmpp]"},
		{"online beats away, reachable: the online ones",
			[]Report{rep(XMPP, "a@x/laptop", Away, 0), rep(SIP, "sip:1@h", Available, 0)}, "online [sip]"},
		{"two online media, sorted, once",
			[]Report{rep(SIP, "sip:1@h", Available, 0), rep(XMPP, "a@x/phone", Available, 0), rep(XMPP, "a@x/laptop", Chat, 0)}, "online [sip xmpp]"},
		{"do-not-disturb wins, nobody reachable",
			[]Report{rep(XMPP, "a@x/laptop", DoNotDisturb, 0), rep(SIP, "sip:1@h", Available, 0)}, "dnd []"},
		{"idle past IdleAway is away", []Report{idle(rep(XMPP, "a@x/laptop", Available, 0), 10*time.Minute)}, "away [xmpp]"},
		{"idle less than IdleAway is online", []Report{idle(rep(XMPP, "a@x/laptop", Available, 0), 9*time.Minute)}, "online [xmpp]"},
		{"idle never makes dnd less", []Report{idle(rep(XMPP, "a@x/laptop", DoNotDisturb, 0), time.Hour)}, "dnd []"},
		{"stale report ignored: web after its 2 min", []Report{rep(Web, "v1", Available, 2*time.Minute)}, "offline []"},
		{"stale report ignored: stale dnd does not win",
			[]Report{rep(Web, "v1", DoNotDisturb, 3*time.Minute), rep(SIP, "sip:1@h", Available, 0)}, "online [sip]"},
		{"a report's own TTL", []Report{withTTL(rep(SIP, "sip:1@h", Available, 30*time.Second), 20*time.Second)}, "offline []"},
		{"unavailable ignored", []Report{rep(XMPP, "a@x/laptop", Unavailable, 0), rep(Web, "v1", Away, 0)}, "away [web]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := r.Combine(tc.reports, t0)
			if got := fmt.Sprintf("%s %v", p.Status, p.Reachable); got != tc.want {
				t.Errorf("Combine = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestTrackerTellsChangesTimeMakes: on the virtual clock, the tracker
// tells each change of the combined presence once, those that time
// alone makes included: a device turning idle-away, a web page's report
// going stale, and none while nothing changes.
func TestTrackerTellsChangesTimeMakes(t *testing.T) {
	clk := clock.NewVirtual(t0)
	var changes []string
	tr := NewTracker(clk, DefaultRules(), func(c string, p Presence) {
		changes = append(changes, fmt.Sprintf("%s@%s %s %v", c, clk.Elapsed(), p.Status, p.Reachable))
	})
	tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: Available, IdleSince: t0})
	tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: Available, IdleSince: t0}) // again: no change
	clk.Advance(time.Minute)
	tr.Report("1001", Report{Medium: Web, Device: "visitor-1", Show: Available}) // a second medium
	clk.Advance(20 * time.Minute)
	if got := tr.Presence("1001"); got.Status != Idle || fmt.Sprint(got.Reachable) != "[xmpp]" {
		t.Errorf("after 21 min: %+v", got)
	}
	tr.Report("1001", Report{Medium: SIP, Device: "sip:1001@10.0.0.7:5060", Show: DoNotDisturb})
	tr.Report("1001", Report{Medium: SIP, Device: "sip:1001@10.0.0.7:5060", Show: Unavailable})
	tr.Report("1001", Report{Medium: XMPP, Device: "alice@x/laptop", Show: Unavailable})
	tr.Report("2002", Report{Medium: XMPP, Device: "bob@x/phone", Show: Away})
	clk.Run()
	want := []string{
		"1001@0s online [xmpp]",
		"1001@1m0s online [web xmpp]",
		"1001@3m0s online [xmpp]", // the web page's report went stale
		"1001@10m0s away [xmpp]",  // idle 10 minutes
		"1001@21m0s dnd []",       // explicit do-not-disturb wins
		"1001@21m0s away [xmpp]",  // the phone went
		"1001@21m0s offline []",   // and the laptop
		"2002@21m0s away [xmpp]",
		"2002@24h21m0s offline []", // XMPP's default TTL: a server that lost the client
	}
	if strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	if clk.Pending() != 0 {
		t.Errorf("%d timers left with no report live", clk.Pending())
	}
}
