package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/peer"
)

// startServer serves r's REGISTER handler on a UDP port of 127.0.0.1 and
// returns its address. The server stops when the test ends.
func startServer(t *testing.T, r *Registrar) string {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("ccswitch-registrar-test"))
	if err != nil {
		t.Fatal(err)
	}
	// sipgo warns of the BYE SIPp sends after a failed scenario.
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(r.HandleRegister)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		ua.Close()
		conn.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("ServeUDP did not return after Close")
		}
	})
	return conn.LocalAddr().String()
}

// runSIPp runs sipp with args in a temporary directory (where it writes
// its logs) and returns its exit code and output.
func runSIPp(t *testing.T, args ...string) (int, string) {
	t.Helper()
	sipp := peer.Require(t, "sipp")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("sipp %s: %v\n%s", strings.Join(args, " "), err, out)
	return -1, ""
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSIPpRegister registers agent1 with SIPp's digest implementation.
func TestSIPpRegister(t *testing.T) {
	peer.Require(t, "sipp")
	tests := []struct {
		name     string
		password string
		wantOK   bool
	}{
		{"right password", "secret", true},
		{"wrong password", "wrong", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := &changeLog{}
			r := New(Config{
				Realm:       testRealm,
				Credentials: NewStaticCredentials(testRealm, testPasswords),
				OnChange:    changes.OnChange,
			})
			addr := startServer(t, r)
			port := cctest.FreeUDPPort(t)
			contact := fmt.Sprintf("127.0.0.1:%d", port)
			code, out := runSIPp(t,
				"-sf", testdata(t, "sipp-register-auth.xml"),
				"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1",
				"-au", "agent1", "-ap", tt.password,
				"-key", "user", "agent1", "-key", "contact_hostport", contact, "-key", "expires", "3600",
				"-nostdin", "-timeout", "20s", addr)
			got := r.Lookup("agent1")
			if !tt.wantOK {
				if code == 0 || !strings.Contains(out, "received 'SIP/2.0 403 Forbidden") {
					t.Errorf("sipp exit code %d, want a failure on 403\n%s", code, out)
				}
				if got != nil || len(changes.take()) != 0 {
					t.Errorf("a failed registration left bindings: %v", got)
				}
				return
			}
			if code != 0 {
				t.Fatalf("sipp exit code %d\n%s", code, out)
			}
			if len(got) != 1 {
				t.Fatalf("Lookup(agent1) = %v, want one contact", got)
			}
			c := got[0]
			if want := "sip:agent1@" + contact + ";transport=UDP"; c.URI.String() != want {
				t.Errorf("contact %s, want %s", c.URI.String(), want)
			}
			if c.Source != contact || c.Transport != "UDP" || c.UserAgent != "SIPp register" || c.CSeq != 2 {
				t.Errorf("contact %+v", c)
			}
			if d := time.Until(c.Expires); d < 59*time.Minute || d > time.Hour {
				t.Errorf("expires in %v, want an hour", d)
			}
			if calls := changes.take(); len(calls) != 1 || calls[0].user != "agent1" {
				t.Errorf("OnChange = %+v", calls)
			}
		})
	}
}

// TestSIPpRegisterMany registers 50 users at once from one SIPp process,
// each from an -inf CSV line.
func TestSIPpRegisterMany(t *testing.T) {
	peer.Require(t, "sipp")
	const n = 50
	passwords := map[string]string{}
	var csv strings.Builder
	csv.WriteString("SEQUENTIAL\n")
	for i := range n {
		user, password := fmt.Sprintf("agent%02d", i+1), fmt.Sprintf("pw-%d", i*7919)
		passwords[user] = password
		fmt.Fprintf(&csv, "%s;[authentication username=%s password=%s];\n", user, user, password)
	}
	users := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(users, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Realm: testRealm, Credentials: NewStaticCredentials(testRealm, passwords)})
	addr := startServer(t, r)
	port := cctest.FreeUDPPort(t)
	code, out := runSIPp(t,
		"-sf", testdata(t, "sipp-register-inf.xml"), "-inf", users,
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-r", "50", "-m", strconv.Itoa(n),
		"-key", "expires", "3600", "-nostdin", "-timeout", "30s", addr)
	if code != 0 {
		t.Fatalf("sipp exit code %d\n%s", code, out)
	}
	if got := r.Users(); len(got) != n {
		t.Fatalf("%d users bound, want %d: %v", len(got), n, got)
	}
	for user := range passwords {
		cs := r.Lookup(user)
		if len(cs) != 1 || cs[0].URI.User != user || cs[0].URI.Port != port {
			t.Errorf("Lookup(%s) = %v", user, cs)
		}
	}
}
