package xmpptest

import (
	"regexp"
	"strings"
	"testing"
)

var ipAddress = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// CheckPrivacy scans every stanza customer c received on srv: what comes
// from the center comes from its public address (support@<component
// domain>) exactly; only IQ results and errors may come from the bare
// component domain (clients match replies by sender); nothing else comes
// from anywhere but c's own account and server; and no stanza holds an IP
// address, a SIP URI or any of forbidden (agents' addresses, the
// component's secret, ...). It fails t if c got nothing from the center.
func CheckPrivacy(t testing.TB, srv *Server, c *Customer, forbidden ...string) {
	t.Helper()
	public := "support@" + srv.ComponentDomain
	own, _, _ := strings.Cut(c.JID, "/")
	fromCenter := 0
	for _, s := range c.Received() {
		bare, _, _ := strings.Cut(s.From, "/")
		switch bare {
		case "", own, srv.Domain:
		case srv.ComponentDomain:
			if s.Kind != "iq" || s.Type != "result" && s.Type != "error" {
				t.Errorf("%s got a stanza from the component's domain: %s", c.JID, s.XML)
			}
		case public:
			fromCenter++
			if s.From != public {
				t.Errorf("%s got a stanza from %q, not the center's address %s: %s", c.JID, s.From, public, s.XML)
			}
		default:
			t.Errorf("%s got a stanza from %q: %s", c.JID, s.From, s.XML)
		}
		if ip := ipAddress.FindString(s.XML); ip != "" {
			t.Errorf("%s got IP address %s: %s", c.JID, ip, s.XML)
		}
		if strings.Contains(strings.ToLower(s.XML), "sip:") {
			t.Errorf("%s got a SIP URI: %s", c.JID, s.XML)
		}
		for _, f := range forbidden {
			if strings.Contains(s.XML, f) {
				t.Errorf("%s got %q: %s", c.JID, f, s.XML)
			}
		}
	}
	if fromCenter == 0 {
		t.Errorf("%s got nothing from %s", c.JID, public)
	}
}
