package registrar

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestDigestURIMatches(t *testing.T) {
	var ruri sip.Uri
	if err := sip.ParseUri("sip:1002@127.0.0.1:5063;transport=wss", &ruri); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri  string
		want bool
	}{
		{"sip:1002@127.0.0.1:5063;transport=wss", true},  // the Request-URI itself
		{"1002@127.0.0.1:5063", true},                    // sipgo's digest uri
		{"sip:1002@127.0.0.1:5063", true},                // without parameters
		{"sip:1002@127.0.0.1:5064", false},               // another port
		{"sip:1003@127.0.0.1:5063", false},               // another user
		{"sip:1002@10.0.0.1:5063", false},                // another host
		{"sip:1002@127.0.0.1:5063;transport=udp", false}, // another transport
		{"sips:1002@127.0.0.1:5063", false},              // another scheme
		{"<<garbage", false},
	}
	for _, tt := range tests {
		if got := digestURIMatches(tt.uri, &ruri); got != tt.want {
			t.Errorf("digestURIMatches(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}
