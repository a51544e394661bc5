// Package fsmtable derives, once, a transition table from looplab/fsm
// event definitions, so the domain's hot paths (a simulator doing millions
// of transitions a second) pay an array lookup instead of looplab/fsm's
// allocations, while the fsm definitions stay the single source of truth
// and draw the documentation's diagrams.
package fsmtable

import (
	"fmt"

	"github.com/looplab/fsm"
)

// Table maps (state, event) to the next state for states and events that
// are small integers with names.
type Table[S, E ~uint8] struct {
	next    []S
	nEvents int
}

// None is the table's "no transition" marker.
const None = 0xff

// Derive builds the table of events for nStates states and nEvents events
// named by stateName and eventName. It panics when a definition names a
// state or event without a constant: a programming error found at start.
func Derive[S, E ~uint8](events fsm.Events, nStates S, nEvents E, stateName func(S) string, eventName func(E) string) Table[S, E] {
	t := Table[S, E]{next: make([]S, int(nStates)*int(nEvents)), nEvents: int(nEvents)}
	for i := range t.next {
		t.next[i] = None
	}
	stateOf := map[string]S{}
	for s := S(0); s < nStates; s++ {
		stateOf[stateName(s)] = s
	}
	eventOf := map[string]E{}
	for e := E(0); e < nEvents; e++ {
		eventOf[eventName(e)] = e
	}
	for _, d := range events {
		e, ok := eventOf[d.Name]
		if !ok {
			panic(fmt.Sprintf("fsmtable: event %q has no constant", d.Name))
		}
		dst, ok := stateOf[d.Dst]
		if !ok {
			panic(fmt.Sprintf("fsmtable: state %q has no constant", d.Dst))
		}
		for _, src := range d.Src {
			s, ok := stateOf[src]
			if !ok {
				panic(fmt.Sprintf("fsmtable: state %q has no constant", src))
			}
			t.next[int(s)*t.nEvents+int(e)] = dst
		}
	}
	return t
}

// Next returns the state s reaches on e, and whether e is allowed in s.
func (t Table[S, E]) Next(s S, e E) (S, bool) {
	i := int(s)*t.nEvents + int(e)
	if int(e) >= t.nEvents || i >= len(t.next) || t.next[i] == None {
		return s, false
	}
	return t.next[i], true
}
