package media

import "fmt"

// RFC 4733 telephone-events: a caller's keypad as RTP packets of their own
// payload type (negotiated as a=rtpmap:<pt> telephone-event/8000) rather
// than as tones in the audio.

// TelephoneEventSize is the length of one named-event payload (RFC 4733
// §2.3): event, E|R|volume, duration.
const TelephoneEventSize = 4

// Named events of RFC 4733 §3.2 the switch reports as digits: 0-9, then
// *, #, A, B, C, D. Event 16 (flash) and above are not digits.
const (
	EventStar  = 10
	EventPound = 11
	EventFlash = 16
)

// TelephoneEvent is one named-event payload (RFC 4733 §2.3).
type TelephoneEvent struct {
	Event uint8 // 0-9 the digits, 10 *, 11 #, 12-15 A-D, 16 flash, ...
	End   bool  // E bit: the event has ended (sent three times, RFC 4733 §2.5.1.4)
	// Volume is the power level of the tone in -dBm0 (0-63); 0 for
	// events that are not tones.
	Volume uint8
	// Duration is how long the event has lasted so far, in timestamp
	// units (1/8000 s) from the packet's RTP timestamp, which is the same
	// for every packet of one event.
	Duration uint16
}

// ParseTelephoneEvent reads a named-event payload. It returns an error
// for a payload shorter than TelephoneEventSize; bytes after the first
// four are ignored (one event per packet; redundancy per RFC 2198 has a
// payload type of its own). The reserved R bit is ignored, as receivers
// must (RFC 4733 §2.3).
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, error) {
	if len(payload) < TelephoneEventSize {
		return TelephoneEvent{}, fmt.Errorf("media: telephone-event: payload is %d bytes, want %d", len(payload), TelephoneEventSize)
	}
	return TelephoneEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: uint16(payload[2])<<8 | uint16(payload[3]),
	}, nil
}

// Append appends the payload of e to b (the R bit clear, the volume
// masked to 6 bits) and returns the result.
func (e TelephoneEvent) Append(b []byte) []byte {
	flags := e.Volume & 0x3F
	if e.End {
		flags |= 0x80
	}
	return append(b, e.Event, flags, byte(e.Duration>>8), byte(e.Duration))
}

// EventDigit returns the keypad character of a named event: '0'-'9',
// '*', '#', 'A'-'D' for events 0-15, and false for any other event.
func EventDigit(event uint8) (rune, bool) {
	switch {
	case event <= 9:
		return rune('0' + event), true
	case event == EventStar:
		return '*', true
	case event == EventPound:
		return '#', true
	case event <= 15:
		return rune('A' + event - 12), true
	}
	return 0, false
}

// DigitEvent returns the named event of a keypad character, the inverse
// of EventDigit.
func DigitEvent(digit rune) (uint8, bool) {
	for e := uint8(0); e < EventFlash; e++ {
		if d, _ := EventDigit(e); d == digit {
			return e, true
		}
	}
	return 0, false
}

// An EventReceiver turns the telephone-event packets of one RTP stream
// into keypad digits, each reported once, at the first packet of its
// event that arrives: the start of a key press, not its end, so a caller
// is answered while still holding the key, and a press whose end packets
// are lost is still seen.
//
// Every packet of one event carries the event's start as its RTP
// timestamp (RFC 4733 §2.5.1): the repeated updates while the key is held
// and the three redundant end packets all share it, and are not reported
// again. A packet with a timestamp before the current event's (reordered,
// late) is ignored. An event longer than a duration field holds (about 8
// s) goes on in segments with new timestamps (§2.5.1.3); a segment that
// continues an unended event of the same key at its maximum length is the
// same press. Events that are not digits (flash, 16 and up) are followed
// but not reported.
//
// The zero EventReceiver is ready. It is not safe for concurrent use.
type EventReceiver struct {
	started  bool   // an event has been seen
	ts       uint32 // RTP timestamp of the current event
	event    uint8
	ended    bool
	duration uint16 // longest duration seen for the current event
}

// longSegment is the duration from which an unended event counts as cut
// into segments: within a second of the field's maximum.
const longSegment = 0xFFFF - ClockRate

// Receive takes the RTP timestamp and payload of one telephone-event
// packet and returns the digit it starts, if any. A malformed payload is
// an error and changes nothing.
func (r *EventReceiver) Receive(ts uint32, payload []byte) (digit rune, ok bool, err error) {
	e, err := ParseTelephoneEvent(payload)
	if err != nil {
		return 0, false, err
	}
	if r.started {
		switch d := int32(ts - r.ts); {
		case d < 0:
			return 0, false, nil // a late packet of an earlier event
		case d == 0 && e.Event == r.event:
			r.ended = r.ended || e.End
			r.duration = max(r.duration, e.Duration)
			return 0, false, nil // the same event again: update or redundant end
		case d > 0 && e.Event == r.event && !r.ended && r.duration >= longSegment && uint32(d) <= 0xFFFF+ClockRate:
			// The next segment of a long press.
			r.ts, r.ended, r.duration = ts, e.End, e.Duration
			return 0, false, nil
		}
	}
	r.started, r.ts, r.event, r.ended, r.duration = true, ts, e.Event, e.End, e.Duration
	digit, ok = EventDigit(e.Event)
	return digit, ok, nil
}
