package cti

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkRequestRoundTrip measures RequestAgentReady / RequestAgentNotReady
// round trips of one desktop over a loopback WebSocket, each with the
// event it causes, and reports the latency percentiles of one request. The
// baseline is the same pair posted straight to the loop (loop.Do, no
// network, no JSON), measured in the same run; x-loop-p50 is the ratio.
func BenchmarkRequestRoundTrip(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	c := e.agent("a1", "pw1", false)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if err := c.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := c.NotReady(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, t1.Sub(t0), time.Since(t1))
		if i++; i%1024 == 0 {
			c.Discard()
		}
	}
	b.StopTimer()
	n := min(len(lat)/2, 20000)
	base := make([]time.Duration, 0, 2*n)
	for range n {
		t0 := time.Now()
		e.do(func() { _ = e.ts.AgentReady("a1") })
		t1 := time.Now()
		e.do(func() { _ = e.ts.AgentNotReady("a1", "bench") })
		base = append(base, t1.Sub(t0), time.Since(t1))
	}
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b50 := percentile(base, 50)
	b.ReportMetric(us(p50), "p50-µs")
	b.ReportMetric(us(p99), "p99-µs")
	b.ReportMetric(us(b50), "loop-p50-µs")
	b.ReportMetric(us(percentile(base, 99)), "loop-p99-µs")
	if b50 > 0 {
		b.ReportMetric(float64(p50)/float64(b50), "x-loop-p50")
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
