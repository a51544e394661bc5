package xmpp_test

import (
	"context"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/imgw"
	"github.com/ccswitch/ccswitch/imgw/xmpp"
)

type printer struct{ log zerolog.Logger }

func (p printer) Receive(in imgw.Inbound) {
	p.log.Info().Str("from", in.From.String()).Str("text", in.Text).Msg("inbound")
}

// The component connects to the server's component port and serves
// support@support.example.test until ctx ends.
func ExampleNew() {
	log := zerolog.New(os.Stderr)
	a, err := xmpp.New(xmpp.Config{
		Addr:     "127.0.0.1:5347",
		Domain:   "support.example.test",
		Secret:   "s3cret",
		Receiver: printer{log},
		Log:      log,
	})
	if err != nil {
		log.Fatal().Err(err).Send()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go a.Run(ctx)
	// Kept until the component is connected, then sent from
	// support@support.example.test.
	a.Send(imgw.Outbound{
		To:   imgw.Address{Network: a.Network(), User: "alice@example.test", Device: "laptop"},
		Text: "Welcome! Who are you?",
		ID:   "welcome-1",
	})
}
