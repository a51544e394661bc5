package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ccswitch/ccswitch/sim"
)

// queueFlags are the flags erlang and erlang staff share: one queue's
// traffic and service-level target.
type queueFlags struct {
	perHour                  float64
	handle, patience, within time.Duration
	asJSON                   bool
}

func (q *queueFlags) add(fs *pflag.FlagSet) {
	fs.Float64Var(&q.perHour, "per-hour", 0, "arrivals per hour")
	durationVar(fs, &q.handle, "handle", 0, "mean handle time, such as 240s, 4m or 240 (--aht is the same flag)")
	durationVar(fs, &q.patience, "patience", 0, "mean patience: Erlang A (without: nobody abandons, Erlang C)")
	durationVar(fs, &q.within, "sl-target", 20*time.Second, "service-level target: answered within this (--within is the same flag)")
	fs.BoolVar(&q.asJSON, "json", false, "print JSON")
	fs.SetNormalizeFunc(aliases(map[string]string{"aht": "handle", "within": "sl-target"}))
}

// model names the analytical model the flags choose.
func (q *queueFlags) model() string {
	if q.patience > 0 {
		return "erlang_a"
	}
	return "erlang_c"
}

func (m *Main) newErlangCmd() *cobra.Command {
	var (
		q      queueFlags
		agents int
	)
	c := &cobra.Command{
		Use:   "erlang --agents N --per-hour R --handle D [--patience D]",
		Short: "Analytical Erlang C / Erlang A figures, and staffing",
		Long: `Prints the analytical KPIs of an M/M/n queue (Erlang C) or, with --patience,
of an M/M/n+M queue (Erlang A), and the share of callers a loss system of as
many lines would turn away (Erlang B). 'ccswitch erlang staff' finds the fewest
agents that meet a goal. Durations are written like in the center file:
240s, 4m or a bare number of seconds (240).`,
		Example: `  ccswitch erlang --agents 30 --per-hour 360 --handle 240s --patience 120s --sl-target 20s
  ccswitch erlang --agents 30 --per-hour 360 --aht 240 --json`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			var missing []string
			if agents <= 0 {
				missing = append(missing, "--agents")
			}
			if !(q.perHour > 0) || math.IsInf(q.perHour, 0) {
				missing = append(missing, "--per-hour")
			}
			if q.handle <= 0 {
				missing = append(missing, "--handle")
			}
			if len(missing) > 0 {
				return usagef("erlang: %s must be positive", strings.Join(missing, ", "))
			}
			lambda, mu := q.perHour/3600, 1/q.handle.Seconds()
			if load := lambda / mu; q.patience == 0 && load >= float64(agents) {
				return usagef("erlang: unstable queue: %.4g erlangs offered (--per-hour %g × --handle %s) need more than %d agents in Erlang C; give more --agents, or a --patience for Erlang A",
					load, q.perHour, q.handle, agents)
			}
			m.run = func(context.Context) error {
				var (
					a   sim.Analytic
					err error
				)
				if q.patience > 0 {
					a, err = sim.ErlangA(agents, lambda, mu, 1/q.patience.Seconds(), q.within.Seconds())
				} else {
					a, err = sim.ErlangC(agents, lambda, mu, q.within.Seconds())
				}
				if err != nil {
					return usagef("erlang: %v", err)
				}
				// Erlang B: the share turned away if there were no queue.
				blocking := sim.ErlangB(agents, lambda/mu)
				if q.asJSON {
					return json.NewEncoder(m.stdout).Encode(map[string]any{
						"model": q.model(), "pw": a.PW, "asa_s": a.ASA, "service_level": a.ServiceLevel,
						"abandon_rate": a.AbandonRate, "occupancy": a.Occupancy, "blocking": blocking,
					})
				}
				_, err = fmt.Fprintf(m.stdout, "%s: P(wait) %.4f  ASA %.2fs  service level %.4f  abandon rate %.4f  occupancy %.4f\nerlang_b: blocked without a queue %.4f\n",
					q.model(), a.PW, a.ASA, a.ServiceLevel, a.AbandonRate, a.Occupancy, blocking)
				return err
			}
			return nil
		},
	}
	c.Flags().IntVar(&agents, "agents", 0, "number of agents (required)")
	q.add(c.Flags())
	c.AddCommand(m.newStaffCmd())
	return c
}

const staffLong = `Prints the fewest agents that meet a goal: a service level (--sl, the
share of offered contacts answered within --within), an abandonment cap
(--max-abandon, with --patience), or both. Erlang C, or Erlang A when
--patience gives the callers' mean patience.

With --forecast FILE.csv it staffs every interval of a forecast instead of
one --per-hour rate. The file has a header row naming its columns:
  start   when the interval starts: 08:00, 08:00:00, 2026-03-02 08:00 or RFC 3339
  calls   contacts offered in the interval (may be fractional)
  aht     (optional) the interval's mean handle time, 180s or 180; empty: --aht
Starts are evenly spaced, without gaps; their spacing is the interval length
(--interval for a one-row file). Lines starting with # are comments.

JSON: for one rate
  {"agents": N, "pw": .., "asa_s": .., "service_level": .., "abandon_rate": ..}
and for a forecast
  {"model": "erlang_c" or "erlang_a", "interval_s": 900,
   "intervals": [{"start": "08:00", "calls": 90, "aht_s": 180, "agents": N,
                  "pw": .., "asa_s": .., "service_level": .., "abandon_rate": ..}, ...],
   "peak_agents": N, "agent_hours": H}
where an interval without calls has 0 agents and null KPIs.`

func (m *Main) newStaffCmd() *cobra.Command {
	var (
		q                  queueFlags
		goalSL, maxAbandon float64
		forecast           string
		interval           time.Duration
	)
	c := &cobra.Command{
		Use:   "staff --per-hour R --aht D --sl S [--within D] [--patience D] [--max-abandon R]",
		Short: "The fewest agents that meet a service level or abandonment goal",
		Long:  staffLong,
		Example: `  ccswitch erlang staff --per-hour 360 --aht 180s --sl 0.8 --within 20s
  ccswitch erlang staff --per-hour 360 --aht 180 --patience 120s --sl 0.8 --max-abandon 0.03 --json
  ccswitch erlang staff --forecast day.csv --aht 180s --sl 0.8 --within 20s`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			set := c.Flags().Changed
			goal := sim.Goal{ServiceLevel: goalSL, Within: q.within.Seconds(), MaxAbandon: maxAbandon}
			switch {
			case set("sl") && !(goalSL > 0 && goalSL < 1):
				return usagef("erlang staff: --sl %g: want a share of contacts in (0, 1), such as 0.8", goalSL)
			case set("max-abandon") && !(maxAbandon > 0 && maxAbandon < 1):
				return usagef("erlang staff: --max-abandon %g: want a share of contacts in (0, 1), such as 0.05", maxAbandon)
			case !set("sl") && !set("max-abandon"):
				return usagef("erlang staff: no goal: give --sl (answered within --within), --max-abandon, or both")
			case set("max-abandon") && q.patience == 0:
				return usagef("erlang staff: --max-abandon needs --patience: in Erlang C nobody abandons")
			case set("interval") && forecast == "":
				return usagef("erlang staff: --interval goes with --forecast")
			}
			if forecast != "" {
				if set("per-hour") {
					return usagef("erlang staff: give --per-hour or --forecast, not both")
				}
				rows, length, err := readForecast(forecast, interval, q.handle)
				if err != nil {
					return &usageError{fmt.Errorf("erlang staff: %w", err)}
				}
				m.run = func(context.Context) error { return m.staffForecast(rows, length, q, goal) }
				return nil
			}
			var missing []string
			if !(q.perHour > 0) || math.IsInf(q.perHour, 0) {
				missing = append(missing, "--per-hour")
			}
			if q.handle <= 0 {
				missing = append(missing, "--aht")
			}
			if len(missing) > 0 {
				return usagef("erlang staff: %s must be positive (or give a --forecast FILE)", strings.Join(missing, ", "))
			}
			m.run = func(context.Context) error {
				s, err := staffQueue(q.perHour/3600, q.handle, q.patience, goal)
				if err != nil {
					return usagef("erlang staff: %v", err)
				}
				if q.asJSON {
					return json.NewEncoder(m.stdout).Encode(staffJSON{
						Agents: s.Agents, PW: s.PW, ASA: s.ASA, ServiceLevel: s.ServiceLevel, AbandonRate: s.AbandonRate,
					})
				}
				_, err = fmt.Fprintf(m.stdout, "%s: %d agents  P(wait) %.4f  ASA %.2fs  service level %.4f  abandon rate %.4f  occupancy %.4f\n",
					q.model(), s.Agents, s.PW, s.ASA, s.ServiceLevel, s.AbandonRate, s.Occupancy)
				return err
			}
			return nil
		},
	}
	fs := c.Flags()
	q.add(fs)
	fs.Float64Var(&goalSL, "sl", 0, "service-level goal: the share of offered contacts answered within --within, such as 0.8")
	fs.Float64Var(&maxAbandon, "max-abandon", 0, "abandonment cap: the highest share of offered contacts that may abandon, such as 0.05 (with --patience)")
	fs.StringVar(&forecast, "forecast", "", "staff every interval of a forecast `FILE.csv` (columns start, calls, aht) instead of one --per-hour")
	durationVar(fs, &interval, "interval", 0, "the forecast's interval length (default: the spacing of its starts)")
	return c
}

// staffJSON is erlang staff's JSON for one rate.
type staffJSON struct {
	Agents       int     `json:"agents"`
	PW           float64 `json:"pw"`
	ASA          float64 `json:"asa_s"`
	ServiceLevel float64 `json:"service_level"`
	AbandonRate  float64 `json:"abandon_rate"`
}

// forecastJSON is erlang staff's JSON for a forecast.
type forecastJSON struct {
	Model      string              `json:"model"`
	IntervalS  float64             `json:"interval_s"`
	Intervals  []staffIntervalJSON `json:"intervals"`
	PeakAgents int                 `json:"peak_agents"`
	AgentHours float64             `json:"agent_hours"`
}

// staffIntervalJSON is one interval's staffing; its KPIs are null when the
// interval has no calls.
type staffIntervalJSON struct {
	Start        string   `json:"start"`
	Calls        float64  `json:"calls"`
	AHT          float64  `json:"aht_s"`
	Agents       int      `json:"agents"`
	PW           *float64 `json:"pw"`
	ASA          *float64 `json:"asa_s"`
	ServiceLevel *float64 `json:"service_level"`
	AbandonRate  *float64 `json:"abandon_rate"`
}

// staffQueue solves one queue with arrivals at lambda per second.
func staffQueue(lambda float64, handle, patience time.Duration, goal sim.Goal) (sim.Staffing, error) {
	mu := 1 / handle.Seconds()
	if patience > 0 {
		return sim.StaffErlangA(lambda, mu, 1/patience.Seconds(), goal)
	}
	return sim.StaffErlangC(lambda, mu, goal)
}

// staffForecast staffs every interval of a forecast and prints them.
func (m *Main) staffForecast(rows []forecastRow, length time.Duration, q queueFlags, goal sim.Goal) error {
	out := forecastJSON{Model: q.model(), IntervalS: length.Seconds(), Intervals: make([]staffIntervalJSON, 0, len(rows))}
	for _, r := range rows {
		iv := staffIntervalJSON{Start: r.start, Calls: r.calls, AHT: r.handle.Seconds()}
		if r.calls > 0 {
			s, err := staffQueue(r.calls/length.Seconds(), r.handle, q.patience, goal)
			if err != nil {
				return usagef("erlang staff: %s line %d (start %s): %v", r.path, r.line, r.start, err)
			}
			iv.Agents = s.Agents
			iv.PW, iv.ASA, iv.ServiceLevel, iv.AbandonRate = &s.PW, &s.ASA, &s.ServiceLevel, &s.AbandonRate
		}
		out.PeakAgents = max(out.PeakAgents, iv.Agents)
		out.AgentHours += float64(iv.Agents) * length.Hours()
		out.Intervals = append(out.Intervals, iv)
	}
	if q.asJSON {
		return json.NewEncoder(m.stdout).Encode(out)
	}
	return writeForecastTable(m.stdout, out, length)
}

func writeForecastTable(w io.Writer, f forecastJSON, length time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "start\tcalls\tAHT s\tagents\tP(wait)\tASA s\tservice level\tabandon rate\t")
	for _, iv := range f.Intervals {
		if iv.PW == nil {
			fmt.Fprintf(tw, "%s\t%g\t%g\t%d\tn/a\tn/a\tn/a\tn/a\t\n", iv.Start, iv.Calls, iv.AHT, iv.Agents)
			continue
		}
		fmt.Fprintf(tw, "%s\t%g\t%g\t%d\t%.4f\t%.2f\t%.4f\t%.4f\t\n",
			iv.Start, iv.Calls, iv.AHT, iv.Agents, *iv.PW, *iv.ASA, *iv.ServiceLevel, *iv.AbandonRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s: %d interval(s) of %s, peak %d agents, %.2f agent-hours\n",
		f.Model, len(f.Intervals), length, f.PeakAgents, f.AgentHours)
	return err
}
