package sqlitejournal

import (
	"context"
	"errors"
	"time"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/internal/store"
)

// lookupTimeout bounds a bot lookup.
const lookupTimeout = 2 * time.Second

// FindCustomer implements Customers.
func (j *Journal) FindCustomer(key string) (imgw.Customer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, ok, err := j.st.FindCustomer(ctx, key)
	switch {
	case errors.Is(err, store.ErrAmbiguous):
		return imgw.Customer{}, imgw.ErrAmbiguous
	case errors.Is(err, store.ErrInvalid):
		return imgw.Customer{}, imgw.ErrNotFound
	case err != nil:
		j.log.Error().Err(err).Msg("customer lookup failed")
		return imgw.Customer{}, imgw.ErrNotFound
	case !ok:
		return imgw.Customer{}, imgw.ErrNotFound
	}
	return customerOf(c), nil
}

func customerOf(c store.Customer) imgw.Customer {
	return imgw.Customer{ID: c.ID, Number: c.Number, Name: c.Name, Email: c.Email, Language: c.Language, Postcode: c.Postcode}
}

// LinkedCustomer implements Customers.
func (j *Journal) LinkedCustomer(from imgw.Address) (imgw.Customer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, ok, err := j.st.LinkedCustomer(ctx, from.Network, from.User)
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalid):
		j.log.Error().Err(err).Msg("linked customer lookup failed")
		return imgw.Customer{}, imgw.ErrNotFound
	case err != nil || !ok:
		return imgw.Customer{}, imgw.ErrNotFound
	}
	return customerOf(c), nil
}

// OrderStatus implements Customers. imgw.Customer 0 is nobody: it reads
// nothing and finds nothing.
func (j *Journal) OrderStatus(id string, customer int64) (string, error) {
	if customer <= 0 {
		return "", imgw.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	o, ok, err := j.st.Order(ctx, id)
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalid):
		j.log.Error().Err(err).Msg("order lookup failed")
		return "", imgw.ErrNotFound
	case err != nil || !ok || o.CustomerID != customer:
		return "", imgw.ErrNotFound
	}
	return o.Status, nil
}

// Restorable returns the conversations a restart puts back
// (Gateway.Restore): those with a route and no end, in the order they
// queued, with their customers and transcripts. Call it after
// OpenJournal, which applied what the spool kept.
func (j *Journal) Restorable(ctx context.Context) ([]imgw.Restored, error) {
	routes, err := j.st.Routes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]imgw.Restored, 0, len(routes))
	for _, r := range routes {
		x := imgw.Restored{Route: imgw.RouteRecord{
			Conversation: r.Conversation, Phase: r.Phase, Queue: r.Queue, Priority: r.Priority, Enqueued: r.Enqueued,
			Agent: r.Agent, CustomerID: r.CustomerID, From: imgw.Address{Network: r.Network, User: r.User, Device: r.Device},
			ClientFamily: r.ClientFamily, ClientVersion: r.ClientVersion, Language: r.Language, Reason: r.Reason,
		}}
		if conv, ok, err := j.st.Conversation(ctx, r.Conversation); err == nil && ok {
			x.Started = conv.Started
		}
		if r.CustomerID != 0 {
			if cu, ok, err := j.st.Customer(ctx, r.CustomerID); err == nil && ok {
				c := customerOf(cu)
				x.Customer = &c
			}
		}
		lines, err := j.st.Transcript(ctx, r.Conversation)
		if err != nil {
			return nil, err
		}
		x.Lines = make([]imgw.Line, len(lines))
		for i, l := range lines {
			x.Lines[i] = imgw.Line{Conversation: l.Conversation, Seq: l.Seq, Time: l.Time, From: l.From, AgentID: l.AgentID, Text: l.Text}
		}
		out = append(out, x)
	}
	return out, nil
}
