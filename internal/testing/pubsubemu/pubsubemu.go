// Package pubsubemu runs the real Pub/Sub emulator of the gcloud SDK for
// tests, and reads what was published to it, so that publishing is tested
// with the real Go client against a real server.
//
// A package whose tests share one emulator declares
//
//	func TestMain(m *testing.M) { os.Exit(pubsubemu.Main(m)) }
//
// and its tests call Host. A test that needs an emulator of its own (to stop
// it, say) calls Start instead. The emulator needs Java 17 or later and the
// SDK component:
//
//	gcloud components install pubsub-emulator
//
// or, where the SDK came from apt, the package
// google-cloud-cli-pubsub-emulator. Without them the tests that need it
// skip, except when the environment variable CI is set: there they fail.
package pubsubemu

import (
	"context"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/threads-token-refresher/threads-token-refresher/internal/clientopts"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/jvmemu"
)

// EnvHost is the variable the Pub/Sub client libraries read to find an
// emulator.
const EnvHost = "PUBSUB_EMULATOR_HOST"

// Spec is the Pub/Sub emulator of the gcloud SDK (`gcloud beta emulators
// pubsub start` runs the same jar). Its jar's name carries its version.
var Spec = jvmemu.Spec{
	Name: "Pub/Sub emulator",
	Jar:  "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar",
	Args: func(jar string, port int) []string {
		return []string{"-jar", jar, "--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
	},
	HowToGet: "install Java 17+ and the Pub/Sub emulator (`gcloud components install pubsub-emulator`, " +
		"or the apt package google-cloud-cli-pubsub-emulator), or set " + EnvHost + " to a running emulator",
}

var shared = &jvmemu.Shared{Spec: Spec, EnvHost: EnvHost}

// Main starts the package's shared emulator (unless PUBSUB_EMULATOR_HOST
// names one), runs the tests, stops it and returns the exit code for
// os.Exit.
func Main(m *testing.M) int { return shared.Main(m) }

// Host returns the shared emulator's host:port. When there is no emulator
// the test is skipped, or fails when CI is set.
func Host(t testing.TB) string {
	t.Helper()
	return shared.Host(t)
}

// Start starts an emulator for t alone, stopped when t ends (or earlier,
// with Stop).
func Start(t testing.TB) *jvmemu.Process {
	t.Helper()
	return Spec.Private(t)
}

// Topic is a topic in an emulator with one subscription that receives all
// of its messages from its creation on.
type Topic struct {
	// Name is the topic's full name, projects/P/topics/T.
	Name         string
	subscription string
	client       *pubsub.Client
	// patience bounds each call to the emulator (jvmemu.Patience).
	patience time.Duration
}

// Patience is how long a test waits for one call to the emulator at host
// before it gives up (jvmemu.Patience): a multiple of the emulator's own
// start-up time on this machine, not fixed seconds.
func Patience(host string) time.Duration { return jvmemu.Patience(host) }

// NewTopic creates a topic, in a project no other test uses, and its
// subscription, in the emulator at host.
func NewTopic(t testing.TB, host string) *Topic {
	t.Helper()
	project := jvmemu.ProjectID("pubsub")
	c := Client(t, host, project)
	tp := &Topic{
		Name:         "projects/" + project + "/topics/token-changes",
		subscription: "projects/" + project + "/subscriptions/token-changes-test",
		client:       c,
		patience:     Patience(host),
	}
	ctx, cancel := context.WithTimeout(context.Background(), tp.patience)
	defer cancel()
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tp.Name}); err != nil {
		t.Fatalf("creating topic %s: %v", tp.Name, err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: tp.subscription, Topic: tp.Name}); err != nil {
		t.Fatalf("creating subscription %s: %v", tp.subscription, err)
	}
	return tp
}

// Client is a Pub/Sub client of the emulator at host, closed when t ends.
func Client(t testing.TB, host, project string) *pubsub.Client {
	t.Helper()
	c, err := pubsub.NewClient(context.Background(), project, clientopts.Emulator(host)...)
	if err != nil {
		t.Fatalf("connecting to the Pub/Sub emulator at %s: %v", host, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Delete deletes the topic: publishing to it fails from then on.
func (tp *Topic) Delete(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tp.patience)
	defer cancel()
	if err := tp.client.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: tp.Name}); err != nil {
		t.Fatalf("deleting topic %s: %v", tp.Name, err)
	}
}

// Received is one message as a subscriber gets it.
type Received struct {
	Data       []byte
	Attributes map[string]string
}

// Drain returns, and acknowledges, every message the subscription holds.
// A message published before Drain is called is already held by the
// subscription, so each pull asks the emulator to answer at once with what
// it holds (return_immediately) and Drain ends at the first empty answer:
// no wait for messages that might still come is guessed, which a loaded
// machine would outlast.
func (tp *Topic) Drain(t testing.TB) []Received {
	t.Helper()
	var got []Received
	for {
		ctx, cancel := context.WithTimeout(context.Background(), tp.patience)
		// return_immediately is deprecated for the service, not the emulator.
		resp, err := tp.client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: tp.subscription, MaxMessages: 100, ReturnImmediately: true})
		cancel()
		if err != nil {
			t.Fatalf("pulling from %s: %v", tp.subscription, err)
		}
		if len(resp.GetReceivedMessages()) == 0 {
			return got
		}
		var acks []string
		for _, m := range resp.GetReceivedMessages() {
			got = append(got, Received{Data: m.GetMessage().GetData(), Attributes: m.GetMessage().GetAttributes()})
			acks = append(acks, m.GetAckId())
		}
		ctx, cancel = context.WithTimeout(context.Background(), tp.patience)
		err = tp.client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: tp.subscription, AckIds: acks})
		cancel()
		if err != nil {
			t.Fatalf("acknowledging on %s: %v", tp.subscription, err)
		}
	}
}
