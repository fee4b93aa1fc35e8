// Command hier is the command-line interface of the hier project: GPT-2 with Hugging Face
// semantics on libtorch (tokenize, predict, inspect, …).
//
// # Layout
//
// main.go sets up the urfave/cli app, the global flags and the helpers every command shares.
// Each command lives in its own file (tokenize.go, predict.go, inspect.go, version.go, …) and
// registers itself from an init function:
//
//	func init() { commands = append(commands, cmdEmbed()) }
//
//	func cmdEmbed() *cli.Command {
//		return &cli.Command{
//			Name:  "embed",
//			Usage: "one line for 'hier --help'",
//			Flags: []cli.Flag{&cli.StringFlag{Name: "model", Usage: "model directory"}},
//			Action: func(c *cli.Context) error {
//				env := envOf(c) // device, seed, threads, --json, logger, stdout
//				…
//				return nil // or an error: printed as one line "hier: error: …", exit 1
//			},
//		}
//	}
//
// newApp does the rest for every registered command (and its subcommands):
//   - appends the global flags (--device, --seed, --threads, --json, --log-level) to the
//     command's own flags, so they work before and after the command name ("hier --json
//     predict …" and "hier predict … --json"); a value given after the command name wins. A
//     command that defines a flag with one of these names keeps its own;
//   - runs setup before the action: log level, torch.CheckRuntime, torch.SetNumThreads,
//     torch.ManualSeed and torch.ParseDevice; the result is the *Env that envOf returns;
//   - rejects positional arguments unless the command sets ArgsUsage;
//   - turns flag-parsing errors into one-line usage errors (exit 2).
//
// Conventions: results go to env.Out (stdout); with --json stdout holds exactly one JSON
// document (writeJSON) and nothing else. Logs go through log/slog (text handler) to stderr only.
// Do not use Required: true on flags (urfave then prints the whole help on error); check with
// requireString instead. Return errors, never panic or os.Exit from a command; usageErrorf
// marks a mistake in the command line (exit 2).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/urfave/cli/v2"
)

// commands holds every subcommand; each command's file appends to it from an init function.
// newApp sorts them by name.
var commands []*cli.Command

// Names of the global flags.
const (
	flagDevice   = "device"
	flagSeed     = "seed"
	flagThreads  = "threads"
	flagJSON     = "json"
	flagLogLevel = "log-level"
)

// Exit codes.
const (
	exitError    = 1 // the command failed
	exitUsage    = 2 // the command line is wrong
	exitInternal = 3 // a bug (a recovered panic)
)

// defaultSeed seeds libtorch's generators when --seed is not given.
const defaultSeed = 42

// globalFlags returns fresh copies of the global flags (urfave flags record their own state,
// so the app and every command need distinct instances). category groups them in a command's
// help ("" for the app's own list).
func globalFlags(category string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagDevice, Value: "auto", Category: category,
			Usage: "compute device: auto (cuda:0 when CUDA is available, else cpu), cpu, cuda or cuda:N"},
		&cli.Uint64Flag{Name: flagSeed, Value: defaultSeed, Category: category,
			Usage: "seed of libtorch's random generators"},
		&cli.IntFlag{Name: flagThreads, Value: runtime.NumCPU(), Category: category,
			DefaultText: fmt.Sprintf("the number of CPUs, %d", runtime.NumCPU()),
			Usage:       "libtorch intra-op CPU threads"},
		&cli.BoolFlag{Name: flagJSON, Category: category,
			Usage: "print one machine-readable JSON document on stdout (logs stay on stderr)"},
		&cli.StringFlag{Name: flagLogLevel, Value: "warn", Category: category,
			Usage: "stderr log level: debug, info, warn or error"},
	}
}

// Env is what setup resolved from the global flags; commands get it with envOf.
type Env struct {
	Device     torch.Device // parsed --device
	DeviceFlag string       // --device as given
	Seed       uint64
	Threads    int
	JSON       bool
	Log        *slog.Logger // text handler on stderr; also slog's default logger
	Out        io.Writer    // stdout: results only
	Err        io.Writer    // stderr
}

const envKey = "hier.env"

// envOf returns the Env that setup stored for this invocation.
func envOf(c *cli.Context) *Env {
	if c.App.Metadata != nil {
		if e, ok := c.App.Metadata[envKey].(*Env); ok {
			return e
		}
	}
	// Only reached by a command that bypassed newApp; run the setup now.
	if err := setup(c); err == nil {
		if e, ok := c.App.Metadata[envKey].(*Env); ok {
			return e
		}
	}
	return &Env{Device: torch.CPU, DeviceFlag: "cpu", Seed: defaultSeed, Threads: torch.NumThreads(),
		Log: slog.Default(), Out: c.App.Writer, Err: c.App.ErrWriter}
}

// flagCtx returns the innermost context in c's lineage where the global flag name was set on
// the command line (the command's own copy wins over the app's), or c when it was set nowhere
// (every copy has the same default).
func flagCtx(c *cli.Context, name string) *cli.Context {
	for _, x := range c.Lineage() {
		if x.Command == nil {
			continue
		}
		if slices.Contains(x.LocalFlagNames(), name) {
			return x
		}
	}
	return c
}

func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usageErrorf("--log-level %q: want debug, info, warn or error", s)
}

// setup applies the global flags: logger, libtorch runtime check, threads, seed, device.
func setup(c *cli.Context) error {
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]interface{}{}
	}
	errW := c.App.ErrWriter
	if errW == nil {
		errW = os.Stderr
	}
	out := c.App.Writer
	if out == nil {
		out = os.Stdout
	}
	level, err := parseLogLevel(flagCtx(c, flagLogLevel).String(flagLogLevel))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(errW, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	if err := torch.CheckRuntime(); err != nil {
		return fmt.Errorf("libtorch runtime check failed: %w", err)
	}
	threads := flagCtx(c, flagThreads).Int(flagThreads)
	if threads < 1 {
		return usageErrorf("--threads must be >= 1, got %d", threads)
	}
	if err := torch.SetNumThreads(threads); err != nil {
		return fmt.Errorf("--threads %d: %w", threads, err)
	}
	seed := flagCtx(c, flagSeed).Uint64(flagSeed)
	if err := torch.ManualSeed(seed); err != nil {
		return fmt.Errorf("--seed %d: %w", seed, err)
	}
	devFlag := flagCtx(c, flagDevice).String(flagDevice)
	dev, err := torch.ParseDevice(devFlag)
	if err != nil {
		return usageErrorf("--device: %v", err)
	}
	env := &Env{
		Device: dev, DeviceFlag: devFlag, Seed: seed, Threads: threads,
		JSON: flagCtx(c, flagJSON).Bool(flagJSON),
		Log:  logger, Out: out, Err: errW,
	}
	c.App.Metadata[envKey] = env
	logger.Debug("setup", "libtorch", torch.LibtorchVersion(), "device", dev.String(),
		"threads", threads, "seed", seed, "json", env.JSON)
	return nil
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErrorf returns a usage error (exit status 2).
func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// onUsageError turns urfave's flag-parsing errors into one-line usage errors.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	help := "hier --help"
	if isSubcommand && c.Command != nil && c.Command.HelpName != "" {
		help = c.Command.HelpName + " --help"
	}
	return usageErrorf("%v (see '%s')", err, help)
}

// requireString returns the value of a string flag, or a usage error when it is empty.
func requireString(c *cli.Context, name string) (string, error) {
	v := c.String(name)
	if strings.TrimSpace(v) == "" {
		return "", usageErrorf("%s: --%s is required (see 'hier %s --help')", c.Command.Name, name, c.Command.Name)
	}
	return v, nil
}

// prepared records the commands prepare has already changed.
var prepared = map[*cli.Command]bool{}

// prepare adds the global flags, the setup and the argument check to cmd and its subcommands.
// It is idempotent.
func prepare(cmd *cli.Command) {
	if prepared[cmd] {
		return
	}
	prepared[cmd] = true
	for _, f := range globalFlags("Global options") {
		if !hasFlag(cmd.Flags, f.Names()[0]) {
			cmd.Flags = append(cmd.Flags, f)
		}
	}
	cmd.OnUsageError = onUsageError
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		if err := setup(c); err != nil {
			return err
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	if action := cmd.Action; action != nil {
		takesArgs := cmd.ArgsUsage != ""
		cmd.Action = func(c *cli.Context) error {
			if !takesArgs && c.Args().Present() {
				return usageErrorf("%s: unexpected argument %q (values go after their flag, e.g. --text %q; flags must come before any argument; see 'hier %s --help')",
					c.Command.Name, c.Args().First(), c.Args().First(), c.Command.Name)
			}
			return action(c)
		}
	}
	for _, sub := range cmd.Subcommands {
		prepare(sub)
	}
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// newApp builds the CLI from the registered commands.
func newApp() *cli.App {
	cmds := slices.Clone(commands)
	slices.SortFunc(cmds, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	for _, cmd := range cmds {
		prepare(cmd)
	}
	app := &cli.App{
		Name:     "hier",
		HelpName: "hier",
		Usage:    "hierarchical user-interest recommender on GPT-2 (Hugging Face semantics) and libtorch",
		Description: "Global options may be given before or after the command name.\n" +
			"Errors are printed as one line on stderr (\"hier: error: ...\"); the exit status is 1 for\n" +
			"a failed command, 2 for a wrong command line. With --json, stdout holds one JSON document.",
		HideVersion:               true,
		DisableSliceFlagSeparator: true, // "--text 'a, b'" is one text
		Flags:                     globalFlags(""),
		Commands:                  cmds,
		OnUsageError:              onUsageError,
		ExitErrHandler:            func(*cli.Context, error) {}, // main prints errors (one line)
		Metadata:                  map[string]interface{}{},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("unknown command %q (see 'hier --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	return app
}

// writeJSON writes v as one compact JSON document on one line, newline-terminated (HTML
// characters such as "<|endoftext|>" are not escaped). Pipe through jq to pretty-print.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// checkModelDir checks that dir is a directory holding config.json, with errors that say
// which of these is wrong.
func checkModelDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("model directory %s does not exist", dir)
	}
	if err != nil {
		return fmt.Errorf("model directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("model path %s is not a directory (want a checkpoint directory with %s and %s)", dir, gpt2.ConfigFile, gpt2.SafetensorsFile)
	}
	if _, err := os.Stat(filepath.Join(dir, gpt2.ConfigFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("model directory %s has no %s (not a Hugging Face checkpoint directory)", dir, gpt2.ConfigFile)
		}
		return err
	}
	return nil
}

// loadTokenizer loads the tokenizer saved in modelDir (falling back to the default vocabulary
// in third_party/gpt2), or the default vocabulary when modelDir is "".
func loadTokenizer(modelDir string) (*gpt2.Tokenizer, error) {
	if modelDir != "" {
		tok, err := gpt2.LoadTokenizerFor(modelDir)
		if err != nil {
			return nil, fmt.Errorf("tokenizer for %s: %w", modelDir, err)
		}
		return tok, nil
	}
	return gpt2.LoadDefaultTokenizer()
}

// oneLine flattens a (possibly joined, multi-line) error message into one line.
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return l == "" }), "; ")
}

// run executes the CLI and returns the exit status. Errors, and panics, are reported as one
// line on stderr.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "hier: error: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = exitInternal
		}
	}()
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	err := app.Run(args)
	if err == nil {
		return 0
	}
	msg := oneLine(err.Error())
	if msg == "" {
		msg = "unknown error"
	}
	fmt.Fprintf(stderr, "hier: error: %s\n", msg)
	var ue *usageError
	var ec cli.ExitCoder
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ec) && ec.ExitCode() != 0:
		return ec.ExitCode()
	}
	return exitError
}

func main() {
	// The CLI trains small models in many steps of the same large tensors, where glibc's
	// default unmapping of freed blocks costs more than the memory it gives back: pre-training
	// the pipeline's backbone on Amazon Musical Instruments ran 2.3x slower without this (60
	// steps: 104 s vs 45 s of training). HIER_MALLOC=system keeps glibc's defaults (see
	// torch.TuneMalloc for the trade-off in peak RSS).
	if os.Getenv("HIER_MALLOC") != "system" && !torch.MallocTuned {
		torch.TuneMalloc()
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
