package pidf

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/callback"
)

// at is when the documents of the tests arrive.
var at = time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC)

// Samples as the phones send them (the entity and ids changed).
const (
	// baresip's presence module (modules/presence/publisher.c).
	baresipOpen = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>` + "\r\n" +
		`<presence xmlns="urn:ietf:params:xml:ns:pidf"` + "\r\n" +
		`    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"` + "\r\n" +
		`    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"` + "\r\n" +
		`    entity="sip:alice@example.com">` + "\r\n" +
		`  <dm:person id="p4159"><rpid:activities/></dm:person>` + "\r\n" +
		`  <tuple id="t4109">` + "\r\n" +
		`    <status>` + "\r\n" +
		`      <basic>open</basic>` + "\r\n" +
		`    </status>` + "\r\n" +
		`    <contact>sip:alice@example.com</contact>` + "\r\n" +
		`  </tuple>` + "\r\n" +
		`</presence>` + "\r\n"

	// Linphone, status "away" (RFC 4480, the data model's person).
	linphoneAway = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.org">
  <tuple id="qmjhrl">
    <status>
      <basic>open</basic>
    </status>
    <contact>sip:alice@example.org</contact>
    <timestamp>2026-12-02T08:00:00Z</timestamp>
  </tuple>
  <dm:person id="wggzmp">
    <rpid:activities>
      <rpid:away/>
    </rpid:activities>
    <dm:timestamp>2026-12-02T08:00:00Z</dm:timestamp>
  </dm:person>
</presence>`

	// Bria 5 on a call: RFC 4480 with other prefixes, single quotes, and
	// a cipid extension to ignore.
	briaOnThePhone = `<?xml version='1.0' encoding='UTF-8'?>
<p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' xmlns:d='urn:ietf:params:xml:ns:pidf:data-model' xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' xmlns:c='urn:ietf:params:xml:ns:pidf:cipid' entity='sip:bob@example.com'>
<p:tuple id='t3a8f8b17'><p:status><p:basic>open</p:basic></p:status><c:display-name>Bob</c:display-name></p:tuple>
<d:person id='p1'><r:activities><r:on-the-phone/></r:activities><d:note>On the phone</d:note></d:person>
</p:presence>`

	// X-Lite / eyeBeam: the RPID drafts' dialect, the activity as text.
	xliteAway = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:pp="urn:ietf:params:xml:ns:pidf:person" xmlns:es="urn:ietf:params:xml:ns:pidf:rpid:status:rpid-status" xmlns:ep="urn:ietf:params:xml:ns:pidf:rpid:rpid-person" entity="sip:carol@example.com">
<pp:person><status><ep:activities><ep:activity>away</ep:activity></ep:activities></status></pp:person>
<note>Away</note>
<tuple id="t1"><status><basic>open</basic></status></tuple>
</presence>`

	// X-Lite on the phone: the activity in the tuple's status.
	xliteOnThePhone = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:es="urn:ietf:params:xml:ns:pidf:rpid:status:rpid-status" entity="sip:carol@example.com">
<tuple id="t1"><status><basic>open</basic><es:activities><es:activity>On the phone</es:activity></es:activities></status></tuple>
</presence>`
)

// doc wraps tuples and persons in a presence element with the usual
// prefixes.
func doc(body string) string {
	return `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@h">` +
		body + `</presence>`
}

func tuple(basic string) string {
	return `<tuple id="t"><status><basic>` + basic + `</basic></status></tuple>`
}

func person(activity string) string {
	return `<dm:person id="p"><rpid:activities><rpid:` + activity + `/></rpid:activities></dm:person>`
}

// TestShow: real phones' documents and the rules of Show, one by one.
func TestShow(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		show callback.Show
		idle time.Time
	}{
		{"baresip open", baresipOpen, callback.Available, time.Time{}},
		{"baresip closed", strings.Replace(baresipOpen, ">open<", ">closed<", 1), callback.Unavailable, time.Time{}},
		{"Linphone away", linphoneAway, callback.Away, time.Time{}},
		{"Bria on the phone, other prefixes", briaOnThePhone, callback.DoNotDisturb, time.Time{}},
		{"X-Lite away, the drafts' person", xliteAway, callback.Away, time.Time{}},
		{"X-Lite on the phone, as text in the tuple", xliteOnThePhone, callback.DoNotDisturb, time.Time{}},
		{"busy", doc(tuple("open") + person("busy")), callback.DoNotDisturb, time.Time{}},
		{"meeting", doc(tuple("open") + person("meeting")), callback.DoNotDisturb, time.Time{}},
		{"sleeping", doc(tuple("open") + person("sleeping")), callback.Away, time.Time{}},
		{"vacation is a long absence", doc(tuple("open") + person("vacation")), callback.ExtAway, time.Time{}},
		{"dnd beats away", doc(tuple("open") + person("away") + person("busy")), callback.DoNotDisturb, time.Time{}},
		{"working says nothing", doc(tuple("open") + person("working")), callback.Available, time.Time{}},
		{"closed beats busy", doc(tuple("closed") + person("busy")), callback.Unavailable, time.Time{}},
		{"one tuple open of two", doc(tuple("closed") + tuple("open")), callback.Available, time.Time{}},
		{"no tuple, nothing said", doc(""), callback.Available, time.Time{}},
		{"a note alone (no RPID)", doc(tuple("open") + `<note>Busy</note>`), callback.DoNotDisturb, time.Time{}},
		{"a note in a tuple", doc(`<tuple id="t"><status><basic>open</basic></status><note xml:lang="en">Be right  back</note></tuple>`), callback.Away, time.Time{}},
		{"an activity beats the note", doc(tuple("open") + person("working") + `<note>Busy</note>`), callback.Available, time.Time{}},
		{"idle since the last input",
			doc(tuple("open") + `<dm:person id="p"><rpid:user-input last-input="2026-12-02T08:10:00Z" idle-threshold="600">idle</rpid:user-input></dm:person>`),
			callback.Available, time.Date(2026, 12, 2, 8, 10, 0, 0, time.UTC)},
		{"idle without last input: since the threshold before arrival",
			doc(tuple("open") + `<dm:device id="d"><rpid:user-input idle-threshold="300">idle</rpid:user-input><dm:deviceID>mac:8c7c9d0a</dm:deviceID></dm:device>`),
			callback.Available, at.Add(-5 * time.Minute)},
		{"active on one device: not idle",
			doc(tuple("open") + `<dm:device id="d1"><rpid:user-input>idle</rpid:user-input></dm:device><dm:device id="d2"><rpid:user-input>active</rpid:user-input></dm:device>`),
			callback.Available, time.Time{}},
		{"unknown elements ignored", doc(`<x:geo xmlns:x="urn:example:geo"><x:lat>1</x:lat></x:geo>` + tuple("open")), callback.Available, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			show, idle := d.Show(at)
			if show != tc.show || !idle.Equal(tc.idle) {
				t.Errorf("Show = %s, idle since %v; want %s, %v", show, idle, tc.show, tc.idle)
			}
		})
	}
}

// TestParseReads: what Parse keeps of a document.
func TestParseReads(t *testing.T) {
	d, err := Parse([]byte(linphoneAway))
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	if d.Entity != "sip:alice@example.org" || len(d.Tuples) != 1 || len(d.Persons) != 1 {
		t.Fatalf("%+v", d)
	}
	tp, p := d.Tuples[0], d.Persons[0]
	if tp.ID != "qmjhrl" || tp.Basic != Open || tp.Contact != "sip:alice@example.org" || !tp.Timestamp.Equal(ts) {
		t.Errorf("tuple %+v", tp)
	}
	if p.ID != "wggzmp" || len(p.Activities) != 1 || p.Activities[0] != AwayActivity || !p.Timestamp.Equal(ts) {
		t.Errorf("person %+v", p)
	}
	d, err = Parse([]byte(xliteOnThePhone))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Tuples[0].Activities; len(got) != 1 || got[0] != OnThePhone {
		t.Errorf("drafts' activity as text: %q, want on-the-phone", got)
	}
}

// TestParseRefuses: what is wrong, named.
func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("<x:a xmlns:x='urn:x'>", MaxDepth) + strings.Repeat("</x:a>", MaxDepth)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", "pidf: no <presence> root"},
		{"only a declaration", `<?xml version="1.0"?>`, "pidf: no <presence> root"},
		{"another root", `<foo/>`, "pidf: no <presence> root: the root is <foo> without a namespace"},
		{"presence of another namespace", `<presence xmlns="urn:ietf:params:xml:ns:cpim-pidf"/>`,
			`pidf: no <presence> root: the root is <presence> in namespace "urn:ietf:params:xml:ns:cpim-pidf"`},
		{"basic maybe in tuple 2", doc(tuple("open") + tuple("maybe")), `pidf: tuple 2: <basic> is "maybe", want open or closed`},
		{"baresip before it registered", strings.Replace(baresipOpen, ">open<", ">unknown<", 1),
			`pidf: tuple 1: <basic> is "unknown", want open or closed`},
		{"empty basic", doc(tuple("")), `pidf: tuple 1: <basic> is "", want open or closed`},
		{"two basics", doc(`<tuple id="t"><status><basic>open</basic><basic>closed</basic></status></tuple>`), "pidf: tuple 1: more than one <basic>"},
		{"bad timestamp", doc(`<tuple id="t"><status><basic>open</basic></status><timestamp>yesterday</timestamp></tuple>`),
			`pidf: tuple 1: <timestamp> "yesterday" is not a date and time`},
		{"bad user-input", doc(`<dm:person id="p"><rpid:user-input>asleep</rpid:user-input></dm:person>`),
			`pidf: person 1: <user-input> is "asleep", want active or idle`},
		{"bad idle threshold", doc(`<dm:person id="p"><rpid:user-input idle-threshold="-5">idle</rpid:user-input></dm:person>`),
			`pidf: person 1: <user-input> idle-threshold "-5" is not a positive number of seconds`},
		{"bad last input", doc(`<dm:device id="d"><rpid:user-input last-input="now">idle</rpid:user-input></dm:device>`),
			`pidf: device 1: <user-input> last-input "now" is not a date and time`},
		{"too many tuples", doc(strings.Repeat(tuple("open"), MaxElements+1)), fmt.Sprintf("pidf: more than %d tuples", MaxElements)},
		{"too many persons", doc(strings.Repeat(person("away"), MaxElements+1)), fmt.Sprintf("pidf: more than %d persons", MaxElements)},
		{"too deep", doc(deep), fmt.Sprintf("pidf: elements nested deeper than %d", MaxDepth)},
		{"too big", doc(tuple("open") + "<note>" + strings.Repeat("x", MaxSize) + "</note>"),
			fmt.Sprintf("pidf: document is %d bytes, over the limit of %d", len(doc(tuple("open")))+MaxSize+13, MaxSize)},
		{"not well-formed", doc(`<tuple id="t"><status><basic>open</basic></tuple>`), "pidf: XML syntax error"},
		{"cut short", `<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple id="t">`, "pidf: XML syntax error"},
		{"two roots", doc("") + doc(""), "pidf: more than one root element"},
		{"text after the root", doc("") + "junk", "pidf: text outside the root element"},
		{"entity expansion", `<!DOCTYPE presence [<!ENTITY a "aaaaaaaa">]>` + doc("<note>&a;&a;</note>"),
			"pidf: <!DOCTYPE> and other directives are not allowed"},
		{"an unknown element that must be understood",
			doc(`<tuple id="t"><status><basic>open</basic></status><x:loc xmlns:x="urn:example:loc" mustUnderstand="true"/></tuple>`),
			`pidf: tuple 1: <loc> in namespace "urn:example:loc" must be understood and is not`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("no error; parsed %+v", d)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if d.Entity != "" || d.Tuples != nil || d.Persons != nil {
				t.Errorf("an error and a document: %+v", d)
			}
		})
	}
}

// TestMarshalRoundTrip: Parse reads back what Marshal writes, also for
// the drafts' dialect, which Marshal writes in RFC 4480's words.
func TestMarshalRoundTrip(t *testing.T) {
	for _, sample := range []string{baresipOpen, linphoneAway, briaOnThePhone, xliteAway, xliteOnThePhone,
		doc(`<dm:device id="d"><rpid:user-input last-input="2026-12-02T08:10:00+01:00" idle-threshold="300">idle</rpid:user-input><dm:deviceID>urn:x</dm:deviceID><dm:note>a &amp; b</dm:note></dm:device>`)} {
		d, err := Parse([]byte(sample))
		if err != nil {
			t.Fatal(err)
		}
		out := d.Marshal()
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal): %v\n%s", err, out)
		}
		if again := d2.Marshal(); !bytes.Equal(again, out) {
			t.Errorf("not stable:\n%s\n%s", out, again)
		}
		s1, i1 := d.Show(at)
		s2, i2 := d2.Show(at)
		if s1 != s2 || !i1.Equal(i2) {
			t.Errorf("Show changed by the round trip: %s %v -> %s %v\n%s", s1, i1, s2, i2, out)
		}
	}
}

// ExampleParse reads what Linphone publishes when its user is away.
func ExampleParse() {
	d, err := Parse([]byte(`<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
  xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.org">
  <tuple id="t1"><status><basic>open</basic></status></tuple>
  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities></dm:person>
</presence>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	show, _ := d.Show(at) // when the document arrived
	fmt.Println(d.Entity, show)
	_, err = Parse([]byte(`<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple id="t1"><status><basic>maybe</basic></status></tuple></presence>`))
	fmt.Println(err)
	// Output:
	// sip:alice@example.org away
	// pidf: tuple 1: <basic> is "maybe", want open or closed
}
