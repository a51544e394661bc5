package live

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// TestTLSServesHTTPSAndSecureCTI: with a certificate the HTTP address
// speaks only HTTPS, and CTI logins go over wss://.
func TestTLSServesHTTPSAndSecureCTI(t *testing.T) {
	cfg := testConfig(t, "sip-center.yaml")
	cfg.TLSCert, cfg.TLSKey = cctest.SelfSigned(t)
	cfg.SIPTLSAddr, cfg.SIPWSSAddr = "127.0.0.1:0", "127.0.0.1:0"
	c := mustOpen(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.Addrs().HTTP+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("https /healthz: %s, tls %v", resp.Status, resp.TLS != nil)
	}
	plain, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addrs().HTTP+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered on the TLS address")
		}
	}

	ws, _, err := websocket.Dial(ctx, "wss://"+c.Addrs().HTTP+"/cti", &websocket.DialOptions{
		HTTPClient: client, Subprotocols: []string{cti.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	login, _ := json.Marshal(cti.Request{Request: cti.RequestAgentLogin, Ref: 1, AgentID: "agent-01", Password: "secret"})
	if err := ws.Write(ctx, websocket.MessageText, login); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m cti.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Ref == 1 {
			if m.Event != cti.EventACK {
				t.Fatalf("login over wss: %s %s", m.Event, m.Error)
			}
			return
		}
	}
}
