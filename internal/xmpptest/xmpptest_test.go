package xmpptest

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestProsody(t *testing.T) {
	t.Parallel()
	exercise(t, Prosody(t, Config{Users: map[string]string{"alice": "alicepw", "bob": "bobpw"}}))
}

func TestEjabberd(t *testing.T) {
	t.Parallel()
	exercise(t, Ejabberd(t, Config{Users: map[string]string{"alice": "alicepw", "bob": "bobpw"}}))
}

// exercise checks a fixture server end to end with slixmpp customers:
// a message both ways, chat states, a bounce for an offline user,
// registration on a running server and a restart on the same ports.
func exercise(t *testing.T, srv *Server) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	alice := StartCustomer(t, srv, CustomerConfig{JID: srv.JID("alice"), Password: "alicepw", Resource: "laptop"})
	bob := StartCustomer(t, srv, CustomerConfig{JID: srv.JID("bob"), Password: "bobpw", Resource: "desk"})

	alice.SendMessage(Message{To: srv.JID("bob"), Body: "hello bob", State: "active", ID: "m1"})
	got, err := bob.Expect(ctx, func(s Stanza) bool { return s.Kind == "message" && s.Body != "" })
	if err != nil {
		t.Fatal(err)
	}
	if got.Body != "hello bob" || got.State != "active" || got.ID != "m1" ||
		!strings.HasPrefix(got.From, srv.JID("alice")+"/laptop") || !strings.Contains(got.XML, "hello bob") {
		t.Errorf("bob got %+v", got)
	}
	bob.SendState(alice.JID, "composing")
	if _, err := alice.Expect(ctx, func(s Stanza) bool { return s.Kind == "message" && s.State == "composing" }); err != nil {
		t.Fatal(err)
	}

	if err := srv.Register("carol", "carolpw"); err != nil {
		t.Fatal(err)
	}
	alice.SendMessage(Message{To: srv.JID("carol"), Body: "are you there?", ID: "m2"})
	bounce, err := alice.Expect(ctx, func(s Stanza) bool { return s.Kind == "message" && s.Type == "error" })
	if err != nil {
		t.Fatal(err)
	}
	if bounce.ID != "m2" || bounce.Error != "service-unavailable" {
		t.Errorf("bounce for an offline user: %+v", bounce)
	}
	carol := StartCustomer(t, srv, CustomerConfig{JID: srv.JID("carol"), Password: "carolpw"})
	carol.Close()

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("running after Stop")
	}
	for _, c := range []*Customer{alice, bob} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("%s still connected after the server stopped", c.JID)
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Same ports, same accounts (carol was registered at run time).
	StartCustomer(t, srv, CustomerConfig{JID: srv.JID("carol"), Password: "carolpw"})
}
