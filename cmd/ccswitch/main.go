// Command ccswitch is the contact-center switch: `ccswitch serve` runs a
// center live with SIP phones, `ccswitch sim` simulates it on a virtual
// clock, `ccswitch erlang` prints the analytical Erlang C / Erlang A
// figures of a queue and `ccswitch erlang staff` the fewest agents for a
// goal, and `ccswitch replay` plays scripted scenarios on a virtual clock
// and checks their expectations. The command line is parsed with cobra.
// main only handles signals and exit codes; the work is in Main.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	err := m.ParseFlags(ctx, os.Args[1:])
	if err == nil {
		err = m.Run(ctx)
	}
	if err == nil && m.Serving() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
		err = m.Shutdown(context.Background())
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
	case errors.Is(err, errHelp):
		os.Exit(0)
	case errors.As(err, new(*usageError)):
		fmt.Fprintln(os.Stderr, "ccswitch:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ccswitch:", err)
		os.Exit(1)
	}
}
