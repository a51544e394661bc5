package imgw

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// markup matches what looks like an HTML or XML tag, and whole script and
// style elements: chat is plain text here, and a desktop that rendered it
// must not run or show a customer's markup.
var (
	markupBlock = regexp.MustCompile(`(?is)<(script|style)\b.*?(</(script|style)\s*>|$)`)
	markupTag   = regexp.MustCompile(`</?[a-zA-Z!?][^<>]*>`)
)

// maxRepeat bounds a run of one repeated character (a flood inside one
// message).
const maxRepeat = 32

// Sanitize makes customer or agent text safe to relay: invalid UTF-8
// becomes U+FFFD; control characters (but newline and tab), bidirectional
// overrides and other format characters are dropped; markup is removed;
// runs of one character are cut to 32 and blank lines to two; surrounding
// space is trimmed. It returns the cleaned text and whether anything was
// changed.
func Sanitize(s string) (string, bool) {
	orig := s
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsRune(s, '<') {
		s = markupBlock.ReplaceAllString(s, "")
		s = markupTag.ReplaceAllString(s, "")
	}
	var b strings.Builder
	b.Grow(len(s))
	var last rune = -1
	run, newlines := 0, 0
	for _, r := range s {
		switch {
		case r == '\r':
			continue
		case r == '\n':
			newlines++
			if newlines > 2 {
				continue
			}
		case r == '\t':
			newlines = 0
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError && last == utf8.RuneError:
			// Cf: zero-width and bidirectional format characters.
			continue
		default:
			if !unicode.IsSpace(r) {
				newlines = 0
			}
		}
		if r == last {
			run++
			if run >= maxRepeat {
				continue
			}
		} else {
			last, run = r, 0
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	return out, out != orig
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
