package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
)

// recorder is a Receiver that keeps what it got and signals each event.
type recorder struct {
	mu  sync.Mutex
	got []imgw.Inbound
	ch  chan imgw.Inbound
}

func (r *recorder) Receive(in imgw.Inbound) {
	r.mu.Lock()
	r.got = append(r.got, in)
	r.mu.Unlock()
	r.ch <- in
}

func (r *recorder) next(t *testing.T, kind imgw.InboundKind) imgw.Inbound {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case in := <-r.ch:
			if in.Kind == kind {
				return in
			}
		case <-deadline:
			t.Fatalf("no inbound event of kind %d", kind)
		}
	}
}

func start(t *testing.T) (*Server, *recorder, string) {
	rec := &recorder{ch: make(chan imgw.Inbound, 100)}
	s := New(Config{Receiver: rec, Log: zerolog.Nop(), MaxFrameBytes: 4096, Outbox: 3})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, rec, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

type tab struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, url, ua string) *tab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if ua != "" {
		h.Set("User-Agent", ua)
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &tab{t, c}
}

func (tb *tab) read() frame {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := tb.c.Read(ctx)
	if err != nil {
		tb.t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		tb.t.Fatal(err)
	}
	return f
}

func (tb *tab) write(s string) {
	if err := tb.c.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		tb.t.Fatal(err)
	}
}

func TestConversationBothWaysAndReconnect(t *testing.T) {
	s, rec, url := start(t)
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36"
	tb := dial(t, url, ua)
	w := tb.read()
	if w.Type != "welcome" || !s.validKey(w.Visitor) {
		t.Fatalf("welcome %+v", w)
	}
	ci := rec.next(t, imgw.Client)
	if ci.Client.Family != "Chrome" || ci.Client.Version != "156.0.8078.73" || ci.Client.OS != "Linux" || ci.From.User != w.Visitor {
		t.Fatalf("client %+v from %v", ci.Client, ci.From)
	}
	tb.write(`{"type":"message","text":"hello"}`)
	in := rec.next(t, imgw.Message)
	if in.Text != "hello" || in.From.Network != Network || in.From.User != w.Visitor {
		t.Fatalf("inbound %+v", in)
	}
	tb.write(`{"type":"typing","state":"composing"}`)
	if in := rec.next(t, imgw.Typing); in.State != imgw.StateComposing {
		t.Fatalf("typing %+v", in)
	}
	s.Send(imgw.Outbound{To: in.From, Text: "Welcome!"})
	if f := tb.read(); f.Type != "message" || f.Text != "Welcome!" {
		t.Fatalf("outbound %+v", f)
	}
	s.Send(imgw.Outbound{To: in.From, State: imgw.StateComposing})
	if f := tb.read(); f.Type != "typing" || f.State != "composing" {
		t.Fatalf("typing out %+v", f)
	}

	// The tab closes; messages wait (the outbox keeps the newest 3), and
	// a reconnect with the key gets them, as the same visitor.
	_ = tb.c.Close(websocket.StatusNormalClosure, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitTabs(ctx, w.Visitor, 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", "two", "three", "four"} {
		s.Send(imgw.Outbound{To: in.From, Text: m})
	}
	tb2 := dial(t, url+"?visitor="+w.Visitor, "")
	if f := tb2.read(); f.Type != "welcome" || f.Visitor != w.Visitor {
		t.Fatalf("rewelcome %+v", f)
	}
	for _, want := range []string{"two", "three", "four"} {
		if f := tb2.read(); f.Text != want {
			t.Fatalf("outbox: %q, want %q", f.Text, want)
		}
	}
	tb2.write(`{"type":"message","text":"back"}`)
	if in := rec.next(t, imgw.Message); in.From.User != w.Visitor || in.Text != "back" {
		t.Fatalf("after reconnect %+v", in)
	}
}

func TestBadInput(t *testing.T) {
	_, rec, url := start(t)
	tb := dial(t, url+"?visitor=forged.key", "")
	if f := tb.read(); f.Type != "welcome" || f.Visitor == "forged.key" {
		t.Fatalf("forged key accepted: %+v", f)
	}
	for _, tc := range []struct{ in, want string }{
		{`{not json`, "bad frame"},
		{`{"type":"shout","text":"x"}`, `unknown frame type "shout"`},
		{`{"type":"typing","state":"dancing"}`, `unknown typing state "dancing"`},
	} {
		tb.write(tc.in)
		if f := tb.read(); f.Type != "error" || !strings.Contains(f.Error, tc.want) {
			t.Errorf("%s: %+v, want error %q", tc.in, f, tc.want)
		}
	}
	tb.write(`{"type":"message","text":"still here"}`)
	if in := rec.next(t, imgw.Message); in.Text != "still here" {
		t.Fatal(in)
	}
	// An oversize frame closes the connection with "message too big".
	tb.write(`{"type":"message","text":"` + strings.Repeat("x", 5000) + `"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := tb.c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversize frame: %v", err)
	}
}

func TestParseUserAgent(t *testing.T) {
	for _, tc := range []struct{ ua, family, version, os string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge", "120.0.2210.91", "Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox", "128.0", "Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari", "17.0", "iOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome", "156.0.0.0", "Linux"},
		{"Go-http-client/1.1", "Go-http-client", "1.1", ""},
		{"Mozilla/5.0", "", "", ""},
		{"", "", "", ""},
	} {
		got := ParseUserAgent(tc.ua)
		if got.Family != tc.family || got.Version != tc.version || got.OS != tc.os || got.Source != "http-user-agent" {
			t.Errorf("%q: %+v", tc.ua, got)
		}
	}
}

// A chat opened with ws?identity=TOKEN passes the token on with every
// message, for the gateway to verify; the web chat itself vouches for no
// visitor, and an oversized token is dropped.
func TestIdentityTokenIsPassedOn(t *testing.T) {
	s, rec, url := start(t)
	if _, ok := any(s).(imgw.UserAuthenticator); ok {
		t.Error("the web chat claims to authenticate its visitors")
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	token := imgw.SignHandoff(secret, "1001", time.Now().Add(time.Hour))
	tb := dial(t, url+"?identity="+token, "")
	if f := tb.read(); f.Type != "welcome" {
		t.Fatalf("first frame %+v", f)
	}
	tb.write(`{"type":"message","text":"hello"}`)
	in := rec.next(t, imgw.Message)
	if in.Identity != token || in.Text != "hello" {
		t.Fatalf("inbound %+v, want the token along", in)
	}
	tb.write(`{"type":"message","text":"again"}`)
	if in := rec.next(t, imgw.Message); in.Identity != token {
		t.Fatalf("second message without the token: %+v", in)
	}
	big := dial(t, url+"?identity="+strings.Repeat("x", 600), "")
	big.read()
	big.write(`{"type":"message","text":"hi"}`)
	if in := rec.next(t, imgw.Message); in.Identity != "" {
		t.Fatalf("oversized token passed on: %d bytes", len(in.Identity))
	}
	plain := dial(t, url, "")
	plain.read()
	plain.write(`{"type":"message","text":"hi"}`)
	if in := rec.next(t, imgw.Message); in.Identity != "" {
		t.Fatalf("identity %q without a token", in.Identity)
	}
}

// The page renders chat text as text: no embedded file uses an API that
// parses a string as HTML, and the script sets textContent.
func TestPageRendersTextOnly(t *testing.T) {
	htmlAPIs := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment", "DOMParser", "srcdoc", "setHTML"}
	var files, withText int
	err := fs.WalkDir(page, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(page, path)
		if err != nil {
			return err
		}
		files++
		for _, api := range htmlAPIs {
			if bytes.Contains(data, []byte(api)) {
				t.Errorf("%s uses %s: chat text must be set with textContent", path, api)
			}
		}
		if bytes.Contains(data, []byte(".textContent = text")) {
			withText++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 || withText == 0 {
		t.Fatalf("%d page files, %d setting textContent: the walk missed the page", files, withText)
	}
}

// Text with markup goes to the page as the JSON string of what was
// written, HTML-safe, for the page to show as text.
func TestMarkupTravelsAsText(t *testing.T) {
	s, rec, url := start(t)
	tb := dial(t, url, "")
	if w := tb.read(); w.Type != "welcome" {
		t.Fatalf("welcome %+v", w)
	}
	const text = "<<b>img src=x onerror=alert(1)> &lt;i&gt;"
	tb.write(`{"type":"message","text":` + string(must(json.Marshal(text))) + `}`)
	in := rec.next(t, imgw.Message)
	if in.Text != text {
		t.Fatalf("inbound %q, want %q as typed", in.Text, text)
	}
	s.Send(imgw.Outbound{To: in.From, Text: "Ann: " + text})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := tb.c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(data, "<>&") {
		t.Errorf("frame %s: markup characters not escaped", data)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != "message" || f.Text != "Ann: "+text {
		t.Fatalf("frame %s: %+v %v", data, f, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
