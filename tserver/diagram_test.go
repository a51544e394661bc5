package tserver

import (
	"flag"
	"testing"

	"github.com/looplab/fsm"

	"github.com/ccswitch/ccswitch/internal/doctest"
)

var dgUpdate = flag.Bool("update", false, "rewrite the state diagram in README.md")

// TestREADMEDiagram keeps the agent state diagram in README.md equal to the
// one looplab/fsm draws from AgentEvents (go test -update).
func TestREADMEDiagram(t *testing.T) {
	d, err := fsm.VisualizeWithType(NewAgentFSM(LoggedOut), fsm.MERMAID)
	if err != nil {
		t.Fatal(err)
	}
	doctest.CheckBlock(t, "README.md", "agent diagram", "mermaid", d, *dgUpdate)
}
