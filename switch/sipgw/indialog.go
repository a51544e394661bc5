package sipgw

import (
	"context"
	"net"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// In-dialog requests the gateway sends (BYE, UPDATE, NOTIFY) leave from
// its SIP socket. sipgo's dialogs build these requests without a local
// address, and its transport then sends a UDP one from a socket of its
// own, on an ephemeral port the peer has never seen: a NAT or a strict
// phone drops it, and the socket's reader was never closed. fromListener
// puts the gateway's address on a request that goes over UDP (stream
// transports reuse their connection to the peer anyway).
func (g *Gateway) fromListener(req *sip.Request) *sip.Request {
	if strings.EqualFold(req.Transport(), "udp") && g.port > 0 {
		req.Laddr = sip.Addr{IP: net.ParseIP(g.host), Port: g.port}
	}
	return req
}

// byeAgent ends an agent's leg (the switch is its UAC) with a BYE from the
// gateway's socket.
func (g *Gateway) byeAgent(ctx context.Context, dlg *sipgo.DialogClientSession) error {
	if dlg.InviteResponse == nil {
		return dlg.Bye(ctx) // sipgo says why
	}
	recipient := dlg.InviteRequest.Recipient
	if c := dlg.InviteResponse.Contact(); c != nil {
		recipient = c.Address
	}
	bye := sip.NewRequest(sip.BYE, recipient)
	bye.SetTransport(dlg.InviteRequest.Transport())
	return dlg.WriteBye(ctx, g.fromListener(bye))
}

// byeCaller ends a customer's leg (the switch is its UAS) with a BYE from
// the gateway's socket.
func (g *Gateway) byeCaller(ctx context.Context, dtx *sipgo.DialogServerSession) error {
	req := dtx.InviteRequest
	c := req.Contact()
	if c == nil {
		return dtx.Bye(ctx) // sipgo says why
	}
	bye := sip.NewRequest(sip.BYE, c.Address)
	bye.SetTransport(req.Transport())
	return dtx.WriteBye(ctx, g.fromListener(bye))
}
