package xmpptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/peer"
)

// ejabberdConfig is a loopback-only ejabberd 23.01 configuration: no
// TLS, no s2s, plain passwords in mnesia, and the HTTP API on loopback
// for registering users (ejabberdctl register costs half a second each).
const ejabberdConfig = `# written by internal/xmpptest
hosts:
  - %[4]q
loglevel: info
certfiles: []
hide_sensitive_log_data: false
listen:
  - port: %[1]d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 262144
    shaper: none
    access: c2s
  - port: %[2]d
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      %[5]q:
        password: %[6]q
  - port: %[3]d
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
auth_method: internal
auth_password_format: plain
default_db: mnesia
acl:
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  announce:
    deny: all
  configure:
    deny: all
  register:
    deny: all
api_permissions:
  "loopback registration":
    from:
      - mod_http_api
    who:
      ip: 127.0.0.1/8
    what:
      - register
      - unregister
shaper_rules:
  c2s_shaper: none
  s2s_shaper: none
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_http_api: {}
  mod_version:
    show_os: false
%[7]s`

// ejabberdctlConfig: a fixed distribution port means no epmd daemon is
// started (it would outlive the server), and a node name per instance.
const ejabberdctlConfig = `ERLANG_NODE=%[1]s@localhost
ERL_DIST_PORT=%[2]d
ERL_EPMD_ADDRESS=127.0.0.1
ERL_OPTIONS="-kernel inet_dist_use_interface {127,0,0,1}"
EJABBERD_BYPASS_WARNINGS=true
`

// Ejabberd starts an ejabberd server for t, stopped when t ends. It runs
// the server as the ejabberd system user (runuser, in the fixture's
// process group), so it needs root; it skips the test when ejabberdctl
// is not installed or the process is not root (fails it when peers are
// required).
func Ejabberd(t testing.TB, opts Config) *Server {
	t.Helper()
	ctl := peer.Require(t, "ejabberdctl")
	runuser := peer.Require(t, "runuser")
	acct, err := user.Lookup("ejabberd")
	if err != nil || os.Getuid() != 0 {
		msg := fmt.Sprintf("the ejabberd fixture runs ejabberd as user ejabberd and needs root (uid %d, lookup: %v)", os.Getuid(), err)
		if os.Getenv(peer.EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	uid, _ := strconv.Atoi(acct.Uid)
	gid, _ := strconv.Atoi(acct.Gid)
	opts.defaults()

	// t.TempDir's parent is private to root; ejabberd must reach its files.
	dir, err := os.MkdirTemp("", "xmpptest-ejabberd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"spool", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	offline := ""
	if opts.Offline {
		offline = "  mod_offline: {}\n"
	}
	cfgPath := filepath.Join(dir, "ejabberd.yml")
	ctlPath := filepath.Join(dir, "ejabberdctl.cfg")
	cfg := fmt.Sprintf(ejabberdConfig, ports[0], ports[1], ports[2], opts.Domain, opts.ComponentDomain,
		opts.Secret, offline)
	node := fmt.Sprintf("xmpptest%d", ports[1])
	files := map[string]string{
		cfgPath: cfg,
		ctlPath: fmt.Sprintf(ejabberdctlConfig, node, ports[3]),
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}

	s := &Server{
		Kind:            "ejabberd",
		Domain:          opts.Domain,
		ComponentDomain: opts.ComponentDomain,
		Secret:          opts.Secret,
		C2SAddr:         loopback(ports[0]),
		ComponentAddr:   loopback(ports[1]),
		Dir:             dir,
		logs:            []string{filepath.Join(dir, "ejabberd.stdout"), filepath.Join(dir, "logs", "ejabberd.log")},
	}
	api := "http://" + loopback(ports[2]) + "/api/"
	s.ready = []string{s.C2SAddr, s.ComponentAddr, loopback(ports[2])}
	s.launch = func() (*exec.Cmd, error) {
		out, err := os.OpenFile(filepath.Join(dir, "ejabberd.stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		// runuser (not su, which ejabberdctl would use as root) keeps
		// beam.smp in our process group.
		cmd := exec.Command(runuser, "-u", "ejabberd", "--", ctl,
			"--config", cfgPath, "--ctl-config", ctlPath,
			"--logs", filepath.Join(dir, "logs"), "--spool", filepath.Join(dir, "spool"),
			"foreground")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = procAttr()
		return cmd, cmd.Start()
	}
	// SIGTERM to the whole group would end runuser and ejabberdctl at
	// once and orphan beam.smp, which is then reaped late; stopping
	// beam.smp alone lets its parents exit after it, in order.
	s.terminate = func(pgid int) {
		pids := groupMembers(pgid, "beam.smp")
		if len(pids) == 0 {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	s.register = func(user, password string) error {
		return ejabberdAPI(client, api+"register", map[string]string{
			"user": user, "host": opts.Domain, "password": password,
		})
	}
	s.setup(t)
	if err := s.registerAll(opts.Users); err != nil {
		t.Fatal(err)
	}
	return s
}

// ejabberdAPI posts one mod_http_api command.
func ejabberdAPI(c *http.Client, url string, args any) error {
	b, err := json.Marshal(args)
	if err != nil {
		return err
	}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
