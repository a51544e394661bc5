package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

const benchText = "Hello, I ordered a blue kettle last week and it has not arrived yet; order A-1234."

// eachLinesPerSec is BenchmarkAppendTranscriptEach's rate, for the ratio
// BenchmarkWriterTranscript reports when both run (this file declares
// the baseline first, so it runs first).
var eachLinesPerSec float64

// BenchmarkAppendTranscriptEach is the baseline: one transaction, so one
// fsync, per line.
func BenchmarkAppendTranscriptEach(b *testing.B) {
	s := MustOpenPath(b, filepath.Join(b.TempDir(), "bench.db"), Config{})
	MustConversation(b, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	ctx := context.Background()
	l := TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: benchText}
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := s.AppendTranscript(ctx, l); err != nil {
			b.Fatal(err)
		}
		n++
	}
	eachLinesPerSec = float64(n) / time.Since(start).Seconds()
	b.ReportMetric(eachLinesPerSec, "lines/s")
}

// BenchmarkWriterTranscript submits lines to the group-commit Writer as
// the IM gateway does, without waiting; lines/s counts until the last one
// is acknowledged (Flush included).
func BenchmarkWriterTranscript(b *testing.B) {
	s := MustOpenPath(b, filepath.Join(b.TempDir(), "bench.db"), Config{})
	MustConversation(b, s, Conversation{ID: "im-1", Network: "xmpp", User: "ann@x"})
	ctx := context.Background()
	w := s.Writer()
	l := TranscriptLine{Conversation: "im-1", From: FromCustomer, Text: benchText}
	var failed atomic.Int64
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		w.SubmitTranscript(l, done)
		n++
	}
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	rate := float64(n) / time.Since(start).Seconds()
	if failed.Load() > 0 {
		b.Fatalf("%d lines failed", failed.Load())
	}
	st := w.Stats()
	b.ReportMetric(rate, "lines/s")
	b.ReportMetric(float64(st.Ops)/float64(max(st.Batches, 1)), "lines/commit")
	if eachLinesPerSec > 0 {
		b.ReportMetric(rate/eachLinesPerSec, "x-baseline")
	}
}

// BenchmarkBatchLines writes numbered lines of ten conversations in
// batches of 64, one writer op each, as the IM gateway journals them;
// us/line is the writer's cost of one line (commit included).
func BenchmarkBatchLines(b *testing.B) {
	s := MustOpenPath(b, filepath.Join(b.TempDir(), "bench.db"), Config{})
	const convs, per = 10, 64
	for i := range convs {
		MustConversation(b, s, Conversation{ID: fmt.Sprintf("im-%d", i), Network: "xmpp", User: fmt.Sprintf("u%d@x", i)})
	}
	ctx := context.Background()
	w := s.Writer()
	seq := make([]int64, convs)
	fail := func(what string, err error) { b.Fatalf("%s: %v", what, err) }
	now := time.Now()
	start := time.Now()
	n := 0
	for b.Loop() {
		var bt Batch
		for k := range per {
			c := k % convs
			seq[c]++
			bt.Line(TranscriptLine{Conversation: fmt.Sprintf("im-%d", c), Seq: seq[c], Time: now, From: FromCustomer, Text: benchText})
		}
		w.SubmitBatch(&bt, fail, nil)
		n += per
		if err := w.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n), "us/line")
}
