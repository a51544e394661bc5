package sim

import "math"

// t975 holds the 0.975 quantile of Student's t for df = 1..30 (index df-1), to six
// decimals.
var t975 = [...]float64{
	12.706205, 4.302653, 3.182446, 2.776445, 2.570582,
	2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
	2.200985, 2.178813, 2.160369, 2.144787, 2.131450,
	2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
	2.079614, 2.073873, 2.068658, 2.063899, 2.059539,
	2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
}

// z975 is the 0.975 quantile of the standard normal distribution.
const z975 = 1.959963984540054

// TQuantile975 returns the 0.975 quantile of Student's t with df degrees of freedom,
// the multiplier of a two-sided 95% confidence interval. It is exact to six decimals
// for df <= 30; beyond, a Cornish-Fisher expansion around the normal quantile is good
// to within 2e-6. It returns NaN when df < 1.
func TQuantile975(df int) float64 {
	switch {
	case df < 1:
		return math.NaN()
	case df <= len(t975):
		return t975[df-1]
	}
	z, v := z975, float64(df)
	z2 := z * z
	return z +
		z*(z2+1)/(4*v) +
		z*((5*z2+16)*z2+3)/(96*v*v) +
		z*(((3*z2+19)*z2+17)*z2-15)/(384*v*v*v)
}

// MeanCI95 returns the sample mean of xs and the half-width of its two-sided 95% confidence interval
// (Student t with len(xs)-1 degrees of freedom); half is 0 when len(xs) < 2.
// The mean of an empty slice is NaN.
func MeanCI95(xs []float64) (mean, half float64) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean = sum / float64(n)
	if n < 2 {
		return mean, 0
	}
	// Two-pass variance with the compensating term of the corrected two-pass algorithm
	// (Chan, Golub and LeVeque), which cancels the rounding error left in the mean.
	var ss, comp float64
	for _, x := range xs {
		d := x - mean
		ss += d * d
		comp += d
	}
	variance := (ss - comp*comp/float64(n)) / float64(n-1)
	variance = max(variance, 0)
	half = TQuantile975(n-1) * math.Sqrt(variance/float64(n))
	return mean, half
}
