// Package statestore keeps each account's refresh state, and the lease that
// lets one pass at a time work on an account, in Cloud Firestore.
//
// Every account is one document, <collection>/<account ID>, with these
// fields (a documented schema; operators read and edit it):
//
//	secret         string     full name of the account's secret
//	version        string     full name of the secret version holding the token
//	platform       string     threads or instagram, as the token's payload names it;
//	                          absent until a pass has read the payload
//	refreshedAt    timestamp  when the token was last refreshed (null if never)
//	expiresAt      timestamp  when the token expires (null if unknown)
//	status         string     ok, failing or needs_reauth
//	lastError      string     why the last attempt failed; "" when ok
//	failures       integer    attempts failed in a row
//	lastAttemptAt  timestamp  when a pass last tried the account (null if never)
//	leaseOwner     string     the pass holding the lease; absent when free
//	leaseExpiresAt timestamp  when that lease ends; absent when free
//
// A document without a status holds no state yet, only a lease.
package statestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Field names of the schema above.
const (
	fieldSecret         = "secret"
	fieldVersion        = "version"
	fieldPlatform       = "platform"
	fieldRefreshedAt    = "refreshedAt"
	fieldExpiresAt      = "expiresAt"
	fieldStatus         = "status"
	fieldLastError      = "lastError"
	fieldFailures       = "failures"
	fieldLastAttemptAt  = "lastAttemptAt"
	fieldLeaseOwner     = "leaseOwner"
	fieldLeaseExpiresAt = "leaseExpiresAt"
)

// DefaultDatabase is the database New uses when given none.
const DefaultDatabase = "(default)"

// txAttempts bounds the client's retries of a contended transaction: a
// lease that is being fought over is busy, and the pass moves on.
const txAttempts = 3

var _ refresh.StateStore = (*Store)(nil)

// Store is the Firestore state store.
type Store struct {
	client     *firestore.Client
	collection string
	owned      bool // Close closes the client

	// Now tells the time leases are compared with; tests set it before
	// using the store. It defaults to time.Now.
	Now func() time.Time
}

// New connects to the project's database ("" means "(default)") and keeps
// state in the given collection. Like every Firestore client it talks to the
// emulator named by FIRESTORE_EMULATOR_HOST when that is set.
func New(ctx context.Context, project, database, collection string) (*Store, error) {
	if database == "" {
		database = DefaultDatabase
	}
	if err := checkCollection(collection); err != nil {
		return nil, err
	}
	c, err := firestore.NewClientWithDatabase(ctx, project, database)
	if err != nil {
		return nil, fmt.Errorf("connecting to Firestore database %s of project %s: %w", database, project, err)
	}
	s := NewFromClient(c, collection)
	s.owned = true
	return s, nil
}

// NewFromClient keeps state in the given collection using c, which the
// caller keeps and closes.
func NewFromClient(c *firestore.Client, collection string) *Store {
	return &Store{client: c, collection: collection, Now: time.Now}
}

// Close closes the client if New made it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// checkCollection rejects what Client.Collection would turn into a nil
// reference: a collection path has an odd number of non-empty segments.
func checkCollection(collection string) error {
	parts := strings.Split(collection, "/")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("invalid Firestore collection path %q", collection)
		}
	}
	if len(parts)%2 != 1 {
		return fmt.Errorf("invalid Firestore collection path %q: it names a document", collection)
	}
	return nil
}

func (s *Store) doc(a refresh.Account) (*firestore.DocumentRef, error) {
	id := a.ID
	if id == "" || id == "." || id == ".." || strings.Contains(id, "/") ||
		(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__")) {
		return nil, fmt.Errorf("account ID %q is not a valid Firestore document ID", id)
	}
	coll := s.client.Collection(s.collection)
	if coll == nil {
		return nil, checkCollection(s.collection)
	}
	return coll.Doc(id), nil
}

// Load reads every account's document in one BatchGetDocuments call.
func (s *Store) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	states := make(map[string]refresh.State, len(accounts))
	if len(accounts) == 0 {
		return states, nil
	}
	refs := make([]*firestore.DocumentRef, len(accounts))
	for i, a := range accounts {
		ref, err := s.doc(a)
		if err != nil {
			return nil, fmt.Errorf("loading state of account %s: %w", a.ID, err)
		}
		refs[i] = ref
	}
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("loading state of %d accounts from Firestore: %w", len(accounts), err)
	}
	for i, snap := range snaps {
		rec, err := decode(snap)
		if err != nil {
			return nil, fmt.Errorf("loading state of account %s: %w", accounts[i].ID, err)
		}
		if st := rec.state(); st.Known() {
			states[accounts[i].ID] = st
		}
	}
	return states, nil
}

// Lease implements refresh.StateStore.
func (s *Store) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time) (refresh.State, error) {
	fail := func(err error) (refresh.State, error) {
		return refresh.State{}, fmt.Errorf("taking the lease on account %s: %w", a.ID, err)
	}
	if owner == "" {
		return fail(errors.New("empty lease owner"))
	}
	ref, err := s.doc(a)
	if err != nil {
		return fail(err)
	}
	now := s.now()
	var st refresh.State
	err = s.client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		rec, err := txGet(tx, ref)
		if err != nil {
			return err
		}
		if rec.LeaseOwner != "" && rec.LeaseOwner != owner && rec.LeaseExpiresAt.After(now) {
			return fmt.Errorf("%s holds it until %s: %w",
				rec.LeaseOwner, rec.LeaseExpiresAt.UTC().Format(time.RFC3339), refresh.ErrBusy)
		}
		st = rec.state()
		// Merging creates a missing document with the lease fields only.
		return tx.Set(ref, map[string]any{
			fieldLeaseOwner:     owner,
			fieldLeaseExpiresAt: until,
		}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	if status.Code(err) == codes.Aborted {
		// Other passes kept winning the document; it is theirs for now.
		return fail(fmt.Errorf("%w: %w", refresh.ErrBusy, err))
	}
	if err != nil {
		return fail(err)
	}
	if !st.Known() {
		return refresh.State{}, nil
	}
	return st, nil
}

// Commit implements refresh.StateStore.
func (s *Store) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	if owner == "" {
		return fmt.Errorf("committing state of account %s: empty lease owner", a.ID)
	}
	ref, err := s.doc(a)
	if err != nil {
		return fmt.Errorf("committing state of account %s: %w", a.ID, err)
	}
	err = s.client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		rec, err := txGet(tx, ref)
		if err != nil {
			return err
		}
		if !rec.exists || rec.LeaseOwner != owner {
			return leaseLost(owner, rec)
		}
		return tx.Update(ref, []firestore.Update{
			{Path: fieldSecret, Value: st.Secret},
			{Path: fieldVersion, Value: st.Version},
			{Path: fieldPlatform, Value: orDelete(st.Platform)},
			{Path: fieldRefreshedAt, Value: timestamp(st.RefreshedAt)},
			{Path: fieldExpiresAt, Value: timestamp(st.ExpiresAt)},
			{Path: fieldStatus, Value: string(st.Status)},
			{Path: fieldLastError, Value: st.LastError},
			{Path: fieldFailures, Value: int64(st.Failures)},
			{Path: fieldLastAttemptAt, Value: timestamp(st.LastAttemptAt)},
			{Path: fieldLeaseOwner, Value: firestore.Delete},
			{Path: fieldLeaseExpiresAt, Value: firestore.Delete},
		})
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return fmt.Errorf("committing state of account %s: %w", a.ID, err)
	}
	return nil
}

func leaseLost(owner string, rec record) error {
	if rec.LeaseOwner == "" {
		return fmt.Errorf("%s no longer holds it, nobody does: %w", owner, refresh.ErrLeaseLost)
	}
	return fmt.Errorf("%s holds it, not %s: %w", rec.LeaseOwner, owner, refresh.ErrLeaseLost)
}

// Release implements refresh.StateStore.
func (s *Store) Release(ctx context.Context, a refresh.Account, owner string) error {
	if owner == "" {
		return fmt.Errorf("releasing the lease on account %s: empty lease owner", a.ID)
	}
	ref, err := s.doc(a)
	if err != nil {
		return fmt.Errorf("releasing the lease on account %s: %w", a.ID, err)
	}
	err = s.client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		rec, err := txGet(tx, ref)
		if err != nil {
			return err
		}
		if !rec.exists || rec.LeaseOwner != owner {
			return nil // someone else's lease, or none: nothing of ours to give up
		}
		return tx.Update(ref, []firestore.Update{
			{Path: fieldLeaseOwner, Value: firestore.Delete},
			{Path: fieldLeaseExpiresAt, Value: firestore.Delete},
		})
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return fmt.Errorf("releasing the lease on account %s: %w", a.ID, err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// record is one account's document as stored.
type record struct {
	exists bool

	Secret         string    `firestore:"secret"`
	Version        string    `firestore:"version"`
	Platform       string    `firestore:"platform"`
	RefreshedAt    time.Time `firestore:"refreshedAt"`
	ExpiresAt      time.Time `firestore:"expiresAt"`
	Status         string    `firestore:"status"`
	LastError      string    `firestore:"lastError"`
	Failures       int64     `firestore:"failures"`
	LastAttemptAt  time.Time `firestore:"lastAttemptAt"`
	LeaseOwner     string    `firestore:"leaseOwner"`
	LeaseExpiresAt time.Time `firestore:"leaseExpiresAt"`
}

// txGet reads the document under the transaction; a missing document is
// a record that does not exist, not an error.
func txGet(tx *firestore.Transaction, ref *firestore.DocumentRef) (record, error) {
	snaps, err := tx.GetAll([]*firestore.DocumentRef{ref})
	if err != nil {
		return record{}, err
	}
	return decode(snaps[0])
}

// decode reads a snapshot; null timestamps read as the zero time.
func decode(snap *firestore.DocumentSnapshot) (record, error) {
	if !snap.Exists() {
		return record{}, nil
	}
	var rec record
	if err := snap.DataTo(&rec); err != nil {
		return record{}, fmt.Errorf("decoding %s: %w", snap.Ref.Path, err)
	}
	rec.exists = true
	return rec, nil
}

func (r record) state() refresh.State {
	return refresh.State{
		Secret:        r.Secret,
		Version:       r.Version,
		Platform:      r.Platform,
		RefreshedAt:   r.RefreshedAt,
		ExpiresAt:     r.ExpiresAt,
		Status:        refresh.Status(r.Status),
		LastError:     r.LastError,
		Failures:      int(r.Failures),
		LastAttemptAt: r.LastAttemptAt,
	}
}

// orDelete leaves an unknown value out of the document rather than storing
// an empty string.
func orDelete(s string) any {
	if s == "" {
		return firestore.Delete
	}
	return s
}

// timestamp stores the zero time as null, not as year 1.
func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
