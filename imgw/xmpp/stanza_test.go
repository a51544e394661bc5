package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"mellium.im/xmlstream"

	"github.com/ccswitch/ccswitch/imgw"
)

const testNetwork = "xmpp:support.example.test"

// decodeRaw decodes the first element of raw as the handler sees it: the
// start element apart, then the rest of the element.
func decodeRaw(raw string, max int) (inStanza, error) {
	d := xml.NewDecoder(strings.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return inStanza{}, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return decodeStanza(start, xmlstream.InnerElement(d), max)
		}
	}
}

// Stanzas as Prosody, ejabberd and slixmpp sent them in the integration
// tests (addresses kept), plus hostile variants.
var seedStanzas = []string{
	`<message xmlns="jabber:component:accept" type="chat" to="support@support.example.test" id="m1" from="alice@example.test/laptop" xml:lang="en"><body>hello</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>`,
	`<message type="chat" to="support@support.example.test" from="alice@example.test/laptop"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`,
	`<message type="error" id="out-1" from="nobody@example.test" to="support@support.example.test"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">User session not found</text></error><body>hi</body></message>`,
	`<presence from="alice@example.test/laptop" to="support@support.example.test" xml:lang="en"><show>away</show><status>at lunch</status><priority>5</priority><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="http://slixmpp.com/ver/1.8.3" ver="+uq3jOzwhmuEytaZqWRPwoSw0Bg="/></presence>`,
	`<presence type="unavailable" from="alice@example.test/phone" to="support@support.example.test"/>`,
	`<presence type="subscribe" from="alice@example.test" to="support@support.example.test"/>`,
	`<iq type="get" id="v1" from="alice@example.test/laptop" to="support@support.example.test"><query xmlns="jabber:iq:version"/></iq>`,
	`<iq type="get" id="d1" from="alice@example.test/laptop" to="support.example.test"><query xmlns="http://jabber.org/protocol/disco#info" node="x#y"/></iq>`,
	`<message type="chat" from="mallory@example.test/x" to="support@support.example.test"><body>a<evil xmlns="urn:x"><deeper/></evil>b</body><body>second</body><gone xmlns="http://jabber.org/protocol/chatstates"/><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`,
	`<presence from="mallory@example.test/x" to="support@support.example.test"><show>bogus</show><priority>99999</priority><status/></presence>`,
	`<message from="not a jid@@" to="support@support.example.test"><body>x</body></message>`,
	`<message type="headline" from="example.test" to="support@support.example.test"><body>news</body></message>`,
}

func TestDecodeStanza(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want imgw.Inbound
		ok   bool
	}{
		{name: "message with state", raw: seedStanzas[0], ok: true, want: imgw.Inbound{
			Kind: imgw.Message, From: imgw.Address{Network: testNetwork, User: "alice@example.test", Device: "laptop"},
			Text: "hello", State: imgw.StateActive, ID: "m1"}},
		{name: "typing", raw: seedStanzas[1], ok: true, want: imgw.Inbound{
			Kind: imgw.Typing, From: imgw.Address{Network: testNetwork, User: "alice@example.test", Device: "laptop"},
			State: imgw.StateComposing}},
		{name: "bounce", raw: seedStanzas[2], ok: true, want: imgw.Inbound{
			Kind: imgw.Bounce, From: imgw.Address{Network: testNetwork, User: "nobody@example.test"},
			ID: "out-1", Error: "service-unavailable"}},
		{name: "presence", raw: seedStanzas[3], ok: true, want: imgw.Inbound{
			Kind: imgw.Presence, From: imgw.Address{Network: testNetwork, User: "alice@example.test", Device: "laptop"},
			Presence: &imgw.PresenceInfo{Available: true, Show: "away", Status: "at lunch", Priority: 5}}},
		{name: "unavailable", raw: seedStanzas[4], ok: true, want: imgw.Inbound{
			Kind: imgw.Presence, From: imgw.Address{Network: testNetwork, User: "alice@example.test", Device: "phone"},
			Presence: &imgw.PresenceInfo{}}},
		{name: "subscribe is no event", raw: seedStanzas[5]},
		{name: "iq is no event", raw: seedStanzas[6]},
		{name: "nested markup in body is skipped, first body and state win", raw: seedStanzas[8], ok: true, want: imgw.Inbound{
			Kind: imgw.Message, From: imgw.Address{Network: testNetwork, User: "mallory@example.test", Device: "x"},
			Text: "ab", State: imgw.StateGone}},
		{name: "bad show and priority", raw: seedStanzas[9], ok: true, want: imgw.Inbound{
			Kind: imgw.Presence, From: imgw.Address{Network: testNetwork, User: "mallory@example.test", Device: "x"},
			Presence: &imgw.PresenceInfo{Available: true}}},
		{name: "bad sender", raw: seedStanzas[10]},
		{name: "headline", raw: seedStanzas[11]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := decodeRaw(tt.raw, DefaultMaxStanzaBytes)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := st.inbound(testNetwork)
			if ok != tt.ok {
				t.Fatalf("inbound ok = %v, want %v (%+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			if got.Presence != nil && tt.want.Presence != nil {
				if *got.Presence != *tt.want.Presence {
					t.Errorf("presence = %+v, want %+v", *got.Presence, *tt.want.Presence)
				}
				got.Presence, tt.want.Presence = nil, nil
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeStanzaFields(t *testing.T) {
	st, err := decodeRaw(seedStanzas[3], DefaultMaxStanzaBytes)
	if err != nil {
		t.Fatal(err)
	}
	if st.CapsNode != "http://slixmpp.com/ver/1.8.3" || st.CapsVer != "+uq3jOzwhmuEytaZqWRPwoSw0Bg=" || st.CapsHash != "sha-1" {
		t.Errorf("caps = %q %q %q", st.CapsNode, st.CapsVer, st.CapsHash)
	}
	st, err = decodeRaw(seedStanzas[7], DefaultMaxStanzaBytes)
	if err != nil {
		t.Fatal(err)
	}
	if st.Payload != (xml.Name{Space: nsDiscoInfo, Local: "query"}) || st.PayloadNode != "x#y" || st.Type != "get" || st.ID != "d1" {
		t.Errorf("iq = %+v", st)
	}
	st, err = decodeRaw(seedStanzas[2], DefaultMaxStanzaBytes)
	if err != nil {
		t.Fatal(err)
	}
	if st.ErrText != "User session not found" {
		t.Errorf("error text = %q", st.ErrText)
	}
}

func TestDecodeStanzaTooBig(t *testing.T) {
	raw := `<message type="chat" id="big" from="mallory@example.test/x" to="support@support.example.test"><body>` +
		strings.Repeat("x", 5000) + `</body></message>`
	st, err := decodeRaw(raw, 4096)
	if !errors.Is(err, errTooBig) {
		t.Fatalf("err = %v, want errTooBig", err)
	}
	if st.ID != "big" || st.From != "mallory@example.test/x" || st.HasBody || len(st.Body) > 0 {
		t.Errorf("kept %q %q body=%v %d bytes", st.ID, st.From, st.HasBody, len(st.Body))
	}
	if _, err := decodeRaw(raw, 8192); err != nil {
		t.Errorf("under the limit: %v", err)
	}
}

func TestCapsClient(t *testing.T) {
	tests := []struct{ node, family, version string }{
		{"http://slixmpp.com/ver/1.8.3", "slixmpp", "1.8.3"},
		{"https://gajim.org", "gajim", ""},
		{"http://www.Psi-IM.org", "psi", ""},
		{"https://conversations.im", "conversations", ""},
		{"http://poez.io", "poezio", ""},
		{"https://github.com/someone/MyClient.git", "myclient", ""},
		{"https://dino.im/", "dino", ""},
		{"mcabber.com/caps#0.10", "mcabber", ""},
		{"http://tkabber.jabber.ru/", "tkabber", ""},
	}
	for _, tt := range tests {
		ci := capsClient(tt.node)
		if ci == nil || ci.Family != tt.family || ci.Version != tt.version || ci.Source != "xep-0115" || ci.Node != tt.node {
			t.Errorf("capsClient(%q) = %+v, want family %q version %q", tt.node, ci, tt.family, tt.version)
		}
	}
	if capsClient("") != nil {
		t.Error("empty node gave client info")
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", maxInfoField)
	got := truncate(s)
	if len(got) > maxInfoField || !utf8.ValidString(got) {
		t.Errorf("truncate: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

// FuzzInboundStanza feeds arbitrary XML through the handler's decoding
// (decodeStanza, then inbound): it must not panic, must respect the size
// limit, and whatever it reports must be well formed.
func FuzzInboundStanza(f *testing.F) {
	for _, s := range seedStanzas {
		f.Add(s, 4096)
	}
	f.Add(`<message type="chat" from="a@b/c" to="support@support.example.test"><body>`+strings.Repeat("y", 300)+`</body></message>`, 100)
	f.Fuzz(func(t *testing.T, raw string, max int) {
		if max <= 0 || max > 1<<20 {
			max = DefaultMaxStanzaBytes
		}
		st, err := decodeRaw(raw, max)
		if errors.Is(err, errTooBig) {
			if len(st.Body) > max || len(st.Status) > max {
				t.Fatalf("kept %d body bytes over the %d limit", len(st.Body), max)
			}
			return
		}
		if err != nil {
			return
		}
		if st.Size > max {
			t.Fatalf("size %d over %d without errTooBig", st.Size, max)
		}
		in, ok := st.inbound(testNetwork)
		if !ok {
			return
		}
		if in.From.Network != testNetwork || in.From.User == "" || strings.Contains(in.From.User, "/") {
			t.Fatalf("bad address %+v", in.From)
		}
		switch in.Kind {
		case imgw.Message:
			if in.Text != st.Body {
				t.Fatalf("text %q, body %q", in.Text, st.Body)
			}
		case imgw.Typing:
			if in.State == imgw.StateNone || in.Text != "" {
				t.Fatalf("typing %+v", in)
			}
		case imgw.Presence:
			p := in.Presence
			if p == nil || p.Priority < -128 || p.Priority > 127 || (p.Show != "" && validShow(p.Show) == "") {
				t.Fatalf("presence %+v", p)
			}
		case imgw.Bounce:
			if in.Error == "" {
				t.Fatal("bounce without error")
			}
		default:
			t.Fatalf("kind %d", in.Kind)
		}
		if ci := capsClient(st.CapsNode); ci != nil && ci.Source != "xep-0115" {
			t.Fatalf("caps %+v", ci)
		}
	})
}

// message is a chat message as tokens, the reference appendMessage is
// checked against: a chat message with an optional body and chat state.
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

// A message written by hand (appendMessage) is byte for byte what
// encoding/xml writes for its tokens (message).
func FuzzAppendMessage(f *testing.F) {
	f.Add("support@support.example.test", "alice@example.test/laptop", "im-1.3", "Ann: <b>hi</b> & \"bye\" 'x'\t\r\n", uint8(imgw.StateActive))
	f.Add("a@b", "c@d", "", "bad \xff utf8 \x00 \x1f \ufffe 💬", uint8(imgw.StateNone))
	f.Add("a@b", "c@d", "x", "", uint8(imgw.StateComposing))
	f.Add("a@b", "c@d", "x", "Ann: <<b>img src=x onerror=alert(1)> &lt;i&gt; ]]> <![CDATA[", uint8(imgw.StateActive))
	f.Fuzz(func(t *testing.T, from, to, id, body string, state uint8) {
		st := imgw.ChatState(state % 6)
		if _, ok := imgw.ParseChatState(st.String()); !ok && st != imgw.StateNone {
			return
		}
		var want bytes.Buffer
		e := xml.NewEncoder(&want)
		toks := message(from, to, id, body, st)
		for _, tok := range toks {
			if err := e.EncodeToken(tok); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := appendMessage(nil, from, to, id, body, st); string(got) != want.String() {
			t.Fatalf("by hand  %q\nencoding/xml %q", got, want.String())
		}
	})
}
