package peer

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB whose Skipf and Fatalf record instead of
// stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestRequire(t *testing.T) {
	const missing = "ccswitch-no-such-peer"
	tests := []struct {
		name, binary, env       string
		wantPath                bool
		wantSkipped, wantFailed bool
	}{
		{name: "found", binary: "sh", wantPath: true},
		{name: "found, required", binary: "sh", env: "1", wantPath: true},
		{name: "missing", binary: missing, wantSkipped: true},
		{name: "missing, env 0", binary: missing, env: "0", wantSkipped: true},
		{name: "missing, required", binary: missing, env: "1", wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvRequire, tt.env)
			rec := &recorder{TB: t}
			path := Require(rec, tt.binary)
			if (path != "") != tt.wantPath {
				t.Errorf("path = %q, want one: %v", path, tt.wantPath)
			}
			if (rec.skipped != "") != tt.wantSkipped {
				t.Errorf("skipped = %q, want a skip: %v", rec.skipped, tt.wantSkipped)
			}
			if (rec.failed != "") != tt.wantFailed {
				t.Errorf("failed = %q, want a failure: %v", rec.failed, tt.wantFailed)
			}
		})
	}
}
