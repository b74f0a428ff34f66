// Command tfdocs writes the inputs and outputs tables of the Terraform
// module in terraform/ into terraform/README.md, between the markers
// terraform-docs uses (<!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS -->), so
// that the tables are generated from the .tf files rather than kept by
// hand. It reads the module with HashiCorp's terraform-config-inspect, the
// library terraform-docs was built on (terraform-docs itself is not served
// by the Go module proxy).
//
//	go run ./internal/cmd/tfdocs          # rewrites the tables
//	go run ./internal/cmd/tfdocs -check   # exits 1 when they are not current
//
// Exit codes: 0 done or current, 1 not current (-check), 2 anything else
// (a bad flag, a module that does not parse, a README without the markers).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errStale is -check's finding: the file's tables differ from the module's.
var errStale = errors.New("not current")

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tfdocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "terraform", "`directory` of the Terraform module")
	readme := fs.String("readme", "", "`file` whose marked section gets the tables (default: README.md in -module)")
	check := fs.Bool("check", false, "change nothing; exit 1 if the tables are not current")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tfdocs [-check] [-module DIR] [-readme FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tfdocs: unexpected argument %q; the module is given with -module\n", fs.Arg(0))
		return 2
	}
	if *readme == "" {
		*readme = filepath.Join(*module, "README.md")
	}
	changed, err := update(*module, *readme, *check)
	switch {
	case errors.Is(err, errStale):
		fmt.Fprintf(stderr, "tfdocs: the inputs and outputs tables in %s are not current; run `go run ./internal/cmd/tfdocs` and commit the result\n", *readme)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "tfdocs: %v\n", err)
		return 2
	}
	switch {
	case changed:
		fmt.Fprintf(stdout, "%s: tables written\n", *readme)
	case !*check:
		fmt.Fprintf(stdout, "%s: tables already current\n", *readme)
	}
	return 0
}

// update renders the module's tables and puts them between the markers of
// the readme file, reporting whether it changed the file; with check it
// only compares, and returns errStale when the file would change.
func update(moduleDir, readme string, check bool) (changed bool, err error) {
	tables, err := renderModule(moduleDir)
	if err != nil {
		return false, err
	}
	old, err := os.ReadFile(readme)
	if err != nil {
		return false, fmt.Errorf("reading the README: %w", err)
	}
	updated, err := replaceMarked(old, tables)
	if err != nil {
		return false, fmt.Errorf("%s: %w", readme, err)
	}
	if bytes.Equal(old, updated) {
		return false, nil
	}
	if check {
		return false, errStale
	}
	if err := os.WriteFile(readme, updated, 0o644); err != nil {
		return false, fmt.Errorf("writing the README: %w", err)
	}
	return true, nil
}
