package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

var _ refresh.Notifier = (*File)(nil)

// File appends each message to a file as one line of JSON, the Pub/Sub
// message's data (TOKEN_EVENTS_FILE): the notifier of a refresher without
// Google Cloud, read with `tail -F FILE | jq`. The file is created 0600
// (it names accounts, never a token) and opened for each message: one
// message is one write of one whole line, with O_APPEND, so that lines of
// two processes (a pass and a check) never interleave, and each is synced
// to disk before the engine records it as told. A file moved away (log
// rotation) is created again by the next message.
type File struct {
	path string
	mu   sync.Mutex
}

// NewFile returns a notifier that appends to the file at path. Nothing is
// opened until the first message.
func NewFile(path string) *File { return &File{path: path} }

// Announce appends c's message as one line and syncs it to disk.
func (f *File) Announce(ctx context.Context, c refresh.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(MessageOf(c))
	if err != nil {
		return fmt.Errorf("encoding the message for %s: %w", c.Account, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening TOKEN_EVENTS_FILE: %w", err)
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return fmt.Errorf("appending to TOKEN_EVENTS_FILE %s: %w", f.path, err)
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("syncing TOKEN_EVENTS_FILE %s: %w", f.path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("closing TOKEN_EVENTS_FILE %s: %w", f.path, err)
	}
	return nil
}
