package config

import (
	"fmt"
	"strings"
	"time"
)

// Device is one way to reach a customer, linked to the customer's record:
// an XMPP address, a SIP softphone that registers with the switch, or a
// phone number the dialer reaches through the trunk.
type Device struct {
	// Network is xmpp, sip or phone.
	Network string `yaml:"network"`
	// Address is a bare JID (xmpp), the SIP user the softphone registers
	// as (sip) or a phone number (phone).
	Address string `yaml:"address"`
	// Password is the SIP softphone's digest password (sip only).
	Password string `yaml:"password"`
}

// Device networks.
const (
	DeviceXMPP  = "xmpp"
	DeviceSIP   = "sip"
	DevicePhone = "phone"
)

// CallbackPrefs are a customer's callback preferences: the media to try,
// in order, for each presence status (a medium is sip or phone: the
// customer's devices of that network, in the order listed), the hours a
// callback may ring, and how often to try.
type CallbackPrefs struct {
	Online  []string `yaml:"online"`
	Away    []string `yaml:"away"`
	Offline []string `yaml:"offline"`
	// Hours the customer accepts calls; none: any time.
	Hours *Hours `yaml:"hours"`
	// MaxAttempts is how many calls at most (default 3).
	MaxAttempts int `yaml:"max_attempts"`
	// Pause is the wait before the next round of attempts (default 5m).
	Pause Duration `yaml:"pause"`
}

// Hours are allowed hours in a time zone.
type Hours struct {
	// Zone is an IANA time zone such as Europe/Paris (default UTC).
	Zone    string   `yaml:"zone"`
	Windows []Window `yaml:"windows"`
}

// Window is a span of the day on some days of the week: From and To are
// "HH:MM"; a To at or before From crosses midnight and belongs to the
// day it starts. No days: every day.
type Window struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

// Callback defaults.
const (
	DefaultCallbackAttempts = 3
	DefaultCallbackPause    = 5 * time.Minute
	maxCallbackAttempts     = 20
)

// Weekdays are the day names Window.Days takes, Sunday first as
// time.Weekday counts.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ClockMinutes parses "HH:MM" (00:00-24:00) into minutes after midnight.
func ClockMinutes(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day (00:00-24:00)", s)
	}
	return h*60 + m, nil
}

// setCallbackDefaults fills in what im.customers[i].callback leaves out.
func (c *checker) setCallbackDefaults(im *IM) {
	for i := range im.Customers {
		cb, p := im.Customers[i].Callback, path{}.key("im").key("customers").index(i).key("callback")
		if cb == nil {
			continue
		}
		if c.unset(p.key("max_attempts"), cb.MaxAttempts == 0) {
			cb.MaxAttempts = DefaultCallbackAttempts
		}
		if c.unset(p.key("pause"), cb.Pause == 0) {
			cb.Pause = Duration(DefaultCallbackPause)
		}
	}
}

// checkCustomerDevices checks im.customers[i].devices and callback;
// devices maps "network\x00address" to the customer that has it.
func (c *checker) checkCustomerDevices(cu *CustomerSeed, p path, devices map[string]string) {
	has := map[string]bool{}
	for j, d := range cu.Devices {
		dp := p.key("devices").index(j)
		addr := strings.TrimSpace(d.Address)
		switch d.Network {
		case DeviceXMPP:
			if at := strings.IndexByte(addr, '@'); at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, "/ ") {
				c.errorf(dp.key("address"), "%q is not a bare XMPP address (user@domain)", d.Address)
			}
		case DeviceSIP:
			if addr == "" || strings.ContainsAny(addr, "@:; <>") {
				c.errorf(dp.key("address"), "%q is not a SIP user name (the user part the softphone registers as)", d.Address)
			}
			if d.Password == "" {
				c.errorf(dp.key("password"), "required: the softphone registers with it")
			}
		case DevicePhone:
			if !phoneNumber(addr) {
				c.errorf(dp.key("address"), "%q is not a phone number (digits, an optional leading +, 3-20 long)", d.Address)
			}
		default:
			c.errorf(dp.key("network"), "unknown network %q (want xmpp, sip or phone)", d.Network)
			continue
		}
		if d.Password != "" && d.Network != DeviceSIP {
			c.errorf(dp.key("password"), "only a sip device has a password")
		}
		key := d.Network + "\x00" + strings.ToLower(addr)
		if other, dup := devices[key]; dup {
			c.errorf(dp.key("address"), "%s device %q already belongs to customer %q", d.Network, d.Address, other)
		}
		devices[key] = cu.Number
		has[d.Network] = true
	}
	if cu.Callback != nil {
		c.checkCallbackPrefs(p.key("callback"), cu.Callback, has)
	}
}

// checkCallbackPrefs checks callback preferences at cp; has says which
// device networks the customer has.
func (c *checker) checkCallbackPrefs(cp path, cb *CallbackPrefs, has map[string]bool) {
	for _, st := range []struct {
		key   string
		media []string
	}{{"online", cb.Online}, {"away", cb.Away}, {"offline", cb.Offline}} {
		seen := map[string]bool{}
		for k, m := range st.media {
			mp := cp.key(st.key).index(k)
			switch {
			case m != DeviceSIP && m != DevicePhone:
				c.errorf(mp, "unknown medium %q (want sip or phone)", m)
			case !has[m]:
				c.errorf(mp, "the customer has no %s device (add one under devices)", m)
			case seen[m]:
				c.errorf(mp, "%s listed twice", m)
			}
			seen[m] = true
		}
	}
	if cb.MaxAttempts < 1 || cb.MaxAttempts > maxCallbackAttempts {
		c.errorf(cp.key("max_attempts"), "%d must be within 1-%d", cb.MaxAttempts, maxCallbackAttempts)
	}
	if cb.Pause < 0 {
		c.errorf(cp.key("pause"), "must be >= 0")
	}
	if h := cb.Hours; h != nil {
		hp := cp.key("hours")
		if h.Zone != "" {
			if _, err := time.LoadLocation(h.Zone); err != nil {
				c.errorf(hp.key("zone"), "unknown time zone %q (an IANA name such as Europe/Paris)", h.Zone)
			}
		}
		if len(h.Windows) == 0 {
			c.errorf(hp.key("windows"), "required: at least one window (leave hours out for any time)")
		}
		for k, w := range h.Windows {
			wp := hp.key("windows").index(k)
			from, errF := ClockMinutes(w.From)
			if errF != nil {
				c.errorf(wp.key("from"), "%v", errF)
			}
			to, errT := ClockMinutes(w.To)
			if errT != nil {
				c.errorf(wp.key("to"), "%v", errT)
			}
			if errF == nil && errT == nil && from == to {
				c.errorf(wp.key("to"), "the window is empty (from %s to %s)", w.From, w.To)
			}
			for d, day := range w.Days {
				if !containsFold(Weekdays, day) {
					c.errorf(wp.key("days").index(d), "unknown day %q (want one of %s)", day, strings.Join(Weekdays, ", "))
				}
			}
		}
	}
}

// checkCallbackQueue checks a queue's callback_queue: a queue of media
// callback.
func (c *checker) checkCallbackQueue(q *Queue, p path, queues map[string]*Queue) {
	if q.CallbackQueue == "" {
		// (A key that is wrong in itself has its own error already.)
		if d := q.CallbackDigit; len(d) == 1 && d[0] >= '0' && d[0] <= '9' && (q.Media == "voice" || q.Media == "voip") {
			c.errorf(p.key("callback_digit"), "needs callback_queue: the queue where the callbacks wait")
		}
		return
	}
	switch to := queues[q.CallbackQueue]; {
	case to == nil:
		c.errorf(p.key("callback_queue"), "unknown queue %q", q.CallbackQueue)
	case to.Media != "callback":
		c.errorf(p.key("callback_queue"), "queue %q takes %s, not callback", q.CallbackQueue, to.Media)
	case q.Media == "callback":
		c.errorf(p.key("callback_queue"), "a callback queue has no callback queue of its own")
	}
}

func phoneNumber(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 3 || len(d) > 20 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
