package sipgw

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/memnet"
	"github.com/ccswitch/ccswitch/internal/siptest"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/switch/registrar"
)

// digitLog is a DigitHandler that records what it gets.
type digitLog struct {
	mu     sync.Mutex
	digits []string
}

func (l *digitLog) HandleDigit(id pbx.ConnID, d rune) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.digits = append(l.digits, fmt.Sprintf("%s:%c", id, d))
}

// got returns the digits recorded, without their connection IDs, and the
// IDs they came with.
func (l *digitLog) got() (string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ds strings.Builder
	var ids []string
	for _, s := range l.digits {
		id, d, _ := strings.Cut(s, ":")
		ds.WriteString(d)
		ids = append(ids, id)
	}
	return ds.String(), ids
}

// offerSDP offers the given formats ("0 101") with their rtpmaps from
// 127.0.0.1:port.
func offerSDP(port int, formats string, rtpmaps ...string) string {
	s := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %s\r\n", port, formats)
	for _, m := range rtpmaps {
		s += "a=" + m + "\r\n"
	}
	return s
}

// queuedCaller calls the route point from 127.0.0.1:7002 with sdp (RTP
// on 127.0.0.1:7102) and acknowledges the 200: with no agent, the caller
// waits in queue hearing the switch. It returns the phone, the INVITE, the
// 200, the caller's RTP socket and the switch's answer.
func queuedCaller(t *testing.T, h *tmHarness, sdp string) (*tmPhone, *sip.Request, *sip.Response, *memnet.Conn, media.SDP) {
	t.Helper()
	rtpConn, err := h.net.Listen("127.0.0.1:7102")
	if err != nil {
		t.Fatal(err)
	}
	caller := h.phone("127.0.0.1:7002")
	inv := caller.Request(sip.INVITE, "5000", 1, "dtmf-1")
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(sdp))
	caller.Send(inv)
	ok := caller.Expect("200", 5*time.Second).(*sip.Response)
	caller.Ack(inv, ok)
	answer, err := media.ParseSDP(ok.Body())
	if err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	return caller, inv, ok, rtpConn, answer
}

// rtpSender writes RTP packets from one socket to the switch's media
// address.
type rtpSender struct {
	t    *testing.T
	conn *memnet.Conn
	to   siptest.Addr
	seq  uint16
}

func newRTPSender(t *testing.T, conn *memnet.Conn, answer media.SDP) *rtpSender {
	return &rtpSender{t: t, conn: conn, to: siptest.Addr(fmt.Sprintf("%s:%d", answer.Address, answer.Port))}
}

func (s *rtpSender) raw(b []byte) {
	if _, err := s.conn.WriteTo(b, s.to); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rtpSender) packet(pt uint8, ts uint32, payload []byte) {
	s.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: ts, SSRC: 99}, Payload: payload}).Marshal()
	if err != nil {
		s.t.Fatal(err)
	}
	s.raw(b)
}

// press sends a key press as telephone-events on pt at timestamp ts: four
// updates 20 ms apart (virtual time), then the end three times.
func (s *rtpSender) press(pt uint8, ts uint32, key rune) {
	event, ok := media.DigitEvent(key)
	if !ok {
		s.t.Fatalf("no event for %q", key)
	}
	for i := range 4 {
		s.packet(pt, ts, media.TelephoneEvent{Event: event, Volume: 10, Duration: uint16(i * media.FrameSize)}.Append(nil))
		time.Sleep(media.Ptime) // virtual: paced as a phone sends
	}
	for range 3 {
		s.packet(pt, ts, media.TelephoneEvent{Event: event, End: true, Volume: 10, Duration: 4 * media.FrameSize}.Append(nil))
	}
}

// dtmfGrid is the DTMF keypad's frequencies.
var dtmfGrid = map[rune][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477},
}

// tone returns ms milliseconds of key's tone pair (each tone about -10
// dBm0) in codec, or silence for key 0.
func tone(codec media.Codec, key rune, ms int) []byte {
	f := dtmfGrid[key]
	out := make([]byte, ms*media.ClockRate/1000)
	for i := range out {
		v := 0.0
		if key != 0 {
			t := float64(i) / media.ClockRate
			v = 0.2 * (math.Sin(2*math.Pi*f[0]*t) + math.Sin(2*math.Pi*f[1]*t))
		}
		x := int16(v * 32767)
		if codec == media.PCMA {
			out[i] = media.EncodeALaw(x)
		} else {
			out[i] = media.EncodeULaw(x)
		}
	}
	return out
}

// audio sends audio in 20 ms packets, paced in virtual time.
func (s *rtpSender) audio(codec media.Codec, ts uint32, audio []byte) uint32 {
	for ; len(audio) > 0; ts += media.FrameSize {
		n := min(media.FrameSize, len(audio))
		s.packet(codec.PayloadType(), ts, audio[:n])
		audio = audio[n:]
		time.Sleep(media.Ptime)
	}
	return ts
}

// A queued caller that offered telephone-events gets them in the answer,
// and its "1" (updates and the redundant ends) reaches the hook once, with
// its interaction's ID; a second press is a second digit.
func TestDigitTelephoneEventWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &digitLog{}
		h := tmStartWith(t, time.Second, func(g *Gateway) { g.OnDigit(log) })
		defer h.stop()
		caller, inv, ok, rtpConn, answer := queuedCaller(t, h,
			offerSDP(7102, "0 101", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000", "fmtp:101 0-16"))
		if pt, has := media.NegotiateEvents(answer); !has || pt != 101 || !strings.Contains(string(ok.Body()), "a=fmtp:101 0-15") {
			t.Fatalf("answer without telephone-event 101:\n%s", ok.Body())
		}
		s := newRTPSender(t, rtpConn, answer)
		// The caller's audio carries a "9" tone: with events negotiated,
		// only events count.
		s.audio(media.PCMU, 0, tone(media.PCMU, '9', 100))
		s.press(101, 8000, '1')
		synctest.Wait()
		digits, ids := log.got()
		if digits != "1" {
			t.Fatalf("hook got %q, want \"1\" once", digits)
		}
		var queued string
		h.mu.Lock()
		for _, e := range h.events {
			if e.Type.String() == "EventQueued" {
				queued = e.ConnID.String()
			}
		}
		h.mu.Unlock()
		if ids[0] != queued {
			t.Errorf("digit came with %s, want the queued interaction %s", ids[0], queued)
		}
		s.press(101, 16000, '1')
		synctest.Wait()
		if digits, _ := log.got(); digits != "11" {
			t.Errorf("after a second press the hook has %q, want \"11\"", digits)
		}
		caller.HangUp(inv, ok)
		synctest.Wait()
	})
}

// A caller without telephone-events gets in-band detection on its PCMU or
// PCMA audio.
func TestDigitInBandWhileQueued(t *testing.T) {
	for _, codec := range []media.Codec{media.PCMU, media.PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &digitLog{}
				h := tmStartWith(t, time.Second, func(g *Gateway) { g.OnDigit(log) })
				defer h.stop()
				caller, inv, ok, rtpConn, answer := queuedCaller(t, h,
					offerSDP(7102, fmt.Sprint(codec.PayloadType()), fmt.Sprintf("rtpmap:%d %s/8000", codec.PayloadType(), codec)))
				if _, has := media.NegotiateEvents(answer); has || strings.Contains(string(ok.Body()), "telephone-event") {
					t.Fatalf("answer offers telephone-events the caller did not:\n%s", ok.Body())
				}
				if c, _ := media.Negotiate(answer, nil); c != codec {
					t.Fatalf("answered with %v, want %v", c, codec)
				}
				s := newRTPSender(t, rtpConn, answer)
				ts := s.audio(codec, 0, tone(codec, 0, 200))
				ts = s.audio(codec, ts, tone(codec, '1', 100))
				s.audio(codec, ts, tone(codec, 0, 200))
				synctest.Wait()
				if digits, _ := log.got(); digits != "1" {
					t.Fatalf("hook got %q, want \"1\" once", digits)
				}
				caller.HangUp(inv, ok)
				synctest.Wait()
			})
		})
	}
}

// Garbage on the caller's RTP port (not RTP, RTCP, unknown payload types,
// truncated events, key presses from another address) reports nothing,
// and the call goes on: an agent who then answers is bridged, and gets
// the caller's audio through the socket the digit reader gave back.
func TestDigitGarbageChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &digitLog{}
		h := tmStartWith(t, time.Second, func(g *Gateway) { g.OnDigit(log) })
		defer h.stop()
		caller, inv, ok, rtpConn, answer := queuedCaller(t, h,
			offerSDP(7102, "0 101", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000"))
		s := newRTPSender(t, rtpConn, answer)
		s.raw(nil)
		s.raw([]byte("not rtp at all"))
		s.raw([]byte{0x80, 200, 0, 6, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8})
		s.raw([]byte{0x40, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 10, 0, 0})
		s.packet(101, 5, []byte{1})
		s.packet(96, 5, []byte{1, 10, 0, 0})
		stranger, err := h.net.Listen("127.0.0.1:7200")
		if err != nil {
			t.Fatal(err)
		}
		newRTPSender(t, stranger, answer).press(101, 160, '1')
		newRTPSender(t, stranger, answer).audio(media.PCMU, 0, tone(media.PCMU, '1', 100))
		synctest.Wait()
		if digits, _ := log.got(); digits != "" {
			t.Fatalf("hook got %q from garbage", digits)
		}
		// An agent comes: the call is offered, answered and bridged.
		agent := h.phone("127.0.0.1:7001")
		agentRTP, err := h.net.Listen("127.0.0.1:7104")
		if err != nil {
			t.Fatal(err)
		}
		agent.Register()
		offered := agent.Expect("INVITE", 5*time.Second).(*sip.Request)
		if strings.Contains(string(offered.Body()), "telephone-event") {
			t.Errorf("the agent's leg was offered telephone-events:\n%s", offered.Body())
		}
		res := sip.NewSDPResponseFromRequest(offered, []byte(sdpAt(7104, media.SendRecv)))
		res.To().Params.Add("tag", "agent-tag")
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 7001}})
		agent.Send(res)
		agent.Expect("ACK", 5*time.Second)
		synctest.Wait()
		s.audio(media.PCMU, 100000, tone(media.PCMU, 0, 100))
		deadline := time.Now().Add(time.Second)
		buf := make([]byte, 1500)
		for relayed := false; !relayed; {
			_ = agentRTP.SetReadDeadline(deadline)
			n, _, err := agentRTP.ReadFrom(buf)
			if err != nil {
				t.Fatalf("the agent got no audio from the caller after the bridge: %v", err)
			}
			var p rtp.Packet
			relayed = p.Unmarshal(buf[:n]) == nil && bytes.Equal(p.Payload, tone(media.PCMU, 0, 20))
		}
		caller.HangUp(inv, ok)
		bye := agent.Expect("BYE", 5*time.Second).(*sip.Request)
		agent.Respond(bye, 200, "OK")
		synctest.Wait()
	})
}

// Without a handler no RTP is read for digits: a caller's events are
// ignored, and the answer still carries telephone-events.
func TestNoDigitHandlerReadsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := tmStart(t, time.Second)
		defer h.stop()
		caller, inv, ok, _, answer := queuedCaller(t, h,
			offerSDP(7102, "8 101", "rtpmap:8 PCMA/8000", "rtpmap:101 telephone-event/8000"))
		if pt, has := media.NegotiateEvents(answer); !has || pt != 101 {
			t.Fatalf("answer without telephone-events:\n%s", ok.Body())
		}
		h.gw.mu.Lock()
		var c *call
		for _, cl := range h.gw.calls {
			c = cl
		}
		h.gw.mu.Unlock()
		c.mu.Lock()
		events, pt, codec := c.events, c.eventPT, c.codec
		c.mu.Unlock()
		if !events || pt != 101 || codec != media.PCMA {
			t.Errorf("call: events %v on %d, codec %v; want 101, PCMA", events, pt, codec)
		}
		caller.HangUp(inv, ok)
		synctest.Wait()
	})
}

// The caller of a queue with a callback digit hears, after its position
// and wait, "press one to be called back, keeping your place"; the caller
// of a queue without one does not.
func TestCallbackOfferPrompt(t *testing.T) {
	var offer []byte
	for _, p := range media.CallbackOffer('1') {
		for i := range p.Frames() {
			offer = append(offer, p.Frame(i)...)
		}
	}
	for _, tt := range []struct {
		name   string
		digits map[string]rune
		want   bool
	}{
		{"queue with callback digit 1", map[string]rune{"support": '1'}, true},
		{"no callback digit", nil, false},
		{"another queue's digit", map[string]rune{"billing": '1'}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := tmStart(t, time.Second, func(c *Config) { c.CallbackDigits = tt.digits })
				defer h.stop()
				caller, inv, ok, rtpConn, _ := queuedCaller(t, h, offerSDP(7102, "0", "rtpmap:0 PCMU/8000"))
				var heard []byte
				buf := make([]byte, 1500)
				deadline := time.Now().Add(20 * time.Second) // greeting, position, wait, offer: about 15 s
				for time.Now().Before(deadline) {
					_ = rtpConn.SetReadDeadline(deadline)
					n, _, err := rtpConn.ReadFrom(buf)
					if err != nil {
						break
					}
					var p rtp.Packet
					if p.Unmarshal(buf[:n]) == nil {
						heard = append(heard, p.Payload...)
					}
				}
				if got := bytes.Contains(heard, offer); got != tt.want {
					t.Errorf("caller heard the callback offer: %v, want %v (%d bytes heard)", got, tt.want, len(heard))
				}
				caller.HangUp(inv, ok)
				synctest.Wait()
			})
		})
	}
}

func TestCallbackDigitsChecked(t *testing.T) {
	reg := registrar.New(registrar.Config{Realm: "ccswitch", Credentials: registrar.StaticCredentials{}})
	for _, bad := range []rune{'*', '#', 'A', 'x', 0} {
		g, err := New(Config{Loop: clock.NewLoop(), Registrar: reg, CallbackDigits: map[string]rune{"support": '1', "billing": bad}})
		if g != nil || err == nil || !strings.Contains(err.Error(), `"billing"`) || !strings.Contains(err.Error(), "0-9") {
			t.Errorf("digit %q: error %v, want one naming the queue and 0-9", bad, err)
		}
	}
	if _, err := New(Config{Loop: clock.NewLoop(), Registrar: reg, CallbackDigits: map[string]rune{"support": '1', "billing": '0'}}); err != nil {
		t.Errorf("good digits refused: %v", err)
	}
}

// The RTP watchdog still works with the digit reader: a queued caller
// presses 1 (read by the gateway), an agent then answers and the relay
// takes the socket; when the caller goes silent the watchdog, which reads
// the relay's stamps, ends the call within RTPTimeout and one check.
func TestRTPTimeoutAfterDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		log := &digitLog{}
		h := tmStartWith(t, 20*time.Second, func(g *Gateway) { g.OnDigit(log) }, func(c *Config) { c.RTPTimeout = timeout })
		defer h.stop()
		caller, _, _, rtpConn, answer := queuedCaller(t, h,
			offerSDP(7102, "0 101", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000"))
		s := newRTPSender(t, rtpConn, answer)
		s.press(101, 800, '1')
		synctest.Wait()
		if digits, _ := log.got(); digits != "1" {
			t.Fatalf("hook got %q, want \"1\"", digits)
		}
		agent := h.phone("127.0.0.1:7001")
		agentRTP, err := h.net.Listen("127.0.0.1:7104")
		if err != nil {
			t.Fatal(err)
		}
		agent.Register()
		offered := agent.Expect("INVITE", 5*time.Second).(*sip.Request)
		res := sip.NewSDPResponseFromRequest(offered, []byte(sdpAt(7104, media.SendRecv)))
		res.To().Params.Add("tag", "agent-tag")
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 7001}})
		agent.Send(res)
		agent.Expect("ACK", 5*time.Second)
		ctx, stopAgent := context.WithCancel(context.Background())
		defer stopAgent()
		agentTalking := rtpTalker(t, ctx, agentRTP, offered.Body())
		s.audio(media.PCMU, 16000, tone(media.PCMU, 0, 1000)) // a second of talk, then silence
		silentSince := time.Now()

		// The switch ends the agent's leg first, then the caller's.
		abye := agent.Expect("BYE", time.Minute).(*sip.Request)
		agent.Respond(abye, 200, "OK")
		t.Logf("call ended %v after the caller's last packet (timeout %v)", time.Since(silentSince), timeout)
		if d := time.Since(silentSince); d < timeout || d > timeout+watchInterval(timeout)+time.Second {
			t.Errorf("call ended %v after the caller's last packet, want within %v + one check", d, timeout)
		}
		bye := caller.Expect("BYE", 5*time.Second).(*sip.Request)
		caller.Respond(bye, 200, "OK")
		stopAgent()
		<-agentTalking
		synctest.Wait()
		if got := h.transcript(); !strings.Contains(got, "EventEstablished") || !strings.Contains(got, "EventReleased") {
			t.Errorf("transcript %q: want the call established, then released", got)
		}
		if digits, _ := log.got(); digits != "1" {
			t.Errorf("hook got %q in the end, want \"1\"", digits)
		}
	})
}
