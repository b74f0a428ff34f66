package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
)

// The tests run the commands as a person or a script would: in-process
// through realMain with their own input, output and environment (so that
// they run in parallel), or, where a real process matters (serve, two
// concurrent passes, a kill in the middle of a pass), as the built binary.
// Each runs against the embedded store and against the Google adapters: the
// real Firestore emulator and an in-process Secret Manager, both reached by
// the real Google clients, with a Threads fake for the Graph API.
//
// This file starts the emulator and builds the binary; world_test.go is
// the installation a test runs in and the commands it runs there,
// worldstore_test.go what the world's store holds, and output_test.go
// reads what the commands print.

// binDir holds the binary built for the process tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "refresher-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making a directory for the binary:", err)
		os.Exit(1)
	}
	binDir = dir
	code := firestoreemu.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the refresher once per test binary, on first use.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "refresher")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}
