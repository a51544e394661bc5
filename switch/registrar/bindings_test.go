package registrar

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// memBindings is a Bindings in memory: what a store would hold.
type memBindings struct {
	mu    sync.Mutex
	saved map[string][]Contact
	saves int
}

func (m *memBindings) Save(user string, cs []Contact) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if len(cs) == 0 {
		delete(m.saved, user)
		return
	}
	m.saved[user] = slices.Clone(cs)
}

func (m *memBindings) Load() (map[string][]Contact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.saved), nil
}

// Bindings kept by one registrar come back in the next (a restart):
// current ones are reachable and reported to OnChange without a new
// REGISTER, expired ones are dropped; unregistrations and expiries are
// saved too.
func TestKeepBindingsAcrossRestart(t *testing.T) {
	kept := &memBindings{saved: map[string][]Contact{}}
	r, clk, _ := newTestRegistrar(t)
	if err := r.Keep(kept); err != nil {
		t.Fatal(err)
	}
	p1 := newPhone(t, r, "agent1")
	p1.mustRegister()
	p2 := newPhone(t, r, "agent2")
	p2.contacts = []string{"<sip:agent2@127.0.0.1:5092>;expires=120"}
	p2.source = "127.0.0.1:5092"
	p2.mustRegister()
	if got := len(kept.saved); got != 2 {
		t.Fatalf("%d users saved, want 2", got)
	}
	if c := kept.saved["agent1"][0]; c.Source != "127.0.0.1:5090" || c.Transport != "UDP" || c.URI.User != "agent1" {
		t.Fatalf("agent1 saved as %+v", c)
	}

	// The process dies; a new registrar starts 3 minutes later.
	clk.Advance(3 * time.Minute)
	log := &changeLog{}
	r2 := New(Config{Realm: testRealm, Credentials: r.creds, Now: clk.Now, OnChange: log.OnChange})
	if err := r2.Keep(kept); err != nil {
		t.Fatal(err)
	}
	if got := contactURIs(r2.Lookup("agent1")); !slices.Equal(got, []string{"sip:agent1@127.0.0.1:5090;transport=udp"}) {
		t.Fatalf("agent1 after the restart: %q", got)
	}
	if got := r2.Lookup("agent2"); got != nil {
		t.Fatalf("agent2's expired binding came back: %+v", got)
	}
	if _, ok := kept.saved["agent2"]; ok {
		t.Fatal("the expired binding is still saved")
	}
	got := log.take()
	if len(got) != 1 || got[0].user != "agent1" || len(got[0].contacts) != 1 {
		t.Fatalf("OnChange after the restart: %+v, want agent1 registered", got)
	}
	// An unregistration is saved.
	p1.r = r2
	p1.expires = "0"
	p1.mustRegister()
	if _, ok := kept.saved["agent1"]; ok {
		t.Fatal("agent1 unregistered, still saved")
	}
}
