// Package jsonenc appends JSON values to byte slices by hand, for the few
// hot paths (a chat line's way through the switch) where encoding/json's
// reflection is a visible share of the CPU. What AppendString writes
// decodes, with encoding/json, to what encoding/json would have written;
// it does not escape <, > and & for HTML, as encoding/json does by
// default. AppendHTMLString does, and writes what encoding/json writes,
// byte for byte: use it for what may end up inside an HTML page (a CTI
// frame a desktop embeds).
package jsonenc

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, each byte of invalid UTF-8 as U+FFFD (as
// encoding/json does).
func AppendString(b []byte, s string) []byte { return appendString(b, s, false) }

// AppendHTMLString appends s as encoding/json.Marshal writes it: as
// AppendString, and also <, > and & as \u003c, \u003e and \u0026, and
// U+2028 and U+2029 as \u2028 and \u2029, so that the string cannot close
// or open markup, or end a line of script, where a page embeds it.
func AppendHTMLString(b []byte, s string) []byte { return appendString(b, s, true) }

func appendString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if html && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
