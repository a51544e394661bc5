package replay

import (
	"fmt"
	"time"
)

// ringMatches reports whether ring r is one m selects.
func ringMatches(m *Match, r *Ring) bool {
	return r.Phone == m.Phone && (m.Interaction == "" || r.Callback == m.Interaction)
}

// attemptMatches reports whether attempt a is one e wants.
func attemptMatches(e *Expectation, a *AttemptEnded) bool {
	return a.Callback == e.Match.Interaction && (e.Medium == "" || a.Medium == e.Medium) && a.Result == e.Result
}

// checkCallbackArrival checks a phone's ringing or a callback attempt's
// result, within the time since the callback was requested (a phone
// named without a callback: since the start).
func (ev *evaluation) checkCallbackArrival(e *Expectation, o *Outcome) {
	m := &e.Match
	var (
		at    time.Duration
		found bool
	)
	if e.Kind == ExpectRings {
		for i := range ev.rec.Rings {
			if r := &ev.rec.Rings[i]; ringMatches(m, r) {
				at, found = r.At, true
				break
			}
		}
	} else {
		for i := range ev.rec.Attempts {
			if a := &ev.rec.Attempts[i]; attemptMatches(e, a) {
				at, found = a.At, true
				break
			}
		}
	}
	since := "the start"
	if m.Interaction != "" {
		since = m.Interaction + " was requested"
	}
	if ev.judgeArrival(e, o, describeCallback(e), since, at, found) {
		return
	}
	ev.callbackContext(o, m.Interaction)
}

// judgeArrival decides expectation e whose thing (what, counted from
// since) came at at (found) or not: o's detail and, when e is not met,
// its expected and got lines. It reports whether e is met.
func (ev *evaluation) judgeArrival(e *Expectation, o *Outcome, what, since string, at time.Duration, found bool) bool {
	start, deadline := ev.window(e)
	if found {
		o.AtS = secs(at)
	}
	switch {
	case found && at <= deadline:
		o.Met = true
		o.Detail = "at " + dur(at)
		if e.HasWithin {
			o.Detail += fmt.Sprintf(" (+%s after %s, within %s%s)", dur(at-start), since, dur(e.Within), ev.slack())
		} else {
			o.Detail += " (by the end)"
		}
		return true
	case found:
		o.Detail = fmt.Sprintf("came too late: at %s (+%s after %s), want within %s%s", dur(at), dur(at-start), since, dur(e.Within), ev.slack())
	default:
		o.Detail = "never came by the end (" + dur(ev.s.End) + ")"
	}
	o.Diff = append(o.Diff, fmt.Sprintf("expected: %s by %s", what, dur(deadline)))
	if found {
		o.Diff = append(o.Diff, fmt.Sprintf("got:      %s at %s", what, dur(at)))
	}
	return false
}

// checkNeverRings checks that no call rang a phone (of the callback
// named, if one is).
func (ev *evaluation) checkNeverRings(e *Expectation, o *Outcome) {
	for i := range ev.rec.Rings {
		r := &ev.rec.Rings[i]
		if !ringMatches(&e.Match, r) {
			continue
		}
		o.AtS = secs(r.At)
		o.Detail = fmt.Sprintf("happened at %s: phone %s rang%s", dur(r.At), r.Phone, forCallback(r.Callback))
		o.Diff = append(o.Diff, "expected: never "+describeMatch(&e.Match),
			fmt.Sprintf("got:      phone %s rang%s at %s", r.Phone, forCallback(r.Callback), dur(r.At)))
		ev.callbackContext(o, r.Callback)
		return
	}
	o.Met, o.Detail = true, "did not happen by the end ("+dur(ev.s.End)+")"
}

func forCallback(name string) string {
	if name == "" {
		return ""
	}
	return " for " + name
}

// checkCallbackState checks a callback's state at the end.
func (ev *evaluation) checkCallbackState(e *Expectation, o *Outcome) {
	st, err := ev.c.CallbackState(e.Match.Interaction)
	if err != nil {
		o.Detail = err.Error()
		return
	}
	if st == e.CallbackState {
		o.Met = true
		return
	}
	o.Detail = fmt.Sprintf("%s, want %s", st, e.CallbackState)
	o.Diff = append(o.Diff, "expected: callback "+e.Match.Interaction+" "+e.CallbackState+" at the end", "got:      "+st)
	ev.callbackContext(o, e.Match.Interaction)
}

// callbackContext adds to failure o what the phones and callback name
// (every callback when empty) did, as lines and as data.
func (ev *evaluation) callbackContext(o *Outcome, name string) {
	o.Diff = append(o.Diff, ev.callbackLines(name)...)
	for _, r := range ev.rec.Rings {
		if name == "" || r.Callback == name {
			o.Rings = append(o.Rings, RingRecord{AtS: r.At.Seconds(), Phone: r.Phone, Callback: r.Callback})
		}
	}
	for _, a := range ev.rec.Attempts {
		if name == "" || a.Callback == name {
			o.Attempts = append(o.Attempts, AttemptRecord{AtS: a.At.Seconds(), Callback: a.Callback, Medium: a.Medium, Target: a.Target, Result: a.Result})
		}
	}
	if name != "" {
		o.Events = ev.records(ev.byName[name])
	}
}

// callbackLines writes what the customers' phones and the callback's
// attempts did (every callback's when name is empty), and what happened
// to its interaction.
func (ev *evaluation) callbackLines(name string) []string {
	out := []string{"the customers' phones rang:"}
	n := len(out)
	for _, r := range ev.rec.Rings {
		if name == "" || r.Callback == name {
			out = append(out, fmt.Sprintf("  %8s  phone %s%s", dur(r.At), r.Phone, forCallback(r.Callback)))
		}
	}
	if len(out) == n {
		out = append(out, "  (nothing)")
	}
	out = append(out, "the attempts ended:")
	n = len(out)
	for _, a := range ev.rec.Attempts {
		if name == "" || a.Callback == name {
			out = append(out, fmt.Sprintf("  %8s  %s by %s to %s: %s", dur(a.At), a.Callback, a.Medium, a.Target, a.Result))
		}
	}
	if len(out) == n {
		out = append(out, "  (nothing)")
	}
	if name != "" {
		out = append(out, "what happened to "+name+":")
		out = append(out, ev.eventLines(ev.byName[name], 30, true)...)
	}
	return out
}
