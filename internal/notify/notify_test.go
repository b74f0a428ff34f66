package notify_test

// These tests run the real engine (on the embedded store, against the
// Threads fake) with the Pub/Sub publisher talking to the real Pub/Sub
// emulator of the gcloud SDK, and read what a subscriber receives.

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/localengine"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/pubsubemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

func TestMain(m *testing.M) { os.Exit(pubsubemu.Main(m)) }

// world is an engine telling one sink: a topic of an emulator, or a
// TOKEN_EVENTS_FILE.
type world struct {
	*localengine.Rig
	t    *testing.T
	sink sink
}

// newWorld is a world publishing to a topic of the emulator at host, each
// publish bounded by timeout.
func newWorld(t *testing.T, host string, timeout time.Duration) *world {
	t.Helper()
	w := &world{Rig: localengine.New(t), t: t}
	w.sink = newTopicSink(t, host, timeout)
	w.Engine.Notifier = w.sink.notifier()
	w.Engine.NotifyTimeout = timeout
	return w
}

// newWorldOf is a world telling a sink of the given kind (kindTopic with
// the package's emulator, or kindFile), whose Threads fake starts with
// opts.
func newWorldOf(t *testing.T, kind string, opts ...threadsfake.Option) *world {
	t.Helper()
	w := &world{Rig: localengine.New(t, opts...), t: t}
	switch kind {
	case kindTopic:
		host := pubsubemu.Host(t)
		w.sink = newTopicSink(t, host, pubsubemu.Patience(host))
		w.Engine.NotifyTimeout = pubsubemu.Patience(host)
	case kindFile:
		w.sink = newFileSink(t)
	default:
		t.Fatalf("no sink %q", kind)
	}
	w.Engine.Notifier = w.sink.notifier()
	return w
}

// Kinds of sink, the two refresh.Notifier implementations.
const (
	kindTopic = "topic"
	kindFile  = "file"
)

// eachSink runs f once per kind of sink, in parallel subtests.
func eachSink(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range []string{kindTopic, kindFile} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

func (w *world) pass() refresh.Report {
	w.t.Helper()
	rep, err := w.Engine.Pass(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// received returns what the sink received since it was last asked,
// decoded: each must be exactly a notify.Message, and on Pub/Sub carry the
// same attributes. Every message is added to the log that is searched for
// tokens.
func (w *world) received() []notify.Message {
	w.t.Helper()
	var out []notify.Message
	for _, m := range w.sink.take(w.t) {
		w.Logs.Write(m.Data)
		for k, v := range m.Attributes {
			w.Logs.Write([]byte("\n" + k + "=" + v + "\n"))
		}
		dec := json.NewDecoder(bytes.NewReader(m.Data))
		dec.DisallowUnknownFields()
		var msg notify.Message
		if err := dec.Decode(&msg); err != nil {
			w.t.Fatalf("message data is not a notify.Message: %v: %s", err, m.Data)
		}
		if msg.SchemaVersion != notify.SchemaVersion || msg.Event == "" || msg.Health == "" || msg.At == "" {
			w.t.Errorf("message %s lacks a key every message has", m.Data)
		}
		if m.Attributes != nil && !maps.Equal(m.Attributes, msg.Attributes()) {
			w.t.Errorf("attributes %v, want %v (the data's)", m.Attributes, msg.Attributes())
		}
		out = append(out, msg)
	}
	return out
}

// events are the messages' events, in order.
func events(msgs []notify.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Event)
	}
	return out
}

// wantEvents checks that msgs are, in order, the events want, all of the
// account's, and returns them.
func (w *world) wantEvents(what string, msgs []notify.Message, want ...string) []notify.Message {
	w.t.Helper()
	if !slices.Equal(events(msgs), want) {
		w.t.Fatalf("%s: events %v (%+v), want %v", what, events(msgs), msgs, want)
	}
	return msgs
}

// wantOne checks that msgs is one message announcing the account's current
// version, as the state records it, with health ok.
func (w *world) wantOne(what string, msgs []notify.Message, account, event string) {
	w.t.Helper()
	if len(msgs) != 1 {
		w.t.Fatalf("%s: %d messages %+v, want 1", what, len(msgs), msgs)
	}
	m := msgs[0]
	newest := w.Newest(account)
	if m.Account != account || m.Secret != w.Store.Account(account).Secret || m.Version != newest.Name || m.Event != event ||
		m.Platform != "threads" || m.Health != "ok" || m.HoursLeft == nil || m.Error != "" || m.Fix != "" {
		w.t.Errorf("%s: message %+v, want %s of %s's newest version %s, health ok, with hoursLeft", what, m, event, account, newest.Name)
	}
	if st := w.State(account); st.Version != m.Version {
		w.t.Errorf("%s: the message names %s, the state records %s", what, m.Version, st.Version)
	}
}

func TestRefreshPublishesOneMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pubsubemu.Host(t), pubsubemu.Patience(pubsubemu.Host(t)))
	w.Seed("main", 72*time.Hour)
	w.pass()
	w.wantOne("refresh", w.received(), "main", "refreshed")
	if n := w.Newest("main").Number; n != 2 {
		t.Errorf("newest version %d, want 2", n)
	}

	w.Clock.Advance(time.Hour)
	if r, _ := w.pass().Find("main"); r.Result != refresh.ResultFresh {
		t.Fatalf("second pass: %+v, want fresh", r)
	}
	if got := w.received(); len(got) != 0 {
		t.Errorf("a fresh pass published %+v", got)
	}
}

func TestAdoptionPublishesOneMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pubsubemu.Host(t), pubsubemu.Patience(pubsubemu.Host(t)))
	w.Seed("main", time.Hour) // added by `refresher add`, not due
	if r, _ := w.pass().Find("main"); r.Result != refresh.ResultRolledForward {
		t.Fatalf("%+v, want rolled_forward", r)
	}
	w.wantOne("first adoption", w.received(), "main", "adopted")

	// Threads refuses main's token (needs_reauth is told); a person logs in
	// again and adds a new one by hand: it is adopted, and announced, once,
	// with the recovery.
	w.Clock.Advance(24 * time.Hour)
	w.TH.Revoke(w.tokenOf("main"))
	if r, _ := w.pass().Find("main"); r.Result != refresh.ResultNeedsReauth {
		t.Fatalf("after the revocation: %+v, want needs_reauth", r)
	}
	w.wantEvents("a refused refresh", w.received(), "needs_reauth")
	w.Clock.Advance(time.Hour)
	w.Seed("main", time.Hour)
	if r, _ := w.pass().Find("main"); r.Result != refresh.ResultRolledForward {
		t.Fatalf("after a new login: %+v, want rolled_forward", r)
	}
	got := w.received()
	w.wantEvents("a version added by hand", got, "adopted", "recovered")
	w.wantOne("a version added by hand", got[:1], "main", "adopted")
	w.Clock.Advance(time.Hour)
	w.pass()
	if got := w.received(); len(got) != 0 {
		t.Errorf("the next pass published %+v", got)
	}
}

// tokenOf is the account's current token.
func (w *world) tokenOf(id string) string {
	w.t.Helper()
	_, raw, err := refresh.Current(context.Background(), w.Store, w.Store.Account(id))
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := payload.Parse(raw)
	if err != nil {
		w.t.Fatal(err)
	}
	return p.Token()
}

// TestFailedPublishKeepsTheToken: when the topic is gone or Pub/Sub does not
// answer, the refreshed token is stored and recorded all the same, the
// account is refreshed, and the failure is a WARNING naming the account.
func TestFailedPublishKeepsTheToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		break_ func(w *world, emu interface{ Stop() })
	}{
		{"topic deleted", func(w *world, _ interface{ Stop() }) { w.sink.(*topicSink).topic.Delete(w.t) }},
		{"emulator stopped", func(_ *world, emu interface{ Stop() }) { emu.Stop() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := pubsubemu.Start(t)
			const bound = 2 * time.Second
			w := newWorld(t, emu.Host(), bound)
			w.Seed("main", 72*time.Hour)
			w.Seed("other", 72*time.Hour)
			tt.break_(w, emu)

			// Two publishes, each bounded; the rest of the pass takes what
			// a call to the emulator may take on this machine.
			slack := pubsubemu.Patience(emu.Host())
			start := time.Now()
			rep := w.pass()
			if took := time.Since(start); took > 2*bound+slack {
				t.Errorf("the pass took %v with publishing bounded to %v", took, bound)
			}
			for _, id := range []string{"main", "other"} {
				r, _ := rep.Find(id)
				if r.Result != refresh.ResultRefreshed {
					t.Errorf("%s: %+v, want refreshed", id, r)
				}
				newest := w.Newest(id)
				if newest.Number != 2 || w.State(id).Version != newest.Name {
					t.Errorf("%s: newest version %s, state records %s; want the refresh stored and recorded", id, newest.Name, w.State(id).Version)
				}
				if !strings.Contains(w.Logs.String(), `"severity":"WARNING","message":"token change not published; consumers reading latest still get the new token","account":"`+id+`"`) {
					t.Errorf("no WARNING naming %s:\n%s", id, w.Logs.String())
				}
			}
			if strings.Contains(w.Logs.String(), `"severity":"ERROR"`) {
				t.Errorf("a failed publish logged an ERROR:\n%s", w.Logs.String())
			}
		})
	}
}

// TestNoTokenInMessages: the messages of refreshes and adoptions, and the
// log, hold no token (the rig searches its log, where received() copies
// every message, when the test ends; the scenarios of health_test.go are
// searched the same way).
func TestNoTokenInMessages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pubsubemu.Host(t), pubsubemu.Patience(pubsubemu.Host(t)))
	w.Seed("due", 72*time.Hour)
	w.Seed("added", time.Hour)
	w.pass()
	if got := w.received(); len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	if len(w.TH.Tokens()) < 3 {
		t.Errorf("the search covered %d tokens, want at least 3", len(w.TH.Tokens()))
	}
	w.CheckNoToken() // says which
}

func TestNewRefusesANameThatIsNoTopic(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"token-changes", "projects/p/subscriptions/s", "projects//topics/t", "projects/p/topics/t/x"} {
		if _, err := notify.New(context.Background(), name, notify.Options{EmulatorHost: "127.0.0.1:1"}); err == nil {
			t.Errorf("New(%q) accepted it", name)
		}
	}
}
