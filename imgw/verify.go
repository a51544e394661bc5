package imgw

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"unicode"

	"github.com/ccswitch/ccswitch/internal/fold"
)

// Who may read a customer's personal data (principle 8: a claimed
// identity unlocks nothing until it is verified). A conversation's
// customer is identified by what the customer typed (number, e-mail,
// name), which is enough to route the chat; personal data (an order's
// status) opens only once the customer is verified:
//
//   - the IM user is linked to the customer in the store (LinkedCustomer)
//     and its network authenticates users (UserAuthenticator): checked
//     when the conversation starts;
//   - the web chat was opened with a valid hand-off token (Inbound.Identity,
//     VerifyHandoff);
//   - or the customer answers im.bot.identify.verify, asked only when
//     personal data is asked for, at most Tries times per conversation.
//
// A customer who verified by a second fact from an authenticating
// network is linked (Journal.Link): that IM user's next chats need no
// question.

// access is what c may get of personal data.
type access uint8

const (
	accessRefused access = iota // say UnverifiedText, read nothing
	accessAsk                   // ask the verification question first
	accessOpen                  // the verified customer's own data
)

// access says whether c's customer may read their personal data now.
func (g *Gateway) access(c *conversation) access {
	switch {
	case c.customer == nil || c.customer.ID <= 0:
		return accessRefused
	case c.verified:
		return accessOpen
	}
	id := g.im.Bot.Identify
	if id == nil || id.Verify == nil || c.verifyWrong >= id.Verify.Tries {
		return accessRefused
	}
	fact := g.fact(c)
	if fact == "" || (id.Verify.Field == "email" && factKey(c.idText) == fact) {
		// Nothing to ask, or the customer identified by that very fact:
		// it is not a second one.
		return accessRefused
	}
	return accessAsk
}

// fact is c's customer's verification fact, as factKey gives it.
func (g *Gateway) fact(c *conversation) string {
	switch g.im.Bot.Identify.Verify.Field {
	case "postcode":
		return factKey(c.customer.Postcode)
	case "email":
		return factKey(c.customer.Email)
	}
	return ""
}

// factKey folds a fact for comparison: case and every space ignored.
func factKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, fold.Name(s))
}

// sameFact compares two folded facts in constant time (over their
// hashes, so not even the length shows).
func sameFact(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1 && a != ""
}

// The outcomes of an answer to the verification question.
type verifyResult uint8

const (
	verifyFailed verifyResult = iota // wrong, no tries left: still unverified
	verifyRetry                      // wrong, ask again
	verifyOK                         // verified
)

// verifyAnswer checks the customer's answer to the verification
// question; a right one verifies c (and links its IM user, when the
// network authenticates it).
func (g *Gateway) verifyAnswer(c *conversation, text string) verifyResult {
	if g.access(c) != accessAsk {
		return verifyFailed
	}
	if sameFact(factKey(text), g.fact(c)) {
		c.verified = true
		g.log.Info().Str("conversation", c.id).Msg("customer verified by the second fact")
		if g.authenticates(c.addr.Network) {
			g.journal.Link(Address{Network: c.addr.Network, User: c.addr.User}, c.customer.ID)
		}
		return verifyOK
	}
	c.verifyWrong++
	g.log.Info().Str("conversation", c.id).Int("wrong", c.verifyWrong).Msg("verification answer wrong")
	if c.verifyWrong < g.im.Bot.Identify.Verify.Tries {
		return verifyRetry
	}
	return verifyFailed
}

func (g *Gateway) verifyRetryText() string {
	v := g.im.Bot.Identify.Verify
	if v.Retry != "" {
		return v.Retry
	}
	return "That does not match our records. " + v.Prompt
}

// authenticates reports whether network's adapter vouches for its users.
func (g *Gateway) authenticates(network string) bool {
	a, ok := g.adapters[network].(UserAuthenticator)
	return ok && a.AuthenticatesUsers()
}

// identified makes cu c's customer (not verified by this).
func (g *Gateway) identified(c *conversation, cu Customer) {
	c.customer = &cu
	c.verified = false
	if c.language == "" && cu.Language != "" && g.im.Bot.Language != nil && optionByKey(g.im.Bot.Language, cu.Language) != nil {
		c.language = strings.ToLower(cu.Language)
	}
}

// handoff checks a hand-off token, once per conversation: a valid one
// makes its customer c's, verified.
func (g *Gateway) handoff(c *conversation, token string) {
	if token == "" || c.handoffTried {
		return
	}
	c.handoffTried = true
	num, err := VerifyHandoff(g.handoffSecret, token, g.clock.Now())
	if err != nil {
		g.log.Warn().Err(err).Str("conversation", c.id).Msg("hand-off token refused")
		return
	}
	cu, err := g.customers.FindCustomer(num)
	if err != nil || !strings.EqualFold(cu.Number, num) {
		g.log.Warn().Str("conversation", c.id).Msg("hand-off token for an unknown customer number")
		return
	}
	g.identified(c, cu)
	c.verified = true
	g.log.Info().Str("conversation", c.id).Msg("customer verified by a hand-off token")
}
