package live

// The script's voice callers placed by SIPp (--callers sipp): one SIPp
// process per {call, from, to}, running a UAC scenario written for that
// call. The scenario INVITEs the switch with the script's From user and
// To number and the Call-ID the replay chose (so the CTI events' user
// data sip_call_id names the call), ACKs the 200, and then:
//
//   - answers the switch's BYE (200) when the switch ends the call;
//   - when the script hangs the call up at T, sends BYE at T (or CANCEL
//     if no 200 has come by T). The deadline is the wall clock of the
//     script's start plus T, written into the scenario; SIPp compares it
//     with gettimeofday every pollMillis while it waits, so the hangup
//     leaves within about pollMillis of T;
//   - when the Center closes with the call still up (the script never
//     hangs it up), the Center sends the SIPp an in-dialog INFO (same
//     Call-ID), which the scenario answers and then hangs up (BYE, or
//     CANCEL before the answer), as the sipgo callers are hung up at
//     Close.
//
// No RTP is sent: the SDP offers PCMU sendrecv on SIPp's media port, as
// the sipgo callers do, so a switch with an RTP timeout (serve's
// --rtp-timeout, 60 s by default) ends a call connected to an agent
// longer than that.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// The values of Config.Callers.
const (
	CallersSIPgo = "sipgo"
	CallersSIPp  = "sipp"
)

// pollMillis is how often a SIPp scenario waiting for an answer or a BYE
// looks at the clock for its hangup deadline.
const pollMillis = 20

// sippCloseWait is how long Close waits for a SIPp to hang up its call
// and exit before it kills it.
const sippCloseWait = 5 * time.Second

// sippSide is the SIPp processes placing the script's calls.
type sippSide struct {
	bin   string // the sipp binary
	dir   string // the scenarios and logs, removed at Close
	calls map[string]*sippCall
	// closing: Close has begun, a SIPp ending now is no failure of the
	// script.
	closing atomic.Bool
}

// sippCall is one call's SIPp process.
type sippCall struct {
	name     string
	callID   string
	host     string // SIPp's SIP address
	port     int
	fromUser string
	cmd      *exec.Cmd
	stdout   string // SIPp's stdout and stderr
	errors   string // SIPp's -trace_err file
	done     chan struct{}
}

// sippUser is what a From user or To number must look like to be
// written into a scenario.
var sippUser = regexp.MustCompile(`^[A-Za-z0-9+*#._~-]+$`)

// openSIPp checks cfg.Callers and, for sipp, finds the binary and makes
// the Center's directory of scenarios.
func (c *Center) openSIPp() error {
	switch c.cfg.Callers {
	case "", CallersSIPgo:
		return nil
	case CallersSIPp:
	default:
		return fmt.Errorf("live: --callers %q: want sipgo or sipp", c.cfg.Callers)
	}
	if c.cfg.SIP == "" {
		return errors.New("live: --callers sipp needs the switch's SIP address (--sip)")
	}
	bin := c.cfg.SIPp
	if bin == "" {
		bin = "sipp"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("live: --callers sipp: %w", err)
	}
	dir, err := os.MkdirTemp("", "ccswitch-replay-sipp-")
	if err != nil {
		return fmt.Errorf("live: --callers sipp: %w", err)
	}
	c.sipp = &sippSide{bin: path, dir: dir, calls: map[string]*sippCall{}}
	return nil
}

// hangupAt is when the script hangs call a up (its first hangup at or
// after the call's start), and whether it does.
func hangupAt(s *replay.Script, a *replay.Action) (time.Duration, bool) {
	for _, h := range s.Actions {
		if h.Kind == replay.CallAction && h.Do == "hangup" && h.Call == a.Call && h.At >= a.At {
			return h.At, true
		}
	}
	return 0, false
}

// callSIPp places call a with a SIPp process.
func (c *Center) callSIPp(a *replay.Action) error {
	if c.sipp.calls[a.Call] != nil {
		return fmt.Errorf("call %s was placed already", a.Call)
	}
	from := a.From
	if from == "" {
		from = "anonymous"
	}
	if !sippUser.MatchString(from) {
		return fmt.Errorf("--callers sipp: call %s's from %q is not a plain SIP user (letters, digits, +*#._~-)", a.Call, from)
	}
	if !sippUser.MatchString(a.To) {
		return fmt.Errorf("--callers sipp: call %s's to %q is not a plain SIP user (letters, digits, +*#._~-)", a.Call, a.To)
	}
	port, err := freeUDPPort(c.host)
	if err != nil {
		return fmt.Errorf("call %s: a port for SIPp: %w", a.Call, err)
	}
	sc := sippScenario{Call: a.Call, From: from, To: a.To, CallID: newSIPpCallID(a.Call),
		Branch: "z9hG4bK-replay-" + randomHex(8), Poll: pollMillis}
	if at, ok := hangupAt(c.s, a); ok {
		sc.Hangup = true
		sc.Deadline = c.start.Add(at)
	}
	xml, err := sc.render()
	if err != nil {
		return fmt.Errorf("call %s: the SIPp scenario: %w", a.Call, err)
	}
	base := filepath.Join(c.sipp.dir, "call-"+strconv.Itoa(a.Index))
	if err := os.WriteFile(base+".xml", xml, 0o600); err != nil {
		return fmt.Errorf("call %s: %w", a.Call, err)
	}
	out, err := os.Create(base + ".out")
	if err != nil {
		return fmt.Errorf("call %s: %w", a.Call, err)
	}
	defer func() { _ = out.Close() }() // the child has its own copy
	// SIPp gives up (and fails) well after the script's end.
	timeout := c.s.End + c.cfg.Slack - a.At + 30*time.Second
	cmd := exec.Command(c.sipp.bin, sippArgs(sc, base, c.host, port, timeout, c.cfg.SIP)...)
	cmd.Dir = c.sipp.dir
	cmd.Stdout, cmd.Stderr = out, out
	c.mu.Lock()
	c.callIDs[sc.CallID] = a.Call
	c.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("call %s: starting SIPp: %w", a.Call, err)
	}
	sp := &sippCall{name: a.Call, callID: sc.CallID, host: c.host, port: port, fromUser: from, cmd: cmd,
		stdout: base + ".out", errors: base + ".errors.log", done: make(chan struct{})}
	c.sipp.calls[a.Call] = sp
	c.wg.Go(func() {
		err := cmd.Wait()
		close(sp.done)
		if err != nil && !c.sipp.closing.Load() {
			c.lateError(a, fmt.Errorf("call %s: SIPp %v; its last lines:\n%s", a.Call, err, sp.lastLines(12)))
		}
	})
	return nil
}

// hangupSIPp: the scenario of call a hangs up itself at the script's
// time; this only checks the call was placed.
func (c *Center) hangupSIPp(a *replay.Action) error {
	if c.sipp.calls[a.Call] == nil {
		return fmt.Errorf("call %s was never placed", a.Call)
	}
	return nil
}

// closeSIPp asks every SIPp still running to hang up (an INFO in its
// call), waits for each up to sippCloseWait, kills the ones left, and
// removes the scenarios and logs.
func (c *Center) closeSIPp() {
	if c.sipp == nil {
		return
	}
	c.sipp.closing.Store(true)
	deadline := time.NewTimer(sippCloseWait)
	defer deadline.Stop()
	for _, sp := range c.sipp.calls {
		select {
		case <-sp.done:
		default:
			_ = sp.askHangup()
		}
	}
	for _, sp := range c.sipp.calls {
		select {
		case <-sp.done:
			continue
		case <-deadline.C:
			deadline.Reset(0)
		}
		_ = sp.cmd.Process.Kill()
		<-sp.done
	}
	_ = os.RemoveAll(c.sipp.dir)
}

// askHangup sends SIPp the in-dialog INFO that makes its scenario hang
// up.
func (sp *sippCall) askHangup() error {
	conn, err := net.Dial("udp", net.JoinHostPort(sp.host, strconv.Itoa(sp.port)))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	local := conn.LocalAddr().String()
	msg := "INFO sip:" + sp.fromUser + "@" + net.JoinHostPort(sp.host, strconv.Itoa(sp.port)) + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-close-" + randomHex(8) + "\r\n" +
		"From: <sip:replay@" + local + ">;tag=" + randomHex(6) + "\r\n" +
		"To: <sip:" + sp.fromUser + "@" + net.JoinHostPort(sp.host, strconv.Itoa(sp.port)) + ">\r\n" +
		"Call-ID: " + sp.callID + "\r\n" +
		"CSeq: 1 INFO\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
	_, err = conn.Write([]byte(msg))
	return err
}

// lastLines is the end of SIPp's error log, or of its output when the
// error log is empty.
func (sp *sippCall) lastLines(n int) string {
	for _, p := range []string{sp.errors, sp.stdout} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(bytes.ReplaceAll(data, []byte("\r"), nil)), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		return strings.Join(lines[max(0, len(lines)-n):], "\n")
	}
	return "(SIPp wrote nothing)"
}

// sippArgs is SIPp's command line for scenario sc written at base.xml:
// one call from host:port to the switch at target, the Call-ID sc's,
// failing after timeout, its errors and messages logged next to the
// scenario.
func sippArgs(sc sippScenario, base, host string, port int, timeout time.Duration, target string) []string {
	return []string{"-sf", base + ".xml", "-m", "1", "-i", host, "-p", strconv.Itoa(port), "-mi", host,
		"-cid_str", sc.CallID, "-nostdin",
		"-timeout", strconv.Itoa(int(timeout.Seconds())+1) + "s", "-timeout_error",
		"-trace_err", "-error_file", base + ".errors.log",
		"-trace_msg", "-message_file", base + ".messages.log",
		target}
}

// freeUDPPort is a UDP port on host that is free now.
func freeUDPPort(host string) (int, error) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	return port, pc.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSIPpCallID is a Call-ID for call name: SIPp's -cid_str takes it as
// it is, so it holds no '%'.
func newSIPpCallID(name string) string {
	if !sippUser.MatchString(name) {
		name = "call"
	}
	return "replay-sipp-" + name + "-" + randomHex(6)
}

// sippScenario is the UAC scenario of one call.
type sippScenario struct {
	Call, From, To, CallID, Branch string
	// Hangup: the script hangs the call up at Deadline (wall clock).
	Hangup   bool
	Deadline time.Time
	Poll     int // milliseconds between looks at the clock
}

// DeadlineSec and DeadlineUsec are the deadline as gettimeofday gives
// it.
func (s sippScenario) DeadlineSec() int64  { return s.Deadline.Unix() }
func (s sippScenario) DeadlineUsec() int64 { return int64(s.Deadline.Nanosecond() / 1000) }

// Wait is the attributes of a receive that waits for the deadline: it
// looks at the clock (label) every Poll ms; none without a hangup.
func (s sippScenario) Wait(label string) string {
	if !s.Hangup {
		return ""
	}
	return fmt.Sprintf(` timeout="%d" ontimeout="%s"`, s.Poll, label)
}

func (s sippScenario) render() ([]byte, error) {
	var b bytes.Buffer
	if err := sippTemplate.Execute(&b, s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sippTemplate: the labels are wait (for the answer), talk (answered),
// tick_wait and tick_talk (the deadline checks), close_wait and
// close_talk (the Center's INFO), bye, cancel, late_answer (a 200 that
// crossed the CANCEL) and done.
var sippTemplate = template.Must(template.New("uac").Parse(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- ccswitch replay: call {{.Call}} from {{.From}} to {{.To}}{{if .Hangup}}, hung up at {{.Deadline.Format "15:04:05.000"}} ({{.DeadlineSec}}.{{printf "%06d" .DeadlineUsec}}){{end}}. -->
<scenario name="replay call {{.Call}}">
  <send retrans="500" start_txn="invite">
    <![CDATA[

      INVITE sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={{.Branch}}
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>
      Call-ID: {{.CallID}}
      CSeq: 1 INVITE
      Contact: <sip:{{.From}}@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: ccswitch-replay SIPp
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=replay 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendrecv

    ]]>
  </send>

  <label id="wait"/>
  <recv response="100" response_txn="invite" optional="true" next="wait"{{.Wait "tick_wait"}}/>
  <recv response="180" response_txn="invite" optional="true" next="wait"{{.Wait "tick_wait"}}/>
  <recv response="183" response_txn="invite" optional="true" next="wait"{{.Wait "tick_wait"}}/>
  <recv request="INFO" optional="true" next="close_wait"{{.Wait "tick_wait"}}/>
  <recv response="200" response_txn="invite"{{.Wait "tick_wait"}}/>
  <send ack_txn="invite">
    <![CDATA[

      ACK sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: {{.CallID}}
      CSeq: 1 ACK
      Contact: <sip:{{.From}}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <label id="talk"/>
  <recv request="INFO" optional="true" next="close_talk"{{.Wait "tick_talk"}}/>
  <recv request="BYE"{{.Wait "tick_talk"}}/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{{.From}}@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <nop next="done"/>
{{if .Hangup}}
  <label id="tick_wait"/>
  <nop test="due" next="cancel">
    <action>
{{template "due" .}}
    </action>
  </nop>
  <nop next="wait"/>

  <label id="tick_talk"/>
  <nop test="due" next="bye">
    <action>
{{template "due" .}}
    </action>
  </nop>
  <nop next="talk"/>
{{end}}
  <label id="close_wait"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <nop next="cancel"/>

  <label id="close_talk"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>

  <label id="bye"/>
  <send retrans="500">
    <![CDATA[

      BYE sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: {{.CallID}}
      CSeq: 2 BYE
      Contact: <sip:{{.From}}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <nop next="done"/>

  <label id="cancel"/>
  <send retrans="500" start_txn="cancel">
    <![CDATA[

      CANCEL sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={{.Branch}}
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>
      Call-ID: {{.CallID}}
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" response_txn="cancel" optional="true"/>
  <recv response="200" response_txn="invite" optional="true" rrs="true" next="late_answer"/>
  <recv response="487" response_txn="invite"/>
  <send ack_txn="invite">
    <![CDATA[

      ACK sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={{.Branch}}
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: {{.CallID}}
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop next="done"/>

  <label id="late_answer"/>
  <send ack_txn="invite">
    <![CDATA[

      ACK sip:{{.To}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{{.From}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{.To}}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: {{.CallID}}
      CSeq: 1 ACK
      Contact: <sip:{{.From}}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop next="bye"/>

  <label id="done"/>
</scenario>
{{define "due"}}      <gettimeofday assign_to="now_s,now_us"/>
      <assign assign_to="left" value="{{.DeadlineSec}}"/>
      <subtract assign_to="left" variable="now_s"/>
      <multiply assign_to="left" value="1000000"/>
      <add assign_to="left" value="{{.DeadlineUsec}}"/>
      <subtract assign_to="left" variable="now_us"/>
      <test assign_to="due" variable="left" compare="less_than_equal" value="0"/>{{end}}
`))
