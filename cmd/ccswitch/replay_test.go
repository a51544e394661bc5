package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayExitCodes: 0 when every expectation is met, 1 when one
// fails (with its diff on stdout), 2 for a broken script, naming its
// file, line and field; --json, --junit and --config, before or after the
// arguments.
func TestReplayExitCodes(t *testing.T) {
	good := "../../examples/replay/ring-no-answer.yaml"
	out, _, err := runMain(t, "replay", good)
	if err != nil || !strings.Contains(out, "8 expectations: 8 met, 0 failed") {
		t.Fatalf("good script: %v\n%s", err, out)
	}

	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(data), "agent: 1002, within: 20s", "agent: 1002, within: 10s", 1)
	wrong = strings.Replace(wrong, "center: ../sip-center.yaml", "center: "+mustAbs(t, "../../examples/sip-center.yaml"), 1)
	wp := writeFile(t, "wrong.yaml", wrong)
	junit := filepath.Join(t.TempDir(), "replay.xml")
	for _, args := range [][]string{
		{"replay", "--junit", junit, wp},
		{"replay", wp, "--junit", junit},
	} {
		out, _, err = runMain(t, args...)
		if err == nil || errors.As(err, new(*usageError)) || !errors.Is(err, errExpectations) {
			t.Fatalf("%q: %v, want exit 1", args, err)
		}
		for _, w := range []string{"FAIL c1 EventEstablished agent 1002 within 10s: came too late: at 22s", "7 met, 1 failed"} {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output lacks %q:\n%s", args, w, out)
			}
		}
		var suites struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		}
		x, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(x, &suites); err != nil || suites.Tests != 8 || suites.Failures != 1 {
			t.Fatalf("junit %+v (%v):\n%s", suites, err, x)
		}
		os.Remove(junit)
	}

	// --config replaces the script's center: the same script against the
	// sip center passes, against one whose agent 1002 does not exist it
	// is broken.
	other := writeFile(t, "center.yaml", "queues: [{name: support, media: voip, number: \"6000\"}]\nroute_points: [{number: \"5000\", queue: support}]\nagents: [{id: a1, number: \"1001\", skills: {support: 1}}]\n")
	_, _, err = runMain(t, "replay", good, "--config", other)
	if !errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "ring-no-answer.yaml:9:21: script[1].agent: no agent 1002 in the center") {
		t.Fatalf("--config: %v, want exit 2 naming script[1].agent", err)
	}

	broken := writeFile(t, "broken.yaml", "center: "+mustAbs(t, "../../examples/sip-center.yaml")+"\nscript:\n  - {at: 1x, agent: 1001, do: login_ready}\n  - {at: 2s, chat: k1, say: hi}\n")
	_, _, err = runMain(t, "replay", broken, good)
	if !errors.As(err, new(*usageError)) {
		t.Fatalf("broken: %v, want exit 2", err)
	}
	for _, w := range []string{"broken.yaml:3:10: script[0].at: bad time \"1x\"", "broken.yaml:4:20: script[1]: chat without network"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if _, _, err := runMain(t, "replay"); !errors.As(err, new(*usageError)) {
		t.Errorf("no script: %v, want exit 2", err)
	}
}

// TestReplayJSONIsByteIdentical: the same scripts give the same --json
// bytes, flags before or after the arguments.
func TestReplayJSONIsByteIdentical(t *testing.T) {
	files, err := filepath.Glob("../../examples/replay/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scripts := files
	first, _, err := runMain(t, append([]string{"replay", "--json"}, scripts...)...)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := runMain(t, append(append([]string{"replay"}, scripts...), "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatalf("two runs differ")
	}
	var rep struct {
		Scripts []struct {
			File string `json:"file"`
		} `json:"scripts"`
		Met    int `json:"met"`
		Failed int `json:"failed"`
	}
	if err := json.Unmarshal([]byte(first), &rep); err != nil || len(rep.Scripts) != len(scripts) || rep.Failed != 0 || rep.Met < 50 {
		t.Fatalf("%+v (%v)", rep, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
