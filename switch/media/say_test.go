package media

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNumberWords(t *testing.T) {
	cases := map[int]string{
		0: "zero", 1: "one", 13: "thirteen", 20: "twenty", 21: "twenty one", 40: "forty",
		99: "ninety nine", 100: "one hundred", 101: "one hundred one", 110: "one hundred ten",
		119: "one hundred nineteen", 342: "three hundred forty two", 999: "nine hundred ninety nine",
		1000: "nine hundred ninety nine", -3: "zero",
	}
	for n, want := range cases {
		if got := strings.Join(NumberWords(n), " "); got != want {
			t.Errorf("NumberWords(%d) = %q, want %q", n, got, want)
		}
	}
	// Every number up to MaxSaid is said with prompts that exist.
	for n := range MaxSaid + 1 {
		for _, w := range NumberWords(n) {
			if _, ok := PromptByName(w); !ok {
				t.Fatalf("NumberWords(%d) uses %q, which has no prompt", n, w)
			}
		}
	}
}

func TestPositionAndWait(t *testing.T) {
	const (
		pos  = "you-are-number"
		inq  = "in-the-queue"
		wait = "your-estimated-wait-is"
		lt1  = "less-than-one-minute"
	)
	cases := []struct {
		position int
		wait     time.Duration
		want     []string
	}{
		{1, 30 * time.Second, []string{pos, "one", inq, wait, lt1}},
		{3, 4 * time.Minute, []string{pos, "three", inq, wait, "four", "minutes"}},
		{21, 61 * time.Minute, []string{pos, "twenty", "one", inq, wait, "sixty", "one", "minutes"}},
		{101, 0, []string{pos, "one", "hundred", "one", inq, wait, lt1}},
		{2, time.Minute, []string{pos, "two", inq, wait, "one", "minute"}},
		{2, 89 * time.Second, []string{pos, "two", inq, wait, "one", "minute"}},
		{2, 90 * time.Second, []string{pos, "two", inq, wait, "two", "minutes"}},
		{12, 59*time.Second + 999*time.Millisecond, []string{pos, "twelve", inq, wait, lt1}},
		{40, 20 * time.Minute, []string{pos, "forty", inq, wait, "twenty", "minutes"}},
		{999, 99 * time.Minute, []string{pos, "nine", "hundred", "ninety", "nine", inq, wait, "ninety", "nine", "minutes"}},
		{5000, 120 * time.Minute, []string{pos, "nine", "hundred", "ninety", "nine", inq, wait, "one", "hundred", "twenty", "minutes"}},
		{7, 1 << 62, []string{pos, "seven", inq, wait, "nine", "hundred", "ninety", "nine", "minutes"}},
		{0, 5 * time.Minute, []string{wait, "five", "minutes"}},
		{-1, -time.Minute, []string{wait, lt1}},
	}
	for _, c := range cases {
		got := PositionAndWait(c.position, c.wait)
		names := make([]string, len(got))
		for i, p := range got {
			names[i] = p.Name
			if p.Frames() == 0 {
				t.Errorf("(%d, %v): prompt %q is empty", c.position, c.wait, p.Name)
			}
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("PositionAndWait(%d, %v) = %v, want %v", c.position, c.wait, names, c.want)
		}
	}
}

func TestCallbackOffer(t *testing.T) {
	for d := '0'; d <= '9'; d++ {
		words, ok := CallbackOfferWords(d)
		if !ok || len(words) != 3 || words[0] != "press" || words[1] != NumberWords(int(d - '0'))[0] || words[2] != "to-be-called-back" {
			t.Errorf("%q: %v %v", d, words, ok)
		}
		ps := CallbackOffer(d)
		if len(ps) != 3 || ps[1].Name != words[1] || ps[2].Duration() < time.Second {
			t.Errorf("%q: prompts %v", d, ps)
		}
	}
	if got := strings.Join(must(CallbackOfferWords('1')), " "); got != "press one to-be-called-back" {
		t.Errorf("offer for 1: %q", got)
	}
	for _, d := range []rune{'*', '#', 'A', 'x', 0} {
		if words, ok := CallbackOfferWords(d); ok || CallbackOffer(d) != nil {
			t.Errorf("%q: offered %v", d, words)
		}
	}
}

func must(words []string, ok bool) []string {
	if !ok {
		return nil
	}
	return words
}
