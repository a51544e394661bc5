package media

import "math"

// G.711 (ITU-T Recommendation G.711, 1988) companding between 16-bit linear
// PCM and 8-bit µ-law or A-law, in the segment/mantissa form of the
// Recommendation's tables. Linear samples use the full int16 range: µ-law's
// 14-bit and A-law's 13-bit magnitudes are scaled up by 4 and 8 bits.

const (
	ulawBias = 0x84  // 132: added before segment search so every segment starts at a power of two
	ulawClip = 32635 // largest magnitude that survives the bias without overflow

	// ULawSilence and ALawSilence are the codes for a zero sample, the
	// payload bytes of a silent frame.
	ULawSilence byte = 0xFF
	ALawSilence byte = 0xD5
)

// EncodeULaw compresses one linear sample to µ-law.
func EncodeULaw(sample int16) byte {
	s := int(sample)
	var sign byte
	if s < 0 {
		s = -s
		sign = 0x80
	}
	if s > ulawClip {
		s = ulawClip
	}
	s += ulawBias
	// Segment (exponent) is the position of the highest set bit above bit 7.
	exp := 7
	for mask := 0x4000; s&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mantissa := byte(s>>(exp+3)) & 0x0F
	return ^(sign | byte(exp)<<4 | mantissa)
}

// DecodeULaw expands one µ-law code to a linear sample.
func DecodeULaw(code byte) int16 {
	u := ^code
	t := (int(u&0x0F)<<3 + ulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// EncodeALaw compresses one linear sample to A-law (even bits inverted, as
// transmitted).
func EncodeALaw(sample int16) byte {
	pcm := int(sample) >> 3 // 13-bit magnitude domain
	mask := byte(0xD5)
	if pcm < 0 {
		mask = 0x55
		pcm = -pcm - 1
	}
	// Segment ends in the 13-bit domain: 0x1F, 0x3F, ... 0xFFF.
	seg := 0
	for end := 0x1F; pcm > end; end = end<<1 | 1 {
		seg++
		if seg == 8 {
			return 0x7F ^ mask
		}
	}
	var aval byte
	if seg < 2 {
		aval = byte(pcm>>1) & 0x0F
	} else {
		aval = byte(pcm>>seg) & 0x0F
	}
	return (byte(seg)<<4 | aval) ^ mask
}

// DecodeALaw expands one A-law code to a linear sample.
func DecodeALaw(code byte) int16 {
	a := code ^ 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// The code conversion tables of G.711 (Tables 3 and 4, µ-law to A-law and
// back) map each code to the nearest level of the other law with the same
// sign, on a common scale where the µ-law levels sit about 0.6 % above their
// 16-bit decoded values (the two laws' overload points differ slightly).
// Any factor in [1.0044, 1.0081] reproduces the Recommendation's tables
// exactly, code for code; the tests pin the result. Conversion through the
// tables, unlike decode-then-encode, does not drift when a signal crosses
// several µ/A boundaries.
const lawAlign = 1.006

// ulawToALaw and alawToULaw are the code conversion tables, built once.
var ulawToALaw, alawToULaw = func() (u2a, a2u [256]byte) {
	for i := range 256 {
		c := byte(i)
		u2a[i] = nearestCode(float64(DecodeULaw(c))*lawAlign, c&0x80, DecodeALaw)
		a2u[i] = nearestCode(float64(DecodeALaw(c))/lawAlign, c&0x80, DecodeULaw)
	}
	return u2a, a2u
}()

// nearestCode returns the code with sign bit sign whose decoded level is
// closest to v.
func nearestCode(v float64, sign byte, decode func(byte) int16) byte {
	best, bestDist := byte(0), math.Inf(1)
	for i := range 128 {
		c := byte(i) | sign
		if d := math.Abs(float64(decode(c)) - v); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// ULawToALaw converts one µ-law code to the A-law code for the same sound.
func ULawToALaw(code byte) byte { return ulawToALaw[code] }

// ALawToULaw converts one A-law code to the µ-law code for the same sound.
func ALawToULaw(code byte) byte { return alawToULaw[code] }

// TranscodeULawToALaw writes the A-law form of src into dst, which must be
// at least as long as src, and returns dst[:len(src)].
func TranscodeULawToALaw(dst, src []byte) []byte {
	dst = dst[:len(src)]
	for i, c := range src {
		dst[i] = ulawToALaw[c]
	}
	return dst
}
