package sipgw

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSwitchDoesNotImportIM: the SIP side knows nothing of the IM side
// (ARCHITECTURE.md): go list -deps ./switch/... names neither the IM
// gateway nor, through it, the SQLite driver. The SIP MESSAGE adapter is
// imgw/sipmsg, which internal/live hooks to the gateway (OnMessage,
// SendMessage).
func TestSwitchDoesNotImportIM(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	// The test runs in switch/sipgw: ../... is ./switch/... of the module.
	out, err := exec.Command(goCmd, "list", "-deps", "../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, pkg := range deps {
		if pkg == "github.com/ccswitch/ccswitch/imgw" || strings.HasPrefix(pkg, "github.com/ccswitch/ccswitch/imgw/") ||
			pkg == "modernc.org/sqlite" || strings.HasPrefix(pkg, "modernc.org/sqlite/") {
			t.Errorf("switch/... depends on %s", pkg)
		}
	}
}
