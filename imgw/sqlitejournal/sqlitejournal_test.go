package sqlitejournal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestJournalKeepsTheConversation runs a chat against the embedded
// store: the bot finds the customer there, and once the writer is flushed
// the transcript, the conversation and the device are on disk, in a store
// opened afresh.
func TestJournalKeepsTheConversation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := config.Parse("center.yaml", []byte(testCenter))
	if err != nil {
		t.Fatal(err)
	}
	var seeds []store.Customer
	for _, c := range f.IM.Customers {
		seeds = append(seeds, store.Customer{Number: c.Number, Name: c.Name, Email: c.Email, Postcode: c.Postcode})
	}
	var orders []store.OrderSeed
	for _, o := range f.IM.Orders {
		orders = append(orders, store.OrderSeed{ID: o.ID, Customer: o.Customer, Status: o.Status})
	}
	if err := st.Seed(ctx, seeds, orders); err != nil {
		t.Fatal(err)
	}
	w := st.Writer()
	j := New(st, w, zerolog.Nop())
	// imgw.Customer 0 is nobody: never another customer's order.
	for _, id := range []string{"A-1", "C-9"} {
		if status, err := j.OrderStatus(id, 0); err != imgw.ErrNotFound {
			t.Errorf("OrderStatus(%s, 0) = %q, %v; want imgw.ErrNotFound", id, status, err)
		}
	}
	clk := clock.NewVirtual(clock.Epoch)
	ts, err := tserver.New(f, tserver.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	desk := &fakeDesk{got: map[string][]imgw.AgentChat{}}
	gw, err := imgw.New(imgw.Config{Clock: clk, TServer: ts, Center: f, Customers: j, Journal: j, Desk: desk, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	net := &fakeNet{name: "xmpp:test", auth: true}
	gw.AddAdapter(net)
	from := imgw.Address{Network: "xmpp:test", User: "carl@example.test", Device: "pc"}
	say := func(s string) { gw.Handle(imgw.Inbound{Kind: imgw.Message, From: from, Text: s}) }
	gw.Handle(imgw.Inbound{Kind: imgw.Client, From: from, Client: &imgw.ClientInfo{Family: "BobIM", Version: "1", Source: "xep-0092"}})
	say("hi")
	say("Carl  OTHER") // name lookup, case and spaces folded
	say("3")
	say("10 115") // the postcode verifies Carl, and links his JID
	say("C-9")
	say("3")
	say("A-1") // Alice's order: not Carl's
	say("/end")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs, err := st.ConversationsOf(ctx, "xmpp:test", "carl@example.test")
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations %v %v", convs, err)
	}
	c := convs[0]
	if c.CustomerID == 0 || c.Outcome != "answered_by_bot" || c.Ended.IsZero() {
		t.Fatalf("conversation %+v", c)
	}
	lines, err := st.Transcript(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.From+": "+l.Text)
	}
	want := []string{
		"customer: hi", "bot: Welcome to Example Support!", "bot: Your customer number, e-mail or name?",
		"customer: Carl  OTHER", "bot: Hello Carl Other.", "bot: How can we help? 1 billing, 2 technical, 3 order status",
		"customer: 3", "bot: To protect your data, what is your postcode?", "customer: 10 115",
		"bot: Which order number?", "customer: C-9", "bot: C-9: lost",
		"bot: Anything else? (1 billing, 2 technical, 3 order status)",
		"customer: 3", "bot: Which order number?", "customer: A-1", "bot: No such order of yours.", "bot: Anything else? (1 billing, 2 technical, 3 order status)",
		"customer: /end", "system: Chat ended by the customer.",
	}
	if len(texts) != len(want) {
		t.Fatalf("transcript:\n%q\nwant\n%q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i+1, texts[i], want[i])
		}
	}
	devs, err := st.Devices(ctx, "xmpp:test", "carl@example.test")
	if err != nil || len(devs) != 1 || devs[0].Family != "BobIM" {
		t.Fatalf("devices %+v %v", devs, err)
	}
	hist, err := st.History(ctx, c.CustomerID)
	if err != nil || len(hist) != 1 || hist[0].ID != c.ID {
		t.Fatalf("history %+v %v", hist, err)
	}
	if cu, ok, err := st.LinkedCustomer(ctx, "xmpp:test", "carl@example.test"); err != nil || !ok || cu.ID != c.CustomerID || cu.Postcode != "10115" {
		t.Fatalf("linked customer %+v %v %v, want Carl", cu, ok, err)
	}
}

// openJournal opens the store at path (closed at the end of the test)
// and a journal on it behind its spool.
func openJournal(t *testing.T, path string) (*store.Store, *store.Writer, *Journal) {
	t.Helper()
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := st.Writer()
	j, err := Open(context.Background(), Config{Store: st, Writer: w, Spool: path + ".spool", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return st, w, j
}

// copyTree copies the regular files of dir src into dst (created), as a
// crash would leave them: nothing is flushed or closed first.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), "-shm") {
			continue // SQLite rebuilds its shared-memory index from the WAL
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// A crash after the journal said "durable": the store's files and the
// spool, copied while everything is still open, hold every record once
// the journal is opened on them: the lines still waiting to be grouped
// come back from the spool; what was in the store already is not doubled.
func TestJournalSpoolSurvivesACrash(t *testing.T) {
	live := t.TempDir()
	path := filepath.Join(live, "cc.db")
	ctx := context.Background()
	st, w, j := openJournal(t, path)
	defer j.Close(ctx)
	from := imgw.Address{Network: "xmpp:test", User: "dora@example.test", Device: "phone"}
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	j.Conversation(imgw.ConversationRecord{ID: "im-7", From: from, Started: t0})
	const lines = groupLines + 6 // a group goes to the store; six lines wait
	for i := 1; i <= lines; i++ {
		j.Line(imgw.Line{Conversation: "im-7", Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Second), From: "customer", Text: fmt.Sprintf("line %d", i)})
	}
	j.Callback(imgw.CallbackRequest{Conversation: "im-7", From: from, Queue: "chat", Number: "+15550100", Requested: t0.Add(time.Minute)})
	j.Device(from, &imgw.ClientInfo{Family: "Conversations", Version: "2.17", Source: "xep-0092"}, &imgw.PresenceInfo{Available: true, Show: "away"})
	// The callback and the first group are in the store's tables now;
	// the spool still holds them too.
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	durable := make(chan error, 1)
	j.Durable(func(err error) { durable <- err })
	if err := <-durable; err != nil {
		t.Fatal(err)
	}
	if got, err := st.Transcript(ctx, "im-7"); err != nil || len(got) != groupLines {
		t.Fatalf("before the crash the store holds %d lines (%v), want the first group of %d", len(got), err, groupLines)
	}

	crashed := t.TempDir()
	copyTree(t, live, crashed)
	copyTree(t, path+".spool", filepath.Join(crashed, "cc.db.spool"))

	for round := 1; round <= 2; round++ { // the second open finds nothing left to replay
		cpath := filepath.Join(crashed, "cc.db")
		c, err := store.Open(cpath, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cw := c.Writer()
		cj, err := Open(ctx, Config{Store: c, Writer: cw, Spool: cpath + ".spool", Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Transcript(ctx, "im-7")
		if err != nil || len(got) != lines {
			t.Fatalf("round %d: %d lines after the replay (%v), want %d", round, len(got), err, lines)
		}
		for i, l := range got {
			if l.Seq != int64(i+1) || l.Text != fmt.Sprintf("line %d", i+1) {
				t.Fatalf("round %d: line %d is %+v", round, i+1, l)
			}
		}
		cbs, err := c.PendingCallbacks(ctx)
		if err != nil || len(cbs) != 1 || cbs[0].Number != "+15550100" {
			t.Fatalf("round %d: callbacks %+v %v, want exactly one", round, cbs, err)
		}
		devs, err := c.Devices(ctx, from.Network, from.User)
		if err != nil || len(devs) != 1 || devs[0].Family != "Conversations" || devs[0].Presence().Show != "away" {
			t.Fatalf("round %d: devices %+v %v", round, devs, err)
		}
		if err := cj.Close(ctx); err != nil {
			t.Fatal(err)
		}
		cw.Close()
		c.Close()
	}
}

// Lines wait in groups: a group goes to the store when it is full or its
// conversation ends, and Close hands over the rest; no line is lost or
// doubled, and the spool is empty after a clean Close.
func TestJournalGroupsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	ctx := context.Background()
	st, w, j := openJournal(t, path)
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for c := range 3 {
		id := fmt.Sprintf("im-%d", c)
		j.Conversation(imgw.ConversationRecord{ID: id, From: imgw.Address{Network: "webchat", User: fmt.Sprintf("v%d", c)}, Started: t0})
	}
	count := func(id string) int {
		t.Helper()
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := st.Transcript(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	// Interleaved, as a busy center writes them.
	seq := [3]int64{}
	for i := range groupLines + 10 {
		for c := range 3 {
			if c == 2 && i >= 5 {
				continue // a quiet conversation
			}
			seq[c]++
			j.Line(imgw.Line{Conversation: fmt.Sprintf("im-%d", c), Seq: seq[c], Time: t0, From: "customer", Text: "x"})
		}
	}
	if n := count("im-0"); n != groupLines {
		t.Fatalf("im-0: %d lines in the store, want one full group (%d)", n, groupLines)
	}
	if n := count("im-2"); n != 0 {
		t.Fatalf("im-2: %d lines in the store before its group is full", n)
	}
	// The end of im-2 takes its lines along.
	j.Conversation(imgw.ConversationRecord{ID: "im-2", From: imgw.Address{Network: "webchat", User: "v2"}, Started: t0, Ended: t0.Add(time.Minute), Outcome: "handled"})
	if n := count("im-2"); n != 5 {
		t.Fatalf("im-2: %d lines after its end, want 5", n)
	}
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for c, want := range []int{groupLines + 10, groupLines + 10, 5} {
		if n := count(fmt.Sprintf("im-%d", c)); n != want {
			t.Fatalf("im-%d: %d lines after Close, want %d", c, n, want)
		}
	}
	sp, left, err := store.OpenSpool(path+".spool", store.SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if len(left) != 0 {
		t.Fatalf("%d records left in the spool after a clean Close", len(left))
	}
}

// A line's spool record reads back as the line; a damaged one is refused,
// never misread.
func FuzzLineRecord(f *testing.F) {
	f.Add("im-1", int64(3), int64(1764406800123456789), "agent", "alice", "Hello, Dora.")
	f.Add("", int64(0), int64(-1), "", "", "")
	f.Add("im-\xff", int64(-5), int64(0), "bot", "", "ünï 💬\x00")
	f.Fuzz(func(t *testing.T, conv string, seq, ns int64, from, agent, text string) {
		l := store.TranscriptLine{Conversation: conv, Seq: seq, Time: time.Unix(0, ns).UTC(), From: from, AgentID: agent, Text: text}
		raw := appendLineRecord(nil, &l)
		got, err := decodeLineRecord(raw)
		if err != nil || got != l {
			t.Fatalf("%q reads back as %+v, %v; want %+v", raw, got, err, l)
		}
		for cut := range len(raw) {
			if _, err := decodeLineRecord(raw[:cut]); err == nil {
				t.Fatalf("the first %d of %d bytes read as a line", cut, len(raw))
			}
		}
		if _, err := decodeLineRecord(append(raw, 'x')); err == nil {
			t.Fatal("a record with a byte too many read as a line")
		}
	})
}

// When the spool fails (here: closed under the journal), records go to
// the store's writer directly, and Durable answers once they are
// committed: the journal degrades to what it was without a spool.
func TestJournalSurvivesAFailedSpool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	ctx := context.Background()
	st, w, j := openJournal(t, path)
	defer j.Close(ctx)
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	j.Conversation(imgw.ConversationRecord{ID: "im-1", From: imgw.Address{Network: "webchat", User: "v1"}, Started: t0})
	j.Line(imgw.Line{Conversation: "im-1", Seq: 1, Time: t0, From: "customer", Text: "before"})
	if err := j.spool.Close(); err != nil {
		t.Fatal(err)
	}
	j.Line(imgw.Line{Conversation: "im-1", Seq: 2, Time: t0, From: "customer", Text: "after"})
	j.Callback(imgw.CallbackRequest{Conversation: "im-1", From: imgw.Address{Network: "webchat", User: "v1"}, Queue: "chat", Number: "+15550100", Requested: t0})
	done := make(chan error, 1)
	j.Durable(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("Durable after the spool failed: %v", err)
	}
	// "after" and the callback are committed already; "before" waits in
	// its group until the journal hands it over.
	if cbs, err := st.PendingCallbacks(ctx); err != nil || len(cbs) != 1 {
		t.Fatalf("callbacks %+v %v", cbs, err)
	}
	j.FlushLines()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	lines, err := st.Transcript(ctx, "im-1")
	if err != nil || len(lines) != 2 || lines[0].Text != "before" || lines[1].Text != "after" {
		t.Fatalf("transcript %+v %v", lines, err)
	}
}

// A link goes through the spool like any record: the store has it after
// Close, LinkedCustomer reads it back, and a spool record of it decodes.
func TestJournalLinksThroughTheSpool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	st, _, j := openJournal(t, path)
	ctx := context.Background()
	cu, err := st.PutCustomer(ctx, store.Customer{Number: "1002", Name: "Carl Other", Postcode: "10115"})
	if err != nil {
		t.Fatal(err)
	}
	from := imgw.Address{Network: "xmpp:test", User: "carl@example.test", Device: "pc"}
	if _, err := j.LinkedCustomer(from); err != imgw.ErrNotFound {
		t.Fatalf("before the link: %v", err)
	}
	j.Link(from, cu.ID)
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := j.LinkedCustomer(imgw.Address{Network: "xmpp:test", User: "carl@example.test", Device: "phone"})
	if err != nil || got.ID != cu.ID || got.Postcode != "10115" {
		t.Fatalf("linked customer %+v %v", got, err)
	}
	raw, _ := json.Marshal(&spoolRecord{Link: &linkRecordJSON{Network: "xmpp:test", User: "u", Customer: 7}})
	r, err := decodeRecord(raw)
	if err != nil || r.Link == nil || r.Link.Customer != 7 || !r.addTo(&store.Batch{}, true) {
		t.Fatalf("link record %s: %+v %v", raw, r, err)
	}
}

// The embedded store keeps routes behind the spool: a route journaled is
// restorable after the journal and the store are opened again, with its
// transcript; a route ended is not.
func TestJournalRestorable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cc.db")
	open := func() (*store.Store, *Journal) {
		st, err := store.Open(path, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		j, err := Open(ctx, Config{Store: st, Writer: st.Writer(), Spool: path + ".spool", Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return st, j
	}
	st, j := open()
	t0 := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	from := imgw.Address{Network: "webchat", User: "v1", Device: "tab-1"}
	for i, id := range []string{"c-2", "c-1"} { // c-1 queued first
		j.Conversation(imgw.ConversationRecord{ID: id, From: from, Queue: "chat-general", Started: t0})
		j.Line(imgw.Line{Conversation: id, Seq: 1, Time: t0, From: "customer", Text: "hi " + id})
		j.Route(imgw.RouteRecord{Conversation: id, Phase: imgw.RouteQueued, From: from, Queue: "chat-general",
			Enqueued: t0.Add(time.Duration(2-i) * time.Second), ClientFamily: "Firefox", ClientVersion: "128"})
	}
	j.Route(imgw.RouteRecord{Conversation: "c-2", Phase: imgw.RouteConnected, From: from, Queue: "chat-general",
		Enqueued: t0.Add(2 * time.Second), Agent: "ann"})
	j.Conversation(imgw.ConversationRecord{ID: "c-3", From: from, Queue: "chat-general", Started: t0})
	j.Route(imgw.RouteRecord{Conversation: "c-3", Phase: imgw.RouteQueued, From: from, Queue: "chat-general", Enqueued: t0})
	j.Route(imgw.RouteRecord{Conversation: "c-3", Phase: imgw.RouteEnded})
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, j = open()
	defer st.Close()
	defer j.Close(ctx)
	rs, err := j.Restorable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Route.Conversation != "c-1" || rs[1].Route.Conversation != "c-2" {
		t.Fatalf("restorable: %+v", rs)
	}
	if r := rs[1].Route; r.Phase != imgw.RouteConnected || r.Agent != "ann" || r.From != from || !r.Enqueued.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("c-2's route: %+v", r)
	}
	if r := rs[0].Route; r.ClientFamily != "Firefox" || len(rs[0].Lines) != 1 || rs[0].Lines[0].Text != "hi c-1" || !rs[0].Started.Equal(t0) {
		t.Fatalf("c-1: %+v", rs[0])
	}
}
