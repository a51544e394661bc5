// Package xmpptest runs real XMPP servers and clients for tests: a
// loopback-only Prosody or ejabberd in the test's temporary directory,
// with one XEP-0114 component domain for the code under test, and
// scripted slixmpp customers (see StartCustomer) that report every
// stanza they receive.
//
// Servers listen on free loopback ports, without TLS or server-to-server
// links, and without offline storage unless Options.Offline is set (a
// message to an offline user then bounces). A missing server program
// skips the test, or fails it when CCSWITCH_REQUIRE_PEERS=1 (see
// internal/peer). Readiness is awaited by polling the listening ports,
// never by sleeping a fixed time.
package xmpptest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Config configures a test server.
type Config struct {
	// Domain is the virtual host the users live on (default
	// "example.test").
	Domain string
	// ComponentDomain is the XEP-0114 component's domain (default
	// "support." + Domain).
	ComponentDomain string
	// Secret is the component's shared secret (default: random).
	Secret string
	// Users maps user names (local parts) to passwords; they are
	// registered before the server is handed out.
	Users map[string]string
	// Offline keeps messages for offline users (Prosody mod_offline,
	// ejabberd mod_offline) instead of bouncing them.
	Offline bool
}

func (o *Config) defaults() {
	if o.Domain == "" {
		o.Domain = "example.test"
	}
	if o.ComponentDomain == "" {
		o.ComponentDomain = "support." + o.Domain
	}
	if o.Secret == "" {
		o.Secret = randomHex(12)
	}
}

// StartTimeout bounds how long a server may take to listen on its ports.
const StartTimeout = 30 * time.Second

// StopTimeout is how long a server may take to exit after SIGTERM before
// it is killed.
const StopTimeout = 10 * time.Second

// Server is a running test server. Its addresses and domains stay the
// same across Stop and Start.
type Server struct {
	// Kind is "prosody" or "ejabberd".
	Kind string
	// Domain is the users' host, e.g. example.test.
	Domain string
	// ComponentDomain is the component's domain, e.g.
	// support.example.test, and Secret its shared secret.
	ComponentDomain string
	Secret          string
	// C2SAddr and ComponentAddr are the loopback host:port of the
	// client and the XEP-0114 component listeners.
	C2SAddr       string
	ComponentAddr string
	// Dir holds the configuration, data and logs.
	Dir string

	// launch starts the server process; register adds an account.
	launch   func() (*exec.Cmd, error)
	register func(user, password string) error
	// ready lists the addresses that must accept connections.
	ready []string
	// logs are the files dumped when the test fails.
	logs []string

	// terminate asks the process to exit (default: SIGTERM to the
	// process group).
	terminate func(pgid int)

	mu   sync.Mutex
	proc *process
}

// JID returns the bare JID of user on the server's domain.
func (s *Server) JID(user string) string { return user + "@" + s.Domain }

// Register creates the account user with password.
func (s *Server) Register(user, password string) error {
	if err := s.register(user, password); err != nil {
		return fmt.Errorf("xmpptest: %s register %s: %w", s.Kind, user, err)
	}
	return nil
}

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Start starts the server (again, after Stop) on the same ports with the
// same data, and returns once its ports accept connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("xmpptest: %s already running", s.Kind)
	}
	cmd, err := s.launch()
	if err != nil {
		return fmt.Errorf("xmpptest: start %s: %w", s.Kind, err)
	}
	p := startProcess(cmd, s.terminate)
	s.proc = p
	deadline := time.Now().Add(StartTimeout)
	for _, addr := range s.ready {
		if err := waitListening(addr, deadline, p.done); err != nil {
			p.stop(StopTimeout)
			return fmt.Errorf("xmpptest: %s: %w", s.Kind, err)
		}
	}
	return nil
}

// Stop sends SIGTERM to the server's process group, waits for it to exit,
// and kills it after StopTimeout. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop(StopTimeout)
}

// setup registers Stop (and a log dump on failure) with t, then starts
// the server.
func (s *Server) setup(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		start := time.Now()
		if err := s.Stop(); err != nil {
			t.Errorf("%v", err)
		}
		t.Logf("%s stopped in %v", s.Kind, time.Since(start).Round(time.Millisecond))
		if t.Failed() {
			s.dumpLogs(t)
		}
	})
	start := time.Now()
	if err := s.Start(); err != nil {
		s.dumpLogs(t)
		t.Fatal(err)
	}
	t.Logf("%s ready in %v: c2s %s, component %s (%s)", s.Kind,
		time.Since(start).Round(time.Millisecond), s.C2SAddr, s.ComponentAddr, s.ComponentDomain)
}

const maxDump = 16 << 10

func (s *Server) dumpLogs(t testing.TB) {
	t.Helper()
	for _, f := range s.logs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(b) > maxDump {
			b = b[len(b)-maxDump:]
		}
		t.Logf("--- %s (last %d bytes) ---\n%s", f, len(b), b)
	}
}

// process is a started server, in its own process group.
type process struct {
	cmd       *exec.Cmd
	terminate func(pgid int)
	done      chan struct{}
	err       error
}

func startProcess(cmd *exec.Cmd, terminate func(pgid int)) *process {
	if terminate == nil {
		terminate = func(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGTERM) }
	}
	p := &process{cmd: cmd, terminate: terminate, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop terminates the process group: terminate, then SIGKILL to the
// group after timeout. It returns once the leader was reaped and no
// process of the group is left.
func (p *process) stop(timeout time.Duration) error {
	pgid := p.cmd.Process.Pid
	deadline := time.Now().Add(timeout)
	if !p.exited() {
		p.terminate(pgid)
	}
	killed := false
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		killed = true
		<-p.done
	}
	// Children (beam.smp under runuser) may outlive the leader briefly.
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) && !killed {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if killed {
		return fmt.Errorf("xmpptest: pid %d did not exit within %v of SIGTERM; killed", pgid, timeout)
	}
	return nil
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits or deadline passes.
func waitListening(addr string, deadline time.Time, exited <-chan struct{}) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited before listening on %s", addr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, StartTimeout, err)
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when returned; another process could take one before the server binds
// it, which is unlikely enough for tests.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run runs a short command and returns its error with its output.
func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s: %w: %s", cmd.Args[0], err, bytes.TrimSpace(out.Bytes()))
		}
		return err
	}
	return nil
}

// groupMembers returns the pids of the processes in group pgid whose
// command name is comm.
func groupMembers(pgid int, comm string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 3 || string(b[open+1:close]) != comm {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procAttr puts a server in its own process group, so that Stop reaches
// every process it started.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// registerAll registers users concurrently (each registration starts a
// program or makes a request).
func (s *Server) registerAll(users map[string]string) error {
	errs := make(chan error, len(users))
	for user, pw := range users {
		go func() { errs <- s.Register(user, pw) }()
	}
	var err error
	for range users {
		err = errors.Join(err, <-errs)
	}
	return err
}
