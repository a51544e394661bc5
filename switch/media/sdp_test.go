package media

import (
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
)

// crlf turns a readable multi-line literal into SDP with CRLF line ends.
func crlf(s string) string {
	return strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n")
}

var (
	sippOffer = crlf(`
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`)
	softphoneOffer = crlf(`
v=0
o=- 1234 5678 IN IP4 192.168.1.10
s=-
c=IN IP4 192.168.1.10
t=0 0
m=audio 10000 RTP/AVP 111 8 0 101
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
m=video 10002 RTP/AVP 96
c=IN IP4 10.9.9.9
a=rtpmap:96 H264/90000
a=recvonly
`)
)

func TestParseSDP(t *testing.T) {
	pcmu, pcma := Format{0, "PCMU", 8000}, Format{8, "PCMA", 8000}
	cases := []struct {
		name, body string
		want       SDP
	}{
		{"sipp", sippOffer, SDP{Address: "127.0.0.1", Port: 6000, Proto: "RTP/AVP", Formats: []Format{pcmu}, Direction: SendRecv}},
		{"softphone", softphoneOffer, SDP{Address: "192.168.1.10", Port: 10000, Proto: "RTP/AVP",
			Formats:   []Format{{111, "opus", 48000}, pcma, pcmu, {101, "telephone-event", 8000}},
			Direction: SendRecv, Ptime: 20}},
		{"static types without rtpmap, LF only, media-level c= and session direction",
			"v=0\nc=IN IP4 10.0.0.1\na=sendonly\nm=audio 4000/2 RTP/AVP 8 0 18\nc=IN IP4 10.0.0.2/127\n",
			SDP{Address: "10.0.0.2", Port: 4000, Proto: "RTP/AVP", Formats: []Format{pcma, pcmu, {PayloadType: 18}}, Direction: SendOnly}},
		{"old-style hold", crlf("v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\na=inactive\n"),
			SDP{Address: "0.0.0.0", Port: 4000, Proto: "RTP/AVP", Formats: []Format{pcmu}, Direction: Inactive}},
		{"rejected stream needs no address", "v=0\nm=audio 0 RTP/AVP 0\n",
			SDP{Port: 0, Proto: "RTP/AVP", Formats: []Format{pcmu}, Direction: SendRecv}},
		{"ipv6", "v=0\nc=IN IP6 ::1\nm=audio 5004 RTP/AVP 0\n",
			SDP{Address: "::1", Port: 5004, Proto: "RTP/AVP", Formats: []Format{pcmu}, Direction: SendRecv}},
		{"second audio stream ignored", "v=0\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 8\nm=audio 6004 RTP/AVP 0\na=rtpmap:8 foo/1\nc=IN IP4 9.9.9.9\n",
			SDP{Address: "1.2.3.4", Port: 5004, Proto: "RTP/AVP", Formats: []Format{pcma}, Direction: SendRecv}},
		{"non-RTP audio keeps no formats", "v=0\nc=IN IP4 1.2.3.4\nm=audio 5004 udp t38\n",
			SDP{Address: "1.2.3.4", Port: 5004, Proto: "udp", Direction: SendRecv}},
	}
	for _, c := range cases {
		got, err := ParseSDP([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseSDPErrors(t *testing.T) {
	cases := []struct {
		name, body string
		line       int
		want       string
	}{
		{"empty", "", 0, "empty description"},
		{"blank lines", "\r\n\r\n", 0, "empty description"},
		{"not sdp", "hello world", 1, `"hello world" is not a <letter>=<value> line`},
		{"version", "v=1\r\n", 1, "want v=0 first"},
		{"version missing", "o=- 1 1 IN IP4 1.2.3.4\r\n", 1, "want v=0 first"},
		{"upper-case type", "v=0\r\nM=audio 4000 RTP/AVP 0\r\n", 2, "not a <letter>=<value> line"},
		{"no audio", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 4000 RTP/AVP 96\r\n", 0, "no audio stream"},
		{"short m=", "v=0\r\nm=audio 4000 RTP/AVP\r\n", 2, "m= needs media, port, protocol and at least one format"},
		{"bad port", "v=0\r\nm=audio http RTP/AVP 0\r\n", 2, `bad audio port "http"`},
		{"port too big", "v=0\r\nm=audio 70000 RTP/AVP 0\r\n", 2, `bad audio port "70000"`},
		{"negative port", "v=0\r\nm=audio -4 RTP/AVP 0\r\n", 2, `bad audio port "-4"`},
		{"bad payload type", "v=0\r\nm=audio 4000 RTP/AVP 0 PCMA\r\n", 2, `bad payload type "PCMA"`},
		{"payload type too big", "v=0\r\nm=audio 4000 RTP/AVP 128\r\n", 2, `bad payload type "128"`},
		{"no address", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", 0, "no connection address"},
		{"address on other media only", "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\n", 0, "no connection address"},
		{"short c=", "v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n", 2, "bad connection"},
		{"c= not IN", "v=0\r\nc=ATM NSAP 1\r\nm=audio 4000 RTP/AVP 0\r\n", 2, "bad connection"},
		{"c= hostname", "v=0\r\nc=IN IP4 pbx.example.com\r\nm=audio 4000 RTP/AVP 0\r\n", 2, `"pbx.example.com" is not an IP4 address`},
		{"c= family mismatch", "v=0\r\nc=IN IP4 ::1\r\nm=audio 4000 RTP/AVP 0\r\n", 2, `"::1" is not an IP4 address`},
		{"rtpmap without rate", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", 4, "bad rtpmap"},
		{"rtpmap bad type", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n", 4, "bad rtpmap"},
		{"rtpmap bad rate", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/fast\r\n", 4, "bad rtpmap"},
		{"bad ptime", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:twenty\r\n", 4, `bad ptime "twenty"`},
		{"huge", "v=0\r\n" + strings.Repeat("a=x\r\n", maxSDP/5), 0, "more than"},
	}
	for _, c := range cases {
		_, err := ParseSDP([]byte(c.body))
		var se *SDPError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v, want an *SDPError", c.name, err)
			continue
		}
		if se.Line != c.line || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "media: sdp: ") {
			t.Errorf("%s: %q (line %d), want line %d and %q", c.name, err, se.Line, c.line, c.want)
		}
	}
}

func TestBuildSDP(t *testing.T) {
	got := string(BuildSDP(42, "127.0.0.1", 20000, []Codec{PCMU, PCMA}, SendRecv))
	want := crlf(`
v=0
o=ccswitch 42 42 IN IP4 127.0.0.1
s=ccswitch
c=IN IP4 127.0.0.1
t=0 0
m=audio 20000 RTP/AVP 0 8
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=ptime:20
a=sendrecv
`)
	if got != want {
		t.Errorf("BuildSDP:\n%s\nwant\n%s", got, want)
	}

	cases := []struct {
		name      string
		ip        string
		port      int
		codecs    []Codec
		direction string
		want      SDP
	}{
		{"answer PCMA on hold", "10.1.2.3", 30000, []Codec{PCMA}, SendOnly,
			SDP{Address: "10.1.2.3", Port: 30000, Proto: "RTP/AVP", Formats: []Format{{8, "PCMA", 8000}}, Direction: SendOnly, Ptime: 20}},
		{"inactive, duplicates dropped", "10.1.2.3", 30000, []Codec{PCMA, PCMU, PCMA}, Inactive,
			SDP{Address: "10.1.2.3", Port: 30000, Proto: "RTP/AVP", Formats: []Format{{8, "PCMA", 8000}, {0, "PCMU", 8000}}, Direction: Inactive, Ptime: 20}},
		{"unknown direction is sendrecv", "10.1.2.3", 30000, []Codec{PCMU}, "sideways",
			SDP{Address: "10.1.2.3", Port: 30000, Proto: "RTP/AVP", Formats: []Format{{0, "PCMU", 8000}}, Direction: SendRecv, Ptime: 20}},
		{"no codec rejects the stream", "10.1.2.3", 30000, []Codec{Codec(18)}, RecvOnly,
			SDP{Address: "10.1.2.3", Port: 0, Proto: "RTP/AVP", Formats: []Format{{0, "PCMU", 8000}}, Direction: RecvOnly, Ptime: 20}},
		{"ipv6", "2001:db8::1", 30002, []Codec{PCMU}, SendRecv,
			SDP{Address: "2001:db8::1", Port: 30002, Proto: "RTP/AVP", Formats: []Format{{0, "PCMU", 8000}}, Direction: SendRecv, Ptime: 20}},
	}
	for _, c := range cases {
		body := BuildSDP(7, c.ip, c.port, c.codecs, c.direction)
		got, err := ParseSDP(body)
		if err != nil {
			t.Errorf("%s: BuildSDP output does not parse: %v\n%s", c.name, err, body)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	mustParse := func(body string) SDP {
		t.Helper()
		s, err := ParseSDP([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	offer := func(formats string, extra ...string) SDP {
		return mustParse("v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP " + formats + "\n" + strings.Join(extra, "\n"))
	}
	both := []Codec{PCMU, PCMA}
	cases := []struct {
		name      string
		offer     SDP
		supported []Codec
		want      Codec
		ok        bool
	}{
		{"sipp PCMU", mustParse(sippOffer), both, PCMU, true},
		{"softphone: opus skipped, PCMA first", mustParse(softphoneOffer), both, PCMA, true},
		{"offerer's order wins over ours", offer("8 0"), both, PCMA, true},
		{"PCMU first", offer("0 8"), []Codec{PCMA, PCMU}, PCMU, true},
		{"only PCMU supported", offer("8 0"), []Codec{PCMU}, PCMU, true},
		{"nil supported: both, PCMU preferred in our list", offer("18 0 8"), nil, PCMU, true},
		{"nothing in common", offer("18 9"), both, 0, false},
		{"PCMA offered, only PCMU supported", offer("8"), []Codec{PCMU}, 0, false},
		{"empty supported", offer("0"), []Codec{}, 0, false},
		{"static type remapped to something else", offer("0 8", "a=rtpmap:0 opus/48000"), both, PCMA, true},
		{"case-insensitive encoding", offer("0", "a=rtpmap:0 pcmu/8000"), both, PCMU, true},
		{"wrong clock rate", offer("0", "a=rtpmap:0 PCMU/16000"), both, 0, false},
		{"dynamic PCMU is not used", offer("97", "a=rtpmap:97 PCMU/8000"), both, 0, false},
		{"SRTP", mustParse("v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/SAVP 0\n"), both, 0, false},
	}
	for _, c := range cases {
		got, ok := Negotiate(c.offer, c.supported)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: Negotiate = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestNegotiateEvents(t *testing.T) {
	parse := func(body string) SDP {
		t.Helper()
		s, err := ParseSDP([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	offer := func(formats string, extra ...string) SDP {
		return parse("v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP " + formats + "\n" + strings.Join(extra, "\n"))
	}
	cases := []struct {
		name  string
		offer SDP
		want  uint8
		ok    bool
	}{
		{"softphone, 101", parse(softphoneOffer), 101, true},
		{"sipp without events", parse(sippOffer), 0, false},
		{"the 8 kHz one of two", offer("0 100 101", "a=rtpmap:100 telephone-event/48000", "a=rtpmap:101 TELEPHONE-EVENT/8000"), 101, true},
		{"first of two", offer("0 96 97", "a=rtpmap:96 telephone-event/8000", "a=rtpmap:97 telephone-event/8000"), 96, true},
		{"no rtpmap for the dynamic type", offer("0 101"), 0, false},
		{"a static payload type is not used", offer("0 13", "a=rtpmap:13 telephone-event/8000"), 0, false},
		{"SRTP", parse("v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/SAVP 0 101\na=rtpmap:101 telephone-event/8000\n"), 0, false},
	}
	for _, c := range cases {
		got, ok := NegotiateEvents(c.offer)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: NegotiateEvents = %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
		if codec, ok := Negotiate(c.offer, nil); c.name == "softphone, 101" && (!ok || codec != PCMA) {
			t.Errorf("%s: events changed the codec: %v %v", c.name, codec, ok)
		}
	}
}

func TestBuildSDPWithEvents(t *testing.T) {
	got := string(BuildSDPWithEvents(42, "127.0.0.1", 20000, []Codec{PCMA}, 101, SendRecv))
	want := crlf(`
v=0
o=ccswitch 42 42 IN IP4 127.0.0.1
s=ccswitch
c=IN IP4 127.0.0.1
t=0 0
m=audio 20000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
`)
	if got != want {
		t.Errorf("BuildSDPWithEvents:\n%s\nwant\n%s", got, want)
	}
	// The answer negotiates back to the same codec and events.
	back, err := ParseSDP([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := Negotiate(back, nil); !ok || c != PCMA {
		t.Errorf("codec %v %v, want PCMA", c, ok)
	}
	if pt, ok := NegotiateEvents(back); !ok || pt != 101 {
		t.Errorf("events %d %v, want 101", pt, ok)
	}
	// Without a dynamic payload type, or with the stream rejected, no
	// events; BuildSDP has none.
	for name, body := range map[string][]byte{
		"static type": BuildSDPWithEvents(1, "127.0.0.1", 20000, []Codec{PCMU}, 13, SendRecv),
		"rejected":    BuildSDPWithEvents(1, "127.0.0.1", 20000, nil, 101, SendRecv),
		"plain":       BuildSDP(1, "127.0.0.1", 20000, []Codec{PCMU}, SendRecv),
	} {
		if strings.Contains(string(body), "telephone-event") || strings.Contains(string(body), "fmtp") {
			t.Errorf("%s: events offered:\n%s", name, body)
		}
	}
}

func TestCodec(t *testing.T) {
	if PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 {
		t.Error("payload types")
	}
	if PCMU.String() != "PCMU" || PCMA.String() != "PCMA" || Codec(3).String() != "Codec(3)" {
		t.Error("codec names")
	}
}

// FuzzParseSDP: no input makes ParseSDP panic, and what it accepts is
// consistent: ports in range, valid directions, addresses that are IPs,
// and a description built from it parses back to the same stream.
func FuzzParseSDP(f *testing.F) {
	for _, s := range []string{sippOffer, softphoneOffer, "v=0\nm=audio 0 RTP/AVP 0\n", "v=0\r\nc=IN IP6 ::1\r\nm=audio 1/2 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000/1\r\n",
		string(BuildSDP(1, "10.0.0.1", 4000, []Codec{PCMA, PCMU}, SendOnly)), "v=0\nm=audio 4000 RTP/AVP 0 PCMA\n", "v=0\n\x00=\n", "v=0\nc=IN IP4 1.2.3.4/\nm=audio 4000 udp\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSDP(body)
		if err != nil {
			var se *SDPError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "media: sdp: ") {
				t.Fatalf("error %v is not an *SDPError", err)
			}
			return
		}
		if s.Port < 0 || s.Port > 65535 || !isDirection(s.Direction) {
			t.Fatalf("accepted %+v", s)
		}
		if s.Address != "" && net.ParseIP(s.Address) == nil {
			t.Fatalf("address %q is not an IP", s.Address)
		}
		if s.Port != 0 && s.Address == "" {
			t.Fatalf("port %d without an address", s.Port)
		}
		var codecs []Codec
		for _, fm := range s.Formats {
			if fm.PayloadType > 127 {
				t.Fatalf("payload type %d", fm.PayloadType)
			}
			if c, ok := fm.codec(); ok {
				codecs = append(codecs, c)
			}
		}
		if s.Address == "" || len(codecs) == 0 || s.Port == 0 || s.Proto != "RTP/AVP" {
			return
		}
		back, err := ParseSDP(BuildSDP(1, s.Address, s.Port, codecs, s.Direction))
		if err != nil {
			t.Fatalf("rebuilt description does not parse: %v", err)
		}
		c1, ok1 := Negotiate(s, nil)
		c2, ok2 := Negotiate(back, nil)
		if back.Address != s.Address || back.Port != s.Port || back.Direction != s.Direction || c1 != c2 || ok1 != ok2 {
			t.Fatalf("round trip %+v -> %+v", s, back)
		}
	})
}
