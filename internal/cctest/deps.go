package cctest

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps lists the packages that the packages named by pattern (relative
// to the test's directory: "." is the package under test) depend on,
// with go list -deps, for the tests of ARCHITECTURE.md's layering rules.
// It skips the test when no go command is on PATH.
func Deps(tb testing.TB, pattern string) []string {
	tb.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command on PATH to list the dependencies with")
	}
	out, err := exec.Command(goCmd, "list", "-deps", pattern).CombinedOutput()
	if err != nil {
		tb.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		tb.Fatalf("go list -deps %s listed nothing", pattern)
	}
	return deps
}
