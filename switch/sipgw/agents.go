package sipgw

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/emiago/sipgo/sip"

	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/switch/media"
	"github.com/ccswitch/ccswitch/switch/registrar"
	"github.com/ccswitch/ccswitch/tserver"
)

// Feature codes a plain SIP phone dials to work as an agent's desk.
const (
	CodeReady    = "*21"
	CodeNotReady = "*22"
	CodeLogout   = "*23"
	CodeLogin    = "*24"
)

// OnRegistration follows the registrar: an agent whose phone registers is
// logged in on that extension (and made ready unless configured
// otherwise); when its last binding goes, it is logged out. Give it to
// registrar.Config.OnChange. With OnPresence, it also reports the
// registrations of devices that publish nothing (a binding's expiry, for
// one, reaches the gateway only this way).
func (g *Gateway) OnRegistration(user string, contacts []registrar.Contact) {
	g.followRegistration(user, contacts)
	g.post(func() {
		dn, ok := g.ts.Directory().Lookup(user)
		if !ok || dn.Type != pbx.Extension {
			return
		}
		a, ok := g.ts.Agent(dn.Owner)
		if !ok {
			return
		}
		log := g.log.With().Str("agent_id", a.ID).Str("dn", user).Logger()
		if len(contacts) == 0 {
			if err := g.ts.AgentLogout(a.ID); err != nil {
				log.Info().Err(err).Msg("phone unregistered; agent stays logged in")
				return
			}
			log.Info().Msg("phone unregistered; agent logged out")
			return
		}
		if a.State() != tserver.LoggedOut {
			return
		}
		if err := g.ts.AgentLogin(a.ID, user); err != nil {
			log.Warn().Err(err).Msg("login on registration failed")
			return
		}
		if a.AutoReady() {
			_ = g.ts.AgentReady(a.ID)
		}
		log.Info().Str("state", a.State().String()).Msg("phone registered; agent logged in")
	})
}

// featureCode runs a feature code dialled by a registered phone, then
// answers and hangs up at once: the phone shows a short connected call.
func (g *Gateway) featureCode(req *sip.Request, tx sip.ServerTransaction, code string) {
	user, ok := g.cfg.Registrar.Authenticate(req, tx)
	if !ok {
		return
	}
	var opErr error
	err := g.do(func() {
		dn, ok := g.ts.Directory().Lookup(user)
		if !ok || dn.Type != pbx.Extension {
			opErr = pbx.Errorf(pbx.NotFound, "sipgw: %s is not an agent's extension", user)
			return
		}
		id := dn.Owner
		switch code {
		case CodeReady:
			opErr = g.ts.AgentReady(id)
		case CodeNotReady:
			opErr = g.ts.AgentNotReady(id, "feature_code")
		case CodeLogout:
			opErr = g.ts.AgentLogout(id)
		case CodeLogin:
			opErr = g.ts.AgentLogin(id, user)
		default:
			opErr = pbx.Errorf(pbx.NotFound, "sipgw: unknown feature code %s", code)
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		status, reason := statusOf(err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
		return
	}
	dtx, err := g.in.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	defer dtx.Close()
	// Port 9 (discard), inactive: nothing to hear.
	sdp := media.BuildSDP(rand.Uint64()>>1, g.cfg.MediaIP, 9, []media.Codec{media.PCMU}, "inactive")
	if err := dtx.RespondSDP(sdp); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
	defer cancel()
	_ = g.byeCaller(ctx, dtx)
}
