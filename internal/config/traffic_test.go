package config

import (
	"strings"
	"testing"
	"time"
)

// trafficHead is a center for the traffic lines of the tests below.
const trafficHead = `queues: [{name: a}, {name: b}, {name: c, media: im}]
run: {duration: 24h}
traffic:
`

// TestParseTrafficModels reads every traffic model, inline and from CSV
// files relative to the center file.
func TestParseTrafficModels(t *testing.T) {
	f, err := Parse("testdata/scenario.yaml", []byte(trafficHead+`
  - queue: a
    arrivals:
      forecast: {file: forecast.csv, column: support}
      overdispersion: {cv: 0.15}
    handle: {empirical: {file: handle-times.csv, column: seconds}}
    patience: {lognormal: {mean: 2m, sd: 1m}}
    retrial: {probability: 0.4, delay: {gamma: {mean: 10m, sd: 5m}}}
    transfers: [{to_queue: b, probability: 0.1, handle: {erlang: {mean: 3m, k: 2}}}, {to_queue: a, probability: 0.05}]
  - queue: b
    arrivals:
      forecast:
        interval: 15m
        intervals: [{start: "23:30", per_hour: 10}, {start: "23:45", per_hour: 0}]
    handle: {constant: {value: 90}}
    patience: {empirical: {values: [30s, 1m, 2m]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Traffic[0], f.Traffic[1]
	fc := a.Arrivals.Forecast
	if fc.Interval.D() != 30*time.Minute || len(fc.Intervals) != 5 || fc.Intervals[0].Start.D() != 8*time.Hour ||
		fc.Intervals[2].PerHour != 180 || fc.Intervals[4].Start.String() != "10:00" {
		t.Errorf("forecast from CSV: %+v", fc)
	}
	want := []time.Duration{185 * time.Second, 240 * time.Second, 4 * time.Minute, 95500 * time.Millisecond, 610 * time.Second}
	got := a.Handle.Empirical.Values
	if len(got) != len(want) {
		t.Fatalf("empirical values %v, want %v", got, want)
	}
	for i := range want {
		if got[i].D() != want[i] {
			t.Errorf("empirical value %d = %v, want %v", i, got[i], want[i])
		}
	}
	if m := a.Handle.Mean(); m != 274100*time.Millisecond { // (185+240+240+95.5+610)/5 s
		t.Errorf("empirical mean %v, want 4m34.1s", m)
	}
	if a.Arrivals.Overdispersion.CV != 0.15 || a.Retrial.Probability != 0.4 || a.Retrial.Delay.Gamma.SD.D() != 5*time.Minute ||
		len(a.Transfers) != 2 || a.Transfers[0].Handle.Erlang.K != 2 || a.Transfers[1].Handle != nil {
		t.Errorf("traffic[0]: %+v", a)
	}
	if b.Arrivals.Forecast.Interval.D() != 15*time.Minute || b.Arrivals.Forecast.Intervals[1].Start.D() != 23*time.Hour+45*time.Minute ||
		b.Patience.Mean() != 70*time.Second {
		t.Errorf("traffic[1]: %+v", b)
	}
}

// TestParseTrafficErrors: every broken traffic model gets one error that
// names the file, the line and the field (and, for a CSV, the CSV's file
// and line).
func TestParseTrafficErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, field string
		line             int
		msg              string
	}{
		{"unknown key", `
  - {queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1m}}, retrys: 2}`,
			"traffic[0].retrys", 4, `unknown field "retrys"`},
		{"unknown distribution", `
  - {queue: a, arrivals: {poisson: {per_hour: 1}}, handle: {weibull: {mean: 1m}}}`,
			"traffic[0].handle.weibull", 4, `unknown field "weibull"`},
		{"negative rate", `
  - {queue: a, arrivals: {poisson: {per_hour: -5}}, handle: {constant: {value: 1m}}}`,
			"traffic[0].arrivals.poisson.per_hour", 4, "must be a number > 0"},
		{"negative forecast rate", `
  - queue: a
    arrivals: {forecast: {intervals: [{start: "08:00", per_hour: 5}, {start: "08:30", per_hour: -1}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[1].per_hour", 5, "must be a number >= 0"},
		{"poisson and forecast", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}, forecast: {intervals: [{start: "08:00", per_hour: 5}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast", 5, "set either poisson or forecast"},
		{"forecast gap", `
  - queue: a
    arrivals:
      forecast:
        intervals: [{start: "08:00", per_hour: 5}, {start: "08:30", per_hour: 5}, {start: "09:30", per_hour: 5}]
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[2].start", 7, "a gap: interval 09:30 starts after the one before (08:30) ended at 09:00"},
		{"forecast overlap", `
  - queue: a
    arrivals:
      forecast:
        interval: 15m
        intervals:
          - {start: "08:00", per_hour: 5}
          - {start: "08:15", per_hour: 5}
          - {start: "08:15", per_hour: 5}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[2].start", 11, "interval 08:15 overlaps the one before (08:15 to 08:30)"},
		{"forecast off the grid", `
  - queue: a
    arrivals: {forecast: {intervals: [{start: "08:10", per_hour: 5}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[0].start", 5, "does not start on a multiple of the interval 30m"},
		{"forecast past midnight", `
  - queue: a
    arrivals: {forecast: {intervals: [{start: "23:30", per_hour: 5}, {start: "24:00", per_hour: 5}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[1].start", 5, "runs past 24:00"},
		{"forecast interval", `
  - queue: a
    arrivals: {forecast: {interval: 7m, intervals: [{start: "08:00", per_hour: 5}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.interval", 5, "must be at least 1m0s and divide a day"},
		{"forecast of zeros", `
  - queue: a
    arrivals: {forecast: {intervals: [{start: "08:00", per_hour: 0}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[0].per_hour", 5, "every rate is 0"},
		{"bad time of day", `
  - queue: a
    arrivals: {forecast: {intervals: [{start: "8h", per_hour: 5}]}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.intervals[0].start", 5, `invalid time of day "8h"`},
		{"forecast CSV with a gap", `
  - queue: a
    arrivals: {forecast: {file: forecast-gap.csv}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.file", 5, "forecast-gap.csv:4: a gap: interval 09:30"},
		{"forecast CSV that does not parse", `
  - queue: a
    arrivals: {forecast: {file: forecast-bad.csv}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.file", 5, `forecast-bad.csv:3: per_hour: "lots" is not a number`},
		{"forecast CSV without the column", `
  - queue: a
    arrivals: {forecast: {file: forecast.csv, column: sales}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.file", 5, `forecast.csv:2: no column "sales" in the header`},
		{"missing CSV", `
  - queue: a
    arrivals: {forecast: {file: no-such.csv}}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.forecast.file", 5, "no-such.csv"},
		{"empirical CSV with a negative time", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {empirical: {file: handle-bad.csv, column: seconds}}`,
			"traffic[0].handle.empirical.file", 6, `handle-bad.csv:3: seconds: negative duration "-3"`},
		{"empirical CSV without column", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {empirical: {file: handle-times.csv}}`,
			"traffic[0].handle.empirical.column", 6, "required: the CSV column"},
		{"lognormal without sd", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle:
      lognormal: {mean: 3m}`,
			"traffic[0].handle.lognormal.sd", 7, "required: a duration > 0"},
		{"gamma without mean", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle:
      gamma: {sd: 3m}`,
			"traffic[0].handle.gamma.mean", 7, "required: a duration > 0"},
		{"erlang without k", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle:
      erlang: {mean: 3m}`,
			"traffic[0].handle.erlang.k", 7, "required: the number of phases"},
		{"empty empirical", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {exponential: {mean: 1m}}
    patience:
      empirical: {values: []}`,
			"traffic[0].patience.empirical", 8, "needs values"},
		{"overdispersion", `
  - queue: a
    arrivals:
      poisson: {per_hour: 1}
      overdispersion: {cv: -0.2}
    handle: {constant: {value: 1m}}`,
			"traffic[0].arrivals.overdispersion.cv", 7, "must be a number > 0"},
		{"retrial without patience", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    retrial: {probability: 0.5, delay: {constant: {value: 5m}}}`,
			"traffic[0].retrial", 7, "needs patience"},
		{"retrial probability", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    patience: {constant: {value: 1m}}
    retrial: {probability: 1.5, delay: {constant: {value: 5m}}}`,
			"traffic[0].retrial.probability", 8, "1.5 is not a probability"},
		{"retrial without delay", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    patience: {constant: {value: 1m}}
    retrial: {probability: 0.5}`,
			"traffic[0].retrial.delay", 8, "needs exactly one of"},
		{"transfer to another media", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    transfers: [{to_queue: c, probability: 0.5}]`,
			"traffic[0].transfers[0].to_queue", 7, `queue "c" takes im, not voice`},
		{"transfers above 1", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    transfers:
      - {to_queue: b, probability: 0.7}
      - {to_queue: a, probability: 0.4}`,
			"traffic[0].transfers", 8, "add up to 1.1"},
		{"transfer without probability", `
  - queue: a
    arrivals: {poisson: {per_hour: 1}}
    handle: {constant: {value: 1m}}
    transfers: [{to_queue: b}]`,
			"traffic[0].transfers[0].probability", 7, "required: a probability"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := trafficHead + strings.TrimPrefix(tc.src, "\n") + "\n"
			f, err := Parse("testdata/center.yaml", []byte(src))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %s", tc.field)
			}
			if f != nil {
				t.Errorf("Parse returned a File with its error")
			}
			errs := errorsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			e := errs[0]
			if e.File != "testdata/center.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q\n(line %d, field %q, msg %q)\nwant line %d, field %q, message with %q",
					err, e.Line, e.Field, e.Msg, tc.line, tc.field, tc.msg)
			}
		})
	}
}
