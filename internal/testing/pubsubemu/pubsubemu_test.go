package pubsubemu

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestHostAnswers(t *testing.T) {
	t.Parallel()
	resp, err := http.Get("http://" + Host(t) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: %s", resp.Status)
	}
}

func publish(t *testing.T, host, topic string, data string, attrs map[string]string) error {
	t.Helper()
	p := Client(t, host, "publisher").Publisher(topic)
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), Patience(host))
	defer cancel()
	_, err := p.Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: attrs}).Get(ctx)
	return err
}

// TestDrainGetsEachMessageOnce: what is published before Drain is drained,
// with its attributes, once.
func TestDrainGetsEachMessageOnce(t *testing.T) {
	t.Parallel()
	host := Host(t)
	tp, other := NewTopic(t, host), NewTopic(t, host)
	if tp.Name == other.Name {
		t.Fatalf("two topics named %s", tp.Name)
	}
	if got := tp.Drain(t); len(got) != 0 {
		t.Fatalf("a new topic holds %d messages", len(got))
	}
	for _, d := range []string{"one", "two"} {
		if err := publish(t, host, tp.Name, d, map[string]string{"k": d}); err != nil {
			t.Fatal(err)
		}
	}
	got := tp.Drain(t)
	if len(got) != 2 {
		t.Fatalf("drained %d messages, want 2", len(got))
	}
	for _, m := range got {
		if m.Attributes["k"] != string(m.Data) {
			t.Errorf("message %q has attributes %v", m.Data, m.Attributes)
		}
	}
	if again := tp.Drain(t); len(again) != 0 {
		t.Errorf("a second Drain got %d messages again", len(again))
	}
	if n := len(other.Drain(t)); n != 0 {
		t.Errorf("another test's topic got %d messages", n)
	}

	tp.Delete(t)
	if err := publish(t, host, tp.Name, "three", nil); err == nil {
		t.Error("publishing to a deleted topic succeeded")
	}
}

// TestStartAndStop: a test's own emulator serves until Stop, and Stop ends
// it.
func TestStartAndStop(t *testing.T) {
	t.Parallel()
	e := Start(t)
	tp := NewTopic(t, e.Host())
	if err := publish(t, e.Host(), tp.Name, "x", nil); err != nil {
		t.Fatal(err)
	}
	e.Stop()
	select {
	case <-e.Exited():
	default:
		t.Fatal("Stop returned before the emulator exited")
	}
	if c, err := net.DialTimeout("tcp", e.Host(), time.Second); err == nil {
		c.Close()
		t.Errorf("something still listens on %s after Stop", e.Host())
	}
}
