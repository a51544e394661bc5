// Package pbx models the switch: its directory numbers (agent extensions,
// ACD queues, route points, trunks) and the interactions that cross it —
// switched (COST) voice calls, VoIP calls, instant-message sessions and
// callbacks — with their connection IDs, ANI/DNIS, attached data and the
// state machine every interaction follows. It is pure logic: no I/O, no
// goroutines, no wall clock. The folder is switch/ but switch is a Go
// keyword, so the package is pbx.
package pbx

import "fmt"

// Media is the kind of an interaction.
type Media uint8

// The media ccswitch routes. They share queues, priorities and statistics.
const (
	Voice    Media = iota // a switched (COST) telephone call
	VoIP                  // a call from a SIP phone
	IM                    // an instant-message session
	Callback              // a callback the center owes a customer
	NumMedia = 4
)

var mediaNames = [NumMedia]string{"voice", "voip", "im", "callback"}

// String returns the media's configuration name.
func (m Media) String() string {
	if int(m) < len(mediaNames) {
		return mediaNames[m]
	}
	return fmt.Sprintf("media(%d)", m)
}

// ParseMedia returns the media named s.
func ParseMedia(s string) (Media, error) {
	for i, n := range mediaNames {
		if n == s {
			return Media(i), nil
		}
	}
	return 0, Errorf(Invalid, "unknown media %q (want voice, voip, im or callback)", s)
}

// MarshalText writes the media's name.
func (m Media) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
