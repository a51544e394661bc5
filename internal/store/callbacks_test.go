package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestCallbackRequests(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	ann := MustCustomer(t, s, "C-100", "Ann", "")
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	var ids []int64
	for _, r := range []CallbackRequest{
		{Conversation: "im-1", Network: "xmpp", User: "ann@x", CustomerID: ann.ID, Queue: "support", Number: "+33 1 23 45 67 89", Requested: at(2)},
		{Number: "555-0100", Queue: "billing", Requested: at(1)},
		{Network: "webchat", User: "v-9", Queue: "support"}, // stamped now (the test clock is at t0+s): the oldest
	} {
		got, err := s.AddCallbackRequest(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == 0 || got.State != CallbackPending || got.Requested.IsZero() {
			t.Errorf("added %+v", got)
		}
		ids = append(ids, got.ID)
	}
	pending := func() []int64 {
		t.Helper()
		list, err := s.PendingCallbacks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	if got := pending(); !slices.Equal(got, []int64{ids[2], ids[1], ids[0]}) {
		t.Fatalf("pending %v, want oldest first %v", got, []int64{ids[2], ids[1], ids[0]})
	}
	list, _ := s.PendingCallbacks(ctx)
	want := CallbackRequest{ID: ids[0], Conversation: "im-1", Network: "xmpp", User: "ann@x", CustomerID: ann.ID,
		Queue: "support", Number: "+33 1 23 45 67 89", Requested: at(2), State: CallbackPending}
	if list[2] != want {
		t.Errorf("read back\n%+v, want\n%+v", list[2], want)
	}

	// Dialing is still pending (a crash while dialing loses nothing); done is not.
	if err := s.SetCallbackState(ctx, ids[1], CallbackDialing); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCallbackState(ctx, ids[0], CallbackDone); err != nil {
		t.Fatal(err)
	}
	if got := pending(); !slices.Equal(got, []int64{ids[2], ids[1]}) {
		t.Fatalf("pending %v, want %v", got, []int64{ids[2], ids[1]})
	}
	wantErr(t, s.SetCallbackState(ctx, 999, CallbackDone), ErrNotFound, "no such callback request")
	wantErr(t, s.SetCallbackState(ctx, ids[2], "lost"), ErrInvalid, `state "lost"`)

	for _, tc := range []struct {
		name string
		in   CallbackRequest
		text string
	}{
		{"no queue", CallbackRequest{Number: "1"}, "empty queue"},
		{"nothing to call", CallbackRequest{Queue: "q"}, "neither a number nor an IM address"},
		{"half an address", CallbackRequest{Queue: "q", Network: "xmpp"}, `IM address "xmpp!" needs both a network and a user`},
		{"unknown customer", CallbackRequest{Queue: "q", Number: "1", CustomerID: 999}, "unknown customer id 999"},
		{"bad state", CallbackRequest{Queue: "q", Number: "1", State: "maybe"}, `state "maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddCallbackRequest(ctx, tc.in)
			wantErr(t, err, ErrInvalid, tc.text)
			if n := count(t, s, "callback_requests"); n != 3 {
				t.Errorf("%d requests after bad input, want 3", n)
			}
		})
	}
}
