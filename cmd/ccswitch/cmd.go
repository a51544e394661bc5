package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/ccswitch/ccswitch/internal/config"
	"github.com/ccswitch/ccswitch/internal/live"
	"github.com/ccswitch/ccswitch/sim"
	simreport "github.com/ccswitch/ccswitch/sim/report"
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

// Main is the ccswitch program: parse the command line, run it, close.
type Main struct {
	stdout, stderr io.Writer
	log            zerolog.Logger
	run            func(context.Context) error
	center         *live.Center // set by serve: runs until Close
	// tune, when set (by tests), adjusts serve's live.Config after the
	// flags: what no flag may set, such as a fault to inject.
	tune func(*live.Config)
	// helped is set when a command printed its help.
	helped bool
}

// NewMain returns a program writing results to stdout and structured logs
// to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{stdout: stdout, stderr: stderr, log: zerolog.New(stderr).With().Timestamp().Logger()}
}

// ParseFlags reads the command and its flags, which may come before and
// after its arguments, and checks them: every error it returns is bad usage
// or bad input (exit code 2). --help prints the command's help to stdout
// and returns errHelp.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	root := m.newRootCmd(args)
	if len(args) == 0 {
		fmt.Fprint(m.stderr, root.UsageString())
		return usagef("no command given")
	}
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.As(err, new(*usageError)) {
			return err
		}
		// cobra's own: an unknown command, with its suggestions.
		return usagef("%v\nRun 'ccswitch --help' for the commands.", err)
	}
	if m.helped {
		return errHelp
	}
	return nil
}

// newRootCmd returns the command tree. A command's RunE only checks its
// flags and arguments and sets m.run: Run does the work, so that tests and
// main can watch the two steps apart.
func (m *Main) newRootCmd(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "ccswitch",
		Short: "A contact-center switch that runs for real and simulates with the same code",
		Long: `ccswitch — a contact-center switch that runs for real and simulates with the same code.

Flags may come before or after a command's arguments.`,
		Example: `  ccswitch serve --config examples/sip-center.yaml
  ccswitch sim examples/demo-center.yaml --json
  ccswitch erlang staff --per-hour 360 --aht 180s --sl 0.8 --within 20s
  ccswitch replay examples/replay/*.yaml --junit replay.xml`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(m.stdout)
	root.SetErr(m.stderr)
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		m.helped = true
		help(c, args)
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return flagError(c, args, err)
	})
	root.AddCommand(m.newServeCmd(), m.newSimCmd(), m.newErlangCmd(), m.newReplayCmd())
	return root
}

// flagError makes a flag that cobra refused a usage error naming the
// command. Go's flag package took long flags with one dash (-config); pflag
// reads -config as the shorthands c, o, n, ...: say so.
func flagError(c *cobra.Command, args []string, err error) error {
	name := commandName(c)
	for _, a := range args {
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			long, _, _ := strings.Cut(a[1:], "=")
			if c.Flags().Lookup(long) != nil {
				return usagef("%s: %s: long flags take two dashes: -%s", name, a, a)
			}
		}
	}
	return usagef("%s: %v (see 'ccswitch %s --help')", name, err, name)
}

// commandName is the command's path without the program: "erlang staff".
func commandName(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// exactArgs accepts exactly n arguments, called what in the error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s, got %d argument(s) (see 'ccswitch %s --help')", commandName(c), what, len(args), commandName(c))
		}
		return nil
	}
}

// noArgs refuses arguments, naming the command's subcommands if it has any.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var subs []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, s.Name())
		}
	}
	if len(subs) > 0 {
		return usagef("%s: unknown command %q (commands: %s)", commandName(c), args[0], strings.Join(subs, ", "))
	}
	return usagef("%s: unexpected argument %q (see 'ccswitch %s --help')", commandName(c), args[0], commandName(c))
}

// durationValue is a time.Duration flag written like a duration in the
// center file: "240s", "4m" or a bare number of seconds ("240", "0.5").
type durationValue struct{ d *time.Duration }

// String is "0" for no duration, which help then does not show as a default.
func (v durationValue) String() string {
	if v.d == nil || *v.d == 0 {
		return "0"
	}
	return v.d.String()
}

func (v durationValue) Type() string { return "duration" }

func (v durationValue) Set(s string) error {
	// The center file's own rule, config.Duration, on the flag's text.
	var d config.Duration
	if err := d.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: s}); err != nil {
		if strings.HasPrefix(strings.TrimSpace(s), "-") {
			return errors.New("must not be negative")
		}
		return errors.New("want a duration such as 240s, 4m or a number of seconds (240)")
	}
	*v.d = d.D()
	return nil
}

// durationVar defines a duration flag that also takes bare seconds.
func durationVar(f *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	f.Var(durationValue{p}, name, usage)
}

// logLevelValue is --log-level: a zerolog level by name.
type logLevelValue struct{ l *zerolog.Level }

func (v logLevelValue) String() string { return v.l.String() }
func (v logLevelValue) Type() string   { return "level" }

func (v logLevelValue) Set(s string) error {
	l, err := zerolog.ParseLevel(s)
	if err != nil || s == "" {
		return errors.New("want debug, info, warn, error or disabled")
	}
	*v.l = l
	return nil
}

// logLevelVar adds --log-level to a command's flags.
func logLevelVar(f *pflag.FlagSet, p *zerolog.Level) {
	*p = zerolog.InfoLevel
	f.Var(logLevelValue{p}, "log-level", "log level: debug, info, warn, error, disabled")
}

// aliases makes each key a second name of the flag it maps to.
func aliases(names map[string]string) func(*pflag.FlagSet, string) pflag.NormalizedName {
	return func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := names[name]; ok {
			return pflag.NormalizedName(to)
		}
		return pflag.NormalizedName(name)
	}
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

func (m *Main) newSimCmd() *cobra.Command {
	var (
		cfg      sim.Config
		asJSON   bool
		verify   bool
		out      string
		report   simreport.Config
		reps     int
		seed     uint64
		logLevel zerolog.Level
	)
	c := &cobra.Command{
		Use:   "sim SCENARIO.yaml",
		Short: "Simulate a center on a virtual clock",
		Long: `Simulates the center in SCENARIO.yaml (queues, agents, traffic, run) on a
virtual clock with the real routing domain, and reports per-queue KPIs with
95% confidence intervals over the replications.

--out DIR also writes DIR/result.json (the --json output, with the results
per interval), DIR/intervals.csv (one row per queue and interval) and
DIR/report.html (one page with charts that opens offline). A progress bar
shows on stderr when it is a terminal and the run takes over a second.`,
		Example: `  ccswitch sim examples/demo-center.yaml
  ccswitch sim examples/demo-center.yaml --json --replications 20
  ccswitch sim examples/bank-day.yaml --out bank-report`,
		Args: exactArgs(1, "one scenario file"),
		RunE: func(_ *cobra.Command, args []string) error {
			m.log = m.log.Level(logLevel)
			f, err := config.Load(args[0])
			if err != nil {
				return &usageError{err}
			}
			if len(f.Traffic) == 0 {
				return usagef("sim: %s has no traffic section to simulate", f.Path)
			}
			if reps < 0 || reps > 1000 {
				return usagef("sim: --replications %d out of range 1..1000", reps)
			}
			if reps > 0 {
				f.Run.Replications = reps
			}
			if seed != 0 {
				f.Run.Seed = seed
			}
			if !(report.SLGoal > 0 && report.SLGoal <= 1) {
				return usagef("sim: --sl-goal %v is not a share in (0, 1]", report.SLGoal)
			}
			m.run = func(ctx context.Context) error { return m.simulate(ctx, f, cfg, asJSON, verify, out, report) }
			return nil
		},
	}
	fs := c.Flags()
	fs.BoolVar(&asJSON, "json", false, "print the machine-readable result")
	fs.StringVar(&out, "out", "", "also write result.json, intervals.csv and report.html into this folder")
	fs.Float64Var(&report.SLGoal, "sl-goal", 0.8, "the service level the report's chart marks as the goal")
	fs.IntVar(&reps, "replications", 0, "override run.replications")
	fs.Uint64Var(&seed, "seed", 0, "override run.seed (0 keeps the file's)")
	fs.IntVar(&cfg.Parallel, "parallel", 0, "replications run at once (default: CPUs; results do not depend on it)")
	fs.BoolVar(&verify, "verify", false, "compare every interval with the Erlang formulas and say where they disagree (multi-skill, chats, shifts...)")
	fs.BoolVar(&cfg.Strict, "strict", false, "treat warnings (a queue nobody serves, an unstable queue) as errors: exit 2")
	logLevelVar(fs, &logLevel)
	return c
}

func (m *Main) simulate(ctx context.Context, f *config.File, cfg sim.Config, asJSON, verify bool, out string, rc simreport.Config) error {
	start := time.Now()
	tick, stop := m.progressBar(f.Run.Replications)
	cfg.Progress = tick
	res, err := sim.Run(ctx, f, cfg)
	stop()
	if errors.Is(err, sim.ErrWarnings) {
		return &usageError{err} // --strict: a misleading scenario is bad input
	}
	if err != nil {
		return err
	}
	if asJSON {
		// The text output lists the warnings itself; with --json they
		// also go to stderr, for the person watching.
		for _, w := range res.Warnings {
			fmt.Fprintln(m.stderr, "warning:", w)
		}
	}
	if verify {
		res.Verify = sim.Verify(f, res)
	}
	// Wall time goes to the log, never into the result: the same
	// scenario and seed must give the same bytes.
	m.log.Info().Str("scenario", f.Path).Int("replications", res.Replications).
		Uint64("events", res.Events).Float64("wall_s", time.Since(start).Seconds()).Msg("simulation finished")
	if out != "" {
		if err := simreport.Write(out, f, res, rc); err != nil {
			return err
		}
		fmt.Fprintf(m.stderr, "wrote %s (and %s, %s)\n", filepath.Join(out, simreport.HTMLFile), simreport.ResultFile, simreport.IntervalsFile)
	}
	if asJSON {
		return simreport.WriteJSON(m.stdout, res)
	}
	if err := res.WriteText(m.stdout); err != nil || !verify {
		return err
	}
	fmt.Fprintln(m.stdout)
	return sim.WriteChecks(m.stdout, res.Verify)
}

// progressBar returns what counts the finished replications on a progress
// bar on stderr, shown once the run has taken a second, and what removes
// it; both do nothing unless stderr is a terminal.
func (m *Main) progressBar(replications int) (tick, stop func()) {
	file, ok := m.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil, func() {}
	}
	var (
		mu       sync.Mutex
		finished int
		stopped  bool
		bar      *progressbar.ProgressBar
	)
	timer := time.AfterFunc(time.Second, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		bar = progressbar.NewOptions(replications, progressbar.OptionSetWriter(file),
			progressbar.OptionSetDescription("simulating"), progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("replications"), progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		_ = bar.Add(finished)
	})
	tick = func() {
		mu.Lock()
		defer mu.Unlock()
		finished++
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	stop = func() {
		timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return tick, stop
}
