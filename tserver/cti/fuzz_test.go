package cti

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/clock"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// fuzzSeeds are request sequences, one frame a line, run by one
// connection against testCenter (a line "--" drops it and connects
// again) with interactions 1 (IM, ringing at a2),
// 2 (voice, queued) and 3 (voice, at route point 5000).
var fuzzSeeds = []string{
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"a1","password":"pw1"}
{"request":"RequestAgentReady","ref":2}
{"request":"RequestAnswerCall","ref":3,"conn_id":"2"}
{"request":"RequestHoldCall","ref":4,"conn_id":"2"}
{"request":"RequestRetrieveCall","ref":5,"conn_id":"2"}
{"request":"RequestSingleStepTransfer","ref":6,"conn_id":"2","target":"support"}
{"request":"RequestAgentLogout","ref":7}`,
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"a1","password":"pw1"}
{"request":"RequestAgentReady","ref":2}
--
{"request":"RequestQueryAgent","ref":3,"agent_id":"a1"}
{"request":"RequestAgentLogin","ref":4,"agent_id":"a1","password":"pw1"}
{"request":"RequestAnswerCall","ref":5,"conn_id":"2"}
--
{"request":"RequestQueryAgent","ref":6,"agent_id":"a1"}
{"request":"RequestQueryAgent","ref":7,"agent_id":"a1"}
{"request":"RequestQueryAgent","ref":8,"agent_id":"a1"}
{"request":"RequestQueryAgent","ref":9,"agent_id":"a1"}
{"request":"RequestQueryAgent","ref":10,"agent_id":"a1"}`,
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"a2"}
{"request":"RequestAnswerCall","ref":2,"conn_id":"1"}
{"request":"RequestChatMessage","ref":3,"conn_id":"1","text":"hello"}
{"request":"RequestChatTyping","ref":4,"conn_id":"1","state":"composing"}
{"request":"RequestAttachUserData","ref":5,"conn_id":"1","user_data":[{"key":"k","value":"v"}]}
{"request":"RequestReleaseCall","ref":6,"conn_id":"1"}
{"request":"RequestMakeCall","ref":7,"destination":"5550100","media":"voice"}`,
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"sup"}
{"request":"RequestRegisterAddress","ref":2,"dn":"*"}
{"request":"RequestChatJoin","ref":3,"conn_id":"1"}
{"request":"RequestChatLeave","ref":4,"conn_id":"1"}
{"request":"RequestUnregisterAddress","ref":5,"dn":"*"}`,
	`{"request":"RequestLogin","ref":1,"token":"router-token-0123456789abcdef"}
{"request":"RequestRegisterAddress","ref":1,"dn":"5000"}
{"request":"RequestAttachUserData","ref":2,"conn_id":"3","user_data":[{"key":"vip","value":"yes"}]}
{"request":"RequestRouteCall","ref":3,"conn_id":"3","target":"a2"}
{"request":"RequestQueryQueue","ref":4}
{"request":"RequestQueryCall","ref":5,"conn_id":"2"}
{"request":"RequestQueryAgent","ref":6,"agent_id":"a1"}`,
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"a2"}
{"request":"RequestRejectCall","ref":2,"conn_id":"1","reason":"no"}
{"request":"RequestAgentNotReady","ref":3,"reason":"break"}`,
	`{"request":"RequestAgentLogin","ref":1,"agent_id":"a2"}
{"request":"RequestMonitorCustomer","ref":2,"customer":"C1001"}
{"request":"RequestMonitorCustomer","ref":3,"customer":"C1002"}
{"request":"RequestMonitorCustomer","ref":4,"customer":"C1001"}
{"request":"RequestStopMonitorCustomer","ref":5,"customer":"C1001"}
{"request":"RequestMonitorCustomer","ref":6,"customer":"C9999"}
--
{"request":"RequestAgentLogin","ref":7,"agent_id":"a2"}
{"request":"RequestMonitorCustomer","ref":8,"customer":"C1001"}
{"request":"RequestCallback","ref":9,"queue":"support","customer":"C1001","mode":"customer_first"}
{"request":"RequestAgentLogout","ref":10}
{"request":"RequestStopMonitorCustomer","ref":11,"customer":"C1001"}`,
	`{"request":"RequestLogin","ref":1,"token":"router-token-0123456789abcdef"}
{"request":"RequestCallback","ref":2,"queue":"7000","number":"5550100","at":"2026-12-02T15:30:00+01:00"}
{"request":"RequestCallback","ref":3,"queue":"support","number":"5550100","customer":"C1001"}
{"request":"RequestCallback","ref":4,"queue":"nowhere","number":"5550100","at":"soon","mode":"x"}
{"request":"RequestMonitorCustomer","ref":5,"customer":"C1001"}`,
	`{`,
	`{"request":"RequestFly"}`,
	`{"request":"RequestAnswerCall","conn_id":"ffffffffffffffff"}`,
	`{"request":"RequestAnswerCall","conn_id":5,"ref":"x"}`,
	`[]`,
	``,
}

// FuzzRequest feeds request sequences to the decoder and dispatcher, with
// no network: every frame gets exactly one reply, queued after the events
// it caused, with the frame's ref; no reply is an internal error; every
// message encodes. Before each frame the customers' presence changes
// (EventCustomerStatus to whoever monitors them); when the connection
// finally drops, no customer watch is left.
func FuzzRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	center := mustCenter(f)
	pw := passwords(center)
	users := mustUsers(f, center)
	f.Fuzz(func(t *testing.T, data []byte) {
		clk := clock.NewVirtual(clock.Epoch)
		ts, err := tserver.New(center, tserver.Config{Clock: clk, DeferLogin: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		mustOK(t, ts.AgentLogin("a2", ""), "login a2")
		mustOK(t, ts.AgentReady("a2"), "ready a2")
		for _, a := range []tserver.Arrival{
			{Media: pbx.IM, DNIS: "chat"},
			{Media: pbx.Voice, DNIS: "support"},
			{Media: pbx.Voice, DNIS: "5000"},
		} {
			if _, err := ts.Arrive(&a); err != nil {
				t.Fatal(err)
			}
		}
		cust := newFakeCustomers(t)
		s, err := newServer(Config{
			TServer: ts, Clock: clk, Passwords: pw, Users: users, Chat: &fakeChat{}, Log: zerolog.Nop(), SendQueue: 1 << 14,
			Customers: cust, Callbacks: &fakeCallbacks{},
		})
		if err != nil {
			t.Fatal(err)
		}
		s.start()
		c := s.newConn(nil, "fuzz")
		frames := bytes.Split(data, []byte("\n"))
		if len(frames) > 64 {
			frames = frames[:64]
		}
		presence := []callback.Presence{
			{Status: callback.Idle, Reachable: []callback.Medium{callback.XMPP}},
			{Status: callback.Online, Reachable: []callback.Medium{callback.SIP}},
		}
		for i, frame := range frames {
			cust.emit("C1001", presence[i%2], false)
			cust.emit("C1002", presence[(i+1)%2], false)
			if string(frame) == "--" {
				// The connection drops; the client reconnects.
				s.detach(c)
				c = s.newConn(nil, "fuzz")
				continue
			}
			s.handleNow(c, frame)
			var msgs []any
		drain:
			for {
				select {
				case m := <-c.out:
					msgs = append(msgs, m)
				default:
					break drain
				}
			}
			if c.dead() {
				t.Fatalf("connection killed: %s", c.reason)
			}
			if len(msgs) == 0 {
				t.Fatalf("%q: no reply", frame)
			}
			for i, m := range msgs {
				if _, err := json.Marshal(m); err != nil {
					t.Fatalf("%q: message %d does not encode: %v", frame, i, err)
				}
				r, isReply := m.(*reply)
				last := i == len(msgs)-1
				if isReply != last {
					t.Fatalf("%q: message %d of %d is reply=%v", frame, i, len(msgs), isReply)
				}
				if !isReply {
					continue
				}
				if r.Kind == "internal" {
					t.Fatalf("%q: internal error: %s", frame, r.Error)
				}
				if req, err := decodeRequest(frame); err == nil && r.Ref != req.Ref {
					t.Fatalf("%q: reply ref %d, want %d", frame, r.Ref, req.Ref)
				}
			}
			// Time moves on: route and grace timers fire.
			clk.Advance(15 * time.Second)
		}
		s.detach(c)
		for _, customer := range []string{"C1001", "C1002"} {
			if n := cust.live(customer); n != 0 {
				t.Fatalf("%d watches of %s left after the connection dropped", n, customer)
			}
		}
	})
}

// A chat event written by the fast path is what encoding/json writes,
// byte for byte, HTML escaping included: chat text with markup in it
// travels as a JSON string that cannot open or close a tag where a page
// embeds the frame.
func FuzzChatEventJSON(f *testing.F) {
	f.Add("EventChatMessage", uint64(42), "customer", "Dora", "hello <b>&</b> \"q\" \x00 \xff", "", int64(1764406800123456789))
	f.Add("EventChatMessage", uint64(7), "customer", "Ann <i>", "<<b>img src=x onerror=alert(1)>", "", int64(1))
	f.Add("EventChatMessage", uint64(7), "agent", "", "</script><script>alert(1)</script>\u2028&amp;\b\f", "", int64(0))
	f.Add("EventChatTyping", uint64(0), "agent", "", "", "composing", int64(0))
	f.Fuzz(func(t *testing.T, typ string, id uint64, from, name, text, state string, ns int64) {
		e := &ChatEvent{Type: ChatEventType(typ), ConnID: pbx.ConnID(id), From: from, Name: name, Text: text, State: state}
		if ns != 0 {
			e.Time = time.Unix(0, ns).UTC()
		}
		if y := e.Time.Year(); y < 0 || y > 9999 {
			return // encoding/json refuses such times
		}
		fast := e.appendJSON(nil)
		std, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(fast, &a); err != nil {
			t.Fatalf("%s: %v", fast, err)
		}
		if err := json.Unmarshal(std, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("fast %s\nstd  %s", fast, std)
		}
		if !bytes.Equal(fast, std) {
			t.Fatalf("fast %s\nstd  %s: not the same bytes", fast, std)
		}
		if bytes.ContainsAny(fast, "<>&") {
			t.Fatalf("fast %s: not HTML-safe", fast)
		}
	})
}
