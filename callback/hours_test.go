package callback

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has
)

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("zone %s: %v", name, err)
	}
	return z
}

func tod(s string) TimeOfDay { return MustTimeOfDay(s) }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

func TestParseTimeOfDay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TimeOfDay
		err  string
	}{
		{"08:30", 510, ""},
		{"8:30", 510, ""},
		{"00:00", 0, ""},
		{"23:59", 1439, ""},
		{"24:00", EndOfDay, ""},
		{"24:01", 0, "past 24:00"},
		{"25:00", 0, "out of range"},
		{"08:60", 0, "out of range"},
		{"0830", 0, "want HH:MM"},
		{"", 0, "want HH:MM"},
		{"+8:30", 0, "want HH:MM"},
		{"08:3", 0, "want HH:MM"},
		{"108:30", 0, "want HH:MM"},
	} {
		got, err := ParseTimeOfDay(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseTimeOfDay(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseTimeOfDay(%q) error %v; want one saying %q", tc.in, err, tc.err)
		}
	}
}

// TestHoursAllows: the same instants in three zones, a window across
// midnight, a weekend-only window, a daylight-saving day.
func TestHoursAllows(t *testing.T) {
	ny, paris, tokyo := mustZone(t, "America/New_York"), mustZone(t, "Europe/Paris"), mustZone(t, "Asia/Tokyo")
	office := func(z *time.Location) Hours {
		return Hours{Zone: z, Windows: []Window{{Days: weekdays, From: tod("09:00"), To: tod("17:00")}}}
	}
	night := Hours{Zone: paris, Windows: []Window{{Days: []time.Weekday{time.Friday}, From: tod("22:00"), To: tod("06:00")}}}
	weekend := Hours{Zone: tokyo, Windows: []Window{{Days: []time.Weekday{time.Saturday, time.Sunday}, From: tod("10:00"), To: tod("18:00")}}}
	allDay := Hours{Zone: ny, Windows: []Window{{From: tod("07:00"), To: tod("07:00")}}}
	for _, tc := range []struct {
		name  string
		hours Hours
		at    string // UTC
		want  bool
	}{
		{"empty hours: always", Hours{}, "2026-01-04T03:00:00Z", true},
		// Monday 5 January 2026, 08:30 UTC: 09:30 in Paris, 03:30 in New York, 17:30 in Tokyo.
		{"Paris office, 09:30 Monday", office(paris), "2026-01-05T08:30:00Z", true},
		{"New York office, 03:30 Monday", office(ny), "2026-01-05T08:30:00Z", false},
		{"Tokyo office, 17:30 Monday", office(tokyo), "2026-01-05T08:30:00Z", false},
		{"Tokyo office, 16:59 Monday", office(tokyo), "2026-01-05T07:59:00Z", true},
		{"Tokyo office, 17:00 Monday: To is excluded", office(tokyo), "2026-01-05T08:00:00Z", false},
		{"New York office, 09:00 Monday: From is included", office(ny), "2026-01-05T14:00:00Z", true},
		{"Paris office, Saturday", office(paris), "2026-01-10T10:00:00Z", false},
		{"night: Friday 23:00 Paris", night, "2026-01-09T22:00:00Z", true},
		{"night: Saturday 05:59 Paris belongs to Friday", night, "2026-01-10T04:59:00Z", true},
		{"night: Saturday 06:00 Paris", night, "2026-01-10T05:00:00Z", false},
		{"night: Saturday 23:00 Paris", night, "2026-01-10T22:00:00Z", false},
		{"night: Friday 05:00 Paris belongs to Thursday", night, "2026-01-09T04:00:00Z", false},
		{"weekend: Saturday 10:00 Tokyo", weekend, "2026-01-10T01:00:00Z", true},
		{"weekend: Saturday 09:59 Tokyo", weekend, "2026-01-10T00:59:00Z", false},
		{"weekend: Friday 19:00 Tokyo", weekend, "2026-01-09T10:00:00Z", false},
		{"weekend: Sunday 17:59 Tokyo", weekend, "2026-01-11T08:59:00Z", true},
		{"weekend: Monday 10:00 Tokyo", weekend, "2026-01-12T01:00:00Z", false},
		{"From == To: 24 hours, 06:59 next day", allDay, "2026-01-06T11:59:00Z", true},
		// 8 March 2026, New York springs forward at 02:00 EST to 03:00 EDT.
		{"DST day: 09:00 EDT is 13:00 UTC", office(ny), "2026-03-09T13:00:00Z", true},
		{"DST day: 08:30 EDT, 12:30 UTC", office(ny), "2026-03-09T12:30:00Z", false},
		{"before DST: 09:00 EST is 14:00 UTC", office(ny), "2026-03-06T13:30:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.hours.Allows(utc(tc.at)); got != tc.want {
				t.Errorf("Allows(%s = %s) = %v, want %v", tc.at, utc(tc.at).In(tc.hours.zone()).Format("Mon 15:04 MST"), got, tc.want)
			}
		})
	}
}

// TestHoursNext: the first allowed instant, across zones, weekends,
// midnight and daylight-saving changes (a window starting in the hour
// that is skipped, an hour that comes twice).
func TestHoursNext(t *testing.T) {
	ny, paris := mustZone(t, "America/New_York"), mustZone(t, "Europe/Paris")
	in := func(z *time.Location, from, to string, days ...time.Weekday) Hours {
		return Hours{Zone: z, Windows: []Window{{Days: days, From: tod(from), To: tod(to)}}}
	}
	for _, tc := range []struct {
		name  string
		hours Hours
		from  string
		want  string // UTC; "never"
	}{
		{"allowed: now", in(paris, "09:00", "17:00"), "2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z"},
		{"before the window, same day", in(paris, "09:00", "17:00", weekdays...), "2026-01-05T06:10:00Z", "2026-01-05T08:00:00Z"},
		{"Friday evening: Monday morning", in(paris, "09:00", "17:00", weekdays...), "2026-01-09T17:00:00Z", "2026-01-12T08:00:00Z"},
		{"same instant, New York", in(ny, "09:00", "17:00", weekdays...), "2026-01-09T17:00:00Z", "2026-01-09T17:00:00Z"},
		{"New York, Friday 17:00 local", in(ny, "09:00", "17:00", weekdays...), "2026-01-09T22:00:00Z", "2026-01-12T14:00:00Z"},
		{"across midnight: next Friday 22:00", in(paris, "22:00", "06:00", time.Friday), "2026-01-10T06:00:00Z", "2026-01-16T21:00:00Z"},
		{"spring forward: 02:30 does not exist, 03:00 EDT", in(ny, "02:30", "04:00"), "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
		{"spring forward: a window all in the gap: the next day", in(ny, "02:00", "02:30"), "2026-03-08T05:00:00Z", "2026-03-09T06:00:00Z"},
		{"Paris springs forward too", in(paris, "02:15", "05:00"), "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"},
		{"fall back: 01:15 EST, the second one", in(ny, "01:15", "01:30"), "2026-11-01T05:45:00Z", "2026-11-01T06:15:00Z"},
		{"fall back: the clock goes back into the window", in(ny, "00:30", "01:30"), "2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z"},
		{"fall back: 01:15 EDT, the first one", in(ny, "01:15", "01:30"), "2026-11-01T04:00:00Z", "2026-11-01T05:15:00Z"},
		{"no window allows: never", Hours{Windows: []Window{{Days: []time.Weekday{9}, From: 0, To: 60}}}, "2026-01-05T00:00:00Z", "never"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.hours.Next(utc(tc.from))
			switch {
			case tc.want == "never":
				if ok || !got.IsZero() {
					t.Errorf("Next = %v, %v; want zero, false", got, ok)
				}
			case !ok || !got.Equal(utc(tc.want)):
				t.Errorf("Next(%s) = %s (%s), %v; want %s", tc.from, got.UTC().Format(time.RFC3339), got.In(tc.hours.zone()).Format("Mon 15:04 MST"), ok, tc.want)
			}
		})
	}
}

// TestNextIsTheFirstAllowedMinute checks Next against a walk minute by
// minute, from instants spread over the weeks around both daylight
// saving changes, in three zones.
func TestNextIsTheFirstAllowedMinute(t *testing.T) {
	for _, zone := range []string{"America/New_York", "Europe/Paris", "Asia/Tokyo"} {
		z := mustZone(t, zone)
		for _, h := range []Hours{
			{Zone: z, Windows: []Window{{Days: weekdays, From: tod("09:00"), To: tod("17:00")}}},
			{Zone: z, Windows: []Window{{Days: []time.Weekday{time.Saturday}, From: tod("22:00"), To: tod("06:00")}, {Days: []time.Weekday{time.Sunday}, From: tod("01:10"), To: tod("03:10")}}},
			{Zone: z, Windows: []Window{{From: tod("02:30"), To: tod("02:45")}, {From: tod("01:20"), To: tod("01:40")}}},
		} {
			for _, start := range []string{"2026-03-05T00:00:00Z", "2026-03-26T00:00:00Z", "2026-10-22T00:00:00Z", "2026-10-29T00:00:00Z"} {
				for from := utc(start); from.Before(utc(start).Add(6 * 24 * time.Hour)); from = from.Add(4*time.Hour + 11*time.Minute + 13*time.Second) {
					want := from
					if !h.Allows(want) {
						want = want.Truncate(time.Minute).Add(time.Minute)
						for !h.Allows(want) {
							want = want.Add(time.Minute)
						}
					}
					if got, ok := h.Next(from); !ok || !got.Equal(want) {
						t.Fatalf("%s %+v: Next(%s) = %s, %v; the walk finds %s", zone, h.Windows, from.Format(time.RFC3339), got.Format(time.RFC3339), ok, want.Format(time.RFC3339))
					}
				}
			}
		}
	}
}

func TestHoursValidate(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		want string
	}{
		{Window{Days: []time.Weekday{7}, From: 0, To: 60}, "no weekday 7"},
		{Window{From: EndOfDay, To: 60}, "from 24:00"},
		{Window{From: 0, To: EndOfDay + 1}, "to 24:01"},
		{Window{From: -1, To: 60}, "from"},
	} {
		err := Hours{Windows: []Window{tc.w}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error saying %q", tc.w, err, tc.want)
		}
	}
	if err := (Hours{Windows: []Window{{From: 0, To: EndOfDay}}}).Validate(); err != nil {
		t.Errorf("00:00-24:00: %v", err)
	}
}

func TestPreferencesJSON(t *testing.T) {
	in := Preferences{
		ByStatus: map[Status][]Target{Online: {{SIP, "alice"}, {Phone, "+33612345678"}}, Offline: {}},
		Hours: Hours{Zone: mustZone(t, "Europe/Paris"), Windows: []Window{
			{Days: []time.Weekday{time.Saturday, time.Sunday}, From: tod("10:00"), To: tod("18:00")},
			{From: tod("22:00"), To: tod("06:00")},
		}},
		MaxAttempts: 4,
		Pause:       90 * time.Second,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"by_status":{"offline":[],"online":[{"medium":"sip","address":"alice"},{"medium":"phone","address":"+33612345678"}]},"hours":{"zone":"Europe/Paris","windows":[{"days":["sat","sun"],"from":"10:00","to":"18:00"},{"from":"22:00","to":"06:00"}]},"max_attempts":4,"pause":"1m30s"}`
	if string(b) != want {
		t.Fatalf("JSON:\n%s\nwant:\n%s", b, want)
	}
	var out Preferences
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(out)
	if string(back) != want || out.Hours.Zone.String() != "Europe/Paris" {
		t.Errorf("round trip:\n%s", back)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"hours":{"zone":"Mars/Olympus"}}`, `zone "Mars/Olympus"`},
		{`{"hours":{"windows":[{"days":["funday"],"from":"10:00","to":"11:00"}]}}`, `weekday "funday"`},
		{`{"hours":{"windows":[{"from":"10:70","to":"11:00"}]}}`, `"10:70"`},
		{`{"pause":"soon"}`, `pause`},
		{`{"by_status":{"dnd":[{"medium":"phone","address":"+1"}]}}`, `do-not-disturb`},
		{`{"by_status":{"online":[{"medium":"xmpp","address":"a@b"}]}}`, `cannot be dialled`},
		{`{"by_status":{"away":[{"medium":"phone","address":"call me"}]}}`, `digits`},
		{`{"max_attempts":-1}`, `max attempts`},
	} {
		p := in
		err := json.Unmarshal([]byte(tc.in), &p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want an error saying %s", tc.in, err, tc.want)
		}
		if p.MaxAttempts != 4 {
			t.Errorf("Unmarshal(%s) changed the preferences", tc.in)
		}
	}
}

// FuzzParseTimeOfDay: what parses prints back the same and lies in the
// day.
func FuzzParseTimeOfDay(f *testing.F) {
	for _, s := range []string{"08:30", "8:30", "24:00", "24:01", "", ":", "99:99", "1:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTimeOfDay(s)
		if err != nil {
			return
		}
		if v < 0 || v > EndOfDay {
			t.Fatalf("%q parsed to %d", s, v)
		}
		if again, err := ParseTimeOfDay(v.String()); err != nil || again != v {
			t.Fatalf("%q: %s parses back to %v, %v", s, v, again, err)
		}
	})
}
