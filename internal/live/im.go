package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/sipmsg"
	"github.com/ccswitch/ccswitch/imgw/sqlitejournal"
	"github.com/ccswitch/ccswitch/imgw/webchat"
	"github.com/ccswitch/ccswitch/imgw/xmpp"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/store"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/switch/sipgw"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// imSide is the IM gateway of a running center and what it needs.
type imSide struct {
	st      *store.Store
	w       *store.Writer
	journal *sqlitejournal.Journal
	log     zerolog.Logger
	gw      *imgw.Gateway
	web     *webchat.Server
	sipmsg  *sipmsg.Messages // nil when im.networks.sip_message is off
	xmpp    []*xmpp.Adapter
	running sync.WaitGroup // the XMPP components
	stats   *statsKeeper
}

// The SIP MESSAGE adapter and the SIP gateway meet here, each through
// the other's small interface.
var (
	_ sipmsg.SIP           = (*sipgw.Gateway)(nil)
	_ sipgw.MessageHandler = (*sipmsg.Messages)(nil)
	_ sipmsg.Registrations = (*registrar.Registrar)(nil)
)

// openIM opens the store and builds the IM gateway with its networks:
// the web chat, SIP MESSAGE and every XMPP provider.
func (c *Center) openIM(ctx context.Context, realClock clock.Clock, desk imgw.AgentDesk) error {
	cfg, f := &c.cfg, c.cfg.Center
	im := &imSide{}
	c.im = im
	var err error
	// Records are durable once in the journal's spool; the store's tables
	// follow in transactions that gather up to 50 ms of them: a busy
	// center commits (and fsyncs) 20 times a second, not once per record.
	if im.st, err = store.Open(cfg.StorePath, store.Config{Writer: store.WriterConfig{Linger: 50 * time.Millisecond}}); err != nil {
		return fmt.Errorf("live: store %s: %w", cfg.StorePath, err)
	}
	customers := make([]store.Customer, 0, len(f.IM.Customers))
	for _, cu := range f.IM.Customers {
		customers = append(customers, store.Customer{Number: cu.Number, Name: cu.Name, Email: cu.Email, Language: cu.Language, Postcode: cu.Postcode})
	}
	orders := make([]store.OrderSeed, 0, len(f.IM.Orders))
	for _, o := range f.IM.Orders {
		orders = append(orders, store.OrderSeed{ID: o.ID, Customer: o.Customer, Status: o.Status})
	}
	if err := im.st.Seed(ctx, customers, orders); err != nil {
		return fmt.Errorf("live: store %s: %w", cfg.StorePath, err)
	}
	im.w = im.st.Writer()
	log := c.log.With().Str("component", "imgw").Logger()
	im.log = log
	// The journal's spool (next to the store file) makes records durable
	// at once; they reach the store's tables behind it. What a crash left
	// in it is applied here, before the gateway takes new chats.
	spool := cfg.StorePath + ".spool"
	if im.journal, err = sqlitejournal.Open(ctx, sqlitejournal.Config{Store: im.st, Writer: im.w, Spool: spool, Log: log, Fault: cfg.JournalFault}); err != nil {
		return fmt.Errorf("live: store spool %s: %w", spool, err)
	}
	handoff, err := c.readSecret("im.identity hand-off secret", f.IM.Identity.HandoffSecretFile, f.IM.Identity.HandoffSecretEnv)
	if err != nil {
		return err
	}
	im.gw, err = imgw.New(imgw.Config{
		Clock: realClock, Post: c.loop.Post, TServer: c.ts, Center: f,
		Customers: im.journal, Journal: chatJournal{Journal: im.journal, c: c}, Desk: desk, Log: log,
		HandoffSecret: handoff, OnPresence: c.presence.im,
		OnAlert: func(from imgw.Address, customer, queue string, minutes int) (string, error) {
			if c.callbacks == nil {
				return "", errors.New("alerts are not available")
			}
			return c.callbacks.chatAlert(from, customer, queue, minutes)
		},
	})
	if err != nil {
		return &ConfigError{err}
	}
	// The networks hand customers' input to the gateway, through the
	// recorder when the session is recorded.
	var recv imgw.Receiver = im.gw
	if c.rec != nil {
		recv = recordingReceiver{c: c, gw: im.gw}
	}
	nets := &f.IM.Networks
	if nets.WebChat.On() {
		webKey, err := webchatSecret(cfg.StorePath)
		if err != nil {
			return err
		}
		im.web = webchat.New(webchat.Config{Receiver: recv, Log: c.log.With().Str("component", "webchat").Logger(), Secret: webKey})
		im.gw.AddAdapter(im.web)
	}
	if nets.SIPMessage.On() {
		// The SIP gateway hands the adapter the MESSAGEs it receives; the
		// adapter sends through it.
		im.sipmsg = sipmsg.New(sipmsg.Config{
			SIP: c.gw, User: cmp.Or(cfg.SIPChatUser, nets.SIPMessage.User), Receiver: recv,
			Log:           c.log.With().Str("component", "sipmsg").Logger(),
			Registrations: c.reg, Loop: c.loop, TServer: c.ts,
		})
		c.gw.OnMessage(im.sipmsg)
		im.gw.AddAdapter(im.sipmsg)
	}
	providers, err := c.xmppProviders()
	if err != nil {
		return err
	}
	for _, p := range providers {
		a, err := xmpp.New(xmpp.Config{
			Addr: p.Addr, Domain: p.Domain, Secret: p.Secret,
			Receiver: recv, Subscribers: im.st,
			Log:          c.log.With().Str("component", "xmpp").Str("domain", p.Domain).Logger(),
			SoftwareName: "ccswitch",
		})
		if err != nil {
			return configErrorf("live: xmpp domain %s: %v", p.Domain, err)
		}
		im.gw.AddAdapter(a)
		im.xmpp = append(im.xmpp, a)
		// Each component reconnects by itself until the center closes.
		im.running.Add(1)
		go func() {
			defer im.running.Done()
			if err := a.Run(c.ctx); err != nil && c.ctx.Err() == nil {
				c.log.Error().Err(err).Str("domain", p.Domain).Msg("xmpp component stopped")
			}
		}()
	}
	if err := c.keepStats(ctx, realClock); err != nil {
		return err
	}
	if err := c.keepRegistrations(); err != nil {
		return err
	}
	// What the networks deliver waits for the loop, which does not run
	// yet: the chats come back first, with every adapter there to tell
	// their customers.
	return c.restoreChats(ctx)
}

// closeIM stops the IM networks and makes every accepted record durable;
// c.ctx must have ended (the XMPP components stop with it).
func (c *Center) closeIM() {
	im := c.im
	if im == nil {
		return
	}
	c.im = nil
	im.running.Wait()
	if im.web != nil {
		im.web.Close()
	}
	if im.stats != nil {
		im.stats.close()
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

// xmppProviders are the center file's XMPP servers, their secrets read
// from their files or variables, and those of Config.XMPP; a domain given
// twice is an error.
func (c *Center) xmppProviders() ([]XMPPProvider, error) {
	var out []XMPPProvider
	seen := map[string]bool{}
	for i, x := range c.cfg.Center.IM.Networks.XMPP {
		secret, err := c.readSecret(fmt.Sprintf("im.networks.xmpp[%d] (%s) secret", i, x.Domain), x.SecretFile, x.SecretEnv)
		if err != nil {
			return nil, err
		}
		out = append(out, XMPPProvider{Addr: x.Component, Domain: x.Domain, Secret: string(secret)})
		seen[x.Domain] = true
	}
	for _, p := range c.cfg.XMPP {
		if seen[p.Domain] {
			return nil, configErrorf("live: xmpp domain %s is in %s and given again", p.Domain, c.cfg.Center.Path)
		}
		out = append(out, p)
	}
	return out, nil
}

// mount adds the web chat under /chat/, when it is on.
func (im *imSide) mount(mux *http.ServeMux) {
	if im.web != nil {
		mux.Handle("/chat/", http.StripPrefix("/chat", im.web.Handler()))
	}
}

// Conversations lists the live chats (none without an im section).
func (c *Center) Conversations(ctx context.Context) ([]imgw.ConversationStatus, error) {
	var out []imgw.ConversationStatus
	err := c.loop.Do(ctx, func() {
		if c.im != nil {
			out = c.im.gw.Conversations()
		}
	})
	return out, err
}

// WaitXMPP waits until every XMPP component is connected.
func (c *Center) WaitXMPP(ctx context.Context) error {
	if c.im == nil {
		return nil
	}
	for _, a := range c.im.xmpp {
		if err := a.WaitConnected(ctx); err != nil {
			return fmt.Errorf("live: xmpp %s: %w", a.Network(), err)
		}
	}
	return nil
}

// Store is the embedded store of a center with an im section (nil
// without), and Flush waits until everything journaled so far is in its
// tables.
func (c *Center) Store() *store.Store {
	if c.im == nil {
		return nil
	}
	return c.im.st
}

// Flush waits until the records journaled so far reached the store's
// tables.
func (c *Center) Flush(ctx context.Context) error {
	if c.im == nil {
		return nil
	}
	return c.im.w.Flush(ctx)
}

// linkedCustomer is the number of the customer an IM user is linked to in
// the store (verified by the bot, or registered); on the loop.
func (c *Center) linkedCustomer(from imgw.Address) (string, bool) {
	if c.im == nil || c.im.journal == nil {
		return "", false
	}
	cu, err := c.im.journal.LinkedCustomer(from)
	if err != nil || cu.Number == "" {
		return "", false
	}
	return cu.Number, true
}

// recordingReceiver is the IM gateway as the networks see it when the
// session is recorded: each input is recorded on the loop, then handled.
type recordingReceiver struct {
	c  *Center
	gw *imgw.Gateway
}

var _ imgw.Receiver = recordingReceiver{}

func (r recordingReceiver) Receive(in imgw.Inbound) {
	r.c.loop.Post(func() { r.c.rec.Inbound(r.c.realClock.Now(), in, r.gw, r.gw.Handle) })
}

// recordingChat is the IM gateway as CTI desktops see it when the session
// is recorded: an agent's line the gateway takes is recorded.
type recordingChat struct {
	cti.ChatHandler
	c *Center
}

func (r recordingChat) AgentMessage(agentID string, id pbx.ConnID, text string) error {
	if err := r.ChatHandler.AgentMessage(agentID, id, text); err != nil {
		return err
	}
	r.c.rec.AgentLine(r.c.realClock.Now(), agentID, id, text)
	return nil
}
