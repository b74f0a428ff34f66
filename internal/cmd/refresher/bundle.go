package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/threads-token-refresher/threads-token-refresher/internal/bundle"
)

func init() {
	commands["bundle"] = func() *command {
		var out string
		return &command{
			summary: "write the function's source zip for Terraform (deterministic)",
			usage:   "[-o PATH]",
			example: "  go run ./internal/cmd/refresher bundle        # writes dist/function.zip\n  cd terraform && terraform apply",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&out, "o", "", "write the zip to `PATH` (default dist/function.zip in the module root)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if err := noArgs("bundle", args); err != nil {
					return err
				}
				root, err := moduleRoot()
				if err != nil {
					return err
				}
				if out == "" {
					out = filepath.Join(root, "dist", "function.zip")
				}
				if err := bundle.WriteFile(out, root); err != nil {
					return fmt.Errorf("writing %s: %w", out, err)
				}
				fmt.Fprintf(e.stdout, "wrote %s\n", out)
				return nil
			},
		}
	}
}

// moduleRoot finds the directory of this project's go.mod, walking up from
// the working directory, so that bundle works from any folder of the tree.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isThisModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", usagef("not inside the threads-token-refresher source tree: run bundle from the repository")
		}
		dir = parent
	}
}

func isThisModule(gomod []byte) bool {
	return bytes.HasPrefix(gomod, []byte("module github.com/threads-token-refresher/threads-token-refresher\n"))
}
