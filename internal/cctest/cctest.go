// Package cctest holds the test helpers that several packages share: a
// free loopback port, checks of the domain's error kinds, and a recorder
// of events that a test waits on with a deadline. Tests only: no package
// of the product imports it.
package cctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	pbx "github.com/ccswitch/ccswitch/switch"
)

// FreeUDPPort returns a UDP port of 127.0.0.1 that was free a moment ago
// (for a peer the test starts, which must be told its port).
func FreeUDPPort(tb testing.TB) int {
	tb.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// MustOK fails the test when err is not nil; what says what failed.
func MustOK(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// WantKind fails the test unless err is a domain error of kind k (see
// pbx.KindOf; a CTI EventError carries its kind too).
func WantKind(tb testing.TB, err error, k pbx.Kind, what string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: no error, want kind %v", what, k)
	}
	if got := pbx.KindOf(err); got != k {
		tb.Fatalf("%s: error %q has kind %v, want %v", what, err, got, k)
	}
}

// Recorder keeps events that arrive on any goroutine, and lets a test
// wait until they satisfy a condition. The zero value is not ready: use
// NewRecorder.
type Recorder[E any] struct {
	mu      sync.Mutex
	events  []E
	changed chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder[E any]() *Recorder[E] {
	return &Recorder[E]{changed: make(chan struct{}, 1)}
}

// Record appends e; it never blocks.
func (r *Recorder[E]) Record(e E) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Events returns a copy of the events so far.
func (r *Recorder[E]) Events() []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]E(nil), r.events...)
}

// WaitFor waits until cond holds over the events so far, checking again
// at each new event, and fails the test after d.
func (r *Recorder[E]) WaitFor(tb testing.TB, what string, d time.Duration, cond func([]E) bool) {
	tb.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.events)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// FreeSIPPort returns a port of 127.0.0.1 that was free a moment ago for
// UDP and TCP, with the next port free for TCP too: a SIP user agent such
// as baresip listens on all three (TLS on the port after).
func FreeSIPPort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		var held []net.Listener
		ok := port < 65535
		for p := port; ok && p <= port+1; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if ok = err == nil; ok {
				held = append(held, ln)
			}
		}
		for _, ln := range held {
			_ = ln.Close()
		}
		_ = udp.Close()
		if ok {
			return port
		}
	}
	tb.Fatal("cctest: no port free for UDP and TCP with its successor after 50 tries")
	return 0
}

// SelfSigned writes a certificate for 127.0.0.1, valid for an hour, and
// its key (PEM files in a temporary folder of the test).
func SelfSigned(tb testing.TB) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ccswitch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}
