package live

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/internal/peer"
)

// scenarioXML is what the tests read of a SIPp scenario.
type scenarioXML struct {
	Name  string `xml:"name,attr"`
	Items []struct {
		XMLName   xml.Name
		ID        string `xml:"id,attr"`
		Next      string `xml:"next,attr"`
		OnTimeout string `xml:"ontimeout,attr"`
		Timeout   string `xml:"timeout,attr"`
		Text      string `xml:",chardata"`
	} `xml:",any"`
}

func parseScenario(t *testing.T, data []byte) scenarioXML {
	t.Helper()
	var s scenarioXML
	dec := xml.NewDecoder(bytes.NewReader(data))
	// The scenario is ASCII, declared ISO-8859-1 as SIPp's own are.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("the scenario is not XML: %v\n%s", err, data)
	}
	labels := map[string]bool{}
	for _, it := range s.Items {
		if it.XMLName.Local == "label" {
			labels[it.ID] = true
		}
	}
	for _, it := range s.Items {
		for _, l := range []string{it.Next, it.OnTimeout} {
			if l != "" && !labels[l] {
				t.Errorf("<%s> jumps to label %q, which the scenario lacks", it.XMLName.Local, l)
			}
		}
	}
	return s
}

func TestSIPpScenarioHangsUpAtTheScriptsTime(t *testing.T) {
	deadline := time.Date(2026, 12, 2, 12, 0, 5, 250_000_000, time.UTC)
	sc := sippScenario{Call: "c1", From: "+15551234", To: "5000", CallID: "replay-c1-abc", Branch: "z9hG4bK-x",
		Hangup: true, Deadline: deadline, Poll: pollMillis}
	data, err := sc.render()
	if err != nil {
		t.Fatal(err)
	}
	s := parseScenario(t, data)
	if s.Name != "replay call c1" {
		t.Errorf("scenario name %q", s.Name)
	}
	invite := s.Items[0].Text
	for _, want := range []string{"INVITE sip:5000@[remote_ip]:[remote_port] SIP/2.0", "From: <sip:+15551234@",
		"Call-ID: replay-c1-abc", "m=audio [media_port] RTP/AVP 0", "a=rtpmap:0 PCMU/8000"} {
		if !strings.Contains(invite, want) {
			t.Errorf("the INVITE lacks %q:\n%s", want, invite)
		}
	}
	text := string(data)
	for _, want := range []string{
		fmt.Sprintf(`<assign assign_to="left" value="%d"/>`, deadline.Unix()),
		`<add assign_to="left" value="250000"/>`,
		`<nop test="due" next="cancel">`, `<nop test="due" next="bye">`,
		"CANCEL sip:5000@", "BYE sip:5000@",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scenario lacks %q", want)
		}
	}
	waits := 0
	for _, it := range s.Items {
		if it.XMLName.Local == "recv" && it.OnTimeout != "" {
			waits++
			if it.Timeout != strconv.Itoa(pollMillis) {
				t.Errorf("a wait polls every %s ms, want %d", it.Timeout, pollMillis)
			}
		}
	}
	if waits != 7 {
		t.Errorf("%d receives look at the clock, want 7 (5 before the answer, 2 after)", waits)
	}
}

func TestSIPpScenarioWithoutHangupWaitsForTheSwitch(t *testing.T) {
	sc := sippScenario{Call: "c2", From: "anonymous", To: "7000", CallID: "replay-c2-abc", Branch: "z9hG4bK-y", Poll: pollMillis}
	data, err := sc.render()
	if err != nil {
		t.Fatal(err)
	}
	s := parseScenario(t, data)
	for _, it := range s.Items {
		if it.OnTimeout != "" || it.Timeout != "" {
			t.Errorf("<%s> has a timeout without a hangup in the script", it.XMLName.Local)
		}
	}
	if strings.Contains(string(data), "gettimeofday") {
		t.Error("the scenario looks at the clock without a hangup")
	}
}

// fakeSwitch is a UDP SIP UAS a SIPp caller calls in the tests below.
type fakeSwitch struct {
	t    *testing.T
	conn net.PacketConn
}

type received struct {
	at  time.Time
	req *sip.Request
	res *sip.Response
}

func newFakeSwitch(t *testing.T) *fakeSwitch {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &fakeSwitch{t: t, conn: conn}
}

// next is the next message, within d.
func (f *fakeSwitch) next(d time.Duration) (received, net.Addr) {
	f.t.Helper()
	buf := make([]byte, 65535)
	_ = f.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := f.conn.ReadFrom(buf)
	if err != nil {
		f.t.Fatalf("the fake switch received nothing: %v", err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		f.t.Fatalf("the fake switch: %v\n%s", err, buf[:n])
	}
	r := received{at: time.Now()}
	switch m := m.(type) {
	case *sip.Request:
		r.req = m
	case *sip.Response:
		r.res = m
	}
	return r, from
}

// expect is the next request, which must be method (retransmissions of
// earlier requests are skipped).
func (f *fakeSwitch) expect(method sip.RequestMethod, d time.Duration) (received, net.Addr) {
	f.t.Helper()
	end := time.Now().Add(d)
	for {
		r, from := f.next(time.Until(end))
		if r.req != nil && r.req.Method == method {
			return r, from
		}
		if r.req != nil && r.req.Method != sip.INVITE {
			f.t.Fatalf("the fake switch got %s, want %s", r.req.Method, method)
		}
	}
}

func (f *fakeSwitch) respond(req *sip.Request, to net.Addr, code int, reason string) {
	f.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 {
		res.To().Params.Add("tag", "fakeswitch")
	}
	if _, err := f.conn.WriteTo([]byte(res.String()), to); err != nil {
		f.t.Fatal(err)
	}
}

// runSIPp places one call of sc at f with SIPp, as the Center does.
func runSIPp(t *testing.T, f *fakeSwitch, sc sippScenario) (*sippCall, chan error) {
	t.Helper()
	bin := peer.Require(t, "sipp")
	dir := t.TempDir()
	base := filepath.Join(dir, "call")
	data, err := sc.render()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".xml", data, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freeUDPPort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Close() }()
	cmd := exec.Command(bin, sippArgs(sc, base, "127.0.0.1", port, 20*time.Second, f.conn.LocalAddr().String())...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sp := &sippCall{name: sc.Call, callID: sc.CallID, host: "127.0.0.1", port: port, fromUser: sc.From, cmd: cmd,
		stdout: base + ".out", errors: base + ".errors.log", done: make(chan struct{})}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(sp.done) }()
	t.Cleanup(func() {
		select {
		case <-sp.done:
		default:
			_ = cmd.Process.Kill()
			<-sp.done
		}
	})
	return sp, exited
}

// succeeded waits for SIPp's exit, which must be 0.
func succeeded(t *testing.T, sp *sippCall, exited chan error) {
	t.Helper()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("SIPp: %v\n%s", err, sp.lastLines(20))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("SIPp has not exited\n%s", sp.lastLines(20))
	}
}

func near(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -20*time.Millisecond || d > 150*time.Millisecond {
		t.Errorf("%s %v from the script's time, want within 150 ms after", what, d)
	}
}

func testScenario(name string) sippScenario {
	return sippScenario{Call: name, From: "+15551234", To: "5000", CallID: newSIPpCallID(name),
		Branch: "z9hG4bK-replay-" + randomHex(8), Poll: pollMillis}
}

func TestSIPpCallerByeAtTheScriptsTime(t *testing.T) {
	f := newFakeSwitch(t)
	sc := testScenario("c1")
	sc.Hangup, sc.Deadline = true, time.Now().Add(1500*time.Millisecond)
	sp, exited := runSIPp(t, f, sc)
	inv, from := f.expect(sip.INVITE, 5*time.Second)
	if got := inv.req.CallID().Value(); got != sc.CallID {
		t.Errorf("Call-ID %q, want %q", got, sc.CallID)
	}
	if got := inv.req.From().Address.User; got != "+15551234" {
		t.Errorf("From user %q", got)
	}
	if got := inv.req.Recipient.User; got != "5000" {
		t.Errorf("INVITE to %q", got)
	}
	f.respond(inv.req, from, 100, "Trying")
	f.respond(inv.req, from, 180, "Ringing")
	f.respond(inv.req, from, 200, "OK")
	f.expect(sip.ACK, 5*time.Second)
	bye, from := f.expect(sip.BYE, 5*time.Second)
	near(t, "BYE", bye.at, sc.Deadline)
	f.respond(bye.req, from, 200, "OK")
	succeeded(t, sp, exited)
}

func TestSIPpCallerCancelsBeforeTheAnswer(t *testing.T) {
	f := newFakeSwitch(t)
	sc := testScenario("c2")
	sc.Hangup, sc.Deadline = true, time.Now().Add(1500*time.Millisecond)
	sp, exited := runSIPp(t, f, sc)
	inv, from := f.expect(sip.INVITE, 5*time.Second)
	f.respond(inv.req, from, 100, "Trying")
	f.respond(inv.req, from, 180, "Ringing")
	cancel, from := f.expect(sip.CANCEL, 5*time.Second)
	near(t, "CANCEL", cancel.at, sc.Deadline)
	if got, want := cancel.req.Via().Params.GetOr("branch", ""), inv.req.Via().Params.GetOr("branch", ""); got != want {
		t.Errorf("the CANCEL's branch %q, the INVITE's %q", got, want)
	}
	f.respond(cancel.req, from, 200, "OK")
	f.respond(inv.req, from, 487, "Request Terminated")
	f.expect(sip.ACK, 5*time.Second)
	succeeded(t, sp, exited)
}

func TestSIPpCallerAnswersTheSwitchsBye(t *testing.T) {
	f := newFakeSwitch(t)
	sc := testScenario("c3")
	sp, exited := runSIPp(t, f, sc)
	inv, from := f.expect(sip.INVITE, 5*time.Second)
	f.respond(inv.req, from, 200, "OK")
	f.expect(sip.ACK, 5*time.Second)
	bye := "BYE sip:" + sc.From + "@" + from.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + f.conn.LocalAddr().String() + ";branch=z9hG4bK-fakebye\r\n" +
		"From: <sip:5000@" + f.conn.LocalAddr().String() + ">;tag=fakeswitch\r\n" +
		"To: " + inv.req.From().Value() + "\r\n" +
		"Call-ID: " + sc.CallID + "\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := f.conn.WriteTo([]byte(bye), from); err != nil {
		t.Fatal(err)
	}
	for {
		r, _ := f.next(5 * time.Second)
		if r.res != nil && r.res.CSeq().MethodName == sip.BYE {
			if r.res.StatusCode != 200 {
				t.Fatalf("SIPp answered the BYE %d", r.res.StatusCode)
			}
			break
		}
	}
	succeeded(t, sp, exited)
}

func TestSIPpCallerHangsUpWhenTheCenterCloses(t *testing.T) {
	f := newFakeSwitch(t)
	sc := testScenario("c4")
	sp, exited := runSIPp(t, f, sc)
	inv, from := f.expect(sip.INVITE, 5*time.Second)
	f.respond(inv.req, from, 200, "OK")
	f.expect(sip.ACK, 5*time.Second)
	if err := sp.askHangup(); err != nil {
		t.Fatal(err)
	}
	bye, from := f.expect(sip.BYE, 5*time.Second)
	f.respond(bye.req, from, 200, "OK")
	succeeded(t, sp, exited)
}
