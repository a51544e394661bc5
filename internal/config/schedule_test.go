package config

import (
	"strings"
	"testing"
	"time"
)

const scheduleHead = `queues: [{name: a}]
agents: [{group: day, count: 3, skills: {a: 5}}, {id: solo, skills: {a: 5}}]
traffic: [{queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}}]
run: {duration: 48h}
schedule:
`

func TestParseSchedule(t *testing.T) {
	f := MustParse(t, scheduleHead+`
  - group: day
    shifts:
      - {start: "08:00", end: "12:00", breaks: [{start: "10:00", length: 15m}]}
      - {start: "13:00", end: "17:00"}
    absenteeism: 0.1
    not_ready: {every: {exponential: {mean: 1h}}, length: {constant: {value: 3m}}}
  - {group: solo, shifts: [{start: "00:00", end: "24:00"}]}
`)
	s := f.Schedule[0]
	if len(s.Shifts) != 2 || s.Shifts[0].Breaks[0].Start.D() != 10*time.Hour || s.Shifts[1].End.D() != 17*time.Hour ||
		s.NotReady.Length.Constant.Value.D() != 3*time.Minute {
		t.Errorf("schedule %+v", s)
	}
	// 8 hours less 15 minutes, 9 days in 10.
	if got, want := s.Staffed(), (7.75/24)*0.9; got < want-1e-12 || got > want+1e-12 {
		t.Errorf("staffed %v, want %v", got, want)
	}
	if f.Schedule[1].Staffed() != 1 {
		t.Errorf("round the clock staffed %v", f.Schedule[1].Staffed())
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, field string
		line             int
		msg              string
	}{
		{"unknown group", `
  - {group: night, shifts: [{start: "22:00", end: "23:00"}]}`, "schedule[0].group", 6, `no agents group or id "night"`},
		{"overlapping shifts", `
  - group: day
    shifts:
      - {start: "08:00", end: "12:00"}
      - {start: "11:00", end: "15:00"}`, "schedule[0].shifts[1].start", 9, "shift 11:00-15:00 overlaps shift 08:00-12:00"},
		{"end before start", `
  - group: day
    shifts: [{start: "08:00", end: "07:00"}]`, "schedule[0].shifts[0].end", 7, "07:00 is not after the start (08:00)"},
		{"break outside the shift", `
  - group: day
    shifts: [{start: "08:00", end: "12:00", breaks: [{start: "11:50", length: 15m}]}]`,
			"schedule[0].shifts[0].breaks[0].start", 7, "break 11:50-12:05 is not within the shift 08:00-12:00"},
		{"overlapping breaks", `
  - group: day
    shifts: [{start: "08:00", end: "12:00", breaks: [{start: "09:00", length: 15m}, {start: "09:10", length: 15m}]}]`,
			"schedule[0].shifts[0].breaks[1].start", 7, "overlaps the break before"},
		{"missing end", `
  - group: day
    shifts: [{start: "08:00"}]`, "schedule[0].shifts[0]", 7, "needs start and end"},
		{"absenteeism", `
  - {group: day, shifts: [{start: "08:00", end: "12:00"}], absenteeism: 1}`, "schedule[0].absenteeism", 6, "1 must be >= 0 and < 1"},
		{"scheduled twice", `
  - {group: day, shifts: [{start: "08:00", end: "12:00"}]}
  - {group: day, shifts: [{start: "13:00", end: "14:00"}]}`, "schedule[1].group", 7, `group "day" already scheduled`},
		{"not ready without length", `
  - group: day
    shifts: [{start: "08:00", end: "12:00"}]
    not_ready: {every: {exponential: {mean: 1h}}}`, "schedule[0].not_ready.length", 8, "needs exactly one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("center.yaml", []byte(scheduleHead+strings.TrimPrefix(tc.src, "\n")+"\n"))
			if err == nil || f != nil {
				t.Fatalf("Parse accepted it, want an error at %s", tc.field)
			}
			errs := errorsOf(t, err)
			e := errs[0]
			if len(errs) != 1 || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q\n(line %d, field %q)\nwant line %d, field %q, message with %q", err, e.Line, e.Field, tc.line, tc.field, tc.msg)
			}
		})
	}
}
