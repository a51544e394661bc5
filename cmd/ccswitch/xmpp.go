package main

import (
	"context"

	"github.com/ccswitch/ccswitch/imgw/xmpp"
)

// startXMPP connects the gateway to every IM provider's XMPP server as an
// external component; each adapter reconnects by itself until ctx ends.
func (s *server) startXMPP(ctx context.Context, m *Main, im *imSide, providers []xmppProvider) error {
	for _, p := range providers {
		a, err := xmpp.New(xmpp.Config{
			Addr: p.addr, Domain: p.domain, Secret: p.secret,
			Receiver: im.gw, Subscribers: im.st,
			Log:          m.log.With().Str("component", "xmpp").Str("domain", p.domain).Logger(),
			SoftwareName: "ccswitch",
		})
		if err != nil {
			return usagef("serve: --xmpp-domain %s: %v", p.domain, err)
		}
		im.gw.AddAdapter(a)
		im.xmpp = append(im.xmpp, a)
		im.running.Add(1)
		go func() {
			defer im.running.Done()
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				m.log.Error().Err(err).Str("domain", p.domain).Msg("xmpp component stopped")
			}
		}()
	}
	return nil
}
