package report

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/sim"
)

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {3, 5}, {7, 10}, {99, 100}, {101, 200}, {0.031, 0.05},
	} {
		if got := niceCeil(tt.in); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestPathBreaksAtMissingValues: a missing value ends a line; a value
// alone between missing ones is a dot.
func TestPathBreaksAtMissingValues(t *testing.T) {
	x := func(i int) float64 { return float64(10 * i) }
	y := func(v float64) float64 { return 100 - v }
	nan := math.NaN()
	for _, tt := range []struct {
		name   string
		values []float64
		want   string
	}{
		{"line", []float64{1, 2, 3}, "M0.0 99.0L10.0 98.0L20.0 97.0"},
		{"gap", []float64{1, 2, nan, 4, 5}, "M0.0 99.0L10.0 98.0 M30.0 96.0L40.0 95.0"},
		{"lone value", []float64{nan, 7, nan}, "M10.0 93.0h0.01"},
		{"nothing", []float64{nan, nan}, ""},
	} {
		if got := path(tt.values, x, y); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestChartScalesNegativeValues: a series below 0 widens the axis down
// to a round step (20 for -30 to 40) and draws the 0 line.
func TestChartScalesNegativeValues(t *testing.T) {
	c := newChart("c", "t", "s", []string{"a", "b"}, []series{{name: "x", values: []float64{-30, 40}}}, nil,
		trimFloat, 1)
	if c.Empty || len(c.Refs) != 1 || c.Refs[0].Name != "0" {
		t.Fatalf("chart %+v: want a drawn series and a 0 line", c)
	}
	if got, want := c.YTicks[0].Label, "-40"; got != want {
		t.Errorf("lowest tick %q, want %q", got, want)
	}
	if got, want := c.YTicks[len(c.YTicks)-1].Label, "40"; got != want {
		t.Errorf("highest tick %q, want %q", got, want)
	}
	empty := newChart("e", "t", "s", []string{"a"}, []series{{name: "x", values: []float64{math.NaN()}}}, nil, trimFloat, 1)
	if !empty.Empty {
		t.Error("a chart of missing values is not empty")
	}
}

// TestCSVLeavesUndefinedFiguresEmpty: a ratio of nothing and an unknown
// half-width are empty cells, not 0 or NaN.
func TestCSVLeavesUndefinedFiguresEmpty(t *testing.T) {
	nan := math.NaN()
	res := &sim.Result{Intervals: &sim.IntervalResults{
		Periods: []sim.Period{{Start: 0, End: 1800, Label: "00:00"}},
		Queues: []sim.QueueIntervals{{Name: "q, \"quoted\"", Media: "voice", Rows: []sim.QueueInterval{{
			ServiceLevel: sim.Figure(nan), ASA: sim.Figure(nan), AbandonRate: sim.Figure(nan), Occupancy: 0.5,
			CI95: sim.IntervalCI{ServiceLevel: sim.HalfWidth(nan), ASA: sim.HalfWidth(nan), AbandonRate: sim.HalfWidth(nan), QueueLength: 0.25, Occupancy: sim.HalfWidth(nan)},
			EWT:  sim.EWTAccuracy{MeanError: sim.Figure(nan), MeanAbsError: sim.Figure(nan)},
		}}}},
	}}
	var b bytes.Buffer
	if err := WriteCSV(&b, res); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[1]) != len(CSVHeader) {
		t.Fatalf("rows %q", rows)
	}
	cell := map[string]string{}
	for i, h := range CSVHeader {
		cell[h] = rows[1][i]
	}
	for h, want := range map[string]string{
		"queue": `q, "quoted"`, "service_level": "", "service_level_ci95": "", "asa_s": "", "occupancy": "0.5",
		"queue_length_ci95": "0.25", "ewt_mean_error_s": "", "offered": "0", "end_s": "1800",
	} {
		if cell[h] != want {
			t.Errorf("%s = %q, want %q", h, cell[h], want)
		}
	}
}
