package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ccswitch/ccswitch/internal/config"
)

// sampler draws a duration from one replication's random stream.
type sampler func() time.Duration

// maxSample bounds a drawn duration (a heavy tail must not overflow a
// time.Duration): a hundred years is as good as never.
const maxSample = 100 * 365 * 24 * time.Hour

// toDuration converts a number of seconds to a duration, within
// [0, maxSample].
func toDuration(seconds float64) time.Duration {
	ns := seconds * float64(time.Second)
	switch {
	case !(ns > 0):
		return 0
	case ns >= float64(maxSample):
		return maxSample
	}
	return time.Duration(ns)
}

// newSampler returns a sampler of d drawing from src (nil for a nil d).
// Every draw comes from src, so a replication's results depend only on its
// seed.
func newSampler(d *config.Distribution, src rand.Source) sampler {
	rng := rand.New(src)
	switch {
	case d == nil:
		return nil
	case d.Exponential != nil:
		// Drawn as distuv.Exponential does (ExpFloat64 / rate), without
		// its rand.New per draw: this is the simulator's hot path.
		mean := float64(d.Exponential.Mean.D())
		return func() time.Duration { return time.Duration(min(rng.ExpFloat64()*mean, float64(maxSample))) }
	case d.Constant != nil:
		v := d.Constant.Value.D()
		return func() time.Duration { return v }
	case d.LogNormal != nil:
		mean, sd := d.LogNormal.Mean.D().Seconds(), d.LogNormal.SD.D().Seconds()
		sigma2 := math.Log1p(sd * sd / (mean * mean))
		ln := distuv.LogNormal{Mu: math.Log(mean) - sigma2/2, Sigma: math.Sqrt(sigma2), Src: src}
		return func() time.Duration { return toDuration(ln.Rand()) }
	case d.Gamma != nil:
		mean, sd := d.Gamma.Mean.D().Seconds(), d.Gamma.SD.D().Seconds()
		g := distuv.Gamma{Alpha: mean * mean / (sd * sd), Beta: mean / (sd * sd), Src: src}
		return func() time.Duration { return toDuration(g.Rand()) }
	case d.Erlang != nil:
		k, mean := float64(d.Erlang.K), d.Erlang.Mean.D().Seconds()
		g := distuv.Gamma{Alpha: k, Beta: k / mean, Src: src}
		return func() time.Duration { return toDuration(g.Rand()) }
	case d.Empirical != nil:
		values := d.Empirical.Values
		return func() time.Duration { return values[rng.IntN(len(values))].D() }
	}
	return nil
}

// arrivalProcess generates one traffic line's arrival times: a Poisson
// process of constant rate, or a forecast's nonhomogeneous Poisson process
// drawn by thinning; either optionally scaled each day by a random factor.
type arrivalProcess struct {
	rng *rand.Rand
	// meanGap is the mean time between arrivals of a constant rate, in
	// seconds (0 for a forecast).
	meanGap float64
	// peak is the highest rate, per second.
	peak float64
	// rates are a forecast's rates per second, interval by interval from
	// first; nil for a constant rate.
	rates           []float64
	first, interval time.Duration
	// dailyFactor draws a day's factor; nil: always 1.
	dailyFactor func() float64
	day         int64
	factor      float64
}

func newArrivalProcess(a *config.Arrivals, src rand.Source) *arrivalProcess {
	p := &arrivalProcess{rng: rand.New(src), day: -1, factor: 1}
	if o := a.Overdispersion; o != nil {
		shape := 1 / (o.CV * o.CV)
		g := distuv.Gamma{Alpha: shape, Beta: shape, Src: src}
		p.dailyFactor = g.Rand
	}
	if a.Poisson != nil {
		p.meanGap = 3600 / a.Poisson.PerHour
		p.peak = a.Poisson.PerHour / 3600
		return p
	}
	fc := a.Forecast
	p.interval = fc.Interval.D()
	p.first = fc.Intervals[0].Start.D()
	for _, r := range fc.Intervals {
		rate := r.PerHour / 3600
		p.rates = append(p.rates, rate)
		p.peak = max(p.peak, rate)
	}
	return p
}

// rateAt returns the rate per second (before the daily factor) at t, an
// offset from the run's start at 00:00.
func (p *arrivalProcess) rateAt(t time.Duration) float64 {
	if p.rates == nil {
		return p.peak
	}
	tod := t % day
	if tod < p.first {
		return 0
	}
	i := (tod - p.first) / p.interval
	if i >= time.Duration(len(p.rates)) {
		return 0
	}
	return p.rates[i]
}

// meanRate returns the mean rate per second over [from, to), with the
// daily factor's mean of 1.
func (p *arrivalProcess) meanRate(from, to time.Duration) float64 {
	if p.rates == nil || to <= from {
		return p.peak
	}
	var sum float64
	step := p.interval
	for t := from - from%step; t < to; t += step {
		lo, hi := max(t, from), min(t+step, to)
		sum += p.rateAt(t) * (hi - lo).Seconds()
	}
	return sum / (to - from).Seconds()
}

const day = 24 * time.Hour

// next returns the first arrival after t, and false when there is none up
// to end.
func (p *arrivalProcess) next(t, end time.Duration) (time.Duration, bool) {
	if p.rates == nil && p.dailyFactor == nil {
		t += time.Duration(p.rng.ExpFloat64() * p.meanGap * float64(time.Second))
		return t, t <= end
	}
	for t <= end {
		d := int64(t / day)
		if d != p.day {
			p.day = d
			if p.dailyFactor != nil {
				p.factor = p.dailyFactor()
			}
		}
		bound := p.peak * p.factor
		dayEnd := time.Duration(d+1) * day
		if !(bound > 0) {
			t = dayEnd
			continue
		}
		// The exponential is memoryless: a candidate past the day's
		// end starts over from there, under the next day's bound.
		gap := p.rng.ExpFloat64() / bound * float64(time.Second)
		if gap >= float64(dayEnd-t) {
			t = dayEnd
			continue
		}
		t += time.Duration(gap)
		if p.rates == nil || p.rng.Float64()*p.peak < p.rateAt(t) {
			return t, t <= end
		}
	}
	return t, false
}
