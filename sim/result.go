package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ccswitch/ccswitch/internal/config"
)

// Result is what `ccswitch sim --json` prints.
type Result struct {
	Queues       []QueueResult `json:"queues"`
	Agents       AgentResult   `json:"agents"`
	Replications int           `json:"replications"`
	// Events is the number of clock events processed over all
	// replications.
	Events   uint64  `json:"events"`
	Seed     uint64  `json:"seed"`
	Duration float64 `json:"duration_s"`
	Warmup   float64 `json:"warmup_s"`
	// Warnings say what makes the figures misleading although the
	// scenario is valid: a queue no agent serves, an unstable queue, many
	// interactions still waiting at the end. Config.Strict makes them an
	// error.
	Warnings []string `json:"warnings,omitempty"`
	// Intervals are the results per interval of time, per queue and
	// per agent group.
	Intervals *IntervalResults `json:"intervals,omitempty"`
}

// QueueResult holds one queue's KPIs: counts summed over replications,
// ratios averaged over replications with the half-widths of their 95%
// confidence intervals. Offered = Answered + Abandoned + WaitingAtEnd.
type QueueResult struct {
	Name      string `json:"name"`
	Media     string `json:"media"`
	Offered   int64  `json:"offered"`
	Answered  int64  `json:"answered"`
	Abandoned int64  `json:"abandoned"`
	// WaitingAtEnd counts the offered interactions still waiting when the
	// run ended: the run stops at run.duration, it does not drain.
	WaitingAtEnd int64 `json:"waiting_at_end"`
	// Retrials counts the offered interactions that were customers
	// calling again after abandoning.
	Retrials int64 `json:"retrials"`
	// TransferredIn counts the offered interactions transferred here
	// from another queue's agent.
	TransferredIn int64   `json:"transferred_in"`
	PW            float64 `json:"pw"`
	ASA           float64 `json:"asa_s"`
	ServiceLevel  float64 `json:"service_level"`
	AbandonRate   float64 `json:"abandon_rate"`
	// QueueLength is the time-average number of interactions waiting
	// (counted where they were first queued) between the warm-up and the
	// end; QueueLengthMax the most at once in any replication.
	QueueLength    float64 `json:"queue_length"`
	QueueLengthMax int     `json:"queue_length_max"`
	CI95           KPIs    `json:"ci95"`
}

// KPIs are the half-widths of the 95% confidence intervals of the ratios
// reported per queue.
type KPIs struct {
	PW           HalfWidth `json:"pw"`
	ASA          HalfWidth `json:"asa_s"`
	ServiceLevel HalfWidth `json:"service_level"`
	AbandonRate  HalfWidth `json:"abandon_rate"`
	QueueLength  HalfWidth `json:"queue_length"`
}

// AgentResult summarises the agents.
type AgentResult struct {
	// Occupancy is the share of logged-in time agents spent handling
	// interactions (offered, connected or wrapping up), between the end
	// of the warm-up and the end of the run.
	Occupancy     float64   `json:"occupancy"`
	OccupancyCI95 HalfWidth `json:"occupancy_ci95"`
}

// HalfWidth is the half-width of a 95% confidence interval. It is NaN when
// there is no interval (a single replication): JSON writes it as null, and
// WriteText as "n/a".
type HalfWidth float64

// Known reports whether there is an interval.
func (h HalfWidth) Known() bool { return !math.IsNaN(float64(h)) }

// MarshalJSON writes the half-width as a number, or null when unknown.
func (h HalfWidth) MarshalJSON() ([]byte, error) {
	if !h.Known() {
		return []byte("null"), nil
	}
	return json.Marshal(float64(h))
}

// UnmarshalJSON reads a number, or null as unknown.
func (h *HalfWidth) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = HalfWidth(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*h = HalfWidth(f)
	return nil
}

// meanCI returns the mean of xs and its 95% half-width, unknown with fewer
// than two replications.
func meanCI(xs []float64) (float64, HalfWidth) {
	m, h := MeanCI95(xs)
	if len(xs) < 2 {
		return m, HalfWidth(math.NaN())
	}
	return m, HalfWidth(h)
}

// queueOutcome is one queue's figures in one replication.
type queueOutcome struct {
	offered, answered, abandoned, waited, answeredInSL int64
	waitAnswered, waitAbandoned                        time.Duration
	waitingAtEnd                                       int64
	// waitAtEnd is the time those waiting at the end had waited so far.
	waitAtEnd               time.Duration
	retrials, transferredIn int64
	// queueArea is the integral of the number waiting over the measured
	// period, in seconds; queueMax the most waiting at once.
	queueArea float64
	queueMax  int
}

func summarise(f *config.File, reps []replication) *Result {
	res := &Result{
		Replications: len(reps),
		Seed:         f.Run.Seed,
		Duration:     f.Run.Duration.D().Seconds(),
		Warmup:       f.Run.Warmup.D().Seconds(),
	}
	measured := (f.Run.Duration.D() - f.Run.Warmup.D()).Seconds()
	occ := make([]float64, len(reps))
	for r, rep := range reps {
		res.Events += rep.events
		occ[r] = rep.occupancy
	}
	res.Agents.Occupancy, res.Agents.OccupancyCI95 = meanCI(occ)
	for qi, q := range f.Queues {
		qr := QueueResult{Name: q.Name, Media: q.Media}
		var pw, asa, sl, ab, ql []float64
		for _, rep := range reps {
			st := rep.queues[qi]
			qr.Offered += st.offered
			qr.Answered += st.answered
			qr.Abandoned += st.abandoned
			qr.WaitingAtEnd += st.waitingAtEnd
			qr.Retrials += st.retrials
			qr.TransferredIn += st.transferredIn
			qr.QueueLengthMax = max(qr.QueueLengthMax, st.queueMax)
			pw = append(pw, ratio(float64(st.waited), float64(st.offered)))
			asa = append(asa, ratio(st.waitAnswered.Seconds(), float64(st.answered)))
			sl = append(sl, ratio(float64(st.answeredInSL), float64(st.offered)))
			ab = append(ab, ratio(float64(st.abandoned), float64(st.offered)))
			ql = append(ql, ratio(st.queueArea, measured))
		}
		qr.PW, qr.CI95.PW = meanCI(pw)
		qr.ASA, qr.CI95.ASA = meanCI(asa)
		qr.ServiceLevel, qr.CI95.ServiceLevel = meanCI(sl)
		qr.AbandonRate, qr.CI95.AbandonRate = meanCI(ab)
		qr.QueueLength, qr.CI95.QueueLength = meanCI(ql)
		res.Queues = append(res.Queues, qr)
	}
	res.Intervals = summariseIntervals(f, reps)
	return res
}

// endWarnings are the warnings only the run can tell: queues where many
// of the offered interactions were still waiting at the end.
func endWarnings(r *Result) []string {
	var out []string
	for _, q := range r.Queues {
		if q.Offered > 0 && float64(q.WaitingAtEnd) > waitingAtEndWarn*float64(q.Offered) {
			out = append(out, fmt.Sprintf("queue %q: %d of the %d offered interactions (%.0f%%) were still waiting at the end of the run: "+
				"its KPIs leave them out", q.Name, q.WaitingAtEnd, q.Offered, 100*float64(q.WaitingAtEnd)/float64(q.Offered)))
		}
	}
	return out
}

// waitingAtEndWarn is the share of offered interactions still waiting at
// the end above which the result warns.
const waitingAtEndWarn = 0.02

// WriteText writes r as a table for people: one row per queue, then the
// agents' occupancy and the warnings. A confidence interval reads "n/a"
// when there is only one replication.
func (r *Result) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d replication(s) of %s after %s warm-up, seed %d, %d events\n\n",
		r.Replications, seconds(r.Duration), seconds(r.Warmup), r.Seed, r.Events)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "queue\tmedia\toffered\tanswered\tabandoned\twaiting at end\tP(wait)\tASA s\tservice level\tabandon rate\tqueue length\t")
	for _, q := range r.Queues {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			q.Name, q.Media, q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd,
			withCI(q.PW, q.CI95.PW, 4), withCI(q.ASA, q.CI95.ASA, 2), withCI(q.ServiceLevel, q.CI95.ServiceLevel, 4),
			withCI(q.AbandonRate, q.CI95.AbandonRate, 4), withCI(q.QueueLength, q.CI95.QueueLength, 2))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nagent occupancy %s (± is the 95%% confidence half-width; n/a with one replication)\n",
		withCI(r.Agents.Occupancy, r.Agents.OccupancyCI95, 4))
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nwarnings:\n  %s\n", strings.Join(r.Warnings, "\n  "))
	}
	return nil
}

// withCI writes a mean and its half-width with the given decimals.
func withCI(mean float64, half HalfWidth, decimals int) string {
	if !half.Known() {
		return fmt.Sprintf("%.*f ±n/a", decimals, mean)
	}
	return fmt.Sprintf("%.*f ±%.*f", decimals, mean, decimals, float64(half))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
