package imgw

import (
	"errors"
	"strings"
	"unicode"

	"github.com/ccswitch/ccswitch/internal/config"
)

// botStep is where a conversation is in the bot dialogue.
type botStep uint8

const (
	stepIdentify botStep = iota + 1
	stepLanguage
	stepReason
	stepAnswerKey // waiting for the key of a lookup answer (an order number)
	stepVerify    // waiting for the answer to the verification question
	stepDone
)

// botState is one conversation's progress through the dialogue.
type botState struct {
	step   botStep
	tries  int
	answer *config.BotAnswer
}

// words splits text into lower-case words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '@' && r != '.' && r != '-' && r != '_' && r != '/'
	})
}

// bare is s reduced to a menu key: trimmed, lower case, without trailing
// punctuation ("1.", "2)").
func bare(s string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), ".)!?:;, ")
}

// isWord reports whether text is, alone, one of list.
func isWord(text string, list []string) bool {
	b := bare(text)
	for _, w := range list {
		if b == bare(w) {
			return true
		}
	}
	return false
}

// matchOption picks the option text names: its key, or the most of its
// keywords (ties go to the first option).
func matchOption(m *config.BotMenu, text string) *config.MenuOption {
	b := bare(text)
	for i := range m.Options {
		if b == bare(m.Options[i].Key) || (m.Options[i].Label != "" && b == bare(m.Options[i].Label)) {
			return &m.Options[i]
		}
	}
	padded := padWords(text)
	var best *config.MenuOption
	bestHits := 0
	for i := range m.Options {
		if hits := keywordHits(padded, m.Options[i].Keywords); hits > bestHits {
			best, bestHits = &m.Options[i], hits
		}
	}
	return best
}

// padWords returns text's words, lower case, space-separated with a space
// at each end, for keywordHits.
func padWords(text string) string { return " " + strings.Join(words(text), " ") + " " }

// keywordHits counts the keywords (each one or more words) that padded
// (from padWords) contains as whole words.
func keywordHits(padded string, keywords []string) int {
	hits := 0
	for _, k := range keywords {
		if k = strings.Join(words(k), " "); k != "" && strings.Contains(padded, " "+k+" ") {
			hits++
		}
	}
	return hits
}

// fill replaces {name} and {center} in a bot text. {name} is the
// customer's name only when saying it tells nothing new: the customer is
// verified, or typed that very name to be identified. Otherwise (a number
// or an e-mail typed by anyone) the name is left out with the comma or
// space before it: "Thank you, {name}." reads "Thank you.", so that
// trying customer numbers does not reveal who they belong to.
func (g *Gateway) fill(c *conversation, s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	if c.customer != nil && (c.verified || factKey(c.idText) == factKey(c.customer.Name)) {
		s = strings.ReplaceAll(s, "{name}", c.customer.Name)
	} else {
		s = nameLeftOut.Replace(s)
	}
	return strings.ReplaceAll(s, "{center}", g.im.Name)
}

// nameLeftOut removes {name} with the comma or space before it.
var nameLeftOut = strings.NewReplacer(", {name}", "", " {name}", "", "{name}", "")

// botStart greets the customer and asks the first question.
func (g *Gateway) botStart(c *conversation) {
	c.bot = botState{}
	if t := g.im.Bot.Greeting; t != "" {
		g.say(c, "bot", g.fill(c, t))
	}
	g.botNext(c, stepIdentify)
}

// botNext moves to the first configured step from s on and asks it, or
// routes the conversation when no step is left.
func (g *Gateway) botNext(c *conversation, s botStep) {
	b := &g.im.Bot
	c.bot.tries = 0
	for ; s < stepDone; s++ {
		switch s {
		case stepIdentify:
			if b.Identify != nil && c.customer == nil {
				c.bot.step = s
				g.say(c, "bot", g.fill(c, b.Identify.Prompt))
				return
			}
		case stepLanguage:
			if b.Language != nil && c.language == "" {
				c.bot.step = s
				g.say(c, "bot", g.fill(c, b.Language.Prompt))
				return
			}
		case stepReason:
			if b.Reason != nil {
				c.bot.step = s
				g.say(c, "bot", g.fill(c, b.Reason.Prompt))
				return
			}
		}
	}
	c.bot.step = stepDone
	if b.Handoff != "" {
		g.say(c, "bot", g.fill(c, b.Handoff))
	}
	g.route(c)
}

// botInput handles the customer's answer to the current question.
func (g *Gateway) botInput(c *conversation, text string) {
	b := &g.im.Bot
	if isWord(text, b.EscapeWords) {
		c.bot.step = stepDone
		if b.Handoff != "" {
			g.say(c, "bot", g.fill(c, b.Handoff))
		}
		g.route(c)
		return
	}
	switch c.bot.step {
	case stepIdentify:
		g.botIdentify(c, text)
	case stepLanguage:
		m := b.Language
		o := matchOption(m, text)
		if o == nil && c.bot.tries == 0 && m.Default == "" {
			c.bot.tries++
			g.say(c, "bot", g.retryText(m.Retry, m.Prompt))
			return
		}
		if o == nil {
			if o = optionByKey(m, m.Default); o == nil {
				o = &m.Options[0]
			}
		}
		c.language = strings.ToLower(o.Key)
		g.botNext(c, stepReason)
	case stepReason:
		g.botReason(c, text)
	case stepVerify:
		a := c.bot.answer
		switch g.verifyAnswer(c, text) {
		case verifyOK:
			c.bot.step = stepAnswerKey
			g.say(c, "bot", g.fill(c, a.Prompt))
		case verifyRetry:
			g.say(c, "bot", g.verifyRetryText())
		default:
			g.say(c, "bot", g.im.Identity.UnverifiedText)
			g.afterAnswer(c, a)
		}
	case stepAnswerKey:
		a := c.bot.answer
		g.say(c, "bot", g.orderAnswer(c, a, text))
		g.afterAnswer(c, a)
	}
}

// orderAnswer is the bot's line for order key of c's customer: its
// status, or why not. The store is asked only for a verified customer.
func (g *Gateway) orderAnswer(c *conversation, a *config.BotAnswer, key string) string {
	key = strings.TrimSpace(key)
	if g.access(c) != accessOpen {
		return g.im.Identity.UnverifiedText
	}
	status, err := g.customers.OrderStatus(key, c.customer.ID)
	switch {
	case err == nil:
		return key + ": " + status
	case a.NotFound != "":
		return g.fill(c, a.NotFound)
	}
	return "I could not find that."
}

func (g *Gateway) retryText(retry, prompt string) string {
	if retry != "" {
		return retry
	}
	return "Sorry, I did not understand. " + prompt
}

func optionByKey(m *config.BotMenu, key string) *config.MenuOption {
	for i := range m.Options {
		if bare(m.Options[i].Key) == bare(key) {
			return &m.Options[i]
		}
	}
	return nil
}

func (g *Gateway) botIdentify(c *conversation, text string) {
	id := g.im.Bot.Identify
	cu, err := g.customers.FindCustomer(text)
	if err == nil {
		// Identified for routing only: what was typed proves nothing.
		g.identified(c, cu)
		c.idText = text
		g.journalConversation(c)
		if id.Found != "" {
			g.say(c, "bot", g.fill(c, id.Found))
		}
		g.botNext(c, stepLanguage)
		return
	}
	if c.bot.tries < id.Retries {
		c.bot.tries++
		switch {
		case errors.Is(err, ErrAmbiguous):
			g.say(c, "bot", "Several customers have that name. Please give your customer number or e-mail address.")
		case id.Retry != "":
			g.say(c, "bot", g.fill(c, id.Retry))
		default:
			g.say(c, "bot", "I could not find you. "+g.fill(c, id.Prompt))
		}
		return
	}
	if id.Unknown != "" {
		g.say(c, "bot", g.fill(c, id.Unknown))
	}
	c.anonymous = true
	g.botNext(c, stepLanguage)
}

func (g *Gateway) botReason(c *conversation, text string) {
	m := g.im.Bot.Reason
	o := matchOption(m, text)
	if o == nil {
		if m.DefaultQueue == "" && c.bot.tries == 0 {
			c.bot.tries++
			g.say(c, "bot", g.retryText(m.Retry, m.Prompt))
			return
		}
		if m.Default != "" {
			o = optionByKey(m, m.Default)
		}
	}
	c.reason = text
	if o != nil {
		if o.Label != "" {
			c.reason = o.Label
		}
		if o.Answer != "" {
			g.answer(c, o.Answer)
			return
		}
		c.queue, c.priority = o.Queue, o.Priority
	}
	if c.queue == "" {
		c.queue = g.defaultQueue
	}
	g.botNext(c, stepDone)
}

// answer gives one of the bot's own answers.
func (g *Gateway) answer(c *conversation, name string) {
	for i := range g.im.Bot.Answers {
		a := &g.im.Bot.Answers[i]
		if a.Name != name {
			continue
		}
		switch a.Kind {
		case "order_status":
			switch g.access(c) {
			case accessOpen:
				c.bot.step, c.bot.answer = stepAnswerKey, a
				g.say(c, "bot", g.fill(c, a.Prompt))
			case accessAsk:
				c.bot.step, c.bot.answer = stepVerify, a
				g.say(c, "bot", g.fill(c, g.im.Bot.Identify.Verify.Prompt))
			default:
				g.say(c, "bot", g.im.Identity.UnverifiedText)
				g.afterAnswer(c, a)
			}
		default:
			g.say(c, "bot", g.fill(c, a.Text))
			g.afterAnswer(c, a)
		}
		return
	}
}

// afterAnswer asks the reason again once the bot answered by itself.
func (g *Gateway) afterAnswer(c *conversation, a *config.BotAnswer) {
	c.answered = true
	c.bot.answer = nil
	if a.Then != "" {
		g.say(c, "bot", g.fill(c, a.Then))
	}
	c.bot.step, c.bot.tries = stepReason, 0
	if a.Then == "" {
		g.say(c, "bot", g.fill(c, g.im.Bot.Reason.Prompt))
	}
}
