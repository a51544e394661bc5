package cctest

import (
	"errors"
	"testing"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

func TestRecorderWaitsForAnEventFromAnotherGoroutine(t *testing.T) {
	r := NewRecorder[int]()
	go func() {
		for i := range 5 {
			r.Record(i)
		}
	}()
	r.WaitFor(t, "five events", 10*time.Second, func(es []int) bool { return len(es) == 5 })
	if got := r.Events(); len(got) != 5 || got[4] != 4 {
		t.Fatalf("events %v", got)
	}
}

func TestWantKind(t *testing.T) {
	WantKind(t, pbx.Errorf(pbx.Permission, "no"), pbx.Permission, "a permission error")
	MustOK(t, nil, "nothing")
	if FreeUDPPort(t) <= 0 {
		t.Fatal("no port")
	}
	if pbx.KindOf(errors.New("plain")) == pbx.Permission {
		t.Fatal("a plain error has a kind")
	}
}
