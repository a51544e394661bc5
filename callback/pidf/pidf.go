// Package pidf reads presence documents, application/pidf+xml (RFC 3863),
// with the rich presence extensions of RPID (RFC 4480: activities such as
// busy, on-the-phone, away; user-input idle) and the data model's persons
// and devices (RFC 4479), as real phones send them: baresip, Linphone,
// and the older RPID draft dialect of X-Lite, eyeBeam and Bria.
// Namespaces are matched by URI, never by prefix.
//
// Parse bounds what it reads (MaxSize, MaxElements, MaxDepth) and names
// what is wrong in its errors; Document.Show says what a document means in
// the callback domain's words (callback.Show and when the user went idle).
// The package is pure: encoding/xml, no I/O.
package pidf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The namespaces Parse understands.
const (
	// NS is PIDF's (RFC 3863): presence, tuple, status, basic, contact,
	// note, timestamp.
	NS = "urn:ietf:params:xml:ns:pidf"
	// DataModelNS is the data model's (RFC 4479): person, device,
	// deviceID, note, timestamp.
	DataModelNS = "urn:ietf:params:xml:ns:pidf:data-model"
	// RPIDNS is RPID's (RFC 4480): activities, user-input.
	RPIDNS = "urn:ietf:params:xml:ns:pidf:rpid"
	// draftPersonNS is the person element of the RPID drafts, which
	// X-Lite, eyeBeam and Bria still send (pp:person with a status
	// holding ep:activities, each <ep:activity>away</ep:activity>).
	draftPersonNS = "urn:ietf:params:xml:ns:pidf:person"
)

// Bounds of what Parse reads: a presence document from a phone is a few
// hundred bytes, a handful of elements, five levels deep.
const (
	// MaxSize is the largest document Parse reads, in bytes.
	MaxSize = 64 << 10
	// MaxElements bounds the tuples, and separately the persons and the
	// devices, of a document.
	MaxElements = 32
	// MaxDepth bounds how deep elements nest.
	MaxDepth = 16
)

// Basic is a tuple's basic status (RFC 3863 §4.1.4).
type Basic string

// The basic statuses; a tuple may have none.
const (
	Open   Basic = "open"
	Closed Basic = "closed"
)

// Activity is what the person is doing (RFC 4480 §3.2), by its element
// name in RPID's namespace: "busy", "on-the-phone", "away", ... An
// activity the RPID drafts wrote as text ("On the phone") is lower case
// with dashes for spaces; one that is not a plain name then is "other".
type Activity string

// The activities Show maps (RFC 4480 §3.2 has more; any other name is
// kept as it came and says nothing of the show).
const (
	Appointment      Activity = "appointment"
	AwayActivity     Activity = "away"
	Breakfast        Activity = "breakfast"
	BusyActivity     Activity = "busy"
	Dinner           Activity = "dinner"
	Holiday          Activity = "holiday"
	InTransit        Activity = "in-transit"
	Meal             Activity = "meal"
	Meeting          Activity = "meeting"
	OnThePhone       Activity = "on-the-phone"
	Performance      Activity = "performance"
	PermanentAbsence Activity = "permanent-absence"
	Presentation     Activity = "presentation"
	Shopping         Activity = "shopping"
	Sleeping         Activity = "sleeping"
	Steering         Activity = "steering"
	Travel           Activity = "travel"
	Vacation         Activity = "vacation"
	Worship          Activity = "worship"
	OtherActivity    Activity = "other"
	UnknownActivity  Activity = "unknown"
)

// UserInput is RPID's user-input (RFC 4480 §3.15): whether the user has
// touched the device lately.
type UserInput struct {
	// Idle: no input for IdleThreshold (the element says "idle"; else
	// "active").
	Idle bool
	// LastInput is when the user last gave input (zero: not said).
	LastInput time.Time
	// IdleThreshold is how long without input counts as idle (zero: not
	// said).
	IdleThreshold time.Duration
}

// Tuple is one PIDF tuple: a way to reach the presentity (RFC 3863 §4.1.2).
type Tuple struct {
	ID    string
	Basic Basic // "" when the status has no basic
	// Activities and UserInput that a status carries in the RPID drafts'
	// dialect, or RFC 4480's inside a tuple.
	Activities []Activity
	UserInput  *UserInput
	Contact    string
	Notes      []string
	Timestamp  time.Time
}

// Person is the data model's person (RFC 4479 §3.2): what the human is
// doing, whatever device.
type Person struct {
	ID         string
	Activities []Activity
	UserInput  *UserInput
	Notes      []string
	Timestamp  time.Time
}

// Device is the data model's device (RFC 4479 §3.3): a phone, a PC.
type Device struct {
	ID        string
	DeviceID  string
	UserInput *UserInput
	Notes     []string
	Timestamp time.Time
}

// Document is a presence document: what one presentity's device
// publishes.
type Document struct {
	Entity  string // the presentity's URI ("sip:alice@example.com", "pres:...")
	Tuples  []Tuple
	Persons []Person
	Devices []Device
	Notes   []string
}

// node is an element of the document read so far.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

// Parse reads an application/pidf+xml document. It refuses, with an error
// naming what is wrong, a document over MaxSize bytes, one that is not
// well-formed XML or has a DOCTYPE, one whose root is not PIDF's
// <presence>, one with more than MaxElements tuples (or persons, or
// devices) or elements nested deeper than MaxDepth, a <basic> other than
// open or closed, a <user-input> other than active or idle, malformed
// timestamps, and an element it does not know marked mustUnderstand
// (RFC 3863 §4.1.6). Other unknown elements are ignored, as RFC 3863
// asks.
func Parse(b []byte) (Document, error) {
	if len(b) > MaxSize {
		return Document{}, fmt.Errorf("pidf: document is %d bytes, over the limit of %d", len(b), MaxSize)
	}
	root, err := readTree(b)
	if err != nil {
		return Document{}, err
	}
	if root == nil {
		return Document{}, errors.New("pidf: no <presence> root")
	}
	if root.name.Space != NS || root.name.Local != "presence" {
		return Document{}, fmt.Errorf("pidf: no <presence> root: the root is %s", describe(root.name))
	}
	return readPresence(root)
}

// readTree reads b into a tree of elements, within MaxDepth.
func readTree(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return nil, fmt.Errorf("pidf: document ends inside %s", describe(stack[len(stack)-1].name))
			}
			return root, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pidf: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, errors.New("pidf: more than one root element")
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("pidf: elements nested deeper than %d", MaxDepth)
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if root == nil {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1] // the decoder checked that it matches
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("pidf: text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("pidf: <!DOCTYPE> and other directives are not allowed")
		}
	}
}

// describe names an element for an error: <presence>, or <foo> in
// namespace "urn:x".
func describe(n xml.Name) string {
	switch n.Space {
	case NS, DataModelNS, RPIDNS:
		return "<" + n.Local + ">"
	case "":
		return "<" + n.Local + "> without a namespace"
	}
	return fmt.Sprintf("<%s> in namespace %q", n.Local, n.Space)
}

func attr(n *node, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == NS) {
			return a.Value, true
		}
	}
	return "", false
}

func text(n *node) string { return strings.TrimSpace(n.text.String()) }

// mustUnderstand refuses an element Parse does not know that says it
// must be understood.
func mustUnderstand(where string, n *node) error {
	v, ok := attr(n, "mustUnderstand")
	if ok && (strings.TrimSpace(v) == "true" || strings.TrimSpace(v) == "1") {
		return fmt.Errorf("pidf: %s%s must be understood and is not", where, describe(n.name))
	}
	return nil
}

func readPresence(root *node) (Document, error) {
	var doc Document
	doc.Entity, _ = attr(root, "entity")
	for _, c := range root.children {
		switch {
		case c.name.Space == NS && c.name.Local == "tuple":
			if len(doc.Tuples) == MaxElements {
				return Document{}, fmt.Errorf("pidf: more than %d tuples", MaxElements)
			}
			t, err := readTuple(fmt.Sprintf("tuple %d: ", len(doc.Tuples)+1), c)
			if err != nil {
				return Document{}, err
			}
			doc.Tuples = append(doc.Tuples, t)
		case c.name.Space == NS && c.name.Local == "note":
			doc.Notes = appendNote(doc.Notes, c)
		case c.name.Local == "person" && (c.name.Space == DataModelNS || c.name.Space == draftPersonNS):
			if len(doc.Persons) == MaxElements {
				return Document{}, fmt.Errorf("pidf: more than %d persons", MaxElements)
			}
			p, err := readPerson(fmt.Sprintf("person %d: ", len(doc.Persons)+1), c)
			if err != nil {
				return Document{}, err
			}
			doc.Persons = append(doc.Persons, p)
		case c.name.Space == DataModelNS && c.name.Local == "device":
			if len(doc.Devices) == MaxElements {
				return Document{}, fmt.Errorf("pidf: more than %d devices", MaxElements)
			}
			d, err := readDevice(fmt.Sprintf("device %d: ", len(doc.Devices)+1), c)
			if err != nil {
				return Document{}, err
			}
			doc.Devices = append(doc.Devices, d)
		default:
			if err := mustUnderstand("", c); err != nil {
				return Document{}, err
			}
		}
	}
	return doc, nil
}

func appendNote(notes []string, n *node) []string {
	if s := text(n); s != "" {
		return append(notes, s)
	}
	return notes
}

// rich is what RPID says inside a tuple's status, a person or a device.
type rich struct {
	activities []Activity
	userInput  *UserInput
}

// readRich takes n if it is an RPID element (activities, user-input);
// it reports whether it was one.
func (r *rich) readRich(where string, n *node) (bool, error) {
	if !isRPID(n.name.Space) {
		return false, nil
	}
	switch n.name.Local {
	case "activities":
		for _, a := range n.children {
			if !isRPID(a.name.Space) {
				continue
			}
			if a.name.Local == "activity" { // the drafts' dialect: the name as text
				if s := text(a); s != "" {
					r.activities = append(r.activities, activityOf(s))
				}
				continue
			}
			r.activities = append(r.activities, Activity(a.name.Local))
		}
		return true, nil
	case "user-input":
		u, err := readUserInput(where, n)
		if err != nil {
			return true, err
		}
		r.userInput = u
		return true, nil
	}
	return false, nil
}

// isRPID reports whether ns is RPID's, or one of its drafts' (X-Lite and
// Bria: ...:pidf:rpid:rpid-status, ...:pidf:rpid:rpid-person; older:
// ...:pidf:status:rpid-status).
func isRPID(ns string) bool {
	return ns == RPIDNS || strings.HasPrefix(ns, RPIDNS+":") || strings.HasPrefix(ns, "urn:ietf:params:xml:ns:pidf:status:rpid")
}

// activityOf is the activity a draft wrote as text: lower case, dashes
// for spaces; "other" when that is no plain name.
func activityOf(s string) Activity {
	s = strings.Join(strings.Fields(strings.ToLower(s)), "-")
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'):
		default:
			return OtherActivity
		}
	}
	return Activity(s)
}

func readUserInput(where string, n *node) (*UserInput, error) {
	u := &UserInput{}
	switch v := text(n); v {
	case "idle":
		u.Idle = true
	case "active":
	default:
		return nil, fmt.Errorf("pidf: %s<user-input> is %q, want active or idle", where, v)
	}
	if v, ok := attr(n, "last-input"); ok {
		t, err := parseTime(v)
		if err != nil {
			return nil, fmt.Errorf("pidf: %s<user-input> last-input %q is not a date and time", where, v)
		}
		u.LastInput = t
	}
	if v, ok := attr(n, "idle-threshold"); ok {
		secs, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || secs == 0 {
			return nil, fmt.Errorf("pidf: %s<user-input> idle-threshold %q is not a positive number of seconds", where, v)
		}
		u.IdleThreshold = time.Duration(secs) * time.Second
	}
	return u, nil
}

// parseTime reads an xs:dateTime: RFC 3339, or without a zone (UTC).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

func readTimestamp(where string, n *node) (time.Time, error) {
	t, err := parseTime(text(n))
	if err != nil {
		return time.Time{}, fmt.Errorf("pidf: %s<timestamp> %q is not a date and time", where, text(n))
	}
	return t, nil
}

func readTuple(where string, n *node) (Tuple, error) {
	t := Tuple{}
	t.ID, _ = attr(n, "id")
	var r rich
	for _, c := range n.children {
		if c.name.Space != NS {
			if err := mustUnderstand(where, c); err != nil {
				return Tuple{}, err
			}
			continue
		}
		switch c.name.Local {
		case "status":
			for _, s := range c.children {
				switch {
				case s.name.Space == NS && s.name.Local == "basic":
					if t.Basic != "" {
						return Tuple{}, fmt.Errorf("pidf: %smore than one <basic>", where)
					}
					switch v := Basic(text(s)); v {
					case Open, Closed:
						t.Basic = v
					default:
						return Tuple{}, fmt.Errorf("pidf: %s<basic> is %q, want open or closed", where, v)
					}
				default:
					ok, err := r.readRich(where, s)
					if err != nil {
						return Tuple{}, err
					}
					if !ok {
						if err := mustUnderstand(where, s); err != nil {
							return Tuple{}, err
						}
					}
				}
			}
		case "contact":
			t.Contact = text(c)
		case "note":
			t.Notes = appendNote(t.Notes, c)
		case "timestamp":
			ts, err := readTimestamp(where, c)
			if err != nil {
				return Tuple{}, err
			}
			t.Timestamp = ts
		}
	}
	t.Activities, t.UserInput = r.activities, r.userInput
	return t, nil
}

// readPerson reads a data model person, or a draft one whose RPID sits
// in a <status>.
func readPerson(where string, n *node) (Person, error) {
	p := Person{}
	p.ID, _ = attr(n, "id")
	var r rich
	for _, c := range n.children {
		if c.name.Local == "status" && !isRPID(c.name.Space) { // the drafts' person
			for _, s := range c.children {
				if _, err := r.readRich(where, s); err != nil {
					return Person{}, err
				}
			}
			continue
		}
		ok, err := r.readRich(where, c)
		if err != nil {
			return Person{}, err
		}
		if ok {
			continue
		}
		notes, ts, err := readCommon(where, c, p.Notes, p.Timestamp)
		if err != nil {
			return Person{}, err
		}
		p.Notes, p.Timestamp = notes, ts
	}
	p.Activities, p.UserInput = r.activities, r.userInput
	return p, nil
}

func readDevice(where string, n *node) (Device, error) {
	d := Device{}
	d.ID, _ = attr(n, "id")
	var r rich
	for _, c := range n.children {
		ok, err := r.readRich(where, c)
		if err != nil {
			return Device{}, err
		}
		if ok {
			continue
		}
		if c.name.Space == DataModelNS && c.name.Local == "deviceID" {
			d.DeviceID = text(c)
			continue
		}
		notes, ts, err := readCommon(where, c, d.Notes, d.Timestamp)
		if err != nil {
			return Device{}, err
		}
		d.Notes, d.Timestamp = notes, ts
	}
	d.UserInput = r.userInput
	return d, nil
}

// readCommon reads the note and timestamp of a person or device (in the
// data model's namespace, or PIDF's as some clients write them).
func readCommon(where string, c *node, notes []string, ts time.Time) ([]string, time.Time, error) {
	if c.name.Space != DataModelNS && c.name.Space != NS && c.name.Space != draftPersonNS {
		return notes, ts, mustUnderstand(where, c)
	}
	switch c.name.Local {
	case "note":
		notes = appendNote(notes, c)
	case "timestamp":
		t, err := readTimestamp(where, c)
		if err != nil {
			return nil, time.Time{}, err
		}
		ts = t
	}
	return notes, ts, nil
}
