package notify_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestFileAppendsWholeLines: TOKEN_EVENTS_FILE is created 0600; messages
// told at once, by one notifier or by two (two processes), are whole lines
// of the message's JSON, none lost; a file moved away is created again.
func TestFileAppendsWholeLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	files := []*notify.File{notify.NewFile(path), notify.NewFile(path)}
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := refresh.Change{Account: "main", Secret: "secrets/main", Event: refresh.ChangeFailing, Health: refresh.HealthFailing,
				Error: strings.Repeat("x", 5000), At: time.Unix(int64(i), 0)}
			if err := files[i%2].Announce(context.Background(), c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("the file's mode is %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		var m notify.Message
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Event != "failing" || len(m.Error) != 5000 {
			t.Fatalf("line is not a whole message: %v: %.80s", err, l)
		}
		seen[m.At] = true
	}
	if len(lines) != n || len(seen) != n {
		t.Errorf("%d lines, %d distinct messages; want %d", len(lines), len(seen), n)
	}

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := files[0].Announce(context.Background(), refresh.Change{Account: "main", Event: refresh.ChangeRecovered, Health: refresh.HealthOK}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); strings.Count(string(raw), "\n") != 1 || !strings.Contains(string(raw), `"event":"recovered"`) {
		t.Errorf("after a rotation the file holds %q", raw)
	}
}

// TestFileNeedsItsDirectory: a TOKEN_EVENTS_FILE whose directory does not
// exist fails each Announce with an error naming the variable (the engine
// logs it, and tells again on the next pass).
func TestFileNeedsItsDirectory(t *testing.T) {
	t.Parallel()
	f := notify.NewFile(filepath.Join(t.TempDir(), "missing", "events.jsonl"))
	err := f.Announce(context.Background(), refresh.Change{Account: "main", Event: refresh.ChangeFailing})
	if err == nil || !strings.Contains(err.Error(), "TOKEN_EVENTS_FILE") {
		t.Errorf("error %v, want one naming TOKEN_EVENTS_FILE", err)
	}
}

// TestAttributesFitPubSub: every attribute is the data's value as a
// string; a value longer than Pub/Sub's 1024 bytes (only an error can be)
// is cut on a character's boundary, the data keeping it whole.
func TestAttributesFitPubSub(t *testing.T) {
	t.Parallel()
	left := -3
	long := strings.Repeat("é", 700) // 1400 bytes
	m := notify.MessageOf(refresh.Change{Account: "main", Secret: "s", Event: refresh.ChangeFailing, Health: refresh.HealthFailing,
		HoursLeft: &left, Error: long, At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.FixedZone("X", 3600))})
	a := m.Attributes()
	if a["hoursLeft"] != "-3" || a["schemaVersion"] != "2" || a["at"] != "2026-05-04T09:00:00Z" {
		t.Errorf("attributes %v", a)
	}
	if _, ok := a["version"]; ok {
		t.Errorf("a health event has a version attribute: %v", a)
	}
	e := a["error"]
	if len(e) > notify.MaxAttributeValue || !utf8.ValidString(e) || !strings.HasSuffix(e, "…") || !strings.HasPrefix(long, strings.TrimSuffix(e, "…")) {
		t.Errorf("error attribute of %d bytes: %q", len(e), e)
	}
	if m.Error != long {
		t.Error("the data's error was cut")
	}
}
