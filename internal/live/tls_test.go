package live

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/tserver/cti"
)

// TestTLSServesHTTPSAndSecureCTI: with a certificate the HTTP address
// speaks only HTTPS, and CTI logins go over wss://.
func TestTLSServesHTTPSAndSecureCTI(t *testing.T) {
	cfg := testConfig(t, "sip-center.yaml")
	cfg.TLSCert, cfg.TLSKey = selfSigned(t)
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

// selfSigned writes a loopback certificate and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ccswitch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
