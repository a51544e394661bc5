package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/live"
)

func (m *Main) newServeCmd() *cobra.Command {
	var (
		c                                   live.Config
		cfgPath, rtpPorts                   string
		xmppAddrs, xmppDomains, xmppSecrets []string
		logLevel                            zerolog.Level
	)
	cmd := &cobra.Command{
		Use:   "serve --config CENTER.yaml",
		Short: "Run the center live: SIP phones, callers, chats, status",
		Long: `Runs the center live on the real clock: SIP phones register and take calls,
customers call route points and queues over SIP (UDP and TCP), and the
status is served over HTTP. Everything listens on loopback by default.`,
		Example: `  ccswitch serve --config examples/sip-center.yaml --sip 127.0.0.1:5060 --http 127.0.0.1:8080
  ccswitch serve --config examples/sip-center.yaml --record session.yaml   # then: ccswitch replay session.yaml`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			m.log = m.log.Level(logLevel)
			return m.checkServe(c, cfgPath, rtpPorts, xmppAddrs, xmppDomains, xmppSecrets)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfgPath, "config", "", "center configuration `FILE` (required)")
	fs.StringVar(&c.SIPAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	fs.StringVar(&c.HTTPAddr, "http", "127.0.0.1:8080", "HTTP listen address (status, CTI, web chat); HTTPS with --tls-cert")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", false, "allow plain HTTP on an address that is not loopback (CTI passwords would cross the network in clear)")
	durationVar(fs, &c.RingTimeout, "ring-timeout", 20*time.Second, "how long an agent's phone rings before the call goes back to the queue")
	fs.StringVar(&c.Realm, "realm", "ccswitch", "SIP digest realm")
	fs.StringVar(&c.MediaIP, "media-ip", "127.0.0.1", "address RTP is sent from and announced in SDP")
	fs.StringVar(&rtpPorts, "rtp-ports", "20000-29999", "RTP port range `MIN-MAX`; each call takes one even port (two for a call without a SIP customer)")
	fs.StringVar(&c.Trunk, "trunk", "", "outbound SIP trunk `HOST:PORT` for agents' calls to outside numbers (MakeCall)")
	fs.Float64Var(&c.InviteRate, "invite-rate", 200, "INVITEs per second accepted from one source IP (burst: twice that)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "certificate `FILE` (PEM): HTTPS and wss:// CTI on --http, SIP over TLS and secure WebSocket")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key `FILE` (PEM) of --tls-cert")
	fs.StringVar(&c.SIPTLSAddr, "sip-tls", "127.0.0.1:5061", "SIP over TLS listen address (with --tls-cert)")
	fs.StringVar(&c.SIPWSSAddr, "sip-wss", "127.0.0.1:5063", "SIP over secure WebSocket listen address (with --tls-cert)")
	fs.StringVar(&c.SIPWSAddr, "sip-ws", "", "SIP over plain WebSocket listen address (off when empty; for loopback use)")
	fs.IntVar(&c.MaxCalls, "max-calls", 0, "calls carried at once before new INVITEs get 503 (0: the even ports of --rtp-ports, at most the open-file limit less 1,024)")
	fs.IntVar(&c.MaxSetups, "max-setups", 0, "overload: INVITEs in progress (answered, not yet acknowledged) past which new INVITEs get 503 with Retry-After at once (0: 200; -1: off)")
	fs.IntVar(&c.MaxWaitingCalls, "max-waiting-calls", 0, "overload: calls hearing the switch's announcements or music past which new INVITEs get 503 with Retry-After at once (0: 500; -1: off)")
	fs.IntVar(&c.MaxLoopBacklog, "max-loop-backlog", 0, "overload: work items waiting on the domain's loop past which new INVITEs get 503 with Retry-After at once (0: 2000; -1: off)")
	durationVar(fs, &c.RTPTimeout, "rtp-timeout", 60*time.Second, "end a connected call when a phone that should send RTP has sent none for this long; a silent agent is made not ready (rtp_timeout); 0 disables")
	fs.StringVar(&c.StorePath, "store", "ccswitch.db", "embedded store `FILE` (SQLite) for customers, transcripts and callbacks (centers with an im section)")
	fs.StringVar(&c.SIPChatUser, "sip-chat-user", "", "deprecated: im.networks.sip_message.user in the center file")
	fs.StringArrayVar(&xmppAddrs, "xmpp-component", nil, "deprecated: im.networks.xmpp in the center file (component `HOST:PORT`)")
	fs.StringArrayVar(&xmppDomains, "xmpp-domain", nil, "deprecated: im.networks.xmpp in the center file (`DOMAIN`)")
	fs.StringArrayVar(&xmppSecrets, "xmpp-secret", nil, "deprecated, and shown to anyone who lists processes: im.networks.xmpp's secret_file or secret_env (`SECRET`)")
	durationVar(fs, &c.Drain, "drain", 30*time.Second, "on SIGTERM or SIGINT, how long calls and chats under way may go on before they are ended (new ones are refused at once)")
	fs.StringVar(&c.Record, "record", "", "when the server stops, write what happened as a replay script to `FILE` (ccswitch replay FILE); customers' numbers and addresses are written as they came")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the HTTP address (keep it on loopback)")
	fs.BoolVar(&c.Simulate, "simulate", false, "run the file's traffic as simulated trunk callers, and agents without a SIP password at simulated desk phones, beside the real phones")
	logLevelVar(fs, &logLevel)
	return cmd
}

// checkServe checks serve's flags, loads the center file and sets m.run to
// open the center.
func (m *Main) checkServe(c live.Config, cfgPath, rtpPorts string, xmppAddrs, xmppDomains, xmppSecrets []string) error {
	if cfgPath == "" {
		return usagef("serve: want --config FILE (see 'ccswitch serve --help')")
	}
	if _, err := fmt.Sscanf(rtpPorts, "%d-%d", &c.RTPPortMin, &c.RTPPortMax); err != nil ||
		fmt.Sprintf("%d-%d", c.RTPPortMin, c.RTPPortMax) != rtpPorts || c.RTPPortMin < 1 || c.RTPPortMax > 65535 || c.RTPPortMin >= c.RTPPortMax {
		return usagef("serve: --rtp-ports wants MIN-MAX within 1-65535, e.g. 20000-29999")
	}
	if c.Trunk != "" {
		if _, _, err := net.SplitHostPort(c.Trunk); err != nil {
			return usagef("serve: --trunk wants HOST:PORT: %v", err)
		}
	}
	if c.InviteRate <= 0 {
		return usagef("serve: --invite-rate must be positive")
	}
	if c.MaxCalls < 0 {
		return usagef("serve: --max-calls must not be negative")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	var err error
	if c.XMPP, err = parseXMPP(xmppAddrs, xmppDomains, xmppSecrets); err != nil {
		return err
	}
	if len(c.XMPP) > 0 {
		m.log.Warn().Msg("--xmpp-component, --xmpp-domain and --xmpp-secret are deprecated and will go: the secret is visible to anyone who lists processes; declare the servers under im.networks.xmpp in the center file, with secret_file or secret_env")
	}
	if c.SIPChatUser != "" {
		m.log.Warn().Msg("--sip-chat-user is deprecated and will go: set im.networks.sip_message.user in the center file")
	}
	f, err := config.Load(cfgPath)
	if err != nil {
		return &usageError{err}
	}
	if len(c.XMPP) > 0 && f.IM == nil {
		return usagef("serve: --xmpp-component: %s has no im section", f.Path)
	}
	if c.Simulate && len(f.Traffic) == 0 {
		return usagef("serve: --simulate: %s has no traffic section", f.Path)
	}
	if c.Drain == 0 {
		c.Drain = -1 // no drain (live's zero is its default)
	}
	c.Center, c.Log = f, m.log
	if m.tune != nil {
		m.tune(&c)
	}
	m.run = func(ctx context.Context) error {
		center, err := live.Open(ctx, c)
		if err != nil {
			if ce := (*live.ConfigError)(nil); errors.As(err, &ce) {
				return &usageError{err}
			}
			return err
		}
		m.center = center
		return nil
	}
	return nil
}

// parseXMPP pairs the repeated --xmpp-component, --xmpp-domain and
// --xmpp-secret flags: the n-th of each describe one provider.
func parseXMPP(addrs, domains, secrets []string) ([]live.XMPPProvider, error) {
	if len(addrs) != len(domains) || len(addrs) != len(secrets) {
		return nil, usagef("serve: give --xmpp-component, --xmpp-domain and --xmpp-secret once per IM provider (got %d, %d and %d)",
			len(addrs), len(domains), len(secrets))
	}
	var ps []live.XMPPProvider
	seen := map[string]bool{}
	for i := range addrs {
		if _, _, err := net.SplitHostPort(addrs[i]); err != nil {
			return nil, usagef("serve: --xmpp-component %q wants HOST:PORT: %v", addrs[i], err)
		}
		d := strings.ToLower(strings.TrimSpace(domains[i]))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return nil, usagef("serve: --xmpp-domain %q is not a domain", domains[i])
		}
		if seen[d] {
			return nil, usagef("serve: --xmpp-domain %s given twice", d)
		}
		seen[d] = true
		if secrets[i] == "" {
			return nil, usagef("serve: --xmpp-secret for %s is empty", d)
		}
		ps = append(ps, live.XMPPProvider{Addr: addrs[i], Domain: d, Secret: secrets[i]})
	}
	return ps, nil
}
