package sipmsg

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/imgw"
	pbx "github.com/ccswitch/ccswitch/switch"
)

func TestParseAgentLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want agentLine
	}{
		{"3 hello there", agentLine{chat: 3, text: "hello there"}},
		{"  [3] hello ", agentLine{chat: 3, text: "hello"}},
		{"[3 Alice Example] quoting the tag", agentLine{chat: 3, text: "quoting the tag"}},
		{"[12]no space", agentLine{chat: 12, text: "no space"}},
		{"hello", agentLine{text: "hello"}},
		{"/end", agentLine{end: true}},
		{"/END", agentLine{end: true}},
		{"3 /end", agentLine{chat: 3, end: true}},
		{"[3] /end", agentLine{chat: 3, end: true}},
		{"3", agentLine{chat: 3}},
		{"[3]", agentLine{chat: 3}},
		{"3\tline two", agentLine{chat: 3, text: "line two"}},
		// Not chat numbers: text.
		{"12345 is my order", agentLine{text: "12345 is my order"}},
		{"0 problems", agentLine{text: "0 problems"}},
		{"3rd time", agentLine{text: "3rd time"}},
		{"[x] checked", agentLine{text: "[x] checked"}},
		{"[] empty", agentLine{text: "[] empty"}},
		{"see [3]", agentLine{text: "see [3]"}},
		{"/end now", agentLine{text: "/end now"}},
		{"", agentLine{}},
	} {
		if got := parseAgentLine(tc.in); got != tc.want {
			t.Errorf("parseAgentLine(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseAgentLine(f *testing.F) {
	for _, s := range []string{"3 hi", "[3] hi", "[3 Alice] hi", "/end", "3 /end", "[", "]", "[9999] x", "99999 x", "[3]\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := parseAgentLine(s)
		if l.chat < 0 || l.chat > 9999 {
			t.Fatalf("%q: chat %d", s, l.chat)
		}
		if l.end && l.text != "" {
			t.Fatalf("%q: end with text %q", s, l.text)
		}
		if l.text != strings.TrimSpace(l.text) || !strings.Contains(s, l.text) {
			t.Fatalf("%q: text %q is not a trimmed part of the input", s, l.text)
		}
		if l.chat == 0 && !l.end && l.text != strings.TrimSpace(s) {
			t.Fatalf("%q: bare text changed to %q", s, l.text)
		}
	})
}

func TestPhoneDeskNumbers(t *testing.T) {
	d := newPhoneDesk()
	if _, _, err := d.chatFor(0); pbx.KindOf(err) != pbx.NotFound {
		t.Fatalf("no chat: %v, want not found", err)
	}
	if n := d.open(100); n != 1 {
		t.Fatalf("first chat numbered %d", n)
	}
	if n, id, err := d.chatFor(0); n != 1 || id != 100 || err != nil {
		t.Fatalf("bare text with one chat: %d %v %v", n, id, err)
	}
	if n := d.open(200); n != 2 {
		t.Fatalf("second chat numbered %d", n)
	}
	if n := d.open(100); n != 1 {
		t.Fatalf("chat 100 renumbered %d", n)
	}
	if _, _, err := d.chatFor(0); pbx.KindOf(err) != pbx.Invalid || !strings.Contains(err.Error(), "which chat") {
		t.Fatalf("bare text, two chats, none wrote: %v", err)
	}
	d.last = 2
	if n, id, _ := d.chatFor(0); n != 2 || id != 200 {
		t.Fatalf("bare text goes to %d (%v), want the last writer 2", n, id)
	}
	if _, _, err := d.chatFor(7); pbx.KindOf(err) != pbx.NotFound || err.Error() != "no chat 7" {
		t.Fatalf("chat 7: %v", err)
	}
	if n, ok := d.close(200); n != 2 || !ok || d.last != 0 {
		t.Fatalf("close: %d %v, last %d", n, ok, d.last)
	}
	if _, ok := d.close(200); ok {
		t.Fatal("closed twice")
	}
	// Numbers are not given again until they went round.
	if n := d.open(300); n != 3 {
		t.Fatalf("third chat numbered %d, want 3 (2 just ended)", n)
	}
	for id := pbx.ConnID(400); id < 400+maxChatNumber-3; id++ {
		d.close(id - 1)
		d.open(id)
	}
	if n := d.open(999); n != 2 {
		t.Fatalf("after going round: %d, want 2 (1 is still open)", n)
	}
	// An agent with more chats than numbers gets larger ones.
	big := newPhoneDesk()
	for id := range pbx.ConnID(maxChatNumber + 2) {
		big.open(id + 1)
	}
	if len(big.byNum) != maxChatNumber+2 || big.given != maxChatNumber+2 {
		t.Fatalf("%d chats numbered up to %d", len(big.byNum), big.given)
	}
}

func TestAgentChatTexts(t *testing.T) {
	m := imgw.AgentChat{Type: imgw.ChatMessage, From: "customer", Name: "Alice Example", Text: "my router is broken"}
	if got := lineTexts(3, m); len(got) != 1 || got[0] != "[3 Alice Example] my router is broken" {
		t.Errorf("customer line %q", got)
	}
	m = imgw.AgentChat{Type: imgw.ChatMessage, From: "system", Text: "Client software: Firefox 128"}
	if got := lineTexts(3, m); got[0] != "[3] Client software: Firefox 128" {
		t.Errorf("system line %q", got)
	}
	m = imgw.AgentChat{Type: imgw.ChatMessage, From: "supervisor", Name: "Sue", Text: "try a reset"}
	if got := lineTexts(12, m); got[0] != "[12 Sue] try a reset" {
		t.Errorf("supervisor line %q", got)
	}
	// A long line goes in several MESSAGEs, each tagged, none over the
	// budget, cut between words and never inside a rune.
	long := strings.Repeat("héllo wörld ", 200)
	parts := lineTexts(3, imgw.AgentChat{From: "customer", Name: "Alice", Text: long})
	if len(parts) < 3 {
		t.Fatalf("%d parts for %d bytes", len(parts), len(long))
	}
	var joined []string
	for _, p := range parts {
		if len(p) > maxMessageBody || !utf8.ValidString(p) || !strings.HasPrefix(p, "[3 Alice] ") {
			t.Fatalf("part of %d bytes: %q", len(p), p)
		}
		joined = append(joined, strings.TrimPrefix(p, "[3 Alice] "))
	}
	if strings.Join(joined, " ") != strings.TrimSpace(long) {
		t.Error("the parts do not make up the line")
	}

	if got := endedText(3, "customer"); got != "[3] chat ended by the customer" {
		t.Errorf("ended %q", got)
	}
	if got := endedText(3, "agent"); got != "[3] chat ended" {
		t.Errorf("ended %q", got)
	}

	h := imgw.AgentChat{Type: imgw.ChatHistory, Name: "Alice Example", Lines: []imgw.Line{
		{From: "customer", Text: "hello"}, {From: "bot", Text: "Welcome!"}, {From: "customer", Text: "1001"},
	}}
	want := "[4 Alice Example] new chat; reply with 4 text, end with 4 /end\nAlice Example: hello\nbot: Welcome!\nAlice Example: 1001"
	if got := historyText(4, h); got != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
	// A long history keeps its latest lines, each cut short.
	h.Lines = nil
	for i := range 100 {
		h.Lines = append(h.Lines, imgw.Line{From: "customer", Text: strings.Repeat("x", 2*i) + " line"})
	}
	got := historyText(4, h)
	if len(got) > maxMessageBody || !strings.HasSuffix(got, strings.Repeat("x", maxHistoryLine-len("…"))+"…") ||
		!strings.Contains(got, " earlier lines)\n") {
		t.Errorf("long history (%d bytes):\n%s", len(got), got)
	}
}

// chatRecorder is an AgentChatHandler that records what agents write.
type chatRecorder struct {
	mu       sync.Mutex
	lines    []string
	leaves   []pbx.ConnID
	handOver []string
}

func (r *chatRecorder) HandOverChats(agentID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handOver = append(r.handOver, agentID)
}

func (r *chatRecorder) AgentMessage(agentID string, id pbx.ConnID, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if text == "" {
		return pbx.Errorf(pbx.Invalid, "imgw: message: empty text")
	}
	r.lines = append(r.lines, fmt.Sprintf("%s@%d: %s", agentID, id, text))
	return nil
}

func (r *chatRecorder) SupervisorLeave(agentID string, id pbx.ConnID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaves = append(r.leaves, id)
	return nil
}

func (r *chatRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// customerRecorder is an imgw.Receiver that records what customers write.
type customerRecorder struct {
	mu  sync.Mutex
	ins []imgw.Inbound
}

func (r *customerRecorder) Receive(in imgw.Inbound) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ins = append(r.ins, in)
}

func (r *customerRecorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, in := range r.ins {
		if in.Kind == imgw.Message {
			out = append(out, in.From.User+": "+in.Text)
		}
	}
	return out
}

// write sends a text MESSAGE from p, with From user from, to the chat
// address, and returns the final response. A MESSAGE from the switch
// before it (one the write caused: "[2] you left the chat") is an error:
// the phone is to see its answer first.
func write(p *phone, from, text string, cseq uint32) *sip.Response {
	p.T.Helper()
	req := p.Request(sip.MESSAGE, "support", cseq, "msg-"+from+"-"+string(rune('a'+cseq)))
	host, port := splitHostPort(p.Addr)
	req.ReplaceHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: host, Port: port}, Params: params("tag", "t"+text)})
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
	req.SetBody([]byte(text))
	p.Send(req)
	for {
		m := p.Recv(5 * time.Second)
		if m == nil {
			p.T.Fatalf("no response to %q", text)
		}
		if res, ok := m.(*sip.Response); ok && res.CallID().Value() == req.CallID().Value() && !res.IsProvisional() {
			return res
		}
		if r, ok := m.(*sip.Request); ok && r.Method == sip.MESSAGE {
			p.T.Errorf("%q came before the answer to %q", r.Body(), text)
		}
	}
}

// messages answers the next n MESSAGEs and returns them; it answers and
// skips retransmissions, and those of the requests in seen.
func messages(p *phone, n int, seen ...*sip.Request) []*sip.Request {
	p.T.Helper()
	var got []*sip.Request
	for len(got) < n {
		m := p.Expect("MESSAGE", 5*time.Second).(*sip.Request)
		p.Respond(m, 200, "OK")
		if !slices.ContainsFunc(seen, func(s *sip.Request) bool { return sameRequest(s, m) }) {
			seen = append(seen, m)
			got = append(got, m)
		}
	}
	return got
}

func sameRequest(a, b *sip.Request) bool {
	return a.CallID().Value() == b.CallID().Value() && a.CSeq().SeqNo == b.CSeq().SeqNo
}

// TestAgentChatsOverSIP: the gateway is the desk of agent a1 (extension
// 1001) on its registered phone: chat lines arrive as MESSAGEs from the
// chat address, one at a time and in order; the phone's MESSAGEs reach
// the agent's chats by number; a MESSAGE claiming to be 1001 from
// elsewhere is a customer's.
func TestAgentChatsOverSIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chats, customers := &chatRecorder{}, &customerRecorder{}
		var ac *AgentChats
		h := start(t, func(h *harness) {
			m := h.messages("support", customers)
			var err error
			if ac, err = m.EnableAgentChats(map[string]string{"a1": "1001"}, chats); err != nil {
				t.Fatal(err)
			}
		})
		defer h.stop()
		phone := h.phone("127.0.0.1:7001")
		phone.Register()
		synctest.Wait()

		deliver := func(m imgw.AgentChat) {
			if err := h.loop.Do(context.Background(), func() { ac.DeliverChat("a1", m) }); err != nil {
				t.Fatal(err)
			}
		}
		deliver(imgw.AgentChat{Type: imgw.ChatHistory, ConnID: 41, Name: "Alice", Lines: []imgw.Line{{From: "customer", Text: "hi"}}})
		deliver(imgw.AgentChat{Type: imgw.ChatTyping, ConnID: 41, From: "customer", State: "composing"})
		deliver(imgw.AgentChat{Type: imgw.ChatMessage, ConnID: 41, From: "customer", Name: "Alice", Text: "are you there?"})
		deliver(imgw.AgentChat{Type: imgw.ChatHistory, ConnID: 42, Name: "Bob", Lines: []imgw.Line{{From: "customer", Text: "hello"}}})

		first := phone.Expect("MESSAGE", 5*time.Second).(*sip.Request)
		if from := first.From().Address; from.User != "support" || from.Host != "127.0.0.1" || from.Port != 5060 {
			t.Errorf("From %s, want the chat address", from.String())
		}
		if to := first.To().Address; to.User != "1001" {
			t.Errorf("To %s", to.String())
		}
		if ct := first.ContentType().Value(); ct != "text/plain;charset=UTF-8" {
			t.Errorf("Content-Type %s", ct)
		}
		if body := string(first.Body()); !strings.HasPrefix(body, "[1 Alice] new chat") || !strings.HasSuffix(body, "\nAlice: hi") {
			t.Errorf("history body %q", body)
		}
		// Until the phone answers, only the first one is in flight
		// (retransmitted, as UDP wants).
		for {
			m := phone.Recv(2 * time.Second)
			if m == nil {
				break
			}
			if r, ok := m.(*sip.Request); !ok || !sameRequest(r, first) {
				t.Fatalf("a second message while the first is unanswered:\n%v", m)
			}
		}
		phone.Respond(first, 200, "OK")
		then := messages(phone, 2, first)
		if b := string(then[0].Body()); b != "[1 Alice] are you there?" {
			t.Fatalf("then %q", b)
		}
		if b := string(then[1].Body()); !strings.HasPrefix(b, "[2 Bob] new chat") {
			t.Fatalf("then %q", b)
		}
		// A chat's lines share a Call-ID (phones thread them), CSeq rising.
		if then[0].CallID().Value() != first.CallID().Value() || then[0].CSeq().SeqNo <= first.CSeq().SeqNo ||
			then[1].CallID().Value() == first.CallID().Value() {
			t.Errorf("Call-IDs %s %s %s, CSeqs %d %d", first.CallID().Value(), then[0].CallID().Value(), then[1].CallID().Value(),
				first.CSeq().SeqNo, then[0].CSeq().SeqNo)
		}
		synctest.Wait()

		for i, tc := range []struct {
			text   string
			status int
			reason string
		}{
			{"[1] yes, how can I help?", 200, "OK"},
			{"and you, Bob?", 200, "OK"}, // chat 2 wrote last
			{"7 hello", 404, "Not Found: no chat 7"},
			{"1", 400, "Bad Request: imgw: message: empty text"},
			{"2 /end", 200, "OK"}, // not the recorder's contact: leaves
		} {
			res := write(phone, "1001", tc.text, uint32(10+i))
			if res.StatusCode != tc.status || res.Reason != tc.reason {
				t.Errorf("%q: %d %s, want %d %s", tc.text, res.StatusCode, res.Reason, tc.status, tc.reason)
			}
		}
		if got, want := strings.Join(chats.got(), "|"), "a1@41: yes, how can I help?|a1@42: and you, Bob?"; got != want {
			t.Errorf("agent wrote %q, want %q", got, want)
		}
		if len(chats.leaves) != 1 || chats.leaves[0] != 42 {
			t.Errorf("left %v, want chat 42", chats.leaves)
		}
		if got := string(messages(phone, 1, first)[0].Body()); got != "[2] you left the chat" {
			t.Errorf("after /end: %q", got)
		}
		// Chat 1 is the only one left: bare text goes there.
		if res := write(phone, "1001", "still here", 20); res.StatusCode != 200 {
			t.Errorf("bare text: %d %s", res.StatusCode, res.Reason)
		}

		// The same From from another address is a customer.
		forger := h.phone("127.0.0.1:7002")
		if res := write(forger, "1001", "1 give me a refund", 1); res.StatusCode != 200 {
			t.Errorf("forged: %d %s", res.StatusCode, res.Reason)
		}
		synctest.Wait()
		if got := strings.Join(chats.got(), "|"); strings.Contains(got, "refund") {
			t.Errorf("a forged MESSAGE reached the agent's chat: %q", got)
		}
		if got := customers.texts(); len(got) != 1 || got[0] != "sip:1001@127.0.0.1: 1 give me a refund" {
			t.Errorf("customers wrote %q", got)
		}
	})
}

func TestEnableAgentChatsChecks(t *testing.T) {
	h := start(t, func(h *harness) {
		bare := New(Config{SIP: h.gw, Receiver: &customerRecorder{}})
		if _, err := bare.EnableAgentChats(map[string]string{"a1": "1001"}, &chatRecorder{}); err == nil {
			t.Error("enabled without the registrations, the loop and the tserver")
		}
		m := h.messages("", &customerRecorder{})
		if m.User() != "support" {
			t.Errorf("chat user %q, want support", m.User())
		}
		if _, err := m.EnableAgentChats(map[string]string{"a1": "1001", "a2": "1001"}, &chatRecorder{}); err == nil || !strings.Contains(err.Error(), "share extension 1001") {
			t.Errorf("shared extension: %v", err)
		}
		if _, err := m.EnableAgentChats(map[string]string{"a1": ""}, &chatRecorder{}); err == nil {
			t.Error("agent without extension")
		}
	})
	h.stop()
}

func splitHostPort(s string) (string, int) {
	host, port, _ := net.SplitHostPort(s)
	n, _ := strconv.Atoi(port)
	return host, n
}

func params(k, v string) sip.HeaderParams {
	p := sip.NewParams()
	p.Add(k, v)
	return p
}
