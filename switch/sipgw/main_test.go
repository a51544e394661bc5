package sipgw

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine the gateway starts is joined by Serve.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
