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
