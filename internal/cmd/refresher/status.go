package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

func init() {
	commands["status"] = func() *command {
		var asJSON bool
		return &command{
			summary: "show every account's state and platform (never a token)",
			example: "  refresher status\n  refresher status --json | jq '.accounts[] | select(.result != \"ok\")'",
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&asJSON, "json", false, "print JSON for scripts instead of a table")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				return status(ctx, e, args, asJSON)
			},
		}
	}
}

// statusTimeout bounds reading the state for status.
const statusTimeout = 20 * time.Second

// status prints the stored state. It exits 0 unless the state cannot be
// read: an account's failure is news to print, not a failure of the command.
func status(ctx context.Context, e *env, args []string, asJSON bool) error {
	if err := noArgs("status", args); err != nil {
		return err
	}
	// The store clients retry an unreachable server for as long as they are
	// let: a status that cannot be read must end, with an error.
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	svc, _, err := start(ctx, e)
	if err != nil {
		return err
	}
	defer svc.Close()
	rep, err := svc.Engine.Status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if len(rep.Accounts) == 0 {
		if svc.Config.Store == config.StoreLocal {
			fmt.Fprintln(e.stdout, noAccountsHint)
		} else {
			fmt.Fprintln(e.stdout, "no account configured (THREADS_SECRETS)")
		}
		return nil
	}
	users := owners(ctx, svc, rep.Accounts)
	printTable(e.stdout, rep, users, time.Now(), colourful(e))
	return nil
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tPLATFORM\tUSER\tSTATUS\tREFRESHED\tEXPIRES\tLAST ERROR")
	for i, r := range rep.Accounts {
		st := string(r.Result)
		if colour {
			st = paint(r.Result, st)
		}
		lastErr := r.Error
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Account, owners[i].platform, owners[i].user, st,
			ago(r.RefreshedAt, now), expiresIn(r.ExpiresAt, now), lastErr)
	}
	tw.Flush()
}

// colourful reports whether standard output is a terminal that wants
// colour (no NO_COLOR).
func colourful(e *env) bool {
	f, ok := e.stdout.(*os.File)
	if noColour, _ := e.lookup("NO_COLOR"); !ok || noColour != "" {
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
	return t.UTC().Format("2006-01-02 15:04Z") + " (" + human(now.Sub(t)) + " ago)"
}

func expiresIn(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	d := t.Sub(now)
	when := t.UTC().Format("2006-01-02 15:04Z")
	if d <= 0 {
		return when + " (expired " + human(-d) + " ago)"
	}
	return when + " (in " + human(d) + ")"
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
