package imgw

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzBotInput drives customers through the bot, the queue and a chat with
// arbitrary text: nothing panics, every text a customer gets is valid
// UTF-8 without control characters, no agent ID reaches a customer, and a
// conversation with an agent is always the agent's to write in. Oracle:
// whatever is typed, no line names an order's status unless the
// conversation it goes to has a verified customer who owns the order, and
// no order is looked up for anyone else.
func FuzzBotInput(f *testing.F) {
	for _, seed := range [][]string{
		{"hi", "1001", "2", "agent"},
		{"hello", "alice@example.test", "3", "A-1", "/end"},
		{"<script>x</script>", "\x00\xff", strings.Repeat("a", 3000), "callback", "+44 1234"},
		{"agent", "callback", "12", "/end"},
		{"", " ", "AGENT!", "Carl Other", "1", "router"},
		{"hi", "Carl Other", "3", "10115", "C-9", "3", "A-1"},
		{"hi", "Alice Example", "3", "AB1 2CD", "3", "10115", "C-9", "A-1"},
		{"hi", "nobody", "nobody", "3", "A-1", "C-9", "agent"},
		{"hi", "alice@example.test", "order", "ab12cd", "A-1", "order", "C-9"},
	} {
		f.Add(strings.Join(seed, "\n"), uint8(3))
	}
	f.Fuzz(func(t *testing.T, script string, ops uint8) {
		r := newRig(t, testCenter)
		r.ready("ann", "bob", "sue")
		// u2 writes from an XMPP user linked to Carl (customer 2).
		r.store.Link(Address{Network: "xmpp:test", User: "u2@x"}, 2)
		owner := map[string]int64{"A-1": 1, "C-9": 2}
		statuses := map[string]string{"A-1": "shipped", "C-9": "lost"}
		r.net.check = func(o Outbound) {
			for id, st := range statuses {
				if !strings.HasPrefix(o.Text, id+": "+st) {
					continue
				}
				c := r.gw.byUser[userKey{o.To.Network, o.To.User}]
				if c == nil || !c.verified || c.customer == nil || c.customer.ID != owner[id] {
					t.Fatalf("order %s's status reached %s, whose conversation is %+v", id, o.To.User, c)
				}
			}
		}
		users := []string{"u1@x", "u2@x"}
		for i, line := range strings.Split(script, "\n") {
			u := users[i%2]
			switch (int(ops) + i) % 7 {
			case 0:
				r.clk.Advance(time.Duration(len(line)) * time.Second)
			case 1:
				if c := r.conv(u); c != nil && c.conn != 0 {
					_ = r.ts.AnswerCall(c.conn)
				}
			case 2:
				if c := r.conv(u); c != nil && c.agent != "" {
					if err := r.gw.AgentMessage(c.agent, c.conn, line); err != nil && line != "" {
						if _, changed := Sanitize(line); !changed {
							t.Fatalf("agent %s could not write %q in its chat: %v", c.agent, line, err)
						}
					}
				}
			case 3:
				r.client(u, line, "1")
			}
			r.say(u, line)
		}
		for _, id := range r.spy.lookups {
			if id <= 0 {
				t.Fatalf("an order looked up for customer %d", id)
			}
		}
		for _, o := range r.net.out {
			if !utf8.ValidString(o.Text) {
				t.Fatalf("invalid UTF-8 to customer: %q", o.Text)
			}
			for _, ch := range o.Text {
				if ch < 0x20 && ch != '\n' && ch != '\t' {
					t.Fatalf("control character to customer: %q", o.Text)
				}
			}
			for _, id := range []string{"ann", "bob", "sue"} {
				if strings.Contains(o.Text, id) && !strings.Contains(script, id) {
					t.Fatalf("agent id %q reached a customer: %q", id, o.Text)
				}
			}
		}
	})
}

// FuzzNoNewMarkup sends arbitrary text through the gateway both ways —
// a customer's first line (the bot), a client's name and version, a line
// in a connected chat (to the agent's desk and the transcript), an
// agent's line (to the customer) —
// and checks the oracle: no text anyone is given holds a tag start ("<"
// and a letter, "/", "!" or "?") that the input did not, and a relayed
// line is the input as Sanitize leaves it.
func FuzzNoNewMarkup(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Add("<b>bold</b> & <i>")
	f.Add("<\u200b\u200bimg>")
	f.Fuzz(func(t *testing.T, s string) {
		r := newRig(t, testCenter)
		r.ready("ann")
		const u, v = "u@x", "v@x"
		c := r.chatting(u)
		r.say(v, s) // a first line: the bot's turn
		r.say(v, s)
		r.client(u, s, s) // the client's own name, shown to the agent
		r.say(u, s)
		want, _ := Sanitize(s)
		relay := want != "" && len(s) <= 2000 && !isWord(want, []string{"/end"})
		if got := r.desk.got["ann"]; relay {
			if m := got[len(got)-1]; m.Type != ChatMessage || m.From != "customer" || m.Text != want {
				t.Fatalf("customer wrote %q; ann got %+v, want text %q", s, m, want)
			}
		}
		if r.conv(u) != nil {
			err := r.gw.AgentMessage("ann", c.conn, s)
			if err == nil && r.net.last(u) != "Ann: "+want {
				t.Fatalf("ann wrote %q; the customer got %q, want %q", s, r.net.last(u), "Ann: "+want)
			}
		}
		for _, m := range r.desk.got["ann"] {
			texts := []string{m.Text}
			for _, l := range m.Lines {
				texts = append(texts, l.Text)
			}
			for _, x := range texts {
				if p := newMarkup(s, x); p != "" {
					t.Fatalf("input %q; ann got %q: %q is new markup", s, x, p)
				}
			}
		}
		for _, o := range r.net.out {
			if p := newMarkup(s, o.Text); p != "" {
				t.Fatalf("input %q; %s got %q: %q is new markup", s, o.To.User, o.Text, p)
			}
		}
		for _, l := range r.store.Transcript(c.id) {
			if p := newMarkup(s, l.Text); p != "" {
				t.Fatalf("input %q; the transcript has %q: %q is new markup", s, l.Text, p)
			}
		}
	})
}
