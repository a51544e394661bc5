package callback

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
)

// TestWaitUnderHysteresis: an EWT oscillating around N gives one alert
// per real crossing: after firing, the alert is armed again only once
// the EWT rose above N plus the margin (10 min: 2 min). The armed state
// survives a restart; do-not-disturb holds the alert back.
func TestWaitUnderHysteresis(t *testing.T) {
	r := newRig(t, alice())
	r.online("1001", XMPP)
	a, err := r.s.AddAlert(Alert{Customer: "1001", Queue: "support", Kind: WaitUnder, Minutes: 10})
	cctest.MustOK(t, err, "AddAlert")
	if a.ID != "al-1" || !a.Active || !a.Armed {
		t.Fatalf("added: %+v", a)
	}
	if WaitMargin(10) != 2*time.Minute || WaitMargin(3) != time.Minute {
		t.Errorf("margins %v %v", WaitMargin(10), WaitMargin(3))
	}
	// The EWT (minutes) before each tick, 5 s apart; -1: none.
	ewts := []float64{15, 11, 9.9, 10.5, 9, 11.9, 9, -1, 12.1, 11, 9.5, 12.5, 8}
	for i, m := range ewts {
		if i == 7 {
			// Crash and restart: the alert comes back disarmed.
			r.restart(t)
			cctest.MustOK(t, r.s.Restore(r.j.Requests()), "Restore")
			cctest.MustOK(t, r.s.RestoreAlerts(r.j.Alerts()), "RestoreAlerts")
		}
		if m < 0 {
			delete(r.q.ewt, "support")
		} else {
			r.q.ewt["support"] = time.Duration(m * float64(time.Minute))
		}
		r.clk.Advance(DefaultTick)
	}
	wantLines(t, "alerts", r.n.sent, []string{
		"15s 1001 xmpp: The wait in support is now under 10 minutes.",
		"55s 1001 xmpp: The wait in support is now under 10 minutes.",
		"1m5s 1001 xmpp: The wait in support is now under 10 minutes.",
	})
	// Do-not-disturb: held back while under, sent once it ends.
	r.q.ewt["support"] = 13 * time.Minute
	r.clk.Advance(DefaultTick)
	r.tr.Report("1001", Report{Medium: XMPP, Device: "1001-xmpp", Show: DoNotDisturb})
	r.q.ewt["support"] = 5 * time.Minute
	r.clk.Advance(time.Minute)
	if len(r.n.sent) != 3 {
		t.Errorf("sent during do-not-disturb: %v", r.n.sent)
	}
	r.tr.Report("1001", Report{Medium: XMPP, Device: "1001-xmpp", Show: Available})
	r.clk.Advance(time.Minute)
	if len(r.n.sent) != 4 || r.n.sent[3] != "2m15s 1001 xmpp: The wait in support is now under 10 minutes." {
		t.Errorf("after do-not-disturb: %v", r.n.sent)
	}
	got, _ := r.s.Alert("al-1")
	if got.Fired != 4 || got.Armed || !got.LastFired.Equal(clock.Epoch.Add(2*time.Minute+15*time.Second)) {
		t.Errorf("alert: %+v, want fired 4 times (once before the restart), disarmed", got)
	}
	cctest.MustOK(t, r.s.RemoveAlert("al-1"), "RemoveAlert")
	if err := r.s.RemoveAlert("al-1"); !errors.Is(err, ErrConflict) {
		t.Errorf("removed twice: %v", err)
	}
	r.clk.Run() // nothing left to check: the tick stops
	if n, _ := r.s.AddAlert(Alert{Customer: "1001", Queue: "sales", Kind: WaitUnder, Minutes: 3, Medium: SIP}); n.ID != "al-2" {
		t.Errorf("next alert ID %s", n.ID)
	}
}

// TestBeforeCallback: fires once, N minutes before the scheduled time.
func TestBeforeCallback(t *testing.T) {
	r := newRig(t, alice())
	r.mustRequest(t, Request{Queue: "support", Customer: "1001", At: clock.Epoch.Add(time.Hour)})
	_, err := r.s.AddAlert(Alert{Kind: BeforeCallback, Callback: "cb-1", Minutes: 15, Medium: SIP})
	cctest.MustOK(t, err, "AddAlert")
	r.d.script = []scripted{{ResultAnswered, time.Second}}
	r.q.offer = true
	r.clk.Run()
	wantLines(t, "alerts", r.n.sent, []string{"45m0s 1001 sip: We will call you back in 15 minutes."})
	got, _ := r.s.Alert("al-1")
	if got.Active || got.Fired != 1 || got.Queue != "support" || got.Customer != "1001" {
		t.Errorf("alert: %+v", got)
	}
	if cb, _ := r.s.Get("cb-1"); cb.State != Done || cb.Attempts[0].At != clock.Epoch.Add(time.Hour) {
		t.Errorf("callback: %s %s", cb.State, attempts(cb))
	}
}

// TestAddAlertBadInput: each bad alert gets its error and nothing is
// kept.
func TestAddAlertBadInput(t *testing.T) {
	r := newRig(t, alice(), Customer{Number: "1002"})
	r.mustRequest(t, Request{Queue: "support", Customer: "1001", At: clock.Epoch.Add(time.Hour)})    // cb-1
	r.mustRequest(t, Request{Queue: "support", Customer: "1001"})                                    // cb-2: as soon as possible
	r.mustRequest(t, Request{Queue: "support", Number: "+15550123", At: clock.Epoch.Add(time.Hour)}) // cb-3: a number
	saves := r.j.Saves()
	for _, tc := range []struct {
		a    Alert
		want error
		says string
	}{
		{Alert{Customer: "1001", Queue: "support", Kind: "sometimes", Minutes: 5}, ErrInvalid, `kind "sometimes"`},
		{Alert{Customer: "1001", Queue: "support", Kind: WaitUnder}, ErrInvalid, "minutes 0"},
		{Alert{Customer: "1001", Queue: "support", Kind: WaitUnder, Minutes: 1441}, ErrInvalid, "minutes 1441"},
		{Alert{Customer: "1001", Queue: "support", Kind: WaitUnder, Minutes: 5, Medium: Phone}, ErrInvalid, `medium "phone"`},
		{Alert{Customer: "1001", Kind: WaitUnder, Minutes: 5}, ErrInvalid, "names no queue"},
		{Alert{Customer: "1001", Queue: "billing", Kind: WaitUnder, Minutes: 5}, ErrUnknownQueue, `queue "billing"`},
		{Alert{Queue: "support", Kind: WaitUnder, Minutes: 5}, ErrInvalid, "no customer"},
		{Alert{Customer: "9999", Queue: "support", Kind: WaitUnder, Minutes: 5}, ErrUnknownCustomer, `customer "9999"`},
		{Alert{Customer: "1001", Kind: BeforeCallback, Minutes: 5}, ErrInvalid, "names no callback"},
		{Alert{Customer: "1001", Kind: BeforeCallback, Minutes: 5, Callback: "cb-99"}, ErrUnknownCallback, `"cb-99"`},
		{Alert{Customer: "1001", Kind: BeforeCallback, Minutes: 5, Callback: "cb-2"}, ErrInvalid, "no scheduled time"},
		{Alert{Kind: BeforeCallback, Minutes: 5, Callback: "cb-3"}, ErrInvalid, "no customer to alert"},
		{Alert{Customer: "1002", Kind: BeforeCallback, Minutes: 5, Callback: "cb-1"}, ErrInvalid, "customer 1001's, not 1002's"},
	} {
		_, err := r.s.AddAlert(tc.a)
		if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.says) {
			t.Errorf("AddAlert(%+v) = %v, want %v saying %s", tc.a, err, tc.want, tc.says)
		}
	}
	if len(r.s.Alerts()) != 0 || r.j.Saves() != saves {
		t.Errorf("something changed: %v, %d saves", r.s.Alerts(), r.j.Saves()-saves)
	}
	if err := r.s.RemoveAlert("al-1"); !errors.Is(err, ErrUnknownAlert) {
		t.Errorf("RemoveAlert unknown: %v", err)
	}
	if err := r.s.RestoreAlerts([]Alert{{ID: "al-1", Kind: WaitUnder}, {ID: "al-1", Kind: WaitUnder}}); !errors.Is(err, ErrInvalid) || len(r.s.Alerts()) != 0 {
		t.Errorf("RestoreAlerts twice the same: %v", err)
	}
}
