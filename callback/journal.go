package callback

import (
	"sync"
)

// Journal keeps the scheduler's records so that a restart finds them
// (Scheduler.Restore, Scheduler.RestoreAlerts). It is called on the
// domain's goroutine and must not block: an adapter on disk queues the
// records and writes them on its own goroutine, in order. It has no
// error to return: what it cannot write is its to report.
type Journal interface {
	// Save records r as it is now (each change: a new request, an
	// attempt started or ended, a state, a NextTry). The latest record
	// of an ID replaces the earlier ones.
	Save(r Request)
	// SaveAlert records a as it is now, likewise.
	SaveAlert(a Alert)
}

type nopJournal struct{}

func (nopJournal) Save(Request)    {}
func (nopJournal) SaveAlert(Alert) {}

// NopJournal returns a Journal that keeps nothing.
func NopJournal() Journal { return nopJournal{} }

// MemoryJournal is a Journal in memory, for simulations and tests: it
// keeps the latest record of each request and alert, in the order
// first saved, and counts the saves. It is safe for concurrent use.
type MemoryJournal struct {
	mu       sync.Mutex
	requests map[string]Request
	reqOrder []string
	alerts   map[string]Alert
	alOrder  []string
	saves    int
}

var _ Journal = (*MemoryJournal)(nil)

// NewMemoryJournal returns an empty journal.
func NewMemoryJournal() *MemoryJournal {
	return &MemoryJournal{requests: map[string]Request{}, alerts: map[string]Alert{}}
}

// Save keeps r.
func (j *MemoryJournal) Save(r Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.requests[r.ID]; !ok {
		j.reqOrder = append(j.reqOrder, r.ID)
	}
	j.requests[r.ID] = r.clone()
	j.saves++
}

// SaveAlert keeps a.
func (j *MemoryJournal) SaveAlert(a Alert) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.alerts[a.ID]; !ok {
		j.alOrder = append(j.alOrder, a.ID)
	}
	j.alerts[a.ID] = a
	j.saves++
}

// Requests returns the latest record of each request, in the order
// first saved.
func (j *MemoryJournal) Requests() []Request {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Request, 0, len(j.reqOrder))
	for _, id := range j.reqOrder {
		out = append(out, j.requests[id].clone())
	}
	return out
}

// Alerts returns the latest record of each alert, in the order first
// saved.
func (j *MemoryJournal) Alerts() []Alert {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Alert, 0, len(j.alOrder))
	for _, id := range j.alOrder {
		out = append(out, j.alerts[id])
	}
	return out
}

// Saves counts the records saved.
func (j *MemoryJournal) Saves() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.saves
}
