// Command imsessions holds many chat sessions in the IM gateway at once,
// in process, and reports the memory they take: every customer writes to
// the center, answers the bot (identification, reason) and waits in the
// queue, or chats with an agent, and stays. The gateway, tserver and the
// virtual clock are the real ones; only the IM network is an in-process
// adapter that counts what it is given. It prints one line:
//
//	sessions=N live=L rss_mb=X heap_mb=Y kb_per_session=Z setup_s=S
//
// RSS is the process's VmRSS after a garbage collection, with the sessions
// live; kb_per_session is (RSS − RSS before) / N.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/tserver"
)

const center = `
center: {name: Session Bench}
queues:
  - {name: chat, media: im}
agents:
  - {group: agent, count: %d, skills: {chat: 5}, capacity: {im: 4}}
im:
  position_every: 30s
  callback_offer_after: 0s
  client_wait: 0s
  bot:
    greeting: "Welcome!"
    identify: {prompt: "Customer number?", retries: 0, unknown: "Let's go on."}
    reason:
      prompt: "How can we help?"
      options: [{key: "1", keywords: [router], queue: chat}]
      default_queue: chat
    handoff: "Connecting you to an agent."
`

// countingNet is the in-process IM network.
type countingNet struct{ sent int }

func (n *countingNet) Network() string             { return "bench" }
func (n *countingNet) Send(imgw.Outbound)          { n.sent++ }
func (nopDesk) DeliverChat(string, imgw.AgentChat) {}

type nopDesk struct{}

func rssKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	return 0
}

func main() {
	if p := os.Getenv("IMSESSIONS_CPUPROFILE"); p != "" {
		f, _ := os.Create(p)
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	n := flag.Int("n", 100000, "chat sessions to hold")
	agents := flag.Int("agents", 0, "agents, 4 chats each (0: n/4, so every session is a chat with an agent); the customers they cannot take wait in the queue")
	flag.Parse()
	if *agents == 0 {
		*agents = (*n + 3) / 4
	}
	if *n < 1 || *agents < 1 {
		fmt.Fprintln(os.Stderr, "imsessions: -n and -agents must be positive")
		os.Exit(2)
	}
	f, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(center, *agents)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	clk := clock.NewVirtual(clock.Epoch)
	ts, err := tserver.New(f, tserver.Config{Clock: clk})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st := imgw.NewMemoryStore()
	// The journal keeps every line in memory too: measure the gateway,
	// not a test double, by journaling nowhere.
	gw, err := imgw.New(imgw.Config{Clock: clk, TServer: ts, Center: f, Customers: st, Journal: discard{}, Desk: nopDesk{}, Log: zerolog.Nop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	net := &countingNet{}
	gw.AddAdapter(net)
	runtime.GC()
	before := rssKB()
	start := time.Now()
	for i := range *n {
		from := imgw.Address{Network: "bench", User: "customer" + strconv.Itoa(i) + "@example.test", Device: "pc"}
		for _, text := range []string{"hello", "C" + strconv.Itoa(i), "my router is broken"} {
			gw.Handle(imgw.Inbound{Kind: imgw.Message, From: from, Text: text})
		}
	}
	// Agents answer what rings.
	ringing := 0
	for _, cs := range gw.Conversations() {
		if c := ts.Contact(cs.ConnID); c != nil && c.Agent() != nil {
			if err := ts.AnswerCall(cs.ConnID); err == nil {
				ringing++
			}
		}
	}
	setup := time.Since(start)
	runtime.GC()
	after := rssKB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live := len(gw.Conversations())
	fmt.Printf("connected=%d queued=%d messages_out=%d\n", ringing, live-ringing, net.sent)
	fmt.Printf("sessions=%d live=%d rss_mb=%.1f heap_mb=%.1f kb_per_session=%.2f setup_s=%.2f\n",
		*n, live, float64(after)/1024, float64(ms.HeapAlloc)/(1<<20), float64(after-before)/float64(*n), setup.Seconds())
}

// discard is a Journal that keeps nothing.
type discard struct{}

func (discard) Conversation(imgw.ConversationRecord)                      {}
func (discard) Line(imgw.Line)                                            {}
func (discard) Device(imgw.Address, *imgw.ClientInfo, *imgw.PresenceInfo) {}
func (discard) Callback(imgw.CallbackRequest)                             {}
func (discard) Link(imgw.Address, int64)                                  {}
func (discard) Durable(done func(error))                                  { done(nil) }
func (discard) Route(imgw.RouteRecord)                                    {}
