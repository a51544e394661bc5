package media

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// SDP is what the switch needs from a session description (RFC 4566): the
// first audio stream, where to send it and which payload types it offers.
type SDP struct {
	Address   string   // connection address of the audio stream: media-level c=, else session-level; "0.0.0.0" is the old (RFC 2543) way of saying hold
	Port      int      // audio port; 0 means the stream is rejected or disabled
	Proto     string   // transport protocol of the m= line, e.g. RTP/AVP
	Formats   []Format // payload types of the m=audio line, in the sender's order of preference
	Direction string   // sendrecv (the default), sendonly, recvonly or inactive: media-level, else session-level
	Ptime     int      // a=ptime in milliseconds, 0 if absent
}

// Format is one payload type of an m= line, with its a=rtpmap if any.
type Format struct {
	PayloadType uint8
	Encoding    string // encoding name from a=rtpmap, else the RFC 3551 name of a static type (PCMU, PCMA), else ""
	ClockRate   int    // from a=rtpmap, else 8000 for PCMU and PCMA, else 0
}

// codec returns the Codec a format is, if it is one the switch speaks: the
// static payload types 0 and 8 with a matching (or no) rtpmap.
func (f Format) codec() (Codec, bool) {
	for _, c := range []Codec{PCMU, PCMA} {
		if f.PayloadType == c.PayloadType() && strings.EqualFold(f.Encoding, c.String()) && f.ClockRate == ClockRate {
			return c, true
		}
	}
	return 0, false
}

// Directions of a media stream (RFC 3264 §5.1).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

func isDirection(s string) bool {
	return s == SendRecv || s == SendOnly || s == RecvOnly || s == Inactive
}

// An SDPError says what is wrong with a session description and on which
// line (1-based; 0 when it concerns the whole description).
type SDPError struct {
	Line int
	Msg  string
}

func (e *SDPError) Error() string {
	if e.Line == 0 {
		return "media: sdp: " + e.Msg
	}
	return fmt.Sprintf("media: sdp: line %d: %s", e.Line, e.Msg)
}

func sdpErrorf(line int, format string, args ...any) error {
	return &SDPError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// maxSDP bounds the description ParseSDP reads; SIP over UDP carries far less.
const maxSDP = 64 << 10

// ParseSDP reads a session description and returns its first audio stream.
// Lines may end in CRLF or LF. It returns an *SDPError naming the line and
// what is wrong with it for a description that does not start with v=0,
// has a line that is not <letter>=<value>, a malformed c=, m=, a=rtpmap or
// a=ptime line, no m=audio line, or an audio stream with a port but no
// connection address. Other lines (o=, s=, t=, b=, other attributes, other
// media) are skipped.
func ParseSDP(body []byte) (SDP, error) {
	if len(body) > maxSDP {
		return SDP{}, sdpErrorf(0, "description is %d bytes, more than %d", len(body), maxSDP)
	}
	var (
		sdp                   SDP
		sessionAddr, sessDir  string
		audioAddr, audioDir   string
		started               bool // v=0 seen
		inMedia, inAudio, got bool // in a media section; in the audio section used; found it
		rtpmaps               = map[uint8]Format{}
	)
	lines := strings.Split(string(body), "\n")
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return SDP{}, sdpErrorf(n, "%q is not a <letter>=<value> line", clip(line))
		}
		typ, val := line[0], line[2:]
		if !started && line != "v=0" {
			return SDP{}, sdpErrorf(n, "want v=0 first, got %q", clip(line))
		}
		started = true
		switch typ {
		case 'm':
			inMedia = true
			inAudio = false
			fields := strings.Fields(val)
			if len(fields) < 4 {
				return SDP{}, sdpErrorf(n, "m= needs media, port, protocol and at least one format, got %q", clip(val))
			}
			if fields[0] != "audio" || got {
				continue
			}
			port, _, _ := strings.Cut(fields[1], "/") // port[/number of ports]
			p, err := strconv.Atoi(port)
			if err != nil || p < 0 || p > 65535 {
				return SDP{}, sdpErrorf(n, "bad audio port %q", clip(fields[1]))
			}
			sdp.Port, sdp.Proto = p, fields[2]
			if strings.HasPrefix(sdp.Proto, "RTP/") {
				for _, f := range fields[3:] {
					pt, err := strconv.ParseUint(f, 10, 8)
					if err != nil || pt > 127 {
						return SDP{}, sdpErrorf(n, "bad payload type %q (want 0-127)", clip(f))
					}
					sdp.Formats = append(sdp.Formats, staticFormat(uint8(pt)))
				}
			}
			inAudio, got = true, true
		case 'c':
			addr, err := parseConnection(val)
			if err != nil {
				return SDP{}, sdpErrorf(n, "%v", err)
			}
			switch {
			case !inMedia:
				sessionAddr = addr
			case inAudio:
				audioAddr = addr
			}
		case 'a':
			name, value, _ := strings.Cut(val, ":")
			switch {
			case isDirection(name) && !inMedia:
				sessDir = name
			case isDirection(name) && inAudio:
				audioDir = name
			case name == "rtpmap" && inAudio:
				f, err := parseRTPMap(value)
				if err != nil {
					return SDP{}, sdpErrorf(n, "%v", err)
				}
				rtpmaps[f.PayloadType] = f
			case name == "ptime" && inAudio:
				ms, err := strconv.Atoi(strings.TrimSpace(value))
				if err != nil || ms <= 0 || ms > 1000 {
					return SDP{}, sdpErrorf(n, "bad ptime %q (want milliseconds, 1-1000)", clip(value))
				}
				sdp.Ptime = ms
			}
		}
	}
	if !started {
		return SDP{}, sdpErrorf(0, "empty description")
	}
	if !got {
		return SDP{}, sdpErrorf(0, "no audio stream (m=audio line)")
	}
	for i, f := range sdp.Formats {
		if m, ok := rtpmaps[f.PayloadType]; ok {
			sdp.Formats[i] = m
		}
	}
	sdp.Address = firstNonEmpty(audioAddr, sessionAddr)
	if sdp.Address == "" && sdp.Port != 0 {
		return SDP{}, sdpErrorf(0, "no connection address (c= line) for the audio stream")
	}
	sdp.Direction = firstNonEmpty(audioDir, sessDir, SendRecv)
	return sdp, nil
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// clip shortens what an error quotes from untrusted input.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// staticFormat returns the format of a payload type before any a=rtpmap.
func staticFormat(pt uint8) Format {
	f := Format{PayloadType: pt}
	switch Codec(pt) {
	case PCMU, PCMA:
		f.Encoding, f.ClockRate = Codec(pt).String(), ClockRate
	}
	return f
}

// parseConnection parses the value of a c= line, "IN IP4 192.0.2.1", and
// returns the address (without a multicast /ttl suffix).
func parseConnection(val string) (string, error) {
	fields := strings.Fields(val)
	if len(fields) != 3 || fields[0] != "IN" || (fields[1] != "IP4" && fields[1] != "IP6") {
		return "", fmt.Errorf("bad connection %q (want IN IP4|IP6 <address>)", clip(val))
	}
	addr, _, _ := strings.Cut(fields[2], "/")
	ip := net.ParseIP(addr)
	if ip == nil || (fields[1] == "IP6") != strings.Contains(addr, ":") {
		return "", fmt.Errorf("connection address %q is not an %s address", clip(addr), fields[1])
	}
	return addr, nil
}

// parseRTPMap parses the value of an a=rtpmap attribute,
// "<payload type> <encoding>/<clock rate>[/<channels>]".
func parseRTPMap(val string) (Format, error) {
	bad := func() (Format, error) {
		return Format{}, fmt.Errorf("bad rtpmap %q (want <payload type> <encoding>/<clock rate>)", clip(val))
	}
	pt, enc, ok := strings.Cut(strings.TrimSpace(val), " ")
	if !ok {
		return bad()
	}
	n, err := strconv.ParseUint(pt, 10, 8)
	if err != nil || n > 127 {
		return bad()
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return bad()
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil || rate <= 0 {
		return bad()
	}
	return Format{PayloadType: uint8(n), Encoding: parts[0], ClockRate: rate}, nil
}

// BuildSDP writes the session description of one audio stream on ip:port
// offering (or answering with) codecs in that order, with a=ptime:20 and
// the direction (sendrecv, sendonly, recvonly or inactive; anything else is
// taken as sendrecv). The session ID doubles as the session version. With no
// codec the switch knows, the stream is rejected: port 0 (RFC 3264 §6).
// Lines end in CRLF.
func BuildSDP(sessionID uint64, ip string, port int, codecs []Codec, direction string) []byte {
	return buildSDP(sessionID, ip, port, codecs, 0, false, direction)
}

// TelephoneEventRange is the a=fmtp value the switch gives its
// telephone-events: the events it reports as digits (0-9, *, #, A-D).
const TelephoneEventRange = "0-15"

// BuildSDPWithEvents is BuildSDP with RFC 4733 telephone-events on the
// dynamic payload type eventPT (96-127) after the codecs:
// a=rtpmap:<eventPT> telephone-event/8000 and a=fmtp:<eventPT> 0-15. Answer
// with the payload type the offer used (NegotiateEvents). A payload type
// outside 96-127, or a rejected stream, gets no events.
func BuildSDPWithEvents(sessionID uint64, ip string, port int, codecs []Codec, eventPT uint8, direction string) []byte {
	return buildSDP(sessionID, ip, port, codecs, eventPT, isDynamic(eventPT), direction)
}

// isDynamic reports whether pt is in the dynamic range of RFC 3551.
func isDynamic(pt uint8) bool { return pt >= 96 && pt <= 127 }

func buildSDP(sessionID uint64, ip string, port int, codecs []Codec, eventPT uint8, events bool, direction string) []byte {
	var known []Codec
	for _, c := range codecs {
		if (c == PCMU || c == PCMA) && !slices.Contains(known, c) {
			known = append(known, c)
		}
	}
	if len(known) == 0 {
		port, known, events = 0, []Codec{PCMU}, false
	}
	if !isDirection(direction) {
		direction = SendRecv
	}
	family := "IP4"
	if strings.Contains(ip, ":") {
		family = "IP6"
	}
	var b bytes.Buffer
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=ccswitch %d %d IN %s %s", sessionID, sessionID, family, ip)
	line("s=ccswitch")
	line("c=IN %s %s", family, ip)
	line("t=0 0")
	pts := make([]string, len(known))
	for i, c := range known {
		pts[i] = strconv.Itoa(int(c.PayloadType()))
	}
	if events {
		pts = append(pts, strconv.Itoa(int(eventPT)))
	}
	line("m=audio %d RTP/AVP %s", port, strings.Join(pts, " "))
	for _, c := range known {
		line("a=rtpmap:%d %s/%d", c.PayloadType(), c, ClockRate)
	}
	if events {
		line("a=rtpmap:%d %s/%d", eventPT, telephoneEvent, ClockRate)
		line("a=fmtp:%d %s", eventPT, TelephoneEventRange)
	}
	line("a=ptime:%d", Ptime.Milliseconds())
	line("a=%s", direction)
	return b.Bytes()
}

// Negotiate picks the codec to answer an offer with: the first format in
// the offer's order (RFC 3264 §6.1: the offerer's preference) that is a
// codec in supported. An offer over anything but plain RTP/AVP (SRTP, for
// example) has none. A nil supported means PCMU and PCMA, PCMU preferred.
func Negotiate(offer SDP, supported []Codec) (Codec, bool) {
	if supported == nil {
		supported = []Codec{PCMU, PCMA}
	}
	if offer.Proto != "RTP/AVP" {
		return 0, false
	}
	for _, f := range offer.Formats {
		if c, ok := f.codec(); ok && slices.Contains(supported, c) {
			return c, true
		}
	}
	return 0, false
}

// telephoneEvent is the encoding name of RFC 4733 named events.
const telephoneEvent = "telephone-event"

// NegotiateEvents returns the payload type on which an offer's RTP/AVP
// audio stream carries RFC 4733 telephone-events at 8000 Hz (the rate of
// the G.711 audio they go with), the first such format in the offer, and
// false when it offers none. Only the dynamic payload types 96-127 count.
func NegotiateEvents(offer SDP) (uint8, bool) {
	if offer.Proto != "RTP/AVP" {
		return 0, false
	}
	for _, f := range offer.Formats {
		if isDynamic(f.PayloadType) && strings.EqualFold(f.Encoding, telephoneEvent) && f.ClockRate == ClockRate {
			return f.PayloadType, true
		}
	}
	return 0, false
}
