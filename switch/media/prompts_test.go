package media

import (
	"bytes"
	"io/fs"
	"math"
	"testing"
	"time"
)

// Every word PositionAndWait can say exists, the files are committed
// frame-aligned, and the whole set stays small.
func TestEmbeddedPrompts(t *testing.T) {
	want := []string{"greeting", "you-are-number", "in-the-queue", "your-estimated-wait-is",
		"less-than-one-minute", "minute", "minutes", "please-continue-to-hold", "hundred", "music-on-hold",
		"press", "to-be-called-back"}
	want = append(want, ones[:]...)
	want = append(want, tens[2:]...)
	for _, name := range want {
		p, ok := PromptByName(name)
		if !ok {
			t.Errorf("no prompt %q", name)
			continue
		}
		if p.Name != name || p.Frames() == 0 || len(p.ulaw)%FrameSize != 0 {
			t.Errorf("prompt %q: name %q, %d bytes, not a whole number of frames", name, p.Name, len(p.ulaw))
		}
		if bytes.Count(p.ulaw, []byte{ULawSilence}) == len(p.ulaw) {
			t.Errorf("prompt %q is silent", name)
		}
	}
	if got := len(PromptNames()); got != len(want) {
		t.Errorf("%d prompts (%v), want %d", got, PromptNames(), len(want))
	}
	if _, ok := PromptByName("no-such-prompt"); ok {
		t.Error("PromptByName found a prompt that does not exist")
	}

	total := 0
	files, _ := fs.Glob(promptFS, "prompts/*.ulaw")
	for _, f := range files {
		b, _ := promptFS.ReadFile(f)
		if len(b)%FrameSize != 0 {
			t.Errorf("%s: %d bytes is not a whole number of 160-byte frames (rerun generate.sh)", f, len(b))
		}
		total += len(b)
	}
	if total >= 600<<10 {
		t.Errorf("embedded prompts take %d bytes, budget is 600 KB", total)
	}
	t.Logf("%d embedded prompt files, %d bytes; greeting %v", len(files), total, Greeting().Duration())

	if d := Greeting().Duration(); d < 4*time.Second || d > 15*time.Second {
		t.Errorf("greeting lasts %v, want a full sentence", d)
	}
}

func TestNewPromptPads(t *testing.T) {
	p := NewPrompt("x", []byte{1, 2, 3})
	if p.Frames() != 1 || p.Duration() != Ptime || p.ulaw[0] != 1 || p.ulaw[3] != ULawSilence || p.ulaw[159] != ULawSilence {
		t.Errorf("NewPrompt(3 bytes) = %d frames, % x...", p.Frames(), p.ulaw[:4])
	}
	if (Prompt{}).Frames() != 0 || NewPrompt("", nil).Frames() != 0 {
		t.Error("empty prompt has frames")
	}
}

// The music on hold is an 8 s loop of soft, unclipped notes that repeats
// without a click: the jump from its last sample to its first is no bigger
// than the jumps inside it.
func TestMusicOnHold(t *testing.T) {
	m := MusicOnHold()
	if m.Duration() != 8*time.Second {
		t.Errorf("music on hold lasts %v, want 8s", m.Duration())
	}
	if !bytes.Equal(m.ulaw, synthesizeMusic()) {
		t.Error("music on hold is not deterministic")
	}
	lin := make([]float64, len(m.ulaw))
	var sum, peak, maxStep float64
	for i, c := range m.ulaw {
		lin[i] = float64(DecodeULaw(c))
		sum += lin[i] * lin[i]
		peak = max(peak, math.Abs(lin[i]))
		if i > 0 {
			maxStep = max(maxStep, math.Abs(lin[i]-lin[i-1]))
		}
	}
	rms := math.Sqrt(sum / float64(len(lin)))
	if peak > 0.5*32767 || peak < 0.3*32767 {
		t.Errorf("peak %.0f, want about -7 dBFS", peak)
	}
	if rms < 0.05*32767 {
		t.Errorf("rms %.0f: too quiet", rms)
	}
	if seam := math.Abs(lin[0] - lin[len(lin)-1]); seam > maxStep {
		t.Errorf("loop seam jumps %.0f, more than any step inside (%.0f)", seam, maxStep)
	}
	// Every second has sound in it (no dead air in the loop).
	for s := range 8 {
		var e float64
		for _, v := range lin[s*ClockRate : (s+1)*ClockRate] {
			e += v * v
		}
		if math.Sqrt(e/ClockRate) < 0.02*32767 {
			t.Errorf("second %d of the music is nearly silent", s)
		}
	}
}
