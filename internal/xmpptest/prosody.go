package xmpptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/peer"
)

// prosodyConfig is a loopback-only Prosody 0.12 configuration: no TLS,
// no s2s, plain authentication, file storage in the test directory.
const prosodyConfig = `-- written by internal/xmpptest
local dir = %[1]q
run_as_root = true
pidfile   = dir .. "/prosody.pid"
data_path = dir .. "/data"
plugin_paths = { }
certificates = dir .. "/certs"

use_ipv6 = false
interfaces           = { "127.0.0.1" }
c2s_interfaces       = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports       = { %[2]d }
component_ports = { %[3]d }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
http_ports = { }
https_ports = { }

modules_enabled = {
    "roster"; "saslauth"; "disco"; "ping"; "version"; "posix"; %[7]s
}
modules_disabled = { "s2s"; "tls"; %[8]s }

c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
allow_registration = false
-- do not wait long for clients to close their streams on shutdown
c2s_close_timeout = 1

log = {
    { levels = { min = "info" }, to = "file", filename = dir .. "/prosody.log" };
    { levels = { min = "debug" }, to = "file", filename = dir .. "/prosody-debug.log" };
}

VirtualHost %[4]q

Component %[5]q
    component_secret = %[6]q
`

// Prosody starts a Prosody server for t, stopped when t ends. It skips
// the test when prosody is not installed (fails it when peers are
// required).
func Prosody(t testing.TB, opts Config) *Server {
	t.Helper()
	bin := peer.Require(t, "prosody")
	ctl := peer.Require(t, "prosodyctl")
	opts.defaults()
	dir := t.TempDir()
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"data", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	enabled, disabled := "", `"offline";`
	if opts.Offline {
		enabled, disabled = `"offline";`, ""
	}
	cfgPath := filepath.Join(dir, "prosody.cfg.lua")
	cfg := fmt.Sprintf(prosodyConfig, dir, ports[0], ports[1], opts.Domain, opts.ComponentDomain,
		opts.Secret, enabled, disabled)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Kind:            "prosody",
		Domain:          opts.Domain,
		ComponentDomain: opts.ComponentDomain,
		Secret:          opts.Secret,
		C2SAddr:         loopback(ports[0]),
		ComponentAddr:   loopback(ports[1]),
		Dir:             dir,
		logs:            []string{filepath.Join(dir, "prosody.stdout"), filepath.Join(dir, "prosody.log")},
	}
	s.ready = []string{s.C2SAddr, s.ComponentAddr}
	s.launch = func() (*exec.Cmd, error) {
		out, err := os.OpenFile(filepath.Join(dir, "prosody.stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		cmd := exec.Command(bin, "--config", cfgPath, "-F")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = procAttr()
		return cmd, cmd.Start()
	}
	// prosodyctl writes the account file; it works whether or not the
	// server runs (internal storage is read from disk on login).
	s.register = func(user, password string) error {
		if strings.ContainsAny(user, "@/ ") {
			return fmt.Errorf("bad user name %q", user)
		}
		return run(exec.Command(ctl, "--config", cfgPath, "register", user, opts.Domain, password))
	}
	if err := s.registerAll(opts.Users); err != nil {
		t.Fatal(err)
	}
	s.setup(t)
	return s
}
