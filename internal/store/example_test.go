package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ccswitch/ccswitch/internal/store"
)

// The IM gateway's event loop submits a chat line and goes on; the
// outcome comes back once the line is on disk.
func ExampleWriter_SubmitTranscript() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.Open(filepath.Join(dir, "center.db"), store.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	w := s.Writer()
	acked := make(chan error, 2)
	w.SubmitConversation(store.Conversation{ID: "im-1", Network: "xmpp", User: "ann@example.test"}, nil)
	w.SubmitTranscript(store.TranscriptLine{Conversation: "im-1", From: store.FromCustomer, Text: "Where is my order?"},
		func(err error) { acked <- err })
	w.SubmitTranscript(store.TranscriptLine{Conversation: "im-1", From: "robot", Text: "?"},
		func(err error) { acked <- err })
	fmt.Println("first line:", <-acked)
	fmt.Println("second line:", <-acked)

	lines, _ := s.Transcript(ctx, "im-1")
	for _, l := range lines {
		fmt.Println(l.Seq, l.From, l.Text)
	}
	// Output:
	// first line: <nil>
	// second line: store: append transcript: conversation im-1: unknown sender "robot" (want customer, agent, bot, system or supervisor): invalid input
	// 1 customer Where is my order?
}

// Two customers share a name: the bot asks for the customer number.
func ExampleStore_FindCustomer() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.Open(filepath.Join(dir, "center.db"), store.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	err = s.Seed(ctx, []store.Customer{
		{Number: "C-100", Name: "John Smith", Email: "john@example.test"},
		{Number: "C-101", Name: "John Smith"},
	}, []store.OrderSeed{{ID: "A-1", Customer: "C-100", Status: "shipped"}})
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"  JOHN   smith", "c-101", "John@Example.test", "Jane Doe"} {
		c, ok, err := s.FindCustomer(ctx, key)
		switch {
		case errors.Is(err, store.ErrAmbiguous):
			fmt.Printf("%q: several customers, ask for the number\n", key)
		case err != nil:
			panic(err)
		case ok:
			fmt.Printf("%q: %s\n", key, c.Number)
		default:
			fmt.Printf("%q: nobody\n", key)
		}
	}
	// Output:
	// "  JOHN   smith": several customers, ask for the number
	// "c-101": C-101
	// "John@Example.test": C-100
	// "Jane Doe": nobody
}
