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
	// Callbacks, per callback queue whose callbacks the scenario
	// simulates (absent when none): what became of them.
	Callbacks []CallbackResult `json:"callbacks,omitempty"`
	// Warnings say what makes the figures misleading although the
	// scenario is valid: a queue no agent serves, an unstable queue, many
	// interactions still waiting at the end. Config.Strict makes them an
	// error.
	Warnings []string `json:"warnings,omitempty"`
	// Verify compares each interval with the Erlang formulas (Verify;
	// `ccswitch sim --verify`); absent otherwise.
	Verify []Check `json:"verify,omitempty"`
	// Intervals are the results per interval of time, per queue and
	// per agent group.
	Intervals *IntervalResults `json:"intervals,omitempty"`
}

// QueueResult holds one queue's KPIs: counts summed over replications,
// ratios averaged over replications with the half-widths of their 95%
// confidence intervals. Offered = Answered + Abandoned + Callback +
// WaitingAtEnd. A callback queue whose callbacks the scenario simulates
// reports its callbacks: offered, those asked for; answered, those
// dialled (their first attempt started), within sl_target of the request
// for the service level; abandoned, those that ended without an attempt;
// waiting at end, those not dialled yet.
type QueueResult struct {
	Name      string `json:"name"`
	Media     string `json:"media"`
	Offered   int64  `json:"offered"`
	Answered  int64  `json:"answered"`
	Abandoned int64  `json:"abandoned"`
	// Callback counts the customers who left the queue with a callback
	// promised instead of waiting (absent when none).
	Callback int64 `json:"callback,omitempty"`
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

// CallbackResult is what became of the callbacks waiting in one callback
// queue, summed over replications: those asked for after the warm-up.
// Callbacks = Done + Failed + Cancelled + PendingAtEnd.
type CallbackResult struct {
	// Queue is the callback queue.
	Queue string `json:"queue"`
	// Offers counts the waiting customers offered a callback (their
	// estimated wait over the line's offer_after_ewt); Callbacks those
	// who took one; AcceptRate = Callbacks / Offers.
	Offers     int64   `json:"offers"`
	Callbacks  int64   `json:"callbacks"`
	AcceptRate float64 `json:"accept_rate"`
	// Done: the customer answered; Failed: max_attempts attempts in
	// vain; PendingAtEnd: still pending or dialing when the run ended.
	Done         int64 `json:"done"`
	Failed       int64 `json:"failed"`
	Cancelled    int64 `json:"cancelled"`
	PendingAtEnd int64 `json:"pending_at_end"`
	// Attempts counts the calls placed; AttemptsPerCallback = Attempts /
	// Callbacks; AttemptResults counts them by result (answered, busy,
	// no_answer, unreachable, unknown: no result within the attempt
	// timeout; in_flight at the end).
	Attempts            int64            `json:"attempts"`
	AttemptsPerCallback float64          `json:"attempts_per_callback"`
	AttemptResults      map[string]int64 `json:"attempt_results"`
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
	// callback counts those who left for a callback.
	callback int64
	// queueArea is the integral of the number waiting over the measured
	// period, in seconds; queueMax the most waiting at once.
	queueArea float64
	queueMax  int
}

// fromCallbacks makes o, a callback queue's figures, its callbacks'
// (QueueResult).
func (o *queueOutcome) fromCallbacks(c callbackOutcome) {
	o.offered, o.answered, o.abandoned = c.callbacks, c.dialled, c.neverDialled
	o.waited, o.answeredInSL = c.waited, c.dialledInSL
	o.waitAnswered, o.waitAbandoned = c.waitDialled, 0
	o.waitingAtEnd, o.waitAtEnd = c.waitingAtEnd, c.waitAtEnd
	o.callback = 0
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
			qr.Callback += st.callback
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
	res.Callbacks = summariseCallbacks(f, reps)
	res.Intervals = summariseIntervals(f, reps)
	return res
}

// summariseCallbacks sums the callbacks of every callback queue that has
// some, in the order of f.Queues.
func summariseCallbacks(f *config.File, reps []replication) []CallbackResult {
	var out []CallbackResult
	for qi, q := range f.Queues {
		cr := CallbackResult{Queue: q.Name, AttemptResults: map[string]int64{}}
		simulated := false
		for _, rep := range reps {
			if len(rep.callbacks) == 0 {
				continue
			}
			o := rep.callbacks[qi]
			if o.offers == 0 && o.callbacks == 0 {
				continue
			}
			simulated = true
			cr.Offers += o.offers
			cr.Callbacks += o.callbacks
			cr.Done += o.done
			cr.Failed += o.failed
			cr.Cancelled += o.cancelled
			cr.PendingAtEnd += o.pendingAtEnd
			cr.Attempts += o.attempts
			for res, n := range o.attemptResults {
				key := string(res)
				if key == "" {
					key = "in_flight"
				}
				cr.AttemptResults[key] += n
			}
		}
		if !simulated {
			continue
		}
		cr.AcceptRate = ratio(float64(cr.Callbacks), float64(cr.Offers))
		cr.AttemptsPerCallback = ratio(float64(cr.Attempts), float64(cr.Callbacks))
		out = append(out, cr)
	}
	return out
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
	fmt.Fprintln(tw, "queue\tmedia\toffered\tanswered\tabandoned\tcallback\twaiting at end\tP(wait)\tASA s\tservice level\tabandon rate\tqueue length\t")
	for _, q := range r.Queues {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			q.Name, q.Media, q.Offered, q.Answered, q.Abandoned, q.Callback, q.WaitingAtEnd,
			withCI(q.PW, q.CI95.PW, 4), withCI(q.ASA, q.CI95.ASA, 2), withCI(q.ServiceLevel, q.CI95.ServiceLevel, 4),
			withCI(q.AbandonRate, q.CI95.AbandonRate, 4), withCI(q.QueueLength, q.CI95.QueueLength, 2))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nagent occupancy %s (± is the 95%% confidence half-width; n/a with one replication)\n",
		withCI(r.Agents.Occupancy, r.Agents.OccupancyCI95, 4))
	if len(r.Callbacks) > 0 {
		fmt.Fprintln(w, "\ncallbacks (a callback queue's answered = dialled; its service level: dialled within sl_target of the request)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "callback queue\toffers\tcallbacks\taccept rate\tdone\tfailed\tpending at end\tattempts\tattempts per callback\t")
		for _, c := range r.Callbacks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%d\t%d\t%d\t%d\t%.2f\t\n", c.Queue, c.Offers, c.Callbacks, c.AcceptRate,
				c.Done, c.Failed, c.PendingAtEnd, c.Attempts, c.AttemptsPerCallback)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
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
