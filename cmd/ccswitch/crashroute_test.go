package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/store"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// A crash of `ccswitch serve` with 40 chats waiting in a queue and 10 with
// agents (web chat customers, CTI agents): serve is killed (SIGKILL) and
// started again on the same store. Every chat is back: the waiting ones
// in their order, with their waits, each customer told once where they
// are; the ones with agents are offered to their own agent first when it
// logs in again, with the transcript so far; no transcript line is lost
// or stored twice; /api/status's counters go on from where they were.
func TestServeKilledKeepsQueuedAndConnectedChats(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	// The example center, with room for five chats at Ann's and Cat's.
	src, err := os.ReadFile("../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	annCap, catCap := "skills: {chat-general: 5, chat-tech: 7}, capacity: {im: 3,", "skills: {chat-general: 3}, capacity: {im: 2,"
	if !strings.Contains(string(src), annCap) || !strings.Contains(string(src), catCap) {
		t.Fatal("the example center changed: Ann's or Cat's capacity is not where this test looks")
	}
	center := strings.NewReplacer(annCap, strings.Replace(annCap, "im: 3", "im: 5", 1),
		catCap, strings.Replace(catCap, "im: 2", "im: 5", 1)).Replace(string(src))
	cfgPath := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(cfgPath, []byte(center), 0o600); err != nil {
		t.Fatal(err)
	}

	const (
		connected = 10
		waiting   = 40
	)
	first := startServeChildConfig(t, ctx, "first", path, cfgPath)
	c := &imCenter{http: first.http, store: path}
	agentOf := make(map[string]string)    // visitor key -> agent, for those connected
	convOf := make(map[string]string)     // visitor key -> conversation id
	connOf := make(map[string]pbx.ConnID) // visitor key -> its interaction, before the crash
	var visitors []*webVisitor            // in the order they were routed
	desks := map[string]*cti.Client{}
	for i := range connected + waiting {
		agent := ""
		switch {
		case i == 0:
			agent = "ann"
		case i == 5:
			agent = "cat"
		}
		if agent != "" {
			desks[agent] = c.agentDesk(t, ctx, agent)
		}
		v := dialWebChat(t, ctx, c.http, chromeUA)
		v.askForBilling(ctx)
		visitors = append(visitors, v)
		if i >= connected {
			v.expect(ctx, fmt.Sprintf("You are number %d in the queue", i-connected+1))
			continue
		}
		who := "ann"
		if i >= 5 {
			who = "cat"
		}
		desk := desks[who]
		ring := expectChat(t, ctx, desk, "EventRinging", nil)
		if err := desk.Answer(ctx, ring.ConnID); err != nil {
			t.Fatal(err)
		}
		v.expect(ctx, "You are now chatting with")
		conv, _ := ring.UserData.Get("conversation")
		agentOf[v.key], convOf[v.key], connOf[v.key] = who, conv, ring.ConnID
		v.say(ctx, customerLine(i))
		expectChat(t, ctx, desk, "EventChatMessage", func(m cti.Message) bool { return m.Text == customerLine(i) })
		// Acknowledged once durable: with it, everything journaled before.
		if _, err := desk.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: agentLine(i)}); err != nil {
			t.Fatal(err)
		}
		v.expect(ctx, agentLine(i))
	}
	queuedSince := time.Now() // the waiting ones waited at least since here, give or take
	before := queueStatus(t, ctx, c.http, "chat-general")
	if before.Stats.Offered != connected+waiting || before.Stats.Answered != connected || before.Waiting != waiting {
		t.Fatalf("before the crash: %+v", before)
	}
	// One more acknowledged line makes the waiting chats' records durable.
	if _, err := desks["ann"].Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: connOf[visitors[0].key], Text: "one more"}); err != nil {
		t.Fatal(err)
	}
	waitStatsStored(t, ctx, path, "chat-general", before.Stats.Offered, before.Stats.Answered)

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(); !isKilled(err) {
		t.Fatalf("the first serve ended with %v, want killed", err)
	}
	for _, d := range desks {
		_ = d.Close()
	}

	second := startServeChildConfig(t, ctx, "second", path, cfgPath)
	after := queueStatus(t, ctx, second.http, "chat-general")
	if after.Stats.Offered != before.Stats.Offered || after.Stats.Answered != before.Stats.Answered || after.Waiting != connected+waiting {
		t.Fatalf("after the restart: %+v; before the crash: %+v", after, before)
	}
	if min := time.Since(queuedSince); after.OldestWait < min {
		t.Fatalf("oldest wait %v after the restart, want at least %v", after.OldestWait, min)
	}
	// Every customer is told once where they are.
	for i, v := range visitors {
		v.redial(ctx, second.http)
		want := fmt.Sprintf("We are back. You are still in the queue, position %d.", i+1)
		if i < connected {
			want = "We are back. " + strings.ToUpper(agentOf[v.key][:1]) + agentOf[v.key][1:] + " will be with you again in a moment."
		}
		v.expect(ctx, want)
	}
	// Cat comes back first: she gets her own chats, not Ann's (at the
	// head of the queue too), then Ann hers.
	c2 := &imCenter{http: second.http, store: path}
	for _, who := range []string{"cat", "ann"} {
		desk := c2.agentDesk(t, ctx, who)
		var got []string
		for range 5 {
			ring := expectChat(t, ctx, desk, "EventRinging", nil)
			conv, _ := ring.UserData.Get("conversation")
			got = append(got, conv)
			if err := desk.Answer(ctx, ring.ConnID); err != nil {
				t.Fatal(err)
			}
			hist := expectChat(t, ctx, desk, "EventChatHistory", func(m cti.Message) bool { return m.ConnID == ring.ConnID })
			i := slices.IndexFunc(visitors, func(v *webVisitor) bool { return convOf[v.key] == conv })
			if i < 0 {
				t.Fatalf("%s was offered %s, nobody's chat", who, conv)
			}
			for _, want := range []string{customerLine(i), agentLine(i)} {
				if n := countLines(hist.Lines, want); n != 1 {
					t.Errorf("%s's history of %s has %q %d times", who, conv, want, n)
				}
			}
		}
		var want []string
		for k, a := range agentOf {
			if a == who {
				want = append(want, convOf[k])
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s was offered %v, want her own %v", who, got, want)
		}
	}
	for _, v := range visitors[:connected] {
		v.expect(ctx, "You are now chatting with")
	}
	final := queueStatus(t, ctx, second.http, "chat-general")
	if final.Stats.Offered != before.Stats.Offered || final.Stats.Answered != before.Stats.Answered || final.Waiting != waiting {
		t.Fatalf("after the agents came back: %+v", final)
	}
	if err := second.stop(); err != nil {
		t.Fatalf("the second serve: %v", err)
	}

	// The transcripts: nothing stored twice, nothing lost, one line
	// saying the center is back.
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, v := range visitors {
		convs, err := st.ConversationsOf(ctx, "webchat", v.key)
		if err != nil || len(convs) != 1 {
			t.Fatalf("visitor %d: %d conversations (%v)", i, len(convs), err)
		}
		tr, err := st.Transcript(ctx, convs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for j, l := range tr {
			if l.Seq != int64(j+1) {
				t.Fatalf("visitor %d: line %d numbered %d", i, j+1, l.Seq)
			}
			seen[l.From+": "+l.Text]++
		}
		back := 0
		for line, n := range seen {
			if strings.Contains(line, "We are back.") {
				back += n
			}
		}
		if back != 1 {
			t.Errorf("visitor %d: %d lines say the center is back", i, back)
		}
		if i < connected {
			for _, want := range []string{"customer: " + customerLine(i), "agent: " + agentLine(i)} {
				if seen[want] != 1 {
					t.Errorf("visitor %d: %q stored %d times", i, want, seen[want])
				}
			}
		}
	}
}

func customerLine(i int) string { return fmt.Sprintf("customer line %d", i) }
func agentLine(i int) string    { return fmt.Sprintf("agent line %d", i) }

func countLines(lines []cti.ChatLine, text string) int {
	n := 0
	for _, l := range lines {
		if l.Text == text {
			n++
		}
	}
	return n
}

// askForBilling walks the example center's bot as Alice, about a bill:
// the chat goes to chat-general.
func (v *webVisitor) askForBilling(ctx context.Context) {
	v.t.Helper()
	v.say(ctx, "hello")
	v.expect(ctx, "customer number")
	v.say(ctx, "alice@example.test")
	v.expect(ctx, "How can we help?")
	v.say(ctx, "my bill is wrong")
	v.expect(ctx, "Connecting you to an agent.")
}

// redial opens the visitor's tab again, on another serve, with its key.
func (v *webVisitor) redial(ctx context.Context, httpAddr string) {
	v.t.Helper()
	_ = v.c.CloseNow()
	h := http.Header{"User-Agent": {chromeUA}}
	c, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/chat/ws?visitor="+v.key, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = c.CloseNow() })
	v.c = c
	if f := v.next(ctx); f["type"] != "welcome" || f["visitor"] != v.key {
		v.t.Fatalf("welcome back: %v, want the key %s", f, v.key)
	}
}

// crashQueueStatus is a queue's part of /api/status.
type crashQueueStatus struct {
	Name       string        `json:"name"`
	LoggedIn   int           `json:"logged_in"`
	Ready      int           `json:"ready"`
	Busy       int           `json:"busy"`
	Waiting    int           `json:"waiting"`
	OldestWait time.Duration `json:"oldest_wait"`
	Stats      struct {
		Offered  int64 `json:"offered"`
		Answered int64 `json:"answered"`
	} `json:"stats"`
}

func queueStatus(t *testing.T, ctx context.Context, addr, queue string) crashQueueStatus {
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
		Queues []crashQueueStatus `json:"queues"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, q := range body.Queues {
		if q.Name == queue {
			return q
		}
	}
	t.Fatalf("no queue %s in the status", queue)
	return crashQueueStatus{}
}

// waitStatsStored waits until the store file, written by serve, holds
// the day's counters of queue.
func waitStatsStored(t *testing.T, ctx context.Context, path, queue string, offered, answered int64) {
	t.Helper()
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := time.Now()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	for {
		got, err := st.QueueStatsSince(ctx, day)
		if err == nil && got[queue].Offered == offered && got[queue].Answered == answered {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("the store's statistics of %s: %+v, want %d offered, %d answered (%v)", queue, got[queue], offered, answered, err)
		}
	}
}

// SIP phones registered before a crash are still registered after it:
// their agents are logged in and take calls without a new REGISTER, and
// the agent whose call was up at the crash comes back ready, not busy.
func TestServeKilledKeepsRegistrations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	src, err := os.ReadFile("../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const mark = "  # Max is a bot"
	if !strings.Contains(string(src), mark) {
		t.Fatal("the example center changed: no place for the voice agents")
	}
	center := strings.Replace(string(src), mark, `  - {id: vic, name: Vic, number: "2002", password: secret, ready: true, skills: {phones: 5}, capacity: {voip: 1, im: 0}}
  - {id: wen, name: Wen, number: "2003", password: secret, ready: true, skills: {phones: 5}, capacity: {voip: 1, im: 0}}
`+mark, 1)
	cfgPath := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(cfgPath, []byte(center), 0o600); err != nil {
		t.Fatal(err)
	}
	scen := func(name string) string { return sippScenario(t, name) }
	register := func(sipAddr, user string, port int) {
		reg := sipp(t, ctx, "-sf", scen("register.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t)),
			"-m", "1", "-au", user, "-ap", "secret", "-key", "user", user,
			"-key", "contact_hostport", fmt.Sprintf("127.0.0.1:%d", port), "-key", "expires", "3600", "-timeout", "10s", sipAddr)
		waitPeer(t, reg, 15*time.Second, "REGISTER "+user)
	}
	phone := func(sipAddr, scenario string) int {
		port := cctest.FreeUDPPort(t)
		sipp(t, ctx, "-sf", scen(scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", sipAddr)
		return port
	}

	first := startServeChildConfig(t, ctx, "first", path, cfgPath)
	// Wen takes a call and keeps it up (her phone waits for a BYE).
	register(first.sip, "2003", phone(first.sip, "agent-waits-for-bye.xml"))
	waitQueue(t, ctx, first.http, "phones", "wen ready", func(q crashQueueStatus) bool { return q.Ready == 1 })
	caller := sipp(t, ctx, "-sf", scen("caller-waits.xml"), "-s", "6000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-timeout", "50s", first.sip)
	waitQueue(t, ctx, first.http, "phones", "wen's call up", func(q crashQueueStatus) bool { return q.Busy == 1 })
	vicPort := phone(first.sip, "agent-answers.xml")
	register(first.sip, "2002", vicPort)
	waitQueue(t, ctx, first.http, "phones", "vic ready", func(q crashQueueStatus) bool { return q.Ready == 1 && q.Busy == 1 })
	// The registrations reach the store behind the writer; the chat
	// counters' wait is the barrier used here too.
	waitBindingsStored(t, ctx, path, 2)

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(); !isKilled(err) {
		t.Fatalf("the first serve ended with %v, want killed", err)
	}
	_ = caller.Process.Kill() // its call died with serve

	second := startServeChildConfig(t, ctx, "second", path, cfgPath)
	// Both agents are back, logged in and ready: nobody registered again,
	// and Wen's call, lost in the crash, does not keep her busy.
	waitQueue(t, ctx, second.http, "phones", "both agents ready", func(q crashQueueStatus) bool {
		return q.LoggedIn == 2 && q.Ready == 2 && q.Busy == 0
	})
	// Vic logged in first (users in order): a call goes to his phone,
	// reached at the contact it registered before the crash.
	caller2 := sipp(t, ctx, "-sf", scen("caller-waits.xml"), "-s", "6000", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cctest.FreeUDPPort(t)), "-m", "1", "-timeout", "20s", second.sip)
	waitPeer(t, caller2, 25*time.Second, "a call after the restart, answered by vic's phone")
	if err := second.stop(); err != nil {
		t.Fatalf("the second serve: %v", err)
	}
}

// waitQueue polls /api/status until queue's status satisfies ok.
func waitQueue(t *testing.T, ctx context.Context, addr, queue, what string, ok func(crashQueueStatus) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		q := queueStatus(t, ctx, addr, queue)
		if ok(q) {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %s is %+v", what, queue, q)
		}
	}
}

// waitBindingsStored waits until the store file holds n SIP bindings.
func waitBindingsStored(t *testing.T, ctx context.Context, path string, n int) {
	t.Helper()
	st, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		bs, err := st.AllSIPBindings(ctx)
		if err == nil && len(bs) == n {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("%d bindings stored, want %d (%v)", len(bs), n, err)
		}
	}
}
