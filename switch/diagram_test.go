package pbx

import (
	"flag"
	"testing"

	"github.com/looplab/fsm"

	"github.com/ccswitch/ccswitch/internal/doctest"
)

var update = flag.Bool("update", false, "rewrite the state diagram in README.md")

// TestREADMEDiagram keeps the interaction state diagram in README.md equal
// to the one looplab/fsm draws from InteractionEvents (go test -update).
func TestREADMEDiagram(t *testing.T) {
	d, err := fsm.VisualizeWithType(NewInteractionFSM(Created), fsm.MERMAID)
	if err != nil {
		t.Fatal(err)
	}
	doctest.CheckBlock(t, "README.md", "interaction diagram", "mermaid", d, *update)
}
