package media

import "time"

// MaxSaid is the largest number the prompts can say; larger positions and
// waits are announced as MaxSaid.
const MaxSaid = 999

var (
	ones = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens = [...]string{2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
)

// NumberWords returns the prompt names that say n in US English, for
// 0 ≤ n ≤ MaxSaid ("one hundred twenty one" for 121); n is clamped to that
// range.
func NumberWords(n int) []string {
	n = min(max(n, 0), MaxSaid)
	if n == 0 {
		return []string{"zero"}
	}
	var w []string
	if h := n / 100; h > 0 {
		w = append(w, ones[h], "hundred")
		n %= 100
	}
	switch {
	case n == 0:
	case n < 20:
		w = append(w, ones[n])
	default:
		w = append(w, tens[n/10])
		if n%10 != 0 {
			w = append(w, ones[n%10])
		}
	}
	return w
}

// PositionAndWaitWords returns the prompt names of the announcement
// PositionAndWait builds.
func PositionAndWaitWords(position int, wait time.Duration) []string {
	var w []string
	if position >= 1 {
		w = append(w, "you-are-number")
		w = append(w, NumberWords(position)...)
		w = append(w, "in-the-queue")
	}
	w = append(w, "your-estimated-wait-is")
	switch {
	case wait < time.Minute:
		w = append(w, "less-than-one-minute")
	case wait < time.Minute+30*time.Second:
		w = append(w, "one", "minute")
	default:
		minutes := MaxSaid
		if wait < MaxSaid*time.Minute {
			minutes = int((wait + 30*time.Second) / time.Minute) // to the nearest minute
		}
		w = append(w, NumberWords(minutes)...)
		w = append(w, "minutes")
	}
	return w
}

// PositionAndWait builds the announcement "you are number N in the queue,
// your estimated wait is M minutes" from the embedded prompts. The wait is
// rounded to the nearest minute; under one minute it says "less than one
// minute", and "one minute" in the singular. A position below 1 (unknown)
// leaves out the position part; positions and waits beyond MaxSaid are said
// as MaxSaid.
func PositionAndWait(position int, wait time.Duration) []Prompt {
	words := PositionAndWaitWords(position, wait)
	ps := make([]Prompt, len(words))
	for i, w := range words {
		ps[i] = mustPrompt(w)
	}
	return ps
}

// CallbackOfferWords returns the prompt names of the offer CallbackOffer
// builds, and false when digit is not one of '0'-'9' (the keys the prompts
// can say).
func CallbackOfferWords(digit rune) ([]string, bool) {
	if digit < '0' || digit > '9' {
		return nil, false
	}
	return []string{"press", ones[digit-'0'], "to-be-called-back"}, true
}

// CallbackOffer builds the announcement that offers a queued caller a
// callback: "press one to be called back, keeping your place", for the
// key digit ('0'-'9'); nil for any other key.
func CallbackOffer(digit rune) []Prompt {
	words, ok := CallbackOfferWords(digit)
	if !ok {
		return nil
	}
	ps := make([]Prompt, len(words))
	for i, w := range words {
		ps[i] = mustPrompt(w)
	}
	return ps
}
