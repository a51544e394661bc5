package sipgw

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/switch/media"
)

// TestInDialogRequestsLeaveFromTheSIPSocket: the agent's phone answers
// with a Contact that is not the address it sends from (as a phone behind
// a NAT or with several sockets does). When the customer hangs up, the
// switch's BYE goes to that Contact from the switch's own SIP address,
// not from a socket sipgo would open for it (inside this bubble such a
// socket would be a real one, and the BYE would never arrive).
func TestInDialogRequestsLeaveFromTheSIPSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, 20*time.Second)
		defer h.stop()
		agent := h.phone("127.0.0.1:7001")
		agent.Register()
		synctest.Wait()
		contact := h.phone("127.0.0.1:7011") // where the phone takes in-dialog requests
		caller := h.phone("127.0.0.1:7002")
		inv := caller.Request(sip.INVITE, "5000", 1, "contact-1")
		inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		inv.SetBody([]byte(sdpAt(7102, media.SendRecv)))
		caller.Send(inv)
		ok := caller.Expect("200", 5*time.Second).(*sip.Response)
		caller.Ack(inv, ok)
		offered := agent.Expect("INVITE", 5*time.Second).(*sip.Request)
		res := sip.NewSDPResponseFromRequest(offered, []byte(sdpAt(7104, media.SendRecv)))
		res.To().Params.Add("tag", "agent-tag")
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 7011}})
		agent.Send(res)
		contact.Expect("ACK", 5*time.Second) // to the Contact, the dialog's remote target
		synctest.Wait()

		caller.HangUp(inv, ok)
		_ = contact.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 65535)
		n, from, err := contact.Conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no BYE at the agent's Contact: %v", err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		bye, isReq := m.(*sip.Request)
		if !isReq || bye.Method != sip.BYE {
			t.Fatalf("the Contact got %q, want a BYE", m.String())
		}
		if from.String() != h.gwAddr {
			t.Errorf("BYE from %s, want the switch's SIP address %s", from, h.gwAddr)
		}
		contact.To = from.String()
		contact.Respond(bye, 200, "OK")
	})
}
