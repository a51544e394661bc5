package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// IntervalResults are the run's results per interval of time (JSON
// "intervals"): per queue, and per agent group. Intervals are counted from
// 00:00 and cover the measured period, from the warm-up to the end; the
// first and the last may be shorter.
//
// A queue's counts and waits in an interval are about the interactions
// offered in it (arrived, or transferred in), wherever their outcome fell:
// per interval, Offered = Answered + Abandoned + Callback + WaitingAtEnd.
// Counts are summed over replications, like Result's; ratios are means
// over the replications where they are defined, with 95% half-widths.
// Queue lengths are time averages within the interval; staffing and
// occupancy come from samples of the agents' states.
type IntervalResults struct {
	// Length is the intervals' length: run.interval, else the shortest
	// forecast interval, else 30 minutes (widened on very long runs).
	Length float64 `json:"length_s"`
	// AgentSample is how often the agents' states are sampled.
	AgentSample float64 `json:"agent_sample_s"`
	// EWTSample: the first interaction that starts to wait in a queue in
	// each such slot is asked its EWT, as the switch would announce it.
	EWTSample float64          `json:"ewt_sample_s"`
	Periods   []Period         `json:"periods"`
	Queues    []QueueIntervals `json:"queues"`
	Groups    []GroupIntervals `json:"groups"`
}

// Period is one interval.
type Period struct {
	Start float64 `json:"start_s"`
	End   float64 `json:"end_s"`
	// Label is the start as a time of day, "08:30", with the day from the
	// second on: "d2 08:30".
	Label string `json:"label"`
}

// QueueIntervals are one queue's results, one row per period.
type QueueIntervals struct {
	Name     string  `json:"name"`
	Media    string  `json:"media"`
	SLTarget float64 `json:"sl_target_s"`
	// EWT is the accuracy of the EWT over the whole run.
	EWT  EWTAccuracy     `json:"ewt"`
	Rows []QueueInterval `json:"rows"`
}

// QueueInterval is one queue's results in one period.
type QueueInterval struct {
	Offered   int64 `json:"offered"`
	Answered  int64 `json:"answered"`
	Abandoned int64 `json:"abandoned"`
	// Callback counts those who left the queue with a callback promised
	// (the offered less the answered, abandoned and waiting at the end).
	Callback     int64 `json:"callback"`
	WaitingAtEnd int64 `json:"waiting_at_end"`
	// ServiceLevel is the share of the offered answered within the
	// queue's sl_target; ASA the mean wait of the answered; both null
	// when no interaction was offered or answered.
	ServiceLevel Figure `json:"service_level"`
	ASA          Figure `json:"asa_s"`
	AbandonRate  Figure `json:"abandon_rate"`
	// QueueLength is the time-average number waiting in the period;
	// QueueLengthMax the most at once in any replication.
	QueueLength    float64 `json:"queue_length"`
	QueueLengthMax int     `json:"queue_length_max"`
	// AgentsStaffed is the mean number of agents logged in who serve the
	// queue; Occupancy the share of them busy (offered, handling or
	// wrapping up).
	AgentsStaffed float64     `json:"agents_staffed"`
	Occupancy     Figure      `json:"occupancy"`
	EWT           EWTAccuracy `json:"ewt"`
	CI95          IntervalCI  `json:"ci95"`
}

// IntervalCI are the 95% half-widths of a period's ratios.
type IntervalCI struct {
	ServiceLevel HalfWidth `json:"service_level"`
	ASA          HalfWidth `json:"asa_s"`
	AbandonRate  HalfWidth `json:"abandon_rate"`
	QueueLength  HalfWidth `json:"queue_length"`
	Occupancy    HalfWidth `json:"occupancy"`
}

// EWTAccuracy compares the EWT sampled interactions were told when they
// started to wait with the wait they had, for those answered: MeanError is
// the mean of EWT - wait (> 0: the EWT promised too long a wait), and
// MeanAbsError its mean absolute value, in seconds; null without samples.
type EWTAccuracy struct {
	Samples      int64  `json:"samples"`
	MeanError    Figure `json:"mean_error_s"`
	MeanAbsError Figure `json:"mean_abs_error_s"`
}

// GroupIntervals are one agent group's results, one row per period.
type GroupIntervals struct {
	Name string          `json:"name"`
	Rows []GroupInterval `json:"rows"`
}

// GroupInterval is one agent group's staffing in one period.
type GroupInterval struct {
	// Staffed is the mean number of the group's agents logged in.
	Staffed float64 `json:"staffed"`
	// Occupancy is the share of them busy; null when none was staffed.
	Occupancy     Figure    `json:"occupancy"`
	OccupancyCI95 HalfWidth `json:"occupancy_ci95"`
}

// Figure is a number that may be undefined (NaN), such as a ratio of
// nothing: JSON writes it as null.
type Figure float64

// Known reports whether the figure is defined.
func (v Figure) Known() bool { return !math.IsNaN(float64(v)) }

// MarshalJSON writes the figure, or null when undefined.
func (v Figure) MarshalJSON() ([]byte, error) { return HalfWidth(v).MarshalJSON() }

// UnmarshalJSON reads a number, or null as undefined.
func (v *Figure) UnmarshalJSON(b []byte) error {
	return (*HalfWidth)(v).UnmarshalJSON(b)
}

var _ json.Marshaler = Figure(0)

// periodLabel writes the time t since the run's start as a time of day,
// with the day from the second on.
func periodLabel(t time.Duration) string {
	d, tod := int(t/day), t%day
	s := config.TimeOfDay(tod).String()
	if d > 0 {
		return fmt.Sprintf("d%d %s", d+1, s)
	}
	return s
}

// meanOf returns the mean and 95% half-width of the defined values.
func meanOf(xs []float64) (Figure, HalfWidth) {
	var known []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			known = append(known, x)
		}
	}
	if len(known) == 0 {
		return Figure(math.NaN()), HalfWidth(math.NaN())
	}
	m, h := meanCI(known)
	return Figure(m), h
}

// ratioOrNaN is a/b, or NaN when b is 0.
func ratioOrNaN(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func ewtAccuracy(samples int64, sum, abs time.Duration) EWTAccuracy {
	return EWTAccuracy{
		Samples:      samples,
		MeanError:    Figure(ratioOrNaN(sum.Seconds(), float64(samples))),
		MeanAbsError: Figure(ratioOrNaN(abs.Seconds(), float64(samples))),
	}
}

// summariseIntervals merges the replications' per-interval figures, in
// replication order: the same bytes whatever ran in parallel.
func summariseIntervals(f *config.File, reps []replication) *IntervalResults {
	g := newIntervalGrid(f)
	sampleEvery := max(g.length/agentSamplesPerInterval, time.Second)
	res := &IntervalResults{
		Length:      g.length.Seconds(),
		AgentSample: sampleEvery.Seconds(),
		EWTSample:   ewtSampleEvery.Seconds(),
	}
	for k := range g.n {
		from, to := g.bounds(k)
		res.Periods = append(res.Periods, Period{Start: from.Seconds(), End: to.Seconds(), Label: periodLabel(from)})
	}
	samples := func(k int) float64 {
		if len(reps) == 0 {
			return 0
		}
		return float64(reps[0].intervals.samples[k])
	}
	n := len(reps)
	for qi, q := range f.Queues {
		qr := QueueIntervals{Name: q.Name, Media: q.Media, SLTarget: q.SLTarget.D().Seconds()}
		var ewtN int64
		var ewtSum, ewtAbs time.Duration
		for k := range g.n {
			from, to := g.bounds(k)
			length := (to - from).Seconds()
			var row QueueInterval
			var ewtErr, ewtAbsErr time.Duration
			var staffed float64
			sl, asa, ab, ql, occ := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
			for r := range reps {
				c := reps[r].intervals.queues[qi][k]
				row.Offered += c.offered
				row.Answered += c.answered
				row.Abandoned += c.abandoned
				row.WaitingAtEnd += c.waiting
				row.Callback += c.offered - c.answered - c.abandoned - c.waiting
				row.QueueLengthMax = max(row.QueueLengthMax, c.max)
				row.EWT.Samples += c.ewtSamples
				ewtErr += c.ewtError
				ewtAbsErr += c.ewtAbsErr
				staffed += ratio(float64(c.staffed), samples(k))
				sl[r] = ratioOrNaN(float64(c.answeredInSL), float64(c.offered))
				asa[r] = ratioOrNaN(c.waitAnswered.Seconds(), float64(c.answered))
				ab[r] = ratioOrNaN(float64(c.abandoned), float64(c.offered))
				ql[r] = ratio(c.area, length)
				occ[r] = ratioOrNaN(float64(c.busy), float64(c.staffed))
			}
			row.ServiceLevel, row.CI95.ServiceLevel = meanOf(sl)
			row.ASA, row.CI95.ASA = meanOf(asa)
			row.AbandonRate, row.CI95.AbandonRate = meanOf(ab)
			qlMean, qlHalf := meanOf(ql)
			row.QueueLength, row.CI95.QueueLength = float64(qlMean), qlHalf
			row.Occupancy, row.CI95.Occupancy = meanOf(occ)
			row.AgentsStaffed = ratio(staffed, float64(n))
			row.EWT = ewtAccuracy(row.EWT.Samples, ewtErr, ewtAbsErr)
			ewtN += row.EWT.Samples
			ewtSum += ewtErr
			ewtAbs += ewtAbsErr
			qr.Rows = append(qr.Rows, row)
		}
		qr.EWT = ewtAccuracy(ewtN, ewtSum, ewtAbs)
		res.Queues = append(res.Queues, qr)
	}
	names, _ := groupNames(f)
	for gi, name := range names {
		gr := GroupIntervals{Name: name}
		for k := range g.n {
			var row GroupInterval
			occ := make([]float64, n)
			var staffed float64
			for r := range reps {
				c := reps[r].intervals.groups[gi][k]
				staffed += ratio(float64(c.staffed), samples(k))
				occ[r] = ratioOrNaN(float64(c.busy), float64(c.staffed))
			}
			row.Staffed = ratio(staffed, float64(n))
			row.Occupancy, row.OccupancyCI95 = meanOf(occ)
			gr.Rows = append(gr.Rows, row)
		}
		res.Groups = append(res.Groups, gr)
	}
	return res
}
