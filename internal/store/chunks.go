package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/jsonenc"
)

// Transcripts are stored in chunks: a row of transcript_chunks holds a run
// of a conversation's lines with consecutive numbers, as a JSON array. A
// busy gateway writes a conversation's lines in groups (imgw's journal);
// one row per group costs a fraction of one row per line, whose B-tree
// insert was most of the store's work. The view transcript shows one row
// per line, for SQL readers, and takes single-line INSERTs.

// chunkLine is a line inside a chunk's JSON.
type chunkLine struct {
	Seq     int64  `json:"s"`
	Time    int64  `json:"t"` // Unix ns
	From    string `json:"f"`
	AgentID string `json:"a,omitempty"`
	Text    string `json:"x"`
}

// The chunk statements.
var (
	// qChunkSpan finds the chunk that would hold line ? (the last one
	// starting at or before it): chunks do not overlap.
	qChunkSpan  = prep("SELECT first_seq, last_seq FROM transcript_chunks WHERE conversation = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1")
	qChunkAt    = prep("SELECT first_seq, last_seq, lines FROM transcript_chunks WHERE conversation = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1")
	qLastSeq    = prep("SELECT COALESCE((SELECT last_seq FROM transcript_chunks WHERE conversation = ? ORDER BY first_seq DESC LIMIT 1), 0)")
	qInsertRows = prep("INSERT INTO transcript_chunks (conversation, first_seq, last_seq, lines) VALUES (?, ?, ?, ?)")
)

// encodeChunk is the JSON of a run of lines, as encoding/json writes
// chunkLine (without its HTML escaping), written by hand: it runs for
// every line a busy center relays.
func encodeChunk(lines []TranscriptLine) string {
	n := 2
	for i := range lines {
		n += 48 + len(lines[i].From) + len(lines[i].AgentID) + len(lines[i].Text)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, l := range lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"s":`...)
		b = strconv.AppendInt(b, l.Seq, 10)
		b = append(b, `,"t":`...)
		b = strconv.AppendInt(b, l.Time.UnixNano(), 10)
		b = append(b, `,"f":`...)
		b = jsonenc.AppendString(b, l.From)
		if l.AgentID != "" {
			b = append(b, `,"a":`...)
			b = jsonenc.AppendString(b, l.AgentID)
		}
		b = append(b, `,"x":`...)
		b = jsonenc.AppendString(b, l.Text)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// decodeChunk appends a chunk's lines to out.
func decodeChunk(out []TranscriptLine, conv, raw string) ([]TranscriptLine, error) {
	var cl []chunkLine
	if err := json.Unmarshal([]byte(raw), &cl); err != nil {
		return out, fmt.Errorf("store: transcript of %s: a damaged chunk: %w", conv, err)
	}
	for _, c := range cl {
		out = append(out, TranscriptLine{Conversation: conv, Seq: c.Seq, Time: time.Unix(0, c.Time).UTC(), From: c.From, AgentID: c.AgentID, Text: c.Text})
	}
	return out, nil
}

// storedLines reads a conversation's stored lines by number, keeping the
// chunk it read last: the lines of a run that meets stored ones mostly
// fall in the same chunk, decoded once.
type storedLines struct {
	ctx         context.Context
	tx          txn
	conv        string
	first, last int64 // the kept chunk's numbers; last 0: none kept
	lines       []TranscriptLine
}

// line returns line seq, if stored.
func (s *storedLines) line(seq int64) (TranscriptLine, bool, error) {
	if s.last == 0 || seq < s.first || seq > s.last {
		var raw string
		err := s.tx.QueryRowContext(s.ctx, qChunkAt, s.conv, seq).Scan(&s.first, &s.last, &raw)
		if errors.Is(err, sql.ErrNoRows) || err == nil && s.last < seq {
			s.last = 0
			return TranscriptLine{}, false, nil
		}
		if err != nil {
			s.last = 0
			return TranscriptLine{}, false, err
		}
		if s.lines, err = decodeChunk(s.lines[:0], s.conv, raw); err != nil {
			s.last = 0
			return TranscriptLine{}, false, err
		}
	}
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i].Seq >= seq })
	if i < len(s.lines) && s.lines[i].Seq == seq {
		return s.lines[i], true, nil
	}
	return TranscriptLine{}, false, nil
}

// anyStored reports whether conv has a line numbered first to last.
func anyStored(ctx context.Context, tx txn, conv string, first, last int64) (bool, error) {
	var f, l int64
	err := tx.QueryRowContext(ctx, qChunkSpan, conv, last).Scan(&f, &l)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && l >= first, err
}

// sameLine reports whether l is old again (a retry); a line without a
// time matches any.
func sameLine(old, l TranscriptLine, timed bool) bool {
	return (!timed || old.Time.Equal(l.Time)) && old.From == l.From && old.AgentID == l.AgentID && old.Text == l.Text
}

// numberedLine is a checked, numbered line about to be written, with its
// place in the caller's input (for error messages) and whether its time
// was given.
type numberedLine struct {
	TranscriptLine
	index int
	timed bool
}

// writeLines stores checked, numbered lines: each run of one
// conversation's consecutive numbers is one chunk. A number already
// stored is accepted if it holds the same line (a retry) and is
// ErrConflict otherwise. where names a line in errors.
func writeLines(ctx context.Context, tx txn, lines []numberedLine, where func(i int) string) error {
	// Interleaved conversations: each one's lines together, in the order
	// given, so that they make runs.
	for i := 1; i < len(lines); i++ {
		if lines[i].Conversation != lines[0].Conversation {
			lines = slices.Clone(lines)
			slices.SortStableFunc(lines, func(a, b numberedLine) int { return strings.Compare(a.Conversation, b.Conversation) })
			break
		}
	}
	for start := 0; start < len(lines); {
		end := start + 1
		for end < len(lines) && lines[end].Conversation == lines[start].Conversation && lines[end].Seq == lines[end-1].Seq+1 {
			end++
		}
		if err := writeRun(ctx, tx, lines[start:end], where); err != nil {
			return err
		}
		// A big batch is many chunks: between two, let the goroutines
		// that share the processor run (a center given one processor
		// beside its XMPP server relays chats on it; without this its
		// p99 grew by milliseconds while a commit ran).
		runtime.Gosched()
		start = end
	}
	return nil
}

// writeRun stores a run of one conversation's consecutive lines.
func writeRun(ctx context.Context, tx txn, run []numberedLine, where func(i int) string) error {
	conv := run[0].Conversation
	taken, err := anyStored(ctx, tx, conv, run[0].Seq, run[len(run)-1].Seq)
	if err != nil {
		return fmt.Errorf("%s: %w", where(run[0].index), err)
	}
	if !taken {
		return insertRun(ctx, tx, run, where)
	}
	// Some are there: keep the retries, refuse the conflicts, write the
	// others (in runs again).
	var missing []numberedLine
	stored := storedLines{ctx: ctx, tx: tx, conv: conv}
	for _, l := range run {
		old, ok, err := stored.line(l.Seq)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", where(l.index), err)
		case !ok:
			missing = append(missing, l)
		case !sameLine(old, l.TranscriptLine, l.timed):
			return fmt.Errorf("%s: conversation %s already has a different line %d: %w", where(l.index), conv, l.Seq, ErrConflict)
		}
	}
	for start := 0; start < len(missing); {
		end := start + 1
		for end < len(missing) && missing[end].Seq == missing[end-1].Seq+1 {
			end++
		}
		if err := insertRun(ctx, tx, missing[start:end], where); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// insertRun writes a run no stored line overlaps as one chunk.
func insertRun(ctx context.Context, tx txn, run []numberedLine, where func(i int) string) error {
	lines := make([]TranscriptLine, len(run))
	for i := range run {
		lines[i] = run[i].TranscriptLine
	}
	raw := encodeChunk(lines)
	conv := run[0].Conversation
	if _, err := tx.ExecContext(ctx, qInsertRows, conv, run[0].Seq, run[len(run)-1].Seq, raw); err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			return fmt.Errorf("%s: unknown conversation %s: %w", where(run[0].index), conv, ErrInvalid)
		}
		return fmt.Errorf("%s: conversation %s lines %d-%d: %w", where(run[0].index), conv, run[0].Seq, run[len(run)-1].Seq, err)
	}
	return nil
}
