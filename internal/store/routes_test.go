package store

import (
	"context"
	"testing"
	"time"
)

// Routes of conversations not ended come back in the order they queued;
// a route needs a phase, a queue and an address; deleting one forgets it.
func TestRoutes(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b", "c"} {
		MustConversation(t, s, Conversation{ID: id, Network: "webchat", User: "v-" + id, Started: t0})
	}
	for i, id := range []string{"b", "a", "c"} {
		r := Route{Conversation: id, Phase: RouteQueued, Queue: "q", Enqueued: t0.Add(time.Duration(i) * time.Second),
			Network: "webchat", User: "v-" + id, Device: "tab-1"}
		if err := s.PutRoute(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRoute(ctx, Route{Conversation: "a", Phase: RouteConnected, Queue: "q", Enqueued: t0.Add(time.Second),
		Agent: "ann", Network: "webchat", User: "v-a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConversation(ctx, Conversation{ID: "c", Ended: t0.Add(time.Minute), Outcome: "abandoned"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Conversation != "b" || got[1].Conversation != "a" || got[1].Agent != "ann" ||
		got[1].Phase != RouteConnected || got[0].Device != "tab-1" || !got[0].Enqueued.Equal(t0) {
		t.Fatalf("routes: %+v", got)
	}
	if err := s.DeleteRoute(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Routes(ctx); len(got) != 1 {
		t.Fatalf("after delete: %+v", got)
	}
	for _, bad := range []Route{
		{Conversation: "a", Phase: "ringing", Queue: "q", Enqueued: t0, Network: "n", User: "u"},
		{Conversation: "a", Phase: RouteQueued, Enqueued: t0, Network: "n", User: "u"},
		{Conversation: "a", Phase: RouteQueued, Queue: "q", Network: "n", User: "u"},
		{Conversation: "nope", Phase: RouteQueued, Queue: "q", Enqueued: t0, Network: "n", User: "u"},
	} {
		if err := s.PutRoute(ctx, bad); err == nil {
			t.Errorf("PutRoute(%+v) took it", bad)
		}
	}
}

// Queue statistics are kept per interval and summed since a time.
func TestQueueStats(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	put := func(at time.Time, q string, c QueueCounts) {
		t.Helper()
		if err := s.PutQueueStats(ctx, at, q, c); err != nil {
			t.Fatal(err)
		}
	}
	put(day.Add(-StatsInterval), "q", QueueCounts{Offered: 100}) // yesterday
	put(day, "q", QueueCounts{Offered: 3, Answered: 1})
	put(day, "q", QueueCounts{Offered: 5, Answered: 4, WaitAnswered: time.Minute}) // replaces
	put(day.Add(StatsInterval), "q", QueueCounts{Offered: 2, Abandoned: 1})
	put(day.Add(StatsInterval), "r", QueueCounts{Offered: 1})
	got, err := s.QueueStatsSince(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if q := got["q"]; q.Offered != 7 || q.Answered != 4 || q.Abandoned != 1 || q.WaitAnswered != time.Minute || got["r"].Offered != 1 {
		t.Fatalf("since the day's start: %+v", got)
	}
	if err := s.PutQueueStats(ctx, day.Add(time.Minute), "q", QueueCounts{}); err == nil {
		t.Fatal("an interval that starts off the grid was taken")
	}
}

// A user's SIP bindings are replaced as a whole; none removes them.
func TestSIPBindings(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	exp := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	if err := s.PutSIPBindings(ctx, "2001", []SIPBinding{{Contact: "sip:2001@10.0.0.1:5060", Expires: exp, Source: "10.0.0.1:5060", Transport: "UDP", CSeq: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSIPBindings(ctx, "2002", []SIPBinding{{Contact: "sip:2002@10.0.0.2:5060", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSIPBindings(ctx, "2002", nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.AllSIPBindings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].AOR != "2001" || got[0].Source != "10.0.0.1:5060" || got[0].CSeq != 7 || !got[0].Expires.Equal(exp) {
		t.Fatalf("bindings: %+v", got)
	}
	if err := s.PutSIPBindings(ctx, "2001", []SIPBinding{{Contact: "sip:x@y"}}); err == nil {
		t.Fatal("a binding without expiry was taken")
	}
}
