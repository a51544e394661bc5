package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWebChatOrderStatusNeedsAVerifiedCustomer walks the live center's
// web chat as strangers would: one who does not say who they are, and
// one who types another customer's number. Neither learns an order's
// status (nor the customer's name); the customer who answers the
// verification question gets her own order, and only hers.
func TestWebChatOrderStatusNeedsAVerifiedCustomer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startIMCenter(t)

	anon := dialWebChat(t, ctx, c.http, chromeUA)
	anon.say(ctx, "hi")
	anon.expect(ctx, "customer number")
	anon.say(ctx, "nobody")
	anon.expect(ctx, "I could not find you")
	anon.say(ctx, "still nobody")
	anon.expect(ctx, "Never mind")
	anon.say(ctx, "en")
	anon.expect(ctx, "How can we help?")
	anon.say(ctx, "3")
	anon.expect(ctx, "Tell me who you are first.")

	claimer := dialWebChat(t, ctx, c.http, chromeUA)
	claimer.say(ctx, "hi")
	claimer.expect(ctx, "customer number")
	claimer.say(ctx, "1002") // Bruno's number
	claimer.expect(ctx, "How can we help?")
	claimer.say(ctx, "where is my order?")
	claimer.expect(ctx, "what is your postcode?")
	claimer.say(ctx, "00000")
	claimer.expect(ctx, "That does not match our records.")
	claimer.say(ctx, "00000")
	claimer.expect(ctx, "That does not match our records.")
	claimer.say(ctx, "00000") // the third and last try
	claimer.expect(ctx, "Tell me who you are first.")

	alice := dialWebChat(t, ctx, c.http, chromeUA)
	alice.say(ctx, "hi")
	alice.expect(ctx, "customer number")
	alice.say(ctx, "1001")
	alice.expect(ctx, "How can we help?")
	alice.say(ctx, "3")
	alice.expect(ctx, "what is your postcode?")
	alice.say(ctx, "ab1 2cd")
	alice.expect(ctx, "Which order number?")
	alice.say(ctx, "B-200") // Bruno's order
	alice.expect(ctx, "I found no such order of yours.")
	alice.say(ctx, "3")
	alice.expect(ctx, "Which order number?")
	alice.say(ctx, "A-100")
	alice.expect(ctx, "A-100: shipped on 27 November")

	for who, v := range map[string]*webVisitor{"the anonymous visitor": anon, "the claimer": claimer, "alice": alice} {
		for _, line := range v.got {
			for _, secret := range []string{"being prepared", "Bruno", "shipped"} {
				if strings.Contains(line, secret) && !(who == "alice" && secret == "shipped") {
					t.Errorf("%s got %q", who, line)
				}
			}
		}
	}
}
