package pidf

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure: the parser is domain code (ARCHITECTURE.md): go list -deps
// names no network, HTTP or database package.
func TestPure(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, pkg := range deps {
		switch {
		case pkg == "net", strings.HasPrefix(pkg, "net/"), pkg == "database/sql", strings.HasPrefix(pkg, "modernc.org/"):
			t.Errorf("callback/pidf depends on %s", pkg)
		}
	}
}
