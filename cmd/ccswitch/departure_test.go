package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/internal/store"
)

// queueWaiting returns how many interactions wait in queue name
// (/api/status).
func queueWaiting(t *testing.T, ctx context.Context, addr, name string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Queues []struct {
			Name    string `json:"name"`
			Waiting int    `json:"waiting"`
		} `json:"queues"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, q := range body.Queues {
		if q.Name == name {
			return q.Waiting
		}
	}
	t.Fatalf("no queue %s in the status", name)
	return 0
}

// Two web chat customers wait for an agent and both close their page;
// one comes back at once with her visitor key (a reload). The one who
// does not leaves the queue as abandoned once im.departure_grace (here
// 2 s) is over; the one who came back still waits.
func TestWebChatDepartureLeavesTheQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := os.ReadFile("../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	center := strings.Replace(string(src), "\nim:\n", "\nim:\n  departure_grace: 2s\n", 1)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(cfgPath, []byte(center), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "cc.db")
	lc := startServe(t, []string{"serve", "--config", cfgPath,
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warn", "--store", dbPath})
	addr := lc.m.center.Addrs().HTTP

	gone := dialWebChat(t, ctx, addr, chromeUA)
	gone.askAsAliceForTechSupport(ctx)
	back := dialWebChat(t, ctx, addr, chromeUA)
	back.askAsAliceForTechSupport(ctx)
	if n := queueWaiting(t, ctx, addr, "chat-tech"); n != 2 {
		t.Fatalf("%d waiting in chat-tech, want 2", n)
	}
	_ = gone.c.Close(websocket.StatusGoingAway, "tab closed")
	_ = back.c.Close(websocket.StatusGoingAway, "reload")
	again, _, err := websocket.Dial(ctx, "ws://"+addr+"/chat/ws?visitor="+back.key, &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {chromeUA}}})
	if err != nil {
		t.Fatal(err)
	}
	defer again.CloseNow()
	go func() { // the tab that came back reads what it gets
		for {
			if _, _, err := again.Read(ctx); err != nil {
				return
			}
		}
	}()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for queueWaiting(t, ctx, addr, "chat-tech") != 1 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("the customer who left is still queued")
		}
	}
	st, err := store.Open(dbPath, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outcome := func(key string) (string, bool) {
		convs, err := st.ConversationsOf(ctx, "webchat", key)
		if err != nil || len(convs) != 1 {
			t.Fatalf("conversations of %s: %+v %v", key, convs, err)
		}
		return convs[0].Outcome, !convs[0].Ended.IsZero()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, ended := outcome(gone.key)
		if ended {
			if o != "abandoned" {
				t.Fatalf("the one who left: outcome %q, want abandoned", o)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the one who left: conversation not ended in the store")
		}
		<-tick.C // the journal's writes reach the tables shortly
	}
	if o, ended := outcome(back.key); ended {
		t.Fatalf("the one who came back: ended (%q)", o)
	}
}
