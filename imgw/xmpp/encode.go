package xmpp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"io"
	"unicode/utf8"

	"github.com/ccswitch/ccswitch/imgw"
)

// tokens is a stanza as XML tokens; it is an xml.TokenReader that
// consumes itself.
type tokens []xml.Token

func (t *tokens) Token() (xml.Token, error) {
	if len(*t) == 0 {
		return nil, io.EOF
	}
	tok := (*t)[0]
	*t = (*t)[1:]
	return tok, nil
}

// attrs builds attributes from name, value pairs, leaving out empty
// values.
func attrs(kv ...string) []xml.Attr {
	var as []xml.Attr
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			as = append(as, xml.Attr{Name: xml.Name{Local: kv[i]}, Value: kv[i+1]})
		}
	}
	return as
}

// wrap puts payload inside a stanza (in the stream's namespace).
func wrap(kind string, as []xml.Attr, payload tokens) tokens {
	name := xml.Name{Local: kind}
	out := make(tokens, 0, len(payload)+2)
	out = append(out, xml.StartElement{Name: name, Attr: as})
	out = append(out, payload...)
	return append(out, xml.EndElement{Name: name})
}

// textElement is <local>text</local> in the stanza's namespace.
func textElement(local, text string) tokens {
	name := xml.Name{Local: local}
	return tokens{xml.StartElement{Name: name}, xml.CharData(text), xml.EndElement{Name: name}}
}

// appendMessage appends the bytes of message(from, to, id, body, state)
// as encoding/xml writes them in the stream: the outbox's messages, a
// chat's every line, are written this way rather than token by token.
func appendMessage(b []byte, from, to, id, body string, state imgw.ChatState) []byte {
	b = append(b, `<message type="chat"`...)
	for _, a := range [...]struct{ name, val string }{{` from="`, from}, {` to="`, to}, {` id="`, id}} {
		if a.val != "" { // as attrs: an empty attribute is left out
			b = append(b, a.name...)
			b = appendEscaped(b, a.val, true)
			b = append(b, '"')
		}
	}
	b = append(b, '>')
	if body != "" {
		b = append(b, "<body>"...)
		b = appendEscaped(b, body, false)
		b = append(b, "</body>"...)
	}
	if state != imgw.StateNone {
		b = append(b, '<')
		b = append(b, state.String()...)
		b = append(b, ` xmlns="`+nsChatStates+`"></`...)
		b = append(b, state.String()...)
		b = append(b, '>')
	}
	return append(b, "</message>"...)
}

// appendEscaped appends s escaped as encoding/xml does: the five markup
// characters, tab and carriage return as references, a line feed too in
// an attribute (newline) but not in text, and what XML cannot carry
// (invalid UTF-8, characters outside XML's range) as U+FFFD.
func appendEscaped(b []byte, s string, newline bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '"':
			esc = "&#34;"
		case r == '\'':
			esc = "&#39;"
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '\t':
			esc = "&#x9;"
		case r == '\n' && newline:
			esc = "&#xA;"
		case r == '\r':
			esc = "&#xD;"
		case r == utf8.RuneError && width == 1 || !inXMLRange(r):
			esc = "\uFFFD"
		}
		if esc == "" {
			i += width
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, s[last:]...)
}

// inXMLRange reports whether XML 1.0 allows r (its Char production).
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// presence is a presence stanza of type typ ("" is available).
func presence(from, to, typ string) tokens {
	return wrap("presence", attrs("type", typ, "from", from, "to", to), nil)
}

// errorStanza answers a stanza with an error, and none of its content.
func errorStanza(kind, from, to, id, typ, cond, text string) tokens {
	e := xml.Name{Local: "error"}
	c := xml.Name{Space: nsStanzas, Local: cond}
	payload := tokens{
		xml.StartElement{Name: e, Attr: attrs("type", typ)},
		xml.StartElement{Name: c}, xml.EndElement{Name: c},
	}
	if text != "" {
		tn := xml.Name{Space: nsStanzas, Local: "text"}
		payload = append(payload, xml.StartElement{Name: tn}, xml.CharData(text), xml.EndElement{Name: tn})
	}
	payload = append(payload, xml.EndElement{Name: e})
	return wrap(kind, attrs("type", "error", "from", from, "to", to, "id", id), payload)
}

// iqResult answers an IQ with a result.
func iqResult(from, to, id string, payload tokens) tokens {
	return wrap("iq", attrs("type", "result", "from", from, "to", to, "id", id), payload)
}

func randomID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "ccs-" + hex.EncodeToString(b)
}
