package imgw

import (
	"errors"
	"testing"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// behindJournal is a MemoryStore whose disk cannot keep up while behind
// is set (an Accepter).
type behindJournal struct {
	*MemoryStore
	behind error
}

func (b *behindJournal) Accepting() error { return b.behind }

// While the journal cannot take more (Accepter), an agent's chat line is
// refused with Unavailable and not sent, a customer's line is not
// journaled and the customer is told (once a minute), a new customer
// cannot start a conversation; once it can, lines go as before.
func TestNoChatLinesWhileTheJournalIsBehind(t *testing.T) {
	r := newRig(t, testCenter)
	j := &behindJournal{MemoryStore: r.store}
	r.gw.journal = j
	r.ready("ann")
	const alice = "alice@example.test"
	c := r.chatting(alice)
	before := len(r.store.Transcript(c.id))
	sent := len(r.net.texts(alice))

	j.behind = errors.New("disk full")
	err := r.gw.AgentMessage("ann", c.conn, "are you there?")
	if pbx.KindOf(err) != pbx.Unavailable {
		t.Fatalf("agent line while behind: %v, want Unavailable", err)
	}
	r.say(alice, "hello?")
	r.say(alice, "hello??")
	if got := r.net.texts(alice)[sent:]; len(got) != 1 || got[0] != behindText {
		t.Fatalf("customer got %q, want one %q", got, behindText)
	}
	if n := len(r.store.Transcript(c.id)); n != before {
		t.Fatalf("%d lines journaled while behind", n-before)
	}
	r.say("carl@example.test", "hi")
	if r.conv("carl@example.test") != nil || r.net.last("carl@example.test") != behindText {
		t.Fatalf("a new conversation while behind: %q", r.net.texts("carl@example.test"))
	}

	j.behind = nil
	if err := r.gw.AgentMessage("ann", c.conn, "back now"); err != nil {
		t.Fatal(err)
	}
	r.wantLast(alice, "back now")
	if n := len(r.store.Transcript(c.id)); n != before+1 {
		t.Fatalf("%d lines journaled after, want 1", n-before)
	}
}
