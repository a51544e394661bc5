package sim

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ccswitch/ccswitch/internal/config"
)

// Check is one queue's interval compared with the Erlang formulas: what
// Erlang C (Erlang A when the callers' patience is exponential) predicts
// for the interval's offered rate, mean handle time and agents staffed,
// against what the simulation measured. Erlang assumes one queue, its
// own agents, one interaction per agent, exponential times and a staffing
// that does not change; Blind names what of the center it does not see.
type Check struct {
	Queue    string  `json:"queue"`
	Interval string  `json:"interval"`
	Offered  int64   `json:"offered"`
	PerHour  float64 `json:"per_hour"`
	Agents   float64 `json:"agents_staffed"`
	// Model is erlang_c, erlang_a, or "" when the formula has no answer
	// (no agent, or more work than agents without abandonment).
	Model string `json:"model"`
	// ErlangSL and SimSL are the service levels (null when unknown);
	// SimSLCI95 the simulation's 95% half-width.
	ErlangSL  Figure    `json:"erlang_service_level"`
	SimSL     Figure    `json:"service_level"`
	SimSLCI95 HalfWidth `json:"service_level_ci95"`
	// Agree: the formula's service level is within the simulation's
	// interval widened by VerifyTolerance.
	Agree bool `json:"agree"`
	// Blind lists what the formula does not model in this queue:
	// multi_skill (its agents serve other queues too), im_concurrency
	// (agents take several chats at once), shifts (the staffing changes
	// within the interval), non_exponential (handle or patience times),
	// overflow, retrials, transfers.
	Blind []string `json:"blind,omitempty"`
}

// VerifyTolerance widens the simulation's interval when it is compared
// with a formula: a service level within 5 points is agreement.
const VerifyTolerance = 0.05

// Verify compares every calls queue's intervals (and chats', for which
// Erlang counts an agent as one server) with the Erlang formulas. It
// needs res.Intervals.
func Verify(f *config.File, res *Result) []Check {
	if res.Intervals == nil {
		return nil
	}
	iv := res.Intervals
	agents := f.ExpandAgents()
	var out []Check
	for qi, qv := range iv.Queues {
		q := f.Queues[qi]
		if q.Media == "callback" {
			continue
		}
		var lines []*config.Traffic
		for i := range f.Traffic {
			if f.Traffic[i].Queue == q.Name {
				lines = append(lines, &f.Traffic[i])
			}
		}
		if len(lines) == 0 {
			continue
		}
		blind := blindSpots(f, q, lines, agents)
		// The mean of the queue's lines' handle times;
		// patience only when every line's is exponential with one mean.
		var handle float64
		for _, t := range lines {
			handle += t.MeanHandle().Seconds()
		}
		handle /= float64(len(lines))
		patience := 0.0
		for i, t := range lines {
			p := t.Patience
			if p == nil || p.Exponential == nil || i > 0 && p.Exponential.Mean.D().Seconds() != patience {
				patience = 0
				break
			}
			patience = p.Exponential.Mean.D().Seconds()
		}
		for k, row := range qv.Rows {
			p := iv.Periods[k]
			length := p.End - p.Start
			if row.Offered == 0 || length <= 0 || res.Replications == 0 {
				continue
			}
			c := Check{Queue: q.Name, Interval: p.Label, Offered: row.Offered, Agents: row.AgentsStaffed,
				SimSL: row.ServiceLevel, SimSLCI95: row.CI95.ServiceLevel, ErlangSL: Figure(math.NaN()), Blind: blind}
			lambda := float64(row.Offered) / float64(res.Replications) / length
			c.PerHour = lambda * 3600
			n := int(math.Round(row.AgentsStaffed))
			if math.Abs(row.AgentsStaffed-float64(n)) > 0.05 && !slices.Contains(c.Blind, "shifts") {
				c.Blind = append(slices.Clone(c.Blind), "shifts")
			}
			var (
				a   Analytic
				err error
			)
			switch {
			case n < 1 || handle <= 0:
				err = fmt.Errorf("no agent")
			case patience > 0:
				c.Model = "erlang_a"
				a, err = ErlangA(n, lambda, 1/handle, 1/patience, qv.SLTarget)
			default:
				c.Model = "erlang_c"
				a, err = ErlangC(n, lambda, 1/handle, qv.SLTarget)
			}
			if err != nil {
				c.Model = ""
			} else {
				c.ErlangSL = Figure(a.ServiceLevel)
			}
			c.Agree = c.ErlangSL.Known() && c.SimSL.Known() &&
				math.Abs(float64(c.ErlangSL)-float64(c.SimSL)) <= halfOrZero(c.SimSLCI95)+VerifyTolerance
			out = append(out, c)
		}
	}
	return out
}

func halfOrZero(h HalfWidth) float64 {
	if !h.Known() {
		return 0
	}
	return float64(h)
}

// blindSpots is what of q the formulas do not model.
func blindSpots(f *config.File, q config.Queue, lines []*config.Traffic, agents []config.Agent) []string {
	var out []string
	skill := cmp.Or(q.Skill, q.Name)
	multi, concurrent := false, false
	for _, a := range agents {
		if level, serves := a.Skills[skill]; !serves || level < q.MinLevel {
			continue
		}
		if n, given := a.Capacity[q.Media]; given && n == 0 {
			continue // never takes this media
		}
		for other := range a.Skills {
			if other != skill && servesQueueSkill(f, other) {
				multi = true
			}
		}
		if q.Media == "im" && a.Capacity["im"] != 1 {
			concurrent = true
		}
	}
	if multi {
		out = append(out, "multi_skill")
	}
	if concurrent {
		out = append(out, "im_concurrency")
	}
	if len(f.Schedule) > 0 {
		out = append(out, "shifts")
	}
	for _, t := range lines {
		if t.Handle.Exponential == nil || t.Patience != nil && t.Patience.Exponential == nil {
			out = append(out, "non_exponential")
			break
		}
	}
	if len(q.Overflow) > 0 {
		out = append(out, "overflow")
	}
	for _, t := range lines {
		if t.Retrial != nil {
			out = append(out, "retrials")
			break
		}
	}
	// Transfers into or out of the queue.
	transfers := false
	for i := range f.Traffic {
		for _, tr := range f.Traffic[i].Transfers {
			if f.Traffic[i].Queue == q.Name || tr.ToQueue == q.Name {
				transfers = true
			}
		}
	}
	if transfers {
		out = append(out, "transfers")
	}
	return out
}

// servesQueueSkill reports whether some queue of f needs skill.
func servesQueueSkill(f *config.File, skill string) bool {
	for _, q := range f.Queues {
		if cmp.Or(q.Skill, q.Name) == skill {
			return true
		}
	}
	return false
}

// WriteChecks writes checks as a table, the disagreements marked, and a
// summary line.
func WriteChecks(w io.Writer, checks []Check) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "queue\tinterval\toffered/h\tagents\tmodel\tErlang SL\tsim SL\tverdict\tErlang is blind to")
	disagree := 0
	for _, c := range checks {
		verdict := "agree"
		if !c.Agree {
			verdict, disagree = "DISAGREE", disagree+1
		}
		erl, model := "n/a", c.Model
		if c.ErlangSL.Known() {
			erl = fmt.Sprintf("%.3f", float64(c.ErlangSL))
		}
		if model == "" {
			model = "none"
		}
		simSL := "n/a"
		if c.SimSL.Known() {
			simSL = fmt.Sprintf("%.3f", float64(c.SimSL))
			if c.SimSLCI95.Known() {
				simSL += fmt.Sprintf(" ±%.3f", float64(c.SimSLCI95))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\n", c.Queue, c.Interval, c.PerHour, c.Agents, model, erl, simSL, verdict, strings.Join(c.Blind, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d intervals: the Erlang formulas and the simulation disagree (service level off by more than the simulation's 95%% interval + %.2f)\n",
		disagree, len(checks), VerifyTolerance)
	return err
}
