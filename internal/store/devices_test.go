package store

import (
	"context"
	"slices"
	"testing"
)

func TestDeviceClientMerge(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	const net, user = "xmpp", "ann@example.test"
	steps := []struct {
		name   string
		device string
		client Client
		want   Client
	}{
		{"caps first", "laptop",
			Client{Source: "xep-0115", Node: "http://gajim.org", Category: "client", Type: "pc"},
			Client{Source: "xep-0115", Node: "http://gajim.org", Category: "client", Type: "pc"}},
		{"version later", "laptop",
			Client{Source: "xep-0092", Family: "Gajim", Version: "1.8.4", OS: "Linux"},
			Client{Source: "xep-0092", Node: "http://gajim.org", Category: "client", Type: "pc", Family: "Gajim", Version: "1.8.4", OS: "Linux"}},
		{"empty fields keep", "laptop",
			Client{Version: "1.9.0"},
			Client{Source: "xep-0092", Node: "http://gajim.org", Category: "client", Type: "pc", Family: "Gajim", Version: "1.9.0", OS: "Linux"}},
		{"blank fields keep", "laptop",
			Client{Family: "  ", OS: "\t"},
			Client{Source: "xep-0092", Node: "http://gajim.org", Category: "client", Type: "pc", Family: "Gajim", Version: "1.9.0", OS: "Linux"}},
		{"another device", "phone",
			Client{Source: "xep-0030", Category: "client", Type: "phone"},
			Client{Source: "xep-0030", Category: "client", Type: "phone"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.PutDeviceClient(ctx, net, user, st.device, st.client); err != nil {
				t.Fatal(err)
			}
			ds, err := s.Devices(ctx, net, user)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(ds, func(d Device) bool { return d.Device == st.device })
			if i < 0 {
				t.Fatalf("device %s missing from %+v", st.device, ds)
			}
			if got := ds[i].Client(); got != st.want {
				t.Errorf("merged client\n%+v, want\n%+v", got, st.want)
			}
		})
	}

	// Presence replaces presence and leaves the client alone.
	if err := s.PutDevicePresence(ctx, net, user, "laptop", Presence{Available: true, Show: "away", Status: "lunch", Priority: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDevicePresence(ctx, net, user, "laptop", Presence{Available: true, Show: "dnd"}); err != nil {
		t.Fatal(err)
	}
	// A client report leaves the presence alone.
	if err := s.PutDeviceClient(ctx, net, user, "laptop", Client{OS: "Debian"}); err != nil {
		t.Fatal(err)
	}
	// Presence of a device never seen before creates it.
	if err := s.PutDevicePresence(ctx, net, user, "tablet", Presence{}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Devices(ctx, net, user)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Device)
		if d.Network != net || d.User != user || d.Updated.IsZero() {
			t.Errorf("device %+v", d)
		}
	}
	if !slices.Equal(names, []string{"laptop", "phone", "tablet"}) {
		t.Fatalf("devices %v", names)
	}
	laptop := ds[0]
	if got, want := laptop.Presence(), (Presence{Available: true, Show: "dnd"}); got != want {
		t.Errorf("laptop presence %+v, want %+v", got, want)
	}
	if laptop.OS != "Debian" || laptop.Family != "Gajim" {
		t.Errorf("laptop client %+v", laptop.Client())
	}
	if ds[2].Available || ds[2].Client() != (Client{}) {
		t.Errorf("tablet %+v", ds[2])
	}
	// A network without devices: device "".
	if err := s.PutDeviceClient(ctx, "webchat", "v-1", "", Client{Source: "http-user-agent", Family: "Firefox", Version: "128"}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.Devices(ctx, "webchat", "v-1"); len(ds) != 1 || ds[0].Family != "Firefox" {
		t.Errorf("webchat devices %+v", ds)
	}
	if ds, err := s.Devices(ctx, net, "nobody@example.test"); len(ds) != 0 || err != nil {
		t.Errorf("devices of nobody %v %v", ds, err)
	}

	before := count(t, s, "devices")
	for _, tc := range []struct {
		name string
		err  error
		text string
	}{
		{"client without network", s.PutDeviceClient(ctx, "", user, "x", Client{Family: "x"}), "put device client: empty network"},
		{"client without user", s.PutDeviceClient(ctx, net, " ", "x", Client{Family: "x"}), "put device client: empty user on xmpp"},
		{"presence without network", s.PutDevicePresence(ctx, "", user, "x", Presence{}), "put device presence: empty network"},
		{"presence with a bad show", s.PutDevicePresence(ctx, net, user, "x", Presence{Available: true, Show: "busy"}), `show "busy"`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, ErrInvalid, tc.text) })
	}
	_, err = s.Devices(ctx, net, "")
	wantErr(t, err, ErrInvalid, "devices: empty user")
	if n := count(t, s, "devices"); n != before {
		t.Errorf("bad input added devices: %d, want %d", n, before)
	}
}

// SubscriberStore is the interface an XMPP component defines for its
// subscribers; *Store satisfies it.
type SubscriberStore interface {
	AddSubscriber(network, user string) error
	RemoveSubscriber(network, user string) error
	Subscribers(network string) ([]string, error)
}

var _ SubscriberStore = (*Store)(nil)

func TestSubscribers(t *testing.T) {
	var s SubscriberStore = MustOpen(t)
	const comp = "xmpp:support.example.test"
	for _, u := range []string{"cy@example.test", "ann@example.test", "bob@example.test", "ann@example.test"} {
		if err := s.AddSubscriber(comp, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSubscriber("xmpp:sales.example.test", "dan@example.test"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Subscribers(comp)
	if err != nil || !slices.Equal(got, []string{"ann@example.test", "bob@example.test", "cy@example.test"}) {
		t.Fatalf("Subscribers = %v, %v", got, err)
	}
	if err := s.RemoveSubscriber(comp, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSubscriber(comp, "bob@example.test"); err != nil {
		t.Errorf("removing a subscriber twice: %v", err)
	}
	got, _ = s.Subscribers(comp)
	if !slices.Equal(got, []string{"ann@example.test", "cy@example.test"}) {
		t.Errorf("after removal %v", got)
	}
	if got, _ := s.Subscribers("xmpp:sales.example.test"); !slices.Equal(got, []string{"dan@example.test"}) {
		t.Errorf("other component %v", got)
	}
	if got, err := s.Subscribers("xmpp:nobody"); len(got) != 0 || err != nil {
		t.Errorf("unknown component %v %v", got, err)
	}
	wantErr(t, s.AddSubscriber("", "x@y"), ErrInvalid, "add subscriber: empty network")
	wantErr(t, s.AddSubscriber(comp, ""), ErrInvalid, "add subscriber: empty user")
	wantErr(t, s.RemoveSubscriber(comp, ""), ErrInvalid, "remove subscriber: empty user")
	_, err = s.Subscribers("")
	wantErr(t, err, ErrInvalid, "subscribers: empty network")
}

// An IM user linked to a customer finds that customer; a link can be
// replaced and removed, and only to a customer that exists.
func TestDeviceLinks(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C1", "Ann Lee", "ann@example.test")
	bob := MustCustomer(t, s, "C2", "Bob Ray", "")
	const net, user = "xmpp:support.example.test", "ann@example.test"
	if _, ok, err := s.LinkedCustomer(ctx, net, user); ok || err != nil {
		t.Fatalf("unlinked user: %v %v", ok, err)
	}
	if err := s.LinkDevice(ctx, net, user, ann.ID, LinkVerified); err != nil {
		t.Fatal(err)
	}
	c, ok, err := s.LinkedCustomer(ctx, net, user)
	if err != nil || !ok || c.ID != ann.ID || c.Number != "C1" {
		t.Fatalf("linked customer %+v %v %v, want C1", c, ok, err)
	}
	if _, ok, _ := s.LinkedCustomer(ctx, "webchat", user); ok {
		t.Error("a link on one network holds on another")
	}
	if err := s.LinkDevice(ctx, net, user, bob.ID, LinkRegistered); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := s.LinkedCustomer(ctx, net, user); c.ID != bob.ID {
		t.Errorf("relinked to %d, want %d", c.ID, bob.ID)
	}
	wantErr(t, s.LinkDevice(ctx, net, user, 999, LinkVerified), ErrInvalid, "unknown customer id 999")
	wantErr(t, s.LinkDevice(ctx, net, user, ann.ID, "claimed"), ErrInvalid, `via "claimed"`)
	wantErr(t, s.LinkDevice(ctx, net, " ", ann.ID, LinkVerified), ErrInvalid, "empty user")
	if err := s.UnlinkDevice(ctx, net, user); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LinkedCustomer(ctx, net, user); ok {
		t.Error("still linked after UnlinkDevice")
	}
	// Through a Writer's batch, as the gateway's journal links.
	b := &Batch{}
	b.LinkDevice(net, user, ann.ID, LinkVerified)
	w := s.Writer()
	w.SubmitBatch(b, func(what string, err error) { t.Errorf("%s: %v", what, err) }, func(err error) {
		if err != nil {
			t.Error(err)
		}
	})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := s.LinkedCustomer(ctx, net, user); !ok || c.ID != ann.ID {
		t.Errorf("batch link: %+v %v", c, ok)
	}
}
