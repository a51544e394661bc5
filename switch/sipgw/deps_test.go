package sipgw

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/cctest"
)

// TestSwitchDoesNotImportIM: the SIP side knows nothing of the IM side
// (ARCHITECTURE.md): go list -deps ./switch/... names neither the IM
// gateway nor, through it, the SQLite driver. The SIP MESSAGE adapter is
// imgw/sipmsg, which internal/live hooks to the gateway (OnMessage,
// SendMessage).
func TestSwitchDoesNotImportIM(t *testing.T) {
	for _, pkg := range cctest.Deps(t, "../...") {
		if pkg == "github.com/ccswitch/ccswitch/imgw" || strings.HasPrefix(pkg, "github.com/ccswitch/ccswitch/imgw/") ||
			pkg == "modernc.org/sqlite" || strings.HasPrefix(pkg, "modernc.org/sqlite/") {
			t.Errorf("switch/... depends on %s", pkg)
		}
	}
}
