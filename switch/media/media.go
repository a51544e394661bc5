// Package media is the switch's media layer for queued callers: embedded
// announcement prompts (G.711 µ-law, 8 kHz) and a synthesized music-on-hold
// loop, the announcement "you are number N in the queue, your estimated wait
// is M minutes", a Player that paces prompts out as RTP (PCMU or PCMA, 20 ms
// packets), a Relay that anchors the RTP of two call legs in the switch so
// that neither party learns the other's address, even-port RTP sockets, and
// the small SDP offer/answer helpers the SIP B2BUA needs.
//
// It has no signalling of its own: the B2BUA negotiates a codec with
// ParseSDP, Negotiate and BuildSDP, binds a port with ListenRTP, and runs a
// Player while the caller waits and a Relay once an agent answers.
package media

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Codec is a G.711 RTP audio codec. Its value is its static RTP payload type
// (RFC 3551).
type Codec uint8

// The codecs the switch speaks.
const (
	PCMU Codec = 0 // G.711 µ-law, payload type 0
	PCMA Codec = 8 // G.711 A-law, payload type 8
)

// Media framing shared by both codecs.
const (
	ClockRate  = 8000                  // samples per second
	FrameSize  = 160                   // samples, and bytes, in one 20 ms G.711 frame
	Ptime      = 20 * time.Millisecond // packetization time: one frame per packet
	maxPayload = 1500                  // largest UDP datagram read
)

// PayloadType returns the codec's static RTP payload type.
func (c Codec) PayloadType() uint8 { return uint8(c) }

// String returns the codec's RTP encoding name (PCMU, PCMA).
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// silence returns the payload byte of a silent sample in codec c.
func (c Codec) silence() byte {
	if c == PCMA {
		return ALawSilence
	}
	return ULawSilence
}

// A Prompt is a piece of audio to play: G.711 µ-law, 8 kHz, mono, a whole
// number of 20 ms frames of 160 bytes. The zero Prompt is empty. Prompts are
// immutable values and safe to share between players.
type Prompt struct {
	Name string
	ulaw []byte
}

// NewPrompt makes a prompt from raw µ-law samples (8 kHz, mono), copying
// them and padding the last frame with silence.
func NewPrompt(name string, ulaw []byte) Prompt {
	n := (len(ulaw) + FrameSize - 1) / FrameSize * FrameSize
	b := make([]byte, n)
	copy(b, ulaw)
	for i := len(ulaw); i < n; i++ {
		b[i] = ULawSilence
	}
	return Prompt{Name: name, ulaw: b}
}

// Frames returns the number of 20 ms frames in p.
func (p Prompt) Frames() int { return len(p.ulaw) / FrameSize }

// Duration returns how long p plays.
func (p Prompt) Duration() time.Duration { return time.Duration(p.Frames()) * Ptime }

// frame returns the i-th 160-byte µ-law frame of p. The caller must not
// modify it.
func (p Prompt) frame(i int) []byte { return p.ulaw[i*FrameSize : (i+1)*FrameSize] }

// Frame returns the i-th 20 ms frame (µ-law), for checks of what was sent.
func (p Prompt) Frame(i int) []byte { return append([]byte(nil), p.frame(i)...) }

//go:embed prompts/*.ulaw
var promptFS embed.FS

// prompts holds every named prompt: the embedded recordings and the
// synthesized music on hold.
var prompts = loadPrompts()

func loadPrompts() map[string]Prompt {
	m := make(map[string]Prompt)
	files, err := fs.Glob(promptFS, "prompts/*.ulaw")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	for _, f := range files {
		b, err := promptFS.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time; cannot fail
		}
		name := strings.TrimSuffix(path.Base(f), ".ulaw")
		m[name] = NewPrompt(name, b)
	}
	m[musicOnHoldName] = Prompt{Name: musicOnHoldName, ulaw: synthesizeMusic()}
	return m
}

// PromptByName returns the named prompt: "greeting", "music-on-hold",
// "you-are-number", "in-the-queue", "your-estimated-wait-is",
// "less-than-one-minute", "minute", "minutes", "please-continue-to-hold",
// the numbers "zero" to "twenty", "thirty" to "ninety" by tens, and
// "hundred". PromptNames lists them all.
func PromptByName(name string) (Prompt, bool) {
	p, ok := prompts[name]
	return p, ok
}

// PromptNames returns the names of all prompts, sorted.
func PromptNames() []string {
	names := make([]string, 0, len(prompts))
	for n := range prompts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// mustPrompt returns a prompt that is known to exist.
func mustPrompt(name string) Prompt {
	p, ok := prompts[name]
	if !ok {
		panic("media: no prompt " + name)
	}
	return p
}

// Greeting returns the welcome announcement for a caller who has to wait:
// "Thank you for calling. All our agents are busy. Please hold and you will
// be connected to the next available agent."
func Greeting() Prompt { return mustPrompt("greeting") }

// MusicOnHold returns the music-on-hold loop: a short synthesized melody
// that repeats seamlessly (pass it to Player.Loop).
func MusicOnHold() Prompt { return mustPrompt(musicOnHoldName) }
