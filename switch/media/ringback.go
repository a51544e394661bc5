package media

import (
	"math"
	"sync"
)

// Ringback is the tone a caller hears while the far end rings (ITU-T E.180,
// North American cadence): 440 + 480 Hz, 2 s on, 4 s off, one 6 s cycle to
// loop. An agent whose callback dials the customer hears it.
func Ringback() Prompt {
	ringbackOnce.Do(func() { ringback = NewPrompt("ringback", synthesizeRingback()) })
	return ringback
}

var (
	ringbackOnce sync.Once
	ringback     Prompt
)

func synthesizeRingback() []byte {
	const on, cycle = 2 * ClockRate, 6 * ClockRate
	out := make([]byte, cycle)
	for i := range out {
		if i >= on {
			out[i] = ULawSilence
			continue
		}
		t := float64(i) / ClockRate
		// Each tone at -19 dBm0-ish: together well below clipping.
		v := 0.12 * 32767 * (math.Sin(2*math.Pi*440*t) + math.Sin(2*math.Pi*480*t))
		out[i] = EncodeULaw(int16(v))
	}
	return out
}
