package imgw

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxRepeat bounds a run of one repeated character (a flood inside one
// message).
const maxRepeat = 32

// Sanitize makes customer or agent text fit to relay, as plain text: it
// keeps what its author wrote, markup included (a "<b>" stays the three
// characters typed; every network and page carries and shows chat as
// text), and removes only what is not text: invalid UTF-8 becomes U+FFFD
// (once for a run); control characters (but newline and tab) and format
// characters (bidirectional overrides, zero-width) are dropped; runs of
// one character are cut to 32 and of blank lines to two; surrounding
// space is trimmed. It returns the cleaned text and whether anything was
// changed.
//
// Sanitize never creates markup: no "<" is followed by a letter, "/", "!"
// or "?" in its output unless the input had that pair. Where dropping
// characters would join a "<" to such a character ("<\u200bimg"), a space
// stays between them ("< img"). Sanitize is idempotent.
func Sanitize(s string) (string, bool) {
	orig := s
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s))
	var last rune = -1
	run, newlines := 0, 0
	// gap: something was dropped since the last "<" written.
	gap := false
	for _, r := range s {
		drop := false
		switch {
		case r == '\r':
			drop = true
		case r == '\n':
			newlines++
			drop = newlines > 2
		case r == '\t':
			newlines = 0
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError && last == utf8.RuneError:
			// Cf: zero-width and bidirectional format characters.
			drop = true
		default:
			if !unicode.IsSpace(r) {
				newlines = 0
			}
		}
		if !drop && r == last {
			run++
			drop = run >= maxRepeat
		}
		if drop {
			gap = gap || last == '<'
			continue
		}
		if gap && tagStart(r) {
			// "<", dropped characters, "img": not "<img".
			b.WriteByte(' ')
		}
		gap = false
		if r != last {
			last, run = r, 0
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	return out, out != orig
}

// tagStart reports whether r after "<" would start markup (a tag, an end
// tag, a comment or declaration, a processing instruction) in HTML or XML.
func tagStart(r rune) bool {
	return unicode.IsLetter(r) || r == '/' || r == '!' || r == '?'
}

// rateLimit is a token bucket: burst messages at once, refilled at rate
// per minute.
type rateLimit struct {
	tokens float64
	at     time.Time
	warned time.Time
}

const rateBurst = 10

// allow takes a token at now, if there is one.
func (l *rateLimit) allow(now time.Time, perMinute int) bool {
	if l.at.IsZero() {
		l.tokens, l.at = rateBurst, now
	}
	l.tokens = min(rateBurst, l.tokens+now.Sub(l.at).Minutes()*float64(perMinute))
	l.at = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// warn reports whether the customer should be told about the limit now:
// at most once a minute.
func (l *rateLimit) warn(now time.Time) bool {
	if !l.warned.IsZero() && now.Sub(l.warned) < time.Minute {
		return false
	}
	l.warned = now
	return true
}
