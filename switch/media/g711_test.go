package media

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// Known values from G.711: the codes of zero, the largest magnitudes
// (µ-law ±8031 of 8159 on its 14-bit scale = ±32124 on 16 bits, A-law ±4032
// of 4096 on 13 bits = ±32256), and the smallest A-law levels (±1 of 4096 on
// 13 bits, the mid-point of the first interval, = ±8).
func TestG711KnownValues(t *testing.T) {
	encode := []struct {
		in         int16
		ulaw, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{-1, 0x7F, 0x55},
		{8, 0xFE, 0xD5},
		{-8, 0x7E, 0x55},
		{16, 0xFD, 0xD4},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
		{32124, 0x80, 0xAA},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
	}
	for _, c := range encode {
		if got := EncodeULaw(c.in); got != c.ulaw {
			t.Errorf("EncodeULaw(%d) = %#02x, want %#02x", c.in, got, c.ulaw)
		}
		if got := EncodeALaw(c.in); got != c.alaw {
			t.Errorf("EncodeALaw(%d) = %#02x, want %#02x", c.in, got, c.alaw)
		}
	}
	ulaw := map[byte]int16{0xFF: 0, 0x7F: 0, 0x80: 32124, 0x00: -32124, 0xFE: 8, 0x7E: -8, 0xF0: 120, 0xEF: 132, 0xCE: 988}
	for code, want := range ulaw {
		if got := DecodeULaw(code); got != want {
			t.Errorf("DecodeULaw(%#02x) = %d, want %d", code, got, want)
		}
	}
	alaw := map[byte]int16{0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256, 0xD4: 24, 0x80: 5504, 0xFA: 1008}
	for code, want := range alaw {
		if got := DecodeALaw(code); got != want {
			t.Errorf("DecodeALaw(%#02x) = %d, want %d", code, got, want)
		}
	}
	if ULawSilence != EncodeULaw(0) || ALawSilence != EncodeALaw(0) {
		t.Errorf("silence codes %#02x %#02x are not the codes of 0", ULawSilence, ALawSilence)
	}
}

// Every code decodes to a level that encodes back to the same code, except
// µ-law's negative zero (0x7F), which decodes to 0 = positive zero (0xFF).
func TestG711RoundTrip(t *testing.T) {
	for i := range 256 {
		c := byte(i)
		want := c
		if c == 0x7F {
			want = 0xFF
		}
		if got := EncodeULaw(DecodeULaw(c)); got != want {
			t.Errorf("µ-law %#02x -> %d -> %#02x", c, DecodeULaw(c), got)
		}
		if got := EncodeALaw(DecodeALaw(c)); got != c {
			t.Errorf("A-law %#02x -> %d -> %#02x", c, DecodeALaw(c), got)
		}
	}
}

// Quantization error bounds: every 16-bit sample decodes back to within
// half a step of its segment (steps double per segment: µ-law 8, 16, ...
// 1024 on 16 bits; A-law 16, 16, 32, ... 1024), beyond the clipping level.
func TestG711ErrorBounds(t *testing.T) {
	for s := -32768; s <= 32767; s++ {
		x := int16(s)
		u := EncodeULaw(x)
		uStep := 8 << ((^u & 0x70) >> 4)
		if s > -32124-uStep/2 && s < 32124+uStep/2 {
			if d := abs(int(DecodeULaw(u)) - s); d > uStep/2 {
				t.Fatalf("µ-law: %d -> %#02x -> %d: error %d > %d", s, u, DecodeULaw(u), d, uStep/2)
			}
		}
		a := EncodeALaw(x)
		seg := int((a ^ 0x55) & 0x70 >> 4)
		aStep := 16 << max(seg-1, 0)
		if d := abs(int(DecodeALaw(a)) - s); d > aStep/2 {
			t.Fatalf("A-law: %d -> %#02x -> %d: error %d > %d", s, a, DecodeALaw(a), d, aStep/2)
		}
	}
}

// Encoding is monotonic: a larger sample never gets a smaller level.
func TestG711Monotonic(t *testing.T) {
	prevU, prevA := DecodeULaw(EncodeULaw(-32768)), DecodeALaw(EncodeALaw(-32768))
	for s := -32767; s <= 32767; s++ {
		u, a := DecodeULaw(EncodeULaw(int16(s))), DecodeALaw(EncodeALaw(int16(s)))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d: µ %d after %d, A %d after %d", s, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
	}
}

// The code conversions are G.711's Tables 3 and 4. Spot values where they
// differ from decode-then-encode, and a digest of the whole tables as
// published (e.g. spandsp g711.c, "copied from the CCITT G.711
// specification").
func TestG711Transcode(t *testing.T) {
	u2a := map[byte]byte{
		0xFF: 0xD5, 0x7F: 0x55, 0xFE: 0xD5, 0x7D: 0x54, 0x80: 0xAA, 0x00: 0x2A,
		0x20: 0x0A, 0x2F: 0x1A, 0x3F: 0x6A, 0x4E: 0x7A, 0xA0: 0x8A,
	}
	for u, want := range u2a {
		if got := ULawToALaw(u); got != want {
			t.Errorf("ULawToALaw(%#02x) = %#02x, want %#02x", u, got, want)
		}
	}
	a2u := map[byte]byte{0xD5: 0xFE, 0x55: 0x7E, 0xAA: 0x80, 0x2A: 0x00, 0x5A: 0x68}
	for a, want := range a2u {
		if got := ALawToULaw(a); got != want {
			t.Errorf("ALawToULaw(%#02x) = %#02x, want %#02x", a, got, want)
		}
	}
	digest := func(tab [256]byte) string { h := sha256.Sum256(tab[:]); return hex.EncodeToString(h[:]) }
	if got, want := digest(ulawToALaw), "021355cc78820e9e43a87564118844f4b6e443f355675db65083435a181e3f61"; got != want {
		t.Errorf("µ-law to A-law table digest %s, want %s", got, want)
	}
	if got, want := digest(alawToULaw), "c1515c134eca6f1dd608e1bdf78e3e66c83d349952ab8b966ae41dad8f230c0a"; got != want {
		t.Errorf("A-law to µ-law table digest %s, want %s", got, want)
	}
	// Converting keeps the level within one A-law step of the µ-law level.
	for i := range 256 {
		u := byte(i)
		a := ULawToALaw(u)
		seg := int((a ^ 0x55) & 0x70 >> 4)
		if d := abs(int(DecodeALaw(a)) - int(DecodeULaw(u))); d > 16<<max(seg-1, 0) {
			t.Errorf("µ %#02x (%d) -> A %#02x (%d): off by %d", u, DecodeULaw(u), a, DecodeALaw(a), d)
		}
	}
	src := []byte{0xFF, 0x00, 0x80, 0x20}
	got := TranscodeULawToALaw(make([]byte, 8), src)
	if string(got) != string([]byte{0xD5, 0x2A, 0xAA, 0x0A}) {
		t.Errorf("TranscodeULawToALaw(% x) = % x", src, got)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
