package imgw

import (
	"os/exec"
	"strings"
	"testing"
)

// The gateway's core imports no storage (ARCHITECTURE.md): journals are
// adapters behind Journal and Customers (imgw/sqlitejournal is SQLite).
func TestCoreImportsNoStorage(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "database/sql",
			dep == "github.com/ccswitch/ccswitch/internal/store",
			dep == "modernc.org/sqlite", strings.HasPrefix(dep, "modernc.org/sqlite/"):
			t.Errorf("imgw depends on %s", dep)
		}
	}
}
