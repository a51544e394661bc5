package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/ccswitch/ccswitch/internal/cctest"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envRunMain makes the test binary run main() with the arguments after
// "--" (TestMain), so that a test can watch the real program's exit
// status and stderr.
const envRunMain = "CCSWITCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"ccswitch"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	// The parallel tests here are the replays on the wall clock: they
	// wait rather than compute, so they all run at once unless -parallel
	// says otherwise.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "16")
	}
	os.Exit(m.Run())
}

// runProcess runs `ccswitch args...` as a child process and returns its
// exit status, its stderr and how long it took; a child still running
// after limit is killed and fails the test.
func runProcess(t *testing.T, limit time.Duration, args ...string) (int, string, time.Duration) {
	t.Helper()
	status, _, stderr, took := runProcessOutput(t, limit, args...)
	return status, stderr, took
}

// runProcessOutput is runProcess that also returns the child's stdout.
func runProcessOutput(t *testing.T, limit time.Duration, args ...string) (status int, stdout, stderr string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("ccswitch %s still running after %v (killed); stderr:\n%s", strings.Join(args, " "), limit, errOut.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String(), took
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errOut.String(), took
	}
	t.Fatalf("ccswitch %s: %v", strings.Join(args, " "), err)
	return 0, "", "", 0
}

// TestServeStartFailuresExit: serve that cannot start exits at once with
// one message naming the cause and the address or file: status 1 for
// what the machine refuses (a port in use, TLS files that cannot be read,
// a store that cannot be opened), 2 for a bad center file. Before, a
// taken port or a bad certificate left it hanging for ever.
func TestServeStartFailuresExit(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := taken.Addr().String()
	dir := t.TempDir()
	cert, _ := cctest.SelfSigned(t)
	// Root may write into any folder, whatever its mode: a store "folder"
	// that is a regular file cannot be written by anyone.
	notADir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCenter := filepath.Join(dir, "bad-center.yaml")
	if err := os.WriteFile(badCenter, []byte("queues: [{name: support, media: fax}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hugeCenter := filepath.Join(dir, "huge-center.yaml")
	if err := os.WriteFile(hugeCenter, bytes.Repeat([]byte("# padding\n"), 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"serve", "--sip", "127.0.0.1:0", "--log-level", "error"}
	sipCenter, imCenter := abs(t, "../../examples/sip-center.yaml"), abs(t, "../../examples/im-center.yaml")
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		want   []string // in the last line of stderr
	}{
		{"http port taken", []string{"--config", sipCenter, "--http", takenAddr},
			1, []string{"http", takenAddr, "address already in use"}},
		{"missing TLS key", []string{"--config", sipCenter, "--http", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", filepath.Join(dir, "missing.key")},
			1, []string{"TLS", "missing.key", "no such file"}},
		{"TLS key of another certificate", []string{"--config", sipCenter, "--http", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", otherKey(t)},
			1, []string{"TLS", cert, "private key does not match"}},
		{"store in an unwritable folder", []string{"--config", imCenter, "--http", "127.0.0.1:0", "--store", filepath.Join(notADir, "ccswitch.db")},
			1, []string{"store", filepath.Join(notADir, "ccswitch.db")}},
		{"config error", []string{"--config", badCenter, "--http", "127.0.0.1:0"},
			2, []string{"bad-center.yaml:1", "queues[0].media"}},
		{"center file of 50 MB", []string{"--config", hugeCenter, "--http", "127.0.0.1:0"},
			2, []string{"huge-center.yaml", "larger than 2 MiB"}},
		{"plain HTTP beyond loopback", []string{"--config", sipCenter, "--http", "0.0.0.0:0"},
			2, []string{"0.0.0.0:0", "--insecure-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stderr, took := runProcess(t, 20*time.Second, append(base, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if status != tc.status {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, tc.status, stderr)
			}
			if !strings.HasPrefix(last, "ccswitch: ") {
				t.Errorf("last line %q: want one message starting ccswitch:", last)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q does not name %q", last, w)
				}
			}
			// A start that fails is over within 2 s (it takes about 0.1 s
			// here, the child's own start included); a hang is killed
			// above.
			if took > 2*time.Second {
				t.Errorf("exited after %v, want within 2 s", took)
			}
		})
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// otherKey writes the key of another self-signed certificate.
func otherKey(t *testing.T) string {
	t.Helper()
	_, key := cctest.SelfSigned(t)
	return key
}
