package xmpp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"io"

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

// message is a chat message with an optional body and chat state.
func message(from, to, id, body string, state imgw.ChatState) tokens {
	var payload tokens
	if body != "" {
		payload = append(payload, textElement("body", body)...)
	}
	if state != imgw.StateNone {
		name := xml.Name{Space: nsChatStates, Local: state.String()}
		payload = append(payload, xml.StartElement{Name: name}, xml.EndElement{Name: name})
	}
	return wrap("message", attrs("type", "chat", "from", from, "to", to, "id", id), payload)
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
