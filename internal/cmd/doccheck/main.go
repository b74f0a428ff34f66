// Command doccheck checks the links of every Markdown file in the
// repository, offline: a relative link must point to a file or folder the
// repository holds (tracked by git, or new and not ignored), an anchor
// (#section, in the same file or another) must be the GitHub anchor of one
// of that file's headings, with the -1, -2 … of repeated headings, and an
// external link must be a well-formed http(s) or mailto URL; none is
// fetched. Files under a testdata folder are fixtures and are not checked.
//
//	go run ./internal/cmd/doccheck          # the repository of the current folder
//	go run ./internal/cmd/doccheck -C DIR
//
// It prints one line per broken link (file:line: "link": why) and exits 1
// when there is one, 2 when it cannot run (not in a git repository).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doccheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("C", ".", "check the git repository that holds `DIR`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: doccheck [-C DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "doccheck: unexpected argument %q; it checks every Markdown file of the repository (-C DIR for another one)\n", fs.Arg(0))
		return 2
	}
	root, files, err := repoFiles(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "doccheck: %v\n", err)
		return 2
	}
	var md []string
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f), ".md") && !slices.Contains(strings.Split(path.Dir(f), "/"), "testdata") {
			md = append(md, f)
		}
	}
	problems, links, err := check(newTree(root, files), md)
	if err != nil {
		fmt.Fprintf(stderr, "doccheck: %v\n", err)
		return 2
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "doccheck: %d of %d links in %d Markdown files do not resolve\n", len(problems), links, len(md))
		return 1
	}
	fmt.Fprintf(stdout, "doccheck: %d links in %d Markdown files resolve\n", links, len(md))
	return 0
}

// repoFiles lists the files of the git repository holding dir that a link
// may point to: tracked ones, and new ones git does not ignore (so that a
// file not yet added counts, and an ignored build output such as dist/
// does not).
func repoFiles(dir string) (root string, files []string, err error) {
	out, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, fmt.Errorf("finding the repository of %s: %w", dir, err)
	}
	root = strings.TrimSpace(out)
	out, err = gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return "", nil, fmt.Errorf("listing the repository's files: %w", err)
	}
	for _, f := range strings.Split(out, "\x00") {
		if f == "" {
			continue
		}
		// A tracked file deleted from the work tree is not there to link.
		if _, err := os.Stat(path.Join(root, f)); err == nil {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	return root, slices.Compact(files), nil
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return string(out), nil
}
