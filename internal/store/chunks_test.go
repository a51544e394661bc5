package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runBatch writes b through w and waits; it returns the errors of the
// records that failed, in order.
func runBatch(t *testing.T, w *Writer, b *Batch) (failures []error) {
	t.Helper()
	done := make(chan error, 1)
	w.SubmitBatch(b, func(what string, err error) { failures = append(failures, err) },
		func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("done %v", err)
	}
	return failures
}

// A group of a conversation's lines is one row; interleaved groups of two
// conversations are a row each; the view shows every line.
func TestChunksOnePerRun(t *testing.T) {
	s := MustOpen(t)
	w := s.Writer()
	ctx := context.Background()
	for _, id := range []string{"im-1", "im-2"} {
		MustConversation(t, s, Conversation{ID: id, Network: "xmpp", User: id + "@x"})
	}
	var b Batch
	for i := int64(1); i <= 64; i++ {
		b.Line(line("im-1", i))
	}
	for i := int64(1); i <= 10; i++ {
		b.Line(line("im-2", i))
	}
	if f := runBatch(t, w, &b); f != nil {
		t.Fatal(f)
	}
	if n := count(t, s, "transcript_chunks"); n != 2 {
		t.Fatalf("%d chunk rows for two runs", n)
	}
	if n := count(t, s, "transcript"); n != 74 {
		t.Fatalf("the view shows %d lines, want 74", n)
	}
	if got := seqsOf(t, s, "im-1"); len(got) != 64 || got[63] != 64 {
		t.Fatalf("im-1 lines %v", got)
	}
	var text string
	if err := s.rdb.QueryRowContext(ctx, "SELECT text FROM transcript WHERE conversation = 'im-2' AND seq = 7").Scan(&text); err != nil || text != "line 7" {
		t.Fatalf("the view's line 7: %q, %v", text, err)
	}
	// A store-numbered line follows the last chunk.
	if err := s.AppendTranscript(ctx, TranscriptLine{Conversation: "im-2", From: FromBot, Text: "next"}); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, s, "im-2"); len(got) != 11 || got[10] != 11 {
		t.Fatalf("im-2 lines %v", got)
	}
}

// A run that overlaps stored lines (a journal replayed after a crash):
// the same lines again are accepted once, the gaps are filled, and a
// different line under a stored number is a conflict.
func TestChunksOverlap(t *testing.T) {
	s := MustOpen(t)
	w := s.Writer()
	MustConversation(t, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	at := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	mk := func(seq int64) TranscriptLine {
		l := line("im-1", seq)
		l.Time = at.Add(time.Duration(seq) * time.Second)
		return l
	}
	var first Batch
	for _, seq := range []int64{3, 4, 5, 9, 10} {
		first.Line(mk(seq))
	}
	if f := runBatch(t, w, &first); f != nil {
		t.Fatal(f)
	}
	var replay Batch
	for seq := int64(1); seq <= 12; seq++ {
		replay.Line(mk(seq))
	}
	if f := runBatch(t, w, &replay); f != nil {
		t.Fatal(f)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(12)) {
		t.Fatalf("lines %v, want 1..12 once each", got)
	}
	lines, err := s.Transcript(context.Background(), "im-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if l != mk(l.Seq) {
			t.Fatalf("line %d read back as %+v", l.Seq, l)
		}
	}
	var conflict Batch
	bad := mk(4)
	bad.Text = "not what was said"
	conflict.Line(mk(13))
	conflict.Line(bad)
	f := runBatch(t, w, &conflict)
	if len(f) != 1 || !errors.Is(f[0], ErrConflict) || !strings.Contains(f[0].Error(), "already has a different line 4") {
		t.Fatalf("failures %q, want line 4's conflict alone", f)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(13)) {
		t.Fatalf("lines %v, want 1..13 (line 13 kept)", got)
	}
	// Through the view, too.
	if _, err := s.wdb.Exec("INSERT INTO transcript (conversation, seq, time, sender, text) VALUES ('im-1', 6, 0, 'bot', 'x')"); err == nil {
		t.Fatal("the view took a number inside a stored chunk")
	}
}

// A store made before chunks (schema 3, a row per line) keeps its
// transcripts when it is opened by this build.
func TestChunksMigrateOldTranscripts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := open(path, Config{}, migrations[:3])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	MustConversation(t, old, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 5; i++ {
		agent, from := "", FromCustomer
		if i%2 == 0 {
			agent, from = "alice", FromAgent
		}
		if _, err := old.wdb.ExecContext(ctx, "INSERT INTO transcript (conversation, seq, time, sender, agent_id, text) VALUES (?, ?, ?, ?, ?, ?)",
			"im-1", i, at.Add(time.Duration(i)*time.Second).UnixNano(), from, agent, fmt.Sprintf("old line %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := MustOpenPath(t, path, Config{})
	lines, err := s.Transcript(ctx, "im-1")
	if err != nil || len(lines) != 5 {
		t.Fatalf("%d lines after the migration (%v)", len(lines), err)
	}
	for i, l := range lines {
		seq := int64(i + 1)
		want := TranscriptLine{Conversation: "im-1", Seq: seq, Time: at.Add(time.Duration(seq) * time.Second), From: FromCustomer, Text: fmt.Sprintf("old line %d", seq)}
		if seq%2 == 0 {
			want.From, want.AgentID = FromAgent, "alice"
		}
		if l != want {
			t.Errorf("line %d: %+v, want %+v", seq, l, want)
		}
	}
	if err := s.AppendTranscript(ctx, TranscriptLine{Conversation: "im-1", From: FromBot, Text: "new"}); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, s, "im-1"); !slices.Equal(got, upTo(6)) {
		t.Fatalf("lines %v", got)
	}
}

// The hand-written chunk JSON reads back, through encoding/json, as the
// lines it was made of (invalid UTF-8 as U+FFFD), and SQLite finds it
// valid.
func FuzzChunkEncoding(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r\x00\x1f\x7f", "ünï©ødé 💬", "bad \xff\xfe utf8", "</script>&<"} {
		f.Add(s, "alice", int64(7), int64(1764406800123456789))
	}
	f.Fuzz(func(t *testing.T, text, agent string, seq, ns int64) {
		l := TranscriptLine{Conversation: "im-1", Seq: seq, Time: time.Unix(0, ns).UTC(), From: FromAgent, AgentID: agent, Text: text}
		raw := encodeChunk([]TranscriptLine{l, l})
		got, err := decodeChunk(nil, "im-1", raw)
		if err != nil {
			t.Fatalf("%q does not decode: %v", raw, err)
		}
		want := l
		want.Text, want.AgentID = string([]rune(text)), string([]rune(agent)) // U+FFFD for each invalid byte
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Fatalf("%q decodes as %+v, want %+v twice", raw, got, want)
		}
	})
}

func TestChunkJSONValidInSQLite(t *testing.T) {
	s := MustOpen(t)
	l := TranscriptLine{Conversation: "im-1", Seq: 1, From: FromCustomer, Text: "tab\tnul\x00 bad\xff \"q\" \\ ünï 💬"}
	var ok int
	if err := s.rdb.QueryRow("SELECT json_valid(?)", encodeChunk([]TranscriptLine{l})).Scan(&ok); err != nil || ok != 1 {
		t.Fatalf("json_valid: %d, %v", ok, err)
	}
}
