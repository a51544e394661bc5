package media

import "math"

// In-band DTMF: the keypad as tone pairs in the G.711 audio itself, for
// callers that negotiated no telephone-event. A Goertzel filter per DTMF
// frequency runs over blocks of dtmfBlock samples; a block holds a digit
// only if it passes the usual receiver checks (ITU-T Q.24, and the shape of
// the detectors in Asterisk and spandsp), so that speech and music do not
// dial.

const (
	// dtmfBlock is the Goertzel block: 102 samples (12.75 ms) resolve
	// the DTMF grid (bins of 78 Hz) and fit two whole blocks in any 40 ms
	// tone.
	dtmfBlock = 102
	// dtmfHitsToBegin: a digit starts after this many blocks in a row
	// hold it (at least 25.5 ms of tone: shorter bursts are not digits,
	// 40 ms ones always are).
	dtmfHitsToBegin = 2
	// dtmfMissesToEnd: a digit ends after this many blocks in a row do
	// not hold it (25.5 ms); a 40 ms pause always separates two presses.
	dtmfMissesToEnd = 2
	// dtmfMinLevel is the weakest tone of a pair accepted, in dBm0
	// (Q.24 asks for operation down to about -25 dBm0 per tone).
	dtmfMinLevel = -33.0
	// dtmfNormalTwist and dtmfReverseTwist bound the level difference
	// of the pair, in dB: the high-group tone may be this much below
	// (normal) or above (reverse) the low-group tone.
	dtmfNormalTwist  = 8.0
	dtmfReverseTwist = 4.0
	// dtmfRelativePeak: every other frequency of a group must be this
	// many dB below the group's strongest.
	dtmfRelativePeak = 8.0
	// dtmfToTotal is the share of the block's energy the two tones must
	// carry: speech, music and noise spread theirs.
	dtmfToTotal = 0.8
)

// The DTMF grid: low (row) and high (column) group frequencies in Hz, and
// the keys at their crossings.
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]rune{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// dtmfCoeffs are the Goertzel coefficients 2cos(2πf/8000), rows then
// columns.
var dtmfCoeffs = func() (c [8]float64) {
	for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
		c[i] = 2 * math.Cos(2*math.Pi*f/ClockRate)
	}
	return c
}()

// dB returns the power ratio of db decibels.
func dB(db float64) float64 { return math.Pow(10, db/10) }

// fullScaleDBm0 is the level of a full-scale sine in G.711: +3.17 dBm0
// (G.711's digital milliwatt sits 3.17 dB below the overload point).
const fullScaleDBm0 = 3.17

var (
	// dtmfMinPower is the Goertzel power of a sine at dtmfMinLevel over a
	// block, on samples scaled to ±1 full scale: (A·N/2)².
	dtmfMinPower = func() float64 {
		a := math.Pow(10, (dtmfMinLevel-fullScaleDBm0)/20)
		return (a * dtmfBlock / 2) * (a * dtmfBlock / 2)
	}()
	normalTwist, reverseTwist, relativePeak = dB(dtmfNormalTwist), dB(dtmfReverseTwist), dB(dtmfRelativePeak)
	// toTotal compares the pair's Goertzel power with the block's energy
	// Σx²: a pure sine gives N/2 of the one per unit of the other.
	toTotal = dtmfToTotal * dtmfBlock / 2
)

// A DTMFDetector finds DTMF digits in a stream of G.711 audio (PCMU or
// PCMA, 8 kHz): each key press is reported once, when it has lasted about
// 25 ms (two blocks). A block holds a key when the strongest row and
// column tones are each above -33 dBm0, within the twist limits (the high
// tone 8 dB below to 4 dB above the low one), at least 8 dB above the
// other tones of their group, and together carry 80% of the block's
// energy; a press ends after two blocks without it, so a new press of the
// same key needs a pause of about 25 ms (40 ms always suffices).
//
// It is not safe for concurrent use.
type DTMFDetector struct {
	decode func(byte) int16
	buf    [dtmfBlock]float64
	n      int  // samples in buf
	last   rune // the key the previous block held, 0 for none
	hits   int  // blocks in a row that held last
	misses int  // blocks in a row without current
	// current is the key being pressed (reported), 0 between presses.
	current rune
}

// NewDTMFDetector returns a detector for audio in codec.
func NewDTMFDetector(codec Codec) *DTMFDetector {
	d := &DTMFDetector{decode: DecodeULaw}
	if codec == PCMA {
		d.decode = DecodeALaw
	}
	return d
}

// Detect feeds payload, G.711 audio in the detector's codec (any length;
// one RTP payload), and appends to dst the keys whose press it detected
// in it, returning the extended slice.
func (d *DTMFDetector) Detect(dst []rune, payload []byte) []rune {
	for _, code := range payload {
		d.buf[d.n] = float64(d.decode(code)) / 32768
		d.n++
		if d.n < dtmfBlock {
			continue
		}
		d.n = 0
		if key, ok := d.block(); ok {
			dst = append(dst, key)
		}
	}
	return dst
}

// block analyses a full buffer and reports a key that begins with it.
func (d *DTMFDetector) block() (rune, bool) {
	key := classify(&d.buf)
	if key != 0 && key == d.last {
		d.hits++
	} else {
		d.hits = 1
	}
	d.last = key
	if key != 0 && key == d.current {
		d.misses = 0
		return 0, false
	}
	if d.current != 0 {
		d.misses++
		if d.misses < dtmfMissesToEnd {
			return 0, false // a dropout within the press, or its end
		}
		d.current, d.misses = 0, 0
	}
	if key != 0 && d.hits >= dtmfHitsToBegin {
		d.current, d.misses = key, 0
		return key, true
	}
	return 0, false
}

// classify returns the key a block holds, or 0.
func classify(x *[dtmfBlock]float64) rune {
	var s1, s2 [8]float64
	energy := 0.0
	for _, v := range x {
		energy += v * v
		for k, c := range dtmfCoeffs {
			s0 := v + c*s1[k] - s2[k]
			s2[k], s1[k] = s1[k], s0
		}
	}
	var p [8]float64
	for k, c := range dtmfCoeffs {
		p[k] = s1[k]*s1[k] + s2[k]*s2[k] - c*s1[k]*s2[k]
	}
	row, col := strongest(p[:4]), strongest(p[4:])
	lo, hi := p[row], p[4+col]
	switch {
	case lo < dtmfMinPower || hi < dtmfMinPower:
		return 0
	case hi*normalTwist < lo || hi > lo*reverseTwist:
		return 0
	case lo+hi < toTotal*energy:
		return 0
	}
	for i := range 4 {
		if i != row && p[i]*relativePeak > lo || i != col && p[4+i]*relativePeak > hi {
			return 0
		}
	}
	return dtmfKeys[row][col]
}

// strongest returns the index of the largest power.
func strongest(p []float64) int {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}
