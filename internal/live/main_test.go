package live

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine a center starts is joined by Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
