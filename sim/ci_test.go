package sim

import (
	"math"
	"testing"
)

func TestTQuantile975Table(t *testing.T) {
	// The three-decimal values printed in statistics tables.
	printed := []float64{
		12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
	}
	for i, want := range printed {
		df := i + 1
		got := TQuantile975(df)
		checkClose(t, "printed table", got, want, 5e-4+1e-12)
		checkClose(t, "numeric quantile", got, tQuantileNumeric(df, 0.975), 6e-7)
	}
	// df = 1 is the Cauchy distribution: tan(0.475*pi).
	checkClose(t, "Cauchy", TQuantile975(1), math.Tan(0.475*math.Pi), 6e-7)
}

func TestTQuantile975Large(t *testing.T) {
	tests := []struct {
		df   int
		want float64
	}{
		{31, 2.040},
		{40, 2.021},
		{60, 2.000},
		{120, 1.980},
		{1000, 1.962},
		{1 << 30, 1.960},
	}
	for _, tt := range tests {
		got := TQuantile975(tt.df)
		checkClose(t, "printed table", got, tt.want, 1e-3)
	}
	// The expansion takes over from the table without a visible seam.
	for df := 31; df <= 200; df += 7 {
		checkClose(t, "numeric quantile", TQuantile975(df), tQuantileNumeric(df, 0.975), 5e-6)
	}
}

func TestTQuantile975Invalid(t *testing.T) {
	for _, df := range []int{0, -1} {
		if got := TQuantile975(df); !math.IsNaN(got) {
			t.Errorf("TQuantile975(%d) = %g, want NaN", df, got)
		}
	}
}

// tQuantileNumeric finds the p quantile (p > 0.5) of Student's t with df degrees of
// freedom by bisection on the density integrated with Simpson's rule.
func tQuantileNumeric(df int, p float64) float64 {
	v := float64(df)
	lg1, _ := math.Lgamma((v + 1) / 2)
	lg2, _ := math.Lgamma(v / 2)
	c := math.Exp(lg1 - lg2 - 0.5*math.Log(v*math.Pi))
	density := func(x float64) float64 { return c * math.Pow(1+x*x/v, -(v+1)/2) }
	lo, hi := 0.0, 20.0
	for range 40 {
		mid := (lo + hi) / 2
		if 0.5+simpson(density, 0, mid, 2000) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

func TestMeanCI95(t *testing.T) {
	tests := []struct {
		name     string
		xs       []float64
		mean     float64
		half     float64
		meanNaN  bool
		tolerate float64
	}{
		{name: "empty", xs: nil, meanNaN: true},
		{name: "one", xs: []float64{4.2}, mean: 4.2},
		{name: "two", xs: []float64{1, 3}, mean: 2, half: 12.706205},
		{name: "five", xs: []float64{1, 2, 3, 4, 5}, mean: 3, half: 2.776445 * math.Sqrt(2.5/5)},
		{name: "constant", xs: []float64{7, 7, 7, 7}, mean: 7},
		// A large common offset wrecks the one-pass sum-of-squares formula; the two-pass
		// variance is unaffected.
		{name: "offset", xs: []float64{1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4, 1e9 + 5}, mean: 1e9 + 3, half: 2.776445 * math.Sqrt(2.5/5), tolerate: 1e-6},
		{name: "forty", xs: ramp(40), mean: 19.5, half: TQuantile975(39) * math.Sqrt(40*41/12.0/40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mean, half := MeanCI95(tt.xs)
			if tt.meanNaN {
				if !math.IsNaN(mean) {
					t.Errorf("mean = %g, want NaN", mean)
				}
			} else {
				checkClose(t, "mean", mean, tt.mean, 1e-12*max(1, math.Abs(tt.mean)))
			}
			checkClose(t, "half", half, tt.half, max(tt.tolerate, 1e-12))
		})
	}
}

// ramp returns 0, 1, ..., n-1, whose sample variance is n(n+1)/12.
func ramp(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	return xs
}
