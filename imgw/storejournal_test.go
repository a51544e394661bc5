package imgw

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestStoreJournalKeepsTheConversation runs a chat against the embedded
// store: the bot finds the customer there, and once the writer is flushed
// the transcript, the conversation and the device are on disk, in a store
// opened afresh.
func TestStoreJournalKeepsTheConversation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	st, err := store.Open(path, store.Options{})
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
		seeds = append(seeds, store.Customer{Number: c.Number, Name: c.Name, Email: c.Email})
	}
	var orders []store.OrderSeed
	for _, o := range f.IM.Orders {
		orders = append(orders, store.OrderSeed{ID: o.ID, Customer: o.Customer, Status: o.Status})
	}
	if err := st.Seed(ctx, seeds, orders); err != nil {
		t.Fatal(err)
	}
	w := st.Writer()
	j := NewStoreJournal(st, w, zerolog.Nop())
	clk := clock.NewVirtual(clock.Epoch)
	ts, err := tserver.New(f, tserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	desk := &fakeDesk{got: map[string][]AgentChat{}}
	gw, err := New(Options{Clock: clk, TServer: ts, Center: f, Customers: j, Journal: j, Desk: desk, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	net := &fakeNet{name: "xmpp:test"}
	gw.AddAdapter(net)
	from := Address{Network: "xmpp:test", User: "carl@example.test", Device: "pc"}
	say := func(s string) { gw.Handle(Inbound{Kind: Message, From: from, Text: s}) }
	gw.Handle(Inbound{Kind: Client, From: from, Client: &ClientInfo{Family: "BobIM", Version: "1", Source: "xep-0092"}})
	say("hi")
	say("Carl  OTHER") // name lookup, case and spaces folded
	say("3")
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
	st, err = store.Open(path, store.Options{})
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
		"customer: 3", "bot: Which order number?", "customer: C-9", "bot: C-9: lost",
		"bot: Anything else? (1 billing, 2 technical, 3 order status)",
		"customer: 3", "bot: Which order number?", "customer: A-1", "bot: No such order of yours.", "bot: Anything else? (1 billing, 2 technical, 3 order status)",
		"customer: /end", "system: Chat ended. Thank you for contacting Example Support.",
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
}
