package callback

import (
	"testing"

	"github.com/ccswitch/ccswitch/internal/config"
)

// Customers' devices are found by network and address, case blind; an
// address of another network, or no customer's, is nobody's.
func TestConfigDevices(t *testing.T) {
	f := &config.File{IM: &config.IM{Customers: []config.CustomerSeed{
		{Number: "C1", Devices: []config.Device{{Network: config.DeviceXMPP, Address: "Ann@Example.test"}, {Network: config.DeviceSIP, Address: "7001"}}},
		{Number: "C2", Devices: []config.Device{{Network: config.DevicePhone, Address: "+15550002"}}},
	}}}
	d := ConfigDevices(f)
	for _, tc := range []struct {
		network, address, want string
	}{
		{config.DeviceXMPP, "ann@example.test", "C1"},
		{config.DeviceXMPP, " ANN@example.TEST ", "C1"},
		{config.DeviceSIP, "7001", "C1"},
		{config.DevicePhone, "+15550002", "C2"},
		{config.DeviceSIP, "ann@example.test", ""},
		{config.DeviceXMPP, "bob@example.test", ""},
	} {
		got, ok := d.Customer(tc.network, tc.address)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Customer(%s, %q) = %q, %v; want %q", tc.network, tc.address, got, ok, tc.want)
		}
	}
	if len(ConfigDevices(&config.File{})) != 0 {
		t.Error("a center without im has customers' devices")
	}
}

// An XMPP device's presence maps to a show as RFC 6121 says.
func TestXMPPReport(t *testing.T) {
	for _, tc := range []struct {
		available bool
		show      string
		want      Show
	}{
		{true, "", Available}, {true, "chat", Chat}, {true, "away", Away}, {true, "xa", ExtAway},
		{true, "dnd", DoNotDisturb}, {true, "bogus", Available}, {false, "dnd", Unavailable},
	} {
		rep := XMPPReport("ann@example.test/phone", tc.available, tc.show)
		if rep.Show != tc.want || rep.Medium != XMPP || rep.Device != "ann@example.test/phone" {
			t.Errorf("XMPPReport(available %v, show %q) = %+v, want show %s", tc.available, tc.show, rep, tc.want)
		}
	}
}
