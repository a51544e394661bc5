package media

import (
	"net"
	"os"
	"sync"
	"time"
)

// memNet is an in-memory datagram network for tests in virtual time
// (testing/synctest): its conns block on channels and timers only, so a
// bubble can tell when every goroutine is waiting.
type memNet struct {
	mu    sync.Mutex
	conns map[string]*memConn
}

func newMemNet() *memNet { return &memNet{conns: map[string]*memConn{}} }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

type memPacket struct {
	data []byte
	from net.Addr
	at   time.Time
}

// memConn is a net.PacketConn on a memNet. Writes to an address nobody
// listens on vanish, as UDP datagrams do.
type memConn struct {
	net    *memNet
	addr   memAddr
	in     chan memPacket
	closed chan struct{}
	once   sync.Once

	mu        sync.Mutex
	deadline  time.Time
	dlChanged chan struct{} // closed and replaced when the deadline changes
}

var _ net.PacketConn = (*memConn)(nil)

// listen returns a conn bound to addr.
func (n *memNet) listen(addr string) *memConn {
	c := &memConn{
		net:       n,
		addr:      memAddr(addr),
		in:        make(chan memPacket, 4096),
		closed:    make(chan struct{}),
		dlChanged: make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.conns[addr] = c
	return c
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, changed := c.deadline, c.dlChanged
		c.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			timeout = t.C
			defer t.Stop() // at most once per deadline change
		}
		select {
		case p := <-c.in:
			return copy(b, p.data), p.from, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		case <-changed:
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		}
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if addr == nil {
		return 0, &net.AddrError{Err: "no address", Addr: "<nil>"}
	}
	c.net.mu.Lock()
	dst := c.net.conns[addr.String()]
	c.net.mu.Unlock()
	if dst == nil {
		return len(b), nil
	}
	select {
	case dst.in <- memPacket{data: append([]byte(nil), b...), from: c.addr, at: time.Now()}:
	default: // receive buffer full: dropped
	}
	return len(b), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		defer c.net.mu.Unlock()
		delete(c.net.conns, string(c.addr))
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return c.addr }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.dlChanged)
	c.dlChanged = make(chan struct{})
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// drain returns the packets received so far without blocking.
func (c *memConn) drain() []memPacket {
	var ps []memPacket
	for {
		select {
		case p := <-c.in:
			ps = append(ps, p)
		default:
			return ps
		}
	}
}
