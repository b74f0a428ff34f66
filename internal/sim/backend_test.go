package sim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statestore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// backend is a pair of real stores the engine runs on, as the simulation
// uses them: without faults (the wrappers add those) and callable from
// inside the bubble.
type backend struct {
	name    string
	secrets refresh.SecretStore
	states  refresh.StateStore
	account func(id string) refresh.Account
	// create creates the account's secret, as Terraform (or `refresher add
	// --create`) does before the first token.
	create func(ctx context.Context, a refresh.Account) error
	// remote: the stores are across a network, whose clients give up on a
	// call at their own timeout or when its context ends, answer or not.
	remote bool
	// injects, when set, reports whether the backend applies a call's
	// fault below its adapters itself (grpcfaults_test.go).
	injects func(*injection) bool
	// unfaulted runs calls that are no pass's (the simulation inspecting
	// the stores, a person adding a token) as a person's would go: with
	// no quota of another tenant's in the way (a person retries). Nil
	// runs them as they are.
	unfaulted func(func())
}

// calm runs do as backend.unfaulted says, and returns what it returns.
func calm[T any](b *backend, do func() (T, error)) (T, error) {
	var r T
	var err error
	b.calmly(func() { r, err = do() })
	return r, err
}

// calmly runs do as backend.unfaulted says.
func (b *backend) calmly(do func()) {
	if b.unfaulted == nil {
		do()
		return
	}
	b.unfaulted(do)
}

// A backendFactory prepares a backend outside the bubble (servers, clients)
// and returns what opens it inside.
type backendFactory func(t *testing.T, clk *clock) func() *backend

// embeddedStore is the bbolt store, opened inside the bubble so that the
// channel guarding its file belongs to it. Its file lives in /dev/shm where
// there is one: bbolt opens the file and fsyncs every write, which on a
// disk costs more than the rest of the simulation together.
func embeddedStore(t *testing.T, clk *clock) func() *backend {
	dir := fastTempDir(t)
	return func() *backend {
		st, err := localstore.Open(filepath.Join(dir, "refresher.db"), localstore.Options{Now: clk.Now})
		if err != nil {
			t.Fatalf("opening the embedded store: %v", err)
		}
		return &backend{
			name:    "embedded",
			secrets: st,
			states:  st,
			account: st.Account,
			create: func(ctx context.Context, a refresh.Account) error {
				_, err := st.CreateSecret(ctx, a.ID)
				return err
			},
		}
	}
}

func fastTempDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "ttr-sim-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// simProject is the project of the Google run; Secret Manager answers with
// its number, as the real service does, so that versions are compared by
// secret ID and number as in production.
const (
	simProject       = "sim-project"
	simProjectNumber = "424242"
	simCollection    = "threads_tokens"
)

// googleStores is Secret Manager (the real Go client against the
// in-process smfake server) and Firestore (the real client against the
// emulator), both created outside the bubble: a gRPC client's transport
// goroutines close channels that the calling goroutine made, which from
// outside a bubble is a fatal error ("close of synctest channel from
// outside bubble", seen with grpc 1.84). So every call is handed to a
// goroutine outside the bubble (offBubble): the bubble goroutine waiting
// for it is not durably blocked, synctest.Wait waits for the call, and no
// simulated time passes during it.
func googleStores(t *testing.T, clk *clock) func() *backend {
	sm := smfake.Start(t, smfake.WithClock(clk.Now), smfake.WithProjectNumbers(map[string]string{simProject: simProjectNumber}))
	g := &grpcFaults{sm: sm}
	secrets := secretstore.NewFromClient(g.secretManagerClient(t))
	states := statestore.NewFromClient(g.firestoreClient(t, firestoreemu.Project(t)), simCollection)
	states.Now = clk.Now
	ex := startOffBubble(t)
	return func() *backend {
		return &backend{
			name:    "google",
			secrets: offBubbleSecrets{ex, secrets},
			states:  offBubbleStates{ex, states},
			account: func(id string) refresh.Account {
				return refresh.Account{ID: id, Secret: "projects/" + simProject + "/secrets/" + id}
			},
			create: func(ctx context.Context, a refresh.Account) error {
				_, err := offBubbleCall(ex, ctx, func(ctx context.Context) (struct{}, error) {
					return struct{}{}, secrets.CreateSecret(ctx, a, nil)
				})
				return err
			},
			remote:  true,
			injects: g.injects,
			unfaulted: func(do func()) {
				sm.SetQuotasEnforced(false)
				defer sm.SetQuotasEnforced(true)
				do()
			},
		}
	}
}

// offBubble runs calls on a goroutine outside the bubble, one at a time.
// Its channels are made outside the bubble too, so the bubble goroutine
// blocked on them is not durably blocked.
type offBubble struct {
	mu    sync.Mutex
	calls chan func()
	done  chan struct{}
}

func startOffBubble(t *testing.T) *offBubble {
	ex := &offBubble{calls: make(chan func()), done: make(chan struct{})}
	go func() {
		for fn := range ex.calls {
			fn()
			ex.done <- struct{}{}
		}
	}()
	t.Cleanup(func() { close(ex.calls) })
	return ex
}

// offBubbleTimeout bounds one call in real time, so that a stuck server
// fails the run instead of hanging it.
const offBubbleTimeout = time.Minute

// offBubbleCall runs do outside the bubble. The caller's context belongs to
// the bubble (its timers and channels may not be touched from outside), so
// do gets a context of its own that is already over when the caller's is,
// the same way, and otherwise lasts offBubbleTimeout of real time.
//
// The call's fault, if any, goes with it (injectionOf).
func offBubbleCall[T any](ex *offBubble, ctx context.Context, do func(context.Context) (T, error)) (T, error) {
	over := ctx.Err()
	inj := injectionOf(ctx)
	var r T
	var err error
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.calls <- func() {
		octx, cancel := context.WithTimeout(context.Background(), offBubbleTimeout)
		defer cancel()
		if inj != nil {
			octx = withInjection(octx, inj)
		}
		switch {
		case errors.Is(over, context.DeadlineExceeded):
			octx, cancel = context.WithDeadline(octx, time.Unix(0, 0))
			defer cancel()
		case over != nil:
			var cancelNow context.CancelFunc
			octx, cancelNow = context.WithCancel(octx)
			cancelNow()
		}
		r, err = do(octx)
	}
	<-ex.done
	return r, err
}

type offBubbleSecrets struct {
	ex    *offBubble
	inner refresh.SecretStore
}

func (o offBubbleSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	return offBubbleCall(o.ex, ctx, func(ctx context.Context) ([]refresh.Version, error) { return o.inner.Versions(ctx, a) })
}

func (o offBubbleSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	return offBubbleCall(o.ex, ctx, func(ctx context.Context) ([]byte, error) { return o.inner.Access(ctx, a, v) })
}

func (o offBubbleSecrets) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	return offBubbleCall(o.ex, ctx, func(ctx context.Context) (refresh.Version, error) { return o.inner.Add(ctx, a, payload) })
}

func (o offBubbleSecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	_, err := offBubbleCall(o.ex, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, o.inner.Destroy(ctx, a, v) })
	return err
}

type offBubbleStates struct {
	ex    *offBubble
	inner refresh.StateStore
}

func (o offBubbleStates) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	return offBubbleCall(o.ex, ctx, func(ctx context.Context) (map[string]refresh.State, error) { return o.inner.Load(ctx, accounts) })
}

func (o offBubbleStates) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	return offBubbleCall(o.ex, ctx, func(ctx context.Context) (refresh.State, error) { return o.inner.Lease(ctx, a, owner, until, read) })
}

func (o offBubbleStates) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	_, err := offBubbleCall(o.ex, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, o.inner.Commit(ctx, a, owner, st) })
	return err
}

func (o offBubbleStates) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	_, err := offBubbleCall(o.ex, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, o.inner.Release(ctx, a, owner, leased) })
	return err
}
