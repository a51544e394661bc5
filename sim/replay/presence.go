package replay

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// customerStatuses are the statuses of a customer's combined presence
// (callback.Status), as a script writes them.
var customerStatuses = []string{"online", "away", "dnd", "offline"}

// presenceMatch reads {customer, status} of a customer's presence
// expectation, or of a never; the other fields of f, but those allowed,
// are errors.
func (l *loader) presenceMatch(n *yaml.Node, f map[string]*yaml.Node, at string, allowed ...string) Match {
	m := Match{Customer: l.str(f["customer"], at+".customer")}
	if m.Customer != "" && !l.customerNos[m.Customer] {
		l.errorf(f["customer"], at+".customer", "no customer %s in the center %s (im.customers)", m.Customer, l.s.CenterPath)
	}
	if f["status"] == nil {
		l.errorf(n, at+".status", "a customer's expectation needs a status (one of %s)", strings.Join(customerStatuses, ", "))
	} else if m.Status = l.str(f["status"], at+".status"); !slices.Contains(customerStatuses, m.Status) {
		l.errorf(f["status"], at+".status", "unknown status %q (want one of %s)", m.Status, strings.Join(customerStatuses, ", "))
	}
	for k, v := range f {
		if k != "customer" && k != "status" && !slices.Contains(allowed, k) {
			l.errorf(v, at+"."+k, "%s does not go with a customer's status", k)
		}
	}
	return m
}

// presenceMatches reports whether change p is one m selects.
func presenceMatches(m *Match, p *PresenceChanged) bool {
	return p.Customer == m.Customer && p.Status == m.Status
}

// describePresence writes a customer's presence expectation the way the
// script says it.
func describePresence(m *Match) string { return "customer " + m.Customer + " " + m.Status }

// presenceWords writes change p: "away [phone]".
func presenceWords(p *PresenceChanged) string {
	return p.Status + " [" + strings.Join(p.Reachable, ", ") + "]"
}

// checkPresence checks that a customer's combined presence became the
// status wanted, within the time since the start.
func (ev *evaluation) checkPresence(e *Expectation, o *Outcome) {
	m := &e.Match
	if !ev.watchesPresence(o) {
		return
	}
	var (
		at    time.Duration
		found bool
	)
	for i := range ev.rec.Presences {
		if p := &ev.rec.Presences[i]; presenceMatches(m, p) {
			at, found = p.At, true
			break
		}
	}
	if ev.judgeArrival(e, o, describePresence(m), "the start", at, found) {
		return
	}
	ev.presenceContext(o, m.Customer)
}

// checkNeverPresence checks that a customer's presence never became a
// status.
func (ev *evaluation) checkNeverPresence(e *Expectation, o *Outcome) {
	m := &e.Match
	if !ev.watchesPresence(o) {
		return
	}
	for i := range ev.rec.Presences {
		p := &ev.rec.Presences[i]
		if !presenceMatches(m, p) {
			continue
		}
		o.AtS = secs(p.At)
		o.Detail = fmt.Sprintf("happened at %s: customer %s became %s", dur(p.At), p.Customer, presenceWords(p))
		o.Diff = append(o.Diff, "expected: never "+describePresence(m),
			fmt.Sprintf("got:      customer %s %s at %s", p.Customer, presenceWords(p), dur(p.At)))
		ev.presenceContext(o, m.Customer)
		return
	}
	o.Met, o.Detail = true, "did not happen by the end ("+dur(ev.s.End)+")"
}

// watchesPresence reports whether the center records customers'
// presence; when not, o fails saying so.
func (ev *evaluation) watchesPresence(o *Outcome) bool {
	w, ok := ev.c.(PresenceWatcher)
	if !ok {
		o.Detail = "not checked: this center does not show the callback server's presence of customers"
		return false
	}
	if err := w.WatchesPresence(); err != nil {
		o.Detail = "not checked: " + err.Error()
		return false
	}
	return true
}

// presenceContext adds to failure o how customer's presence changed, as
// lines and as data.
func (ev *evaluation) presenceContext(o *Outcome, customer string) {
	o.Diff = append(o.Diff, "the presence of customer "+customer+" (offline at the start) changed:")
	n := len(o.Diff)
	for _, p := range ev.rec.Presences {
		if p.Customer == customer {
			o.Diff = append(o.Diff, fmt.Sprintf("  %8s  %s", dur(p.At), presenceWords(&p)))
			o.Presences = append(o.Presences, PresenceRecord{AtS: p.At.Seconds(), Customer: p.Customer, Status: p.Status,
				Reachable: p.Reachable})
		}
	}
	if len(o.Diff) == n {
		o.Diff = append(o.Diff, "  (never)")
	}
}
