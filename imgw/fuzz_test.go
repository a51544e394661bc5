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
// conversation with an agent is always the agent's to write in.
func FuzzBotInput(f *testing.F) {
	for _, seed := range [][]string{
		{"hi", "1001", "2", "agent"},
		{"hello", "alice@example.test", "3", "A-1", "/end"},
		{"<script>x</script>", "\x00\xff", strings.Repeat("a", 3000), "callback", "+44 1234"},
		{"agent", "callback", "12", "/end"},
		{"", " ", "AGENT!", "Carl Other", "1", "router"},
	} {
		f.Add(strings.Join(seed, "\n"), uint8(3))
	}
	f.Fuzz(func(t *testing.T, script string, ops uint8) {
		r := newRig(t, testCenter)
		r.ready("ann", "bob", "sue")
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
