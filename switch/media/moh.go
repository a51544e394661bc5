package media

import "math"

const (
	musicOnHoldName = "music-on-hold"
	musicBars       = 4
	musicBarLen     = 2 * ClockRate // samples per bar: 4 beats at 120 bpm
	musicLoopLen    = musicBars * musicBarLen
	musicPeak       = 0.45 * 32767 // about -7 dBFS peak: comfortable, never clipping
)

// musicChords is the loop's harmony, one chord per bar: C, Am, F, G
// (I–vi–IV–V), each as MIDI note numbers of its arpeggio, eight eighth notes
// per bar, and of its sustained pad.
var musicChords = [musicBars]struct {
	arpeggio [8]int
	pad      [3]int
}{
	{[8]int{60, 64, 67, 72, 76, 72, 67, 64}, [3]int{55, 60, 64}},
	{[8]int{57, 60, 64, 69, 72, 69, 64, 60}, [3]int{57, 60, 64}},
	{[8]int{53, 57, 60, 65, 69, 65, 60, 57}, [3]int{57, 60, 65}},
	{[8]int{55, 59, 62, 67, 71, 67, 62, 59}, [3]int{55, 59, 62}},
}

// synthesizeMusic renders the music-on-hold loop as µ-law: 8 s of a soft,
// piano-like arpeggio over a quiet sustained pad. Notes that ring past the
// end of the loop wrap around to its start, so the loop repeats without a
// seam. It is pure arithmetic and gives the same bytes on every run.
func synthesizeMusic() []byte {
	mix := make([]float64, musicLoopLen)
	eighth := musicBarLen / 8
	for bar, chord := range musicChords {
		start := bar * musicBarLen
		for i, note := range chord.arpeggio {
			pluck(mix, start+i*eighth, 3*eighth, midiFreq(note), 1.0)
		}
		for _, note := range chord.pad {
			swell(mix, start, musicBarLen, midiFreq(note), 0.18)
		}
	}

	peak := 0.0
	for _, v := range mix {
		peak = max(peak, math.Abs(v))
	}
	out := make([]byte, musicLoopLen)
	for i, v := range mix {
		out[i] = EncodeULaw(int16(math.Round(v / peak * musicPeak)))
	}
	return out
}

// midiFreq returns the frequency of MIDI note n in equal temperament (A4 = 69
// = 440 Hz).
func midiFreq(n int) float64 { return 440 * math.Pow(2, float64(n-69)/12) }

// pluck adds a struck note to mix at sample start, lasting length samples:
// a fundamental with two soft harmonics that fade faster than it does,
// a 10 ms raised-cosine attack, an exponential decay, and a 30 ms fade-out so
// the note ends at zero.
func pluck(mix []float64, start, length int, freq, gain float64) {
	const attack, fade = ClockRate / 100, 3 * ClockRate / 100
	for i := range length {
		t := float64(i) / ClockRate
		env := gain * math.Exp(-t/0.35)
		if i < attack {
			env *= 0.5 - 0.5*math.Cos(math.Pi*float64(i)/attack)
		}
		if rest := length - i; rest < fade {
			env *= float64(rest) / fade
		}
		w := 2 * math.Pi * freq * t
		v := math.Sin(w) + 0.3*math.Exp(-t/0.15)*math.Sin(2*w) + 0.1*math.Exp(-t/0.08)*math.Sin(3*w)
		mix[(start+i)%len(mix)] += env * v
	}
}

// swell adds a sustained sine note to mix: it fades in and out over 300 ms
// with raised-cosine ramps, a soft pad under the arpeggio.
func swell(mix []float64, start, length int, freq, gain float64) {
	const ramp = 3 * ClockRate / 10
	for i := range length {
		env := gain
		if i < ramp {
			env *= 0.5 - 0.5*math.Cos(math.Pi*float64(i)/ramp)
		} else if rest := length - i; rest < ramp {
			env *= 0.5 - 0.5*math.Cos(math.Pi*float64(rest)/ramp)
		}
		t := float64(i) / ClockRate
		mix[(start+i)%len(mix)] += env * math.Sin(2*math.Pi*freq*t)
	}
}
