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

	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
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
	now := time.Now()
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
		printTable(e.stdout, rep, owners(ctx, svc, rep.Accounts), now, colourful(e))
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
		return "the app's access to the account's data ended " + human(-left) + " ago; log in again, a refresh does not renew it"
	case which == refresh.LifeDataAccess && left < within:
		return "the app's access to the account's data ends in " + human(left) + "; log in again before then, a refresh does not renew it"
	case left <= 0:
		return "token expired " + human(-left) + " ago"
	case left < within:
		return "token dies in " + human(left)
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
				until = when(until) + " (in " + human(t.Sub(now)) + ")"
			}
			fmt.Fprintf(w, "%s is busy: pass %s holds it until %s; a pass that died holds it until then\n", r.Account, r.LeaseOwner, until)
		}
		if r.Stored == refresh.StatusNeedsReauth {
			fmt.Fprintf(w, "%s needs a new login: %s\n", r.Account, refresh.RelinkCommands(r.Account, r.Platform))
		}
	}
}

// owner is what the table shows of a token's owner.
type owner struct {
	platform, user string
}

// owners reads the username kept beside each token, and its platform where
// the state does not name it yet, for people reading the table. What cannot
// be read shows as "-"; the token itself never leaves this function.
func owners(ctx context.Context, svc *service.Service, accounts []refresh.AccountReport) []owner {
	out := make([]owner, len(accounts))
	var g errgroup.Group
	g.SetLimit(8)
	for i, r := range accounts {
		g.Go(func() error {
			out[i] = owner{platform: r.Platform, user: "-"}
			p, err := currentPayload(ctx, svc, svc.Account(r.Account))
			if err != nil {
				return nil
			}
			if p.Field("username") != "" {
				out[i].user = "@" + p.Field("username")
			}
			if out[i].platform == "" {
				out[i].platform = p.Platform()
			}
			return nil
		})
	}
	_ = g.Wait()
	for i := range out {
		if out[i].platform == "" {
			out[i].platform = "-"
		}
	}
	return out
}

func printTable(w io.Writer, rep refresh.Report, owners []owner, now time.Time, colour bool) {
	var plain bytes.Buffer
	tw := tabwriter.NewWriter(&plain, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tPLATFORM\tUSER\tSTATUS\tREFRESHED\tEXPIRES\tDATA ACCESS\tLEFT\tLAST ERROR")
	for i, r := range rep.Accounts {
		lastErr := r.Error
		if lastErr == "" {
			lastErr = "-"
		}
		expires := when(r.ExpiresAt)
		if r.ExpiresAt != "" {
			expires += " (" + r.ExpiryFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Account, owners[i].platform, owners[i].user, r.Result,
			ago(r.RefreshedAt, now), expires, when(r.DataAccessExpiresAt), lifeLeft(r, now), lastErr)
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

func ago(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	return when(ts) + " (" + human(now.Sub(t)) + " ago)"
}

// when prints a time of the report, or "-" when it is unknown.
func when(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	return minute(t)
}

// minute prints a time for people, to the minute.
func minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

// lifeLeft is the time until the earlier of the token's expiry and its
// data-access expiry: "13d4h", "4d2h (data access)", "expired 2h0m ago",
// or "-" when neither is known.
func lifeLeft(r refresh.AccountReport, now time.Time) string {
	end, which := r.LifeEnds()
	if end.IsZero() {
		return "-"
	}
	note := ""
	if which == refresh.LifeDataAccess {
		note = " (data access)"
	}
	if d := end.Sub(now); d > 0 {
		return human(d) + note
	}
	if which == refresh.LifeDataAccess {
		return "data access ended " + human(now.Sub(end)) + " ago"
	}
	return "expired " + human(now.Sub(end)) + " ago"
}

// human prints a duration the way people say it: 3d4h, 5h12m, 40s.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	hours := d / time.Hour
	d -= hours * time.Hour
	minutes := d / time.Minute
	var b strings.Builder
	switch {
	case days > 0:
		fmt.Fprintf(&b, "%dd%dh", days, hours)
	case hours > 0:
		fmt.Fprintf(&b, "%dh%dm", hours, minutes)
	case minutes > 0:
		fmt.Fprintf(&b, "%dm", minutes)
	default:
		fmt.Fprintf(&b, "%ds", d/time.Second)
	}
	return b.String()
}
