package notify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/pubsubemu"
)

// sink is where a world's engine tells its news, and how a test reads
// what arrived: the two refresh.Notifier implementations, each read as a
// consumer would.
type sink interface {
	notifier() refresh.Notifier
	// take returns what arrived since the last take, in order.
	take(t *testing.T) []pubsubemu.Received
}

// topicSink is a topic of the Pub/Sub emulator with the real Publisher.
type topicSink struct {
	topic     *pubsubemu.Topic
	publisher *notify.Publisher
}

func newTopicSink(t *testing.T, host string, timeout time.Duration) *topicSink {
	t.Helper()
	topic := pubsubemu.NewTopic(t, host)
	p, err := notify.New(context.Background(), topic.Name, notify.Options{EmulatorHost: host, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the publisher: %v", err)
		}
	})
	return &topicSink{topic: topic, publisher: p}
}

func (s *topicSink) notifier() refresh.Notifier { return s.publisher }

func (s *topicSink) take(t *testing.T) []pubsubemu.Received { return s.topic.Drain(t) }

// fileSink is a TOKEN_EVENTS_FILE, read line by line as `tail -F` would.
type fileSink struct {
	path string
	file *notify.File

	mu   sync.Mutex
	read int // bytes already taken
}

func newFileSink(t *testing.T) *fileSink {
	path := filepath.Join(t.TempDir(), "events", "token-events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	return &fileSink{path: path, file: notify.NewFile(path)}
}

func (s *fileSink) notifier() refresh.Notifier { return s.file }

// take reads the lines appended since the last take. Every line must be
// whole: the file only ever grows by whole lines.
func (s *fileSink) take(t *testing.T) []pubsubemu.Received {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fresh := raw[s.read:]
	s.read = len(raw)
	if len(fresh) > 0 && fresh[len(fresh)-1] != '\n' {
		t.Fatalf("the events file ends in the middle of a line: %q", fresh)
	}
	var out []pubsubemu.Received
	for _, line := range bytes.SplitAfter(fresh, []byte("\n")) {
		if len(line) > 0 {
			out = append(out, pubsubemu.Received{Data: bytes.TrimSuffix(line, []byte("\n"))})
		}
	}
	return out
}
