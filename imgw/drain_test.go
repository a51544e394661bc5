package imgw

import (
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/tserver"
)

// TestDrainThenEndAll: a closing center takes no new chat (the customer
// is told), keeps those under way, and at the end of the drain closes
// each of them: the customer is told, the agent's chat ends from
// "system", the queued interaction leaves its queue, and the journal
// records each end.
func TestDrainThenEndAll(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("ann")
	const alice, carl, newcomer = "alice@example.test", "carl@example.test", "new@example.test"
	withAnn := r.chatting(alice)
	// ann's capacity is 2, but carl is in the bot when the drain starts.
	r.say(carl, "hi")
	r.gw.Drain()
	if r.gw.Live() != 2 {
		t.Fatalf("%d live conversations, want 2", r.gw.Live())
	}

	r.say(newcomer, "hello")
	if got := r.net.texts(newcomer); len(got) != 1 || got[0] != closingNewText {
		t.Fatalf("a newcomer while draining got %q", got)
	}
	if r.conv(newcomer) != nil || r.gw.Live() != 2 {
		t.Fatal("a conversation started while draining")
	}
	// The chats under way go on.
	r.say(alice, "are you there?")
	if m := r.desk.got["ann"][len(r.desk.got["ann"])-1]; m.Text != "are you there?" {
		t.Fatalf("ann's last event %+v", m)
	}
	r.say(carl, "agent")
	r.clk.Advance(2 * time.Second)
	queued := r.conv(carl)
	if queued == nil || queued.conn == 0 {
		t.Fatal("carl's chat was not routed while draining")
	}

	r.gw.EndAll()
	if r.gw.Live() != 0 {
		t.Fatalf("%d conversations left after EndAll", r.gw.Live())
	}
	for _, u := range []string{alice, carl} {
		if got := r.net.last(u); !strings.HasPrefix(got, "The center is closing now") {
			t.Errorf("%s last got %q", u, got)
		}
	}
	if m := r.desk.got["ann"][len(r.desk.got["ann"])-1]; m.Type != ChatEnded || m.From != "system" {
		t.Errorf("ann's last chat event %+v, want the end from system", m)
	}
	for _, id := range []string{withAnn.id, queued.id} {
		rec, ok := r.store.ConversationRecord(id)
		if !ok || rec.Ended.IsZero() {
			t.Errorf("%s: record %+v", id, rec)
		}
	}
	if rec, _ := r.store.ConversationRecord(withAnn.id); rec.Outcome != "handled" {
		t.Errorf("alice's outcome %q, want handled", rec.Outcome)
	}
	if rec, _ := r.store.ConversationRecord(queued.id); rec.Outcome != "closed" {
		t.Errorf("carl's outcome %q, want closed", rec.Outcome)
	}
	if x := r.ts.Contact(queued.conn); x != nil {
		t.Errorf("carl's interaction still known to tserver: %+v", x)
	}
	if a, _ := r.ts.Agent("ann"); a == nil || a.State() != tserver.Ready {
		t.Errorf("ann not ready after the end: %v", a.State())
	}
}
