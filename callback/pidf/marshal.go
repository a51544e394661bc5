package pidf

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// Marshal writes d as an application/pidf+xml document in RFC 4480's
// words (RPID inside persons, devices and tuples' status; prefixes dm and
// rpid). Parse reads back what Marshal wrote: Marshal(Parse(Marshal(d)))
// is Marshal(d). Activities that are no plain name are written as
// <rpid:other/>.
func (d Document) Marshal() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<presence xmlns="` + NS + `" xmlns:dm="` + DataModelNS + `" xmlns:rpid="` + RPIDNS + `"`)
	if d.Entity != "" {
		writeAttr(&b, "entity", d.Entity)
	}
	b.WriteString(">\n")
	for _, t := range d.Tuples {
		b.WriteString("<tuple")
		writeAttr(&b, "id", t.ID)
		b.WriteString("><status>")
		if t.Basic != "" {
			writeText(&b, "basic", string(t.Basic))
		}
		writeRich(&b, t.Activities, t.UserInput)
		b.WriteString("</status>")
		if t.Contact != "" {
			writeText(&b, "contact", t.Contact)
		}
		for _, n := range t.Notes {
			writeText(&b, "note", n)
		}
		writeTime(&b, "timestamp", t.Timestamp)
		b.WriteString("</tuple>\n")
	}
	for _, p := range d.Persons {
		b.WriteString("<dm:person")
		writeAttr(&b, "id", p.ID)
		b.WriteString(">")
		writeRich(&b, p.Activities, p.UserInput)
		for _, n := range p.Notes {
			writeText(&b, "dm:note", n)
		}
		writeTime(&b, "dm:timestamp", p.Timestamp)
		b.WriteString("</dm:person>\n")
	}
	for _, dev := range d.Devices {
		b.WriteString("<dm:device")
		writeAttr(&b, "id", dev.ID)
		b.WriteString(">")
		writeRich(&b, nil, dev.UserInput)
		if dev.DeviceID != "" {
			writeText(&b, "dm:deviceID", dev.DeviceID)
		}
		for _, n := range dev.Notes {
			writeText(&b, "dm:note", n)
		}
		writeTime(&b, "dm:timestamp", dev.Timestamp)
		b.WriteString("</dm:device>\n")
	}
	for _, n := range d.Notes {
		writeText(&b, "note", n)
	}
	b.WriteString("</presence>\n")
	return []byte(b.String())
}

func writeAttr(b *strings.Builder, name, value string) {
	b.WriteString(" " + name + `="`)
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString(`"`)
}

func writeText(b *strings.Builder, name, value string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("</" + name + ">")
}

func writeTime(b *strings.Builder, name string, t time.Time) {
	if !t.IsZero() {
		writeText(b, name, t.Format(time.RFC3339Nano))
	}
}

func writeRich(b *strings.Builder, acts []Activity, u *UserInput) {
	if len(acts) > 0 {
		b.WriteString("<rpid:activities>")
		for _, a := range acts {
			if !plainName(string(a)) {
				a = OtherActivity
			}
			b.WriteString("<rpid:" + string(a) + "/>")
		}
		b.WriteString("</rpid:activities>")
	}
	if u == nil {
		return
	}
	b.WriteString("<rpid:user-input")
	if !u.LastInput.IsZero() {
		writeAttr(b, "last-input", u.LastInput.Format(time.RFC3339Nano))
	}
	if secs := int64(u.IdleThreshold / time.Second); secs > 0 {
		writeAttr(b, "idle-threshold", strconv.FormatInt(secs, 10))
	}
	if u.Idle {
		b.WriteString(">idle</rpid:user-input>")
	} else {
		b.WriteString(">active</rpid:user-input>")
	}
}

// plainName reports whether s can be written as an element's local
// name: an XML name without a colon (as the decoder gave it) that is not
// "activity", which the drafts' dialect reads as text.
func plainName(s string) bool {
	if s == "" || s == "activity" || strings.ContainsAny(s, ": \t\r\n<>&\"'/=") {
		return false
	}
	return xml.Unmarshal([]byte("<"+s+"/>"), new(struct{})) == nil
}
