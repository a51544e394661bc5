package cti

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: the server joins every connection's goroutines on Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
