// Package notify tells consumers of each change of an account's current
// token and of its health, so that they can reload, pause or resume at
// once instead of polling: by publishing a message to a Pub/Sub topic
// (Publisher), or, without Google Cloud, by appending it to a file as one
// JSON line (File). Both implement refresh.Notifier, with the same message
// (Message).
//
// A message names the account, its secret, the event, the account's
// health and, for a new token, the new version; it never holds the token:
// a subscriber reads the secret's "latest" version, with its own access to
// the secret, when it hears of a change.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/threads-token-refresher/threads-token-refresher/internal/clientopts"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

var _ refresh.Notifier = (*Publisher)(nil)

// Options configure New.
type Options struct {
	// EmulatorHost is the host:port of a Pub/Sub emulator, reached in
	// plaintext without credentials. Empty means the real service with
	// Application Default Credentials.
	EmulatorHost string
	// Timeout bounds the client's attempts at one message (retries
	// included); DefaultTimeout when zero. The engine bounds its wait with
	// its own deadline too.
	Timeout time.Duration
}

// DefaultTimeout is a publish's bound: the engine's.
const DefaultTimeout = refresh.DefaultNotifyTimeout

// Publisher publishes token changes to one topic.
type Publisher struct {
	client    *pubsub.Client
	publisher *pubsub.Publisher
	topic     string
}

// New connects to Pub/Sub for topic, a full name (projects/P/topics/T). It
// does not check that the topic exists: a missing topic or a missing grant
// shows as a failed publish, logged by the engine, and never stops a
// refresh.
func New(ctx context.Context, topic string, opts Options) (*Publisher, error) {
	project, _, ok := splitTopic(topic)
	if !ok {
		return nil, fmt.Errorf("topic %q is not a full topic name (projects/P/topics/T)", topic)
	}
	c, err := pubsub.NewClient(ctx, project, clientopts.Emulator(opts.EmulatorHost)...)
	if err != nil {
		return nil, fmt.Errorf("creating Pub/Sub client: %w", err)
	}
	p := c.Publisher(topic)
	p.PublishSettings.Timeout = opts.Timeout
	if p.PublishSettings.Timeout <= 0 {
		p.PublishSettings.Timeout = DefaultTimeout
	}
	// One message at a time, sent at once: the engine waits for each, and
	// on Cloud Run a message left in a batch after the request has answered
	// may never be sent: with request-based billing an instance gets CPU
	// only while it handles a request
	// (cloud.google.com/run/docs/configuring/billing-settings).
	p.PublishSettings.CountThreshold = 1
	p.PublishSettings.DelayThreshold = time.Millisecond
	return &Publisher{client: c, publisher: p, topic: topic}, nil
}

// Announce publishes c and waits until Pub/Sub has it or ctx ends.
func (p *Publisher) Announce(ctx context.Context, c refresh.Change) error {
	m := MessageOf(c)
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the message for %s: %w", c.Account, err)
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: data, Attributes: m.Attributes()})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publishing to %s: %w", p.topic, err)
	}
	return nil
}

// Close sends what is left and releases the client.
func (p *Publisher) Close() error {
	p.publisher.Stop()
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("closing Pub/Sub client: %w", err)
	}
	return nil
}

// splitTopic splits projects/P/topics/T.
func splitTopic(name string) (project, topic string, ok bool) {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return "", "", false
	}
	project, topic, ok = strings.Cut(rest, "/topics/")
	return project, topic, ok && project != "" && topic != "" && !strings.Contains(topic, "/")
}
