package xmpptest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/peer"
)

//go:embed customer.py
var customerScript []byte

// slixmppUsable checks once per process that Python imports slixmpp.
var slixmppUsable = sync.OnceValue(func() error {
	return exec.Command(Python, "-c", "import slixmpp").Run()
})

// Python is the interpreter that has slixmpp (the Debian package
// python3-slixmpp); a python3 earlier in PATH (pyenv) usually lacks it.
const Python = "/usr/bin/python3"

// ReadyTimeout bounds a customer's login.
const ReadyTimeout = 20 * time.Second

// CustomerConfig configures a slixmpp customer.
type CustomerConfig struct {
	// JID is the customer's bare JID (user@domain) and Password its
	// password; Resource names the device (default "test").
	JID      string
	Password string
	Resource string
	// Software, Version and OS answer XEP-0092 queries (defaults:
	// slixmpp's own "Slixmpp" and its version). RefuseVersion answers
	// them with service-unavailable instead.
	Software      string
	Version       string
	OS            string
	RefuseVersion bool
	// CapsNode is the XEP-0115 node (default
	// http://slixmpp.com/ver/1.8.3).
	CapsNode string
	// Category, Type and Name are the XEP-0030 identity (default
	// client/bot, slixmpp's).
	Category, Type, Name string
	// Show, Status and Priority go in the initial presence; NoPresence
	// stays unavailable.
	Show       string
	Status     string
	Priority   int
	NoPresence bool
	// Subscribe, when set, is a JID the customer asks to subscribe to
	// once online.
	Subscribe string
	// Addr overrides the server's C2SAddr.
	Addr string
}

// Stanza is one stanza a customer received.
type Stanza struct {
	// Kind is "message", "presence" or "iq".
	Kind string `json:"kind"`
	Type string `json:"type"`
	From string `json:"from"`
	To   string `json:"to"`
	ID   string `json:"id"`
	// Body and State (XEP-0085) of a message.
	Body  string `json:"body"`
	State string `json:"state"`
	// Show, Status and Priority of a presence.
	Show     string `json:"show"`
	Status   string `json:"status"`
	Priority int    `json:"priority"`
	// Error is the condition of a type="error" stanza.
	Error string `json:"error"`
	// XML is the stanza as received.
	XML string `json:"xml"`
}

// event is one line of the driver's output.
type event struct {
	Event   string `json:"event"`
	Message string `json:"message"`
	JID     string `json:"jid"`
	Stanza
}

// Customer is a running slixmpp client driven by a test.
type Customer struct {
	// JID is the customer's full JID (bare JID/resource).
	JID string

	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr string
	done   chan struct{} // closed when the driver exited

	mu       sync.Mutex
	stanzas  []Stanza
	consumed []bool
	ready    bool
	failed   string
	changed  chan struct{} // closed and replaced on every event
	closed   bool
}

// StartCustomer logs a slixmpp customer in to srv and returns once it is
// online: its roster fetched, caps computed, and its initial presence
// echoed by the server (so a message to its bare JID reaches it).
// It is disconnected when t ends; if t failed, its log is dumped.
func StartCustomer(t testing.TB, srv *Server, opts CustomerConfig) *Customer {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		peer.Require(t, Python)
	}
	if err := slixmppUsable(); err != nil {
		msg := fmt.Sprintf("slixmpp not importable by %s (install python3-slixmpp): %v", Python, err)
		if os.Getenv(peer.EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "customer.py")
	if err := os.WriteFile(script, customerScript, 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.Resource == "" {
		opts.Resource = "test"
	}
	addr := opts.Addr
	if addr == "" {
		addr = srv.C2SAddr
	}
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		t.Fatalf("bad address %q", addr)
	}
	full := opts.JID + "/" + opts.Resource
	cfg := map[string]any{
		"jid": full, "password": opts.Password, "host": host, "port": port,
		"software": "Slixmpp", "version": "1.8.3", "os": opts.OS,
		"caps_node": opts.CapsNode,
		"category":  opts.Category, "type": opts.Type, "name": opts.Name,
		"show": opts.Show, "status": opts.Status, "priority": opts.Priority,
		"no_presence": opts.NoPresence, "subscribe": opts.Subscribe,
	}
	if opts.Software != "" {
		cfg["software"], cfg["version"] = opts.Software, opts.Version
	}
	if opts.RefuseVersion {
		cfg["software"] = ""
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &Customer{
		JID:     full,
		t:       t,
		stderr:  filepath.Join(dir, "customer.log"),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	logf, err := os.Create(c.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(Python, script, string(b))
	c.cmd.Stderr = logf
	c.cmd.SysProcAttr = procAttr()
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.read(stdout)
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			c.dumpLog()
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := c.wait(ctx, func() bool { return c.ready || c.failed != "" }); err != nil {
		c.dumpLog()
		t.Fatalf("customer %s: not online: %v", full, err)
	}
	if f := c.failure(); f != "" {
		c.dumpLog()
		t.Fatalf("customer %s: %s", full, f)
	}
	return c
}

// read collects the driver's events until it exits.
func (c *Customer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			c.t.Errorf("customer %s: bad driver output %q: %v", c.JID, sc.Text(), err)
			continue
		}
		c.mu.Lock()
		switch ev.Event {
		case "stanza":
			c.stanzas = append(c.stanzas, ev.Stanza)
			c.consumed = append(c.consumed, false)
		case "ready":
			c.ready = true
		case "failed_auth":
			c.failed = "authentication failed"
		case "error":
			if !c.ready && c.failed == "" {
				c.failed = ev.Message
			} else {
				c.t.Logf("customer %s: %s", c.JID, ev.Message)
			}
		}
		c.notifyLocked()
		c.mu.Unlock()
	}
	_ = c.cmd.Wait()
	c.mu.Lock()
	if c.failed == "" && !c.ready {
		c.failed = "driver exited"
	}
	close(c.done)
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Customer) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Customer) failure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// wait waits until cond (called with c.mu held) is true.
func (c *Customer) wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok, ch := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-c.done:
			c.mu.Lock()
			ok := cond()
			c.mu.Unlock()
			if ok {
				return nil
			}
			return errors.New("customer driver exited")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Expect waits until the customer has received a stanza for which match
// is true and returns it. Each stanza is returned by at most one Expect:
// it scans everything received so far (so a stanza that arrived before
// the call counts) except stanzas an earlier Expect returned. It fails
// when ctx ends or the driver exits first.
func (c *Customer) Expect(ctx context.Context, match func(Stanza) bool) (Stanza, error) {
	var got Stanza
	next := 0
	err := c.wait(ctx, func() bool {
		for ; next < len(c.stanzas); next++ {
			if !c.consumed[next] && match(c.stanzas[next]) {
				c.consumed[next] = true
				got = c.stanzas[next]
				return true
			}
		}
		return false
	})
	if err != nil {
		return Stanza{}, fmt.Errorf("customer %s: %w", c.JID, err)
	}
	return got, nil
}

// Received returns every stanza received so far, in order.
func (c *Customer) Received() []Stanza {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Stanza(nil), c.stanzas...)
}

// Done is closed when the driver has exited (Close, or the server went
// away).
func (c *Customer) Done() <-chan struct{} { return c.done }

// Message is a message for SendMessage.
type Message struct {
	To   string
	Body string
	// State is an XEP-0085 chat state ("active", "composing", ...).
	State string
	// ID is the stanza id (default: one slixmpp makes up).
	ID string
	// Type is the message type (default "chat").
	Type string
}

// Send sends a chat message.
func (c *Customer) Send(to, body string) { c.SendMessage(Message{To: to, Body: body}) }

// SendMessage sends m.
func (c *Customer) SendMessage(m Message) {
	c.command(map[string]any{"cmd": "send", "to": m.To, "body": m.Body, "state": m.State, "id": m.ID, "type": m.Type})
}

// SendState sends a chat state (XEP-0085) without a body.
func (c *Customer) SendState(to, state string) {
	c.command(map[string]any{"cmd": "state", "to": to, "state": state})
}

// Presence is a presence for Customer.Presence.
type Presence struct {
	// To directs the presence (default: broadcast).
	To string
	// Type is "" (available), "unavailable", "subscribe", ...
	Type     string
	Show     string
	Status   string
	Priority int
}

// Presence sends a presence stanza (with XEP-0115 caps when available).
func (c *Customer) Presence(p Presence) {
	c.command(map[string]any{"cmd": "presence", "to": p.To, "type": p.Type, "show": p.Show,
		"status": p.Status, "priority": p.Priority})
}

// Subscribe asks to subscribe to to's presence.
func (c *Customer) Subscribe(to string) { c.command(map[string]any{"cmd": "subscribe", "to": to}) }

// Raw writes xml as is onto the customer's stream, for hostile stanzas.
func (c *Customer) Raw(xml string) { c.command(map[string]any{"cmd": "raw", "xml": xml}) }

func (c *Customer) command(cmd map[string]any) {
	b, err := json.Marshal(cmd)
	if err != nil {
		c.t.Errorf("customer %s: %v", c.JID, err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.t.Errorf("customer %s: %v after Close", c.JID, cmd["cmd"])
		return
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Errorf("customer %s: %v: %v", c.JID, cmd["cmd"], err)
	}
}

// Close disconnects the customer (closing its stream) and waits for the
// driver to exit, killing it after 10 s. It is safe to call more than
// once.
func (c *Customer) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		_, _ = c.stdin.Write([]byte(`{"cmd":"disconnect"}` + "\n"))
		c.stdin.Close()
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("customer %s: driver did not exit; killing it", c.JID)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *Customer) dumpLog() {
	b, err := os.ReadFile(c.stderr)
	if err != nil {
		return
	}
	if len(b) > maxDump {
		b = b[len(b)-maxDump:]
	}
	c.t.Logf("--- customer %s log (last %d bytes) ---\n%s", c.JID, len(b), b)
}
