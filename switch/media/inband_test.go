package media

import (
	"math"
	"math/rand/v2"
	"testing"
)

// keyFreqs returns the low and high frequency of a key.
func keyFreqs(t testing.TB, key rune) (lo, hi float64) {
	t.Helper()
	for r, row := range dtmfKeys {
		for c, k := range row {
			if k == key {
				return dtmfRows[r], dtmfCols[c]
			}
		}
	}
	t.Fatalf("no key %q", key)
	return 0, 0
}

// amplitude returns the peak amplitude (of full scale 1) of a sine at
// level dBm0.
func amplitude(dBm0 float64) float64 { return math.Pow(10, (dBm0-fullScaleDBm0)/20) }

// signal is linear audio at 8 kHz, samples in [-1, 1].
type signal []float64

// tones appends ms milliseconds of the sum of sines (frequency, level in
// dBm0) to s.
func (s signal) tones(ms int, freqs ...[2]float64) signal {
	n := ms * ClockRate / 1000
	start := len(s)
	for i := range n {
		v := 0.0
		for _, f := range freqs {
			v += amplitude(f[1]) * math.Sin(2*math.Pi*f[0]*float64(start+i)/ClockRate)
		}
		s = append(s, v)
	}
	return s
}

// silence appends ms milliseconds of silence.
func (s signal) silence(ms int) signal { return append(s, make(signal, ms*ClockRate/1000)...) }

// key appends a press of key lasting ms, each tone at level dBm0, the
// high tone twist dB above the low one.
func (s signal) key(t testing.TB, key rune, ms int, level, twist float64) signal {
	lo, hi := keyFreqs(t, key)
	return s.tones(ms, [2]float64{lo, level}, [2]float64{hi, level + twist})
}

// encode returns s in codec.
func (s signal) encode(codec Codec) []byte {
	b := make([]byte, len(s))
	for i, v := range s {
		x := int16(max(-32768, min(32767, math.Round(v*32768))))
		if codec == PCMA {
			b[i] = EncodeALaw(x)
		} else {
			b[i] = EncodeULaw(x)
		}
	}
	return b
}

// detect feeds audio to a new detector in 20 ms payloads and returns the
// keys found.
func detect(codec Codec, audio []byte) string {
	d := NewDTMFDetector(codec)
	var got []rune
	for len(audio) > 0 {
		n := min(FrameSize, len(audio))
		got = d.Detect(got, audio[:n])
		audio = audio[n:]
	}
	return string(got)
}

var codecs = []Codec{PCMU, PCMA}

func TestDTMFDetectorEveryKey(t *testing.T) {
	const keys = "123A456B789C*0#D"
	for _, codec := range codecs {
		var s signal
		for _, k := range keys {
			s = s.key(t, k, 70, -10, 0).silence(70)
		}
		if got := detect(codec, s.encode(codec)); got != keys {
			t.Errorf("%v: got %q, want %q", codec, got, keys)
		}
	}
}

func TestDTMFDetectorLimits(t *testing.T) {
	tests := []struct {
		name string
		s    func(t *testing.T) signal
		want string
	}{
		{"loud", func(t *testing.T) signal { return signal{}.key(t, '5', 100, -3, 0) }, "5"},
		{"weak, -30 dBm0", func(t *testing.T) signal { return signal{}.key(t, '5', 100, -30, 0) }, "5"},
		{"too weak, -40 dBm0", func(t *testing.T) signal { return signal{}.key(t, '5', 100, -40, 0) }, ""},
		{"normal twist 6 dB", func(t *testing.T) signal { return signal{}.key(t, '1', 100, -10, -6) }, "1"},
		{"reverse twist 3 dB", func(t *testing.T) signal { return signal{}.key(t, '1', 100, -10, 3) }, "1"},
		{"normal twist 12 dB", func(t *testing.T) signal { return signal{}.key(t, '1', 100, -5, -12) }, ""},
		{"reverse twist 8 dB", func(t *testing.T) signal { return signal{}.key(t, '1', 100, -15, 8) }, ""},
		{"frequencies 1.5% off", func(t *testing.T) signal {
			return signal{}.tones(100, [2]float64{852 * 1.015, -10}, [2]float64{1477 * 0.985, -10})
		}, "9"},
		{"20 ms: too short", func(t *testing.T) signal { return signal{}.silence(7).key(t, '3', 20, -10, 0).silence(50) }, ""},
		{"two presses 40 ms apart", func(t *testing.T) signal {
			return signal{}.key(t, '7', 50, -10, 0).silence(40).key(t, '7', 50, -10, 0)
		}, "77"},
		{"held for two seconds", func(t *testing.T) signal { return signal{}.key(t, '#', 2000, -10, 0) }, "#"},
		{"one key straight after another", func(t *testing.T) signal {
			return signal{}.key(t, '1', 100, -10, 0).key(t, '2', 100, -10, 0)
		}, "12"},
	}
	for _, codec := range codecs {
		for _, tt := range tests {
			if got := detect(codec, tt.s(t).encode(codec)); got != tt.want {
				t.Errorf("%v, %s: got %q, want %q", codec, tt.name, got, tt.want)
			}
		}
	}
}

// A 40 ms press is found wherever it falls across the detector's blocks.
func TestDTMFDetector40msAtEveryOffset(t *testing.T) {
	for _, codec := range codecs {
		for offset := range dtmfBlock {
			s := signal{}.silence(20)[:offset].key(t, '0', 40, -20, 0).silence(40)
			if got := detect(codec, s.encode(codec)); got != "0" {
				t.Errorf("%v: offset %d: got %q, want \"0\"", codec, offset, got)
			}
		}
	}
}

// noise appends ms milliseconds of white noise with RMS at level dBm0.
func (s signal) noise(rng *rand.Rand, ms int, level float64) signal {
	rms := amplitude(level) / math.Sqrt2
	for range ms * ClockRate / 1000 {
		s = append(s, rng.NormFloat64()*rms)
	}
	return s
}

func TestDTMFDetectorIgnoresNoiseMusicAndSpeech(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]signal{}
	var noise signal
	for _, level := range []float64{-50, -40, -30, -20, -10, -3} {
		noise = noise.noise(rng, 3000, level)
	}
	cases["white noise, -50 to -3 dBm0"] = noise
	// Single tones: each DTMF frequency alone, and a sweep across them.
	var single signal
	for _, f := range append(dtmfRows[:], dtmfCols[:]...) {
		single = single.tones(200, [2]float64{f, -5})
	}
	for f := 600.0; f < 1700; f += 7 {
		single = single.tones(40, [2]float64{f, -10})
	}
	cases["single tones"] = single
	// Music-like: every key's pair as notes of a chord with a third note,
	// and with the harmonics an instrument adds.
	var chords, harmonics signal
	for _, k := range "147*2580369#ABCD" {
		lo, hi := keyFreqs(t, k)
		chords = chords.tones(300, [2]float64{lo, -12}, [2]float64{hi, -12}, [2]float64{(lo + hi) / 2, -12})
		harmonics = harmonics.tones(300, [2]float64{lo, -12}, [2]float64{hi, -12}, [2]float64{2 * lo, -14}, [2]float64{2 * hi, -14}, [2]float64{3 * lo, -18})
	}
	cases["chords of a key's pair and a third note"] = chords
	cases["key pairs with harmonics"] = harmonics
	for _, codec := range codecs {
		for name, s := range cases {
			if got := detect(codec, s.encode(codec)); got != "" {
				t.Errorf("%v, %s: detected %q", codec, name, got)
			}
		}
		// The switch's own audio: the music-on-hold loop (three times
		// over, so that every block alignment occurs) and every spoken
		// prompt.
		for _, name := range PromptNames() {
			p := mustPrompt(name)
			audio := p.ulaw
			if name == musicOnHoldName {
				audio = append(append(append([]byte(nil), audio...), audio[:len(audio)-37]...), audio...)
			}
			if codec == PCMA {
				audio = TranscodeULawToALaw(make([]byte, len(audio)), audio)
			}
			if got := detect(codec, audio); got != "" {
				t.Errorf("%v, prompt %s: detected %q", codec, name, got)
			}
		}
	}
}

// Digits are found in noise, and between prompts of speech.
func TestDTMFDetectorKeysInNoiseAndSpeech(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := signal{}.noise(rng, 500, -40)
	var withNoise signal
	for i, k := range "2468" {
		withNoise = withNoise.key(t, k, 80, -15, float64(i-2))
		withNoise = withNoise.noise(rng, 120, -40)
	}
	for i := range withNoise {
		withNoise[i] += rng.NormFloat64() * amplitude(-45)
	}
	s = append(s, withNoise...)
	for _, codec := range codecs {
		if got := detect(codec, s.encode(codec)); got != "2468" {
			t.Errorf("%v: keys in noise: got %q, want \"2468\"", codec, got)
		}
	}
	greeting := Greeting().ulaw
	key := signal{}.key(t, '1', 80, -10, 0).encode(PCMU)
	audio := append(append(append([]byte(nil), greeting...), key...), greeting...)
	if got := detect(PCMU, audio); got != "1" {
		t.Errorf("a key between two greetings: got %q, want \"1\"", got)
	}
}

func BenchmarkDTMFDetector(b *testing.B) {
	audio := MusicOnHold().ulaw[:FrameSize]
	d := NewDTMFDetector(PCMU)
	var found []rune
	for b.Loop() {
		found = d.Detect(found[:0], audio)
	}
}

// FuzzDTMFDetector: any payload, in either law, yields only keys of the
// grid, and at most one per two blocks (a press needs two).
func FuzzDTMFDetector(f *testing.F) {
	f.Add(false, signal{}.key(f, '1', 100, -10, 0).encode(PCMU))
	f.Add(true, signal{}.key(f, 'D', 60, -20, 3).encode(PCMA))
	f.Add(false, MusicOnHold().ulaw[:4*FrameSize])
	f.Add(true, []byte{})
	f.Fuzz(func(t *testing.T, alaw bool, payload []byte) {
		codec := PCMU
		if alaw {
			codec = PCMA
		}
		got := NewDTMFDetector(codec).Detect(nil, payload)
		if most := len(payload)/(dtmfBlock*dtmfHitsToBegin) + 1; len(got) > most {
			t.Fatalf("%d keys from %d bytes, more than %d", len(got), len(payload), most)
		}
		for _, k := range got {
			if _, ok := DigitEvent(k); !ok {
				t.Fatalf("reported %q, not a key", k)
			}
		}
	})
}
