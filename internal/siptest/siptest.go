// Package siptest is a SIP phone for tests, on the in-memory network
// (internal/memnet): requests and responses written by hand, what the
// switch sends read back with a deadline. The SIP gateway's tests and the
// SIP MESSAGE adapter's share it.
package siptest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/ccswitch/ccswitch/internal/memnet"
)

// Phone is a hand-driven SIP endpoint on the in-memory network: a test
// writes requests and responses by hand and reads what the switch sends.
type Phone struct {
	T    testing.TB
	Conn *memnet.Conn
	Addr string
	To   string
	Last *sip.Response // the last 2xx with a body
}

func (p *Phone) Send(m sip.Message) {
	p.T.Helper()
	dst := Addr(p.To)
	if _, err := p.Conn.WriteTo([]byte(m.String()), dst); err != nil {
		p.T.Fatal(err)
	}
}

// Recv returns the next message, or nil if none comes within d (virtual).
func (p *Phone) Recv(d time.Duration) sip.Message {
	p.T.Helper()
	_ = p.Conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65535)
	n, _, err := p.Conn.ReadFrom(buf)
	if err != nil {
		return nil
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.T.Fatalf("unparsable message from the switch: %v\n%s", err, buf[:n])
	}
	return m
}

// Expect waits for a message matching want ("INVITE", "CANCEL", "200",
// "487", ...), skipping others, within d.
func (p *Phone) Expect(want string, d time.Duration) sip.Message {
	p.T.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m := p.Recv(time.Until(deadline))
		if m == nil {
			break
		}
		switch m := m.(type) {
		case *sip.Request:
			if m.Method.String() == want {
				return m
			}
		case *sip.Response:
			if m.IsSuccess() && len(m.Body()) > 0 {
				p.Last = m
			}
			if fmt.Sprint(m.StatusCode) == want {
				return m
			}
		}
	}
	p.T.Fatalf("%s: no %s within %v", p.Addr, want, d)
	return nil
}

// Addr is a host:port of the in-memory network, as a net.Addr.
type Addr string

// Network implements net.Addr.
func (a Addr) Network() string { return "udp" }

func (a Addr) String() string { return string(a) }

func (p *Phone) Request(method sip.RequestMethod, user string, cseq uint32, callID string) *sip.Request {
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: 5060})
	host, port := splitHostPort(p.Addr)
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: host, Port: port,
		Params: params("branch", sip.GenerateBranch())})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: port}, Params: params("tag", "ftag"+callID)})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: port}})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	return req
}

func splitHostPort(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	var port int
	fmt.Sscan(s[i+1:], &port)
	return s[:i], port
}

// Register registers the agent phone 1001 with digest authentication.
func (p *Phone) Register() {
	p.T.Helper()
	req := p.Request(sip.REGISTER, "1001", 1, "reg-1")
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.SetBody(nil)
	p.Send(req)
	res := p.Expect("401", 5*time.Second).(*sip.Response)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		p.T.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: "1001", Password: "secret", Count: 1})
	if err != nil {
		p.T.Fatal(err)
	}
	req = p.Request(sip.REGISTER, "1001", 2, "reg-1")
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	req.SetBody(nil)
	p.Send(req)
	p.Expect("200", 5*time.Second)
}

// SDP is an offer of PCMU from 127.0.0.1, port 9.
const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// Call sends an INVITE to the route point and returns it.
func (p *Phone) Call(callID string) *sip.Request {
	req := p.Request(sip.INVITE, "5000", 1, callID)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(SDP))
	p.Send(req)
	return req
}

func params(k, v string) sip.HeaderParams {
	p := sip.NewParams()
	p.Add(k, v)
	return p
}

// Ack acknowledges a 2xx to invite (a new transaction, RFC 3261 13.2.2.4).
func (p *Phone) Ack(invite *sip.Request, res *sip.Response) {
	ack := p.Request(sip.ACK, invite.Recipient.User, invite.CSeq().SeqNo, invite.CallID().Value())
	ack.ReplaceHeader(sip.HeaderClone(res.To()))
	ack.SetBody(nil)
	p.Send(ack)
}

// HangUp ends the caller's answered call from the phone's side, so the
// switch never has to send a BYE itself: sipgo sends in-dialog requests on
// a socket of its own, which would be a real one outside the bubble.
func (p *Phone) HangUp(invite *sip.Request, ok *sip.Response) {
	p.T.Helper()
	bye := p.Request(sip.BYE, invite.Recipient.User, invite.CSeq().SeqNo+1, invite.CallID().Value())
	bye.ReplaceHeader(sip.HeaderClone(ok.To()))
	bye.SetBody(nil)
	p.Send(bye)
	p.Expect("200", 5*time.Second)
}

// answer sends a response to req.
func (p *Phone) Respond(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil {
		if _, ok := to.Params.Get("tag"); !ok {
			to.Params.Add("tag", "agent-tag")
		}
	}
	p.Send(res)
	return res
}

// LastSDP is the SDP of the last 200 the phone got: where its RTP goes.
func (p *Phone) LastSDP(t *testing.T) []byte {
	t.Helper()
	if p.Last == nil {
		t.Fatal("no 200 with SDP yet")
	}
	return p.Last.Body()
}

// Message sends a MESSAGE from p to user at the gateway and returns the
// final response.
func (p *Phone) Message(user, text string, cseq uint32) *sip.Response {
	p.T.Helper()
	req := p.Request(sip.MESSAGE, user, cseq, "msg-"+text)
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte(text))
	p.Send(req)
	for {
		m := p.Recv(5 * time.Second)
		if m == nil {
			p.T.Fatalf("no response to %q", text)
		}
		if res, ok := m.(*sip.Response); ok && res.CallID().Value() == req.CallID().Value() && !res.IsProvisional() {
			return res
		}
	}
}

// Do sends req and returns its final response (the first response with
// req's Call-ID and CSeq that is not provisional), skipping other
// messages; it fails the test when none comes within 5 s.
func (p *Phone) Do(req *sip.Request) *sip.Response {
	p.T.Helper()
	p.Send(req)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m := p.Recv(time.Until(deadline))
		if m == nil {
			break
		}
		res, ok := m.(*sip.Response)
		if ok && !res.IsProvisional() && res.CallID().Value() == req.CallID().Value() &&
			res.CSeq().SeqNo == req.CSeq().SeqNo && res.CSeq().MethodName == req.Method {
			return res
		}
	}
	p.T.Fatalf("%s: no final response to %s %s within 5s", p.Addr, req.Method, req.CallID().Value())
	return nil
}

// DoAuth is Do with digest authentication: when the switch challenges
// req (401 or 407), DoAuth sends it again, with the next CSeq, a new
// branch and the credentials of user and password, and returns the final
// response to that.
func (p *Phone) DoAuth(req *sip.Request, user, password string) *sip.Response {
	p.T.Helper()
	res := p.Do(req)
	header, answer := "WWW-Authenticate", "Authorization"
	switch res.StatusCode {
	case 401:
	case 407:
		header, answer = "Proxy-Authenticate", "Proxy-Authorization"
	default:
		return res
	}
	chal, err := digest.ParseChallenge(res.GetHeader(header).Value())
	if err != nil {
		p.T.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: req.Method.String(), URI: req.Recipient.String(), Username: user, Password: password, Count: 1})
	if err != nil {
		p.T.Fatal(err)
	}
	again := req.Clone()
	again.Via().Params.Add("branch", sip.GenerateBranch())
	again.CSeq().SeqNo++
	again.AppendHeader(sip.NewHeader(answer, cred.String()))
	return p.Do(again)
}
