// Package peer finds the real peer programs (sipp, baresip, prosody, ...)
// that integration tests drive. A missing peer skips the test, unless
// CCSWITCH_REQUIRE_PEERS=1 (as in CI, which installs them), where it fails
// it: a test that silently skipped would prove nothing.
package peer

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequire is the environment variable that, set to 1, turns a missing
// peer from a skip into a failure.
const EnvRequire = "CCSWITCH_REQUIRE_PEERS"

// Require returns the path of binary, looked up in PATH. When it is not
// there, Require skips the test, or fails it if EnvRequire is set to 1;
// either way the test stops (with a real *testing.T).
func Require(t testing.TB, binary string) string {
	t.Helper()
	path, err := exec.LookPath(binary)
	if err == nil {
		return path
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("peer %s is required (%s=1) but not usable: %v", binary, EnvRequire, err)
		return ""
	}
	t.Skipf("peer %s not found, skipping (set %s=1 to fail instead): %v", binary, EnvRequire, err)
	return ""
}
