package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// forecastRow is one interval of a forecast file.
type forecastRow struct {
	path   string
	line   int
	start  string // as written
	at     time.Time
	calls  float64
	handle time.Duration
}

// maxForecastBytes bounds a forecast file: a year of 15-minute intervals
// takes about 1 MiB.
const maxForecastBytes = 16 << 20

// startLayouts are the ways a forecast may write an interval's start.
var startLayouts = []string{
	"15:04", "15:04:05",
	"2006-01-02 15:04", "2006-01-02 15:04:05",
	"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339,
}

// readForecast reads a forecast CSV file (see staffLong): rows in order,
// each with its handle time (the file's aht, else defaultHandle; a row
// without calls needs none), and the
// interval length. interval, when not 0, is the length the caller expects;
// a one-row file needs it. Errors name the file and line.
func readForecast(path string, interval, defaultHandle time.Duration) ([]forecastRow, time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, maxForecastBytes+1))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("%s: empty: want a header row naming the columns start, calls and (optionally) aht", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	line, _ := r.FieldPos(0)
	col := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "start", "calls", "aht":
		default:
			return nil, 0, fmt.Errorf("%s:%d: unknown column %q (want start, calls and optionally aht)", path, line, header[i])
		}
		if _, dup := col[name]; dup {
			return nil, 0, fmt.Errorf("%s:%d: column %s given twice", path, line, name)
		}
		col[name] = i
	}
	for _, need := range []string{"start", "calls"} {
		if _, ok := col[need]; !ok {
			return nil, 0, fmt.Errorf("%s:%d: no %s column (want start, calls and optionally aht)", path, line, need)
		}
	}
	var rows []forecastRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		row, err := parseForecastRow(rec, col, defaultHandle)
		if err != nil {
			return nil, 0, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		row.path, row.line = path, line
		rows = append(rows, row)
	}
	if r.InputOffset() > maxForecastBytes {
		return nil, 0, fmt.Errorf("%s: larger than %d MiB", path, maxForecastBytes>>20)
	}
	if len(rows) == 0 {
		return nil, 0, fmt.Errorf("%s: no intervals under the header", path)
	}
	length, err := intervalLength(rows, interval)
	if err != nil {
		return nil, 0, err
	}
	return rows, length, nil
}

func parseForecastRow(rec []string, col map[string]int, defaultHandle time.Duration) (forecastRow, error) {
	row := forecastRow{start: strings.TrimSpace(rec[col["start"]])}
	var err error
	for _, layout := range startLayouts {
		if row.at, err = time.Parse(layout, row.start); err == nil {
			break
		}
	}
	if err != nil {
		return row, fmt.Errorf("start %q: want a time such as 08:00, 2026-03-02 08:00 or RFC 3339", row.start)
	}
	calls := strings.TrimSpace(rec[col["calls"]])
	row.calls, err = strconv.ParseFloat(calls, 64)
	if err != nil || row.calls < 0 || math.IsInf(row.calls, 0) {
		return row, fmt.Errorf("calls %q: want a number of contacts, 0 or more", calls)
	}
	row.handle = defaultHandle
	if i, ok := col["aht"]; ok && strings.TrimSpace(rec[i]) != "" {
		if err := (durationValue{&row.handle}).Set(rec[i]); err != nil {
			return row, fmt.Errorf("aht %q: %w", rec[i], err)
		}
		if row.handle == 0 {
			return row, fmt.Errorf("aht %q must be positive", rec[i])
		}
	}
	if row.handle <= 0 && row.calls > 0 {
		return row, errors.New("no aht: fill the aht column or give --aht")
	}
	return row, nil
}

// intervalLength returns the spacing of the rows' starts, which must be
// even: a forecast with a gap or out of order is refused.
func intervalLength(rows []forecastRow, interval time.Duration) (time.Duration, error) {
	if len(rows) == 1 {
		if interval <= 0 {
			return 0, fmt.Errorf("%s: one interval: give its length with --interval", rows[0].path)
		}
		return interval, nil
	}
	length := rows[1].at.Sub(rows[0].at)
	for i := 1; i < len(rows); i++ {
		prev, r := rows[i-1], rows[i]
		d := r.at.Sub(prev.at)
		switch {
		case d <= 0:
			return 0, fmt.Errorf("%s:%d: start %s is not after %s (line %d)", r.path, r.line, r.start, prev.start, prev.line)
		case d != length:
			return 0, fmt.Errorf("%s:%d: start %s is %s after %s, but the starts above are %s apart: a forecast's starts are evenly spaced, without gaps", r.path, r.line, r.start, d, prev.start, length)
		}
	}
	if interval > 0 && interval != length {
		return 0, fmt.Errorf("%s: --interval %s, but the starts are %s apart", rows[0].path, interval, length)
	}
	return length, nil
}
