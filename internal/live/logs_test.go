package live

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLimitedHandler: a flood of one message passes a burst, then one line
// a second carrying the count suppressed; other messages have their own
// budget; long values are cut.
func TestLimitedHandler(t *testing.T) {
	now := time.Unix(0, 0)
	var out bytes.Buffer
	log := slog.New(newLimitedHandler(slog.NewJSONHandler(&out, nil), func() time.Time { return now }))
	payload := strings.Repeat("x", 1500)
	for range 10_000 {
		log.Error("parse failed", "data", payload)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != logBurst {
		t.Fatalf("%d lines for 10,000 at once, want %d", len(lines), logBurst)
	}
	if strings.Contains(out.String(), payload) || !strings.Contains(lines[0], "... (1500 bytes)") {
		t.Fatalf("value not cut: %.300s", lines[0])
	}
	log.Warn("another message")
	now = now.Add(logEvery)
	log.Error("parse failed", "data", "y")
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != logBurst+2 || !strings.Contains(lines[logBurst], "another message") ||
		!strings.Contains(lines[logBurst+1], `"suppressed":9980`) {
		t.Fatalf("after a second: %q", lines[logBurst:])
	}
	// Attributes given to With are cut too.
	out.Reset()
	log.With("data", payload).Info("with")
	if strings.Contains(out.String(), payload) {
		t.Fatal("a With value was not cut")
	}
	if !log.Handler().Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("not enabled")
	}
}
