package callback

import (
	"strings"

	"github.com/ccswitch/ccswitch/internal/config"
)

// Devices links customers' devices to their customers: each device of
// the center file's customers (im.customers[].devices), by its network
// and address, to the customer's number. Addresses compare case
// blind and without surrounding spaces, as the networks compare them.
type Devices map[string]string

// ConfigDevices is the devices of the customers of the center file f.
func ConfigDevices(f *config.File) Devices {
	d := Devices{}
	if f.IM == nil {
		return d
	}
	for _, cu := range f.IM.Customers {
		for _, dev := range cu.Devices {
			d[deviceKey(dev.Network, dev.Address)] = cu.Number
		}
	}
	return d
}

func deviceKey(network, address string) string {
	return network + "\x00" + strings.ToLower(strings.TrimSpace(address))
}

// Customer is the number of the customer whose device of network
// (config.DeviceXMPP, DeviceSIP, DevicePhone) is address.
func (d Devices) Customer(network, address string) (string, bool) {
	n, ok := d[deviceKey(network, address)]
	return n, ok
}

// XMPPReport is what an XMPP device (device: its full JID) says as a
// report: unavailable when it is not available, else its show (RFC 6121
// §4.7.2.1: chat, away, xa, dnd; none or another word: available). At
// is left for the tracker to set.
func XMPPReport(device string, available bool, show string) Report {
	rep := Report{Device: device, Medium: XMPP, Show: Unavailable}
	if !available {
		return rep
	}
	switch show {
	case "chat":
		rep.Show = Chat
	case "away":
		rep.Show = Away
	case "xa":
		rep.Show = ExtAway
	case "dnd":
		rep.Show = DoNotDisturb
	default:
		rep.Show = Available
	}
	return rep
}
