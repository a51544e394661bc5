// Package report writes a simulation's results for people and programs:
// result.json (what `ccswitch sim --json` prints), intervals.csv (one row
// per queue and interval) and report.html, one self-contained page (inline
// CSS and SVG charts, no script, nothing fetched) that opens offline.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim"
)

// Config tunes the report.
type Config struct {
	// SLGoal is the service level the SL chart draws as the goal (a share
	// of the offered answered within each queue's sl_target); default 0.8.
	SLGoal float64
}

// The files Write creates in its folder.
const (
	ResultFile    = "result.json"
	IntervalsFile = "intervals.csv"
	HTMLFile      = "report.html"
)

// Write creates dir if needed and writes the three files of scenario f's
// result res into it.
func Write(dir string, f *config.File, res *sim.Result, cfg Config) error {
	if res.Intervals == nil {
		return fmt.Errorf("report: the result has no per-interval figures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{ResultFile, func(w io.Writer) error { return WriteJSON(w, res) }},
		{IntervalsFile, func(w io.Writer) error { return WriteCSV(w, res) }},
		{HTMLFile, func(w io.Writer) error { return WriteHTML(w, f, res, cfg) }},
	}
	for _, file := range files {
		if err := writeFile(filepath.Join(dir, file.name), file.write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(out); err != nil {
		out.Close()
		return fmt.Errorf("report: %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteJSON writes res as `ccswitch sim --json` prints it.
func WriteJSON(w io.Writer, res *sim.Result) error {
	return json.NewEncoder(w).Encode(res)
}

// CSVHeader is the header row of intervals.csv: one row per queue and
// interval, in the queues' order then the intervals'. Counts are summed
// over replications; ratios are means over replications (empty when
// undefined, such as the service level of an interval nobody arrived in)
// and their 95% half-widths (empty with one replication). See
// sim.QueueInterval for each figure.
var CSVHeader = []string{
	"queue", "media", "interval", "start_s", "end_s",
	"offered", "answered", "abandoned", "callback", "waiting_at_end",
	"service_level", "service_level_ci95", "asa_s", "asa_s_ci95", "abandon_rate", "abandon_rate_ci95",
	"queue_length", "queue_length_ci95", "queue_length_max",
	"agents_staffed", "occupancy", "occupancy_ci95",
	"ewt_samples", "ewt_mean_error_s", "ewt_mean_abs_error_s",
}

// WriteCSV writes res's per-interval results, one row per queue and
// interval, under CSVHeader.
func WriteCSV(w io.Writer, res *sim.Result) error {
	iv := res.Intervals
	if iv == nil {
		return fmt.Errorf("report: the result has no per-interval figures")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, q := range iv.Queues {
		for k, r := range q.Rows {
			p := iv.Periods[k]
			row := []string{
				q.Name, q.Media, p.Label, number(p.Start), number(p.End),
				count(r.Offered), count(r.Answered), count(r.Abandoned), count(r.Callback), count(r.WaitingAtEnd),
				figure(r.ServiceLevel), half(r.CI95.ServiceLevel), figure(r.ASA), half(r.CI95.ASA),
				figure(r.AbandonRate), half(r.CI95.AbandonRate),
				number(r.QueueLength), half(r.CI95.QueueLength), strconv.Itoa(r.QueueLengthMax),
				number(r.AgentsStaffed), figure(r.Occupancy), half(r.CI95.Occupancy),
				count(r.EWT.Samples), figure(r.EWT.MeanError), figure(r.EWT.MeanAbsError),
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func figure(v sim.Figure) string {
	if !v.Known() {
		return ""
	}
	return number(float64(v))
}

func half(h sim.HalfWidth) string {
	if !h.Known() {
		return ""
	}
	return number(float64(h))
}
