package imgw

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/internal/fold"
)

// Customer is a customer the bot can identify.
type Customer struct {
	ID       int64
	Number   string
	Name     string
	Email    string
	Language string
	// Postcode is a fact the bot may verify the customer by.
	Postcode string
}

// Lookup errors.
var (
	// ErrNotFound: no customer or order matches.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: several customers match (a common name); ask for the
	// number instead.
	ErrAmbiguous = errors.New("ambiguous")
)

// Customers is the customer directory the bot reads. Calls run on the
// gateway's goroutine: an implementation answers from memory or a local
// database, quickly.
type Customers interface {
	// FindCustomer finds a customer by number, e-mail or name.
	FindCustomer(key string) (Customer, error)
	// OrderStatus returns the status of order id, which must belong to
	// customer; ErrNotFound when there is no such order of that customer.
	// Customer 0 is nobody: ErrNotFound, always. The gateway asks only
	// for a verified customer.
	OrderStatus(id string, customer int64) (string, error)
	// LinkedCustomer returns the customer the IM user from.Network,
	// from.User (any of its devices) is linked to: the customer verified
	// from it before, or it was registered for them. ErrNotFound when it
	// is linked to nobody.
	LinkedCustomer(from Address) (Customer, error)
}

// ConversationRecord is a conversation as the journal keeps it.
type ConversationRecord struct {
	ID         string
	From       Address
	CustomerID int64
	Queue      string
	Reason     string
	Language   string
	Started    time.Time
	Ended      time.Time
	Outcome    string // "", "routed", "answered_by_bot", "abandoned", "handled", "callback", "timeout", "closed" (the center closed)
}

// Line is one line of a transcript.
type Line struct {
	Conversation string    `json:"conversation"`
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	// From is "customer", "agent", "bot", "system" or "supervisor".
	From    string `json:"from"`
	AgentID string `json:"agent_id,omitempty"`
	Text    string `json:"text"`
}

// CallbackRequest is a waiting customer's request to be called back.
type CallbackRequest struct {
	Conversation string
	From         Address
	CustomerID   int64
	Queue        string
	Number       string
	Requested    time.Time
}

// Journal keeps what the gateway must not lose: conversations, their
// transcripts, what is known of customers' devices, callback requests.
// Calls come from the gateway's goroutine and must not block on disk: an
// implementation queues the write (group commit) and makes it durable
// shortly after.
type Journal interface {
	Conversation(r ConversationRecord)
	Line(l Line)
	Device(from Address, client *ClientInfo, presence *PresenceInfo)
	Callback(r CallbackRequest)
	// Route records where a routed conversation is (queued, with an
	// agent, ended), for a restart to put it back (Gateway.Restore).
	Route(r RouteRecord)
	// Link links the IM user from.Network, from.User to customer, who
	// just verified from it: its next chats open the customer's data.
	Link(from Address, customer int64)
	// Durable calls done once every record journaled so far is durable
	// (nil), or cannot be made so (the error). done may run on another
	// goroutine and must not block.
	Durable(done func(error))
}

// Accepter is a Journal that can fall behind: its records wait in memory
// while its disk cannot take them (full, read-only). While Accepting
// reports an error, the gateway takes no chat lines it would have to
// journal: an agent's line is refused with an Unavailable error (not
// sent), a customer is told to try again (once a minute), and no new
// conversation starts, so that what waits stays bounded.
type Accepter interface {
	Accepting() error
}

// MemoryStore is a Customers and Journal in memory, for simulations and
// tests. It is safe for concurrent use.
type MemoryStore struct {
	mu            sync.Mutex
	customers     []Customer
	orders        map[string]memOrder
	conversations map[string]ConversationRecord
	lines         map[string][]Line
	devices       map[Address]deviceRecord
	links         map[userKey]int64
	callbacks     []CallbackRequest
	routes        map[string]RouteRecord
}

type memOrder struct {
	customer int64
	status   string
}

type deviceRecord struct {
	Clients        []ClientInfo
	Presence       PresenceInfo
	PresenceWrites int
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		orders:        map[string]memOrder{},
		conversations: map[string]ConversationRecord{},
		lines:         map[string][]Line{},
		devices:       map[Address]deviceRecord{},
		links:         map[userKey]int64{},
		routes:        map[string]RouteRecord{},
	}
}

// AddCustomer adds c, numbering it, and returns its ID.
func (m *MemoryStore) AddCustomer(c Customer) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.ID = int64(len(m.customers) + 1)
	m.customers = append(m.customers, c)
	return c.ID
}

// AddOrder adds an order of customer id.
func (m *MemoryStore) AddOrder(id string, customer int64, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orders[id] = memOrder{customer, status}
}

// FindCustomer implements Customers.
func (m *MemoryStore) FindCustomer(key string) (Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key = strings.TrimSpace(key)
	for _, c := range m.customers {
		if c.Number == key || (c.Email != "" && strings.EqualFold(c.Email, key)) {
			return c, nil
		}
	}
	var found []Customer
	for _, c := range m.customers {
		if fold.Name(c.Name) == fold.Name(key) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return Customer{}, ErrNotFound
	case 1:
		return found[0], nil
	}
	return Customer{}, ErrAmbiguous
}

// OrderStatus implements Customers.
func (m *MemoryStore) OrderStatus(id string, customer int64) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[strings.TrimSpace(id)]
	if !ok || customer <= 0 || o.customer != customer {
		return "", ErrNotFound
	}
	return o.status, nil
}

// LinkedCustomer implements Customers.
func (m *MemoryStore) LinkedCustomer(from Address) (Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.links[userKey{from.Network, from.User}]
	if !ok || id < 1 || int(id) > len(m.customers) {
		return Customer{}, ErrNotFound
	}
	return m.customers[id-1], nil
}

// Link implements Journal; it also registers an IM user for a customer
// (tests, simulations).
func (m *MemoryStore) Link(from Address, customer int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[userKey{from.Network, from.User}] = customer
}

// Conversation implements Journal.
func (m *MemoryStore) Conversation(r ConversationRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conversations[r.ID] = r
}

// Line implements Journal.
func (m *MemoryStore) Line(l Line) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines[l.Conversation] = append(m.lines[l.Conversation], l)
}

// Device implements Journal.
func (m *MemoryStore) Device(from Address, client *ClientInfo, presence *PresenceInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.devices[from]
	if client != nil {
		d.Clients = append(d.Clients, *client)
	}
	if presence != nil {
		d.Presence = *presence
		d.PresenceWrites++
	}
	m.devices[from] = d
}

// Callback implements Journal.
func (m *MemoryStore) Callback(r CallbackRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks = append(m.callbacks, r)
}

// Route implements Journal.
func (m *MemoryStore) Route(r RouteRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Phase == RouteEnded {
		delete(m.routes, r.Conversation)
		return
	}
	m.routes[r.Conversation] = r
}

// Routes returns the routes of the conversations not ended, in the order
// they queued: what Gateway.Restore takes after a restart.
func (m *MemoryStore) Routes() []RouteRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RouteRecord, 0, len(m.routes))
	for _, r := range m.routes {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RouteRecord) int {
		if c := a.Enqueued.Compare(b.Enqueued); c != 0 {
			return c
		}
		return strings.Compare(a.Conversation, b.Conversation)
	})
	return out
}

// Durable implements Journal: memory is as durable as it gets.
func (m *MemoryStore) Durable(done func(error)) { done(nil) }

// Transcript returns the lines of conversation id.
func (m *MemoryStore) Transcript(id string) []Line {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lines[id])
}

// ConversationRecord returns conversation id as last journaled.
func (m *MemoryStore) ConversationRecord(id string) (ConversationRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.conversations[id]
	return r, ok
}

// Callbacks returns the callback requests so far.
func (m *MemoryStore) Callbacks() []CallbackRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.callbacks)
}

// DeviceClients returns the client reports of a device.
func (m *MemoryStore) DeviceClients(a Address) []ClientInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.devices[a].Clients)
}

// conversationIDs lists the journaled conversations (tests).
func (m *MemoryStore) conversationIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.conversations))
	for id := range m.conversations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// presenceWrites counts the presence records journaled for a device
// (tests).
func (m *MemoryStore) presenceWrites(a Address) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.devices[a].PresenceWrites
}
