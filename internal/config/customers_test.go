package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const callbackCenter = `
center: {name: Example}
queues:
  - {name: support, media: voip, number: "6000", callback_queue: support-callback}
  - {name: support-callback, media: callback, skill: support}
  - {name: chat, media: im, callback_queue: support-callback}
agents:
  - {id: a1, skills: {support: 5, chat: 5}}
im:
  customers:
    - number: C1001
      name: Alice
      devices:
        - {network: xmpp, address: alice@example.test}
        - {network: sip, address: "7001", password: secret}
        - {network: phone, address: "+15550001"}
      callback:
        online: [sip, phone]
        away: [phone]
        offline: []
        hours: {zone: Europe/Paris, windows: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00"}, {days: [sat], from: "22:00", to: "02:00"}]}
    - number: C1002
      devices: [{network: phone, address: "15550002"}]
      callback: {online: [phone], max_attempts: 5, pause: 90}
`

func TestParseCustomersAndCallbackPreferences(t *testing.T) {
	f, err := Parse("cb.yaml", []byte(callbackCenter))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Queues[0].CallbackQueue; got != "support-callback" {
		t.Errorf("callback_queue %q", got)
	}
	alice, bob := f.IM.Customers[0], f.IM.Customers[1]
	if len(alice.Devices) != 3 || alice.Devices[1].Network != DeviceSIP || alice.Devices[1].Password != "secret" {
		t.Errorf("alice's devices %+v", alice.Devices)
	}
	cb := alice.Callback
	if cb == nil || strings.Join(cb.Online, ",") != "sip,phone" || strings.Join(cb.Away, ",") != "phone" || len(cb.Offline) != 0 {
		t.Fatalf("alice's preferences %+v", cb)
	}
	if cb.MaxAttempts != DefaultCallbackAttempts || cb.Pause.D() != DefaultCallbackPause {
		t.Errorf("defaults: attempts %d pause %v", cb.MaxAttempts, cb.Pause.D())
	}
	if cb.Hours == nil || cb.Hours.Zone != "Europe/Paris" || len(cb.Hours.Windows) != 2 || cb.Hours.Windows[1].To != "02:00" {
		t.Errorf("hours %+v", cb.Hours)
	}
	if bob.Callback.MaxAttempts != 5 || bob.Callback.Pause.D() != 90*time.Second {
		t.Errorf("bob's preferences %+v", bob.Callback)
	}
}

func TestParseCustomerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, field, msg string
	}{
		{"unknown network", "{network: xmpp,", "{network: icq,", "im.customers[0].devices[0].network", `unknown network "icq" (want xmpp, sip or phone)`},
		{"full jid", "alice@example.test}", "alice@example.test/home}", "im.customers[0].devices[0].address", "not a bare XMPP address"},
		{"sip without password", `"7001", password: secret}`, `"7001"}`, "im.customers[0].devices[1].password", "required"},
		{"sip uri", `address: "7001"`, `address: "sip:7001@x"`, "im.customers[0].devices[1].address", "not a SIP user name"},
		{"password of a phone", `"+15550001"}`, `"+15550001", password: x}`, "im.customers[0].devices[2].password", "only a sip device"},
		{"bad phone", `"+15550001"}`, `"call me"}`, "im.customers[0].devices[2].address", `"call me" is not a phone number`},
		{"device of two customers", `"15550002"}`, `"+15550001"}`, "im.customers[1].devices[0].address", `already belongs to customer "C1001"`},
		{"unknown medium", "online: [sip, phone]", "online: [sip, fax]", "im.customers[0].callback.online[1]", `unknown medium "fax"`},
		{"medium without device", "online: [phone], max", "online: [sip], max", "im.customers[1].callback.online[0]", "no sip device"},
		{"medium twice", "away: [phone]", "away: [phone, phone]", "im.customers[0].callback.away[1]", "phone listed twice"},
		{"attempts", "max_attempts: 5", "max_attempts: 0", "im.customers[1].callback.max_attempts", "0 must be within 1-20"},
		{"negative pause", "pause: 90", "pause: -1", "im.customers[1].callback.pause", `negative duration "-1"`},
		{"zone", "zone: Europe/Paris", "zone: Mars/Olympus", "im.customers[0].callback.hours.zone", `unknown time zone "Mars/Olympus"`},
		{"from", `from: "08:00"`, `from: "8am"`, "im.customers[0].callback.hours.windows[0].from", `"8am" is not HH:MM`},
		{"to", `to: "20:00"`, `to: "25:00"`, "im.customers[0].callback.hours.windows[0].to", "not a time of day"},
		{"empty window", `to: "20:00"`, `to: "08:00"`, "im.customers[0].callback.hours.windows[0].to", "the window is empty"},
		{"day", "days: [sat]", "days: [caturday]", "im.customers[0].callback.hours.windows[1].days[0]", `unknown day "caturday"`},
		{"no windows", `windows: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00"}, {days: [sat], from: "22:00", to: "02:00"}]`, "windows: []",
			"im.customers[0].callback.hours.windows", "at least one window"},
		{"unknown callback key", "max_attempts: 5", "max_tries: 5", "im.customers[1].callback.max_tries", `unknown field "max_tries"`},
		{"callback queue unknown", "callback_queue: support-callback}\n  - {name: support-callback", "callback_queue: later}\n  - {name: support-callback",
			"queues[0].callback_queue", `unknown queue "later"`},
		{"digit without a callback queue", `number: "6000", callback_queue: support-callback}`, `number: "6000", callback_digit: "1"}`,
			"queues[0].callback_digit", "needs callback_queue"},
		{"callback queue of another media", "media: im, callback_queue: support-callback", "media: im, callback_queue: support",
			"queues[2].callback_queue", `queue "support" takes voip, not callback`},
	} {
		src := strings.Replace(callbackCenter, tc.old, tc.new, 1)
		if src == callbackCenter {
			t.Fatalf("%s: %q not in the example", tc.name, tc.old)
		}
		_, err := Parse("cb.yaml", []byte(src))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %v, want a config error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v\nwant field %s and %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestClockMinutes(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "08:30": 510, "23:59": 1439, "24:00": 1440} {
		if got, err := ClockMinutes(in); err != nil || got != want {
			t.Errorf("ClockMinutes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8:30", "24:01", "12:60", "ab:cd", "12-30", "-1:00"} {
		if _, err := ClockMinutes(bad); err == nil {
			t.Errorf("ClockMinutes(%q) accepted", bad)
		}
	}
}

// Every example center the README and the comments point newcomers to
// loads.
func TestExamplesLoad(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(paths) < 4 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, p := range paths {
		if _, err := Load(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	f, err := Load("../../examples/callback-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.IM.Customers) != 3 || f.Queues[0].CallbackQueue != "support-callback" || f.Users[0].TokenEnv != "CCSWITCH_CRM_TOKEN" {
		t.Fatalf("callback-center.yaml: customers %d, callback queue %q, users %+v", len(f.IM.Customers), f.Queues[0].CallbackQueue, f.Users)
	}
}
