package cti_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/internal/clock"
	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
	"github.com/ccswitch/ccswitch/tserver/cti"
)

// An agent's desktop logs in, goes ready and takes a chat.
func Example() {
	f, err := config.Parse("center.yaml", []byte(`
queues:
  - {name: chat, media: im}
agents:
  - {id: alice, number: "1001", skills: {chat: 5}, ready: false}
`))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	loop := clock.NewLoop()
	loopDone := make(chan struct{})
	go func() { loop.Run(ctx); close(loopDone) }()
	ts, err := tserver.New(f, tserver.Config{Clock: clock.NewReal(loop), DeferLogin: true})
	if err != nil {
		panic(err)
	}
	s, err := cti.NewServer(cti.Config{Loop: loop, TServer: ts})
	if err != nil {
		panic(err)
	}
	web := httptest.NewServer(s)

	c, err := cti.Dial(ctx, "ws"+strings.TrimPrefix(web.URL, "http"))
	if err != nil {
		panic(err)
	}
	login, _ := c.Login(ctx, "alice", "", "")
	fmt.Println("logged in:", login.Agent.State)
	_ = c.Ready(ctx)
	_ = loop.Do(ctx, func() { _, _ = ts.Arrive(&tserver.Arrival{Media: pbx.IM, DNIS: "chat", ANI: "ann"}) })
	ring, _ := c.ExpectEvent(ctx, "EventRinging", 0)
	fmt.Println(ring.Event, ring.Media, ring.Queue, ring.ANI)
	_ = c.Answer(ctx, ring.ConnID)
	est, _ := c.ExpectEvent(ctx, "EventEstablished", ring.ConnID)
	fmt.Println(est.Event, est.AgentID)
	_, err = c.Do(ctx, cti.Request{Request: cti.RequestReleaseCall})
	fmt.Println(err)

	_ = c.Close()
	s.Close()
	web.Close()
	cancel()
	<-loopDone
	// Output:
	// logged in: not_ready
	// EventRinging im chat ann
	// EventEstablished alice
	// RequestReleaseCall refused (invalid): cti: RequestReleaseCall: missing conn_id
}
