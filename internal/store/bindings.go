package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SIPBinding is one SIP registration contact of a user (an extension),
// as the registrar keeps it (table sip_bindings): enough to reach the
// phone after a restart without a new REGISTER.
type SIPBinding struct {
	AOR       string // the user (extension)
	Contact   string // the Contact URI as the phone sent it
	Expires   time.Time
	Source    string // host:port the REGISTER came from
	Transport string
	CallID    string
	CSeq      uint32
	UserAgent string
}

var (
	qDeleteBindings = prep(`DELETE FROM sip_bindings WHERE aor = ?`)
	qPutBinding     = prep(`INSERT OR REPLACE INTO sip_bindings (aor, contact, expires, source, transport, call_id, cseq, user_agent, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
)

func putBindings(ctx context.Context, tx txn, now time.Time, aor string, bs []SIPBinding) error {
	aor = strings.TrimSpace(aor)
	if aor == "" {
		return fmt.Errorf("store: sip bindings: empty user: %w", ErrInvalid)
	}
	for _, b := range bs {
		if strings.TrimSpace(b.Contact) == "" || b.Expires.IsZero() {
			return fmt.Errorf("store: sip bindings of %s: a binding needs a contact and an expiry: %w", aor, ErrInvalid)
		}
	}
	if _, err := tx.ExecContext(ctx, qDeleteBindings, aor); err != nil {
		return fmt.Errorf("store: sip bindings of %s: %w", aor, err)
	}
	for _, b := range bs {
		if _, err := tx.ExecContext(ctx, qPutBinding, aor, b.Contact, b.Expires.UnixNano(), b.Source, b.Transport,
			b.CallID, int64(b.CSeq), b.UserAgent, now.UnixNano()); err != nil {
			return fmt.Errorf("store: sip bindings of %s: %w", aor, err)
		}
	}
	return nil
}

// PutSIPBindings replaces the bindings of user aor with bs (none: the
// user has no binding left).
func (s *Store) PutSIPBindings(ctx context.Context, aor string, bs []SIPBinding) error {
	now := s.now()
	return s.update(ctx, "sip bindings "+aor, func(tx txn) error { return putBindings(ctx, tx, now, aor, bs) })
}

// SIPBindings adds a PutSIPBindings.
func (b *Batch) SIPBindings(aor string, bs []SIPBinding) {
	b.add("sip bindings "+aor, func(ctx context.Context, tx txn, now time.Time) error {
		return putBindings(ctx, tx, now, aor, bs)
	})
}

// AllSIPBindings returns every stored binding, expired ones included, by
// user and contact.
func (s *Store) AllSIPBindings(ctx context.Context) ([]SIPBinding, error) {
	out, err := queryAll(ctx, s.rdb, func(r scanner) (SIPBinding, error) {
		var (
			b       SIPBinding
			expires int64
			cseq    int64
		)
		err := r.Scan(&b.AOR, &b.Contact, &expires, &b.Source, &b.Transport, &b.CallID, &cseq, &b.UserAgent)
		b.Expires, b.CSeq = time.Unix(0, expires).UTC(), uint32(cseq)
		return b, err
	}, `SELECT aor, contact, expires, source, transport, call_id, cseq, user_agent FROM sip_bindings ORDER BY aor, updated, contact`)
	if err != nil {
		return nil, fmt.Errorf("store: sip bindings: %w", err)
	}
	return out, nil
}
