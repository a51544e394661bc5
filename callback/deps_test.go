package callback

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/cctest"
)

// The callback domain imports no transport, no storage and not tserver
// (ARCHITECTURE.md): the wiring connects them through Queues, Dialer,
// Notifier, Directory and Journal.
func TestDomainImportsNoAdapter(t *testing.T) {
	for _, dep := range cctest.Deps(t, ".") {
		switch {
		case dep == "net", strings.HasPrefix(dep, "net/"), dep == "database/sql",
			dep == "github.com/ccswitch/ccswitch/tserver",
			dep == "github.com/ccswitch/ccswitch/internal/store",
			strings.HasPrefix(dep, "modernc.org/sqlite"):
			t.Errorf("callback depends on %s", dep)
		}
	}
}
