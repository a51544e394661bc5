package registrar_test

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccswitch/ccswitch/switch/registrar"
)

func ExampleHA1() {
	// What the configuration loader stores instead of the password.
	fmt.Println(registrar.HA1("agent1", "ccswitch", "secret"))
	// Output: d3a093f42235d5ba302e8b4f29a3b54f
}

// Example wires the registrar into a sipgo server: REGISTER goes to
// HandleRegister, an INVITE from an agent is authenticated and routed to
// the callee's most recent contact, and a ticker expires bindings.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	reg := registrar.New(registrar.Config{
		Realm: "ccswitch",
		// Built from the center's configuration at load time.
		Credentials: registrar.NewStaticCredentials("ccswitch", map[string]string{"agent1": "secret"}),
		OnChange: func(user string, contacts []registrar.Contact) {
			// Tell the switch whether user's phone is reachable.
		},
	})

	ua, _ := sipgo.NewUA()
	defer ua.Close()
	srv, _ := sipgo.NewServer(ua)
	srv.OnRegister(reg.HandleRegister)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		caller, ok := reg.Authenticate(req, tx) // answered 407/403/400 when !ok
		if !ok {
			return
		}
		contacts := reg.Lookup(req.Recipient.User)
		if len(contacts) == 0 {
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil))
			return
		}
		_ = caller // ... forward to contacts[0].URI via contacts[0].Source
	})

	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				reg.Expire()
			}
		}
	}()
	// srv.ListenAndServe(ctx, "udp", "127.0.0.1:5060")
}
