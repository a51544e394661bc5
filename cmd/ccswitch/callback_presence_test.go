package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/xmpptest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

const supToken = "supervisor-token-for-the-e2e-0123"

// presenceCenter writes examples/callback-center.yaml for a test: Alice's
// XMPP device is her account on srv, whose component the center connects
// to; she takes calls at any hour; chats are offered a callback after a
// second; a supervisor's token is in the environment.
func presenceCenter(t *testing.T, srv *xmpptest.Server) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/callback-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "xmpp.secret")
	if err := os.WriteFile(secret, []byte(srv.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range []struct{ old, new string }{
		{"{network: xmpp, address: alice@example.test}", "{network: xmpp, address: " + srv.JID("alice") + "}"},
		{"  callback_offer_after: 60s", "  callback_offer_after: 1s"},
		// Any time: the test runs at any hour.
		{`        hours: {zone: America/New_York, windows: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "21:00"}]}
`, ""},
		{"im:\n", fmt.Sprintf("im:\n  networks:\n    xmpp: [{component: %q, domain: %s, secret_file: %s}]\n", srv.ComponentAddr, srv.ComponentDomain, secret)},
		{"users:\n", "users:\n  - {name: sup, roles: [supervisor], token_env: CCSWITCH_SUP_TOKEN}\n"},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("examples/callback-center.yaml has no %q", r.old)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	path := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCSWITCH_SUP_TOKEN", supToken)
	return path
}

// startSoftphone starts baresip as the customer's softphone: registered
// as user (password), publishing its presence (the presence module), and
// answering calls itself. It returns baresip's ctrl_tcp address and its
// output.
func startSoftphone(t *testing.T, ctx context.Context, sipAddr, user, password string) (string, *syncBuffer) {
	t.Helper()
	return runBaresip(t, ctx, baresipPhone{registrar: sipAddr, user: user, password: password, audio: "customer",
		rtpPorts: "10200-10300", modules: []string{"presence.so"}})
}

// TestCallbackFollowsPresence: Alice has two devices, a slixmpp client on
// Prosody and a baresip softphone that registers and publishes PIDF. A
// supervisor watching her over CTI sees each change of her combined
// status. She asks for a callback in a chat; when an agent's phone comes,
// the agent is rung and the dialer calls her softphone (she is online).
// Then the softphone goes (unregistered) and her XMPP client says away: a
// callback for her now goes through the trunk to her mobile, the medium
// her preferences give for away.
func TestCallbackFollowsPresence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prosody := xmpptest.Prosody(t, xmpptest.Config{Users: map[string]string{"alice": "alicepw"}})
	t.Setenv("CCSWITCH_CRM_TOKEN", crmToken)
	port := cctest.FreeUDPPort(t)
	tr := &trunk{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), "trunk.log")}
	tr.cmd = sipp(t, ctx, "-sf", sippScenario(t, "trunk-answers.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-trace_logs", "-log_file", tr.log, "-m", "1")
	lc := startServe(t, []string{"serve", "--config", presenceCenter(t, prosody),
		"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "info",
		"--trunk", tr.addr, "--store", filepath.Join(t.TempDir(), "cb.db")})
	logEventsOnFailure(t, lc)
	if err := lc.m.center.WaitXMPP(ctx); err != nil {
		t.Fatal(err)
	}
	httpAddr := lc.m.center.Addrs().HTTP

	// The supervisor watches Alice.
	sup, err := cti.Dial(ctx, "ws://"+httpAddr+"/cti")
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	if _, err := sup.LoginToken(ctx, supToken); err != nil {
		t.Fatal(err)
	}
	ack, err := sup.Do(ctx, cti.Request{Request: cti.RequestMonitorCustomer, Customer: "C1001"})
	if err != nil || ack.Status != callback.Offline {
		t.Fatalf("monitor C1001: %+v %v; want offline", ack, err)
	}
	var seen []string
	status := func(want callback.Status, reach ...callback.Medium) {
		t.Helper()
		m, err := sup.Expect(ctx, func(m cti.Message) bool {
			if m.Event != cti.EventCustomerStatus {
				return false
			}
			seen = append(seen, fmt.Sprintf("%s%v", m.Status, m.Reachable))
			return m.Status == want && slices.Equal(m.Reachable, reach)
		})
		if err != nil {
			t.Fatalf("the supervisor never saw C1001 %s %v (saw %v): %v", want, reach, seen, err)
		}
		if m.Customer != "C1001" {
			t.Fatalf("status of %q", m.Customer)
		}
	}

	// Alice's XMPP client comes online and subscribes to the center.
	center := "support@" + prosody.ComponentDomain
	alice := xmpptest.StartCustomer(t, prosody, xmpptest.CustomerConfig{JID: prosody.JID("alice"), Password: "alicepw", Resource: "laptop"})
	alice.Subscribe(center)
	status(callback.Online, callback.XMPP)

	// Her softphone registers and publishes.
	ctrl, phone := startSoftphone(t, ctx, lc.sipAddr, "7001", "alice-phone")
	status(callback.Online, callback.SIP, callback.XMPP)

	// She asks for a callback in a chat (no agent yet).
	alice.Send(center, "hello, my router is broken")
	expectBody(t, ctx, alice, "Reply CALLBACK")
	// She would also like to know when chatting gets quick.
	alice.Send(center, "let me know when the wait is under 5 minutes")
	expectBody(t, ctx, alice, "I will tell you here when the wait is under 5 minutes")
	alice.Send(center, "callback")
	expectBody(t, ctx, alice, "Which phone number")
	alice.Send(center, "+15550001")
	expectBody(t, ctx, alice, "We will call you back")
	pending := callbacksIn(t, lc, "pending")
	if len(pending) != 1 || pending[0]["customer"] != "C1001" || pending[0]["origin"] != "im" {
		t.Fatalf("pending %v; want Alice's callback from the chat", pending)
	}
	first := pending[0]["id"].(string)

	// An agent's phone comes: the callback rings it, then Alice's softphone;
	// they talk until she hangs up.
	sippPhone(t, ctx, lc, "1001", "agent-waits-for-bye.xml")
	phone.waitFor(t, "the softphone answering the callback", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Call established")
	})
	// Her XMPP client was told first.
	expectBody(t, ctx, alice, "We are calling you now on your SIP phone.")
	baresipCommand(t, ctrl, "hangup", "") // Alice hangs up; the switch ends the agent's leg
	// Agent 1001 also takes chats: the chat queue's wait is over, her
	// alert from the chat says so on her IM network.
	expectBody(t, ctx, alice, "The wait in chat is now under 5 minutes.")
	lc.waitFor(t, "the first callback talked and ended", 20*time.Second, callbacksEnded(1))
	code, got := api(t, lc, "GET", "/api/callbacks/"+first, "")
	attempts, _ := got["attempts"].([]any)
	if code != http.StatusOK || got["state"] != "done" || len(attempts) != 1 {
		t.Fatalf("the first callback: %d %v; want done after one attempt", code, got)
	}
	if a := attempts[0].(map[string]any); a["medium"] != "sip" || a["target"] != "7001" || a["result"] != "answered" {
		t.Fatalf("the first callback's attempt %v; want her softphone 7001, answered", a)
	}

	// The softphone goes; her XMPP client says away.
	baresipCommand(t, ctrl, "quit", "")
	status(callback.Online, callback.XMPP)
	alice.Presence(xmpptest.Presence{Show: "away"})
	status(callback.Idle, callback.XMPP)

	code, made := api(t, lc, "POST", "/api/callbacks", `{"queue":"support","customer":"C1001"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %v", code, made)
	}
	waitPeer(t, tr.cmd, 20*time.Second, "the trunk taking the second callback")
	expectBody(t, ctx, alice, "We are calling you now on +15550001.") // away, but on IM
	if calls := tr.called(t); len(calls) != 1 || calls["+15550001"] != 1 {
		t.Fatalf("the trunk was called at %v; want her mobile +15550001 once", calls)
	}
	lc.waitFor(t, "the second callback talked and ended", 20*time.Second, callbacksEnded(2))
	code, got = api(t, lc, "GET", "/api/callbacks/"+made["id"].(string), "")
	attempts, _ = got["attempts"].([]any)
	if code != http.StatusOK || got["state"] != "done" || len(attempts) != 1 || attempts[0].(map[string]any)["medium"] != "phone" {
		t.Fatalf("the second callback: %d %v; want done by phone at once", code, got)
	}

	// "Tell me when the wait is under 5 minutes": agent 1001 is free, the
	// wait is nothing, she is told on her IM network, once.
	code, alert := api(t, lc, "POST", "/api/alerts", `{"customer":"C1001","kind":"wait_under","queue":"support","minutes":5}`)
	if code != http.StatusCreated {
		t.Fatalf("POST alert: %d %v", code, alert)
	}
	expectBody(t, ctx, alice, "The wait in support is now under 5 minutes.")
	code, list := api(t, lc, "GET", "/api/alerts", "")
	alerts, _ := list["alerts"].([]any)
	if code != http.StatusOK || len(alerts) != 2 {
		t.Fatalf("alerts %d %v; want her two (the chat's, the CRM's)", code, list)
	}
	for _, a := range alerts {
		if a := a.(map[string]any); a["customer"] != "C1001" || a["fired"] != 1.0 {
			t.Fatalf("alert %v; want hers, fired once", a)
		}
	}
}
