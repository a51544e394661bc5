package pidf

import (
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/callback"
)

// activityShows maps RPID activities to shows; activities not listed
// (working, unknown, other, tv, ...) say nothing of the show.
var activityShows = map[Activity]callback.Show{
	BusyActivity: callback.DoNotDisturb, OnThePhone: callback.DoNotDisturb, Meeting: callback.DoNotDisturb,
	Appointment: callback.DoNotDisturb, Performance: callback.DoNotDisturb, Presentation: callback.DoNotDisturb,
	Steering: callback.DoNotDisturb, Worship: callback.DoNotDisturb,

	AwayActivity: callback.Away, Sleeping: callback.Away, Meal: callback.Away, Breakfast: callback.Away,
	Dinner: callback.Away, InTransit: callback.Away, Travel: callback.Away, Shopping: callback.Away,

	Vacation: callback.ExtAway, Holiday: callback.ExtAway, PermanentAbsence: callback.ExtAway,
}

// noteShows maps the notes of clients that say their state only in a
// note (no RPID), compared without case: the English words softphones
// use. Any other note says nothing.
var noteShows = map[string]callback.Show{
	"busy": callback.DoNotDisturb, "on the phone": callback.DoNotDisturb, "on phone": callback.DoNotDisturb,
	"do not disturb": callback.DoNotDisturb, "dnd": callback.DoNotDisturb, "in a meeting": callback.DoNotDisturb,

	"away": callback.Away, "be right back": callback.Away, "out to lunch": callback.Away, "idle": callback.Away,

	"extended away": callback.ExtAway, "on vacation": callback.ExtAway,
}

// rank orders shows by how much they say: do-not-disturb wins, then a
// long absence, then away.
func rank(s callback.Show) int {
	switch s {
	case callback.DoNotDisturb:
		return 3
	case callback.ExtAway:
		return 2
	case callback.Away:
		return 1
	}
	return 0
}

// Show is what d says of its user, in the callback domain's words, and
// since when the user has been idle (zero: in use, or not said), for a
// document received at at. In this order:
//
//	| the document says                                     | show                 |
//	|-------------------------------------------------------|----------------------|
//	| no tuple open, at least one closed                    | unavailable          |
//	| an activity busy, on-the-phone, meeting, appointment, |                      |
//	|   performance, presentation, steering, worship        | dnd                  |
//	| an activity vacation, holiday, permanent-absence      | xa                   |
//	| an activity away, sleeping, meal, breakfast, dinner,  |                      |
//	|   in-transit, travel, shopping                        | away                 |
//	| no activity at all, a note "Busy", "On the phone",    | dnd, xa or away by   |
//	|   "Away", ... (clients without RPID)                  |   the note           |
//	| else (a tuple open, or nothing said)                  | available            |
//
// Activities count from persons and tuples alike; the strongest wins
// (dnd, then xa, then away). The user is idle when some user-input says
// idle and none says active; idle since the latest last-input of those
// that say idle, else since at less the idle threshold (at when none is
// given).
func (d Document) Show(at time.Time) (callback.Show, time.Time) {
	return d.show(), d.idleSince(at)
}

func (d Document) show() callback.Show {
	open, closed := false, false
	for _, t := range d.Tuples {
		open = open || t.Basic == Open
		closed = closed || t.Basic == Closed
	}
	if closed && !open {
		return callback.Unavailable
	}
	best, anyActivity := callback.Available, false
	consider := func(acts []Activity) {
		for _, a := range acts {
			anyActivity = true
			if s, ok := activityShows[a]; ok && rank(s) > rank(best) {
				best = s
			}
		}
	}
	for _, p := range d.Persons {
		consider(p.Activities)
	}
	for _, t := range d.Tuples {
		consider(t.Activities)
	}
	if anyActivity {
		return best
	}
	notes := append([]string(nil), d.Notes...)
	for _, p := range d.Persons {
		notes = append(notes, p.Notes...)
	}
	for _, t := range d.Tuples {
		notes = append(notes, t.Notes...)
	}
	for _, n := range notes {
		if s, ok := noteShows[strings.ToLower(strings.Join(strings.Fields(n), " "))]; ok && rank(s) > rank(best) {
			best = s
		}
	}
	return best
}

func (d Document) idleSince(at time.Time) time.Time {
	var inputs []*UserInput
	for _, p := range d.Persons {
		inputs = append(inputs, p.UserInput)
	}
	for _, t := range d.Tuples {
		inputs = append(inputs, t.UserInput)
	}
	for _, dev := range d.Devices {
		inputs = append(inputs, dev.UserInput)
	}
	var since time.Time
	idle := false
	for _, u := range inputs {
		switch {
		case u == nil:
			continue
		case !u.Idle:
			return time.Time{} // in use somewhere
		}
		idle = true
		s := u.LastInput
		if s.IsZero() {
			s = at.Add(-u.IdleThreshold)
		}
		if s.After(since) {
			since = s
		}
	}
	if !idle {
		return time.Time{}
	}
	return since
}
