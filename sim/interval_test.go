package sim

import (
	"context"
	"github.com/ccswitch/ccswitch/internal/config"
	"math"
	"testing"
	"time"
)

// intervalCenter has a route point, an overflow to another queue,
// retrials, transfers, a forecast, chats and a scheduled group; its
// warm-up and end fall inside 20-minute intervals.
const intervalCenter = `
queues:
  - {name: sales, overflow: [{after: 40s, to_queue: service}]}
  - {name: service, sl_target: 30s}
  - {name: chat, media: im, sl_target: 60s}
route_points: [{number: "5000", queue: sales}]
agents:
  - {group: s, count: 5, skills: {sales: 5}}
  - {group: x, count: 7, skills: {sales: 2, service: 5}, wrap_up: 10s}
  - {group: c, count: 3, skills: {chat: 5}, capacity: {voice: 0, im: 2}}
traffic:
  - route_point: "5000"
    arrivals:
      forecast: {interval: 1h, intervals: [{start: "00:00", per_hour: 40}, {start: "01:00", per_hour: 90},
                 {start: "02:00", per_hour: 70}, {start: "03:00", per_hour: 60}, {start: "04:00", per_hour: 80}]}
    handle: {lognormal: {mean: 5m, sd: 3m}}
    patience: {exponential: {mean: 90s}}
    retrial: {probability: 0.5, delay: {exponential: {mean: 5m}}}
    transfers: [{to_queue: service, probability: 0.1}]
  - {queue: service, arrivals: {poisson: {per_hour: 60}}, handle: {gamma: {mean: 4m, sd: 2m}},
     patience: {exponential: {mean: 2m}}}
  - {queue: chat, arrivals: {poisson: {per_hour: 30}}, handle: {exponential: {mean: 6m}},
     patience: {exponential: {mean: 5m}}}
schedule:
  - {group: c, shifts: [{start: "01:00", end: "04:30", breaks: [{start: "02:30", length: 15m}]}]}
run: {duration: 5h10m, warmup: 25m, replications: 6, seed: 11, interval: 20m}
`

// TestIntervalsSumToTotals: per queue, the intervals' offered, answered,
// abandoned and waiting at the end add up to the run's; in every interval
// offered = answered + abandoned + callback + waiting at the end, with no
// callback here; the queue length's interval means integrate to the run's
// mean and their maxima to its maximum.
func TestIntervalsSumToTotals(t *testing.T) {
	f := mustParse(t, intervalCenter)
	res, err := Run(context.Background(), f, Config{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	iv := res.Intervals
	if iv == nil {
		t.Fatal("no intervals in the result")
	}
	if iv.Length != 1200 {
		t.Errorf("length %v s, want run.interval 1200", iv.Length)
	}
	// 00:25 to 05:10 in 20-minute intervals: 00:20 (cut to 00:25), 00:40,
	// ..., 05:00 (cut at 05:10).
	if n := len(iv.Periods); n != 15 {
		t.Fatalf("%d periods, want 15: %+v", n, iv.Periods)
	}
	if p := iv.Periods[0]; p.Start != 1500 || p.End != 2400 || p.Label != "00:25" {
		t.Errorf("first period %+v, want 00:25 from 1500 s to 2400 s", p)
	}
	if p := iv.Periods[14]; p.Start != 18000 || p.End != 18600 {
		t.Errorf("last period %+v, want 18000 s to 18600 s", p)
	}
	measured := res.Duration - res.Warmup
	for qi, q := range res.Queues {
		qv := iv.Queues[qi]
		if qv.Name != q.Name || len(qv.Rows) != len(iv.Periods) {
			t.Fatalf("queue %d: %q with %d rows, want %q with %d", qi, qv.Name, len(qv.Rows), q.Name, len(iv.Periods))
		}
		var offered, answered, abandoned, waiting int64
		var integral float64
		maxLen := 0
		for k, r := range qv.Rows {
			offered += r.Offered
			answered += r.Answered
			abandoned += r.Abandoned
			waiting += r.WaitingAtEnd
			if r.Offered != r.Answered+r.Abandoned+r.Callback+r.WaitingAtEnd || r.Callback != 0 {
				t.Errorf("%s %s: offered %d, answered %d, abandoned %d, callback %d, waiting %d",
					q.Name, iv.Periods[k].Label, r.Offered, r.Answered, r.Abandoned, r.Callback, r.WaitingAtEnd)
			}
			integral += r.QueueLength * (iv.Periods[k].End - iv.Periods[k].Start)
			maxLen = max(maxLen, r.QueueLengthMax)
		}
		if offered != q.Offered || answered != q.Answered || abandoned != q.Abandoned || waiting != q.WaitingAtEnd {
			t.Errorf("%s: intervals sum to offered %d answered %d abandoned %d waiting %d; run: %d %d %d %d",
				q.Name, offered, answered, abandoned, waiting, q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd)
		}
		if got := integral / measured; math.Abs(got-q.QueueLength) > 1e-9*max(1, q.QueueLength) {
			t.Errorf("%s: interval queue lengths integrate to %.12f, run's %.12f", q.Name, got, q.QueueLength)
		}
		if maxLen != q.QueueLengthMax {
			t.Errorf("%s: interval maxima reach %d, run's %d", q.Name, maxLen, q.QueueLengthMax)
		}
		t.Logf("%s: offered %d answered %d abandoned %d waiting %d, queue length %.4f, max %d, EWT %+v",
			q.Name, offered, answered, abandoned, waiting, q.QueueLength, maxLen, qv.EWT)
	}
	if res.Queues[0].Retrials == 0 || res.Queues[1].TransferredIn == 0 || res.Queues[0].QueueLength == 0 {
		t.Errorf("the models did not all act: %+v", res.Queues)
	}
}

// TestIntervalStaffingFollowsTheSchedule: the scheduled chat group is
// staffed (logged in, breaks included) only during its shift, and the
// per-interval occupancy, weighted by staffing, matches the run's agent
// occupancy.
func TestIntervalStaffingFollowsTheSchedule(t *testing.T) {
	f := mustParse(t, intervalCenter)
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	iv := res.Intervals
	var chat *GroupIntervals
	for i := range iv.Groups {
		if iv.Groups[i].Name == "c" {
			chat = &iv.Groups[i]
		}
	}
	if chat == nil || len(iv.Groups) != 3 {
		t.Fatalf("groups %+v, want s, x and c", iv.Groups)
	}
	for k, r := range chat.Rows {
		p := iv.Periods[k]
		start, end := time.Duration(p.Start)*time.Second, time.Duration(p.End)*time.Second
		switch {
		case end <= time.Hour && r.Staffed != 0:
			t.Errorf("chat group at %s, before its shift: %.2f staffed", p.Label, r.Staffed)
		case start >= time.Hour && end <= 4*time.Hour+20*time.Minute && r.Staffed != 3:
			t.Errorf("chat group at %s, in its shift: %.2f staffed, want 3", p.Label, r.Staffed)
		case start >= 4*time.Hour+40*time.Minute && r.Staffed > 0.5:
			// The shift ended at 04:30; an agent logs out once its
			// chats are over.
			t.Errorf("chat group at %s, after its shift: %.2f staffed", p.Label, r.Staffed)
		}
	}
	var busy, staffed float64
	for _, g := range iv.Groups {
		for _, r := range g.Rows {
			if r.Occupancy.Known() {
				busy += float64(r.Occupancy) * r.Staffed
				staffed += r.Staffed
			}
		}
	}
	if got := busy / staffed; math.Abs(got-res.Agents.Occupancy) > 0.02 {
		t.Errorf("sampled occupancy %.4f, the run's %.4f", got, res.Agents.Occupancy)
	}
}

// TestEWTErrorOfASingleAgent: one agent, constant handle time, no
// patience: a waiting customer's wait is the rest of the call in hand plus
// a full call per customer ahead, and the staffing EWT counts a full call
// for the one in hand, so no EWT is short: the mean error is positive and
// equals the mean absolute error.
func TestEWTErrorOfASingleAgent(t *testing.T) {
	f := mustParse(t, `
queues: [{name: q}]
agents: [{id: solo, skills: {q: 5}}]
traffic: [{queue: q, arrivals: {poisson: {per_hour: 20}}, handle: {constant: {value: 150s}}}]
run: {duration: 30h, warmup: 1h, replications: 2, seed: 5}
`)
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Intervals.Queues[0].EWT
	t.Logf("EWT accuracy %+v", e)
	if e.Samples < 500 {
		t.Fatalf("%d EWT samples, want most minutes of 29 h × 2", e.Samples)
	}
	if !(e.MeanError > 0) || math.Abs(float64(e.MeanError-e.MeanAbsError)) > 1e-6 {
		t.Errorf("mean error %v s, mean absolute error %v s: want equal and > 0", e.MeanError, e.MeanAbsError)
	}
}

// TestIntervalsSameBytesAtOneAndTwoWorkers: the per-interval results are
// merged in replication order.
func TestIntervalsSameBytesAtOneAndTwoWorkers(t *testing.T) {
	f := mustParse(t, intervalCenter)
	out := sameJSONAtWorkers(t, f, Config{}, func(r *Result) any { return r.Intervals }, 1, 2)
	if len(out) < 1000 {
		t.Fatalf("missing intervals: %.400s", out)
	}
}

func TestReportInterval(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       time.Duration
	}{
		{"default", `run: {duration: 10h}`, 30 * time.Minute},
		{"run.interval", `run: {duration: 10h, interval: 15m}`, 15 * time.Minute},
		{"widened on a long run", `run: {duration: 3000h}`, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, `
queues: [{name: q}]
agents: [{group: a, count: 1, skills: {q: 1}}]
traffic: [{queue: q, arrivals: {poisson: {per_hour: 1}}, handle: {constant: {value: 1s}}}]
`+tt.yaml)
			if got := reportInterval(f); got != tt.want {
				t.Errorf("interval %v, want %v", got, tt.want)
			}
		})
	}
	f := mustParse(t, intervalCenter)
	f.Run.Interval = 0
	if got := reportInterval(f); got != time.Hour {
		t.Errorf("with a 1h forecast: %v, want 1h", got)
	}
}

// TestIntervalsCountCallbacks: with callbacks (examples/callback-day.yaml),
// each calls queue's intervals balance and their callbacks add up to the
// queue's own count of customers who left for a callback; the callback
// queue's intervals add up to its row.
func TestIntervalsCountCallbacks(t *testing.T) {
	f, err := config.Load("../examples/callback-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Run.Replications = 2
	res, err := Run(context.Background(), f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	left := int64(0)
	for qi, q := range res.Queues {
		if q.Media == "callback" {
			// The callback queue's intervals count its callbacks as the
			// result does: asked for, dialled, undialled.
			var offered, answered, abandoned, waiting int64
			for _, r := range res.Intervals.Queues[qi].Rows {
				offered, answered, abandoned, waiting = offered+r.Offered, answered+r.Answered, abandoned+r.Abandoned, waiting+r.WaitingAtEnd
			}
			if offered != q.Offered || answered != q.Answered || abandoned != q.Abandoned || waiting != q.WaitingAtEnd || offered == 0 {
				t.Errorf("%s: intervals %d/%d/%d/%d, the queue %d/%d/%d/%d (offered/answered/abandoned/waiting)",
					q.Name, offered, answered, abandoned, waiting, q.Offered, q.Answered, q.Abandoned, q.WaitingAtEnd)
			}
			continue
		}
		var callbacks int64
		for k, r := range res.Intervals.Queues[qi].Rows {
			callbacks += r.Callback
			if r.Callback < 0 || r.Offered != r.Answered+r.Abandoned+r.Callback+r.WaitingAtEnd {
				t.Errorf("%s %s: %+v", q.Name, res.Intervals.Periods[k].Label, r)
			}
		}
		if callbacks != q.Callback {
			t.Errorf("%s: the intervals count %d callbacks, the queue %d", q.Name, callbacks, q.Callback)
		}
		left += q.Callback
	}
	if left == 0 {
		t.Fatal("nobody left for a callback: the example shows nothing")
	}
}
