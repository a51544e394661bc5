// Command imrelay measures chat relaying: customers (Go XMPP clients) send
// messages and wait for them to come back, either through an XMPP server
// to agents' own XMPP accounts that echo them ("direct"), or through the
// same server to the center's IM gateway, which relays them to agents' CTI
// desktops that echo them back ("gateway"). Each customer keeps -window
// messages in flight for -duration after a warm-up (a closed loop: the
// highest rate the path sustains), or, with -rate, the customers together
// send -rate messages a second at an even pace whatever comes back (an
// open loop: the latency at a load both paths carry). It prints one JSON
// line: mode, customers, messages relayed per second (each round trip is
// two messages), and the round-trip latency percentiles.
package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

type options struct {
	mode      string
	c2s       string
	domain    string
	center    string
	ctiURL    string
	agents    int
	customers int
	window    int
	rate      float64
	warmup    time.Duration
	duration  time.Duration
	password  string
}

// body is a message stanza with a body.
type body struct {
	stanza.Message
	Body string `xml:"body"`
}

// client is one logged-in XMPP account.
type client struct {
	s    *xmpp.Session
	self jid.JID
	in   chan body
}

func login(ctx context.Context, o options, user string) (*client, error) {
	j, err := jid.Parse(user + "@" + o.domain + "/bench")
	if err != nil {
		return nil, err
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", o.c2s)
	if err != nil {
		return nil, err
	}
	// Loopback without TLS: the stream is declared secure so that SASL
	// PLAIN is allowed.
	s, err := xmpp.NewSession(ctx, j.Domain(), j, conn, xmpp.Secure, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", o.password, sasl.Plain), xmpp.BindResource()}}
	}))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("login %s: %w", j, err)
	}
	c := &client{s: s, self: s.LocalAddr(), in: make(chan body, 4096)}
	go func() {
		_ = s.Serve(xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var m body
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
			if err := d.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
				return nil
			}
			if m.Body != "" {
				c.in <- m
			}
			return nil
		}))
		close(c.in)
	}()
	if err := s.Send(ctx, stanza.Presence{Type: stanza.AvailablePresence}.Wrap(nil)); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *client) send(ctx context.Context, to jid.JID, text string) error {
	m := body{Message: stanza.Message{To: to, Type: stanza.ChatMessage}, Body: text}
	return c.s.Encode(ctx, m)
}

// result is what a run measured.
type result struct {
	Mode      string `json:"mode"`
	Customers int    `json:"customers"`
	Messages  int64  `json:"messages"`
	// AllMessages counts the warm-up and the end too (for CPU per message
	// measured over the whole run).
	AllMessages int64   `json:"all_messages"`
	MsgsPerS    float64 `json:"msgs_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	// LoadCPUs is the CPU time (user and system, seconds) this load
	// generator used over the whole run: on a machine it shares with the
	// servers, it is part of what both paths cost.
	LoadCPUs float64 `json:"load_cpu_s"`
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "direct", "direct (agents' own XMPP accounts echo) or gateway (the center's CTI agents echo)")
	flag.StringVar(&o.c2s, "c2s", "127.0.0.1:5222", "XMPP server's client port")
	flag.StringVar(&o.domain, "domain", "example.test", "the users' XMPP domain")
	flag.StringVar(&o.center, "center", "support@support.example.test", "the center's address (gateway mode)")
	flag.StringVar(&o.ctiURL, "cti", "ws://127.0.0.1:8080/cti", "the center's CTI WebSocket (gateway mode)")
	flag.IntVar(&o.agents, "agents", 10, "agents (gateway: CTI logins bench-agent-N of the center's group bench-agent; direct: customer i talks to account agent<i mod agents>)")
	flag.IntVar(&o.customers, "customers", 50, "customers (accounts customer0..)")
	flag.IntVar(&o.window, "window", 4, "messages each customer keeps in flight")
	flag.Float64Var(&o.rate, "rate", 0, "round trips per second the customers start together, paced (0: closed loop with -window)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "time before measuring")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time")
	flag.StringVar(&o.password, "password", "pw", "every account's password")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to `FILE`")
	flag.Parse()
	if o.mode != "direct" && o.mode != "gateway" {
		fmt.Fprintln(os.Stderr, "imrelay: -mode must be direct or gateway")
		os.Exit(2)
	}
	if o.customers < 1 || o.agents < 1 || o.window < 1 || o.duration <= 0 || o.rate < 0 {
		fmt.Fprintln(os.Stderr, "imrelay: -customers, -agents, -window and -duration must be positive")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.warmup+o.duration+2*time.Minute)
	defer cancel()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "imrelay:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "imrelay:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	r, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imrelay:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func run(ctx context.Context, o options) (result, error) {
	customers := make([]*client, o.customers)
	var err error
	for i := range customers {
		if customers[i], err = login(ctx, o, "customer"+strconv.Itoa(i)); err != nil {
			return result{}, err
		}
	}
	// peer is where customer i writes, and prefix what the echo carries
	// in front of the text.
	peer := make([]jid.JID, o.customers)
	prefix := make([]string, o.customers)
	switch o.mode {
	case "direct":
		for a := range o.agents {
			ag, err := login(ctx, o, "agent"+strconv.Itoa(a))
			if err != nil {
				return result{}, err
			}
			// A message to itself comes back once the server has taken
			// its available presence (a session's stanzas are handled in
			// order): from then on customers' messages reach it instead
			// of bouncing, which would cost a customer a window slot.
			if err := ag.send(ctx, ag.self.Bare(), "ready"); err != nil {
				return result{}, err
			}
			select {
			case <-ag.in:
			case <-ctx.Done():
				return result{}, fmt.Errorf("agent%d never became available: %w", a, ctx.Err())
			}
			go func() {
				for m := range ag.in {
					_ = ag.send(ctx, m.From.Bare(), m.Body)
				}
			}()
		}
		for i := range customers {
			peer[i] = jid.MustParse("agent" + strconv.Itoa(i%o.agents) + "@" + o.domain)
		}
	case "gateway":
		center, err := jid.Parse(o.center)
		if err != nil {
			return result{}, err
		}
		if err := startDesks(ctx, o); err != nil {
			return result{}, err
		}
		for i, c := range customers {
			peer[i] = center
			if err := c.send(ctx, center, "hello"); err != nil {
				return result{}, err
			}
		}
		// Each customer is connected once the center says who the agent is.
		for i, c := range customers {
			for {
				var m body
				var ok bool
				select {
				case m, ok = <-c.in:
				case <-ctx.Done():
					return result{}, fmt.Errorf("customer%d never connected to an agent: %w", i, ctx.Err())
				}
				if !ok {
					return result{}, fmt.Errorf("customer%d disconnected", i)
				}
				if name, ok := strings.CutPrefix(m.Body, "You are now chatting with "); ok {
					prefix[i] = strings.TrimSuffix(name, ".") + ": "
					break
				}
			}
		}
	}

	var (
		measuring atomic.Bool
		done      atomic.Bool
		count     atomic.Int64
		all       atomic.Int64
		mu        sync.Mutex
		rtts      []time.Duration
		wg        sync.WaitGroup
	)
	for i, c := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			var n int64
			if o.rate > 0 {
				// Open loop: send at this customer's share of the rate,
				// whatever comes back, until the run is over.
				every := time.Duration(float64(time.Second) * float64(o.customers) / o.rate)
				go func() {
					// Customer i starts i/customers of a period late, so
					// that together they send at an even pace rather than
					// in bursts of one message each.
					time.Sleep(every * time.Duration(i) / time.Duration(o.customers))
					t := time.NewTicker(every)
					defer t.Stop()
					for seq := 0; !done.Load(); seq++ {
						select {
						case <-t.C:
						case <-ctx.Done():
							return
						}
						if done.Load() {
							return
						}
						_ = c.send(ctx, peer[i], "p"+strconv.Itoa(seq)+" "+strconv.FormatInt(time.Now().UnixNano(), 10))
					}
				}()
			} else {
				for w := range o.window {
					_ = c.send(ctx, peer[i], "m"+strconv.Itoa(w)+" "+strconv.FormatInt(time.Now().UnixNano(), 10))
				}
			}
			for m := range c.in {
				if done.Load() {
					// The run is over: in gateway mode, read on until the
					// center confirms the chat's end (closing the socket
					// with unread data would reset it and could lose the
					// "/end"); in direct mode, stop.
					if o.mode == "direct" || strings.HasPrefix(m.Body, "Chat ended") {
						break
					}
					continue
				}
				text := strings.TrimPrefix(m.Body, prefix[i])
				tag, stamp, ok := strings.Cut(text, " ")
				ns, err := strconv.ParseInt(stamp, 10, 64)
				if !ok || err != nil || (!strings.HasPrefix(tag, "m") && !strings.HasPrefix(tag, "p")) {
					continue // the center's own lines
				}
				all.Add(2)
				if measuring.Load() {
					local = append(local, time.Since(time.Unix(0, ns)))
					n++
				}
				if tag[0] == 'm' {
					_ = c.send(ctx, peer[i], tag+" "+strconv.FormatInt(time.Now().UnixNano(), 10))
				}
			}
			mu.Lock()
			rtts = append(rtts, local...)
			mu.Unlock()
			count.Add(n)
		}()
	}
	time.Sleep(o.warmup) // a load generator's warm-up, not a test waiting
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(o.duration)
	measuring.Store(false)
	elapsed := time.Since(t0)
	done.Store(true)
	if o.mode == "gateway" {
		for i, c := range customers {
			_ = c.send(ctx, peer[i], "/end") // the next run starts new chats
		}
	} else {
		for _, c := range customers {
			_ = c.s.Close()
			_ = c.s.Conn().Close()
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		return result{}, fmt.Errorf("customers did not finish: %w", ctx.Err())
	}
	for _, c := range customers {
		_ = c.s.Close()
		_ = c.s.Conn().Close()
	}
	slices.Sort(rtts)
	q := func(p float64) float64 {
		if len(rtts) == 0 {
			return 0
		}
		return float64(rtts[min(len(rtts)-1, int(p*float64(len(rtts))))].Microseconds()) / 1000
	}
	n := count.Load()
	return result{Mode: o.mode, Customers: o.customers, Messages: 2 * n, AllMessages: all.Load(),
		MsgsPerS: float64(2*n) / elapsed.Seconds(), P50ms: q(0.50), P99ms: q(0.99), LoadCPUs: cpuSeconds()}, nil
}

// cpuSeconds is the CPU time this process has used so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
