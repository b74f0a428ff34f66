package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func init() {
	commands["version"] = func() *command {
		return &command{
			summary: "print the refresher's version and the Go version it was built with",
			example: "  refresher version\n  refresher --version",
			run: func(_ context.Context, e *env, args []string) error {
				if err := noArgs("version", args); err != nil {
					return err
				}
				printVersion(e.stdout)
				return nil
			},
		}
	}
}

// printVersion prints the module version the binary was built from (a tag
// or pseudo-version with `go install ...@version`, "(devel)" from a
// checkout), the commit when the build recorded one, and the Go version.
func printVersion(w io.Writer) {
	version, commit, modified := "(unknown)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	fmt.Fprintf(w, "refresher %s", version)
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		fmt.Fprintf(w, " (commit %s", commit)
		if modified {
			fmt.Fprint(w, ", modified")
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintf(w, ", built with %s for %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
