package registrar

import (
	"slices"
)

// Bindings keeps a registrar's bindings across restarts, so that phones
// registered before a crash stay reachable after it without registering
// again. The registrar calls Save with a user's current bindings after
// every REGISTER that was accepted (a refresh moves the expiry), an
// unregistration or an expiry (no contacts: the user has none left); Save
// is called with the registrar's lock held and in the order of the
// changes, so it must not block: queue the write and return. Load returns
// what was saved; an error leaves the registrar empty.
type Bindings interface {
	Save(user string, contacts []Contact)
	Load() (map[string][]Contact, error)
}

type nopBindings struct{}

func (nopBindings) Save(string, []Contact)              {}
func (nopBindings) Load() (map[string][]Contact, error) { return nil, nil }

// NopBindings keeps nothing: bindings last as long as the process.
func NopBindings() Bindings { return nopBindings{} }

// Keep loads the bindings b saved, drops those that expired, and from
// then on saves every change to b. Users with a current binding are
// reported to OnChange, as if their phones had just registered. Call it
// once, before the registrar answers REGISTERs.
func (r *Registrar) Keep(b Bindings) error {
	saved, err := b.Load()
	now := r.now()
	r.mu.Lock()
	r.bindings = b
	users := make([]string, 0, len(saved))
	for user := range saved {
		users = append(users, user)
	}
	slices.Sort(users)
	for _, user := range users {
		var bs []binding
		for _, c := range saved[user] {
			if c.Expires.After(now) {
				r.seq++
				bs = append(bs, binding{Contact: c, seq: r.seq})
			}
		}
		if len(bs) == 0 {
			b.Save(user, nil)
			continue
		}
		r.aors[user] = bs
		r.notify(user, live(bs, now))
	}
	r.mu.Unlock()
	r.deliver()
	return err
}

// save hands the user's bindings to the Bindings; r.mu is held.
func (r *Registrar) save(user string, bs []binding) {
	if r.bindings == nil {
		return
	}
	cs := make([]Contact, len(bs))
	for i, b := range bs {
		cs[i] = b.Contact
	}
	r.bindings.Save(user, cs)
}
