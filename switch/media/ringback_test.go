package media

import "testing"

// The ringback cycle is 2 s of tone, then 4 s of silence.
func TestRingbackCadence(t *testing.T) {
	p := Ringback()
	if p.Frames() != 300 {
		t.Fatalf("%d frames, want 300 (6 s)", p.Frames())
	}
	loud := func(frame []byte) bool {
		for _, b := range frame {
			if s := DecodeULaw(b); s > 2000 || s < -2000 {
				return true
			}
		}
		return false
	}
	for i := range p.Frames() {
		if got, want := loud(p.Frame(i)), i < 100; got != want {
			t.Fatalf("frame %d loud=%v, want %v", i, got, want)
		}
	}
}
