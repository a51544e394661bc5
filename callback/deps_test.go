package callback

import (
	"os/exec"
	"strings"
	"testing"
)

// The callback domain imports no transport, no storage and not tserver
// (ARCHITECTURE.md): the wiring connects them through Queues, Dialer,
// Notifier, Directory and Journal.
func TestDomainImportsNoAdapter(t *testing.T) {
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
		case dep == "net", strings.HasPrefix(dep, "net/"), dep == "database/sql",
			dep == "github.com/ccswitch/ccswitch/tserver",
			dep == "github.com/ccswitch/ccswitch/internal/store",
			strings.HasPrefix(dep, "modernc.org/sqlite"):
			t.Errorf("callback depends on %s", dep)
		}
	}
}
