package sipmsg

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: the
// adapter starts none of its own (its MESSAGEs go out on the SIP
// gateway's goroutines, which Serve joins).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
