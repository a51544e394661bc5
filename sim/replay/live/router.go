package live

import (
	"context"
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// route is an external router's rule at a route point: each interaction
// arriving there goes to target after after.
type route struct {
	act *replay.Action // the router action that set it
}

// openRouter logs in the router's CTI session when the script has
// external routers: with the token of the center's first user with role
// router; a center without one refuses the script, naming the first
// router action.
func (c *Center) openRouter(ctx context.Context) error {
	var first *replay.Action
	for i := range c.s.Actions {
		if c.s.Actions[i].Kind == replay.RouterAction {
			first = &c.s.Actions[i]
			break
		}
	}
	if first == nil {
		return nil
	}
	token, err := userToken(c.s, c.cfg.Getenv, "router")
	if err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("%s:%d: script[%d]: the external router at %s needs a user with role router and a token_env or token_file in the center file (%s)",
			c.s.Path, first.Line, first.Index, first.Router, c.s.CenterPath)
	}
	cl, err := c.dialCTI(ctx)
	if err != nil {
		return err
	}
	if _, err := cl.LoginToken(ctx, token); err != nil {
		_ = cl.Close()
		return fmt.Errorf("live: the router's CTI login: %w", err)
	}
	c.router = cl
	c.wg.Go(c.readRouter)
	return nil
}

// readRouter answers the route requests of the route points the router
// is registered for; without a monitor, it also records the events.
func (c *Center) readRouter() {
	for {
		m, err := c.router.Next(c.ctx)
		if err != nil {
			return
		}
		if c.watcher == nil {
			c.onMessage(m, nil)
		}
		if m.Event != "EventRouteRequest" {
			continue
		}
		c.mu.Lock()
		if r := c.routes[m.DNIS]; r != nil {
			id, act := m.ConnID, r.act
			c.laterLocked(act.After, func() {
				ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
				defer cancel()
				if err := c.router.RouteCall(ctx, id, act.Target); err != nil && c.ctx.Err() == nil {
					c.lateError(act, fmt.Errorf("router %s routing %s to %s: %w", act.Router, c.nameOf(id), act.Target, err))
				}
			})
		}
		c.mu.Unlock()
	}
}

// routerDo plays a router action: the router registers for its route
// point (RequestRegisterAddress) with a new target, or, with do: stop,
// unregisters (the interactions then wait the route point's timeout and
// go to its default queue).
func (c *Center) routerDo(ctx context.Context, a *replay.Action) error {
	c.mu.Lock()
	r := c.routes[a.Router]
	if a.Do == "stop" {
		delete(c.routes, a.Router)
	} else if r != nil {
		r.act = a // registered already: a new target
	}
	c.mu.Unlock()
	switch {
	case a.Do == "stop" && r == nil:
		return fmt.Errorf("no router runs at %s", a.Router)
	case a.Do == "stop":
		return c.router.Unregister(ctx, a.Router)
	case r != nil:
		return nil
	}
	if err := c.router.Register(ctx, a.Router); err != nil {
		return err
	}
	c.mu.Lock()
	c.routes[a.Router] = &route{act: a}
	c.mu.Unlock()
	return nil
}

// closeRouter unregisters the router from the route points it still
// serves (the calls there go on without it).
func (c *Center) closeRouter(ctx context.Context) {
	if c.router == nil {
		return
	}
	c.mu.Lock()
	var points []string
	for p := range c.routes {
		points = append(points, p)
	}
	clear(c.routes)
	c.mu.Unlock()
	for _, p := range points {
		_ = c.router.Unregister(ctx, p)
	}
	_ = c.router.Close()
}
