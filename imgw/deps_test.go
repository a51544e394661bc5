package imgw

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/cctest"
)

// The gateway's core imports no storage (ARCHITECTURE.md): journals are
// adapters behind Journal and Customers (imgw/sqlitejournal is SQLite).
func TestCoreImportsNoStorage(t *testing.T) {
	for _, dep := range cctest.Deps(t, ".") {
		switch {
		case dep == "database/sql",
			dep == "github.com/ccswitch/ccswitch/internal/store",
			dep == "modernc.org/sqlite", strings.HasPrefix(dep, "modernc.org/sqlite/"):
			t.Errorf("imgw depends on %s", dep)
		}
	}
}
