package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

func init() {
	commands["status"] = func() *command {
		var o statusOptions
		return &command{
			summary: "show every account's state, platform and remaining token life (never a token)",
			usage:   "[--json] [--warn-within DURATION]",
			example: "  refresher status\n" +
				"  refresher status --json | jq '.accounts[] | select(.result != \"ok\")'\n" +
				"  refresher status --warn-within 336h || mail -s 'Threads token needs you' me@example.com",
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&o.asJSON, "json", false, "print JSON for scripts instead of a table")
				fs.Func("warn-within", "exit 3 when a token dies, or the app's access to an account's data ends, within this Go `duration` (336h is 14 days), or an account is failing or needs_reauth", o.setWarnWithin)
			},
			run: func(ctx context.Context, e *env, args []string) error {
				return status(ctx, e, args, o)
			},
		}
	}
}

// statusOptions are status's flags.
type statusOptions struct {
	asJSON bool
	// warnWithin, when warn is set, makes status exit exitWarn for a token
	// that dies sooner than this.
	warn       bool
	warnWithin time.Duration
}

func (o *statusOptions) setWarnWithin(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New("want a Go duration that is not negative, such as 336h for 14 days")
	}
	o.warn, o.warnWithin = true, d
	return nil
}

// statusTimeout bounds reading the state for status.
const statusTimeout = 20 * time.Second

// status prints the stored state. It exits 0 unless the state cannot be
// read: an account's failure is news to print, not a failure of the command.
// With --warn-within it exits exitWarn, after printing, when an account
// needs a person soon (see needsAttention).
func status(ctx context.Context, e *env, args []string, o statusOptions) error {
	if err := noArgs("status", args); err != nil {
		return err
	}
	// The store clients retry an unreachable server for as long as they are
	// let: a status that cannot be read must end, with an error.
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	svc, _, err := startExisting(ctx, e)
	if err != nil {
		return err
	}
	defer svc.Close()
	rep, err := svc.Engine.Status(ctx)
	if err != nil {
		return err
	}
	now := e.now()
	switch {
	case o.asJSON:
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("writing the status: %w", err)
		}
	case len(rep.Accounts) == 0:
		if svc.Config.Store == config.StoreLocal {
			fmt.Fprintln(e.stdout, noAccountsHint)
		} else {
			fmt.Fprintln(e.stdout, "no account configured (THREADS_SECRETS)")
		}
	default:
		printTable(e.stdout, rep, statusview.Owners(ctx, svc.Secrets(), svc.Account, rep.Accounts), now, colourful(e))
		printNotes(e.stdout, rep, now)
	}
	if !o.warn {
		return nil
	}
	var reasons []string
	for _, r := range rep.Accounts {
		if why := needsAttention(r, now, o.warnWithin); why != "" {
			reasons = append(reasons, r.Account+" ("+why+")")
		}
	}
	if len(reasons) > 0 {
		return &exitError{code: exitWarn, msg: fmt.Sprintf("%d of %d accounts need a person within %s: %s",
			len(reasons), len(rep.Accounts), o.warnWithin, strings.Join(reasons, ", "))}
	}
	return nil
}

// needsAttention says why an account trips --warn-within: its state is
// failing or needs_reauth, or its token dies, or the app's access to the
// user's data ends, sooner than within (whichever comes first; the report
// names which). An account without state (unknown) has no known expiry and
// does not trip it: a pass records one.
func needsAttention(r refresh.AccountReport, now time.Time, within time.Duration) string {
	// The stored status counts, also while a pass holds the account (busy).
	stored := r.Stored
	if stored == "" {
		stored = refresh.Status(r.Result)
	}
	switch stored {
	case refresh.StatusFailing:
		return string(stored)
	case refresh.StatusNeedsReauth:
		return string(stored) + ": log in again with " + refresh.RelinkCommands(r.Account, r.Platform)
	}
	end, which := r.LifeEnds()
	if end.IsZero() {
		return ""
	}
	left := end.Sub(now)
	switch {
	case which == refresh.LifeDataAccess && left <= 0:
		return "the app's access to the account's data ended " + statusview.Human(-left) + " ago; log in again, a refresh does not renew it"
	case which == refresh.LifeDataAccess && left < within:
		return "the app's access to the account's data ends in " + statusview.Human(left) + "; log in again before then, a refresh does not renew it"
	case left <= 0:
		return "token expired " + statusview.Human(-left) + " ago"
	case left < within:
		return "token dies in " + statusview.Human(left)
	}
	return ""
}

// printNotes follows the table with what its cells cannot say: who holds a
// busy account and until when, and the command that brings an account that
// needs a new login back.
func printNotes(w io.Writer, rep refresh.Report, now time.Time) {
	for _, r := range rep.Accounts {
		if r.Result == refresh.ResultBusy {
			until := r.LeaseExpiresAt
			if t, err := time.Parse(time.RFC3339, until); err == nil {
				until = statusview.When(until) + " (in " + statusview.Human(t.Sub(now)) + ")"
			}
			fmt.Fprintf(w, "%s is busy: pass %s holds it until %s; a pass that died holds it until then\n", r.Account, r.LeaseOwner, until)
		}
		if r.Stored == refresh.StatusNeedsReauth {
			fmt.Fprintf(w, "%s needs a new login: %s\n", r.Account, refresh.RelinkCommands(r.Account, r.Platform))
		}
	}
}

func printTable(w io.Writer, rep refresh.Report, owners []statusview.Owner, now time.Time, colour bool) {
	var plain bytes.Buffer
	tw := tabwriter.NewWriter(&plain, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tPLATFORM\tUSER\tSTATUS\tREFRESHED\tEXPIRES\tDATA ACCESS\tLEFT\tLAST ERROR")
	for i, r := range rep.Accounts {
		lastErr := r.Error
		if lastErr == "" {
			lastErr = "-"
		}
		expires := statusview.When(r.ExpiresAt)
		if r.ExpiresAt != "" {
			expires += " (" + r.ExpiryFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Account, owners[i].Platform, owners[i].User, r.Result,
			statusview.Ago(r.RefreshedAt, now), expires, statusview.When(r.DataAccessExpiresAt), statusview.LifeLeft(r, now), lastErr)
	}
	tw.Flush()
	if !colour {
		w.Write(plain.Bytes())
		return
	}
	// The table is laid out first and painted after: escape codes take no
	// room on a terminal, but tabwriter would count them as width.
	lines := strings.SplitAfter(plain.String(), "\n")
	column := utf8.RuneCountInString(lines[0][:strings.Index(lines[0], "STATUS")])
	for i, r := range rep.Accounts {
		lines[i+1] = paintAt(lines[i+1], column, r.Result)
	}
	io.WriteString(w, strings.Join(lines, ""))
}

// paintAt colours the result that starts column runes into line.
func paintAt(line string, column int, r refresh.Result) string {
	start := 0
	for range column {
		_, size := utf8.DecodeRuneInString(line[start:])
		start += size
	}
	end := start + len(r)
	if end > len(line) || line[start:end] != string(r) {
		return line // not where the header says: leave it plain
	}
	return line[:start] + paint(r, string(r)) + line[end:]
}

// colourful reports whether standard output is a terminal that wants
// colour: not when NO_COLOR is set (no-color.org), nor on a terminal that
// declares itself dumb (TERM=dumb: Emacs shells, some CI logs).
func colourful(e *env) bool {
	f, ok := e.stdout.(*os.File)
	noColour, _ := e.lookup("NO_COLOR")
	termName, _ := e.lookup("TERM")
	if !ok || noColour != "" || termName == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

func paint(r refresh.Result, s string) string {
	code := ""
	switch refresh.Status(r) {
	case refresh.StatusOK:
		code = "32" // green
	case refresh.StatusFailing:
		code = "33" // yellow
	case refresh.StatusNeedsReauth:
		code = "31" // red
	default:
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
