package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/internal/peer"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// browser is a headless Chromium driven over the DevTools protocol, with
// one page attached.
type browser struct {
	t       *testing.T
	ws      *websocket.Conn
	session string

	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	// events are the DevTools events received so far, in order; arrived
	// has a value after each.
	events  []cdpEvent
	arrived chan struct{}
}

// cdpEvent is a DevTools event: its method and parameters.
type cdpEvent struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser launches Chromium (as the machine's probe does: headless,
// no network chatter) and opens a page.
func startBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	bin := peer.Require(t, "chromium")
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				found <- url
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case <-ctx.Done():
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(16 << 20)
	b := &browser{t: t, ws: ws, pending: map[int]chan cdpReply{}, arrived: make(chan struct{}, 1)}
	go b.read(ctx)
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	return b
}

func (b *browser) read(ctx context.Context) {
	for {
		_, data, err := b.ws.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
			cdpEvent
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.ID == 0 {
			b.mu.Lock()
			b.events = append(b.events, m.cdpEvent)
			b.mu.Unlock()
			select {
			case b.arrived <- struct{}{}:
			default:
			}
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends a DevTools command and decodes its result into out.
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if err := b.ws.Write(ctx, websocket.MessageText, data); err != nil {
		b.t.Fatal(err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		b.t.Fatalf("%s: no answer: %v", method, ctx.Err())
		return nil
	}
}

// eval runs a JavaScript expression in the page, awaiting a promise, and
// returns its value as a string; a rejected promise fails the test.
func (b *browser) eval(ctx context.Context, expr string) string {
	b.t.Helper()
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		Exception *struct {
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		b.t.Fatal(err)
	}
	if r.Exception != nil {
		b.t.Fatalf("page: %s %s", r.Exception.Text, r.Exception.Exception.Description)
	}
	return fmt.Sprint(r.Result.Value)
}

// pageHelpers are functions the test calls in the chat page: say types a
// line and presses Send; waitFor resolves with the first message from the
// center containing part, watching the log (MutationObserver), and
// rejects after ms with everything shown so far.
const pageHelpers = `
window.say = (text) => {
  const i = document.getElementById("text");
  i.value = text;
  i.dispatchEvent(new Event("input"));
  document.getElementById("send").click();
  return "sent";
};
window.waitFor = (part, ms) => new Promise((resolve, reject) => {
  const find = () => [...document.querySelectorAll("#log .msg.center")].map(d => d.textContent).find(t => t.includes(part));
  const found = find();
  if (found) { resolve(found); return; }
  const obs = new MutationObserver(() => { const f = find(); if (f) { obs.disconnect(); resolve(f); } });
  obs.observe(document.getElementById("log"), { childList: true });
  setTimeout(() => { obs.disconnect(); reject(new Error("no message with " + JSON.stringify(part) + "; log: " +
    [...document.querySelectorAll("#log .msg")].map(d => d.textContent).join(" | "))); }, ms);
});
"ready";
`

// TestWebChatInChromium: a customer in a real browser chats with an agent
// through the center's chat page: the page connects, the bot talks, the
// browser is detected from its user agent, the agent's lines show as
// text (markup never rendered), and the agent ends the chat.
func TestWebChatInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := startIMCenter(t)
	ann := c.agentDesk(t, ctx, "ann")
	b := startBrowser(t, ctx)
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": "http://" + c.http + "/chat/"}, nil); err != nil {
		t.Fatal(err)
	}
	// Wait, in the page, until the new document has connected its
	// WebSocket (a navigation may destroy the first context we reach).
	const connected = `new Promise((resolve, reject) => {
  const t0 = Date.now();
  (function poll() {
    if (location.pathname === "/chat/" && document.body && document.body.dataset.state === "open") resolve("open");
    else if (Date.now() - t0 > 15000) reject(new Error("chat page not connected: " + location.href));
    else requestAnimationFrame(poll);
  })();
})`
	for attempt := 0; ; attempt++ {
		var r struct {
			Result struct {
				Value any `json:"value"`
			} `json:"result"`
		}
		err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": connected, "awaitPromise": true, "returnByValue": true}, &r)
		if err == nil && r.Result.Value == "open" {
			break
		}
		if attempt == 20 {
			t.Fatalf("chat page never connected: %v %v", err, r.Result.Value)
		}
	}
	b.eval(ctx, pageHelpers)
	step := func(say, want string) {
		t.Helper()
		if say != "" {
			b.eval(ctx, "say("+jsString(say)+")")
		}
		b.eval(ctx, "waitFor("+jsString(want)+", 10000)")
	}
	step("hello", "customer number")
	step("alice@example.test", "How can we help?")
	step("my wifi router is broken", "Connecting you to an agent.")
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if got, _ := ring.UserData.Get("client"); got != "Chrome" {
		t.Errorf("client %q, want Chrome (from the browser's user agent)", got)
	}
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	step("", "You are now chatting with Ann.")
	if _, err := ann.Do(ctx, cti.Request{Request: "RequestChatMessage", ConnID: ring.ConnID, Text: "<b>Hi</b> Alice, <img src=x onerror=alert(1)>let's fix it."}); err != nil {
		t.Fatal(err)
	}
	step("", "Ann: <b>Hi</b> Alice, <img src=x onerror=alert(1)>let's fix it.")
	if n := b.eval(ctx, `String(document.querySelectorAll("#log b, #log img, #log script").length)`); n != "0" {
		t.Errorf("%s elements rendered from chat text", n)
	}
	b.eval(ctx, `say("thank you")`)
	if m := expectChat(t, ctx, ann, "EventChatMessage", func(m cti.Message) bool { return m.From == "customer" }); m.Text != "thank you" {
		t.Fatalf("customer line %+v", m)
	}
	if err := ann.Release(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	step("", "Ann has ended the chat")
	page := b.eval(ctx, `document.getElementById("log").textContent`)
	for _, leak := range []string{"ann@", "sip:", "127.0.0.1", "/cti"} {
		if strings.Contains(page, leak) {
			t.Errorf("the page shows %q: %s", leak, page)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
