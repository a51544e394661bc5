package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/webchat"
	"github.com/ccswitch/ccswitch/imgw/xmpp"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// xmppProvider is one IM provider's XMPP server the gateway joins as an
// external component.
type xmppProvider struct {
	addr, domain, secret string
}

// imOptions are serve's IM flags.
type imOptions struct {
	storePath string
	chatUser  string
	xmpp      []xmppProvider
}

// parseXMPP pairs the repeated --xmpp-component, --xmpp-domain and
// --xmpp-secret flags: the n-th of each describe one provider.
func parseXMPP(addrs, domains, secrets []string) ([]xmppProvider, error) {
	if len(addrs) != len(domains) || len(addrs) != len(secrets) {
		return nil, usagef("serve: give --xmpp-component, --xmpp-domain and --xmpp-secret once per IM provider (got %d, %d and %d)",
			len(addrs), len(domains), len(secrets))
	}
	var ps []xmppProvider
	seen := map[string]bool{}
	for i := range addrs {
		if _, _, err := net.SplitHostPort(addrs[i]); err != nil {
			return nil, usagef("serve: --xmpp-component %q wants HOST:PORT: %v", addrs[i], err)
		}
		d := strings.ToLower(strings.TrimSpace(domains[i]))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return nil, usagef("serve: --xmpp-domain %q is not a domain", domains[i])
		}
		if seen[d] {
			return nil, usagef("serve: --xmpp-domain %s given twice", d)
		}
		seen[d] = true
		if secrets[i] == "" {
			return nil, usagef("serve: --xmpp-secret for %s is empty", d)
		}
		ps = append(ps, xmppProvider{addrs[i], d, secrets[i]})
	}
	return ps, nil
}

// imSide is the IM gateway of a running server and what it needs.
type imSide struct {
	st      *store.Store
	w       *store.Writer
	journal *imgw.StoreJournal
	log     zerolog.Logger
	gw      *imgw.Gateway
	web     *webchat.Server
	xmpp    []*xmpp.Adapter
	running sync.WaitGroup
}

// ctiDesk delivers the gateway's chat events to agents' CTI desktops.
type ctiDesk struct{ cti *cti.Server }

func (d *ctiDesk) DeliverChat(agentID string, m imgw.AgentChat) {
	ev := cti.ChatEvent{Type: cti.ChatEventType(m.Type), ConnID: m.ConnID, From: m.From, Name: m.Name,
		Text: m.Text, State: m.State, Time: m.Time}
	for _, l := range m.Lines {
		ev.Lines = append(ev.Lines, cti.ChatLine{From: l.From, Text: l.Text, Time: l.Time})
	}
	_ = d.cti.DeliverChat(agentID, ev)
}

// startCTI builds the CTI server, with the IM gateway as its chat handler
// when the center takes chats.
func (s *server) startCTI(m *Main, agents []config.Agent, realClock clock.Clock, chat cti.ChatHandler) error {
	passwords := make(map[string]string, len(agents))
	for _, a := range agents {
		passwords[a.ID] = a.Password
	}
	var err error
	s.cti, err = cti.NewServer(cti.Config{
		Loop: s.loop, TServer: s.ts, Chat: chat, Clock: realClock,
		Log: m.log.With().Str("component", "cti").Logger(),
		Passwords: func(id string) (string, bool) {
			p, ok := passwords[id]
			return p, ok
		},
	})
	return err
}

// startIM opens the store and builds the IM gateway with its networks:
// the web chat, SIP MESSAGE and every XMPP provider.
func (s *server) startIM(ctx context.Context, m *Main, f *config.File, o serveOptions, realClock clock.Clock, desk imgw.AgentDesk) (*imSide, error) {
	im := &imSide{}
	var err error
	// Records are durable once in the journal's spool; the store's tables
	// follow in transactions that gather up to 50 ms of them: a busy
	// center commits (and fsyncs) 20 times a second, not once per record.
	if im.st, err = store.Open(o.im.storePath, store.Options{Writer: store.WriterOptions{Linger: 50 * time.Millisecond}}); err != nil {
		return nil, fmt.Errorf("serve: store: %w", err)
	}
	customers := make([]store.Customer, 0, len(f.IM.Customers))
	for _, c := range f.IM.Customers {
		customers = append(customers, store.Customer{Number: c.Number, Name: c.Name, Email: c.Email, Language: c.Language})
	}
	orders := make([]store.OrderSeed, 0, len(f.IM.Orders))
	for _, o := range f.IM.Orders {
		orders = append(orders, store.OrderSeed{ID: o.ID, Customer: o.Customer, Status: o.Status})
	}
	if err := im.st.Seed(ctx, customers, orders); err != nil {
		_ = im.st.Close()
		return nil, fmt.Errorf("serve: store: %w", err)
	}
	im.w = im.st.Writer()
	log := m.log.With().Str("component", "imgw").Logger()
	// The journal's spool (next to the store file) makes records durable
	// at once; they reach the store's tables behind it. What a crash left
	// in it is applied here, before the gateway takes new chats.
	journal, err := imgw.OpenStoreJournal(ctx, im.st, im.w, o.im.storePath+".spool", log)
	if err != nil {
		im.close()
		return nil, fmt.Errorf("serve: store: %w", err)
	}
	im.journal, im.log = journal, log
	im.gw, err = imgw.New(imgw.Options{
		Clock: realClock, Post: s.loop.Post, TServer: s.ts, Center: f,
		Customers: journal, Journal: journal, Desk: desk, Log: log,
	})
	if err != nil {
		im.close()
		return nil, err
	}
	// A desktop that went away with chats in hand and did not come back:
	// its chats go to other agents.
	s.ts.Subscribe(func(e tserver.Event) {
		if e.Type == tserver.EventAgentNotReady && e.Reason == cti.ReasonDisconnected {
			im.gw.DeskLost(e.AgentID)
		}
	})
	im.web = webchat.New(webchat.Config{Receiver: im.gw, Log: m.log.With().Str("component", "webchat").Logger()})
	im.gw.AddAdapter(im.web)
	im.gw.AddAdapter(s.gw.EnableMessages(o.im.chatUser, im.gw))
	if err := s.startXMPP(ctx, m, im, o.im.xmpp); err != nil {
		im.close()
		return nil, err
	}
	return im, nil
}

// close stops the networks and makes every accepted record durable.
func (im *imSide) close() {
	im.running.Wait()
	if im.web != nil {
		im.web.Close()
	}
	if im.journal != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := im.journal.Close(ctx); err != nil {
			im.log.Error().Err(err).Msg("journal close failed; the spool keeps what did not reach the store")
		}
		cancel()
	}
	if im.w != nil {
		_ = im.w.Close()
	}
	if im.st != nil {
		_ = im.st.Close()
	}
}

// mount adds the web chat under /chat/.
func (im *imSide) mount(mux *http.ServeMux) {
	mux.Handle("/chat/", http.StripPrefix("/chat", im.web.Handler()))
}

// conversations lists the live chats, on the loop.
func (im *imSide) conversations() []imgw.ConversationStatus {
	if im == nil {
		return nil
	}
	return im.gw.Conversations()
}
