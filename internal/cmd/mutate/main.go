// Command mutate plants bugs, one at a time, in a copy of the module and
// runs the tests that build on the code each one touches, to show which
// tests catch which bug: mutation testing with a list of realistic bugs
// written by people (internal/sim/mutants.txt), rather than a generator's
// thousands of operator swaps, because each of these bugs has cost, or
// could cost, a token.
//
//	go run ./internal/cmd/mutate                      # every mutant in the list
//	go run ./internal/cmd/mutate -run 'store-|lease'  # those whose name matches
//	go run ./internal/cmd/mutate -out /tmp/mutants.md # also write the table
//	go run ./internal/cmd/mutate -pkgs '/internal/(sim|refresh)$' # fewer tests: quicker, may miss a catch
//
// The working tree is never touched: each worker copies the module's files
// (as git lists them, untracked ones included) into a temporary directory
// and plants each mutant there in turn. First the tests run once unmutated,
// so that a failure that was already there is not credited to a mutant.
// Then, for each mutant, `go test -json` runs every package whose tests
// build on the mutated file's package, and the failing tests are recorded,
// with the first broken invariant of each failing simulation run.
//
// A mutant is "caught" when at least one test fails, "ESCAPED" when none
// does, and "sim missed" when it is marked "sim: yes" (it costs a token or
// a warning) and no test of internal/sim fails. The command exits 1 if any
// mutant escaped, was missed by the simulation, or could not be planted or
// built, so that it can guard the list in a scheduled job.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

// result is one mutant's fate.
type result struct {
	m   Mutant
	out outcome
	err error
}

func (r result) verdict() string {
	switch {
	case r.err != nil:
		return "ERROR: " + r.err.Error()
	case r.out.build != "":
		return "DOES NOT BUILD"
	case len(r.out.failed) == 0:
		return "ESCAPED"
	case r.m.Sim && !r.out.caughtIn("/internal/sim"):
		return "sim missed"
	}
	return "caught"
}

func (r result) ok() bool { return r.verdict() == "caught" }

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.String("list", "internal/sim/mutants.txt", "the list of mutants, relative to the module root")
	run := fs.String("run", "", "plant only the mutants whose name matches this `regexp`")
	jobs := fs.Int("j", 1, "mutants tested at once (each runs go test, which is itself parallel)")
	timeout := fs.Duration("timeout", 30*time.Minute, "go test's -timeout for one mutant: a hang counts as caught")
	race := fs.Bool("race", false, "run the tests with -race (slower; no mutant in the list needs it)")
	seeds := fs.String("sim-seeds", "", "SIM_SEEDS for the simulation (default: the package's own, as CI runs it)")
	noBaseline := fs.Bool("no-baseline", false, "skip the unmutated run (only when you know the tests pass)")
	outFile := fs.String("out", "", "also write the Markdown table to this `file`")
	only := fs.String("pkgs", "", "test only the packages, of those that build on a mutant's file, whose import path matches this `regexp`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jobs < 1 {
		return errors.New("-j must be at least 1")
	}
	var filter *regexp.Regexp
	if *run != "" {
		var err error
		if filter, err = regexp.Compile(*run); err != nil {
			return fmt.Errorf("-run: %w", err)
		}
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(*list)))
	if err != nil {
		return err
	}
	mutants, err := parseList(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *list, err)
	}
	if filter != nil {
		mutants = slices.DeleteFunc(mutants, func(m Mutant) bool { return !filter.MatchString(m.Name) })
	}
	if len(mutants) == 0 {
		return errors.New("no mutant to plant")
	}
	// Every mutant must still name one place in today's code, before an
	// hour of tests is spent on the others.
	for _, m := range mutants {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			return fmt.Errorf("mutant %s: %w", m.Name, err)
		}
		if err := occursOnce(src, m); err != nil {
			return err
		}
	}
	pkgs, err := loadPackages(root)
	if err != nil {
		return err
	}
	if *only != "" {
		if pkgs.only, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("-pkgs: %w", err)
		}
	}
	o := options{timeout: *timeout, race: *race, env: []string{"CI=true"}}
	if *seeds != "" {
		o.env = append(o.env, "SIM_SEEDS="+*seeds)
	}

	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dirs := make([]string, *jobs)
	for i := range dirs {
		dirs[i] = filepath.Join(tmp, fmt.Sprintf("w%d", i))
		if err := copyTree(root, dirs[i]); err != nil {
			return err
		}
	}

	if !*noBaseline {
		var all []string
		for _, m := range mutants {
			p, err := pkgs.packagesFor(m.File)
			if err != nil {
				return fmt.Errorf("mutant %s: %w", m.Name, err)
			}
			all = append(all, p...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		fmt.Fprintf(stderr, "mutate: unmutated run of %d packages…\n", len(all))
		base, err := goTest(ctx, dirs[0], all, o)
		if err != nil {
			return err
		}
		if base.build != "" || len(base.failed) > 0 {
			return fmt.Errorf("the tests fail before any bug is planted (%s%s); fix that first", strings.Join(base.failed, ", "), base.build)
		}
		fmt.Fprintf(stderr, "mutate: unmutated run passed in %s\n", base.elapsed.Round(time.Second))
	}

	results := make([]result, len(mutants))
	next := make(chan int)
	var wg sync.WaitGroup
	for _, dir := range dirs {
		wg.Go(func() {
			for i := range next {
				results[i] = plantAndTest(ctx, dir, pkgs, mutants[i], o)
				fmt.Fprintf(stderr, "mutate: %-28s %s (%s)\n", mutants[i].Name, results[i].verdict(), results[i].out.elapsed.Round(time.Second))
			}
		})
	}
	for i := range mutants {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	table := markdown(results, pkgs.module)
	fmt.Fprint(stdout, table)
	if *outFile != "" {
		if err := os.WriteFile(*outFile, []byte(table), 0o644); err != nil {
			return err
		}
	}
	bad := 0
	for _, r := range results {
		if !r.ok() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d mutants were not caught as the list requires", bad, len(results))
	}
	return nil
}

func plantAndTest(ctx context.Context, dir string, pkgs *affected, m Mutant, o options) result {
	targets, err := pkgs.packagesFor(m.File)
	if err != nil {
		return result{m: m, err: err}
	}
	restore, err := plant(dir, m)
	if err != nil {
		return result{m: m, err: err}
	}
	out, err := goTest(ctx, dir, targets, o)
	if rerr := restore(); rerr != nil && err == nil {
		err = rerr
	}
	return result{m: m, out: out, err: err}
}

// markdown is the results as a table for internal/sim's documentation.
func markdown(results []result, module string) string {
	var b strings.Builder
	b.WriteString("| mutant | file | costs a token | caught by | simulation | verdict |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		sim := "-"
		if len(r.out.sim) > 0 {
			sim = r.out.sim[0]
		}
		costs := "no"
		if r.m.Sim {
			costs = "yes"
		}
		caught := strings.Join(shortNames(r.out.failed, module), ", ")
		if caught == "" {
			caught = "-"
		}
		fmt.Fprintf(&b, "| `%s`: %s | %s | %s | %s | %s | %s |\n", r.m.Name, r.m.What, r.m.File, costs, caught, sim, r.verdict())
	}
	return b.String()
}

// shortNames drops the module path from "package TestName": the root
// package is ".".
func shortNames(failed []string, module string) []string {
	out := make([]string, len(failed))
	for i, f := range failed {
		p, t, _ := strings.Cut(f, " ")
		if p == module {
			p = "."
		} else {
			p = strings.TrimPrefix(p, module+"/")
		}
		out[i] = p + " " + t
	}
	return out
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run it inside the module (no go.mod found)")
	}
	return filepath.Dir(mod), nil
}
