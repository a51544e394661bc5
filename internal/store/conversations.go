package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Conversation is one IM session of a customer with the center: the bot's
// dialogue, then the agent's. Its transcript lines refer to it, so a
// customer identified late (SetConversationCustomer) owns every line.
type Conversation struct {
	ID string
	// Network and User: the customer's address (imgw.Address without the
	// device).
	Network string
	User    string
	// CustomerID is 0 while the customer is unknown.
	CustomerID int64
	Queue      string
	Reason     string
	Language   string
	Started    time.Time
	Ended      time.Time // zero while open
	Outcome    string
}

// Senders of a transcript line (TranscriptLine.From).
const (
	FromCustomer   = "customer"
	FromAgent      = "agent"
	FromBot        = "bot"
	FromSystem     = "system"
	FromSupervisor = "supervisor"
)

// TranscriptLine is one line of a conversation's transcript.
type TranscriptLine struct {
	Conversation string
	// Seq numbers the lines of a conversation from 1. 0 asks the store
	// to take the next number.
	Seq  int64
	Time time.Time
	// From is FromCustomer, FromAgent, FromBot, FromSystem or
	// FromSupervisor.
	From string
	// AgentID is the agent (or supervisor) who wrote the line; required
	// when From is FromAgent.
	AgentID string
	Text    string
}

const conversationCols = "id, network, im_user, COALESCE(customer_id, 0), queue, reason, language, started, ended, outcome"

// The Writer's hot statements.
var (
	qConversation       = prep("SELECT " + conversationCols + " FROM conversations WHERE id = ?")
	qConversationExists = prep("SELECT 1 FROM conversations WHERE id = ?")
	qPutConversation    = prep(`INSERT INTO conversations (id, network, im_user, customer_id, queue, reason, language, started, ended, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, queue = excluded.queue, reason = excluded.reason,
			language = excluded.language, started = excluded.started, ended = excluded.ended, outcome = excluded.outcome`)
)

func scanConversation(r scanner) (Conversation, error) {
	var c Conversation
	var started, ended sql.NullInt64
	err := r.Scan(&c.ID, &c.Network, &c.User, &c.CustomerID, &c.Queue, &c.Reason, &c.Language, &started, &ended, &c.Outcome)
	c.Started, c.Ended = decTime(started), decTime(ended)
	return c, err
}

// PutConversation inserts the conversation, or updates the stored one with
// c's non-empty fields: an empty field, a zero CustomerID or a zero time
// keeps what is stored, so a writer that knows less than an earlier one
// does not undo its work. A new conversation needs Network and User; an
// existing one keeps them (other values are ErrConflict). c.Started, when
// zero on a new conversation, is now.
func (s *Store) PutConversation(ctx context.Context, c Conversation) error {
	now := s.now()
	return s.update(ctx, "put conversation "+c.ID, func(tx txn) error {
		return putConversation(ctx, tx, now, c)
	})
}

func putConversation(ctx context.Context, tx txn, now time.Time, c Conversation) error {
	c.ID = strings.TrimSpace(c.ID)
	c.Network = strings.TrimSpace(c.Network)
	c.User = strings.TrimSpace(c.User)
	if c.ID == "" {
		return fmt.Errorf("store: put conversation: empty conversation id: %w", ErrInvalid)
	}
	if c.CustomerID < 0 {
		return fmt.Errorf("store: put conversation %s: customer id %d: %w", c.ID, c.CustomerID, ErrInvalid)
	}
	if c.CustomerID != 0 {
		ok, err := customerExists(ctx, tx, c.CustomerID)
		if err != nil {
			return fmt.Errorf("store: put conversation %s: %w", c.ID, err)
		}
		if !ok {
			return fmt.Errorf("store: put conversation %s: unknown customer id %d: %w", c.ID, c.CustomerID, ErrInvalid)
		}
	}
	old, err := scanConversation(tx.QueryRowContext(ctx, qConversation, c.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if c.Network == "" || c.User == "" {
			return fmt.Errorf("store: put conversation %s: a new conversation needs a network and a user: %w", c.ID, ErrInvalid)
		}
		if c.Started.IsZero() {
			c.Started = now
		}
	case err != nil:
		return fmt.Errorf("store: put conversation %s: %w", c.ID, err)
	default:
		if (c.Network != "" && c.Network != old.Network) || (c.User != "" && c.User != old.User) {
			return fmt.Errorf("store: put conversation %s: it is %s!%s's, not %s!%s: %w",
				c.ID, old.Network, old.User, c.Network, c.User, ErrConflict)
		}
		c = mergeConversation(old, c)
	}
	if !c.Ended.IsZero() && c.Ended.Before(c.Started) {
		return fmt.Errorf("store: put conversation %s: ends (%s) before it starts (%s): %w",
			c.ID, c.Ended.Format(time.RFC3339Nano), c.Started.Format(time.RFC3339Nano), ErrInvalid)
	}
	_, err = tx.ExecContext(ctx, qPutConversation,
		c.ID, c.Network, c.User, nullID(c.CustomerID), c.Queue, c.Reason, c.Language, c.Started.UnixNano(), encTime(c.Ended), c.Outcome)
	if err != nil {
		return fmt.Errorf("store: put conversation %s: %w", c.ID, err)
	}
	return nil
}

// mergeConversation is old with c's non-empty fields.
func mergeConversation(old, c Conversation) Conversation {
	str := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	tm := func(dst *time.Time, v time.Time) {
		if !v.IsZero() {
			*dst = v
		}
	}
	if c.CustomerID != 0 {
		old.CustomerID = c.CustomerID
	}
	str(&old.Queue, c.Queue)
	str(&old.Reason, c.Reason)
	str(&old.Language, c.Language)
	str(&old.Outcome, c.Outcome)
	tm(&old.Started, c.Started)
	tm(&old.Ended, c.Ended)
	return old
}

// Conversation returns the conversation with that id.
func (s *Store) Conversation(ctx context.Context, id string) (Conversation, bool, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return Conversation{}, false, fmt.Errorf("store: conversation: empty conversation id: %w", ErrInvalid)
	}
	c, err := scanConversation(s.rdb.QueryRowContext(ctx, qConversation, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Conversation{}, false, nil
	case err != nil:
		return Conversation{}, false, fmt.Errorf("store: conversation %s: %w", id, err)
	}
	return c, true, nil
}

// SetConversationCustomer records who the customer of a conversation is,
// once the bot (or an agent) has identified them: the conversation and its
// transcript join the customer's history. Both must exist.
func (s *Store) SetConversationCustomer(ctx context.Context, id string, customerID int64) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return fmt.Errorf("store: set conversation customer: empty conversation id: %w", ErrInvalid)
	}
	if customerID <= 0 {
		return fmt.Errorf("store: set conversation %s customer: customer id %d: %w", id, customerID, ErrInvalid)
	}
	return s.update(ctx, "set conversation "+id+" customer", func(tx txn) error {
		ok, err := customerExists(ctx, tx, customerID)
		if err != nil {
			return fmt.Errorf("store: set conversation %s customer: %w", id, err)
		}
		if !ok {
			return fmt.Errorf("store: set conversation %s customer: unknown customer id %d: %w", id, customerID, ErrInvalid)
		}
		res, err := tx.ExecContext(ctx, "UPDATE conversations SET customer_id = ? WHERE id = ?", customerID, id)
		if err != nil {
			return fmt.Errorf("store: set conversation %s customer: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("store: set conversation %s customer: no such conversation: %w", id, ErrNotFound)
		}
		return nil
	})
}

// History returns the customer's conversations, the newest first.
func (s *Store) History(ctx context.Context, customerID int64) ([]Conversation, error) {
	out, err := queryAll(ctx, s.rdb, scanConversation, "SELECT "+conversationCols+` FROM conversations
		WHERE customer_id = ? ORDER BY started DESC, id DESC`, customerID)
	if err != nil {
		return nil, fmt.Errorf("store: history of customer %d: %w", customerID, err)
	}
	return out, nil
}

// ConversationsOf returns the conversations from one IM address, the newest
// first, identified or not: the bot can greet a returning user.
func (s *Store) ConversationsOf(ctx context.Context, network, user string) ([]Conversation, error) {
	out, err := queryAll(ctx, s.rdb, scanConversation, "SELECT "+conversationCols+` FROM conversations
		WHERE network = ? AND im_user = ? ORDER BY started DESC, id DESC`, network, user)
	if err != nil {
		return nil, fmt.Errorf("store: conversations of %s!%s: %w", network, user, err)
	}
	return out, nil
}

// AppendTranscript appends the lines, all or none, in one transaction.
// Each line's conversation must exist. A line with Seq 0 takes the next
// number of its conversation; a line with a Seq already stored is accepted
// again if it is the same line (a retry), and is ErrConflict otherwise. A
// zero Time is now.
func (s *Store) AppendTranscript(ctx context.Context, lines ...TranscriptLine) error {
	if len(lines) == 0 {
		return nil
	}
	now := s.now()
	return s.update(ctx, "append transcript", func(tx txn) error {
		return appendTranscript(ctx, tx, now, lines)
	})
}

func (l *TranscriptLine) check() error {
	l.Conversation = strings.TrimSpace(l.Conversation)
	l.AgentID = strings.TrimSpace(l.AgentID)
	switch {
	case l.Conversation == "":
		return fmt.Errorf("empty conversation id: %w", ErrInvalid)
	case l.Seq < 0:
		return fmt.Errorf("conversation %s: line number %d: %w", l.Conversation, l.Seq, ErrInvalid)
	case l.Text == "":
		return fmt.Errorf("conversation %s: empty text: %w", l.Conversation, ErrInvalid)
	case l.From == FromAgent && l.AgentID == "":
		return fmt.Errorf("conversation %s: an agent's line without an agent id: %w", l.Conversation, ErrInvalid)
	}
	switch l.From {
	case FromCustomer, FromAgent, FromBot, FromSystem, FromSupervisor:
		return nil
	}
	return fmt.Errorf("conversation %s: unknown sender %q (want customer, agent, bot, system or supervisor): %w",
		l.Conversation, l.From, ErrInvalid)
}

func appendTranscript(ctx context.Context, tx txn, now time.Time, lines []TranscriptLine) error {
	where := func(i int) string {
		if len(lines) == 1 {
			return "store: append transcript"
		}
		return fmt.Sprintf("store: append transcript: line %d", i)
	}
	next := make(map[string]int64) // the next free number of a conversation, once asked for
	out := make([]numberedLine, 0, len(lines))
	for i, l := range lines {
		if err := l.check(); err != nil {
			return fmt.Errorf("%s: %w", where(i), err)
		}
		n := numberedLine{TranscriptLine: l, index: i, timed: !l.Time.IsZero()}
		if !n.timed {
			n.Time = now
		}
		if n.Seq == 0 {
			seq, ok := next[n.Conversation]
			if !ok {
				var one int
				err := tx.QueryRowContext(ctx, qConversationExists, n.Conversation).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("%s: unknown conversation %s: %w", where(i), n.Conversation, ErrInvalid)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", where(i), err)
				}
				if err := tx.QueryRowContext(ctx, qLastSeq, n.Conversation).Scan(&seq); err != nil {
					return fmt.Errorf("%s: %w", where(i), err)
				}
				seq++
			}
			n.Seq = seq
		}
		next[n.Conversation] = max(next[n.Conversation], n.Seq+1)
		out = append(out, n)
	}
	return writeLines(ctx, tx, out, where)
}

// Transcript returns a conversation's lines in Seq order (none for an
// unknown conversation).
func (s *Store) Transcript(ctx context.Context, conversationID string) ([]TranscriptLine, error) {
	conversationID = strings.TrimSpace(conversationID)
	if conversationID == "" {
		return nil, fmt.Errorf("store: transcript: empty conversation id: %w", ErrInvalid)
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT lines FROM transcript_chunks WHERE conversation = ? ORDER BY first_seq", conversationID)
	if err != nil {
		return nil, fmt.Errorf("store: transcript of %s: %w", conversationID, err)
	}
	defer rows.Close()
	var out []TranscriptLine
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: transcript of %s: %w", conversationID, err)
		}
		if out, err = decodeChunk(out, conversationID, raw); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: transcript of %s: %w", conversationID, err)
	}
	return out, nil
}
