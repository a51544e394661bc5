package sipgw

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/siptest"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Torture messages in the spirit of RFC 4475, written for this switch:
// each is sent to a live gateway, which must answer what it can, refuse
// the rest, and never panic or stop serving.
var tortureSeeds = []string{
	// A well-formed call to the route point.
	"INVITE sip:5000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK1\r\nFrom: <sip:c@127.0.0.1>;tag=1\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: f1\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:7100>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: " + fmt.Sprint(len(siptest.SDP)) + "\r\n\r\n" + siptest.SDP,
	// No Contact, no SDP.
	"INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK2\r\nFrom: <sip:c@127.0.0.1>;tag=2\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: f2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
	// Broken SDP.
	"INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK3\r\nFrom: <sip:c@127.0.0.1>;tag=3\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: f3\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:7100>\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\nv=0\r\nm=audio x RTP\r\n",
	// To-tag on a dialog nobody knows (re-INVITE), REFER and BYE outside dialogs.
	"INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK4\r\nFrom: <sip:c@127.0.0.1>;tag=4\r\nTo: <sip:5000@127.0.0.1>;tag=zz\r\nCall-ID: f4\r\nCSeq: 2 INVITE\r\nContact: <sip:c@127.0.0.1:7100>\r\nContent-Length: 0\r\n\r\n",
	"REFER sip:ccswitch@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK5\r\nFrom: <sip:a@127.0.0.1>;tag=5\r\nTo: <sip:ccswitch@127.0.0.1>;tag=x\r\nCall-ID: f5\r\nCSeq: 3 REFER\r\nRefer-To: <<<sip:\r\nContent-Length: 0\r\n\r\n",
	"BYE sip:ccswitch@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK6\r\nFrom: <sip:a@127.0.0.1>;tag=6\r\nTo: <sip:ccswitch@127.0.0.1>;tag=x\r\nCall-ID: f6\r\nCSeq: 4 BYE\r\nContent-Length: 0\r\n\r\n",
	// Escaped and odd Request-URIs, a feature code, an extension without auth.
	"INVITE sip:%2A21@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK7\r\nFrom: <sip:c@127.0.0.1>;tag=7\r\nTo: <sip:*21@127.0.0.1>\r\nCall-ID: f7\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:7100>\r\nContent-Length: 0\r\n\r\n",
	"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK8\r\nFrom: <sip:c@127.0.0.1>;tag=8\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: f8\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:7100>\r\nContent-Length: 0\r\n\r\n",
	// Negative Content-Length, huge CSeq, unknown method, folded header.
	"INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK9\r\nFrom: <sip:c@127.0.0.1>;tag=9\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: f9\r\nCSeq: 99999999999999999999 INVITE\r\nContent-Length: -5\r\n\r\n",
	"NEWMETHOD sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK10\r\nFrom: <sip:c@127.0.0.1>;tag=10\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: f10\r\nCSeq: 1 NEWMETHOD\r\nSubject: line one\r\n  continued\r\nContent-Length: 0\r\n\r\n",
	// PUBLISH (RFC 3903): presence with a PIDF body (challenged), another
	// event package, an odd Expires and entity tag, no Event at all.
	"PUBLISH sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK11\r\nFrom: <sip:alice@127.0.0.1>;tag=11\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: f11\r\nCSeq: 1 PUBLISH\r\nEvent: presence\r\nExpires: 600\r\nContent-Type: application/pidf+xml\r\nContent-Length: 115\r\n\r\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple id=\"t\"><status><basic>open</basic></status></tuple></presence>",
	"PUBLISH sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK12\r\nFrom: <sip:alice@127.0.0.1>;tag=12\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: f12\r\nCSeq: 1 PUBLISH\r\nEvent: dialog;id=7\r\nContent-Length: 0\r\n\r\n",
	"PUBLISH sip:@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK13\r\nFrom: <sip:alice@127.0.0.1>;tag=13\r\nTo: <sip:127.0.0.1>\r\nCall-ID: f13\r\nCSeq: 1 PUBLISH\r\nEvent: presence\r\nSIP-If-Match: \r\nExpires: -1\r\nContent-Length: 0\r\n\r\n",
	"PUBLISH sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7100;branch=z9hG4bK14\r\nFrom: <sip:alice@127.0.0.1>;tag=14\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: f14\r\nCSeq: 1 PUBLISH\r\nContent-Length: 0\r\n\r\n",
	// Garbage and an empty datagram.
	"\x00\x01\x02SIP/2.0 INVITE\r\n\r\n",
	"",
}

// FuzzGatewayInput sends arbitrary datagrams to a running gateway; after
// each it must still answer an OPTIONS ping. A panic in any handler ends
// the fuzz run with the crasher.
func FuzzGatewayInput(f *testing.F) {
	for _, s := range tortureSeeds {
		f.Add([]byte(s))
	}
	h := tmStartWith(f, 2*time.Second, func(g *Gateway) { g.OnPresence(PresenceHandlerFunc(func(PresenceReport) {})) })
	defer h.stop()
	probe := h.phone("127.0.0.1:7199")
	fuzzer := h.phone("127.0.0.1:7100")
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		probe.T, fuzzer.T = t, t
		dst := siptest.Addr(h.gwAddr)
		if _, err := fuzzer.Conn.WriteTo(data, dst); err != nil {
			t.Fatal(err)
		}
		n++
		ping := probe.Request(sip.OPTIONS, "ccswitch", uint32(n), fmt.Sprintf("ping-%d", n))
		ping.SetBody(nil)
		probe.Send(ping)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			m := probe.Recv(time.Until(deadline))
			if r, ok := m.(*sip.Response); ok && r.StatusCode == 200 && r.CallID().Value() == ping.CallID().Value() {
				return
			}
			if m == nil {
				break
			}
		}
		t.Fatalf("the gateway stopped answering after %q", truncate(data))
	})
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
