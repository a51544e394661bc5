package webchat

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Close joins every visitor's goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
