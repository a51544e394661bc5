package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/sim/replay"
)

// The callbacks the script requests, as the CRM does: POST /api/callbacks
// with the token of the center's first user with role router, supervisor
// or admin; their state and attempts from GET /api/callbacks/{id}.
type callbackSide struct {
	token  string
	client *http.Client
	// ids: the server's ID of each script callback, and names back;
	// asking is the callback being requested (its interaction's events
	// may come before the answer). Under Center.mu.
	ids    map[string]string
	names  map[string]string
	asking string
}

// callbackRoles may ask for callbacks over REST.
var callbackRoles = []string{"router", "supervisor", "admin"}

// openCallbacks reads the CRM's token when the script requests
// callbacks.
func (c *Center) openCallbacks() error {
	c.callbacks = &callbackSide{client: &http.Client{Timeout: 10 * time.Second}, ids: map[string]string{}, names: map[string]string{}}
	for _, a := range c.s.Actions {
		if a.Kind != replay.CallbackAction {
			continue
		}
		token, err := userToken(c.s, c.cfg.Getenv, callbackRoles...)
		if err != nil {
			return err
		}
		if token == "" {
			return fmt.Errorf("live: %s:%d: script[%d]: a callback, but the center has no user with role router, supervisor or admin and a token_env or token_file",
				c.s.Path, a.Line, a.Index)
		}
		c.callbacks.token = token
		break
	}
	return nil
}

// api makes a request of the callback API and decodes its answer into
// out.
func (c *Center) api(ctx context.Context, method, path string, body any, out any) error {
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.cfg.HTTP+path, in)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.callbacks.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.callbacks.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

// requestCallback asks for the script's callback a.
func (c *Center) requestCallback(ctx context.Context, a *replay.Action) error {
	cb := c.callbacks
	c.mu.Lock()
	if cb.ids[a.Callback] != "" {
		c.mu.Unlock()
		return fmt.Errorf("callback %s was requested already", a.Callback)
	}
	cb.asking = a.Callback
	c.mu.Unlock()
	var made callback.Request
	err := c.api(ctx, http.MethodPost, "/api/callbacks",
		map[string]string{"queue": a.Queue, "customer": a.Customer, "number": a.Number, "mode": a.Mode}, &made)
	c.mu.Lock()
	defer c.mu.Unlock()
	cb.asking = ""
	if err != nil {
		return err
	}
	cb.ids[a.Callback] = made.ID
	cb.names[made.ID] = a.Callback
	return nil
}

// callbackName is the script's name of the server's callback id (under
// c.mu): the one being requested when id is new.
func (c *Center) callbackName(id string) (string, bool) {
	cb := c.callbacks
	if n, ok := cb.names[id]; ok {
		return n, true
	}
	if cb.asking != "" {
		cb.names[id], cb.ids[cb.asking] = cb.asking, id
		return cb.asking, true
	}
	return "", false
}

// getCallback reads the script's callback name from the server.
func (c *Center) getCallback(ctx context.Context, name string) (callback.Request, error) {
	c.mu.Lock()
	id := c.callbacks.ids[name]
	c.mu.Unlock()
	if id == "" {
		return callback.Request{}, fmt.Errorf("callback %s was never accepted", name)
	}
	var r callback.Request
	err := c.api(ctx, http.MethodGet, "/api/callbacks/"+url.PathEscape(id), nil, &r)
	return r, err
}

// CallbackState implements replay.Center.
func (c *Center) CallbackState(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.getCallback(ctx, name)
	if err != nil {
		return "", err
	}
	return string(r.State), nil
}

// collectCallbacks, at the end of the play, records each callback's
// attempts that ended (their time on the server's clock, since the
// start) and names the callback of each ring whose INVITE did not say:
// the callback with the latest attempt to that phone started before it.
func (c *Center) collectCallbacks() error {
	if c.callbacks == nil || len(c.callbacks.ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	names := make([]string, 0, len(c.callbacks.ids))
	for _, a := range c.s.Actions {
		if a.Kind == replay.CallbackAction && c.callbacks.ids[a.Callback] != "" {
			names = append(names, a.Callback)
		}
	}
	c.mu.Unlock()
	type started struct {
		name  string
		at    time.Duration
		phone string
	}
	var attempts []started
	var errs []error
	for _, name := range names {
		r, err := c.getCallback(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range r.Attempts {
			attempts = append(attempts, started{name: name, at: a.At.Sub(c.start), phone: a.Target})
			if a.Result == "" {
				continue
			}
			c.rec.Attempts = append(c.rec.Attempts, replay.AttemptEnded{At: a.Ended.Sub(c.start), Callback: name,
				Medium: string(a.Medium), Target: a.Target, Result: string(a.Result)})
		}
	}
	for i := range c.rec.Rings {
		r := &c.rec.Rings[i]
		best := time.Duration(-1)
		for _, a := range attempts {
			if a.phone == r.Phone && a.at <= r.At && a.at > best {
				best, r.Callback = a.at, a.name
			}
		}
	}
	return errors.Join(errs...)
}
