package notify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// mortal is a process that dies just before its n-th call to a store or
// the notifier: that call and every later one have no effect and fail, as
// nothing a dead process asks for happens. Its counting also measures how
// many calls a pass makes (die 0: never). Each told change is checked as
// it is told: a token change must name the secret's newest version, the
// one stored.
type mortal struct {
	refresh.SecretStore
	refresh.StateStore
	notifier refresh.Notifier
	t        *testing.T
	store    refresh.SecretStore

	mu    sync.Mutex
	calls int
	die   int
	log   []string // each call, for a failure's message
}

var errDead = errors.New("the process is dead")

func (m *mortal) live(what string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.log = append(m.log, what)
	if m.die > 0 && m.calls >= m.die {
		return errDead
	}
	return nil
}

func (m *mortal) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	if err := m.live("Versions"); err != nil {
		return nil, err
	}
	return m.SecretStore.Versions(ctx, a)
}

func (m *mortal) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	if err := m.live("Access"); err != nil {
		return nil, err
	}
	return m.SecretStore.Access(ctx, a, v)
}

func (m *mortal) Add(ctx context.Context, a refresh.Account, p []byte) (refresh.Version, error) {
	if err := m.live("Add"); err != nil {
		return refresh.Version{}, err
	}
	return m.SecretStore.Add(ctx, a, p)
}

func (m *mortal) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	if err := m.live("Destroy"); err != nil {
		return err
	}
	return m.SecretStore.Destroy(ctx, a, v)
}

func (m *mortal) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	if err := m.live("Load"); err != nil {
		return nil, err
	}
	return m.StateStore.Load(ctx, accounts)
}

func (m *mortal) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	if err := m.live("Lease"); err != nil {
		return refresh.State{}, err
	}
	return m.StateStore.Lease(ctx, a, owner, until, read)
}

func (m *mortal) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	if err := m.live("Commit"); err != nil {
		return err
	}
	return m.StateStore.Commit(ctx, a, owner, st)
}

func (m *mortal) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	if err := m.live("Release"); err != nil {
		return err
	}
	return m.StateStore.Release(ctx, a, owner, leased)
}

func (m *mortal) Announce(ctx context.Context, c refresh.Change) error {
	if err := m.live("Announce " + string(c.Event)); err != nil {
		return err
	}
	return checkedAnnounce(ctx, m.t, m.store, m.notifier, c)
}

// checkedAnnounce tells c through n, after checking that a token change
// names the version the secret store holds as newest.
func checkedAnnounce(ctx context.Context, t *testing.T, store refresh.SecretStore, n refresh.Notifier, c refresh.Change) error {
	if c.Event.TokenChange() {
		id, _ := refresh.SecretID(c.Secret)
		cur, _, err := refresh.Current(ctx, store, refresh.Account{ID: id, Secret: c.Secret})
		if err != nil || cur.Name != c.Version {
			t.Errorf("told %s of %s while the newest stored version is %q (%v)", c.Event, c.Version, cur.Name, err)
		}
	}
	return n.Announce(ctx, c)
}

// checked is a notifier that checks each change as mortal does, for the
// process that runs after the death.
type checked struct {
	t     *testing.T
	store refresh.SecretStore
	n     refresh.Notifier
}

func (c checked) Announce(ctx context.Context, ch refresh.Change) error {
	return checkedAnnounce(ctx, c.t, c.store, c.n, ch)
}

// crashScenario brings an account to the brink of a pass that changes
// something consumers must hear, and says what they must hear.
type crashScenario struct {
	name string
	// setup runs the passes before the one that dies, and arranges it.
	setup func(w *world)
	// health is the event the dying pass tells (besides the token change,
	// if it refreshes); final the health after it.
	health string
	final  refresh.Health
	// token: the dying pass makes a new current token.
	token bool
}

var crashScenarios = []crashScenario{
	{
		name: "a refresh that recovers a failing account",
		setup: func(w *world) {
			w.Seed("main", 72*time.Hour)
			w.pass() // refreshed
			w.Clock.Advance(25 * time.Hour)
			w.TH.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3)
			w.pass() // failing
			w.Clock.Advance(time.Hour)
		},
		health: "recovered", final: refresh.HealthOK, token: true,
	},
	{
		name: "a refusal",
		setup: func(w *world) {
			w.Seed("main", 72*time.Hour)
			w.pass() // refreshed
			w.TH.Revoke(w.tokenOf("main"))
			w.Clock.Advance(25 * time.Hour)
		},
		health: "needs_reauth", final: refresh.HealthNeedsReauth,
	},
}

// TestNoEventLostInACrash: the process running a pass dies just before
// each of the pass's calls to a store or the notifier in turn (before the
// token is stored, between the store and the first publish, between two
// publishes, between the last publish and the state write, after it).
// Once the dead pass's lease has expired, the next process's passes tell
// what the dead one did not: consumers hear the version the state then
// records and the change of health, at least once; no message names a
// version that is not stored; and the state records everything as told.
func TestNoEventLostInACrash(t *testing.T) {
	t.Parallel()
	eachSink(t, func(t *testing.T, kind string) {
		for _, sc := range crashScenarios {
			// How many calls the pass makes when nothing dies.
			w := newWorldOf(t, kind)
			sc.setup(w)
			m := w.mortal(0)
			w.pass()
			calls := m.calls
			if calls < 5 {
				t.Fatalf("%s: the pass made %d calls: %v", sc.name, calls, m.log)
			}
			for die := 1; die <= calls+1; die++ {
				t.Run(fmt.Sprintf("%s/dies at call %d of %d", sc.name, die, calls), func(t *testing.T) {
					crashRound(t, kind, sc, die)
				})
			}
		}
	})
}

// crashRound runs one scenario whose pass dies before call die.
func crashRound(t *testing.T, kind string, sc crashScenario, die int) {
	w := newWorldOf(t, kind)
	sc.setup(w)
	w.received()
	m := w.mortal(die)
	_, _ = w.Engine.Pass(context.Background()) // the dying pass
	if die <= m.calls {
		t.Logf("died before call %d: %s", die, m.log[die-1])
	}
	got := w.received()

	// The next process, once the dead pass's lease has expired (45
	// minutes): two passes.
	w.Engine.Secrets, w.Engine.States, w.Engine.Notifier = w.Store, w.Store, checked{t: t, store: w.Store, n: w.sink.notifier()}
	for range 2 {
		w.Clock.Advance(time.Hour)
		w.pass()
		got = append(got, w.received()...)
	}

	st := w.State("main")
	var told, health bool
	for _, msg := range got {
		switch {
		case msg.Event == "refreshed" || msg.Event == "adopted":
			told = told || msg.Version == st.Version
		case msg.Event == sc.health:
			health = true
		}
	}
	if sc.token && !told {
		t.Errorf("no message names %s, the version the state records: %v", st.Version, events(got))
	}
	if !health {
		t.Errorf("%s was never told: %v", sc.health, events(got))
	}
	if len(got) > 0 && got[len(got)-1].Health != string(sc.final) {
		t.Errorf("the last message says health %s, want %s: %+v", got[len(got)-1].Health, sc.final, got)
	}
	if st.Announced != sc.final || st.Unannounced != "" {
		t.Errorf("the state records %q told and %q untold, want %q and nothing", st.Announced, st.Unannounced, sc.final)
	}
}

// mortal wraps the world's stores and notifier in a process that dies
// before call die (0: never).
func (w *world) mortal(die int) *mortal {
	m := &mortal{SecretStore: w.Store, StateStore: w.Store, notifier: w.sink.notifier(), t: w.t, store: w.Store, die: die}
	w.Engine.Secrets, w.Engine.States, w.Engine.Notifier = m, m, m
	return m
}
