package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGarbageDatagramsKeepLogsSmall: 10,000 datagrams of garbage (12 MB:
// random bytes, broken requests and responses, requests without a
// transaction) at the SIP port. The switch keeps answering, and its log
// stays small: each kind of complaint is logged a bounded number of
// times, without the payload. Before, 9,720 such datagrams produced 46 MB
// of error lines carrying them.
func TestGarbageDatagramsKeepLogsSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startProcessServe(t, ctx, nil, "--config", abs(t, "../../examples/sip-center.yaml"), "--log-level", "info")
	start := srv.logBytes.Load()
	conn, err := net.Dial("udp", srv.sip)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	random := make([]byte, 1300)
	sent := 0
	for i := range 10_000 {
		var p []byte
		switch i % 4 {
		case 0:
			_, _ = rand.Read(random)
			p = random
		case 1:
			p = []byte("INVITE sip:x SIP/2.0\r\n" + strings.Repeat("A", 1200))
		case 2:
			p = []byte("SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n" + strings.Repeat("B", 1200))
		default:
			p = []byte(fmt.Sprintf("REGISTER sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d\r\n"+
				"From: <sip:1001@x>;tag=1\r\nTo: <sip:1001@x>\r\nCall-ID: %d\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n", i, i, strings.Repeat("C", 1100)))
		}
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		sent += len(p)
	}
	// The switch still answers: an OPTIONS after the flood gets its 200.
	if !optionsAnswered(t, ctx, conn) {
		t.Fatal("no answer to OPTIONS after the flood")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-srv.exited; err != nil {
		t.Fatalf("serve: %v", err)
	}
	logged := srv.logBytes.Load() - start
	t.Logf("%d datagrams, %d bytes sent; %d bytes logged", 10_000, sent, logged)
	if logged > 256<<10 {
		t.Fatalf("%d bytes of log for %d bytes of garbage", logged, sent)
	}
}

// optionsAnswered sends OPTIONS pings on conn until one is answered 200,
// or ctx ends (a datagram may be dropped under the flood).
func optionsAnswered(t *testing.T, ctx context.Context, conn net.Conn) bool {
	t.Helper()
	local := conn.LocalAddr().String()
	buf := make([]byte, 65536)
	for i := 0; ctx.Err() == nil; i++ {
		req := fmt.Sprintf("OPTIONS sip:ccswitch@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKping%d;rport\r\n"+
			"From: <sip:probe@%s>;tag=p\r\nTo: <sip:ccswitch@%s>\r\nCall-ID: ping-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			conn.RemoteAddr(), local, i, local, conn.RemoteAddr(), i)
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break // no answer in time: ping again
			}
			if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") && strings.Contains(string(buf[:n]), "OPTIONS") {
				return true
			}
		}
	}
	return false
}
