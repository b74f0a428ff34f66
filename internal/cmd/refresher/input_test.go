package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestInputThatCannotBeStoredIsRefusedBeforeAnyCall: a token too large to
// store, and input that is not text, are refused with exit 2 and one
// sentence before anything is sent to Meta or created. Before, a 64 KiB
// token reached /me and then failed to store, and binary input was checked
// with /me as sent and stored altered (invalid UTF-8 replaced).
func TestInputThatCannotBeStoredIsRefusedBeforeAnyCall(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		app := map[string]string{"THREADS_APP_SECRET": w.th.AppSecret(), "THREADS_APP_ID": w.th.AppID()}
		tokenFile := filepath.Join(t.TempDir(), "token.bin")
		tests := []struct {
			name  string
			input string
			want  string
		}{
			{"64 KiB", "THAA" + strings.Repeat("A", 64<<10-4), "too long to store"},
			// JSON stores '<' as six bytes: the payload, not the input, must fit.
			{"escaped to more than 64 KiB", "THAA" + strings.Repeat("<", 20<<10), "too long to store"},
			{"binary", "\xff\xfe\x00\x01THAA\x80\x81", "not text"},
			{"a lone invalid byte", "THAAtoken\xc3", "not text"},
			{"control characters", "THAA\x00token\x1b[0m", "control characters"},
		}
		for _, tt := range tests {
			for _, args := range [][]string{{"add", "main"}, {"exchange", "main"}, {"add", "--token-file", tokenFile, "main"}} {
				if err := os.WriteFile(tokenFile, []byte(tt.input), 0o600); err != nil {
					t.Fatal(err)
				}
				r := w.runCall(call{stdin: strings.NewReader(tt.input), env: app}, args...)
				name := tt.name + ": refresher " + strings.Join(args, " ")
				if r.code != 2 || r.stdout != "" {
					t.Errorf("%s: %v, want exit 2 and nothing on stdout", name, r)
					continue
				}
				if line := wantOneLine(t, name, r.stderr); !strings.Contains(line, tt.want) {
					t.Errorf("%s: %q, want it to say %q", name, line, tt.want)
				}
			}
		}
		for _, path := range []string{threadsfake.PathMe, threadsfake.PathExchange} {
			if n := w.th.Calls(path); n != 0 {
				t.Errorf("%s was called %d times with input that cannot be stored", path, n)
			}
		}
		if vs := w.versions("main"); len(vs) != 0 {
			t.Errorf("a version was stored: %v", vs)
		}
	})
}
