package tserver

import (
	"iter"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// contactTable finds a live interaction by its ConnID, in place of a map:
// every request and timer looks one up. ConnIDs are given in sequence and
// most interactions are over a few thousand IDs later, so a ring of slots
// indexed by an ID's low bits holds them, and a look-up reads one slot and
// the contact there. An interaction still live when a newcomer needs its
// slot (it outlived a turn of the ring) moves to a map, where it is found
// second. The ring keeps at most a quarter of its slots full, growing by
// doubling; it never shrinks.
type contactTable struct {
	ring []*Contact // len a power of two, or 0
	mask pbx.ConnID
	n    int                     // contacts in ring
	old  map[pbx.ConnID]*Contact // contacts displaced from the ring
}

const minContactRing = 256

// get returns the live contact id, or nil.
func (t *contactTable) get(id pbx.ConnID) *Contact {
	if len(t.ring) > 0 {
		if c := t.ring[id&t.mask]; c != nil && c.ID == id {
			return c
		}
	}
	if len(t.old) > 0 {
		return t.old[id]
	}
	return nil
}

// put adds c, whose ID is higher than any in the table.
func (t *contactTable) put(c *Contact) {
	if 4*(t.n+1) > len(t.ring) {
		t.grow()
	}
	i := c.ID & t.mask
	if o := t.ring[i]; o != nil {
		if t.old == nil {
			t.old = map[pbx.ConnID]*Contact{}
		}
		t.old[o.ID] = o
		t.n--
	}
	t.ring[i] = c
	t.n++
}

// remove forgets c.
func (t *contactTable) remove(c *Contact) {
	if len(t.ring) > 0 {
		if i := c.ID & t.mask; t.ring[i] == c {
			t.ring[i] = nil
			t.n--
			return
		}
	}
	delete(t.old, c.ID)
}

// grow doubles the ring and brings back the displaced contacts whose new
// slot is free.
func (t *contactTable) grow() {
	ring := make([]*Contact, max(2*len(t.ring), minContactRing))
	mask := pbx.ConnID(len(ring) - 1)
	// Two contacts in distinct slots of the old ring have distinct low
	// bits, so they do in the new one too.
	for _, c := range t.ring {
		if c != nil {
			ring[c.ID&mask] = c
		}
	}
	t.ring, t.mask = ring, mask
	for id, c := range t.old {
		if i := id & mask; ring[i] == nil {
			ring[i] = c
			t.n++
			delete(t.old, id)
		}
	}
}

// len returns the number of live contacts.
func (t *contactTable) len() int { return t.n + len(t.old) }

// all yields every live contact, in no particular order.
func (t *contactTable) all() iter.Seq2[pbx.ConnID, *Contact] {
	return func(yield func(pbx.ConnID, *Contact) bool) {
		for _, c := range t.ring {
			if c != nil && !yield(c.ID, c) {
				return
			}
		}
		for id, c := range t.old {
			if !yield(id, c) {
				return
			}
		}
	}
}
