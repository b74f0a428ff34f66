// Command refresher runs the Threads and Instagram token refresher outside
// Cloud Functions: it serves the function locally, runs one pass, shows
// status, bundles the function's source for deployment, and brings the
// first token in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], &env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		lookup: os.LookupEnv,
	})
	stop()
	os.Exit(code)
}

// env is what a command may touch of its process, so that tests can run
// commands in-process with their own input, output and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         config.LookupFunc
	// serverTimeouts replaces serve's defaultServerTimeouts when set.
	serverTimeouts *serverTimeouts
	// service is what commands build their service with: the zero value
	// (Meta's real hosts, the real clock) but in the sandbox.
	service service.Options
}

// now is the commands' clock: the sandbox's when it runs them.
func (e *env) now() time.Time {
	if e.service.Now != nil {
		return e.service.Now()
	}
	return time.Now()
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the work failed (an account failed, the state is unreadable, the network)
	exitUsage   = 2 // the command line, input or configuration is wrong
	// exitWarn: `status --warn-within` found an account that needs a person
	// soon. A code of its own, so that a cron job can tell "act now" from
	// "status could not be read" (1) and "wrong command line" (2).
	exitWarn = 3
)

// command is one subcommand, built afresh for each run so that its flag
// values are its own.
type command struct {
	summary string
	usage   string // arguments, after the command name
	example string
	// flags declares the command's flags.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, e *env, args []string) error
}

// commands builds each subcommand by name.
var commands = map[string]func() *command{}

// usageError is wrong input: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitError ends a command with a code and, when msg is set, one line.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func realMain(ctx context.Context, args []string, e *env) (code int) {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// `refresher help run` is `refresher run -h`.
			return realMain(ctx, []string{args[1], "-h"}, e)
		}
		// Asked for: on standard output, like a command's -h.
		printUsage(e.stdout)
		return exitOK
	case "-version", "--version", "-v":
		args = []string{"version"}
	}
	name := args[0]
	newCommand, ok := commands[name]
	if !ok {
		if looksLikeToken(name) {
			name = tokenLike(name)
		}
		fmt.Fprintf(e.stderr, "refresher: unknown command %q; run `refresher -h` for the list\n", name)
		return exitUsage
	}
	c := newCommand()
	fs := flag.NewFlagSet("refresher "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(e.stdout, name, c, fs)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "refresher %s: %s; run `refresher %s -h` for usage\n", name, scrubArgs(err.Error(), args[1:]), name)
		return exitUsage
	}
	defer recoverPanic(e, name, &code)
	err = c.run(ctx, e, positional)
	return report(e.stderr, name, err, args[1:])
}

// recoverPanic, deferred by realMain, ends a command that panicked with one
// "panic" log line and exit 1 instead of Go's crash print, which shows the
// panic value: it may hold a token (see logging.Panic).
func recoverPanic(e *env, name string, code *int) {
	v := recover()
	if v == nil {
		return
	}
	v, stack := refresh.Recovered(v)
	logging.Panic(context.Background(), logging.New(e.stderr, slog.LevelInfo), v, stack)
	fmt.Fprintf(e.stderr, "refresher %s: internal error: %s; the log line above has the stack, please report it\n", name, logging.PanicSummary(v))
	*code = exitFailure
}

// report prints err as one line and picks the exit code. An argument that
// looks like a token is never shown, wherever the message quotes it (a
// flag's value, a file name).
func report(w io.Writer, name string, err error, args []string) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(w, "refresher %s: %s\n", name, scrubArgs(ee.msg, args))
		}
		return ee.code
	}
	fmt.Fprintf(w, "refresher %s: %s\n", name, scrubArgs(oneLine(err.Error()), args))
	var ue *usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return exitUsage
	}
	return exitFailure
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "refresher keeps Threads and Instagram access tokens alive.")
	fmt.Fprintln(w, "\nUsage: refresher COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n]().summary)
	}
	fmt.Fprintln(w, "\nRun `refresher help COMMAND` (or `refresher COMMAND -h`) for a command's flags and an example.")
	fmt.Fprintln(w, "Configuration comes from environment variables; see the README.")
}

func printCommandUsage(w io.Writer, name string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: refresher %s %s\n\n%s\n", name, c.usage, c.summary)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
	}
}
