package pbx

import (
	"context"
	"errors"
	"testing"

	"github.com/looplab/fsm"
)

// The derived table must agree with looplab/fsm on every state and event.
func TestTransitionTableMatchesFSM(t *testing.T) {
	for s := State(0); s < numStates; s++ {
		for e := Event(0); e < numEvents; e++ {
			m := NewInteractionFSM(s)
			fsmErr := m.Event(context.Background(), e.String())
			got, err := Transition(s, e)
			if fsmErr != nil {
				var nt fsm.InvalidEventError
				if !errors.As(fsmErr, &nt) {
					t.Fatalf("%s on %s: unexpected fsm error %v", e, s, fsmErr)
				}
				if err == nil {
					t.Errorf("%s on %s: table allows (-> %s), fsm refuses", e, s, got)
				} else if KindOf(err) != Conflict {
					t.Errorf("%s on %s: error kind %v, want conflict", e, s, KindOf(err))
				}
				continue
			}
			if err != nil {
				t.Errorf("%s on %s: table refuses (%v), fsm goes to %s", e, s, err, m.Current())
				continue
			}
			if got.String() != m.Current() {
				t.Errorf("%s on %s: table -> %s, fsm -> %s", e, s, got, m.Current())
			}
		}
	}
}

func TestInteractionLifecycles(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   State
		bad    bool // the last event must be refused
	}{
		{"inbound answered", []Event{EvRoute, EvQueue, EvOffer, EvAnswer, EvRelease}, Released, false},
		{"routed straight to agent", []Event{EvRoute, EvOffer, EvAnswer, EvRelease}, Released, false},
		{"abandon in queue", []Event{EvRoute, EvQueue, EvAbandon}, Abandoned, false},
		{"abandon while ringing", []Event{EvRoute, EvQueue, EvOffer, EvAbandon}, Abandoned, false},
		{"ring no answer then requeue", []Event{EvRoute, EvQueue, EvOffer, EvRedirect, EvQueue, EvOffer, EvAnswer}, Established, false},
		{"hold and retrieve", []Event{EvRoute, EvOffer, EvAnswer, EvHold, EvRetrieve, EvHold, EvRelease}, Released, false},
		{"transfer to queue", []Event{EvRoute, EvOffer, EvAnswer, EvRoute, EvQueue, EvOffer, EvAnswer}, Established, false},
		{"outbound", []Event{EvDial, EvAnswer, EvRelease}, Released, false},
		{"answer before offer", []Event{EvRoute, EvQueue, EvAnswer}, Queued, true},
		{"release after release", []Event{EvDial, EvAnswer, EvRelease, EvRelease}, Released, true},
		{"abandon after answer", []Event{EvRoute, EvOffer, EvAnswer, EvAbandon}, Established, true},
		{"hold while ringing", []Event{EvRoute, EvOffer, EvHold}, Ringing, true},
		{"retrieve when not held", []Event{EvDial, EvAnswer, EvRetrieve}, Established, true},
		{"queue twice", []Event{EvRoute, EvQueue, EvQueue}, Queued, true},
		{"nothing after abandon", []Event{EvRoute, EvAbandon, EvRoute}, Abandoned, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := &Interaction{ID: 42}
			var err error
			for n, e := range tt.events {
				err = i.Fire(e)
				if err != nil && n != len(tt.events)-1 {
					t.Fatalf("event %d (%s): %v", n, e, err)
				}
			}
			if tt.bad != (err != nil) {
				t.Fatalf("last event error = %v, want refused=%v", err, tt.bad)
			}
			if tt.bad && KindOf(err) != Conflict {
				t.Fatalf("kind %v, want conflict", KindOf(err))
			}
			if i.State != tt.want {
				t.Fatalf("state %s, want %s", i.State, tt.want)
			}
		})
	}
}

func TestConnIDRoundTrip(t *testing.T) {
	for _, id := range []ConnID{0, 1, 0xdeadbeef, 1<<64 - 1} {
		got, err := ParseConnID(id.String())
		if err != nil || got != id {
			t.Fatalf("%v -> %q -> %v, %v", uint64(id), id.String(), got, err)
		}
	}
	for _, bad := range []string{"", "xyz", "00000000000000001"} {
		if _, err := ParseConnID(bad); KindOf(err) != Invalid {
			t.Errorf("ParseConnID(%q) err = %v, want invalid", bad, err)
		}
	}
}

func TestUserData(t *testing.T) {
	var u UserData
	u.Set("a", "1")
	u.Set("b", "2")
	u.Set("a", "3")
	if v, _ := u.Get("a"); v != "3" || len(u) != 2 || u[0].Key != "a" {
		t.Fatalf("after sets: %v", u)
	}
	c := u.Clone()
	u.Delete("a")
	if _, ok := u.Get("a"); ok || len(c) != 2 {
		t.Fatalf("delete/clone: u=%v c=%v", u, c)
	}
}

func TestDirectory(t *testing.T) {
	d := NewDirectory()
	if err := d.Add(DN{Number: "5000", Type: RoutePoint, Owner: "support"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Add(DN{Number: "5000", Type: Extension, Owner: "alice"}); KindOf(err) != Conflict {
		t.Fatalf("duplicate number: %v", err)
	}
	if err := d.Add(DN{}); KindOf(err) != Invalid {
		t.Fatalf("empty number: %v", err)
	}
	if dn, ok := d.Lookup("5000"); !ok || dn.Type != RoutePoint {
		t.Fatalf("lookup: %v %v", dn, ok)
	}
}

func BenchmarkTransitionLooplabFSM(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		m := NewInteractionFSM(Created)
		for _, e := range []string{"route", "queue", "offer", "answer", "release"} {
			_ = m.Event(ctx, e)
		}
	}
}

func BenchmarkTransitionTable(b *testing.B) {
	for b.Loop() {
		i := Interaction{}
		for _, e := range []Event{EvRoute, EvQueue, EvOffer, EvAnswer, EvRelease} {
			_ = i.Fire(e)
		}
	}
}
