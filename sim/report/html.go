package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Parse(pageTemplate))

// view is what the page template shows.
type view struct {
	Title, Scenario string
	Run             []fact
	Warnings        []string
	Queues          []queueView
	Groups          []groupView
	Traffic         []trafficView
	KPIs            []kpiRow
	Occupancy       string
	Charts          []chart
	Tables          []intervalTable
	Replications    int
}

type fact struct{ Name, Value string }

type queueView struct {
	Name, Media, Skill, SLTarget, Strategy, Overflow, Callback string
}

type groupView struct {
	Name, Agents, Skills, Capacity, WrapUp, Schedule string
}

type trafficView struct {
	Target, Media, Arrivals, Handle, Patience, Extras string
}

type kpiRow struct {
	Name, Media                                     string
	Offered, Answered, Abandoned, WaitingAtEnd      string
	ServiceLevel, ASA, AbandonRate, PW, QueueLength string
	EWTError, EWTAbsError                           string
	SLTarget                                        string
	ServiceLevelBelowGoal                           bool
}

type intervalTable struct {
	Queue string
	Rows  []intervalRow
}

type intervalRow struct {
	Period, Offered, Answered, Abandoned, ServiceLevel, ASA, QueueLength, QueueLengthMax, Staffed, Occupancy, EWT string
}

// WriteHTML writes the report page of scenario f's result res.
func WriteHTML(w io.Writer, f *config.File, res *sim.Result, cfg Config) error {
	if res.Intervals == nil {
		return fmt.Errorf("report: the result has no per-interval figures")
	}
	if cfg.SLGoal <= 0 {
		cfg.SLGoal = 0.8
	}
	return page.Execute(w, buildView(f, res, cfg))
}

func buildView(f *config.File, res *sim.Result, cfg Config) view {
	iv := res.Intervals
	v := view{
		Title:        f.Center.Name,
		Scenario:     filepath.Base(f.Path),
		Warnings:     res.Warnings,
		Replications: res.Replications,
	}
	if v.Title == "" {
		v.Title = strings.TrimSuffix(v.Scenario, filepath.Ext(v.Scenario))
	}
	v.Run = []fact{
		{"simulated", fmt.Sprintf("%s from 00:00, measured after a %s warm-up", duration(res.Duration), duration(res.Warmup))},
		{"replications", fmt.Sprintf("%d (seed %d)", res.Replications, res.Seed)},
		{"intervals", fmt.Sprintf("%d of %s", len(iv.Periods), duration(iv.Length))},
		{"events", thousands(int64(res.Events))},
	}
	v.Queues = queueViews(f)
	v.Groups = groupViews(f)
	v.Traffic = trafficViews(f)
	ewt := map[string]sim.EWTAccuracy{}
	for _, q := range iv.Queues {
		ewt[q.Name] = q.EWT
	}
	for i, q := range res.Queues {
		e := ewt[q.Name]
		v.KPIs = append(v.KPIs, kpiRow{
			Name: q.Name, Media: q.Media,
			Offered: thousands(q.Offered), Answered: thousands(q.Answered), Abandoned: thousands(q.Abandoned),
			WaitingAtEnd: thousands(q.WaitingAtEnd),
			ServiceLevel: percentCI(q.ServiceLevel, q.CI95.ServiceLevel), ASA: secondsCI(q.ASA, q.CI95.ASA),
			AbandonRate: percentCI(q.AbandonRate, q.CI95.AbandonRate), PW: percentCI(q.PW, q.CI95.PW),
			QueueLength: plainCI(q.QueueLength, q.CI95.QueueLength),
			EWTError:    secondsOf(e.MeanError), EWTAbsError: secondsOf(e.MeanAbsError),
			SLTarget:              duration(iv.Queues[i].SLTarget),
			ServiceLevelBelowGoal: q.Offered > 0 && q.ServiceLevel < cfg.SLGoal,
		})
	}
	v.Occupancy = percentCI(res.Agents.Occupancy, res.Agents.OccupancyCI95)
	v.Charts = charts(res, cfg)
	for _, q := range iv.Queues {
		t := intervalTable{Queue: q.Name}
		reps := float64(max(res.Replications, 1))
		for k, r := range q.Rows {
			t.Rows = append(t.Rows, intervalRow{
				Period:  iv.Periods[k].Label,
				Offered: oneDecimal(float64(r.Offered) / reps), Answered: oneDecimal(float64(r.Answered) / reps),
				Abandoned:    oneDecimal(float64(r.Abandoned) / reps),
				ServiceLevel: percentCI(float64(r.ServiceLevel), r.CI95.ServiceLevel),
				ASA:          secondsCI(float64(r.ASA), r.CI95.ASA),
				QueueLength:  plainCI(r.QueueLength, r.CI95.QueueLength), QueueLengthMax: fmt.Sprint(r.QueueLengthMax),
				Staffed: oneDecimal(r.AgentsStaffed), Occupancy: percentCI(float64(r.Occupancy), r.CI95.Occupancy),
				EWT: secondsOf(r.EWT.MeanAbsError),
			})
		}
		v.Tables = append(v.Tables, t)
	}
	return v
}

// charts draws the per-interval figures.
func charts(res *sim.Result, cfg Config) []chart {
	iv := res.Intervals
	labels := make([]string, len(iv.Periods))
	for k, p := range iv.Periods {
		labels[k] = p.Label
	}
	reps := float64(max(res.Replications, 1))
	perQueue := func(value func(sim.QueueInterval) float64) []series {
		var out []series
		for i, q := range iv.Queues {
			s := series{name: q.Name, colour: colour(i)}
			for _, r := range q.Rows {
				s.values = append(s.values, value(r))
			}
			out = append(out, s)
		}
		return out
	}
	var out []chart
	out = append(out, newChart("service-level", "Service level by interval",
		"answered within target", labels,
		perQueue(func(r sim.QueueInterval) float64 { return 100 * float64(r.ServiceLevel) }),
		[]reference{{name: fmt.Sprintf("goal %.0f%%", 100*cfg.SLGoal), colour: "#111827", y: 100 * cfg.SLGoal}},
		func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, 100))
	out[len(out)-1].Note = "Share of the interactions offered in each interval answered within their queue's target. Dashed: the goal."

	// One dashed line per target; queues sharing one share its line.
	var targets []reference
	names := map[float64][]string{}
	for i, q := range iv.Queues {
		if res.Queues[i].Offered == 0 {
			continue // no line to set against the target
		}
		if names[q.SLTarget] == nil {
			targets = append(targets, reference{colour: colour(i), y: q.SLTarget})
		}
		names[q.SLTarget] = append(names[q.SLTarget], q.Name)
	}
	for i := range targets {
		r := &targets[i]
		r.name = fmt.Sprintf("%s target %s", strings.Join(names[r.y], ", "), duration(r.y))
		if len(names[r.y]) > 1 {
			r.colour = "#4b5563"
		}
	}
	out = append(out, newChart("asa", "Average speed of answer by interval", "seconds", labels,
		perQueue(func(r sim.QueueInterval) float64 { return float64(r.ASA) }), targets,
		func(v float64) string { return fmt.Sprintf("%.0f s", v) }, 1))
	out[len(out)-1].Note = "Mean wait of the answered, by interval of arrival. Dashed: each queue's service-level target."

	for i, q := range iv.Queues {
		if res.Queues[i].Offered == 0 {
			continue // no traffic: nothing to draw
		}
		var offered, answered, abandoned series
		offered = series{name: "offered", colour: "#6b7280", width: 3}
		answered = series{name: "answered", colour: colour(i)}
		abandoned = series{name: "abandoned", colour: "#dc2626", dash: "4 3"}
		for _, r := range q.Rows {
			offered.values = append(offered.values, float64(r.Offered)/reps)
			answered.values = append(answered.values, float64(r.Answered)/reps)
			abandoned.values = append(abandoned.values, float64(r.Abandoned)/reps)
		}
		c := newChart("volume-"+fmt.Sprint(i), "Offered, answered and abandoned: "+q.Name, "per replication", labels,
			[]series{offered, answered, abandoned}, nil, func(v float64) string { return trimFloat(v) }, 1)
		c.Note = "Interactions per interval, mean of the replications."
		out = append(out, c)
	}

	ql := perQueue(func(r sim.QueueInterval) float64 { return r.QueueLength })
	for i, q := range iv.Queues {
		s := series{name: q.Name + " max", colour: colour(i), dash: "2 3", width: 1}
		for _, r := range q.Rows {
			s.values = append(s.values, float64(r.QueueLengthMax))
		}
		ql = append(ql, s)
	}
	out = append(out, newChart("queue-length", "Queue length by interval", "waiting", labels, ql, nil, trimFloat, 1))
	out[len(out)-1].Note = "Solid: the mean number waiting. Dotted: the most waiting at once in any replication."

	var occ []series
	for i, g := range iv.Groups {
		s := series{name: g.Name, colour: colour(i)}
		for _, r := range g.Rows {
			s.values = append(s.values, 100*float64(r.Occupancy))
		}
		occ = append(occ, s)
	}
	out = append(out, newChart("occupancy", "Occupancy by agent group", "busy while logged in", labels, occ, nil,
		func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, 100))
	out[len(out)-1].Note = "Share of the logged-in agents of each group busy (offered, handling or wrapping up), from samples of their states."

	var ewt []series
	for i, q := range iv.Queues {
		mae := series{name: q.Name + " mean absolute error", colour: colour(i)}
		bias := series{name: q.Name + " mean error", colour: colour(i), dash: "5 3", width: 1.5}
		for _, r := range q.Rows {
			mae.values = append(mae.values, float64(r.EWT.MeanAbsError))
			bias.values = append(bias.values, float64(r.EWT.MeanError))
		}
		ewt = append(ewt, mae, bias)
	}
	c := newChart("ewt", "EWT accuracy by interval", "seconds", labels, ewt, nil,
		func(v float64) string { return fmt.Sprintf("%.0f s", v) }, 1)
	c.Note = "The estimated wait told to sampled customers when they started to wait against the wait they had (answered ones): " +
		"solid, the mean absolute error; dashed, the mean error (above 0 the estimate was too long, below 0 too short)."
	out = append(out, c)
	return out
}

func queueViews(f *config.File) []queueView {
	var out []queueView
	for _, q := range f.Queues {
		v := queueView{Name: q.Name, Media: q.Media, Skill: q.Skill, SLTarget: duration(q.SLTarget.D().Seconds()), Strategy: q.Strategy,
			Callback: q.CallbackQueue}
		if q.Skill == "" {
			v.Skill = q.Name
		}
		if q.MinLevel > 1 {
			v.Skill += fmt.Sprintf(" ≥ %d", q.MinLevel)
		}
		if v.Strategy == "" {
			v.Strategy = "longest_idle"
		}
		var rules []string
		for _, o := range q.Overflow {
			switch {
			case o.ToQueue != "":
				rules = append(rules, fmt.Sprintf("after %s to %s", o.After.D(), o.ToQueue))
			case o.AddSkill != "":
				rules = append(rules, fmt.Sprintf("after %s add %s ≥ %d", o.After.D(), o.AddSkill, max(o.MinLevel, 1)))
			default:
				rules = append(rules, fmt.Sprintf("after %s level ≥ %d", o.After.D(), o.MinLevel))
			}
		}
		v.Overflow = strings.Join(rules, "; ")
		out = append(out, v)
	}
	return out
}

func groupViews(f *config.File) []groupView {
	schedules := map[string]*config.Schedule{}
	for i := range f.Schedule {
		schedules[f.Schedule[i].Group] = &f.Schedule[i]
	}
	var out []groupView
	for i := range f.Agents {
		g := &f.Agents[i]
		n := g.Count
		if g.ID != "" {
			n = 1
		}
		v := groupView{Name: g.GroupName(), Agents: fmt.Sprint(n), Skills: levels(g.Skills), Capacity: levels(g.Capacity),
			WrapUp: duration(g.WrapUp.D().Seconds()), Schedule: "around the clock"}
		if v.Capacity == "" {
			v.Capacity = "1 per media"
		}
		if s := schedules[v.Name]; s != nil {
			var shifts []string
			for _, sh := range s.Shifts {
				text := fmt.Sprintf("%s–%s", sh.Start, sh.End)
				if len(sh.Breaks) > 0 {
					text += fmt.Sprintf(" (%d breaks)", len(sh.Breaks))
				}
				shifts = append(shifts, text)
			}
			v.Schedule = strings.Join(shifts, ", ")
			if s.Absenteeism > 0 {
				v.Schedule += fmt.Sprintf("; %.0f%% absent", 100*s.Absenteeism)
			}
			if s.NotReady != nil {
				v.Schedule += "; not-ready episodes"
			}
		}
		out = append(out, v)
	}
	return out
}

func trafficViews(f *config.File) []trafficView {
	var out []trafficView
	for i := range f.Traffic {
		t := &f.Traffic[i]
		v := trafficView{Target: t.Queue, Media: t.Media, Arrivals: arrivals(&t.Arrivals),
			Handle: distribution(&t.Handle), Patience: "never abandons"}
		if t.RoutePoint != "" {
			v.Target = "route point " + t.RoutePoint
		}
		if t.Patience != nil {
			v.Patience = distribution(t.Patience)
		}
		if c := t.Chat; c != nil {
			v.Handle = fmt.Sprintf("chat of %.3g exchanges (customer %s, agent %s, %.0f%% slower per other chat), mean %s alone",
				c.Exchanges.Mean(), distribution(c.CustomerThink), distribution(c.AgentThink), 100*c.ConcurrencySlowdown,
				c.MeanDuration().Round(time.Second))
			if c.Bot != nil {
				v.Handle += "; bot " + distribution(c.Bot)
			}
		}
		var extras []string
		if r := t.Retrial; r != nil {
			extras = append(extras, fmt.Sprintf("%.0f%% of the abandoned call again after %s", 100*r.Probability, distribution(&r.Delay)))
		}
		for _, tr := range t.Transfers {
			extras = append(extras, fmt.Sprintf("%.0f%% transferred to %s", 100*tr.Probability, tr.ToQueue))
		}
		if t.Priority != 0 {
			extras = append(extras, fmt.Sprintf("priority %d", t.Priority))
		}
		v.Extras = strings.Join(extras, "; ")
		out = append(out, v)
	}
	return out
}

func arrivals(a *config.Arrivals) string {
	var s string
	switch {
	case a.Poisson != nil:
		s = fmt.Sprintf("Poisson, %s an hour", trimFloat(a.Poisson.PerHour))
	case a.Forecast != nil && len(a.Forecast.Intervals) > 0:
		fc := a.Forecast
		var peak, volume float64
		for _, r := range fc.Intervals {
			peak = max(peak, r.PerHour)
			volume += r.PerHour * fc.Interval.D().Hours()
		}
		last := fc.Intervals[len(fc.Intervals)-1].Start.D() + fc.Interval.D()
		s = fmt.Sprintf("forecast per %s, %s–%s, peak %s an hour, %s a day", duration(fc.Interval.D().Seconds()), fc.Intervals[0].Start,
			config.TimeOfDay(last), trimFloat(peak), thousands(int64(math.Round(volume))))
	}
	if o := a.Overdispersion; o != nil {
		s += fmt.Sprintf("; daily factor cv %s", trimFloat(o.CV))
	}
	return s
}

func distribution(d *config.Distribution) string {
	mean := d.Mean().Round(time.Second)
	switch {
	case d.Exponential != nil:
		return fmt.Sprintf("exponential, mean %s", mean)
	case d.Constant != nil:
		return fmt.Sprintf("constant %s", mean)
	case d.LogNormal != nil:
		return fmt.Sprintf("lognormal, mean %s, sd %s", mean, d.LogNormal.SD.D().Round(time.Second))
	case d.Gamma != nil:
		return fmt.Sprintf("gamma, mean %s, sd %s", mean, d.Gamma.SD.D().Round(time.Second))
	case d.Erlang != nil:
		return fmt.Sprintf("Erlang-%d, mean %s", d.Erlang.K, mean)
	case d.Empirical != nil:
		return fmt.Sprintf("empirical (%d values), mean %s", len(d.Empirical.Values), mean)
	}
	return ""
}

func levels(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// duration writes seconds as a short duration: 20s, 1m, 1h30m.
func duration(s float64) string {
	out := time.Duration(s * float64(time.Second)).Round(time.Second).String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func oneDecimal(v float64) string { return fmt.Sprintf("%.1f", v) }

func withHalf(value string, h sim.HalfWidth, format func(float64) string) string {
	if !h.Known() {
		return value + " ±n/a"
	}
	return value + " ±" + format(float64(h))
}

func percentCI(v float64, h sim.HalfWidth) string {
	if math.IsNaN(v) {
		return "–"
	}
	f := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	return withHalf(f(v), h, f)
}

func secondsCI(v float64, h sim.HalfWidth) string {
	if math.IsNaN(v) {
		return "–"
	}
	f := func(x float64) string { return fmt.Sprintf("%.1f s", x) }
	return withHalf(f(v), h, f)
}

func plainCI(v float64, h sim.HalfWidth) string {
	if math.IsNaN(v) {
		return "–"
	}
	f := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	return withHalf(f(v), h, f)
}

func secondsOf(v sim.Figure) string {
	if !v.Known() {
		return "–"
	}
	return fmt.Sprintf("%.1f s", float64(v))
}
