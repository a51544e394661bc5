package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{`20s`, 20 * time.Second, ""},
		{`"20s"`, 20 * time.Second, ""},
		{`1h30m`, 90 * time.Minute, ""},
		{`200h`, 200 * time.Hour, ""},
		{`250ms`, 250 * time.Millisecond, ""},
		{`20`, 20 * time.Second, ""},
		{`"20"`, 20 * time.Second, ""},
		{`0`, 0, ""},
		{`1.5`, 1500 * time.Millisecond, ""},
		{`.25`, 250 * time.Millisecond, ""},
		{`1e3`, 1000 * time.Second, ""},
		{`-5s`, 0, `line 1: column 4: negative duration "-5s"`},
		{`-3`, 0, `negative duration "-3"`},
		{`-0.5`, 0, `negative duration "-0.5"`},
		{`soon`, 0, `invalid duration "soon"`},
		{`5 s`, 0, `invalid duration "5 s"`},
		{`.inf`, 0, `invalid duration ".inf"`},
		{`.nan`, 0, `invalid duration ".nan"`},
		{`0x10`, 0, `invalid duration "0x10"`},
		{`1e12`, 0, `duration "1e12" is too long`},
		{`1e400`, 0, `duration "1e400" is too long`},
		{`3000000h`, 0, `invalid duration "3000000h"`},
		{`[1s]`, 0, "want a duration"},
		{`{s: 1}`, 0, "want a duration"},
	} {
		var v struct{ D Duration }
		err := yaml.Unmarshal([]byte("d: "+tc.yaml), &v)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.wantErr == "" && v.D.D() != tc.want:
			t.Errorf("%s = %v, want %v", tc.yaml, v.D, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one with %q", tc.yaml, err, tc.wantErr)
		}
	}
}

func TestDurationMarshal(t *testing.T) {
	out, err := yaml.Marshal(struct{ D Duration }{Duration(90 * time.Minute)})
	if err != nil || string(out) != "d: 1h30m0s\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
	var back struct{ D Duration }
	if err := yaml.Unmarshal(out, &back); err != nil || back.D.D() != 90*time.Minute {
		t.Errorf("round trip = %v, %v", back.D, err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m30s": 90 * time.Second, "2.5": 2500 * time.Millisecond, " 20s ": 20 * time.Second, "0": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1x", "-1s", "-2", "", "1e400"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}
