package config

import (
	"strconv"
	"strings"
)

// Networks are the IM networks a live center takes chats from. Absent,
// the web chat and SIP MESSAGE (to user "support") are on and no XMPP
// server is joined.
type Networks struct {
	// XMPP lists the IM providers' XMPP servers the gateway joins as an
	// external component (XEP-0114).
	XMPP []XMPPNetwork `yaml:"xmpp"`
	// SIPMessage takes chats sent as SIP MESSAGEs (RFC 3428).
	SIPMessage SIPMessageNetwork `yaml:"sip_message"`
	// WebChat serves the center's own web chat under /chat/.
	WebChat WebChatNetwork `yaml:"webchat"`
}

// XMPPNetwork is one XMPP server the gateway joins. Its shared secret is
// read when the center opens, from SecretFile or the environment variable
// SecretEnv (one of them); a secret is never written in the center file.
type XMPPNetwork struct {
	// Component is the server's component port, HOST:PORT.
	Component string `yaml:"component"`
	// Domain is the component's domain; customers write to
	// support@Domain.
	Domain     string `yaml:"domain"`
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
	// Secret is never accepted: it is decoded only to say so, with the
	// file and line.
	Secret string `yaml:"secret"`
}

// SIPMessageNetwork configures chats over SIP MESSAGE.
type SIPMessageNetwork struct {
	// Enabled is true unless set to false.
	Enabled *bool `yaml:"enabled"`
	// User is the user part customers send MESSAGEs to (default support).
	User string `yaml:"user"`
}

// WebChatNetwork configures the web chat.
type WebChatNetwork struct {
	// Enabled is true unless set to false.
	Enabled *bool `yaml:"enabled"`
}

// On reports whether the SIP MESSAGE network is on.
func (n SIPMessageNetwork) On() bool { return n.Enabled == nil || *n.Enabled }

// On reports whether the web chat is on.
func (n WebChatNetwork) On() bool { return n.Enabled == nil || *n.Enabled }

// DefaultSIPMessageUser is im.networks.sip_message.user's default.
const DefaultSIPMessageUser = "support"

func (c *checker) setNetworkDefaults(im *IM) {
	if im.Networks.SIPMessage.User == "" {
		im.Networks.SIPMessage.User = DefaultSIPMessageUser
	}
	for i := range im.Networks.XMPP {
		x := &im.Networks.XMPP[i]
		x.Domain = strings.ToLower(strings.TrimSpace(x.Domain))
	}
}

// checkNetworks checks im.networks.
func (c *checker) checkNetworks(im *IM) {
	p := path{}.key("im").key("networks")
	domains := map[string]int{}
	for i, x := range im.Networks.XMPP {
		xp := p.key("xmpp").index(i)
		if !hostPort(x.Component) {
			c.errorf(xp.key("component"), "%q: want HOST:PORT of the server's component port", x.Component)
		}
		switch first, dup := domains[x.Domain]; {
		case x.Domain == "":
			c.errorf(xp.key("domain"), "required")
		case strings.ContainsAny(x.Domain, "@/ \t"):
			c.errorf(xp.key("domain"), "%q is not a domain", x.Domain)
		case dup:
			c.errorf(xp.key("domain"), "domain %s given twice (also xmpp[%d])", x.Domain, first)
		default:
			domains[x.Domain] = i
		}
		if c.given(xp.key("secret")) {
			c.errorf(xp.key("secret"), "secrets are not written in the center file; give secret_file or secret_env")
		}
		switch {
		case x.SecretFile != "" && x.SecretEnv != "":
			c.errorf(xp.key("secret_env"), "set secret_file or secret_env, not both")
		case x.SecretFile == "" && x.SecretEnv == "" && !c.given(xp.key("secret")):
			c.errorf(xp, "needs the component's secret: secret_file or secret_env")
		}
		if x.SecretEnv != "" && !envName(x.SecretEnv) {
			c.errorf(xp.key("secret_env"), "%q is not an environment variable name (letters, digits, _; not starting with a digit)", x.SecretEnv)
		}
	}
	if u := im.Networks.SIPMessage.User; strings.ContainsAny(u, "@:; \t<>\"") {
		c.errorf(p.key("sip_message").key("user"), "%q is not a SIP user part", u)
	}
}

// hostPort reports whether s is HOST:PORT ([V6]:PORT for an IPv6
// address) with a port of 1-65535. (The configuration names addresses;
// it does not resolve them, and the domain it describes imports no
// network package.)
func hostPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return false
	}
	host, port := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") || strings.ContainsAny(strings.Trim(host, "[]"), " /") ||
		!strings.HasPrefix(host, "[") && strings.Contains(host, ":") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && strings.Trim(host, "[]") != ""
}
