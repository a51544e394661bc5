package xmpp

import (
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/ccswitch/ccswitch/imgw"
)

// Namespaces the adapter reads and writes.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsCaps       = "http://jabber.org/protocol/caps"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsVersion    = "jabber:iq:version"
	nsPing       = "urn:xmpp:ping"
)

// errTooBig is returned by decodeStanza for a stanza over the limit.
var errTooBig = errors.New("stanza too big")

// inStanza is what the adapter reads of one incoming stanza. Strings are
// as received (addresses unparsed); decodeStanza never fails on content
// it does not understand, it just leaves fields empty.
type inStanza struct {
	// Kind is the element name: "message", "presence" or "iq" (or
	// anything else a peer sent).
	Kind               string
	Type, ID, From, To string

	Body    string
	HasBody bool
	// State is the XEP-0085 chat state (StateNone when absent).
	State imgw.ChatState

	// ErrCondition and ErrText of a type="error" stanza.
	ErrCondition, ErrText string

	Show, Status string
	Priority     int
	// CapsNode, CapsVer and CapsHash are the XEP-0115 <c/> of a presence.
	CapsNode, CapsVer, CapsHash string

	// Payload is an IQ's first child element, PayloadNode its node
	// attribute (disco#info).
	Payload     xml.Name
	PayloadNode string

	// Size counts the bytes of names, attributes and text read.
	Size int
}

// isStanzaNS reports whether space is a namespace a stanza's own
// children (body, show, status, priority, error) may have.
func isStanzaNS(space string) bool {
	switch space {
	case "", "jabber:component:accept", "jabber:client", "jabber:server":
		return true
	}
	return false
}

func attrSize(attrs []xml.Attr) int {
	n := 0
	for _, a := range attrs {
		n += len(a.Name.Space) + len(a.Name.Local) + len(a.Value) + 4
	}
	return n
}

// decodeStanza reads one stanza whose start element was already read:
// r yields its children and then (optionally) its end element. It stops
// at the end element or io.EOF. Past max bytes it returns what it has
// and errTooBig; the caller must then discard the rest of the element.
// Other errors come from r.
func decodeStanza(start xml.StartElement, r xml.TokenReader, max int) (inStanza, error) {
	st := inStanza{Kind: start.Name.Local}
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "type":
			st.Type = a.Value
		case "id":
			st.ID = a.Value
		case "from":
			st.From = a.Value
		case "to":
			st.To = a.Value
		}
	}
	st.Size = len(start.Name.Local) + attrSize(start.Attr)
	if st.Size > max {
		return st, errTooBig
	}

	var (
		depth    int    // open elements inside the stanza
		child    string // the depth-1 element we are in, when it matters
		errChild string // the depth-2 element inside <error/>
		text     strings.Builder
		sawShow  bool
		sawStat  bool
		sawPrio  bool
	)
	for {
		tok, err := r.Token()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			st.Size += len(t.Name.Space) + len(t.Name.Local) + attrSize(t.Attr)
			depth++
			switch depth {
			case 1:
				child = ""
				text.Reset()
				local, space := t.Name.Local, t.Name.Space
				switch {
				case space == nsChatStates:
					if s, ok := imgw.ParseChatState(local); ok && s != imgw.StateNone && st.State == imgw.StateNone {
						st.State = s
					}
				case space == nsCaps && local == "c" && st.Kind == "presence":
					for _, a := range t.Attr {
						switch a.Name.Local {
						case "node":
							st.CapsNode = a.Value
						case "ver":
							st.CapsVer = a.Value
						case "hash":
							st.CapsHash = a.Value
						}
					}
				case isStanzaNS(space) && local == "body" && st.Kind == "message" && !st.HasBody:
					child = "body"
				case isStanzaNS(space) && local == "show" && st.Kind == "presence" && !sawShow:
					child, sawShow = "show", true
				case isStanzaNS(space) && local == "status" && st.Kind == "presence" && !sawStat:
					child, sawStat = "status", true
				case isStanzaNS(space) && local == "priority" && st.Kind == "presence" && !sawPrio:
					child, sawPrio = "priority", true
				case isStanzaNS(space) && local == "error" && st.ErrCondition == "":
					child = "error"
				case st.Kind == "iq" && st.Payload.Local == "":
					st.Payload = t.Name
					for _, a := range t.Attr {
						if a.Name.Space == "" && a.Name.Local == "node" {
							st.PayloadNode = a.Value
						}
					}
				}
			case 2:
				errChild = ""
				if child == "error" && t.Name.Space == nsStanzas {
					if t.Name.Local == "text" {
						if st.ErrText == "" {
							errChild = "text"
						}
					} else if st.ErrCondition == "" {
						st.ErrCondition = t.Name.Local
					}
				}
			}
		case xml.EndElement:
			if depth == 0 {
				// The stanza's own end element.
				return st, nil
			}
			if depth == 1 {
				switch child {
				case "body":
					st.Body, st.HasBody = text.String(), true
				case "show":
					st.Show = text.String()
				case "status":
					st.Status = text.String()
				case "priority":
					p, err := strconv.Atoi(strings.TrimSpace(text.String()))
					if err == nil && p >= -128 && p <= 127 {
						st.Priority = p
					}
				}
				child = ""
				text.Reset()
			}
			if depth == 2 && errChild == "text" {
				st.ErrText = text.String()
				text.Reset()
				errChild = ""
			}
			depth--
		case xml.CharData:
			st.Size += len(t)
			if (depth == 1 && child != "" && child != "error") || (depth == 2 && errChild == "text") {
				if st.Size <= max {
					text.Write(t)
				}
			}
		}
		if st.Size > max {
			return st, errTooBig
		}
	}
}

// validShow keeps the four defined <show/> values and drops the rest.
func validShow(s string) string {
	switch s {
	case "chat", "away", "xa", "dnd":
		return s
	}
	return ""
}

// address turns a JID into the gateway's address of that device.
func address(network string, j jid.JID) imgw.Address {
	return imgw.Address{Network: network, User: j.Bare().String(), Device: j.Resourcepart()}
}

// jidCache remembers the addresses a connection parsed: the senders of a
// busy component repeat, and parsing a JID (PRECIS) is costly.
type jidCache struct {
	m map[string]parsedJID
}

type parsedJID struct {
	j   jid.JID
	err error
}

// Bounds of a jidCache: longer strings are parsed every time; past
// maxJIDs entries it starts again.
const (
	maxJIDs      = 4096
	maxCachedJID = 256
)

// parse is jid.Parse, remembered.
func (c *jidCache) parse(s string) (jid.JID, error) {
	if r, ok := c.m[s]; ok {
		return r.j, r.err
	}
	j, err := jid.Parse(s)
	if len(s) <= maxCachedJID {
		if c.m == nil || len(c.m) >= maxJIDs {
			c.m = make(map[string]parsedJID)
		}
		c.m[s] = parsedJID{j, err}
	}
	return j, err
}

// inbound turns a decoded message or presence into the event the gateway
// gets. It reports false for stanzas that are no event: IQs,
// subscriptions, probes, headlines, group chat, messages with neither
// body nor chat state, and anything without a valid sender.
func (st *inStanza) inbound(network string) (imgw.Inbound, bool) {
	return st.inboundParsed(network, jid.Parse)
}

// inboundParsed is inbound with the sender's address parsed by parse.
func (st *inStanza) inboundParsed(network string, parse func(string) (jid.JID, error)) (imgw.Inbound, bool) {
	from, err := parse(st.From)
	if err != nil || st.From == "" {
		return imgw.Inbound{}, false
	}
	in := imgw.Inbound{From: address(network, from)}
	switch st.Kind {
	case "message":
		switch st.Type {
		case "error":
			in.Kind, in.ID, in.Error = imgw.Bounce, st.ID, st.ErrCondition
			if in.Error == "" {
				in.Error = "undefined-condition"
			}
			return in, true
		case "", "normal", "chat":
		default:
			return imgw.Inbound{}, false
		}
		in.ID, in.State = st.ID, st.State
		switch {
		case st.HasBody:
			in.Kind, in.Text = imgw.Message, st.Body
		case st.State != imgw.StateNone:
			in.Kind = imgw.Typing
		default:
			return imgw.Inbound{}, false
		}
		return in, true
	case "presence":
		p := &imgw.PresenceInfo{Status: st.Status, Priority: st.Priority}
		switch st.Type {
		case "":
			p.Available, p.Show = true, validShow(st.Show)
		case "unavailable":
		case "error":
			// The device's server refused us: treat it as gone.
			p.Status = ""
		default:
			return imgw.Inbound{}, false
		}
		in.Kind, in.Presence = imgw.Presence, p
		return in, true
	}
	return imgw.Inbound{}, false
}

// capsClient derives client information from an XEP-0115 caps node. The
// family is the first DNS label of the node's host (www. dropped,
// lower-cased): http://slixmpp.com/ver/1.8.3 is "slixmpp",
// https://gajim.org is "gajim", https://conversations.im is
// "conversations". Known exceptions come from a table (poez.io is
// "poezio", psi-im.org is "psi"), and on a code-hosting site (GitHub,
// GitLab, Codeberg) the project name, the node's second path segment, is
// the family. A node that is no URL counts up to its first '/' or '#'.
// The version is the node's last path segment when that starts with a
// digit (slixmpp puts it there), else empty.
func capsClient(node string) *imgw.ClientInfo {
	if node == "" {
		return nil
	}
	ci := &imgw.ClientInfo{Source: "xep-0115", Node: node}
	host, path := "", ""
	if u, err := url.Parse(node); err == nil && u.Host != "" {
		host, path = u.Hostname(), u.Path
	} else {
		host, path, _ = strings.Cut(node, "/")
		host, _, _ = strings.Cut(host, "#")
		path = "/" + path
	}
	host = strings.TrimPrefix(strings.ToLower(host), "www.")
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	switch {
	case capsFamilies[host] != "":
		ci.Family = capsFamilies[host]
	case codeHosts[host] && len(segs) >= 2:
		ci.Family = strings.ToLower(strings.TrimSuffix(segs[1], ".git"))
	default:
		ci.Family, _, _ = strings.Cut(host, ".")
	}
	if n := len(segs); n > 0 && segs[n-1] != "" && segs[n-1][0] >= '0' && segs[n-1][0] <= '9' {
		ci.Version = segs[n-1]
	}
	return ci
}

// capsFamilies names the clients whose caps host does not start with
// their name.
var capsFamilies = map[string]string{
	"poez.io":                "poezio",
	"psi-im.org":             "psi",
	"psi-plus.com":           "psi+",
	"monal-im.org":           "monal",
	"profanity-im.github.io": "profanity",
}

var codeHosts = map[string]bool{"github.com": true, "gitlab.com": true, "codeberg.org": true}
