package pidf

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/cctest"
)

// TestPure: the parser is domain code (ARCHITECTURE.md): go list -deps
// names no network, HTTP or database package.
func TestPure(t *testing.T) {
	for _, pkg := range cctest.Deps(t, ".") {
		switch {
		case pkg == "net", strings.HasPrefix(pkg, "net/"), pkg == "database/sql", strings.HasPrefix(pkg, "modernc.org/"):
			t.Errorf("callback/pidf depends on %s", pkg)
		}
	}
}
