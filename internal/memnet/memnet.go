// Package memnet is an in-memory datagram network for tests: PacketConns
// that deliver to each other through channels, so code that takes a
// net.PacketConn (sipgo's ServeUDP, RTP players) runs inside a
// testing/synctest bubble, where time is virtual and a blocked read is
// durably blocked. Datagrams to an address nobody listens on are dropped,
// as UDP would.
package memnet

import (
	"net"
	"os"
	"sync"
	"time"
)

// Network is a set of in-memory endpoints keyed by address.
type Network struct {
	mu    sync.Mutex
	conns map[string]*Conn
}

// New returns an empty network.
func New() *Network { return &Network{conns: map[string]*Conn{}} }

// Listen returns the endpoint at addr ("127.0.0.1:5060").
func (n *Network) Listen(addr string) (*Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{net: n, addr: ua, in: make(chan datagram, 1024), closed: make(chan struct{})}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.conns[ua.String()]; ok {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: ua, Err: os.ErrExist}
	}
	n.conns[ua.String()] = c
	return c, nil
}

type datagram struct {
	b    []byte
	from net.Addr
}

// Conn is one endpoint; it implements net.PacketConn.
type Conn struct {
	net       *Network
	addr      *net.UDPAddr
	in        chan datagram
	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed when the deadline changes
}

var _ net.PacketConn = (*Conn)(nil)

// ReadFrom waits for a datagram, the read deadline or Close.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		deadline := c.deadline
		if c.wake == nil {
			c.wake = make(chan struct{})
		}
		wake := c.wake
		c.mu.Unlock()
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case d := <-c.in:
			return copy(p, d.b), d.from, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-wake:
		}
	}
}

// WriteTo delivers p to the endpoint at addr, if any.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	key := addr.String()
	if ua, err := net.ResolveUDPAddr("udp", key); err == nil {
		key = ua.String()
	}
	c.net.mu.Lock()
	dst := c.net.conns[key]
	c.net.mu.Unlock()
	if dst == nil {
		return len(p), nil
	}
	select {
	case dst.in <- datagram{b: append([]byte(nil), p...), from: c.addr}:
	default: // a full receive buffer drops, as UDP does
	}
	return len(p), nil
}

// Close removes the endpoint from the network.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr.String())
		c.net.mu.Unlock()
	})
	return nil
}

// LocalAddr is the endpoint's address.
func (c *Conn) LocalAddr() net.Addr { return c.addr }

// SetDeadline sets the read deadline (writes never block).
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets when a blocked ReadFrom gives up.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline does nothing: writes never block.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }
