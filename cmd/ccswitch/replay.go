package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/sim/replay"
	livereplay "github.com/ccswitch/ccswitch/sim/replay/live"
)

// errExpectations is Run's error when some expectation of a replay was not
// met: exit code 1.
var errExpectations = errors.New("replay: some expectations were not met")

func (m *Main) newReplayCmd() *cobra.Command {
	var (
		centerPath, junit string
		asJSON            bool
		lc                livereplay.Config
	)
	c := &cobra.Command{
		Use:   "replay SCRIPT.yaml...",
		Short: "Replay scripted call and chat scenarios and check their expectations",
		Long: `Replays each SCRIPT.yaml — a timeline of what callers, chat customers, agents and
external routers do, and what must happen — on the real routing domain and IM
gateway on a virtual clock, deterministically, and checks its expectations
(the format: sim/replay/README.md).

It prints one line per expectation met and, for one that failed, what was
expected and what happened instead. Exit status: 0 every expectation met,
1 some failed, 2 a script or center file is broken (every error with its
file, line and field).

--config replaces the center the scripts name (to replay them against a
changed center file). --junit FILE also writes JUnit XML for CI systems.

--live HTTP-ADDR drives a running 'ccswitch serve' instead, on the wall clock
(a script of a minute takes a minute): agents through CTI at HTTP-ADDR/cti
(auto_answer answers on the agent's phone or over CTI), their SIP phones, the
callers and SIP MESSAGE chat customers through --sip SIP-ADDR, web chat
customers through HTTP-ADDR/chat/ws, external routers through a CTI session
of the center's router user, callbacks through HTTP-ADDR/api/callbacks, the
customers' softphones and numbers on the replay's SIP address (--sip-listen,
where serve's --trunk points), XMPP chat customers (and their presence)
through --xmpp HOST:PORT, the client port of the XMPP server serve joins as
its im.networks.xmpp component: each customer logs in there as the JID the
script gives (plain TCP, no TLS: a server on loopback or a test server) with
its password from --xmpp-passwords FILE (one "JID PASSWORD" per line, "*" as
the JID for every other; passwords are never taken on the command line), and
writes to support@ the center's first XMPP domain. Expectations are checked
on the CTI event stream of the center's monitor user, each within stretched
by --slack. The monitor's and the router's tokens are read from their
token_env or token_file, as serve does; a script with routers needs a router
user. --callers sipp places each voice call with a SIPp process (sipp in
PATH) running a scenario written for it instead of the replay's own SIP user
agent: the script's From and To, BYE or CANCEL at the script's hangup time,
the switch's BYE answered. What --live covers and refuses:
sim/replay/README.md.`,
		Example: `  ccswitch replay examples/replay/ring-no-answer.yaml
  ccswitch replay examples/replay/*.yaml --junit replay.xml
  ccswitch replay my-test.yaml --config new-center.yaml --json
  ccswitch replay examples/replay/ring-no-answer.yaml --live 127.0.0.1:8080 --sip 127.0.0.1:5060
  ccswitch replay examples/replay/ring-no-answer.yaml --live 127.0.0.1:8080 --sip 127.0.0.1:5060 --callers sipp
  ccswitch replay examples/replay/chat-routing.yaml --config center.yaml --live 127.0.0.1:8080 \
    --xmpp 127.0.0.1:5222 --xmpp-passwords customers.passwords`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("replay: want one or more script files (see 'ccswitch replay --help')")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			var center *config.File
			if centerPath != "" {
				f, err := config.Load(centerPath)
				if err != nil {
					return &usageError{err}
				}
				center = f
			}
			var (
				scripts []*replay.Script
				errs    []error
			)
			for _, p := range args {
				s, err := replay.Load(p, center)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				scripts = append(scripts, s)
			}
			if len(errs) > 0 {
				return &usageError{errors.Join(errs...)}
			}
			switch {
			case lc.HTTP == "" && lc.SIP != "":
				return usagef("replay: --sip needs --live")
			case lc.HTTP == "" && lc.XMPP != "":
				return usagef("replay: --xmpp needs --live")
			case lc.XMPP == "" && lc.XMPPPasswords != "":
				return usagef("replay: --xmpp-passwords needs --xmpp")
			}
			if lc.SIP == "" && lc.SIPListen != "" {
				return usagef("replay: --sip-listen needs --sip")
			}
			switch lc.Callers {
			case livereplay.CallersSIPgo:
			case livereplay.CallersSIPp:
				if lc.SIP == "" {
					return usagef("replay: --callers sipp needs --sip")
				}
			default:
				return usagef("replay: --callers %q: want sipgo or sipp", lc.Callers)
			}
			m.run = func(ctx context.Context) error { return m.replay(ctx, scripts, asJSON, junit, lc) }
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&centerPath, "config", "", "the center file to replay against, instead of the one each script names")
	fs.BoolVar(&asJSON, "json", false, "print the machine-readable result")
	fs.StringVar(&junit, "junit", "", "also write the results as JUnit XML to this file")
	fs.StringVar(&lc.HTTP, "live", "", "drive the running serve whose HTTP (CTI) address this is, on the wall clock")
	fs.StringVar(&lc.SIP, "sip", "", "with --live: the serve's SIP UDP address, for calls, agents' phones and SIP chats")
	fs.StringVar(&lc.SIPListen, "sip-listen", "", "with --sip: the replay's own SIP UDP address (HOST:PORT), where serve's --trunk reaches the customers' numbers (default: any port)")
	fs.StringVar(&lc.Callers, "callers", livereplay.CallersSIPgo, "with --sip: what places the script's voice calls: sipgo (the replay's SIP user agent) or sipp (a SIPp process per call)")
	fs.StringVar(&lc.XMPP, "xmpp", "", "with --live: the XMPP server's client address (HOST:PORT) where the script's XMPP customers log in")
	fs.StringVar(&lc.XMPPPasswords, "xmpp-passwords", "", "with --xmpp: the file of the customers' passwords (one 'JID PASSWORD' a line, '*' for every other JID)")
	durationVar(fs, &lc.Slack, "slack", 2*time.Second, "with --live: how much later than its within an event may come")
	return c
}

func (m *Main) replay(ctx context.Context, scripts []*replay.Script, asJSON bool, junit string, lc livereplay.Config) error {
	var rep replay.Report
	for _, s := range scripts {
		if lc.HTTP != "" {
			res, err := replayLive(ctx, s, lc)
			if err != nil {
				return err
			}
			rep.Add(res)
			continue
		}
		res, err := replay.Run(s)
		if err != nil {
			return &usageError{err}
		}
		rep.Add(res)
	}
	if junit != "" {
		f, err := os.Create(junit)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		err = rep.WriteJUnit(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("replay: %s: %w", junit, err)
		}
	}
	var err error
	if asJSON {
		err = rep.WriteJSON(m.stdout)
	} else {
		err = rep.WriteText(m.stdout)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%w: %d of %d failed", errExpectations, rep.Failed, rep.Met+rep.Failed)
	}
	return nil
}

// replayLive plays script s against the running serve lc names.
func replayLive(ctx context.Context, s *replay.Script, lc livereplay.Config) (*replay.Result, error) {
	s.Slack = lc.Slack
	rec := &replay.Record{}
	c, err := livereplay.New(ctx, s, rec, lc)
	if err != nil {
		return nil, fmt.Errorf("replay: %s: %w", s.Path, err)
	}
	defer c.Close()
	return replay.Play(s, c, rec), nil
}
