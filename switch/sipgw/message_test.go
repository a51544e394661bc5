package sipgw

import (
	"testing"

	"github.com/ccswitch/ccswitch/imgw"
)

func TestParseSIPUserAgent(t *testing.T) {
	for _, tc := range []struct{ ua, family, version, os string }{
		{"baresip v3.10.0 (x86_64/linux)", "baresip", "3.10.0", "linux"},
		{"Linphone/5.2.0 (belle-sip/5.2.0)", "Linphone", "5.2.0", "5.2.0"},
		{"sipp", "sipp", "", ""},
		{"MicroSIP/3.21.3", "MicroSIP", "3.21.3", ""},
		{"Zoiper rv2.10.20.2", "Zoiper", "rv2.10.20.2", ""},
		{"", "", "", ""},
	} {
		got := ParseSIPUserAgent(tc.ua)
		if got.Family != tc.family || got.Version != tc.version || got.OS != tc.os || got.Source != "sip-user-agent" {
			t.Errorf("%q: %+v", tc.ua, got)
		}
	}
}

func TestIsComposingState(t *testing.T) {
	for doc, want := range map[string]imgw.ChatState{
		`<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`: imgw.StateComposing,
		`<isComposing><state>idle</state></isComposing>`:                                                 imgw.StatePaused,
		`garbage`: imgw.StateActive,
	} {
		if got := isComposingState(doc); got != want {
			t.Errorf("%s: %v, want %v", doc, got, want)
		}
	}
}
