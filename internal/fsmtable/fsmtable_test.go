package fsmtable

import (
	"testing"

	"github.com/looplab/fsm"
)

type st uint8
type ev uint8

func TestDerive(t *testing.T) {
	states := []string{"idle", "busy", "gone"}
	events := []string{"start", "stop", "leave"}
	tab := Derive(fsm.Events{
		{Name: "start", Src: []string{"idle"}, Dst: "busy"},
		{Name: "stop", Src: []string{"busy"}, Dst: "idle"},
		{Name: "leave", Src: []string{"idle", "busy"}, Dst: "gone"},
	}, st(3), ev(3), func(s st) string { return states[s] }, func(e ev) string { return events[e] })
	tests := []struct {
		s    st
		e    ev
		want st
		ok   bool
	}{
		{0, 0, 1, true}, {1, 1, 0, true}, {0, 2, 2, true}, {1, 2, 2, true},
		{1, 0, 1, false}, {2, 0, 2, false}, {2, 2, 2, false}, {0, 7, 0, false}, {9, 0, 9, false},
	}
	for _, tt := range tests {
		got, ok := tab.Next(tt.s, tt.e)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Next(%d, %d) = %d, %v; want %d, %v", tt.s, tt.e, got, ok, tt.want, tt.ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown event name did not panic")
		}
	}()
	Derive(fsm.Events{{Name: "fly", Src: []string{"idle"}, Dst: "gone"}}, st(3), ev(3),
		func(s st) string { return states[s] }, func(e ev) string { return events[e] })
}
