package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/sim/replay"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// presenceSide watches the customers whose presence the script's
// expectations name, over the CTI session of the center's first
// supervisor user (RequestMonitorCustomer, then EventCustomerStatus per
// change): the monitor role may not watch customers.
type presenceSide struct {
	cli       *cti.Client
	customers []string
	// why is set when the script names customers but none can be
	// watched: its expectations are then not checked, saying why.
	why error
}

var _ replay.PresenceWatcher = (*Center)(nil)

// WatchesPresence implements replay.PresenceWatcher.
func (c *Center) WatchesPresence() error {
	switch {
	case c.watch == nil:
		return errors.New("the script names no customer's presence")
	case c.watch.why != nil:
		return c.watch.why
	}
	return nil
}

// openPresence logs the supervisor in when the script's expectations
// name customers' presence.
func (c *Center) openPresence(ctx context.Context) error {
	var customers []string
	for _, e := range c.s.Expect {
		if cu := e.Match.Customer; cu != "" && !slices.Contains(customers, cu) {
			customers = append(customers, cu)
		}
	}
	if len(customers) == 0 {
		return nil
	}
	c.watch = &presenceSide{customers: customers}
	token, err := userToken(c.s, c.cfg.Getenv, "supervisor")
	if err != nil {
		return err
	}
	if token == "" {
		c.watch.why = errors.New("a running switch shows customers' presence to a supervisor: the center file has no user with role supervisor and a token_env or token_file")
		return nil
	}
	cl, err := c.dialCTI(ctx)
	if err != nil {
		return err
	}
	if _, err := cl.LoginToken(ctx, token); err != nil {
		_ = cl.Close()
		return fmt.Errorf("live: the supervisor's CTI login (to watch customers' presence): %w", err)
	}
	c.watch.cli = cl
	return nil
}

// watchPresence starts monitoring the customers at the script's start: a
// status other than offline then counts as a change at 0, as a customer
// is offline when a virtual replay starts.
func (c *Center) watchPresence() {
	p := c.watch
	if p == nil || p.cli == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	for _, cu := range p.customers {
		st, err := p.cli.MonitorCustomer(ctx, cu)
		if err != nil {
			p.why = fmt.Errorf("monitoring customer %s over CTI: %w", cu, err)
			return
		}
		if st.Status != callback.Offline {
			c.presenceChanged(0, st.Customer, st.Status, st.Reachable)
		}
	}
	c.wg.Go(func() {
		for {
			m, err := p.cli.Next(c.ctx)
			if err != nil {
				return
			}
			if m.Event == cti.EventCustomerStatus {
				c.presenceChanged(time.Since(c.start), m.Customer, m.Status, m.Reachable)
			}
		}
	})
}

func (c *Center) presenceChanged(at time.Duration, customer string, status callback.Status, reachable []callback.Medium) {
	r := make([]string, len(reachable))
	for i, m := range reachable {
		r[i] = string(m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.over {
		c.rec.Presences = append(c.rec.Presences, replay.PresenceChanged{At: at, Customer: customer, Status: string(status), Reachable: r})
	}
}
