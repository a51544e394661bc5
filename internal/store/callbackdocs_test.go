package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// The callback server's requests are stored whole, replaced at each
// change, and listed by state; bad ones are refused and change nothing.
func TestCallbackDocs(t *testing.T) {
	s, ctx := MustOpen(t), context.Background()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	put := func(id, state, doc string) error {
		return s.PutCallbackDoc(ctx, CallbackDoc{ID: id, State: state, Queue: "support", Requested: at, Doc: json.RawMessage(doc)})
	}
	if err := put("cb-1", "pending", `{"id":"cb-1"}`); err != nil {
		t.Fatal(err)
	}
	if err := put("cb-2", "pending", `{"id":"cb-2"}`); err != nil {
		t.Fatal(err)
	}
	if err := put("cb-1", "done", `{"id":"cb-1","attempts":[{"result":"answered"}]}`); err != nil {
		t.Fatal(err)
	}
	wantErr(t, put("cb-3", "ringing", `{}`), ErrInvalid, `state "ringing"`)
	wantErr(t, put("cb-3", "pending", `{not json`), ErrInvalid, "not JSON")
	wantErr(t, put(" ", "pending", `{}`), ErrInvalid, "empty id")
	pending, err := s.CallbackDocs(ctx, "pending", "dialing")
	if err != nil || len(pending) != 1 || pending[0].ID != "cb-2" || !pending[0].Requested.Equal(at) {
		t.Fatalf("pending %+v %v; want cb-2 only", pending, err)
	}
	all, err := s.CallbackDocs(ctx)
	if err != nil || len(all) != 2 || all[0].State != "done" || string(all[0].Doc) != `{"id":"cb-1","attempts":[{"result":"answered"}]}` {
		t.Fatalf("all %+v %v", all, err)
	}

	// Alerts: put, replace, remove.
	if err := s.PutAlertDoc(ctx, AlertDoc{ID: "al-1", Doc: json.RawMessage(`{"minutes":5}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlertDoc(ctx, AlertDoc{ID: "al-2", Doc: json.RawMessage(`{"minutes":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlertDoc(ctx, AlertDoc{ID: "al-1", Removed: true}); err != nil {
		t.Fatal(err)
	}
	alerts, err := s.AlertDocs(ctx)
	if err != nil || len(alerts) != 1 || alerts[0].ID != "al-2" {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
}
