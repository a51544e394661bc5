package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// A batch writes its records in order (a conversation before its lines);
// a bad record is reported and the others are kept.
func TestBatch(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	w := s.Writer()
	var b Batch
	b.Conversation(Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	b.Line(line("im-1", 1))
	b.Line(line("im-1", 2))
	b.Line(line("nowhere", 1)) // unknown conversation
	b.DeviceClient("xmpp", "ann@x", "pc", Client{Family: "Gajim", Source: "xep-0092"})
	b.Line(line("im-1", 3))
	b.Callback(CallbackRequest{Network: "xmpp", User: "ann@x", Queue: "chat", Number: "+15550100"})
	if b.Len() != 7 {
		t.Fatalf("Len %d", b.Len())
	}
	var failures []string
	var doneErr error
	w.SubmitBatch(&b, func(what string, err error) {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", what, err)
		}
		failures = append(failures, what)
	}, func(err error) { doneErr = err })
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if doneErr != nil || !slices.Equal(failures, []string{"transcript line"}) {
		t.Fatalf("done %v, failures %v", doneErr, failures)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(3)) {
		t.Fatalf("lines %v", got)
	}
	if devs, err := s.Devices(ctx, "xmpp", "ann@x"); err != nil || len(devs) != 1 || devs[0].Family != "Gajim" {
		t.Fatalf("devices %+v %v", devs, err)
	}
	if cbs, err := s.PendingCallbacks(ctx); err != nil || len(cbs) != 1 {
		t.Fatalf("callbacks %+v %v", cbs, err)
	}

	// All good: one pass.
	var b2 Batch
	b2.Line(line("im-1", 4))
	b2.Line(line("im-1", 5))
	w.SubmitBatch(&b2, func(what string, err error) { t.Errorf("%s: %v", what, err) }, nil)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(5)) {
		t.Fatalf("lines %v", got)
	}
}

// Numbered lines of a batch go in together (a run of a conversation's
// consecutive lines is one chunk), with the rules of one at a time: a retry is accepted, a different line with a
// number taken is ErrConflict, an unknown conversation ErrInvalid, and
// neither takes the other lines down.
func TestBatchManyLines(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	w := s.Writer()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	MustConversation(t, s, Conversation{ID: "im-2", Network: "xmpp", User: "bob@x"})
	run := func(b *Batch) []error { return runBatch(t, w, b) }

	// 100 lines of two conversations, interleaved.
	var b Batch
	for i := int64(1); i <= 50; i++ {
		b.Line(line("im-1", i))
		b.Line(line("im-2", i))
	}
	if f := run(&b); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(50)) {
		t.Fatalf("im-1 lines %v", got)
	}

	// Retries among new lines, and the same line twice in one batch.
	var b2 Batch
	b2.Line(line("im-1", 49))
	b2.Line(line("im-1", 51))
	b2.Line(line("im-1", 51))
	b2.Line(line("im-2", 50))
	if f := run(&b2); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(51)) {
		t.Fatalf("im-1 lines %v", got)
	}

	// A conflict and an unknown conversation among good lines.
	var b3 Batch
	b3.Line(line("im-1", 52))
	other := line("im-1", 10)
	other.Text = "not line 10"
	b3.Line(other)
	b3.Line(line("nowhere", 1))
	b3.Line(line("im-1", 53))
	f := run(&b3)
	if len(f) != 2 || !errors.Is(f[0], ErrConflict) || !errors.Is(f[1], ErrInvalid) {
		t.Fatalf("failures %v, want a conflict and an invalid line", f)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(53)) {
		t.Fatalf("im-1 lines %v", got)
	}
	lines, err := s.Transcript(ctx, "im-1")
	if err != nil || lines[9].Text != "line 10" {
		t.Fatalf("line 10 %+v %v", lines[9], err)
	}
}
