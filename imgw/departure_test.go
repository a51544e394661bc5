package imgw

import (
	"testing"
	"time"
)

// A customer who goes away while their chat waits in the queue (presence
// unavailable on their only device: the web chat's tab closed, the XMPP
// client gone) leaves it as abandoned once im.departure_grace (60 s by
// default) has passed, and no agent is offered the chat; one who comes
// back in time (presence again, or a message) stays in the queue.
func TestDepartedCustomerLeavesTheQueue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		back  func(r *rig, user string)
		stays bool
	}{
		{"gone", nil, false},
		{"back online", func(r *rig, user string) {
			r.gw.Handle(Inbound{Kind: Presence, From: Address{Network: "xmpp:test", User: user, Device: "phone"}, Presence: &PresenceInfo{Available: true}})
		}, true},
		{"writes again", func(r *rig, user string) { r.say(user, "still there?") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testCenter)
			const alice = "alice@example.test"
			r.say(alice, "hi")
			r.say(alice, "agent")
			r.clk.Advance(2 * time.Second)
			c := r.conv(alice)
			if c == nil || c.phase != phaseQueued {
				t.Fatalf("alice not queued: %+v", c)
			}
			r.gw.Handle(Inbound{Kind: Presence, From: Address{Network: "xmpp:test", User: alice, Device: "laptop"}, Presence: &PresenceInfo{Available: false}})
			r.clk.Advance(30 * time.Second)
			if r.conv(alice) == nil {
				t.Fatal("alice left before the grace was over")
			}
			if tc.back != nil {
				tc.back(r, alice)
			}
			r.clk.Advance(31 * time.Second)
			if tc.stays {
				if r.conv(alice) == nil {
					t.Fatal("alice came back but left the queue")
				}
				return
			}
			if r.conv(alice) != nil {
				t.Fatal("alice is still queued a minute after she went away")
			}
			rec, _ := r.store.ConversationRecord(c.id)
			if rec.Outcome != "abandoned" || rec.Ended.IsZero() {
				t.Fatalf("conversation %+v, want ended abandoned", rec)
			}
			tr := r.store.Transcript(c.id)
			if last := tr[len(tr)-1]; last.From != "system" || last.Text != "The customer left." {
				t.Fatalf("last transcript line %+v", last)
			}
			r.ready("ann", "bob", "sue")
			for agent, got := range r.desk.got {
				if len(got) > 0 {
					t.Fatalf("%s was offered %+v after alice left", agent, got)
				}
			}
			if n := r.ts.Status()[0].Waiting; n != 0 {
				t.Fatalf("%d waiting in %s", n, r.ts.Status()[0].Name)
			}
		})
	}
}
