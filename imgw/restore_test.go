package imgw

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver"
)

// restart builds a new tserver and gateway on old's journal, as a new
// process on the same store would, after minutes of downtime, and
// restores what the journal says was routed.
func restart(t *testing.T, old *rig, src string, down, grace time.Duration) *rig {
	t.Helper()
	f, err := config.Parse("center.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(old.clk.Now().Add(down))
	ep := &chatEndpoints{}
	ts, err := tserver.New(f, tserver.Config{Clock: clk, Endpoints: ep})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clk: clk, ts: ts, net: &fakeNet{name: "xmpp:test", auth: true}, desk: &fakeDesk{got: map[string][]AgentChat{}}, store: old.store}
	r.spy = &spyCustomers{Customers: r.store}
	r.gw, err = New(Config{Clock: clk, TServer: ts, Center: f, Customers: r.spy, Journal: r.store, Desk: r.desk, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	r.gw.AddAdapter(r.net)
	ep.gw = r.gw
	var rs []Restored
	for _, rt := range old.store.Routes() {
		x := Restored{Route: rt, Lines: old.store.Transcript(rt.Conversation)}
		if cr, ok := old.store.ConversationRecord(rt.Conversation); ok {
			x.Started = cr.Started
		}
		rs = append(rs, x)
	}
	r.gw.Restore(rs, grace)
	return r
}

// Chats waiting in a queue and a chat with an agent come back after a
// restart: the waiting ones in their order with their waits, each
// customer told one line; the one that was with an agent waits for that
// agent first, at the head of its queue, and the agent gets the
// transcript so far; line numbers continue.
func TestRestoreAfterRestart(t *testing.T) {
	r := newRig(t, testCenter)
	r.ready("sue")
	c0 := r.chatting("u0") // sue's only chat: the others wait
	if err := r.gw.AgentMessage("sue", c0.conn, "Let me look."); err != nil {
		t.Fatal(err)
	}
	var enq []time.Time
	for _, u := range []string{"u1", "u2", "u3"} {
		r.say(u, "hi")
		r.say(u, "agent")
		r.clk.Advance(10 * time.Second)
		enq = append(enq, r.conv(u).enqueued)
	}
	// The center crashes; a new one starts 2 minutes later.
	r2 := restart(t, r, testCenter, 2*time.Minute, time.Minute)
	for i, u := range []string{"u1", "u2", "u3"} {
		got := r2.net.texts(u)
		want := RestoreText(i + 2) // u0, back for sue, is at the head
		if len(got) != 1 || got[0] != want {
			t.Fatalf("%s was told %q, want only %q", u, got, want)
		}
		c := r2.conv(u)
		if c == nil || r2.ts.Contact(c.conn) == nil || !r2.ts.Contact(c.conn).Arrived().Equal(enq[i]) {
			t.Fatalf("%s: not back with its arrival %v", u, enq[i])
		}
	}
	if got := r2.net.texts("u0"); len(got) != 1 || got[0] != "We are back. Sue will be with you again in a moment." {
		t.Fatalf("u0 was told %q", got)
	}
	c0b := r2.conv("u0")
	if p := r2.ts.Contact(c0b.conn).PreferredAgent(); p != "sue" {
		t.Fatalf("u0 waits for %q, want sue", p)
	}
	// ann comes first: she takes u1 and u2 (capacity 2), not sue's chat.
	r2.ready("ann")
	for u, want := range map[string]string{"u0": "", "u1": "ann", "u2": "ann", "u3": ""} {
		ct := r2.ts.Contact(r2.conv(u).conn)
		got := ""
		if ct.Agent() != nil {
			got = ct.Agent().ID
		}
		if got != want {
			t.Fatalf("%s offered to %q, want %q", u, got, want)
		}
	}
	r2.ready("sue")
	if err := r2.ts.AnswerCall(c0b.conn); err != nil {
		t.Fatalf("sue answers u0: %v", err)
	}
	hist := r2.desk.got["sue"]
	if len(hist) == 0 || hist[0].Type != ChatHistory {
		t.Fatalf("sue got %+v, want the history", hist)
	}
	found := false
	for _, l := range hist[0].Lines {
		found = found || (l.From == "agent" && l.Text == "Let me look.")
	}
	if !found {
		t.Fatalf("sue's history lacks her line: %+v", hist[0].Lines)
	}
	if err := r2.gw.AgentMessage("sue", c0b.conn, "I am back too."); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u0", "u1", "u2", "u3"} {
		id := r2.conv(u).id
		var last int64
		for _, l := range r2.store.Transcript(id) {
			if l.Seq != last+1 {
				t.Fatalf("%s: line %d after %d: %+v", u, l.Seq, last, r2.store.Transcript(id))
			}
			last = l.Seq
		}
	}
	// The end of a restored chat ends its route: a second restart has
	// nothing of it.
	if err := r2.ts.ReleaseCall(c0b.conn); err != nil {
		t.Fatal(err)
	}
	for _, rt := range r2.store.Routes() {
		if rt.Conversation == c0b.id {
			t.Fatalf("the ended chat still has a route: %+v", rt)
		}
	}
	if n := len(r2.store.Routes()); n != 3 {
		t.Fatalf("%d routes, want 3", n)
	}
}
