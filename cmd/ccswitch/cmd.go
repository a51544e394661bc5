package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/live"
	"github.com/ccswitch/ccswitch/sim"
)

// errHelp is returned after --help printed the usage.
var errHelp = errors.New("help requested")

// usageError is bad usage or bad input: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

const topUsage = `ccswitch — a contact-center switch that runs for real and simulates with the same code.

Usage:
  ccswitch serve --config CENTER.yaml   run the center live: SIP phones, callers, status
  ccswitch sim [flags] SCENARIO.yaml    simulate a center on a virtual clock
  ccswitch erlang [flags]               analytical Erlang C / Erlang A figures

Run 'ccswitch COMMAND --help' for a command's flags and an example.
`

// Main is the ccswitch program: parse the command line, run it, close.
type Main struct {
	stdout, stderr io.Writer
	log            zerolog.Logger
	run            func(context.Context) error
	center         *live.Center // set by serve: runs until Close
	// tune, when set (by tests), adjusts serve's live.Config after the
	// flags: what no flag may set, such as a fault to inject.
	tune func(*live.Config)
}

// NewMain returns a program writing results to stdout and structured logs
// to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{stdout: stdout, stderr: stderr, log: zerolog.New(stderr).With().Timestamp().Logger()}
}

// addLogFlag adds --log-level to a subcommand's flags.
func (m *Main) addLogFlag(fs *flag.FlagSet) *string {
	return fs.String("log-level", "info", "log level: debug, info, warn, error, disabled")
}

func (m *Main) setLogLevel(level string) error {
	l, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return usagef("--log-level %q: want debug, info, warn, error or disabled", level)
	}
	m.log = m.log.Level(l)
	return nil
}

// ParseFlags reads the subcommand and its flags.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.stderr, topUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "sim":
		return m.parseSim(args[1:])
	case "erlang":
		return m.parseErlang(args[1:])
	case "serve":
		return m.parseServe(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(m.stdout, topUsage)
		return errHelp
	}
	fmt.Fprint(m.stderr, topUsage)
	return usagef("unknown command %q", args[0])
}

// Run executes the parsed command.
func (m *Main) Run(ctx context.Context) error {
	if m.run == nil {
		return nil
	}
	return m.run(ctx)
}

// Serving reports whether Run started a server that runs until Close.
func (m *Main) Serving() bool { return m.center != nil }

// Shutdown drains a server Run started (serve's --drain) and closes it;
// it does nothing for other commands.
func (m *Main) Shutdown(ctx context.Context) error {
	if m.center == nil {
		return nil
	}
	c := m.center
	m.center = nil
	return c.Shutdown(ctx)
}

// Close stops what Run started.
func (m *Main) Close() error {
	if m.center != nil {
		return m.center.Close()
	}
	return nil
}

func (m *Main) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.Usage = func() {
		fmt.Fprint(m.stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{err}
	}
	return nil
}

const simUsage = `Usage: ccswitch sim [flags] SCENARIO.yaml

Simulates the center in SCENARIO.yaml (queues, agents, traffic, run) on a
virtual clock with the real routing domain, and reports per-queue KPIs with
95% confidence intervals over the replications.

Example:
  ccswitch sim --json examples/demo-center.yaml

Flags:
`

func (m *Main) parseSim(args []string) error {
	fs := m.newFlagSet("sim", simUsage)
	asJSON := fs.Bool("json", false, "print the machine-readable result")
	reps := fs.Int("replications", 0, "override run.replications")
	seed := fs.Uint64("seed", 0, "override run.seed (0 keeps the file's)")
	parallel := fs.Int("parallel", 0, "replications run at once (default: CPUs; results do not depend on it)")
	logLevel := m.addLogFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := m.setLogLevel(*logLevel); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("sim: want exactly one scenario file, got %d", fs.NArg())
	}
	f, err := config.Load(fs.Arg(0))
	if err != nil {
		return &usageError{err}
	}
	if len(f.Traffic) == 0 {
		return usagef("sim: %s has no traffic section to simulate", f.Path)
	}
	if *reps < 0 || *reps > 1000 {
		return usagef("sim: --replications %d out of range 1..1000", *reps)
	}
	if *reps > 0 {
		f.Run.Replications = *reps
	}
	if *seed != 0 {
		f.Run.Seed = *seed
	}
	m.run = func(ctx context.Context) error {
		start := time.Now()
		res, err := sim.Run(ctx, f, sim.Config{Parallel: *parallel})
		if err != nil {
			return err
		}
		// Wall time goes to the log, never into the result: the same
		// scenario and seed must give the same bytes.
		m.log.Info().Str("scenario", f.Path).Int("replications", res.Replications).
			Uint64("events", res.Events).Float64("wall_s", time.Since(start).Seconds()).Msg("simulation finished")
		if *asJSON {
			enc := json.NewEncoder(m.stdout)
			return enc.Encode(res)
		}
		return writeSimTable(m.stdout, res)
	}
	return nil
}

func writeSimTable(w io.Writer, r *sim.Result) error {
	fmt.Fprintf(w, "%d replication(s) of %s after %s warm-up, seed %d, %d events\n\n",
		r.Replications, time.Duration(r.Duration*float64(time.Second)), time.Duration(r.Warmup*float64(time.Second)), r.Seed, r.Events)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "queue\tmedia\toffered\tanswered\tabandoned\tP(wait)\tASA s\tservice level\tabandon rate\t")
	for _, q := range r.Queues {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.4f ±%.4f\t%.2f ±%.2f\t%.4f ±%.4f\t%.4f ±%.4f\t\n",
			q.Name, q.Media, q.Offered, q.Answered, q.Abandoned,
			q.PW, q.CI95.PW, q.ASA, q.CI95.ASA, q.ServiceLevel, q.CI95.ServiceLevel, q.AbandonRate, q.CI95.AbandonRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nagent occupancy %.4f ±%.4f (± is the 95%% confidence half-width)\n", r.Agents.Occupancy, r.Agents.OccupancyCI95)
	return err
}

const erlangUsage = `Usage: ccswitch erlang [flags]

Prints the analytical KPIs of an M/M/n queue (Erlang C) or, with --patience,
of an M/M/n+M queue (Erlang A).

Example:
  ccswitch erlang --agents 30 --per-hour 360 --handle 240s --patience 120s --sl-target 20s

Flags:
`

func (m *Main) parseErlang(args []string) error {
	fs := m.newFlagSet("erlang", erlangUsage)
	agents := fs.Int("agents", 0, "number of agents (required)")
	perHour := fs.Float64("per-hour", 0, "arrivals per hour (required)")
	handle := fs.Duration("handle", 0, "mean handle time (required)")
	patience := fs.Duration("patience", 0, "mean patience (0: nobody abandons: Erlang C)")
	sl := fs.Duration("sl-target", 20*time.Second, "service-level target")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var missing []string
	if *agents <= 0 {
		missing = append(missing, "--agents")
	}
	if *perHour <= 0 {
		missing = append(missing, "--per-hour")
	}
	if *handle <= 0 {
		missing = append(missing, "--handle")
	}
	if len(missing) > 0 {
		return usagef("erlang: %s must be positive", strings.Join(missing, ", "))
	}
	m.run = func(context.Context) error {
		lambda, mu := *perHour/3600, 1/handle.Seconds()
		var (
			a   sim.Analytic
			err error
		)
		model := "erlang_c"
		if *patience > 0 {
			model = "erlang_a"
			a, err = sim.ErlangA(*agents, lambda, mu, 1/patience.Seconds(), sl.Seconds())
		} else {
			a, err = sim.ErlangC(*agents, lambda, mu, sl.Seconds())
		}
		if err != nil {
			return &usageError{err}
		}
		if *asJSON {
			return json.NewEncoder(m.stdout).Encode(map[string]any{
				"model": model, "pw": a.PW, "asa_s": a.ASA, "service_level": a.ServiceLevel,
				"abandon_rate": a.AbandonRate, "occupancy": a.Occupancy,
			})
		}
		_, err = fmt.Fprintf(m.stdout, "%s: P(wait) %.4f  ASA %.2fs  service level %.4f  abandon rate %.4f  occupancy %.4f\n",
			model, a.PW, a.ASA, a.ServiceLevel, a.AbandonRate, a.Occupancy)
		return err
	}
	return nil
}
