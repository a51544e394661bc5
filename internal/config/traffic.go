package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Traffic is simulated load offered to one queue or route point.
type Traffic struct {
	Queue      string            `yaml:"queue"`
	RoutePoint string            `yaml:"route_point"`
	Media      string            `yaml:"media"`
	Arrivals   Arrivals          `yaml:"arrivals"`
	Handle     Distribution      `yaml:"handle"`
	Patience   *Distribution     `yaml:"patience"`
	Priority   int               `yaml:"priority"`
	Client     string            `yaml:"client"`
	Requires   map[string]string `yaml:"requires"`
	// Retrial, when set, brings back a customer who abandoned.
	Retrial *Retrial `yaml:"retrial"`
	// Transfers: after being handled, an interaction is transferred to
	// another queue with each rule's probability.
	Transfers []Transfer `yaml:"transfers"`
	// Callback, when set, offers the line's waiting customers a
	// callback (see CallbackModel).
	Callback *CallbackModel `yaml:"callback"`
	// Chat, on an im line, replaces Handle: a chat as a sequence of
	// exchanges (see ChatModel).
	Chat *ChatModel `yaml:"chat"`
}

// Arrivals is an arrival process: exactly one of Poisson and Forecast,
// optionally with an overdispersed daily volume.
type Arrivals struct {
	Poisson  *Poisson  `yaml:"poisson"`
	Forecast *Forecast `yaml:"forecast"`
	// Overdispersion multiplies each simulated day's rates by a random
	// factor.
	Overdispersion *Overdispersion `yaml:"overdispersion"`
}

// Poisson arrivals at a constant rate.
type Poisson struct {
	PerHour float64 `yaml:"per_hour"`
}

// Forecast is a day of arrival rates per interval: a nonhomogeneous Poisson
// process whose rate is constant within each interval and zero outside the
// forecast. The day repeats on runs longer than 24 hours; the run starts at
// 00:00.
type Forecast struct {
	// Interval is the length of every interval (default 30m); it divides
	// a day.
	Interval Duration `yaml:"interval"`
	// Intervals are the rates, in order, each starting Interval after the
	// one before; or they are read from File.
	Intervals []ForecastInterval `yaml:"intervals"`
	// File is a CSV file, relative to the center file, with a header row
	// and the columns start and Column; Parse reads it into Intervals.
	File string `yaml:"file"`
	// Column holds the rates per hour in File (default per_hour).
	Column string `yaml:"column"`
}

// ForecastInterval is the arrival rate from Start for one interval.
type ForecastInterval struct {
	Start   TimeOfDay `yaml:"start"`
	PerHour float64   `yaml:"per_hour"`
}

// Overdispersion makes the daily volume vary more than Poisson: each day's
// rates are multiplied by a gamma-distributed factor of mean 1 and
// coefficient of variation CV.
type Overdispersion struct {
	CV float64 `yaml:"cv"`
}

// Retrial brings a customer who abandoned back, with Probability, after
// Delay, as a new interaction of the same traffic (which may abandon and
// come back again).
type Retrial struct {
	Probability float64      `yaml:"probability"`
	Delay       Distribution `yaml:"delay"`
}

// Transfer sends a handled interaction, with Probability, to queue
// ToQueue, where it waits again (with a new patience) and is handled for
// Handle (default: the traffic's handle). A transferred interaction is not
// transferred again.
type Transfer struct {
	ToQueue     string        `yaml:"to_queue"`
	Probability float64       `yaml:"probability"`
	Handle      *Distribution `yaml:"handle"`
}

// Distribution of a duration: exactly one of its members is set.
type Distribution struct {
	Exponential *Exponential `yaml:"exponential"`
	// Constant is a deterministic duration.
	Constant  *Constant  `yaml:"constant"`
	LogNormal *LogNormal `yaml:"lognormal"`
	Gamma     *Gamma     `yaml:"gamma"`
	Erlang    *Erlang    `yaml:"erlang"`
	Empirical *Empirical `yaml:"empirical"`
}

// Exponential distribution with the given mean.
type Exponential struct {
	Mean Duration `yaml:"mean"`
}

// Constant duration.
type Constant struct {
	Value Duration `yaml:"value"`
}

// LogNormal distribution with the given mean and standard deviation (of
// the duration itself, not of its logarithm).
type LogNormal struct {
	Mean Duration `yaml:"mean"`
	SD   Duration `yaml:"sd"`
}

// Gamma distribution with the given mean and standard deviation.
type Gamma struct {
	Mean Duration `yaml:"mean"`
	SD   Duration `yaml:"sd"`
}

// Erlang distribution: the sum of K exponential phases, of the given mean
// in all (a gamma distribution of integer shape K).
type Erlang struct {
	Mean Duration `yaml:"mean"`
	K    int      `yaml:"k"`
}

// Empirical distribution: observed durations, drawn uniformly (each value
// equally likely). They are given as Values or read from column Column of
// the CSV File (relative to the center file; a header row names the
// columns); Parse fills Values from the file.
type Empirical struct {
	Values []Duration `yaml:"values"`
	File   string     `yaml:"file"`
	Column string     `yaml:"column"`
}

// Mean returns the distribution's mean.
func (d *Distribution) Mean() time.Duration {
	switch {
	case d == nil:
		return 0
	case d.Exponential != nil:
		return d.Exponential.Mean.D()
	case d.Constant != nil:
		return d.Constant.Value.D()
	case d.LogNormal != nil:
		return d.LogNormal.Mean.D()
	case d.Gamma != nil:
		return d.Gamma.Mean.D()
	case d.Erlang != nil:
		return d.Erlang.Mean.D()
	case d.Empirical != nil && len(d.Empirical.Values) > 0:
		var sum float64
		for _, v := range d.Empirical.Values {
			sum += float64(v)
		}
		return time.Duration(sum / float64(len(d.Empirical.Values)))
	}
	return 0
}

// TimeOfDay is a time of day, written "08:30" or "08:30:15" and held as
// the duration since midnight.
type TimeOfDay time.Duration

// D returns t as the duration since midnight.
func (t TimeOfDay) D() time.Duration { return time.Duration(t) }

func (t TimeOfDay) String() string {
	d := time.Duration(t)
	h, m, s := int(d/time.Hour), int(d/time.Minute%60), int(d/time.Second%60)
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// UnmarshalYAML reads a time of day between 00:00 and 24:00.
func (t *TimeOfDay) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseTimeOfDay(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		if err == nil {
			err = errors.New("want a time of day such as 08:30")
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %v", n.Line, n.Column, err)}}
	}
	*t = v
	return nil
}

// MarshalYAML writes t as HH:MM or HH:MM:SS.
func (t TimeOfDay) MarshalYAML() (any, error) { return t.String(), nil }

func parseTimeOfDay(s string) (TimeOfDay, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	bad := fmt.Errorf("invalid time of day %q (want HH:MM or HH:MM:SS, 00:00 to 24:00)", s)
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) > 2 || len(p) < 1 || (i > 0 && (len(p) != 2 || n > 59)) {
			return 0, bad
		}
		v[i] = n
	}
	d := time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second
	if d > 24*time.Hour {
		return 0, bad
	}
	return TimeOfDay(d), nil
}

// Limits of the traffic models.
const (
	day                 = 24 * time.Hour
	defaultInterval     = 30 * time.Minute
	defaultRateColumn   = "per_hour"
	maxPerHour          = 1e7 // arrivals per hour of one traffic line
	maxCV               = 3
	maxErlangK          = 1000
	maxEmpiricalValues  = 1_000_000
	minForecastInterval = time.Minute
)

func (c *checker) checkTraffic(f *File, queues map[string]*Queue, routePoints map[string]*RoutePoint) {
	for i := range f.Traffic {
		t, p := &f.Traffic[i], path{}.key("traffic").index(i)
		var q *Queue
		switch {
		case t.Queue != "" && t.RoutePoint != "":
			c.errorf(p.key("route_point"), "set either queue or route_point, not both")
		case t.Queue != "":
			if q = queues[t.Queue]; q == nil {
				c.errorf(p.key("queue"), "unknown queue %q", t.Queue)
			}
		case t.RoutePoint != "":
			if routePoints[t.RoutePoint] == nil {
				c.errorf(p.key("route_point"), "unknown route point %q", t.RoutePoint)
			}
		default:
			c.errorf(p, "needs queue or route_point")
		}
		if t.Media != "" && c.checkMedia(p.key("media"), t.Media) && q != nil && t.Media != q.Media {
			c.errorf(p.key("media"), "%s does not match queue %q (%s)", t.Media, q.Name, q.Media)
		}

		c.checkArrivals(p.key("arrivals"), &t.Arrivals)
		switch {
		case t.Chat != nil:
			c.checkChatModel(p.key("chat"), t, p)
		case t.Media == "im" && !c.given(p.key("handle")):
			c.errorf(p.key("handle"), "required: a distribution, or chat: {exchanges: N, customer_think: D, agent_think: D} for an im line")
		default:
			if c.checkDistribution(p.key("handle"), &t.Handle) && t.Handle.Mean() <= 0 {
				c.errorf(p.key("handle"), "the mean handle time must be > 0")
			}
		}
		if t.Patience != nil {
			c.checkDistribution(p.key("patience"), t.Patience)
		}
		if r := t.Retrial; r != nil {
			rp := p.key("retrial")
			if t.Patience == nil {
				c.errorf(rp, "needs patience: only customers who abandon call again")
			}
			c.checkProbability(rp.key("probability"), r.Probability)
			c.checkDistribution(rp.key("delay"), &r.Delay)
		}
		c.checkTransfers(p, t, queues)
		if t.Callback != nil {
			c.checkCallbackModel(p.key("callback"), t, lineQueue(t, queues, routePoints))
		}
		if t.Client != "" {
			family, version, hasVersion := strings.Cut(t.Client, "/")
			if family == "" || strings.ContainsAny(family, " \t") || hasVersion && checkVersion(version) != nil {
				c.errorf(p.key("client"), "want a client family, or family/version such as pidgin/2.14, got %q", t.Client)
			}
		}
	}
}

func (c *checker) checkTransfers(p path, t *Traffic, queues map[string]*Queue) {
	var sum float64
	for k := range t.Transfers {
		tr, tp := &t.Transfers[k], p.key("transfers").index(k)
		switch to := queues[tr.ToQueue]; {
		case tr.ToQueue == "":
			c.errorf(tp.key("to_queue"), "required")
		case to == nil:
			c.errorf(tp.key("to_queue"), "unknown queue %q", tr.ToQueue)
		case t.Media != "" && to.Media != t.Media:
			c.errorf(tp.key("to_queue"), "queue %q takes %s, not %s", to.Name, to.Media, t.Media)
		}
		if c.checkProbability(tp.key("probability"), tr.Probability) {
			sum += tr.Probability
		}
		if tr.Handle != nil && c.checkDistribution(tp.key("handle"), tr.Handle) && tr.Handle.Mean() <= 0 {
			c.errorf(tp.key("handle"), "the mean handle time must be > 0")
		}
	}
	if sum > 1+1e-9 {
		c.errorf(p.key("transfers"), "the probabilities add up to %g, more than 1", sum)
	}
}

// checkProbability records an error unless p is in (0, 1].
func (c *checker) checkProbability(at path, p float64) bool {
	switch {
	case !c.given(at):
		c.errorf(at, "required: a probability in (0, 1]")
	case !(p > 0 && p <= 1):
		c.errorf(at, "%v is not a probability in (0, 1]", p)
	default:
		return true
	}
	return false
}

func (c *checker) checkArrivals(p path, a *Arrivals) {
	switch {
	case a.Poisson != nil && a.Forecast != nil:
		c.errorf(p.key("forecast"), "set either poisson or forecast, not both")
	case a.Poisson != nil:
		if po := a.Poisson; !(po.PerHour > 0) || po.PerHour > maxPerHour {
			c.errorf(p.key("poisson").key("per_hour"), "must be a number > 0 and <= %g, got %v", float64(maxPerHour), po.PerHour)
		}
	case a.Forecast != nil:
		c.checkForecast(p.key("forecast"), a.Forecast)
	default:
		c.errorf(p, "needs poisson: {per_hour: N} or forecast: {interval: 30m, intervals: [...]}")
	}
	if o := a.Overdispersion; o != nil && !(o.CV > 0 && o.CV <= maxCV) {
		c.errorf(p.key("overdispersion").key("cv"), "must be a number > 0 and <= %d, got %v", maxCV, o.CV)
	}
}

func (c *checker) checkForecast(p path, fc *Forecast) {
	if c.unset(p.key("interval"), fc.Interval == 0) {
		fc.Interval = Duration(defaultInterval)
	}
	iv := fc.Interval.D()
	if iv < minForecastInterval || day%iv != 0 {
		c.errorf(p.key("interval"), "%v must be at least %v and divide a day (15m, 30m, 1h, ...)", iv, minForecastInterval)
		return
	}
	// rowAt names row k of the forecast in errors: a CSV line, or the
	// intervals entry.
	rowAt := func(k int, field string) (path, string) {
		return p.key("intervals").index(k).key(field), ""
	}
	switch {
	case fc.File != "" && len(fc.Intervals) > 0:
		c.errorf(p.key("file"), "set either intervals or file, not both")
		return
	case fc.File != "":
		if fc.Column == "" {
			fc.Column = defaultRateColumn
		}
		rows, lines, ok := c.readForecastCSV(p.key("file"), fc.File, fc.Column)
		if !ok {
			return
		}
		fc.Intervals = rows
		rowAt = func(k int, _ string) (path, string) {
			return p.key("file"), fmt.Sprintf("%s:%d: ", fc.File, lines[k])
		}
	case fc.Column != "":
		c.errorf(p.key("column"), "column is for a forecast file")
	case len(fc.Intervals) == 0:
		c.errorf(p, "needs intervals: [{start: \"08:00\", per_hour: N}, ...] or file: forecast.csv")
		return
	}
	if len(fc.Intervals) == 0 {
		c.errorf(p.key("file"), "%s has no rows", fc.File)
		return
	}
	positive := false
	for k, r := range fc.Intervals {
		start := r.Start.D()
		if at, where := rowAt(k, "per_hour"); !(r.PerHour >= 0) || r.PerHour > maxPerHour {
			c.errorf(at, "%sper_hour must be a number >= 0 and <= %g, got %v", where, float64(maxPerHour), r.PerHour)
		} else if r.PerHour > 0 {
			positive = true
		}
		at, where := rowAt(k, "start")
		if start%iv != 0 {
			c.errorf(at, "%sinterval %s does not start on a multiple of the interval %v", where, r.Start, iv)
			return
		}
		if start+iv > day {
			c.errorf(at, "%sinterval %s to %s runs past 24:00", where, r.Start, TimeOfDay(start+iv))
			return
		}
		if k == 0 {
			continue
		}
		prev := fc.Intervals[k-1].Start.D()
		switch want := prev + iv; {
		case start > want:
			c.errorf(at, "%sa gap: interval %s starts after the one before (%s) ended at %s", where, r.Start, TimeOfDay(prev), TimeOfDay(want))
			return
		case start < want:
			c.errorf(at, "%sinterval %s overlaps the one before (%s to %s)", where, r.Start, TimeOfDay(prev), TimeOfDay(want))
			return
		}
	}
	if !positive {
		at, _ := rowAt(0, "per_hour")
		if fc.File != "" {
			at = p.key("file")
		}
		c.errorf(at, "every rate is 0: the forecast brings no arrivals")
	}
}

// readForecastCSV reads the columns start and column of the CSV file name
// (the field at p), with the file line of each row.
func (c *checker) readForecastCSV(p path, name, column string) (rows []ForecastInterval, lines []int, ok bool) {
	table, ok := c.readCSV(p, name, "start", column)
	if !ok {
		return nil, nil, false
	}
	for _, r := range table {
		start, err := parseTimeOfDay(r.cells[0])
		if err != nil {
			c.errorf(p, "%s:%d: start: %v", name, r.line, err)
			return nil, nil, false
		}
		rate, err := strconv.ParseFloat(strings.TrimSpace(r.cells[1]), 64)
		if err != nil {
			c.errorf(p, "%s:%d: %s: %q is not a number", name, r.line, column, r.cells[1])
			return nil, nil, false
		}
		rows = append(rows, ForecastInterval{Start: start, PerHour: rate})
		lines = append(lines, r.line)
	}
	return rows, lines, true
}

type csvRow struct {
	line  int
	cells []string // the wanted columns, in the order asked
}

// readCSV reads the CSV file name, relative to the center file, whose
// header row must name every column in columns; it returns those columns
// of each row. Problems are recorded at p, naming the CSV file and line.
func (c *checker) readCSV(p path, name string, columns ...string) ([]csvRow, bool) {
	full := name
	if !filepath.IsAbs(full) {
		full = filepath.Join(filepath.Dir(c.file), name)
	}
	info, err := os.Stat(full)
	switch {
	case err != nil:
		c.errorf(p, "%v", err)
		return nil, false
	case !info.Mode().IsRegular():
		c.errorf(p, "%s is not a regular file", name)
		return nil, false
	case info.Size() == 0:
		// Also what the kernel's pseudo-files (/proc) report: never read
		// one, it may block.
		c.errorf(p, "%s is empty; want a header row naming the columns", name)
		return nil, false
	case info.Size() > MaxFileBytes:
		c.errorf(p, "%s is larger than %d MiB", name, MaxFileBytes>>20)
		return nil, false
	}
	file, err := os.Open(full)
	if err != nil {
		c.errorf(p, "%v", err)
		return nil, false
	}
	defer file.Close()
	r := csv.NewReader(io.LimitReader(file, MaxFileBytes))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty file; want a header row naming the columns")
		}
		c.errorf(p, "%s: %v", name, csvMessage(err))
		return nil, false
	}
	index := make([]int, len(columns))
	for k, col := range columns {
		index[k] = -1
		for j, h := range header {
			if strings.TrimSpace(h) == col {
				index[k] = j
				break
			}
		}
		if index[k] < 0 {
			line, _ := r.FieldPos(0)
			c.errorf(p, "%s:%d: no column %q in the header (%s)", name, line, col, strings.Join(header, ","))
			return nil, false
		}
	}
	var rows []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.errorf(p, "%s: %v", name, csvMessage(err))
			return nil, false
		}
		if len(rows) >= maxEmpiricalValues {
			c.errorf(p, "%s: more than %d rows", name, maxEmpiricalValues)
			return nil, false
		}
		line, _ := r.FieldPos(0)
		row := csvRow{line: line, cells: make([]string, len(columns))}
		for k, j := range index {
			row.cells[k] = rec[j]
		}
		rows = append(rows, row)
	}
	return rows, true
}

// csvMessage turns an encoding/csv error into "LINE: what".
func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d: %v", pe.Line, pe.Err)
	}
	return err.Error()
}

// checkDistribution reports whether d is a valid distribution, recording
// what is wrong when it is not.
func (c *checker) checkDistribution(p path, d *Distribution) bool {
	kinds := 0
	for _, set := range []bool{d.Exponential != nil, d.Constant != nil, d.LogNormal != nil,
		d.Gamma != nil, d.Erlang != nil, d.Empirical != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		c.errorf(p, "needs exactly one of exponential: {mean: D}, constant: {value: D}, lognormal: {mean: D, sd: D}, "+
			"gamma: {mean: D, sd: D}, erlang: {mean: D, k: N}, empirical: {values: [D, ...]} or {file: F, column: C}")
		return false
	}
	n := len(c.errs)
	switch {
	case d.Exponential != nil:
		c.checkPositive(p.key("exponential").key("mean"), d.Exponential.Mean)
	case d.Constant != nil:
		c.checkPositive(p.key("constant").key("value"), d.Constant.Value)
	case d.LogNormal != nil:
		c.checkPositive(p.key("lognormal").key("mean"), d.LogNormal.Mean)
		c.checkPositive(p.key("lognormal").key("sd"), d.LogNormal.SD)
	case d.Gamma != nil:
		c.checkPositive(p.key("gamma").key("mean"), d.Gamma.Mean)
		c.checkPositive(p.key("gamma").key("sd"), d.Gamma.SD)
	case d.Erlang != nil:
		c.checkPositive(p.key("erlang").key("mean"), d.Erlang.Mean)
		if k := d.Erlang.K; !c.given(p.key("erlang").key("k")) {
			c.errorf(p.key("erlang").key("k"), "required: the number of phases, 1 to %d", maxErlangK)
		} else if k < 1 || k > maxErlangK {
			c.errorf(p.key("erlang").key("k"), "%d out of range 1..%d", k, maxErlangK)
		}
	case d.Empirical != nil:
		c.checkEmpirical(p.key("empirical"), d.Empirical)
	}
	return len(c.errs) == n
}

func (c *checker) checkPositive(p path, d Duration) {
	switch {
	case !c.given(p):
		c.errorf(p, "required: a duration > 0")
	case d <= 0:
		c.errorf(p, "must be > 0")
	}
}

func (c *checker) checkEmpirical(p path, e *Empirical) {
	switch {
	case e.File != "" && len(e.Values) > 0:
		c.errorf(p.key("file"), "set either values or file, not both")
		return
	case e.File != "":
		if e.Column == "" {
			c.errorf(p.key("column"), "required: the CSV column that holds the durations")
			return
		}
		rows, ok := c.readCSV(p.key("file"), e.File, e.Column)
		if !ok {
			return
		}
		for _, r := range rows {
			v, err := parseDurationText(r.cells[0])
			if err != nil {
				c.errorf(p.key("file"), "%s:%d: %s: %v", e.File, r.line, e.Column, err)
				return
			}
			e.Values = append(e.Values, Duration(v))
		}
		if len(e.Values) == 0 {
			c.errorf(p.key("file"), "%s has no rows", e.File)
			return
		}
	case e.Column != "":
		c.errorf(p.key("column"), "column is for a file")
		return
	case len(e.Values) == 0:
		c.errorf(p, "needs values: [D, ...] or file: F with column: C")
		return
	case len(e.Values) > maxEmpiricalValues:
		c.errorf(p.key("values"), "more than %d values", maxEmpiricalValues)
		return
	}
	var sum float64
	for _, v := range e.Values {
		sum += float64(v)
	}
	if sum <= 0 || math.IsInf(sum, 0) {
		c.errorf(p, "the values must not all be 0")
	}
}
