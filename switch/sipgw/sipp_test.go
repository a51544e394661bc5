package sipgw

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/cctest"
	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/peer"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// sippPcap is where Debian's sip-tester installs SIPp's media captures.
const sippPcap = "/usr/share/sip-tester/dtmf_2833_1.pcap"

// TestSIPpPresses1WhileQueued: a real SIPp caller, waiting in the queue
// (no agent), plays SIPp's own RFC 4733 capture of a "1" (updates, then
// the end three times); the digit hook gets '1' exactly once, for the
// caller's interaction. The gateway runs on real UDP sockets.
func TestSIPpPresses1WhileQueued(t *testing.T) {
	sipp := peer.Require(t, "sipp")
	if _, err := os.Stat(sippPcap); err != nil {
		if os.Getenv(peer.EnvRequire) == "1" {
			t.Fatalf("SIPp's capture %s is required (%s=1): %v", sippPcap, peer.EnvRequire, err)
		}
		t.Skipf("SIPp's capture %s not found, skipping: %v", sippPcap, err)
	}
	quietSIP.Do(func() { sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil))) })

	f, err := config.Parse("timers.yaml", []byte(timerCenter))
	if err != nil {
		t.Fatal(err)
	}
	loop := clock.NewLoop()
	reg := registrar.New(registrar.Config{Realm: "ccswitch", Credentials: registrar.StaticCredentials{}})
	gw, err := New(Config{Loop: loop, Registrar: reg, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel), CallbackDigits: map[string]rune{"support": '1'}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tserver.New(f, tserver.Config{Clock: clock.NewReal(loop), Endpoints: gw, DeferLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	gw.Attach(ts)
	type pressed struct {
		id    pbx.ConnID
		digit rune
	}
	digits := make(chan pressed, 16)
	gw.OnDigit(DigitHandlerFunc(func(id pbx.ConnID, d rune) { digits <- pressed{id, d} }))
	var mu sync.Mutex
	var queued []pbx.ConnID
	ts.Subscribe(func(e tserver.Event) {
		if e.Type == tserver.EventQueued {
			mu.Lock()
			queued = append(queued, e.ConnID)
			mu.Unlock()
		}
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go loop.Run(ctx)
	go func() { served <- gw.Serve(ctx, Listeners{UDP: pc}) }()
	var stopOnce sync.Once
	stopGateway := func() {
		stopOnce.Do(func() {
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(15 * time.Second):
				t.Error("Serve did not return")
			}
		})
	}
	defer stopGateway()

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sippPcap, filepath.Join(dir, "pcap", filepath.Base(sippPcap))); err != nil {
		t.Fatal(err)
	}
	scenario, err := filepath.Abs(filepath.Join("testdata", "sipp-caller-presses-1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sippCtx, stopSIPp := context.WithTimeout(ctx, 30*time.Second)
	defer stopSIPp()
	cmd := exec.CommandContext(sippCtx, sipp, "-sf", scenario, "-s", "5000", "-m", "1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(cctest.FreeUDPPort(t)),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(cctest.FreeUDPPort(t)),
		"-nostdin", "-timeout", "20s", pc.LocalAddr().String())
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("sipp failed (exit %d):\n%s", exit.ExitCode(), out)
		}
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	t.Logf("SIPp call done in %v", time.Since(start).Round(time.Millisecond))

	var got []pressed
	select {
	case p := <-digits:
		got = append(got, p)
	case <-time.After(5 * time.Second):
		t.Fatalf("the hook got no digit within 5 s of SIPp's hang-up\nsipp:\n%s", out)
	}
	// Serve returns once the goroutines that hand digits to the hook
	// are done: what the channel holds then is all the hook got.
	stopGateway()
	for drained := false; !drained; {
		select {
		case p := <-digits:
			got = append(got, p)
		default:
			drained = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].digit != '1' {
		var s []string
		for _, p := range got {
			s = append(s, string(p.digit))
		}
		t.Fatalf("hook got %q, want \"1\" once\nsipp:\n%s", strings.Join(s, ""), out)
	}
	if len(queued) != 1 || got[0].id != queued[0] {
		t.Errorf("digit for %v, want the queued interaction %v", got[0].id, queued)
	}
}
