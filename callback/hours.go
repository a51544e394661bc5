package callback

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// TimeOfDay is a wall-clock time in minutes since midnight, 00:00
// (0) to 24:00 (1440, the end of the day; only as a window's To).
type TimeOfDay int

// EndOfDay is 24:00.
const EndOfDay TimeOfDay = 24 * 60

// ParseTimeOfDay reads "HH:MM" (00:00 to 24:00; the hour may have one
// digit).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !allDigits(h) || !allDigits(m) {
		return 0, fmt.Errorf("time of day %q: want HH:MM", s)
	}
	hh, mm := atoi(h), atoi(m)
	switch {
	case hh > 24 || mm > 59:
		return 0, fmt.Errorf("time of day %q: out of range 00:00-24:00", s)
	case hh == 24 && mm != 0:
		return 0, fmt.Errorf("time of day %q: past 24:00", s)
	}
	return TimeOfDay(hh*60 + mm), nil
}

// MustTimeOfDay is ParseTimeOfDay for constants: it panics on a bad s.
func MustTimeOfDay(s string) TimeOfDay {
	t, err := ParseTimeOfDay(s)
	if err != nil {
		panic(err)
	}
	return t
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// MarshalText writes "HH:MM".
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads "HH:MM" (ParseTimeOfDay).
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Window is a span of allowed hours that repeats on some days of the
// week, in the zone of its Hours. A window whose To is not after From
// crosses midnight and belongs to the day it starts: Friday 22:00–06:00
// allows Friday night until Saturday 06:00; From == To is 24 hours
// from From.
type Window struct {
	// Days the window starts on; empty: every day.
	Days []time.Weekday
	From TimeOfDay
	To   TimeOfDay
}

// Hours are the times a customer may be called, in the customer's
// zone. No window at all means always.
type Hours struct {
	// Zone the windows are read in; nil is UTC.
	Zone    *time.Location
	Windows []Window
}

// Validate reports what is wrong with h, naming it.
func (h Hours) Validate() error {
	for i, w := range h.Windows {
		for _, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				return fmt.Errorf("hours: window %d: no weekday %d", i+1, int(d))
			}
		}
		if w.From < 0 || w.From >= EndOfDay {
			return fmt.Errorf("hours: window %d: from %s: want 00:00 to 23:59", i+1, w.From)
		}
		if w.To < 0 || w.To > EndOfDay {
			return fmt.Errorf("hours: window %d: to %s: want 00:00 to 24:00", i+1, w.To)
		}
	}
	return nil
}

func (h Hours) zone() *time.Location {
	if h.Zone == nil {
		return time.UTC
	}
	return h.Zone
}

func (w Window) on(d time.Weekday) bool { return len(w.Days) == 0 || slices.Contains(w.Days, d) }

// Allows reports whether t lies in one of h's windows (always when h
// has none). The windows are read on the wall clock of h's zone, so a
// 09:00–17:00 window follows daylight saving time.
func (h Hours) Allows(t time.Time) bool {
	if len(h.Windows) == 0 {
		return true
	}
	l := t.In(h.zone())
	tod := TimeOfDay(l.Hour()*60 + l.Minute())
	today, yesterday := l.Weekday(), (l.Weekday()+6)%7
	for _, w := range h.Windows {
		if w.From < w.To {
			if w.on(today) && tod >= w.From && tod < w.To {
				return true
			}
			continue
		}
		// Crossing midnight: today's evening, or the morning after a
		// window that started yesterday.
		if (w.on(today) && tod >= w.From) || (w.on(yesterday) && tod < w.To) {
			return true
		}
	}
	return false
}

// Next returns the first instant at or after t that h allows, and
// false when no window ever allows one (then the time is zero).
//
// If t is not allowed, the answer is the instant the wall clock enters
// a window: a window's start on one of its days (both instants when
// the wall clock shows that time twice, as daylight saving time ends),
// or a change of the zone's offset that jumps the wall clock into a
// window (a start in the hour daylight saving time skips is reached
// at the jump). Next looks at every such instant from the day before
// t to nine days after it: windows repeat each week.
func (h Hours) Next(t time.Time) (time.Time, bool) {
	if h.Allows(t) {
		return t, true
	}
	zone := h.zone()
	l := t.In(zone)
	var best time.Time
	consider := func(c time.Time) {
		if !c.Before(t) && (best.IsZero() || c.Before(best)) && h.Allows(c) {
			best = c
		}
	}
	y, m, d := l.Date()
	for day := -1; day <= 9; day++ {
		date := time.Date(y, m, d+day, 12, 0, 0, 0, time.UTC) // noon: never a different day
		for _, w := range h.Windows {
			if w.on(date.Weekday()) {
				for _, c := range wallInstants(zone, date, w.From) {
					consider(c)
				}
			}
		}
	}
	// The offset changes between t and ten days on.
	end := t.AddDate(0, 0, 10)
	for at := t; at.Before(end); {
		_, next := at.In(zone).ZoneBounds()
		if next.IsZero() || !next.After(at) {
			break
		}
		consider(next)
		at = next
	}
	return best, !best.IsZero()
}

// wallInstants returns the instants at which zone's wall clock shows
// tod on date (a UTC date): one, two where the clock goes back, none
// where it jumps over it.
func wallInstants(zone *time.Location, date time.Time, tod TimeOfDay) []time.Time {
	naive := time.Date(date.Year(), date.Month(), date.Day(), int(tod)/60, int(tod)%60, 0, 0, time.UTC)
	var out []time.Time
	for _, probe := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := naive.Add(probe).In(zone).Zone()
		c := naive.Add(-time.Duration(off) * time.Second)
		l := c.In(zone)
		if time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC).Equal(naive) &&
			!slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// A weekday in JSON: its first three letters, lower case.
type jsonDay time.Weekday

func (d jsonDay) MarshalText() ([]byte, error) {
	if d < 0 || int(d) >= len(dayNames) {
		return nil, fmt.Errorf("no weekday %d", int(d))
	}
	return []byte(dayNames[d]), nil
}

func (d *jsonDay) UnmarshalText(b []byte) error {
	i := slices.Index(dayNames[:], strings.ToLower(string(b)))
	if i < 0 {
		return fmt.Errorf("weekday %q: want one of %s", b, strings.Join(dayNames[:], ", "))
	}
	*d = jsonDay(i)
	return nil
}

type jsonWindow struct {
	Days []jsonDay `json:"days,omitempty"`
	From TimeOfDay `json:"from"`
	To   TimeOfDay `json:"to"`
}

type jsonHours struct {
	Zone    string       `json:"zone,omitempty"`
	Windows []jsonWindow `json:"windows,omitempty"`
}

// MarshalJSON writes h as
// {"zone":"Europe/Paris","windows":[{"days":["sat","sun"],"from":"09:00","to":"12:00"}]}.
func (h Hours) MarshalJSON() ([]byte, error) {
	j := jsonHours{}
	if h.Zone != nil && h.Zone != time.UTC {
		j.Zone = h.Zone.String()
	}
	for _, w := range h.Windows {
		jw := jsonWindow{From: w.From, To: w.To}
		for _, d := range w.Days {
			jw.Days = append(jw.Days, jsonDay(d))
		}
		j.Windows = append(j.Windows, jw)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; the zone is an IANA name
// (time.LoadLocation: the host's zone database, or time/tzdata linked
// into the binary), empty for UTC. The hours read must be valid.
func (h *Hours) UnmarshalJSON(b []byte) error {
	var j jsonHours
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("hours: %w", err)
	}
	out := Hours{}
	if j.Zone != "" {
		z, err := time.LoadLocation(j.Zone)
		if err != nil {
			return fmt.Errorf("hours: zone %q: %w", j.Zone, err)
		}
		out.Zone = z
	}
	for _, jw := range j.Windows {
		w := Window{From: jw.From, To: jw.To}
		for _, d := range jw.Days {
			w.Days = append(w.Days, time.Weekday(d))
		}
		out.Windows = append(out.Windows, w)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*h = out
	return nil
}

// ConfigHours converts allowed hours as a center or scenario file writes
// them (internal/config, checked there) for the scheduler; serve and sim
// both read them so.
func ConfigHours(h *config.Hours) (Hours, error) {
	zone, err := time.LoadLocation(h.Zone)
	if err != nil {
		return Hours{}, fmt.Errorf("time zone %q: %w", h.Zone, err)
	}
	out := Hours{Zone: zone}
	for _, w := range h.Windows {
		from, _ := config.ClockMinutes(w.From)
		to, _ := config.ClockMinutes(w.To)
		win := Window{From: TimeOfDay(from), To: TimeOfDay(to)}
		for _, d := range w.Days {
			for i, name := range config.Weekdays {
				if strings.EqualFold(name, d) {
					win.Days = append(win.Days, time.Weekday(i))
				}
			}
		}
		out.Windows = append(out.Windows, win)
	}
	return out, nil
}

// ConfigDirectory is the center file's customers (im.customers) with
// their callback preferences, each target a device of the customer on
// the listed network: the one conversion serve and replay share.
func ConfigDirectory(f *config.File) (MemoryDirectory, error) {
	dir := MemoryDirectory{}
	if f.IM == nil {
		return dir, nil
	}
	for _, cu := range f.IM.Customers {
		c := Customer{Number: cu.Number, Name: cu.Name}
		if p := cu.Callback; p != nil {
			prefs := Preferences{ByStatus: map[Status][]Target{}, MaxAttempts: p.MaxAttempts, Pause: p.Pause.D()}
			for _, st := range []struct {
				status Status
				media  []string
			}{{Online, p.Online}, {Idle, p.Away}, {Offline, p.Offline}} {
				targets := []Target{}
				for _, m := range st.media {
					for _, d := range cu.Devices {
						if d.Network == m {
							targets = append(targets, Target{Medium: Medium(m), Address: d.Address})
						}
					}
				}
				prefs.ByStatus[st.status] = targets
			}
			if h := p.Hours; h != nil {
				hours, err := ConfigHours(h)
				if err != nil {
					return nil, fmt.Errorf("customer %s: %w", cu.Number, err)
				}
				prefs.Hours = hours
			}
			if err := prefs.Validate(); err != nil {
				return nil, fmt.Errorf("customer %s: callback preferences: %w", cu.Number, err)
			}
			c.Prefs = prefs
		}
		dir[cu.Number] = c
	}
	return dir, nil
}
