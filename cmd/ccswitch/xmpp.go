package main

import (
	"context"
	"errors"
)

// startXMPP connects the gateway to every IM provider's XMPP server.
func (s *server) startXMPP(ctx context.Context, m *Main, im *imSide, providers []xmppProvider) error {
	if len(providers) > 0 {
		return errors.New("serve: XMPP not wired yet")
	}
	return nil
}
