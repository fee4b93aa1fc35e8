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
//   - rejects positional arguments unless the command sets ArgsUsage, with a hint naming the
//     flag the argument most likely belongs to (strayArgError);
//   - accepts the old spellings of renamed flags (oldFlagNames: --max-len, -k) as hidden flags
//     and moves their values to the canonical flag before the action runs;
//   - completes command and flag names for the shell scripts of 'hier completion';
//   - turns flag-parsing errors into one-line usage errors (exit 2), suggesting the closest
//     flag name.
//
// Conventions: results go to env.Out (stdout); with --json stdout holds exactly one JSON
// document (writeJSON) and nothing else. Logs go through log/slog (text handler) to stderr only.
// Do not use Required: true on flags (urfave then prints the whole help on error, and --config
// can supply some of them); check with requireString and end the flag's usage with
// "(required)" instead. Return errors, never panic or os.Exit from a command; usageErrorf
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
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/pipeline"
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
//
// The log level defaults to warn; the commands that train (demo, run, pretrain, finetune)
// define their own --log-level with the default info (logLevelFlag), since their stage logs
// are the progress report of a long run.
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
		logLevelFlag(category, "warn"),
	}
}

// logLevelFlag is --log-level with the default level def.
func logLevelFlag(category, def string) cli.Flag {
	return &cli.StringFlag{Name: flagLogLevel, Value: def, Category: category,
		Usage: "stderr log level: debug, info, warn or error"}
}

// oldFlagNames maps the old spellings of renamed flags to their canonical names. A command
// that defines a canonical flag also defines the old one as a hidden flag (oldSpelling), so
// existing scripts keep working; prepare moves a value given under the old name to the
// canonical flag before the action runs.
var oldFlagNames = map[string]string{
	"max-len": "max-length", // run, demo, pretrain, finetune, predict, embed (Hugging Face's max_length)
	"k":       "top-k",      // recommend
}

// oldSpelling is the hidden flag accepting the old spelling old of an int flag.
func oldSpelling(old string) cli.Flag {
	return &cli.IntFlag{Name: old, Hidden: true, Usage: "old spelling of --" + oldFlagNames[old]}
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
	if errors.Is(err, torch.ErrDeviceUnavailable) {
		return fmt.Errorf("--device: %w", err) // a well-formed request this machine cannot serve: exit 1
	}
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

// onUsageError turns urfave's flag-parsing errors into one-line usage errors; an unknown flag
// gets the closest visible flag name of the command as a suggestion.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	help := "hier --help"
	flags := c.App.VisibleFlags()
	if isSubcommand && c.Command != nil {
		if c.Command.HelpName != "" {
			help = c.Command.HelpName + " --help"
		}
		flags = c.Command.VisibleFlags()
	}
	hint := ""
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		for _, f := range flags {
			names = append(names, f.Names()...)
		}
		if s := closest(name, names); s != "" {
			hint = fmt.Sprintf("; did you mean %s?", dashed(s))
		}
	}
	return usageErrorf("%v%s (see '%s')", err, hint, help)
}

// dashed writes a flag name the way it is typed: -v for one letter, --name otherwise.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// closest returns the candidate nearest to s when it is near enough to be a typo of it (an
// edit distance of at most a third of its length, at least 1, or s a prefix of it of 3 or more
// characters), else "". Ties keep the first candidate.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if c == s {
			return c
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if len(s) >= 3 && strings.HasPrefix(c, s) {
			d = 0
		}
		if d <= max(1, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance of a and b (optimal string alignment: an
// insertion, deletion, substitution or swap of two adjacent letters costs 1), over bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// didYouMean is `; did you mean "NAME"?` for the visible command nearest to name, or "".
func didYouMean(app *cli.App, name string) string {
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Names()...)
	}
	if s := closest(name, names); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
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
	// No "help" subcommand: urfave's fails an unknown topic with exit status 3 (reserved for
	// bugs) and suggests only "help". 'hier CMD help' still shows the command's help (below).
	cmd.HideHelpCommand = true
	if cmd.BashComplete == nil {
		cmd.BashComplete = completeCommand(cmd)
	}
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
				if c.Args().Len() == 1 && c.Args().First() == "help" && len(c.Lineage()) > 1 {
					return cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name)
				}
				return strayArgError(c)
			}
			if err := useCanonicalNames(c); err != nil {
				return err
			}
			return action(c)
		}
	}
	for _, sub := range cmd.Subcommands {
		prepare(sub)
	}
}

// strayHints are the flags a stray argument most likely belongs to, most likely first; a
// command's hint is the first of them that it defines and that was not given yet (or is
// repeatable). --input-ids comes first for an argument that looks like token ids.
var strayHints = []string{"text", "user", "data", "model", "run"}

var idListArg = regexp.MustCompile(`^\[?\s*-?\d+(\s*,\s*-?\d+)*\s*\]?$`)

// strayArgError is the usage error for a positional argument given to a command that takes
// none: it names the flag the argument most likely belongs to, and says that flags after the
// argument were not read (flag parsing stops at the first argument).
func strayArgError(c *cli.Context) error {
	name, arg := c.Command.Name, c.Args().First()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: unexpected argument %q: %s takes no positional arguments", name, arg, name)
	hints := strayHints
	if idListArg.MatchString(arg) {
		hints = append([]string{"input-ids"}, hints...)
	}
	for _, h := range hints {
		f := findFlag(c.Command.Flags, h)
		if f == nil {
			continue
		}
		_, repeatable := f.(*cli.StringSliceFlag)
		if c.IsSet(h) && !repeatable {
			continue
		}
		fmt.Fprintf(&b, "; did you mean --%s %s?", h, shellQuote(arg))
		break
	}
	for _, a := range c.Args().Tail() {
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			fmt.Fprintf(&b, " (flags after the argument, such as %s, were not read: put every flag before any argument)", a)
			break
		}
	}
	fmt.Fprintf(&b, " (see 'hier %s --help')", name)
	return usageErrorf("%s", b.String())
}

// shellQuote quotes s for a shell command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// useCanonicalNames moves the values given under old flag spellings (oldFlagNames) to the
// canonical flags, so commands read only the canonical names. Both spellings at once is a
// usage error.
func useCanonicalNames(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		old := f.Names()[0]
		canon, ok := oldFlagNames[old]
		if !ok || !c.IsSet(old) {
			continue
		}
		if c.IsSet(canon) {
			return usageErrorf("%s: give --%s once (%s is its old spelling)", c.Command.Name, canon, dashed(old))
		}
		if err := c.Set(canon, fmt.Sprint(c.Value(old))); err != nil {
			return usageErrorf("%s: %s: %v", c.Command.Name, dashed(old), err)
		}
	}
	return nil
}

// findFlag returns the flag of flags with the given name (or alias), or nil.
func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
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
	var infoLog []string // the commands whose --log-level defaults to info
	for _, cmd := range cmds {
		prepare(cmd)
		if f, ok := findFlag(cmd.Flags, flagLogLevel).(*cli.StringFlag); ok && f.Value == "info" {
			infoLog = append(infoLog, cmd.Name)
		}
	}
	flags := globalFlags("")
	if len(infoLog) > 0 {
		f := findFlag(flags, flagLogLevel).(*cli.StringFlag)
		f.DefaultText = fmt.Sprintf("%s; info for %s", f.Value, strings.Join(infoLog, ", "))
	}
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "hier %s (%s, %s/%s)\n", c.App.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	app := &cli.App{
		Name:     "hier",
		HelpName: "hier",
		Usage:    "hierarchical user-interest recommender on GPT-2 (Hugging Face semantics) and libtorch",
		Description: "Global options may be given before or after the command name.\n" +
			"Errors are printed as one line on stderr (\"hier: error: ...\"); the exit status is 1 for\n" +
			"a failed command, 2 for a wrong command line. With --json, stdout holds one JSON document.\n" +
			"Shell completion: see 'hier completion --help'.",
		Version: hierVersion(),
		// urfave's suggestions, for the paths that print its own messages; hier's messages
		// (unknown command, help topic or flag) suggest with closest.
		Suggest:                   true,
		EnableBashCompletion:      true,
		DisableSliceFlagSeparator: true, // "--text 'a, b'" is one text
		// --help: urfave adds it to the app only when it adds its own help command.
		Flags:          append(flags, cli.HelpFlag),
		Commands:       append(cmds, cmdHelp()),
		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // main prints errors (one line)
		Metadata:       map[string]interface{}{},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				name := c.Args().First()
				return usageErrorf("unknown command %q%s (see 'hier --help')", name, didYouMean(c.App, name))
			}
			return cli.ShowAppHelp(c)
		},
	}
	app.BashComplete = func(c *cli.Context) { complete(c, nil) }
	return app
}

// cmdHelp replaces urfave's help command, whose unknown topic is an error with exit status 3
// (reserved here for bugs): an unknown topic is a usage error with a suggestion.
func cmdHelp() *cli.Command {
	return &cli.Command{
		Name:            "help",
		Aliases:         []string{"h"},
		Usage:           "show the list of commands, or one command's help",
		ArgsUsage:       "[command]",
		HideHelp:        true,
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			args := c.Args()
			switch {
			case !args.Present():
				return cli.ShowAppHelp(c)
			case args.Len() > 1:
				return usageErrorf("help: one command at a time, got %q (see 'hier --help')", args.Slice())
			}
			name := args.First()
			if c.App.Command(name) == nil {
				return usageErrorf("no help topic for %q%s (see 'hier --help')", name, didYouMean(c.App, name))
			}
			return cli.ShowCommandHelp(c, name)
		},
	}
}

// writeJSON writes v as one compact JSON document on one line, newline-terminated (HTML
// characters such as "<|endoftext|>" are not escaped). Pipe through jq to pretty-print.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// checkModelDir checks that dir, given to cmd's --model, is a directory holding config.json,
// with errors that say which of these is wrong. A run directory of 'hier run' (whose
// config.json holds the run's options, not a GPT-2 config) is refused with the flags that take
// it or its checkpoints.
func checkModelDir(cmd, dir string) error {
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
	if pipeline.IsRunDir(dir) {
		return runDirAsModel(cmd, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, gpt2.ConfigFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			msg := fmt.Sprintf("model directory %s has no %s (not a Hugging Face checkpoint directory)", dir, gpt2.ConfigFile)
			if cks := checkpointsIn(dir, cmd == "predict"); len(cks) > 0 {
				msg += fmt.Sprintf("; it holds the checkpoint(s) %s: give one with --model", strings.Join(cks, ", "))
			}
			return errors.New(msg)
		}
		return err
	}
	return nil
}

// runDirAsModel is the error for a run directory given as cmd's --model.
func runDirAsModel(cmd, dir string) error {
	msg := fmt.Sprintf("%s: --model %s is a run directory of 'hier run' / 'hier demo' (%s and %s), not a model checkpoint",
		cmd, dir, pipeline.ConfigFileName, pipeline.MetricsFileName)
	cks := checkpointsIn(dir, cmd == "predict")
	switch {
	case cmd == "embed":
		msg += fmt.Sprintf("; use --run %s (its backbone), or --model %s", dir, filepath.Join(dir, pipeline.BackboneDir))
	case cmd == "run":
		msg += fmt.Sprintf("; to repeat that run use --config %s; to start from its backbone use --model %s",
			filepath.Join(dir, pipeline.ConfigFileName), filepath.Join(dir, pipeline.BackboneDir))
	case len(cks) > 0:
		msg += fmt.Sprintf("; give one of its checkpoints: --model %s", strings.Join(cks, " or --model "))
	}
	if cmd == "predict" {
		msg += fmt.Sprintf(" (for its recommendations use 'hier recommend --run %s')", dir)
	}
	return errors.New(msg)
}

// checkpointsIn lists the checkpoint directories of a run or stage output directory dir
// (DIR/checkpoints/{backbone,sentiment,behavior} with a config.json); only the heads when
// headsOnly (predict needs a classification or regression head).
func checkpointsIn(dir string, headsOnly bool) []string {
	subs := []string{pipeline.BackboneDir, pipeline.SentimentDir, pipeline.BehaviorDir}
	if headsOnly {
		subs = subs[1:]
	}
	var out []string
	for _, sub := range subs {
		if fi, err := os.Stat(filepath.Join(dir, sub, gpt2.ConfigFile)); err == nil && fi.Mode().IsRegular() {
			out = append(out, filepath.Join(dir, sub))
		}
	}
	return out
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
	case errors.As(err, &ec) && ec.ExitCode() == exitInternal:
		// urfave's own use of status 3: "No help topic for ..." from 'hier CMD help TOPIC'.
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
