package xmpp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
)

// These tests run the adapter in a testing/synctest bubble against a
// fake XEP-0114 server on net.Pipe: back-off in virtual time, the outbox
// across reconnects, and a Receiver that calls Send.

const fakeSecret = "s3cret"

// fakeStanza is one stanza the fake server read.
type fakeStanza struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (s fakeStanza) attr(name string) string {
	for _, a := range s.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (s fakeStanza) String() string {
	var b strings.Builder
	b.WriteString("<" + s.XMLName.Local)
	for _, a := range s.Attrs {
		fmt.Fprintf(&b, " %s=%q", a.Name.Local, a.Value)
	}
	return b.String() + ">" + s.Inner
}

// fakeConn is the server's side of one component connection.
type fakeConn struct {
	conn net.Conn
	got  chan fakeStanza
}

// write sends raw XML to the component.
func (c *fakeConn) write(t *testing.T, raw string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		t.Fatalf("fake server write: %v", err)
	}
}

// next returns the next stanza the component wrote.
func (c *fakeConn) next(t *testing.T) fakeStanza {
	t.Helper()
	select {
	case s, ok := <-c.got:
		if !ok {
			t.Fatal("component connection closed")
		}
		return s
	case <-time.After(time.Minute):
		t.Fatal("nothing from the component")
	}
	return fakeStanza{}
}

// fakeServer accepts component connections over net.Pipe. While refuse
// is set, dialling fails.
type fakeServer struct {
	t      *testing.T
	mu     sync.Mutex
	refuse bool
	dials  []time.Time
	conns  chan *fakeConn
}

func newFakeServer(t *testing.T) *fakeServer {
	return &fakeServer{t: t, conns: make(chan *fakeConn, 4)}
}

func (f *fakeServer) setRefuse(r bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = r
}

func (f *fakeServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.dials = append(f.dials, time.Now())
	refuse := f.refuse
	f.mu.Unlock()
	if refuse {
		return nil, errors.New("connection refused")
	}
	client, server := net.Pipe()
	go f.serve(server)
	return client, nil
}

// serve does the server's side of the XEP-0114 handshake, then reads
// stanzas until the connection closes.
func (f *fakeServer) serve(conn net.Conn) {
	d := xml.NewDecoder(conn)
	fail := func(err error) {
		f.t.Errorf("fake server: %v", err)
		conn.Close()
	}
	if _, err := d.Token(); err != nil { // <stream:stream ...>
		fail(err)
		return
	}
	const id = "fake-stream-1"
	header := `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='support.example.test' id='` + id + `'>`
	if _, err := io.WriteString(conn, header); err != nil {
		fail(err)
		return
	}
	var hs struct {
		XMLName xml.Name `xml:"handshake"`
		Digest  string   `xml:",chardata"`
	}
	if err := d.Decode(&hs); err != nil {
		fail(err)
		return
	}
	sum := sha1.Sum([]byte(id + fakeSecret))
	if hs.Digest != hex.EncodeToString(sum[:]) {
		fail(fmt.Errorf("bad handshake %q", hs.Digest))
		return
	}
	if _, err := io.WriteString(conn, `<handshake/>`); err != nil {
		fail(err)
		return
	}
	c := &fakeConn{conn: conn, got: make(chan fakeStanza, 1024)}
	f.conns <- c
	defer close(c.got)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var s fakeStanza
		if err := d.DecodeElement(&s, &start); err != nil {
			return
		}
		c.got <- s
	}
}

func (f *fakeServer) accept(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(time.Minute):
		t.Fatal("the component did not connect")
	}
	return nil
}

// receiverFunc adapts a function to imgw.Receiver.
type receiverFunc func(imgw.Inbound)

func (f receiverFunc) Receive(in imgw.Inbound) { f(in) }

func newTestAdapter(t *testing.T, f *fakeServer, r imgw.Receiver, subs SubscriberStore, outbox int) *Adapter {
	t.Helper()
	a, err := New(Config{
		Addr: "fake:5347", Domain: "support.example.test", Secret: fakeSecret,
		Receiver: r, Subscribers: subs, OutboxSize: outbox,
		Log:        zerolog.New(zerolog.NewTestWriter(t)),
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second,
		Dial: f.dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeServer(t)
		f.setRefuse(true)
		a := newTestAdapter(t, f, nil, nil, 0)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		time.Sleep(10 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		dials := f.dials
		f.mu.Unlock()
		b := 100 * time.Millisecond
		for i := 1; i < len(dials); i++ {
			gap := dials[i].Sub(dials[i-1])
			if gap < b/2 || gap > b {
				t.Errorf("attempt %d after %v, want within [%v, %v]", i, gap, b/2, b)
			}
			b = min(2*b, time.Second)
		}
		// 100ms, 200ms, ..., then at most 1 s: about 13 attempts in 10 s.
		if len(dials) < 10 || len(dials) > 25 {
			t.Errorf("%d attempts in 10 s", len(dials))
		}
	})
}

func TestOutboxAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeServer(t)
		f.setRefuse(true)
		var mu sync.Mutex
		var bounces []imgw.Inbound
		rec := receiverFunc(func(in imgw.Inbound) {
			mu.Lock()
			defer mu.Unlock()
			bounces = append(bounces, in)
		})
		subs := &MemSubscribers{}
		_ = subs.AddSubscriber("xmpp:support.example.test", "carol@example.test")
		a := newTestAdapter(t, f, rec, subs, 2)
		net := a.Network()
		carol := imgw.Address{Network: net, User: "carol@example.test", Device: "phone"}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()

		// Disconnected: two messages wait, a chat state is dropped, the
		// third message bounces.
		a.Send(imgw.Outbound{To: carol, Text: "one", ID: "1"})
		a.Send(imgw.Outbound{To: carol, State: imgw.StateComposing})
		a.Send(imgw.Outbound{To: carol, Text: "two", ID: "2"})
		a.Send(imgw.Outbound{To: carol, Text: "three", ID: "3"})
		synctest.Wait()
		mu.Lock()
		if len(bounces) != 1 || bounces[0].Kind != imgw.Bounce || bounces[0].ID != "3" ||
			bounces[0].Error != "resource-constraint" || bounces[0].From != carol {
			t.Errorf("bounces %+v", bounces)
		}
		mu.Unlock()

		f.setRefuse(false)
		c := f.accept(t)
		// Presence and a probe to the subscriber first, then the
		// messages in order, all from the public address.
		var got []string
		for range 4 {
			s := c.next(t)
			if s.attr("from") != "support@support.example.test" {
				t.Errorf("from %q: %s", s.attr("from"), s)
			}
			got = append(got, s.XMLName.Local+" "+s.attr("type")+" "+s.attr("to")+" "+s.attr("id"))
		}
		want := []string{
			"presence  carol@example.test ",
			"presence probe carol@example.test ",
			"message chat carol@example.test/phone 1",
			"message chat carol@example.test/phone 2",
		}
		for i := range want {
			if got[i] != want[i] && !(strings.HasPrefix(want[i], "presence") && strings.HasPrefix(got[i], strings.TrimSpace(want[i]))) {
				t.Errorf("stanza %d: %q, want %q", i, got[i], want[i])
			}
		}

		// A bounce counts only from the recipient of the message it
		// names.
		for _, from := range []string{"mallory@example.test/x", "carol@example.test", "carol@example.test/phone"} {
			for _, id := range []string{"1", "unknown"} {
				c.write(t, `<message type='error' id='`+id+`' from='`+from+`' to='support@support.example.test'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
			}
		}
		synctest.Wait()
		mu.Lock()
		if len(bounces) != 3 || bounces[1].ID != "1" || bounces[1].From.User != "carol@example.test" ||
			bounces[1].From.Device != "" || bounces[2].From.Device != "phone" || bounces[1].Error != "service-unavailable" {
			t.Errorf("bounces %+v", bounces)
		}
		mu.Unlock()

		// The server goes away; the next connection probes again.
		c.conn.Close()
		c = f.accept(t)
		if s := c.next(t); s.XMLName.Local != "presence" || s.attr("to") != "carol@example.test" {
			t.Errorf("after the reconnect: %s", s)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestReceiverCallsSend: the Receiver may call Send from Receive (an echo
// bot) without deadlocking the connection, even under a burst.
func TestReceiverCallsSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeServer(t)
		var a *Adapter
		a = newTestAdapter(t, f, receiverFunc(func(in imgw.Inbound) {
			if in.Kind == imgw.Message {
				a.Send(imgw.Outbound{To: in.From, Text: "echo: " + in.Text, ID: "e-" + in.ID})
			}
		}), nil, 0)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		c := f.accept(t)
		const n = 200
		go func() {
			for i := range n {
				c.write(t, fmt.Sprintf(`<message type='chat' id='%d' from='dave@example.test/pc' to='support@support.example.test'><body>m%d</body></message>`, i, i))
			}
		}()
		seen := map[string]bool{}
		for len(seen) < n {
			s := c.next(t)
			if s.XMLName.Local != "message" {
				continue
			}
			if s.attr("to") != "dave@example.test/pc" || !strings.HasPrefix(s.attr("id"), "e-") {
				t.Fatalf("unexpected %s", s)
			}
			seen[s.attr("id")] = true
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
