package live

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/store"
	"github.com/ccswitch/ccswitch/switch/registrar"
)

// storeBindings keeps the registrar's bindings in the store (table
// sip_bindings), through its Writer: Save queues the write and returns.
type storeBindings struct {
	st  *store.Store
	w   *store.Writer
	log zerolog.Logger
}

var _ registrar.Bindings = (*storeBindings)(nil)

// Save implements registrar.Bindings.
func (b *storeBindings) Save(user string, contacts []registrar.Contact) {
	bs := make([]store.SIPBinding, len(contacts))
	for i, c := range contacts {
		bs[i] = store.SIPBinding{AOR: user, Contact: c.URI.String(), Expires: c.Expires, Source: c.Source,
			Transport: c.Transport, CallID: c.CallID, CSeq: c.CSeq, UserAgent: c.UserAgent}
	}
	batch := &store.Batch{}
	batch.SIPBindings(user, bs)
	b.w.SubmitBatch(batch, func(what string, err error) {
		b.log.Error().Err(err).Str("record", what).Msg("registration not stored")
	}, func(err error) {
		if err != nil {
			b.log.Error().Err(err).Str("user", user).Msg("registration not stored")
		}
	})
}

// Load implements registrar.Bindings.
func (b *storeBindings) Load() (map[string][]registrar.Contact, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := b.st.AllSIPBindings(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]registrar.Contact)
	for _, r := range rows {
		var u sip.Uri
		if err := sip.ParseUri(r.Contact, &u); err != nil {
			b.log.Warn().Err(err).Str("user", r.AOR).Msg("stored registration unreadable; skipped")
			continue
		}
		out[r.AOR] = append(out[r.AOR], registrar.Contact{URI: u, Source: r.Source, Transport: r.Transport,
			Expires: r.Expires, UserAgent: r.UserAgent, CallID: r.CallID, CSeq: r.CSeq})
	}
	return out, nil
}

// keepRegistrations makes the registrar keep its bindings in the store:
// the phones registered before a restart are back, their agents logged
// in (through OnChange, once the loop runs).
func (c *Center) keepRegistrations() error {
	b := &storeBindings{st: c.im.st, w: c.im.w, log: c.log.With().Str("component", "registrar").Logger()}
	if err := c.reg.Keep(b); err != nil {
		return fmt.Errorf("live: restore registrations: %w", err)
	}
	return nil
}
