package sim

import (
	"math"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestShiftsBreaksNotReadyAndAbsenteeism runs 40 days of a group working
// 08:00-16:00 with a lunch break, random not-ready episodes and a quarter
// of its agent-days absent, and follows the center's events: agents log in
// at the shift's start (3 in 4 of them), take a call only when their last
// word was ready (never on a break, an episode or after their shift),
// answer nothing outside their hours, and log out once their shift is over.
func TestShiftsBreaksNotReadyAndAbsenteeism(t *testing.T) {
	const agents, days, absent = 10, 40, 0.25
	f := mustParse(t, `
queues: [{name: q}]
agents:
  - {group: day, count: 10, skills: {q: 5}, wrap_up: 5s}
traffic:
  - {queue: q, arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 3m}}, patience: {exponential: {mean: 2m}}}
schedule:
  - group: day
    shifts: [{start: "08:00", end: "16:00", breaks: [{start: "12:00", length: 30m}]}]
    absenteeism: 0.25
    not_ready: {every: {exponential: {mean: 1h}}, length: {constant: {value: 5m}}}
run: {duration: 960h, replications: 1, seed: 4}
`)
	last := map[string]tserver.Event{} // each agent's last state event
	logins, episodes, answered := 0, 0, 0
	var outside, unready, lateLogout, earlyLogout int
	observe := func(_ int, srv *tserver.Server) {
		srv.Subscribe(func(e tserver.Event) {
			tod := e.Time.Sub(clock.Epoch) % day
			switch e.Type {
			case tserver.EventAgentLogin:
				logins++
				if tod != 8*time.Hour {
					t.Errorf("%s logs in at %v", e.AgentID, tod)
				}
			case tserver.EventAgentLogout:
				// After 16:00, within the longest a call then lasts.
				if tod < 16*time.Hour && e.Time.Sub(clock.Epoch) > 0 {
					earlyLogout++
				}
				if tod > 17*time.Hour {
					lateLogout++
				}
			case tserver.EventAgentNotReady:
				// An episode that finds the agent busy is announced
				// at once and again when the work is done: count it
				// when it follows a ready.
				if e.Reason == reasonNotReady && last[e.AgentID].Type == tserver.EventAgentReady {
					episodes++
				}
			case tserver.EventRinging:
				answered++
				if l := last[e.AgentID]; l.Type != tserver.EventAgentReady {
					unready++
				}
				if tod < 8*time.Hour || tod >= 16*time.Hour || (tod >= 12*time.Hour && tod < 12*time.Hour+30*time.Minute) {
					outside++
				}
			}
			switch e.Type {
			case tserver.EventAgentLogin, tserver.EventAgentLogout, tserver.EventAgentReady, tserver.EventAgentNotReady:
				last[e.AgentID] = e
			}
		})
	}
	reps := replications(t, f, observe)
	if answered < 1000 {
		t.Fatalf("only %d calls answered", answered)
	}
	if outside > 0 || unready > 0 {
		t.Errorf("%d calls offered outside the shift or on the break, %d to an agent not ready", outside, unready)
	}
	if earlyLogout > 0 || lateLogout > 0 {
		t.Errorf("%d logouts before 16:00, %d after 17:00", earlyLogout, lateLogout)
	}
	n := float64(agents * days)
	share := 1 - float64(logins)/n
	if sd := math.Sqrt(absent * (1 - absent) / n); math.Abs(share-absent) > 4*sd {
		t.Errorf("%d logins of %v agent-days: %.3f absent, want %.2f ± %.3f", logins, n, share, absent, 4*sd)
	}
	// About one episode due an hour of an 8-hour shift; those due on the
	// break are skipped: between 6 and 8.5 a shift.
	if per := float64(episodes) / float64(logins); per < 6 || per > 8.5 {
		t.Errorf("%d not-ready episodes in %d shifts: %.2f a shift", episodes, logins, per)
	}
	q := reps[0].queues[0]
	if q.abandoned < q.offered/3 {
		t.Errorf("only %d of %d abandoned although nobody works 16 hours a day", q.abandoned, q.offered)
	}
	t.Logf("%d logins (%.3f absent), %d not-ready episodes, %d calls offered to agents; %d of %d abandoned",
		logins, share, episodes, answered, q.abandoned, q.offered)
}
