package sqlitejournal

import "github.com/ccswitch/ccswitch/imgw"

// testCenter is what TestJournalKeepsTheConversation's bot needs: an
// identification, a verification by postcode and an order status answer.
const testCenter = `
center: {name: Example Support}
queues:
  - {name: chat-general, media: im}
agents:
  - {id: ann, name: Ann, skills: {chat-general: 5}, ready: false}
im:
  bot:
    greeting: "Welcome to {center}!"
    identify:
      prompt: "Your customer number, e-mail or name?"
      found: "Hello {name}."
      unknown: "Never mind, let's go on."
      retries: 1
      verify: {field: postcode, prompt: "To protect your data, what is your postcode?", tries: 2}
    reason:
      prompt: "How can we help? 1 billing, 2 technical, 3 order status"
      options:
        - {key: "1", label: billing, keywords: [invoice, bill]}
        - {key: "2", label: technical, keywords: [router, internet]}
        - {key: "3", label: order status, keywords: [order, parcel], answer: orders}
      default_queue: chat-general
    answers:
      - {name: orders, kind: order_status, prompt: "Which order number?", not_found: "No such order of yours.", then: "Anything else? (1 billing, 2 technical, 3 order status)"}
    handoff: "Connecting you to an agent."
  customers:
    - {number: "1001", name: Alice Example, email: alice@example.test, postcode: AB1 2CD}
    - {number: "1002", name: Carl Other, postcode: "10115"}
  orders:
    - {id: A-1, customer: "1001", status: shipped}
    - {id: C-9, customer: "1002", status: lost}
`

// fakeNet is an adapter that records nothing: the test reads the store.
type fakeNet struct {
	name string
	auth bool
}

func (f *fakeNet) Network() string          { return f.name }
func (f *fakeNet) AuthenticatesUsers() bool { return f.auth }
func (f *fakeNet) Send(imgw.Outbound)       {}

// fakeDesk records what agents are told.
type fakeDesk struct{ got map[string][]imgw.AgentChat }

func (d *fakeDesk) DeliverChat(agent string, m imgw.AgentChat) {
	d.got[agent] = append(d.got[agent], m)
}
