package config

import (
	"slices"
	"strings"
	"time"
)

// IM configures the IM gateway: how the bot talks with a customer before
// routing, what it can answer itself, how waiting customers are kept
// informed, the limits that protect agents from floods, and demo
// customers and orders for the embedded store.
type IM struct {
	// Name is the center's name as customers see it in chats.
	Name string `yaml:"name"`
	// Bot is the dialogue before routing.
	Bot Bot `yaml:"bot"`
	// PositionEvery is how often a waiting customer is told the position
	// in the queue and the estimated wait (default 30s; 0 never).
	PositionEvery Duration `yaml:"position_every"`
	// CallbackOfferAfter is how long a customer waits before being
	// offered a callback instead (default 60s; 0 never).
	CallbackOfferAfter Duration `yaml:"callback_offer_after"`
	// DepartureGrace is how long a customer who went away while their
	// chat waits for an agent (the web chat page closed, the IM presence
	// unavailable on every device) may take to come back (the web chat's
	// visitor key reconnects them) before the chat leaves the queue as
	// abandoned (default 60s; 0 never).
	DepartureGrace Duration `yaml:"departure_grace"`
	// ClientWait is how long routing may wait for the customer's client
	// software to be detected once the bot is done (default 2s).
	ClientWait Duration `yaml:"client_wait"`
	// MaxMessageBytes bounds one customer message (default 2000).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MessagesPerMinute bounds a customer's rate (default 30, burst 10).
	MessagesPerMinute int `yaml:"messages_per_minute"`
	// EndWords end the conversation when a customer sends one alone
	// (default ["/end"]).
	EndWords []string `yaml:"end_words"`
	// Identity says how the gateway verifies who a customer is before
	// it opens personal data (order status) to them.
	Identity Identity `yaml:"identity"`
	// AutomatedAgents are agents of the center that are bots: they take
	// chats like a person, answer what they can and transfer the rest.
	AutomatedAgents []AutomatedAgent `yaml:"automated_agents"`
	// Networks are the IM networks chats come from (XMPP servers, SIP
	// MESSAGE, the web chat).
	Networks Networks `yaml:"networks"`
	// Customers and Orders seed the embedded store (demos, tests).
	Customers []CustomerSeed `yaml:"customers"`
	Orders    []OrderSeed    `yaml:"orders"`
}

// Bot is the IVR-like dialogue of the IM gateway. Its steps run in this
// order, each only when configured: greeting, identify, language, reason;
// then the conversation is routed. A customer who writes one of the
// EscapeWords goes straight to an agent.
type Bot struct {
	Greeting string `yaml:"greeting"`
	// Timeout ends a dialogue the customer stopped answering (default
	// 2m); TimeoutText is said then.
	Timeout     Duration `yaml:"timeout"`
	TimeoutText string   `yaml:"timeout_text"`
	// EscapeWords skip the rest of the dialogue (default ["agent"]).
	EscapeWords []string `yaml:"escape_words"`
	// Handoff is said when the conversation is routed.
	Handoff  string      `yaml:"handoff"`
	Identify *Identify   `yaml:"identify"`
	Language *BotMenu    `yaml:"language"`
	Reason   *BotMenu    `yaml:"reason"`
	Answers  []BotAnswer `yaml:"answers"`
}

// Identify asks who the customer is: a customer number, e-mail or name,
// looked up in the customer store.
type Identify struct {
	Prompt string `yaml:"prompt"`
	// Found is said when the customer is found ({name} is replaced).
	Found string `yaml:"found"`
	// Unknown is said after Retries failed attempts; the dialogue goes on.
	Unknown string `yaml:"unknown"`
	// Retry is said after a failed attempt while retries remain.
	Retry   string `yaml:"retry"`
	Retries int    `yaml:"retries"`
	// Verify is the question that verifies an identified customer when
	// personal data is asked for (none: only a linked IM user or a
	// hand-off token verifies).
	Verify *Verify `yaml:"verify"`
}

// Verify is the bot's question for a second fact only the customer
// knows, asked of an identified customer the first time personal data is
// asked for (an order_status answer), not before: a chat that only wants
// routing is not slowed down.
type Verify struct {
	// Field is the customer record's field the answer is compared with
	// (case and spaces ignored): "postcode" or "email".
	Field string `yaml:"field"`
	// Prompt asks for it.
	Prompt string `yaml:"prompt"`
	// Retry is said after a wrong answer while tries remain (default
	// "That does not match our records. " and the prompt).
	Retry string `yaml:"retry"`
	// Tries bounds the answers per conversation (default 3, at most 10);
	// after as many wrong answers the customer stays unverified.
	Tries int `yaml:"tries"`
}

// Verify fields.
var verifyFields = []string{"postcode", "email"}

// Identity configures how a customer's identity is verified. A customer
// identified by what they typed (a number, an e-mail, a name) is routed
// as that customer but sees no personal data until verified: from an IM
// user linked to the customer in the store, by a signed hand-off token
// from the company's site (web chat), or by the answer to
// im.bot.identify.verify.
type Identity struct {
	// HandoffSecretFile and HandoffSecretEnv name where the secret that
	// signs hand-off tokens is (a file, or an environment variable; at
	// most one). Whoever opens the center reads it and gives it to the
	// gateway; without one, hand-off tokens are refused.
	HandoffSecretFile string `yaml:"handoff_secret_file"`
	HandoffSecretEnv  string `yaml:"handoff_secret_env"`
	// UnverifiedText is said instead of personal data to a customer who
	// is not verified (default "Tell me who you are first.").
	UnverifiedText string `yaml:"unverified_text"`
}

// BotMenu is a question answered by an option's key (a number or word) or
// by free text containing one of an option's keywords.
type BotMenu struct {
	Prompt  string       `yaml:"prompt"`
	Options []MenuOption `yaml:"options"`
	// Default is the option key taken when nothing matches (after one
	// retry); empty: the reason step falls back to DefaultQueue.
	Default string `yaml:"default"`
	// DefaultQueue routes a reason nothing matched.
	DefaultQueue string `yaml:"default_queue"`
	// Retry is said when nothing matched.
	Retry string `yaml:"retry"`
}

// MenuOption is one answer to a BotMenu.
type MenuOption struct {
	Key      string   `yaml:"key"`
	Label    string   `yaml:"label"`
	Keywords []string `yaml:"keywords"`
	// Queue routes the conversation (reason menus).
	Queue string `yaml:"queue"`
	// Priority is added to the queue's priority.
	Priority int `yaml:"priority"`
	// Answer names a BotAnswer the bot gives itself instead of routing.
	Answer string `yaml:"answer"`
}

// BotAnswer is something the bot answers itself: a fixed Text, or a
// lookup (order_status: asks for an order number and reads the store).
type BotAnswer struct {
	Name string `yaml:"name"`
	// Kind is "text" (default) or "order_status".
	Kind string `yaml:"kind"`
	Text string `yaml:"text"`
	// Prompt asks for the key of a lookup (the order number).
	Prompt string `yaml:"prompt"`
	// NotFound is said when the lookup finds nothing.
	NotFound string `yaml:"not_found"`
	// Then is said after the answer (e.g. "Anything else?"); the reason
	// menu is asked again.
	Then string `yaml:"then"`
	// Keywords let an automated agent pick this answer from free text.
	Keywords []string `yaml:"keywords"`
}

// AutomatedAgent makes an agent of the agents section a bot (the seed's
// "CSRs include automated systems"): it logs in and takes chats within
// its capacity, answers with the bot answers whose keywords the customer's
// words match, and transfers to a human queue, conversation attached,
// what it cannot answer or when the customer asks for a person.
type AutomatedAgent struct {
	// ID is the agent's id in the agents section.
	ID string `yaml:"id"`
	// Greeting is said when it takes a chat.
	Greeting string `yaml:"greeting"`
	// Answers names the bot answers it gives.
	Answers []string `yaml:"answers"`
	// TransferTo is the im queue it hands chats over to.
	TransferTo string `yaml:"transfer_to"`
	// Handoff is said before the transfer.
	Handoff string `yaml:"handoff"`
}

// CustomerSeed is a customer put into the store at start.
type CustomerSeed struct {
	Number   string `yaml:"number"`
	Name     string `yaml:"name"`
	Email    string `yaml:"email"`
	Language string `yaml:"language"`
	// Postcode is a fact the bot may verify the customer by.
	Postcode string `yaml:"postcode"`
	// Devices are the customer's ways to be reached (customers.go).
	Devices []Device `yaml:"devices"`
	// Callback is how the customer wants to be called back.
	Callback *CallbackPrefs `yaml:"callback"`
}

// OrderSeed is an order put into the store at start; Customer is the
// customer's number.
type OrderSeed struct {
	ID       string `yaml:"id"`
	Customer string `yaml:"customer"`
	Status   string `yaml:"status"`
}

// Answer kinds.
var answerKinds = []string{"text", "order_status"}

// IM defaults.
const (
	defaultPositionEvery   = 30 * time.Second
	defaultCallbackOffer   = 60 * time.Second
	defaultClientWait      = 2 * time.Second
	defaultDepartureGrace  = 60 * time.Second
	defaultBotTimeout      = 2 * time.Minute
	defaultMaxMessageBytes = 2000
	defaultMessagesPerMin  = 30
	maxMessageBytesLimit   = 64 << 10
	defaultVerifyTries     = 3
	maxVerifyTries         = 10
	// DefaultUnverifiedText is im.identity.unverified_text's default.
	DefaultUnverifiedText = "Tell me who you are first."
)

func (c *checker) setIMDefaults(f *File) {
	im := f.IM
	if im == nil {
		return
	}
	p := path{}.key("im")
	if im.Name == "" {
		im.Name = f.Center.Name
	}
	c.setCallbackDefaults(im)
	if c.unset(p.key("position_every"), im.PositionEvery == 0) {
		im.PositionEvery = Duration(defaultPositionEvery)
	}
	if c.unset(p.key("callback_offer_after"), im.CallbackOfferAfter == 0) {
		im.CallbackOfferAfter = Duration(defaultCallbackOffer)
	}
	if c.unset(p.key("departure_grace"), im.DepartureGrace == 0) {
		im.DepartureGrace = Duration(defaultDepartureGrace)
	}
	if c.unset(p.key("client_wait"), im.ClientWait == 0) {
		im.ClientWait = Duration(defaultClientWait)
	}
	if c.unset(p.key("max_message_bytes"), im.MaxMessageBytes == 0) {
		im.MaxMessageBytes = defaultMaxMessageBytes
	}
	if c.unset(p.key("messages_per_minute"), im.MessagesPerMinute == 0) {
		im.MessagesPerMinute = defaultMessagesPerMin
	}
	if im.EndWords == nil {
		im.EndWords = []string{"/end"}
	}
	b := &im.Bot
	if c.unset(p.key("bot").key("timeout"), b.Timeout == 0) {
		b.Timeout = Duration(defaultBotTimeout)
	}
	if b.EscapeWords == nil {
		b.EscapeWords = []string{"agent"}
	}
	c.setNetworkDefaults(im)
	if im.Identity.UnverifiedText == "" {
		im.Identity.UnverifiedText = DefaultUnverifiedText
	}
	if b.Identify != nil && b.Identify.Verify != nil {
		v := b.Identify.Verify
		if c.unset(p.key("bot").key("identify").key("verify").key("tries"), v.Tries == 0) {
			v.Tries = defaultVerifyTries
		}
		v.Field = strings.ToLower(strings.TrimSpace(v.Field))
	}
	for i := range b.Answers {
		if b.Answers[i].Kind == "" {
			b.Answers[i].Kind = "text"
		}
	}
}

func (c *checker) checkIM(f *File, queues map[string]*Queue) {
	im := f.IM
	if im == nil {
		return
	}
	p := path{}.key("im")
	for _, d := range []struct {
		key string
		v   Duration
	}{{"position_every", im.PositionEvery}, {"callback_offer_after", im.CallbackOfferAfter}, {"client_wait", im.ClientWait}} {
		if d.v < 0 {
			c.errorf(p.key(d.key), "must be >= 0")
		}
	}
	if im.MaxMessageBytes < 1 || im.MaxMessageBytes > maxMessageBytesLimit {
		c.errorf(p.key("max_message_bytes"), "%d must be within 1-%d", im.MaxMessageBytes, maxMessageBytesLimit)
	}
	if im.MessagesPerMinute < 1 {
		c.errorf(p.key("messages_per_minute"), "%d must be >= 1", im.MessagesPerMinute)
	}
	for i, w := range im.EndWords {
		if strings.TrimSpace(w) == "" {
			c.errorf(p.key("end_words").index(i), "empty word")
		}
	}
	imQueue := func(qp path, name string) {
		switch q := queues[name]; {
		case q == nil:
			c.errorf(qp, "unknown queue %q", name)
		case q.Media != "im":
			c.errorf(qp, "queue %q takes %s, not im", name, q.Media)
		}
	}
	b, bp := &im.Bot, p.key("bot")
	if b.Timeout <= 0 {
		c.errorf(bp.key("timeout"), "must be > 0")
	}
	for i, w := range b.EscapeWords {
		if strings.TrimSpace(w) == "" {
			c.errorf(bp.key("escape_words").index(i), "empty word")
		}
	}
	answers := map[string]bool{}
	for i, a := range b.Answers {
		ap := bp.key("answers").index(i)
		c.uniqueName(ap.key("name"), answers, a.Name, a.Name, "answer %q defined twice")
		switch a.Kind {
		case "text":
			if a.Text == "" {
				c.errorf(ap.key("text"), "required for a text answer")
			}
		case "order_status":
			if a.Prompt == "" {
				c.errorf(ap.key("prompt"), "required for an order_status answer")
			}
		default:
			c.errorf(ap.key("kind"), "unknown answer kind %q (want one of %s)", a.Kind, strings.Join(answerKinds, ", "))
		}
	}
	if id := b.Identify; id != nil {
		if id.Prompt == "" {
			c.errorf(bp.key("identify").key("prompt"), "required")
		}
		if id.Retries < 0 {
			c.errorf(bp.key("identify").key("retries"), "%d must be >= 0", id.Retries)
		}
		if v := id.Verify; v != nil {
			vp := bp.key("identify").key("verify")
			switch {
			case v.Field == "":
				c.errorf(vp.key("field"), "required (one of %s)", strings.Join(verifyFields, ", "))
			case !slices.Contains(verifyFields, v.Field):
				c.errorf(vp.key("field"), "unknown field %q (want one of %s)", v.Field, strings.Join(verifyFields, ", "))
			}
			if strings.TrimSpace(v.Prompt) == "" {
				c.errorf(vp.key("prompt"), "required")
			}
			if v.Tries < 1 || v.Tries > maxVerifyTries {
				c.errorf(vp.key("tries"), "%d must be within 1-%d", v.Tries, maxVerifyTries)
			}
		}
	}
	c.checkIdentity(f, p.key("identity"))
	c.checkNetworks(im)
	checkMenu := func(name string, m *BotMenu, reason bool) {
		if m == nil {
			return
		}
		mp := bp.key(name)
		if m.Prompt == "" {
			c.errorf(mp.key("prompt"), "required")
		}
		if len(m.Options) == 0 {
			c.errorf(mp.key("options"), "needs at least one option")
		}
		keys := map[string]bool{}
		for i, o := range m.Options {
			op := mp.key("options").index(i)
			c.uniqueName(op.key("key"), keys, strings.ToLower(strings.TrimSpace(o.Key)), o.Key, "option key %q used twice")
			if !reason {
				if o.Queue != "" || o.Answer != "" {
					c.errorf(op, "a %s option takes only key, label and keywords", name)
				}
				continue
			}
			switch {
			case o.Queue != "" && o.Answer != "":
				c.errorf(op.key("answer"), "set either queue or answer, not both")
			case o.Queue != "":
				imQueue(op.key("queue"), o.Queue)
			case o.Answer != "":
				if !answers[o.Answer] {
					c.errorf(op.key("answer"), "unknown answer %q (define it under im.bot.answers)", o.Answer)
				}
			case m.DefaultQueue == "":
				c.errorf(op, "needs a queue or an answer (or set default_queue)")
			}
		}
		if m.Default != "" && !keys[strings.ToLower(m.Default)] {
			c.errorf(mp.key("default"), "no option with key %q", m.Default)
		}
		if m.DefaultQueue != "" {
			if !reason {
				c.errorf(mp.key("default_queue"), "only the reason menu routes")
			} else {
				imQueue(mp.key("default_queue"), m.DefaultQueue)
			}
		}
	}
	checkMenu("language", b.Language, false)
	checkMenu("reason", b.Reason, true)
	if b.Reason == nil || b.Reason.DefaultQueue == "" {
		// Somewhere to route a customer who says "agent" at once.
		has := false
		for _, q := range f.Queues {
			has = has || q.Media == "im"
		}
		if !has {
			c.errorf(bp, "no im queue to route chats to: add one to queues, or set reason.default_queue")
		}
	}

	agentIDs := map[string]bool{}
	onPhone := map[string]bool{}
	for _, a := range f.ExpandAgents() {
		agentIDs[a.ID] = true
		onPhone[a.ID] = a.ChatVia == ChatViaSIP
	}
	robots := map[string]bool{}
	for i, r := range im.AutomatedAgents {
		rp := p.key("automated_agents").index(i)
		switch {
		case r.ID == "":
			c.errorf(rp.key("id"), "required")
		case !agentIDs[r.ID]:
			c.errorf(rp.key("id"), "unknown agent %q (list it under agents, with skills and im capacity)", r.ID)
		case robots[r.ID]:
			c.errorf(rp.key("id"), "agent %q listed twice", r.ID)
		case onPhone[r.ID]:
			c.errorf(rp.key("id"), "agent %q chats via sip: an automated agent has no phone (drop its chat_via)", r.ID)
		}
		robots[r.ID] = true
		for j, name := range r.Answers {
			if !answers[name] {
				c.errorf(rp.key("answers").index(j), "unknown answer %q (define it under im.bot.answers)", name)
			}
		}
		if r.TransferTo == "" {
			c.errorf(rp.key("transfer_to"), "required: the queue of the people who take over")
		} else {
			imQueue(rp.key("transfer_to"), r.TransferTo)
		}
	}

	customers := map[string]bool{}
	devices := map[string]string{}
	for i := range im.Customers {
		cu, cp := &im.Customers[i], p.key("customers").index(i)
		c.uniqueName(cp.key("number"), customers, cu.Number, cu.Number, "customer %q listed twice")
		c.checkCustomerDevices(cu, cp, devices)
	}
	orders := map[string]bool{}
	for i, o := range im.Orders {
		op := p.key("orders").index(i)
		c.uniqueName(op.key("id"), orders, o.ID, o.ID, "order %q listed twice")
		if !customers[o.Customer] {
			c.errorf(op.key("customer"), "unknown customer %q (list it under im.customers)", o.Customer)
		}
	}
}

// checkIdentity checks im.identity and what verification needs.
func (c *checker) checkIdentity(f *File, p path) {
	id := &f.IM.Identity
	if id.HandoffSecretFile != "" && id.HandoffSecretEnv != "" {
		c.errorf(p.key("handoff_secret_env"), "set handoff_secret_file or handoff_secret_env, not both")
	}
	if c.given(p.key("handoff_secret_file")) && strings.TrimSpace(id.HandoffSecretFile) == "" {
		c.errorf(p.key("handoff_secret_file"), "empty path")
	}
	if e := id.HandoffSecretEnv; c.given(p.key("handoff_secret_env")) && !envName(e) {
		c.errorf(p.key("handoff_secret_env"), "%q is not an environment variable name (letters, digits, _; not starting with a digit)", e)
	}
	if strings.TrimSpace(id.UnverifiedText) == "" {
		c.errorf(p.key("unverified_text"), "must not be blank")
	}
}

// envName reports whether s is a portable environment variable name.
func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// IMQueue returns the queue chats go to when nothing else says: the
// reason menu's default queue, else the first im queue.
func (f *File) IMQueue() string {
	if f.IM != nil && f.IM.Bot.Reason != nil && f.IM.Bot.Reason.DefaultQueue != "" {
		return f.IM.Bot.Reason.DefaultQueue
	}
	for _, q := range f.Queues {
		if q.Media == "im" {
			return q.Name
		}
	}
	return ""
}

// uniqueName checks a required name that must not repeat: key is how it
// is compared (seen holds the keys met so far), shown how the error
// names it, twice the message for a repeat (with %q).
func (c *checker) uniqueName(p path, seen map[string]bool, key, shown, twice string) {
	switch {
	case key == "":
		c.errorf(p, "required")
	case seen[key]:
		c.errorf(p, twice, shown)
	default:
		seen[key] = true
	}
}
