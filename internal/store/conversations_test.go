package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPutConversation(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C-100", "Ann", "")
	if err := s.PutConversation(ctx, Conversation{ID: "im-1", Network: "xmpp", User: "ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	c, ok, err := s.Conversation(ctx, "im-1")
	if err != nil || !ok {
		t.Fatalf("Conversation(im-1) = %v, %v", ok, err)
	}
	if c.Started.IsZero() || !c.Ended.IsZero() || c.CustomerID != 0 {
		t.Fatalf("new conversation %+v: want a start time, no end, no customer", c)
	}
	started := c.Started

	// The bot learns the reason and the customer; later the end.
	steps := []Conversation{
		{ID: "im-1", Reason: "order", Language: "en"},
		{ID: "im-1", CustomerID: ann.ID, Queue: "support"},
		{ID: "im-1", Network: "xmpp", User: "ann@example.test", Ended: started.Add(time.Minute), Outcome: "handled"},
		{ID: "im-1"}, // knows nothing: changes nothing
	}
	for _, st := range steps {
		if err := s.PutConversation(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	c, _, _ = s.Conversation(ctx, "im-1")
	want := Conversation{ID: "im-1", Network: "xmpp", User: "ann@example.test", CustomerID: ann.ID, Queue: "support",
		Reason: "order", Language: "en", Started: started, Ended: started.Add(time.Minute), Outcome: "handled"}
	if c != want {
		t.Fatalf("merged conversation\n%+v, want\n%+v", c, want)
	}
	if _, ok, err := s.Conversation(ctx, "im-9"); ok || err != nil {
		t.Errorf("Conversation(im-9) = %v, %v", ok, err)
	}
	_, _, err = s.Conversation(ctx, "")
	wantErr(t, err, ErrInvalid, "empty conversation id")

	for _, tc := range []struct {
		name string
		in   Conversation
		kind error
		text string
	}{
		{"no id", Conversation{Network: "xmpp", User: "x@y"}, ErrInvalid, "empty conversation id"},
		{"new without network", Conversation{ID: "im-2", User: "x@y"}, ErrInvalid, "needs a network and a user"},
		{"new without user", Conversation{ID: "im-2", Network: "xmpp"}, ErrInvalid, "needs a network and a user"},
		{"unknown customer", Conversation{ID: "im-2", Network: "xmpp", User: "x@y", CustomerID: 999}, ErrInvalid, "unknown customer id 999"},
		{"negative customer", Conversation{ID: "im-2", Network: "xmpp", User: "x@y", CustomerID: -1}, ErrInvalid, "customer id -1"},
		{"ends before it starts", Conversation{ID: "im-2", Network: "xmpp", User: "x@y", Started: t0, Ended: t0.Add(-time.Second)},
			ErrInvalid, "ends (2026-03-01T08:59:59Z) before it starts"},
		{"another user's id", Conversation{ID: "im-1", Network: "xmpp", User: "mallory@example.test"}, ErrConflict,
			"it is xmpp!ann@example.test's, not xmpp!mallory@example.test"},
		{"another network's id", Conversation{ID: "im-1", Network: "webchat"}, ErrConflict, "it is xmpp!ann@example.test's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.PutConversation(ctx, tc.in), tc.kind, tc.text)
			if n := count(t, s, "conversations"); n != 1 {
				t.Errorf("%d conversations after bad input, want 1", n)
			}
			if c, _, _ := s.Conversation(ctx, "im-1"); c != want {
				t.Errorf("bad input changed im-1: %+v", c)
			}
		})
	}
}

func TestTranscript(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@example.test"})
	MustConversation(t, s, Conversation{ID: "im-2", Network: "xmpp", User: "bob@example.test"})
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	// Numbered by the store, several at once.
	err := s.AppendTranscript(ctx,
		TranscriptLine{Conversation: "im-1", Time: at(1), From: FromBot, Text: "Hello, who are you?"},
		TranscriptLine{Conversation: "im-1", Time: at(2), From: FromCustomer, Text: "Ann, C-100"},
		TranscriptLine{Conversation: "im-2", Time: at(2), From: FromCustomer, Text: "hi"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// Numbered by the caller, arriving out of order.
	for _, l := range []TranscriptLine{
		{Conversation: "im-1", Seq: 5, Time: at(5), From: FromAgent, AgentID: "alice", Text: "Done!"},
		{Conversation: "im-1", Seq: 3, Time: at(3), From: FromSystem, Text: "alice joined"},
		{Conversation: "im-1", Seq: 4, Time: at(4), From: FromSupervisor, AgentID: "sam", Text: "(whisper) check the refund"},
	} {
		if err := s.AppendTranscript(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	// The next store-numbered line follows the highest number.
	if err := s.AppendTranscript(ctx, TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: "thanks"}); err != nil {
		t.Fatal(err)
	}
	// A retry of a stored line is accepted and not doubled.
	if err := s.AppendTranscript(ctx, TranscriptLine{Conversation: "im-1", Seq: 3, Time: at(3), From: FromSystem, Text: "alice joined"}); err != nil {
		t.Errorf("retry of line 3: %v", err)
	}
	if err := s.AppendTranscript(ctx, TranscriptLine{Conversation: "im-1", Seq: 3, From: FromSystem, Text: "alice joined"}); err != nil {
		t.Errorf("retry of line 3 without its time: %v", err)
	}

	lines, err := s.Transcript(ctx, "im-1")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	var texts []string
	for _, l := range lines {
		seqs = append(seqs, l.Seq)
		texts = append(texts, l.Text)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("seqs %v, want 1..6", seqs)
	}
	wantTexts := []string{"Hello, who are you?", "Ann, C-100", "alice joined", "(whisper) check the refund", "Done!", "thanks"}
	if !slices.Equal(texts, wantTexts) {
		t.Fatalf("texts %q, want %q", texts, wantTexts)
	}
	if l := lines[4]; l != (TranscriptLine{Conversation: "im-1", Seq: 5, Time: at(5), From: FromAgent, AgentID: "alice", Text: "Done!"}) {
		t.Errorf("line 5 read back as %+v", l)
	}
	if lines[5].Time.IsZero() {
		t.Error("a line without a time was not stamped")
	}
	if l2, _ := s.Transcript(ctx, "im-2"); len(l2) != 1 || l2[0].Seq != 1 {
		t.Errorf("im-2 transcript %+v: numbered apart from im-1?", l2)
	}
	if none, err := s.Transcript(ctx, "im-9"); len(none) != 0 || err != nil {
		t.Errorf("Transcript(im-9) = %v, %v", none, err)
	}
	_, err = s.Transcript(ctx, " ")
	wantErr(t, err, ErrInvalid, "empty conversation id")
	if err := s.AppendTranscript(ctx); err != nil {
		t.Errorf("no lines: %v", err)
	}

	good := TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: "fine"}
	for _, tc := range []struct {
		name string
		line TranscriptLine
		kind error
		text string
	}{
		{"no conversation", TranscriptLine{From: FromCustomer, Text: "x"}, ErrInvalid, "line 1: empty conversation id"},
		{"unknown conversation", TranscriptLine{Conversation: "im-9", From: FromCustomer, Text: "x"}, ErrInvalid, "line 1: unknown conversation im-9"},
		{"unknown sender", TranscriptLine{Conversation: "im-1", From: "robot", Text: "x"}, ErrInvalid, `unknown sender "robot"`},
		{"no sender", TranscriptLine{Conversation: "im-1", Text: "x"}, ErrInvalid, `unknown sender ""`},
		{"agent without id", TranscriptLine{Conversation: "im-1", From: FromAgent, Text: "x"}, ErrInvalid, "an agent's line without an agent id"},
		{"empty text", TranscriptLine{Conversation: "im-1", From: FromBot}, ErrInvalid, "empty text"},
		{"negative seq", TranscriptLine{Conversation: "im-1", Seq: -1, From: FromBot, Text: "x"}, ErrInvalid, "line number -1"},
		{"seq taken by another line", TranscriptLine{Conversation: "im-1", Seq: 2, From: FromCustomer, Text: "not Ann"}, ErrConflict,
			"conversation im-1 already has a different line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A good line, then the bad one: neither is written.
			wantErr(t, s.AppendTranscript(ctx, good, tc.line), tc.kind, tc.text)
			if n := count(t, s, "transcript"); n != 7 {
				t.Errorf("%d lines after bad input, want 7", n)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C-100", "Ann", "")
	bob := MustCustomer(t, s, "C-101", "Bob", "")
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	MustConversation(t, s, Conversation{ID: "a1", Network: "xmpp", User: "ann@x", CustomerID: ann.ID, Started: day(1)})
	MustConversation(t, s, Conversation{ID: "a3", Network: "webchat", User: "v-77", CustomerID: ann.ID, Started: day(3)})
	MustConversation(t, s, Conversation{ID: "b1", Network: "xmpp", User: "bob@x", CustomerID: bob.ID, Started: day(2)})
	// Ann writes from a new address; the bot identifies her later.
	MustConversation(t, s, Conversation{ID: "a2", Network: "xmpp", User: "ann.work@x", Started: day(2)})
	if err := s.AppendTranscript(ctx,
		TranscriptLine{Conversation: "a2", From: FromCustomer, Text: "hi, it's Ann"},
		TranscriptLine{Conversation: "a2", From: FromBot, Text: "Your customer number?"},
	); err != nil {
		t.Fatal(err)
	}
	ids := func(cs []Conversation) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	h, err := s.History(ctx, ann.ID)
	if err != nil || !slices.Equal(ids(h), []string{"a3", "a1"}) {
		t.Fatalf("History(ann) = %v, %v; want a3 a1", ids(h), err)
	}
	if err := s.SetConversationCustomer(ctx, "a2", ann.ID); err != nil {
		t.Fatal(err)
	}
	h, _ = s.History(ctx, ann.ID)
	if !slices.Equal(ids(h), []string{"a3", "a2", "a1"}) {
		t.Fatalf("History(ann) after identification = %v, want a3 a2 a1", ids(h))
	}
	// The lines written before she was identified are hers now.
	var hers int
	for _, c := range h {
		lines, err := s.Transcript(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		hers += len(lines)
	}
	if hers != 2 {
		t.Errorf("Ann's history holds %d lines, want 2", hers)
	}
	if h, _ := s.History(ctx, bob.ID); !slices.Equal(ids(h), []string{"b1"}) {
		t.Errorf("History(bob) = %v", ids(h))
	}
	if h, err := s.History(ctx, 999); len(h) != 0 || err != nil {
		t.Errorf("History(999) = %v, %v", h, err)
	}
	if c, _ := s.ConversationsOf(ctx, "xmpp", "ann.work@x"); !slices.Equal(ids(c), []string{"a2"}) {
		t.Errorf("ConversationsOf(ann.work) = %v", ids(c))
	}

	for _, tc := range []struct {
		name     string
		id       string
		customer int64
		kind     error
		text     string
	}{
		{"no id", "", ann.ID, ErrInvalid, "empty conversation id"},
		{"no customer", "a2", 0, ErrInvalid, "customer id 0"},
		{"unknown customer", "a2", 999, ErrInvalid, "unknown customer id 999"},
		{"unknown conversation", "zz", ann.ID, ErrNotFound, "no such conversation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.SetConversationCustomer(ctx, tc.id, tc.customer), tc.kind, tc.text)
			if c, _, _ := s.Conversation(ctx, "a2"); c.CustomerID != ann.ID {
				t.Errorf("bad input changed a2: %+v", c)
			}
		})
	}
}
