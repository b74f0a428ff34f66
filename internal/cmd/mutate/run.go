package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// options are how each mutant's tests run.
type options struct {
	timeout time.Duration
	race    bool
	// env is added to the environment of go test (SIM_SEEDS=…, CI=true).
	env []string
}

// outcome is what the tests said of one tree.
type outcome struct {
	// failed holds the failing tests as "package TestName" (subtests
	// folded into their top-level test), sorted.
	failed []string
	// sim holds the simulation's first broken invariant of each failing
	// run ("seed 2: invariant 5 … (day 11 of the run)").
	sim []string
	// build is set when the tree did not compile (a mutant that is not a
	// program is a bad mutant, not a caught one).
	build string
	// elapsed is the time go test took.
	elapsed time.Duration
}

// caughtBy reports the failing tests of packages with the given suffix.
func (o outcome) caughtIn(pkgSuffix string) bool {
	for _, f := range o.failed {
		p, _, _ := strings.Cut(f, " ")
		if strings.HasSuffix(p, pkgSuffix) {
			return true
		}
	}
	return false
}

// simLine is how internal/sim names a broken invariant.
var simLine = regexp.MustCompile(`seed \d+: invariant \d+ \([^)]*\) broken at \S+ \(day \d+ of the run\)`)

// goTest runs the tests of pkgs in dir and reads go test -json's events.
func goTest(ctx context.Context, dir string, pkgs []string, o options) (outcome, error) {
	args := []string{"test", "-json", "-count=1", "-timeout", o.timeout.String()}
	if o.race {
		args = append(args, "-race")
	}
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), o.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return outcome{}, err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return outcome{}, fmt.Errorf("starting go test: %w", err)
	}
	res, perr := readEvents(stdout)
	werr := cmd.Wait()
	res.elapsed = time.Since(began)
	if perr != nil {
		return res, perr
	}
	if werr != nil && len(res.failed) == 0 && res.build == "" {
		// go test failed without a failing test or package: say why.
		res.build = strings.TrimSpace(stderr.String())
		if res.build == "" {
			res.build = werr.Error()
		}
	}
	return res, nil
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	FailedBuild string
	ImportPath  string
}

func readEvents(r io.Reader) (outcome, error) {
	var res outcome
	failed := map[string]bool{}
	var buildOut strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // not an event (go test prints some lines raw)
		}
		switch e.Action {
		case "build-output":
			buildOut.WriteString(e.Output)
		case "output":
			if m := simLine.FindString(e.Output); m != "" && !slices.Contains(res.sim, m) {
				res.sim = append(res.sim, m)
			}
		case "fail":
			switch {
			case e.FailedBuild != "":
				res.build = strings.TrimSpace(buildOut.String())
				if res.build == "" {
					res.build = "build of " + e.FailedBuild + " failed"
				}
			case e.Test != "":
				top, _, _ := strings.Cut(e.Test, "/")
				failed[e.Package+" "+top] = true
			default:
				// A package that failed without a failing test: a panic
				// outside a test, a timeout, TestMain.
				failed[e.Package+" (package)"] = true
			}
		}
	}
	withTests := map[string]bool{}
	for f := range failed {
		if p, t, _ := strings.Cut(f, " "); t != "(package)" {
			withTests[p] = true
		}
	}
	for f := range failed {
		// Every failing test fails its package too; the package is named
		// only when nothing in it failed by name.
		if p, t, _ := strings.Cut(f, " "); t == "(package)" && withTests[p] {
			continue
		}
		res.failed = append(res.failed, f)
	}
	slices.Sort(res.failed)
	return res, sc.Err()
}
