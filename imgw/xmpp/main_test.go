package xmpp

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Run returns only when its goroutines are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
