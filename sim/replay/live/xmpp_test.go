package live

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim/replay"
)

func TestParseXMPPPasswords(t *testing.T) {
	p, err := parseXMPPPasswords("pw", strings.NewReader(`# the customers of chat-routing
alice@example.test   alice pw with spaces

Bob@Example.test	bobpw
*  every-other
`))
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]string{
		"alice@example.test":        "alice pw with spaces",
		"alice@example.test/laptop": "alice pw with spaces",
		"bob@example.test":          "bobpw", // the localpart is case-folded, as servers do
		"carol@example.test":        "every-other",
	} {
		if got, err := p.lookup(who); err != nil || got != want {
			t.Errorf("lookup(%s) = %q, %v; want %q", who, got, err, want)
		}
	}
	if _, err := p.lookup("not a jid@"); err == nil {
		t.Error("lookup of a malformed address: no error")
	}

	p, err = parseXMPPPasswords("pw", strings.NewReader("alice@example.test secret\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.lookup("carol@example.test"); err == nil || err.Error() != "pw has no password for carol@example.test (nor a * line)" {
		t.Errorf("lookup of an unknown customer without *: %v", err)
	}
}

func TestParseXMPPPasswordsErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"one word", "# c\n\nalice@example.test\n", `pw:3: want JID PASSWORD (or * PASSWORD), got one word`},
		{"blank password", "alice@example.test   \n", `pw:1: want JID PASSWORD (or * PASSWORD), got one word`},
		{"full JID", "alice@example.test/laptop pw\n", `pw:1: "alice@example.test/laptop" is not a bare JID (user@domain) or *`},
		{"domain only", "example.test pw\n", `pw:1: "example.test" is not a bare JID (user@domain) or *`},
		{"twice", "alice@example.test a\n* b\nALICE@example.test c\n", `pw:3: ALICE@example.test again (first on line 1)`},
		{"star twice", "* a\n\n* b\n", `pw:3: * again (first on line 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseXMPPPasswords("pw", strings.NewReader(tc.file))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := readXMPPPasswords(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestXMPPRefused: an XMPP chat or presence without --xmpp, without
// --xmpp-passwords, or on a center without an XMPP network is refused
// with the script's file and line before anything plays; so is a
// customer the passwords file has no password for.
func TestXMPPRefused(t *testing.T) {
	center, err := filepath.Abs("../../../examples/im-center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	script := "center: " + center + `
script:
  - {at: 0s, agent: ann, do: login_ready}
  - {at: 1s, presence: alice@example.test, show: away}
`
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := replay.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("bob@example.test b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, path + ":4: script[1]: --live: presence of alice@example.test needs --xmpp HOST:PORT"},
		{Config{XMPP: "127.0.0.1:1"}, path + ":4: script[1]: --live: presence of alice@example.test needs --xmpp-passwords FILE"},
		{Config{XMPP: "127.0.0.1:1", XMPPPasswords: pw}, path + ":4: script[1]: --live: presence of alice@example.test: the center"},
	} {
		err := refuseUnsupported(s, tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %s...", tc.cfg, err, tc.want)
		}
	}
	// With an XMPP network, the customer's password is looked up first.
	s.Center.IM.Networks.XMPP = []config.XMPPNetwork{{Component: "127.0.0.1:5347", Domain: "support.example.test", SecretEnv: "UNUSED"}}
	c := &Center{s: s, cfg: Config{XMPP: "127.0.0.1:1", XMPPPasswords: pw}}
	if err := refuseUnsupported(s, c.cfg); err != nil {
		t.Fatal(err)
	}
	err = c.openXMPP()
	if want := path + ":4: script[1]: " + pw + " has no password for alice@example.test (nor a * line)"; err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
}
