package sipgw

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/callback"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/peer"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// TestSIPpPublish: a real SIP stack (SIPp) registers as customer alice,
// PUBLISHes a PIDF document saying it is on the phone, and removes it,
// each with digest authentication; the gateway, on a real UDP socket,
// reports alice's contact available (registered), dnd (published), then
// available again (the publication removed, the phone still registered).
func TestSIPpPublish(t *testing.T) {
	sipp := peer.Require(t, "sipp")
	gw, reg, addr, reports := servePresence(t)

	// SIPp registers alice, then publishes from the same port: two runs,
	// since SIPp's digest uri is one for the whole run (-auth_uri).
	port := cctest.FreeUDPPort(t)
	contact := "127.0.0.1:" + strconv.Itoa(port)
	runSIPp(t, sipp, filepath.Join("..", "registrar", "testdata", "sipp-register-auth.xml"),
		"-p", strconv.Itoa(port), "-au", "alice", "-ap", "secret",
		"-key", "user", "alice", "-key", "contact_hostport", contact, "-key", "expires", "3600", addr)
	runSIPp(t, sipp, filepath.Join("testdata", "sipp-publish.xml"),
		"-p", strconv.Itoa(port), "-au", "alice", "-ap", "secret", "-auth_uri", "alice@"+addr,
		"-key", "user", "alice", addr)

	if got := reg.Lookup("alice"); len(got) != 1 || got[0].Source != contact {
		t.Errorf("alice's bindings %v, want SIPp's contact", got)
	}
	device := "sip:alice@127.0.0.1:" + strconv.Itoa(port)
	reports.WaitFor(t, "the registration, the publication and its removal", 10*time.Second,
		func(rs []PresenceReport) bool { return len(rs) >= 3 })
	rs := reports.Events()
	if len(rs) != 3 {
		t.Fatalf("reports %+v, want 3", rs)
	}
	registered, pub, removal := rs[0], rs[1], rs[2]
	if registered.User != "alice" || registered.Device != device || registered.Show != callback.Available ||
		registered.Expires.Sub(registered.At) < 3599*time.Second {
		t.Errorf("registration %+v, want alice's %s available for an hour", registered, device)
	}
	if pub.User != "alice" || pub.Device != device || pub.Show != callback.DoNotDisturb || pub.ETag == "" {
		t.Errorf("publication %+v, want alice's %s on the phone (dnd)", pub, device)
	}
	if d := pub.Expires.Sub(pub.At); d != 600*time.Second {
		t.Errorf("publication for %v, want 600 s", d)
	}
	// The publication removed, the phone is still registered: available
	// again, until its binding expires.
	if removal.User != "alice" || removal.Device != device || removal.Show != callback.Available ||
		!removal.Expires.Equal(registered.Expires) {
		t.Errorf("after the removal %+v, want available until %v", removal, registered.Expires)
	}
	if gw.Publications() != 0 {
		t.Errorf("%d publications left", gw.Publications())
	}
}

// servePresence serves a gateway on a real UDP socket of 127.0.0.1 whose
// registrar knows alice (password secret), recording its presence
// reports; it stops when the test ends.
func servePresence(t *testing.T) (*Gateway, *registrar.Registrar, string, *cctest.Recorder[PresenceReport]) {
	t.Helper()
	f, err := config.Parse("timers.yaml", []byte(timerCenter))
	if err != nil {
		t.Fatal(err)
	}
	loop := clock.NewLoop()
	reg := registrar.New(registrar.Config{
		Credentials: registrar.StaticCredentials{"alice": registrar.HA1("alice", registrar.DefaultRealm, "secret")},
	})
	gw, err := New(Config{Loop: loop, Registrar: reg, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tserver.New(f, tserver.Config{Clock: clock.NewReal(loop), Endpoints: gw, DeferLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	gw.Attach(ts)
	reports := cctest.NewRecorder[PresenceReport]()
	gw.OnPresence(PresenceHandlerFunc(reports.Record))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	loopDone, served := make(chan struct{}), make(chan error, 1)
	go func() { loop.Run(ctx); close(loopDone) }()
	go func() { served <- gw.Serve(ctx, Listeners{UDP: pc}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
		<-loopDone
	})
	return gw, reg, pc.LocalAddr().String(), reports
}

// runSIPp runs one call of scenario (a path relative to the package)
// from 127.0.0.1 with args, and fails the test unless it succeeds.
func runSIPp(t *testing.T, sipp, scenario string, args ...string) {
	t.Helper()
	sf, err := filepath.Abs(scenario)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args = append([]string{"-sf", sf, "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "20s"}, args...)
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = t.TempDir() // its logs
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp %s: %v\n%s", filepath.Base(scenario), err, out)
	}
}

// TestBaresipPublish: baresip, a softphone customers use, with its
// presence module registers as alice and PUBLISHes its PIDF; the gateway
// reports alice's device published open (available, with an entity tag),
// the same device as its registration.
func TestBaresipPublish(t *testing.T) {
	bin := peer.Require(t, "baresip")
	gw, reg, addr, reports := servePresence(t)
	dir := t.TempDir()
	sipPort := cctest.FreeSIPPort(t)
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:" + strconv.Itoa(sipPort),
		"sip_trans_def udp",
		"audio_player aubridge,x",
		"audio_source aubridge,x",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module aubridge.so",
		"module_app account.so",
		"module_app presence.so",
	}, "\n") + "\n"
	account := "<sip:alice@" + addr + ";transport=udp>;auth_user=alice;auth_pass=secret;regint=600;pubint=600\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-t", "30")
	cmd.Dir = dir
	out := &strings.Builder{}
	var outMu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { outMu.Lock(); defer outMu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			outMu.Lock()
			t.Logf("baresip output:\n%s", out.String())
			outMu.Unlock()
		}
	}()
	reports.WaitFor(t, "baresip's publication", 20*time.Second, func(rs []PresenceReport) bool {
		for _, r := range rs {
			if r.ETag != "" {
				return true
			}
		}
		return false
	})
	bindings := reg.Lookup("alice")
	if len(bindings) != 1 {
		t.Fatalf("alice's bindings %v, want baresip's", bindings)
	}
	// baresip's PUBLISH has no Contact: the gateway knows it by the
	// address it registered from, so its publication and its registration
	// are one device.
	device := deviceName(bindings[0].URI)
	for _, r := range reports.Events() {
		if r.User != "alice" || r.Device != device {
			t.Errorf("report %+v, want one of alice's %s", r, device)
		}
		if r.ETag != "" && r.Show != callback.Available {
			t.Errorf("baresip's publication %+v, want available (basic open)", r)
		}
	}
	if gw.Publications() != 1 {
		t.Errorf("%d publications, want baresip's one", gw.Publications())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
