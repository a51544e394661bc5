package xmpp

import (
	"slices"
	"sync"
)

// SubscriberStore remembers the customers (bare JIDs) whose presence the
// adapter subscribed to, per network ("xmpp:<domain>"), so that it can
// probe them after every (re)connect: a component has no roster on the
// server, and nothing is replayed to it when it reconnects.
//
// The adapter calls it from its connection's reader goroutine (Add and
// Remove) and once per connect (Subscribers), so calls should be quick.
// Add and Remove are idempotent. On an error the adapter logs it and goes
// on: the subscription is still approved, only the probe after the next
// reconnect is missed.
type SubscriberStore interface {
	AddSubscriber(network, bareJID string) error
	RemoveSubscriber(network, bareJID string) error
	// Subscribers returns the network's subscribers, in any order.
	Subscribers(network string) ([]string, error)
}

// MemSubscribers is a SubscriberStore in memory, for tests and for
// running without a database. The zero value is ready to use.
type MemSubscribers struct {
	mu  sync.Mutex
	set map[string]map[string]bool
}

var _ SubscriberStore = (*MemSubscribers)(nil)

// AddSubscriber implements SubscriberStore.
func (m *MemSubscribers) AddSubscriber(network, bareJID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		m.set = make(map[string]map[string]bool)
	}
	if m.set[network] == nil {
		m.set[network] = make(map[string]bool)
	}
	m.set[network][bareJID] = true
	return nil
}

// RemoveSubscriber implements SubscriberStore.
func (m *MemSubscribers) RemoveSubscriber(network, bareJID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.set[network], bareJID)
	return nil
}

// Subscribers implements SubscriberStore; the list is sorted.
func (m *MemSubscribers) Subscribers(network string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.set[network]))
	for j := range m.set[network] {
		out = append(out, j)
	}
	slices.Sort(out)
	return out, nil
}
