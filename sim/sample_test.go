package sim

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ccswitch/ccswitch/internal/config"
)

// ksCritical is the Kolmogorov–Smirnov statistic's critical value at the
// 0.1% level for n draws (sqrt(-ln(0.0005)/2) / sqrt(n)).
func ksCritical(n float64) float64 { return math.Sqrt(-math.Log(0.0005)/2) / math.Sqrt(n) }

// ksDistance is the one-sample Kolmogorov–Smirnov statistic of the sorted
// sample xs against the CDF cdf.
func ksDistance(xs []float64, cdf func(float64) float64) float64 {
	n := float64(len(xs))
	var d float64
	for i, x := range xs {
		f := cdf(x)
		d = max(d, float64(i+1)/n-f, f-float64(i)/n)
	}
	return d
}

// draw returns n draws of s in seconds, sorted.
func draw(s sampler, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = s().Seconds()
	}
	slices.Sort(xs)
	return xs
}

func dur(s float64) config.Duration { return config.Duration(s * float64(time.Second)) }

// TestSamplersMoments draws every handle-time distribution many times and
// holds its sample mean and standard deviation to the configured ones.
func TestSamplersMoments(t *testing.T) {
	const n = 200_000
	cases := []struct {
		name     string
		d        config.Distribution
		mean, sd float64
	}{
		{"exponential", config.Distribution{Exponential: &config.Exponential{Mean: dur(240)}}, 240, 240},
		{"constant", config.Distribution{Constant: &config.Constant{Value: dur(90)}}, 90, 0},
		{"lognormal", config.Distribution{LogNormal: &config.LogNormal{Mean: dur(300), SD: dur(150)}}, 300, 150},
		{"gamma", config.Distribution{Gamma: &config.Gamma{Mean: dur(200), SD: dur(400)}}, 200, 400},
		{"erlang-3", config.Distribution{Erlang: &config.Erlang{Mean: dur(180), K: 3}}, 180, 180 / math.Sqrt(3)},
		{"empirical", config.Distribution{Empirical: &config.Empirical{Values: []config.Duration{dur(60), dur(120), dur(420)}}},
			200, math.Sqrt((140*140 + 80*80 + 220*220) / 3.0)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xs := draw(newSampler(&c.d, newSource(uint64(i+1))), n)
			mean, sd := stat.MeanStdDev(xs, nil)
			if tol := 4*c.sd/math.Sqrt(n) + 1e-9; math.Abs(mean-c.mean) > tol {
				t.Errorf("mean %.3f, want %.3f ± %.3f", mean, c.mean, tol)
			}
			if tol := 0.03*c.sd + 1e-9; math.Abs(sd-c.sd) > tol {
				t.Errorf("sd %.3f, want %.3f ± %.3f", sd, c.sd, tol)
			}
			t.Logf("mean %.3f (want %.3f), sd %.3f (want %.3f)", mean, c.mean, sd, c.sd)
		})
	}
}

// TestSamplersKolmogorovSmirnov holds each continuous sampler to its
// distribution's CDF, and checks that the test would catch the wrong
// distribution of the same mean and standard deviation.
func TestSamplersKolmogorovSmirnov(t *testing.T) {
	const n = 20_000
	lnMu, lnSigma := func(mean, sd float64) (float64, float64) {
		s2 := math.Log(1 + sd*sd/(mean*mean))
		return math.Log(mean) - s2/2, math.Sqrt(s2)
	}(300, 150)
	gammaCDF := func(mean, sd float64) func(float64) float64 {
		return distuv.Gamma{Alpha: mean * mean / (sd * sd), Beta: mean / (sd * sd)}.CDF
	}
	cases := []struct {
		name        string
		d           config.Distribution
		cdf, impost func(float64) float64 // the distribution, and another of the same mean and sd
	}{
		{"exponential", config.Distribution{Exponential: &config.Exponential{Mean: dur(240)}},
			func(x float64) float64 { return 1 - math.Exp(-x/240) },
			distuv.LogNormal{Mu: math.Log(240) - math.Log(2)/2, Sigma: math.Sqrt(math.Log(2))}.CDF},
		{"lognormal", config.Distribution{LogNormal: &config.LogNormal{Mean: dur(300), SD: dur(150)}},
			distuv.LogNormal{Mu: lnMu, Sigma: lnSigma}.CDF, gammaCDF(300, 150)},
		{"gamma", config.Distribution{Gamma: &config.Gamma{Mean: dur(200), SD: dur(100)}},
			gammaCDF(200, 100), distuv.LogNormal{Mu: math.Log(200) - math.Log(1.25)/2, Sigma: math.Sqrt(math.Log(1.25))}.CDF},
		{"erlang-4", config.Distribution{Erlang: &config.Erlang{Mean: dur(180), K: 4}},
			// The Erlang CDF, by its own series.
			func(x float64) float64 {
				l := 4 / 180.0 * x
				sum, term := 0.0, 1.0
				for k := range 4 {
					if k > 0 {
						term *= l / float64(k)
					}
					sum += term
				}
				return 1 - math.Exp(-l)*sum
			},
			distuv.Normal{Mu: 180, Sigma: 90}.CDF},
	}
	crit := ksCritical(n)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xs := draw(newSampler(&c.d, newSource(uint64(100+i))), n)
			d := ksDistance(xs, c.cdf)
			if d > crit {
				t.Errorf("KS distance %.5f > critical %.5f", d, crit)
			}
			if di := ksDistance(xs, c.impost); di <= crit {
				t.Errorf("KS cannot tell it from another distribution of the same moments: %.5f <= %.5f", di, crit)
			}
			t.Logf("KS %.5f (critical %.5f)", d, crit)
		})
	}

	// Empirical: the draws against the data they resample (two-sample
	// KS from gonum/stat), and against a shifted copy.
	t.Run("empirical", func(t *testing.T) {
		data := draw(newSampler(&config.Distribution{LogNormal: &config.LogNormal{Mean: dur(300), SD: dur(200)}}, newSource(7)), 2000)
		values := make([]config.Duration, len(data))
		for i, v := range data {
			values[i] = dur(v)
		}
		xs := draw(newSampler(&config.Distribution{Empirical: &config.Empirical{Values: values}}, newSource(8)), n)
		d := stat.KolmogorovSmirnov(xs, nil, data, nil)
		crit2 := ksCritical(1 / (1/float64(n) + 1/float64(len(data))))
		if d > crit2 {
			t.Errorf("KS distance %.5f > critical %.5f", d, crit2)
		}
		shifted := make([]float64, len(data))
		for i, v := range data {
			shifted[i] = v * 1.1
		}
		if ds := stat.KolmogorovSmirnov(xs, nil, shifted, nil); ds <= crit2 {
			t.Errorf("KS cannot tell the data from the data 10%% longer: %.5f <= %.5f", ds, crit2)
		}
		t.Logf("KS %.5f (critical %.5f)", d, crit2)
	})
}

// TestSamplersAreDeterministic: the same seed draws the same values.
func TestSamplersAreDeterministic(t *testing.T) {
	d := config.Distribution{Gamma: &config.Gamma{Mean: dur(200), SD: dur(100)}}
	a, b := draw(newSampler(&d, newSource(3)), 100), draw(newSampler(&d, newSource(3)), 100)
	c := draw(newSampler(&d, newSource(4)), 100)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatal("draws do not depend on the seed alone")
	}
}

// TestForecastArrivalsPerInterval runs a day's forecast for many days and
// holds the arrivals in each interval to the forecast: every interval's
// count within 4 standard deviations of its Poisson mean, and the whole
// day's chi-square within its 0.1% critical value.
func TestForecastArrivalsPerInterval(t *testing.T) {
	const days = 200
	fc := &config.Forecast{Interval: config.Duration(30 * time.Minute)}
	rates := []float64{0, 60, 240, 480, 600, 360, 120, 30, 0, 90}
	for k, r := range rates {
		fc.Intervals = append(fc.Intervals, config.ForecastInterval{
			Start: config.TimeOfDay(8*time.Hour + time.Duration(k)*30*time.Minute), PerHour: r})
	}
	p := newArrivalProcess(&config.Arrivals{Forecast: fc}, newSource(5))
	counts := make([]float64, len(rates))
	outside := 0
	end := days * day
	for at, ok := p.next(0, end); ok; at, ok = p.next(at, end) {
		tod := at % day
		k := int((tod - 8*time.Hour) / (30 * time.Minute))
		if tod < 8*time.Hour || k >= len(rates) {
			outside++
			continue
		}
		counts[k]++
	}
	if outside > 0 {
		t.Errorf("%d arrivals outside the forecast's hours", outside)
	}
	var chi2 float64
	for k, r := range rates {
		want := r / 2 * days
		if want == 0 {
			if counts[k] != 0 {
				t.Errorf("interval %d: %v arrivals, want none", k, counts[k])
			}
			continue
		}
		if z := (counts[k] - want) / math.Sqrt(want); math.Abs(z) > 4 {
			t.Errorf("interval %d: %v arrivals, want %v (z = %.2f)", k, counts[k], want, z)
		}
		chi2 += (counts[k] - want) * (counts[k] - want) / want
	}
	// Eight intervals with a rate, whose expected counts are given (not
	// fitted): 8 degrees of freedom, 0.1% critical value 26.12.
	if chi2 > 26.12 {
		t.Errorf("chi-square %.2f > 26.12 over the intervals", chi2)
	}
	t.Logf("counts %v, chi-square %.2f", counts, chi2)
}

// TestOverdispersedDailyVolume: with a daily gamma factor of coefficient
// of variation cv, a day's count has variance mean + (cv × mean)², where
// plain Poisson has variance mean.
func TestOverdispersedDailyVolume(t *testing.T) {
	const days, perHour, cv = 2000, 100.0, 0.2
	for _, withFactor := range []bool{false, true} {
		a := &config.Arrivals{Poisson: &config.Poisson{PerHour: perHour}}
		if withFactor {
			a.Overdispersion = &config.Overdispersion{CV: cv}
		}
		p := newArrivalProcess(a, newSource(9))
		daily := make([]float64, days)
		end := days * day
		for at, ok := p.next(0, end); ok; at, ok = p.next(at, end) {
			daily[at/day]++
		}
		mean, variance := stat.MeanVariance(daily, nil)
		wantMean, wantVar := perHour*24, perHour*24.0
		if withFactor {
			wantVar += cv * cv * wantMean * wantMean
		}
		// The sample variance of days draws is within about 4 × its
		// standard error (relative sqrt(2/days) for near-normal counts,
		// more for the gamma's skew: allow 25%).
		if math.Abs(mean-wantMean) > 4*math.Sqrt(wantVar/days) || math.Abs(variance-wantVar) > 0.25*wantVar {
			t.Errorf("overdispersion %v: daily mean %.1f variance %.1f, want %.1f and %.1f", withFactor, mean, variance, wantMean, wantVar)
		}
		t.Logf("overdispersion %v: daily mean %.1f variance %.1f (want %.1f, %.1f)", withFactor, mean, variance, wantMean, wantVar)
	}
}

func ExampleHalfWidth() {
	fmt.Println(withCI(0.8, HalfWidth(0.01), 2), withCI(0.8, HalfWidth(math.NaN()), 2))
	// Output: 0.80 ±0.01 0.80 ±n/a
}
