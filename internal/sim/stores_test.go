package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// The store calls of passes: the wrappers every backend's stores go
// through, which pass each call through the turnstile, give it its time,
// and apply its fault (or hand it to the backend to apply below its
// adapters).

// errCrashed is what every call of a dead pass gets: nothing it asks for
// happens. The engine goes on with its goroutines (they are real), but its
// report and every later call are the dead process's and count for nothing.
var errCrashed = errors.New("sim: the pass's process is dead")

// injection is one store call's fault as it is applied where the store
// meets its client, and what became of the call there: the Google
// backend's interceptors apply it to the gRPC calls below secretstore and
// statestore (grpcfaults_test.go); for the embedded store, storeCall
// stands in for them.
type injection struct {
	op     op
	kind   faultKind
	outage bool
	// attempts counts the gRPC attempts of the call (the client library
	// retries some codes on some methods).
	attempts int
	// carried: the store carried the call out, whatever it answered; ok:
	// and answered without an error.
	carried, ok bool
}

type injectionKey struct{}

func withInjection(ctx context.Context, inj *injection) context.Context {
	return context.WithValue(ctx, injectionKey{}, inj)
}

func injectionOf(ctx context.Context) *injection {
	inj, _ := ctx.Value(injectionKey{}).(*injection)
	return inj
}

// storeCall is one store call as time passes (calls_test.go). It passes
// the turnstile as it starts, where the driver draws its fate and how long
// it takes; takes effect when it lands (as it starts, for most calls;
// part of the way through a slow one), passing the turnstile there; and
// passes it again as its answer reaches the caller. A call whose context
// has ended, or ends before it lands, does not happen: it fails as the
// store fails a call whose context has ended. One whose context ends after
// it landed has happened; a remote store's client then gives up on the
// answer (Secret Manager's and Firestore's clients answer DEADLINE_EXCEEDED
// or CANCELED, and secretstore makes that ErrUncertain for a write), which
// the call learns by asking the store again with the ended context, sent
// nowhere; the embedded store, in-process, answers anyway. A remote call
// also ends at its client's own timeout (storeCallTimeout). A dead pass's
// call does nothing, from whichever phase it finds its process dead.
//
// The faults: an unavailable store does nothing; an uncertain write lands
// and then fails as a deadline; the Google backend adds quota refusals
// (smfake's own, after another tenant spent the minute's quota) and
// corrupted payloads. Where the backend applies a kind below the adapters
// (injects), the adapters classify what they get; elsewhere the errors are
// made here, carrying the refresh sentinels as secretstore sets them for
// Secret Manager and as plain gRPC statuses, as statestore returns them,
// for the state store. landed, when set, hears whether the call landed.
func storeCall[T any](s *sim, ctx context.Context, account string, o op, detail string, landed func(*injection), do func(context.Context) (T, error)) (T, error) {
	var zero T
	f := s.takeOff(ctx, account, o, detail)
	inj := &injection{op: o, kind: f.v.fault, outage: f.v.outage}
	if f.v.crash {
		s.noteStoreCall(f, inj, "its process had died")
		return zero, errCrashed
	}
	if s.be.remote {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		f.ctx = ctx
	}
	if ctx.Err() != nil {
		// Sent nowhere: the store's own answer to an ended context.
		s.noteStoreCall(f, inj, "its context had ended before it began")
		return do(ctx)
	}
	if f.v.land > 0 {
		if f.waitUntil(f.v.land) {
			s.noteStoreCall(f, inj, "its context ended before it landed")
			if f.next(phaseAnswer) {
				return zero, errCrashed
			}
			return do(ctx)
		}
		if f.next(phaseLand) {
			s.noteStoreCall(f, inj, "its process had died")
			return zero, errCrashed
		}
	}
	r, err := applyFault(s, ctx, inj, do)
	if landed != nil {
		landed(inj)
	}
	cut := f.waitUntil(f.v.latency)
	s.noteStoreCall(f, inj, "")
	if f.next(phaseAnswer) {
		return zero, errCrashed
	}
	if cut && s.be.remote {
		// The answer is lost: the client says so its own way.
		_, err := do(ctx)
		return zero, err
	}
	return r, err
}

// applyFault makes the call, with its fault. It records in inj whether the
// store carried the call out.
func applyFault[T any](s *sim, ctx context.Context, inj *injection, do func(context.Context) (T, error)) (T, error) {
	var zero T
	o := opOfFault(inj.kind)
	if inj.kind != "" && s.be.injects != nil && s.be.injects(inj) {
		return do(withInjection(ctx, inj))
	}
	switch inj.kind {
	case faultSecretsDenied:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.PermissionDenied, "injected: the function may not add versions to this secret"))
	case faultSecretsDown:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUnavailable, status.Error(codes.Unavailable, "injected outage"))
	case faultStateDown:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.Unavailable, "injected outage"))
	}
	if s.be.remote {
		// The interceptors record what the store did.
		r, err := do(withInjection(ctx, inj))
		if err != nil || inj.kind == "" {
			return r, err
		}
	} else {
		r, err := do(ctx)
		inj.carried, inj.ok = !cutByDeadline(err), err == nil
		if err != nil || inj.kind == "" {
			return r, err
		}
	}
	switch inj.kind {
	case faultSecretsUncertain:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUncertain, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	case faultStateUncertain:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	}
	panic("sim: no way to apply fault " + string(inj.kind) + " here")
}

// opOfFault names the store a fault is of, in the errors made for it.
func opOfFault(k faultKind) string {
	switch k {
	case faultStateDown, faultStateUncertain:
		return "state store"
	}
	return "Secret Manager"
}

// faultySecrets and faultyStates wrap a backend's stores with the
// turnstile and the faults, the same for every backend.
type faultySecrets struct {
	s     *sim
	inner refresh.SecretStore
}

func (f faultySecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	return storeCall(f.s, ctx, a.ID, opVersions, "", nil, func(ctx context.Context) ([]refresh.Version, error) { return f.inner.Versions(ctx, a) })
}

func (f faultySecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	return storeCall(f.s, ctx, a.ID, opAccess, strconv.FormatInt(v.Number, 10), nil, func(ctx context.Context) ([]byte, error) { return f.inner.Access(ctx, a, v) })
}

func (f faultySecrets) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	landed := func(inj *injection) {
		if inj.carried && (inj.ok || inj.kind == faultSecretsUncertain) {
			f.s.model.stored(payload)
		}
	}
	return storeCall(f.s, ctx, a.ID, opAdd, "", landed, func(ctx context.Context) (refresh.Version, error) { return f.inner.Add(ctx, a, payload) })
}

func (f faultySecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	_, err := storeCall(f.s, ctx, a.ID, opDestroy, strconv.FormatInt(v.Number, 10), nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Destroy(ctx, a, v) })
	return err
}

type faultyStates struct {
	s     *sim
	inner refresh.StateStore
}

func (f faultyStates) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	return storeCall(f.s, ctx, "", opLoad, "", nil, func(ctx context.Context) (map[string]refresh.State, error) { return f.inner.Load(ctx, accounts) })
}

func (f faultyStates) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	st, err := storeCall(f.s, ctx, a.ID, opLease, "", nil, func(ctx context.Context) (refresh.State, error) { return f.inner.Lease(ctx, a, owner, until, read) })
	if err == nil {
		f.s.leaseOf(ctx, a.ID).held = true
	}
	return st, err
}

func (f faultyStates) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opCommit, "", nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Commit(ctx, a, owner, st) })
	return err
}

func (f faultyStates) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opRelease, "", nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Release(ctx, a, owner, leased) })
	return err
}
