package live

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Log limits of the SIP stack's logger: whoever can send a datagram can
// make sipgo log, so what it logs is bounded in rate and in size.
const (
	logBurst      = 20          // lines of one message at once
	logEvery      = time.Second // then one line of it per logEvery
	logValueBytes = 200         // a string value is cut to this many bytes
	logKeys       = 256         // messages followed; beyond, all share one bucket
)

// limitedHandler is a slog.Handler in front of another: a message's lines
// pass at most logBurst at once and then one per logEvery (the next line
// that passes says how many were suppressed), and string values (a
// datagram's payload, say) are cut to logValueBytes.
type limitedHandler struct {
	next  slog.Handler
	state *limitState
}

type limitState struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*logBucket
}

type logBucket struct {
	tokens     float64
	at         time.Time
	suppressed int
}

func newLimitedHandler(next slog.Handler, now func() time.Time) *limitedHandler {
	if now == nil {
		now = time.Now
	}
	return &limitedHandler{next: next, state: &limitState{now: now, buckets: map[string]*logBucket{}}}
}

func (h *limitedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	suppressed, ok := h.state.take(r.Level.String() + " " + r.Message)
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(cut(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, out)
}

func (h *limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	cuts := make([]slog.Attr, len(as))
	for i, a := range as {
		cuts[i] = cut(a)
	}
	return &limitedHandler{next: h.next.WithAttrs(cuts), state: h.state}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{next: h.next.WithGroup(name), state: h.state}
}

// take spends a token of key's bucket; it reports whether the line may
// pass and, if so, how many lines of key were suppressed before it.
func (s *limitState) take(key string) (suppressed int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	b := s.buckets[key]
	if b == nil {
		if len(s.buckets) >= logKeys {
			key = "" // a flood of distinct messages shares one bucket
			b = s.buckets[key]
		}
		if b == nil {
			b = &logBucket{tokens: logBurst, at: now}
			s.buckets[key] = b
		}
	}
	b.tokens = min(logBurst, b.tokens+now.Sub(b.at).Seconds()/logEvery.Seconds())
	b.at = now
	if b.tokens < 1 {
		b.suppressed++
		return 0, false
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return suppressed, true
}

// cut shortens a long string value, saying by how much.
func cut(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); len(s) > logValueBytes {
			a.Value = slog.StringValue(s[:logValueBytes] + "... (" + strconv.Itoa(len(s)) + " bytes)")
		}
	case slog.KindGroup:
		as := a.Value.Group()
		cuts := make([]slog.Attr, len(as))
		for i, g := range as {
			cuts[i] = cut(g)
		}
		a.Value = slog.GroupValue(cuts...)
	}
	return a
}
