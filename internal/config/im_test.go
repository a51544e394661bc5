package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const imCenter = `
center: {name: Example}
queues:
  - {name: chat-general, media: im}
  - {name: chat-tech, media: im}
  - {name: phones, media: voice}
agents:
  - {id: a1, name: Ann, skills: {chat-general: 5}, clients: {AliceChat: ">=2"}}
im:
  bot:
    greeting: Hello
    identify:
      prompt: "Who are you?"
      retries: 1
      verify: {field: postcode, prompt: "Your postcode?"}
    language:
      prompt: Language?
      options: [{key: en}, {key: fr, keywords: [french]}]
      default: en
    reason:
      prompt: Why?
      options:
        - {key: "1", keywords: [router], queue: chat-tech, priority: 2}
        - {key: "2", answer: orders}
      default_queue: chat-general
    answers:
      - {name: orders, kind: order_status, prompt: "Order number?"}
  customers:
    - {number: "1001", name: Alice Example, email: alice@example.test, postcode: AB1 2CD}
  identity: {handoff_secret_env: CCSWITCH_HANDOFF_SECRET}
  orders:
    - {id: A-1, customer: "1001", status: shipped}
`

func TestParseIM(t *testing.T) {
	f, err := Parse("im.yaml", []byte(imCenter))
	if err != nil {
		t.Fatal(err)
	}
	im := f.IM
	if im == nil {
		t.Fatal("no im section")
	}
	if im.Name != "Example" {
		t.Errorf("name %q, want the center's name", im.Name)
	}
	if im.PositionEvery.D() != 30*time.Second || im.CallbackOfferAfter.D() != time.Minute ||
		im.ClientWait.D() != 2*time.Second || im.MaxMessageBytes != 2000 || im.MessagesPerMinute != 30 {
		t.Errorf("defaults: %+v", im)
	}
	if im.Bot.Timeout.D() != 2*time.Minute || len(im.Bot.EscapeWords) != 1 || im.Bot.EscapeWords[0] != "agent" {
		t.Errorf("bot defaults: %+v", im.Bot)
	}
	if v := im.Bot.Identify.Verify; v == nil || v.Field != "postcode" || v.Tries != 3 || v.Prompt != "Your postcode?" {
		t.Errorf("verify: %+v, want postcode with 3 tries", v)
	}
	if im.Identity.UnverifiedText != "Tell me who you are first." || im.Identity.HandoffSecretEnv != "CCSWITCH_HANDOFF_SECRET" {
		t.Errorf("identity: %+v", im.Identity)
	}
	if im.Customers[0].Postcode != "AB1 2CD" {
		t.Errorf("postcode %q", im.Customers[0].Postcode)
	}
	if got := f.ExpandAgents()[0].Name; got != "Ann" {
		t.Errorf("agent name %q", got)
	}
	if got := f.IMQueue(); got != "chat-general" {
		t.Errorf("IMQueue %q", got)
	}
}

func TestParseIMErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, field, msg string
	}{
		{"queue of another media", "queue: chat-tech, priority", "queue: phones, priority", "im.bot.reason.options[0].queue", `queue "phones" takes voice, not im`},
		{"unknown queue", "default_queue: chat-general", "default_queue: nowhere", "im.bot.reason.default_queue", `unknown queue "nowhere"`},
		{"unknown answer", "answer: orders}", "answer: faq}", "im.bot.reason.options[1].answer", `unknown answer "faq"`},
		{"queue and answer", `answer: orders}`, `answer: orders, queue: chat-tech}`, "im.bot.reason.options[1].answer", "either queue or answer"},
		{"duplicate key", `{key: "2", answer`, `{key: "1", answer`, "im.bot.reason.options[1].key", `option key "1" used twice`},
		{"language option routes", "{key: en}", "{key: en, queue: chat-tech}", "im.bot.language.options[0]", "takes only key, label and keywords"},
		{"bad default", "default: en", "default: de", "im.bot.language.default", `no option with key "de"`},
		{"answer kind", "kind: order_status", "kind: weather", "im.bot.answers[0].kind", `unknown answer kind "weather"`},
		{"order of nobody", `customer: "1001"`, `customer: "9"`, "im.orders[0].customer", `unknown customer "9"`},
		{"negative retries", "retries: 1", "retries: -1", "im.bot.identify.retries", "must be >= 0"},
		{"unknown field", "greeting: Hello", "greting: Hello", "im.bot.greting", `unknown field "greting"`},
		{"zero rate", "customers:", "messages_per_minute: 0\n  customers:", "im.messages_per_minute", "must be >= 1"},
		{"customer twice", `- {number: "1001", name: Alice Example`, `- {number: "1001", name: Twin}
    - {number: "1001", name: Alice Example`, "im.customers[1].number", `customer "1001" listed twice`},
		{"order twice", `- {id: A-1, customer: "1001", status: shipped}`, `- {id: A-1, customer: "1001", status: shipped}
    - {id: A-1, customer: "1001", status: lost}`, "im.orders[1].id", `order "A-1" listed twice`},
		{"answer without name", "{name: orders, kind", "{name: '', kind", "im.bot.answers[0].name", "required"},
		{"verify field", "field: postcode", "field: birthday", "im.bot.identify.verify.field", `unknown field "birthday" (want one of postcode, email)`},
		{"verify without field", "field: postcode, ", "", "im.bot.identify.verify.field", "required"},
		{"verify without prompt", `, prompt: "Your postcode?"`, "", "im.bot.identify.verify.prompt", "required"},
		{"verify tries", "field: postcode,", "field: postcode, tries: 0,", "im.bot.identify.verify.tries", "0 must be within 1-10"},
		{"verify too many tries", "field: postcode,", "field: postcode, tries: 1000,", "im.bot.identify.verify.tries", "1000 must be within 1-10"},
		{"secret twice", "{handoff_secret_env: CCSWITCH_HANDOFF_SECRET}", "{handoff_secret_env: X, handoff_secret_file: /etc/x}", "im.identity.handoff_secret_env", "not both"},
		{"secret env name", "handoff_secret_env: CCSWITCH_HANDOFF_SECRET", "handoff_secret_env: 'A B'", "im.identity.handoff_secret_env", `"A B" is not an environment variable name`},
		{"secret file empty", "handoff_secret_env: CCSWITCH_HANDOFF_SECRET", "handoff_secret_file: ' '", "im.identity.handoff_secret_file", "empty path"},
		{"blank unverified text", "{handoff_secret_env: CCSWITCH_HANDOFF_SECRET}", "{unverified_text: ' '}", "im.identity.unverified_text", "must not be blank"},
		{"identity unknown key", "{handoff_secret_env: CCSWITCH_HANDOFF_SECRET}", "{handoff_secret: hunter2}", "im.identity.handoff_secret", `unknown field "handoff_secret"`},
		{"huge messages", "customers:", "max_message_bytes: 100000000\n  customers:", "im.max_message_bytes", "must be within 1-65536"},
		{"xmpp secret in the file", "customers:", "networks: {xmpp: [{component: 'x:5347', domain: a.test, secret: hunter2}]}\n  customers:",
			"im.networks.xmpp[0].secret", "secrets are not written in the center file"},
		{"xmpp without secret", "customers:", "networks: {xmpp: [{component: 'x:5347', domain: a.test}]}\n  customers:",
			"im.networks.xmpp[0]", "needs the component's secret"},
		{"xmpp two secrets", "customers:", "networks: {xmpp: [{component: 'x:5347', domain: a.test, secret_file: /f, secret_env: E}]}\n  customers:",
			"im.networks.xmpp[0].secret_env", "not both"},
		{"xmpp component", "customers:", "networks: {xmpp: [{component: nowhere, domain: a.test, secret_env: E}]}\n  customers:",
			"im.networks.xmpp[0].component", "want HOST:PORT"},
		{"xmpp domain twice", "customers:", "networks: {xmpp: [{component: 'x:1', domain: a.test, secret_env: E}, {component: 'y:1', domain: A.test, secret_env: F}]}\n  customers:",
			"im.networks.xmpp[1].domain", "given twice"},
		{"sip message user", "customers:", "networks: {sip_message: {user: 'a@b'}}\n  customers:",
			"im.networks.sip_message.user", "not a SIP user part"},
	} {
		src := strings.Replace(imCenter, tc.old, tc.new, 1)
		if src == imCenter {
			t.Fatalf("%s: %q not in the example", tc.name, tc.old)
		}
		_, err := Parse("im.yaml", []byte(src))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %v, want a config error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v\nwant field %s and %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestParseIMNeedsAQueue(t *testing.T) {
	_, err := Parse("im.yaml", []byte("queues: [{name: q}]\nim:\n  bot: {greeting: hi}\n"))
	if err == nil || !strings.Contains(err.Error(), "no im queue") {
		t.Errorf("err %v, want no im queue", err)
	}
}

func TestParseIMAutomatedAgentOnAPhone(t *testing.T) {
	src := strings.Replace(imCenter, "agents:\n", `agents:
  - {id: bot, number: "2001", password: secret, chat_via: sip, skills: {chat-general: 1}}
`, 1) + `  automated_agents: [{id: bot, transfer_to: chat-general}]
`
	_, err := Parse("im.yaml", []byte(src))
	const want = `im.yaml:34:27: im.automated_agents[0].id: agent "bot" chats via sip`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %s", err, want)
	}
}

// A verification error names the file, line and column of the field.
func TestParseIMVerifyErrorPosition(t *testing.T) {
	src := strings.Replace(imCenter, "field: postcode", "field: shoe_size", 1)
	_, err := Parse("im.yaml", []byte(src))
	const want = `im.yaml:15:23: im.bot.identify.verify.field: unknown field "shoe_size"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %s", err, want)
	}
}

func TestParseIMNetworks(t *testing.T) {
	f, err := Parse("im.yaml", []byte(strings.Replace(imCenter, "customers:", `networks:
    xmpp: [{component: "127.0.0.1:5347", domain: Chat.Example.TEST, secret_env: XMPP_SECRET}]
    webchat: {enabled: false}
  customers:`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	n := f.IM.Networks
	if len(n.XMPP) != 1 || n.XMPP[0].Domain != "chat.example.test" || n.XMPP[0].SecretEnv != "XMPP_SECRET" {
		t.Errorf("xmpp %+v", n.XMPP)
	}
	if n.WebChat.On() || !n.SIPMessage.On() || n.SIPMessage.User != DefaultSIPMessageUser {
		t.Errorf("webchat on %v, sip message on %v user %q", n.WebChat.On(), n.SIPMessage.On(), n.SIPMessage.User)
	}
}

func TestHostPort(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1:5347": true, "xmpp.example.test:5347": true, "[::1]:5347": true,
		"nowhere": false, ":5347": false, "host:0": false, "host:70000": false, "host:x": false,
		"::1:5347": false, "[::1:5347": false, "a b:1": false,
	} {
		if got := hostPort(s); got != want {
			t.Errorf("hostPort(%q) = %v, want %v", s, got, want)
		}
	}
}
