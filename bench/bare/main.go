// Command bare is a plain discrete-event simulation of the M/M/n+M (Erlang A)
// queue: Poisson arrivals, exponential handle times, exponential patience and
// n identical servers fed from one FIFO queue. It is the baseline that
// bench/sim-vs-bare.sh compares `ccswitch sim` against, so it is written the
// way one would write it by hand: a container/heap of events ordered by
// (time, sequence number), a slice as the FIFO queue, and lazy cancellation of
// abandonment events (a customer who is answered first is simply no longer
// waiting when its abandonment event comes up, and that event is skipped).
//
// Arrivals stop after -contacts customers; the run then continues until the
// queue has drained and every service has ended. The result is one JSON line.
package main

import (
	"container/heap"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// Event kinds.
const (
	evArrival = iota
	evServiceEnd
	evAbandon
)

// customer is one contact; it is referenced by its queue entry and by its
// pending abandonment event.
type customer struct {
	arrival float64
	waiting bool // in the queue, neither answered nor abandoned yet
}

// event is one scheduled happening. seq breaks ties in time so that events
// at the same instant run in the order they were scheduled.
type event struct {
	t    float64
	seq  uint64
	kind uint8
	c    *customer // the customer concerned (evAbandon only)
}

// eventHeap is a binary min-heap of events ordered by (t, seq).
type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = event{}
	*h = old[:n-1]
	return e
}

// params describes the model and the run.
type params struct {
	agents       int
	perHour      float64 // arrivals per hour
	handleMean   float64 // seconds
	patienceMean float64 // seconds; 0 = customers never abandon
	slTarget     float64 // seconds
	contacts     int     // arrivals to generate
	seed         uint64
}

// result holds the run's KPIs.
type result struct {
	Offered      int64   `json:"offered"`
	Answered     int64   `json:"answered"`
	Abandoned    int64   `json:"abandoned"`
	PW           float64 `json:"pw"`
	ASA          float64 `json:"asa_s"`
	ServiceLevel float64 `json:"service_level"`
	AbandonRate  float64 `json:"abandon_rate"`
	Events       int64   `json:"events"`     // events popped from the heap, stale abandonments included
	SimTime      float64 `json:"sim_time_s"` // virtual time at which the last event ran
	Wall         float64 `json:"wall_s"`
}

// simulate runs the model to completion and returns its KPIs.
func simulate(p params) result {
	start := time.Now()
	rng := rand.New(rand.NewPCG(p.seed, 0x9e3779b97f4a7c15))
	meanGap := 3600 / p.perHour

	var (
		events eventHeap
		seq    uint64
		now    float64
		busy   int
		queue  []*customer // FIFO; may hold customers who already abandoned
		nWait  int         // customers in queue still waiting

		r          result
		waited     int64   // offered customers whose wait was > 0
		waitSum    float64 // total wait of answered customers
		withinSL   int64   // answered within the SL target
		arrivalsTo = p.contacts
	)
	schedule := func(t float64, kind uint8, c *customer) {
		seq++
		heap.Push(&events, event{t: t, seq: seq, kind: kind, c: c})
	}
	startService := func(wait float64) {
		busy++
		r.Answered++
		waitSum += wait
		if wait <= p.slTarget {
			withinSL++
		}
		schedule(now+rng.ExpFloat64()*p.handleMean, evServiceEnd, nil)
	}

	if arrivalsTo > 0 {
		schedule(rng.ExpFloat64()*meanGap, evArrival, nil)
	}
	for events.Len() > 0 {
		e := heap.Pop(&events).(event)
		now = e.t
		r.Events++
		switch e.kind {
		case evArrival:
			r.Offered++
			if r.Offered < int64(arrivalsTo) {
				schedule(now+rng.ExpFloat64()*meanGap, evArrival, nil)
			}
			if busy < p.agents {
				startService(0)
				break
			}
			c := &customer{arrival: now, waiting: true}
			queue = append(queue, c)
			nWait++
			waited++
			if p.patienceMean > 0 {
				schedule(now+rng.ExpFloat64()*p.patienceMean, evAbandon, c)
			}
		case evServiceEnd:
			busy--
			for nWait > 0 {
				c := queue[0]
				queue[0] = nil
				queue = queue[1:]
				if !c.waiting {
					continue // abandoned while in the queue
				}
				c.waiting = false
				nWait--
				startService(now - c.arrival)
				break
			}
			if nWait == 0 {
				clear(queue) // only abandoned customers are left: drop them
				queue = queue[:0]
			}
		case evAbandon:
			if e.c.waiting { // otherwise it was answered first: stale event
				e.c.waiting = false
				nWait--
				r.Abandoned++
			}
		}
	}

	r.SimTime = now
	if r.Offered > 0 {
		off := float64(r.Offered)
		r.PW = float64(waited) / off
		r.ServiceLevel = float64(withinSL) / off
		r.AbandonRate = float64(r.Abandoned) / off
	}
	if r.Answered > 0 {
		r.ASA = waitSum / float64(r.Answered)
	}
	r.Wall = time.Since(start).Seconds()
	return r
}

func main() {
	var p params
	flag.IntVar(&p.agents, "agents", 100, "number of agents (servers)")
	flag.Float64Var(&p.perHour, "per-hour", 1440, "Poisson arrivals per hour")
	flag.Float64Var(&p.handleMean, "handle-mean", 240, "mean handle time, seconds (exponential)")
	flag.Float64Var(&p.patienceMean, "patience-mean", 120, "mean patience, seconds (exponential); 0 = no abandonment")
	flag.Float64Var(&p.slTarget, "sl-target", 20, "service-level target, seconds")
	flag.IntVar(&p.contacts, "contacts", 2000000, "number of arrivals to generate before draining")
	flag.Uint64Var(&p.seed, "seed", 1, "random seed")
	flag.Parse()
	if p.agents < 1 || p.perHour <= 0 || p.handleMean <= 0 || p.patienceMean < 0 || p.contacts < 0 {
		fmt.Fprintln(os.Stderr, "bare: need -agents >= 1, -per-hour > 0, -handle-mean > 0, -patience-mean >= 0, -contacts >= 0")
		os.Exit(2)
	}

	out, err := json.Marshal(simulate(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
