// Command soak is the chat side of bench/soak.sh: web chat customers and
// the CTI desktops of the agents who answer them, in a loop against a live
// center (ccswitch serve with bench/soak/center.yaml) for -duration.
//
// Each of -customers customers opens the web chat's WebSocket (a new
// visitor each time, as a browser without the visitor's key), says hello,
// picks a reason when the bot asks, waits for an agent, answers each of the
// agent's lines after -think, and leaves when the agent ends the chat; then
// it pauses -think and starts over, until -duration is over. Each of
// -agents agents logs in over CTI (chat-1, chat-2, ...), goes ready,
// answers every chat that rings, writes -lines lines (each after the
// customer's reply to the one before and -think) and releases the chat.
//
// A chat counts as completed when its customer read at least one agent's
// line and the agent ended it. Errors: a connection that fails or ends
// unexpectedly (customer or desktop), a CTI request refused (EventError),
// a chat that does not end within -timeout, a closing center. At the end
// it prints one line: chats=K errors=E (and one line per kind of error to
// stderr). Exit status 0 even with errors: the script judges.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

type options struct {
	http      string
	customers int
	agents    int
	group     string
	password  string
	lines     int
	think     time.Duration
	timeout   time.Duration
	duration  time.Duration
}

// marker is in every agent's line, so a customer tells them from the bot's.
const marker = "[soak]"

func main() {
	var o options
	flag.StringVar(&o.http, "http", "127.0.0.1:8080", "the center's HTTP address (web chat, CTI)")
	flag.IntVar(&o.customers, "customers", 20, "web chat customers chatting at once")
	flag.IntVar(&o.agents, "agents", 6, "CTI agents, <group>-1 .. <group>-N")
	flag.StringVar(&o.group, "group", "chat", "the agents' group in the center file")
	flag.StringVar(&o.password, "password", "secret", "the agents' CTI password")
	flag.IntVar(&o.lines, "lines", 3, "lines an agent writes in each chat before ending it")
	flag.DurationVar(&o.think, "think", 500*time.Millisecond, "mean pause before each reply and between a customer's chats")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "longest a chat may take, queueing included")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long customers start new chats")
	flag.Parse()
	if o.customers < 1 || o.agents < 1 || o.lines < 1 || o.duration <= 0 || o.timeout <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -customers, -agents, -lines, -duration and -timeout must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := run(ctx, o)
	for _, k := range r.errs.kinds() {
		fmt.Fprintf(os.Stderr, "soak: error %s: %d (first: %s)\n", k, r.errs.n[k], r.errs.first[k])
	}
	fmt.Printf("chats=%d errors=%d\n", r.chats.Load(), r.errs.total())
}

// result is what a run counted.
type result struct {
	chats atomic.Int64
	errs  errorCount
}

// errorCount counts errors by kind and keeps the first of each.
type errorCount struct {
	mu    sync.Mutex
	n     map[string]int
	first map[string]string
}

func (e *errorCount) add(kind string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n, e.first = map[string]int{}, map[string]string{}
	}
	if e.n[kind] == 0 {
		e.first[kind] = err.Error()
		fmt.Fprintf(os.Stderr, "soak: %s: %v\n", kind, err)
	}
	e.n[kind]++
}

func (e *errorCount) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := 0
	for _, n := range e.n {
		t += n
	}
	return t
}

func (e *errorCount) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ks []string
	for k := range e.n {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// run logs the agents in, runs the customers for o.duration, waits for
// the last chats to end and logs the agents out.
func run(ctx context.Context, o options) *result {
	r := &result{}
	deskCtx, stopDesks := context.WithCancel(ctx)
	var desks sync.WaitGroup
	for i := range o.agents {
		id := fmt.Sprintf("%s-%0*d", o.group, len(strconv.Itoa(o.agents)), i+1)
		d, err := login(ctx, o, id)
		if err != nil {
			r.errs.add("cti_login", err)
			continue
		}
		desks.Go(func() { d.serve(deskCtx, o, r) })
	}
	custCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var customers sync.WaitGroup
	for i := range o.customers {
		customers.Go(func() {
			// Spread the first chats over one think time.
			if !sleep(custCtx, time.Duration(i)*o.think/time.Duration(o.customers)) {
				return
			}
			for custCtx.Err() == nil {
				// A chat under way ends on its own (or times out)
				// when the duration is over: only ctx (a signal)
				// cuts it short.
				chat(ctx, o, r)
				sleep(custCtx, jitter(o.think))
			}
		})
	}
	customers.Wait()
	stopDesks()
	desks.Wait()
	return r
}

// jitter returns a duration spread uniformly over [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// frame is a web chat frame, both ways.
type frame struct {
	Type    string `json:"type"`
	Visitor string `json:"visitor,omitempty"`
	Text    string `json:"text,omitempty"`
	Error   string `json:"error,omitempty"`
}

// chat is one customer's chat, from connecting to the agent's goodbye.
func chat(ctx context.Context, o options, r *result) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	h := map[string][]string{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}}
	c, _, err := websocket.Dial(ctx, "ws://"+o.http+"/chat/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		r.errs.add("webchat_dial", err)
		return
	}
	defer func() { _ = c.CloseNow() }()
	read := func() (frame, error) {
		var f frame
		_, data, err := c.Read(ctx)
		if err != nil {
			return f, err
		}
		return f, json.Unmarshal(data, &f)
	}
	say := func(text string) error {
		b, _ := json.Marshal(frame{Type: "message", Text: text})
		return c.Write(ctx, websocket.MessageText, b)
	}
	f, err := read()
	if err != nil || f.Type != "welcome" {
		r.errs.add("webchat_welcome", fmt.Errorf("first frame %+v: %v", f, err))
		return
	}
	if err := say("hello"); err != nil {
		r.errs.add("webchat_write", err)
		return
	}
	heard := 0 // agent's lines read
	for {
		f, err := read()
		switch {
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			if ctx.Err() == context.DeadlineExceeded {
				r.errs.add("chat_timeout", fmt.Errorf("no end after %s (%d agent lines)", o.timeout, heard))
			}
			return
		case err != nil:
			r.errs.add("webchat_read", err)
			return
		case f.Type == "error":
			r.errs.add("webchat_error", errors.New(f.Error))
			return
		case f.Type != "message":
			continue
		}
		var reply string
		switch t := f.Text; {
		case strings.Contains(t, "has ended the chat"):
			if heard == 0 {
				r.errs.add("chat_no_agent", fmt.Errorf("ended with no agent's line: %q", t))
				return
			}
			r.chats.Add(1)
			_ = c.Close(websocket.StatusNormalClosure, "")
			return
		case strings.Contains(t, "center is closing"):
			r.errs.add("chat_closing", errors.New(t))
			return
		case strings.Contains(t, marker):
			heard++
			reply = "thanks, reply " + strconv.Itoa(heard)
		case strings.Contains(t, "How can we help"):
			reply = strconv.Itoa(1 + rand.N(2))
		default:
			continue // greeting, hand-off, queue position
		}
		if !sleep(ctx, jitter(o.think)) {
			continue // the next read reports the timeout
		}
		if err := say(reply); err != nil {
			r.errs.add("webchat_write", err)
			return
		}
	}
}

// desk is one agent's CTI desktop.
type desk struct {
	id string
	cl *cti.Client
	mu sync.Mutex
	// chats maps a chat under way to its customer's lines.
	chats map[pbx.ConnID]chan string
}

func login(ctx context.Context, o options, id string) (*desk, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := cti.Dial(ctx, "ws://"+o.http+"/cti")
	if err != nil {
		return nil, err
	}
	if _, err := cl.Login(ctx, id, "", o.password); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("login %s: %w", id, err)
	}
	if err := cl.Ready(ctx); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("ready %s: %w", id, err)
	}
	return &desk{id: id, cl: cl, chats: map[pbx.ConnID]chan string{}}, nil
}

// serve answers the agent's chats until ctx ends, then logs out.
func (d *desk) serve(ctx context.Context, o options, r *result) {
	var chats sync.WaitGroup
	defer func() {
		chats.Wait()
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.cl.Logout(lctx); err != nil {
			r.errs.add("cti_logout", fmt.Errorf("%s: %w", d.id, err))
		}
		_ = d.cl.Close()
	}()
	for {
		m, err := d.cl.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.errs.add("cti_disconnect", fmt.Errorf("%s: %w", d.id, err))
			}
			return
		}
		switch cti.ChatEventType(m.Event) {
		case cti.EventChatMessage:
			if m.From != "customer" {
				continue
			}
			d.mu.Lock()
			ch := d.chats[m.ConnID]
			d.mu.Unlock()
			if ch != nil {
				select {
				case ch <- m.Text:
				default: // the agent reads one line at a time
				}
			}
			continue
		case cti.EventChatEnded:
			if m.From != "agent" {
				r.errs.add("chat_ended_by_"+m.From, fmt.Errorf("%s: chat %v: %s", d.id, m.ConnID, m.Text))
			}
			continue
		}
		switch m.Event {
		case tserver.EventRinging.String():
			if m.Media != "im" {
				r.errs.add("cti_unexpected_ring", fmt.Errorf("%s: %s ringing", d.id, m.Media))
				continue
			}
			ch := make(chan string, 1)
			d.mu.Lock()
			d.chats[m.ConnID] = ch
			d.mu.Unlock()
			chats.Go(func() {
				d.handle(ctx, o, r, m.ConnID, ch)
				d.mu.Lock()
				delete(d.chats, m.ConnID)
				d.mu.Unlock()
			})
		case cti.EventError:
			r.errs.add("cti_event_error", fmt.Errorf("%s: %s", d.id, m.Error))
		}
	}
}

// handle answers one chat, writes o.lines lines and releases it.
func (d *desk) handle(ctx context.Context, o options, r *result, id pbx.ConnID, lines <-chan string) {
	// A chat under way goes on to its end when the desks stop: only
	// the timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
	defer cancel()
	if err := d.cl.Answer(ctx, id); err != nil {
		r.errs.add("cti_answer", fmt.Errorf("%s: %w", d.id, err))
		return
	}
	for n := 1; n <= o.lines; n++ {
		sleep(ctx, jitter(o.think))
		if err := d.cl.ChatSend(ctx, id, fmt.Sprintf("%s line %d of %d", marker, n, o.lines)); err != nil {
			r.errs.add("cti_chat_send", fmt.Errorf("%s: %w", d.id, err))
			return
		}
		select {
		case <-lines:
		case <-ctx.Done():
			r.errs.add("chat_timeout", fmt.Errorf("%s: no customer reply to line %d", d.id, n))
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = d.cl.Release(rctx, id)
			rcancel()
			return
		}
	}
	if err := d.cl.Release(ctx, id); err != nil {
		r.errs.add("cti_release", fmt.Errorf("%s: %w", d.id, err))
	}
}
