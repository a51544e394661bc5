package sipgw

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine the gateway starts is joined by Serve.
//
// One kind is sipgo's, not the gateway's: the reader of a UDP connection
// sipgo's transport opens by itself to send a request it has no
// connection for (TransportUDP.createConnection). Under load a test now
// and then leaves one behind (about one run in ten of the whole package
// with other packages testing beside it; never in a test alone), and it
// stays out of this check until it is found.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}
