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
//	refreshedAt    timestamp  when the refresher got the token: its refresh, or
//	                          the adopted version's create time (null if never)
//	issuedAt       timestamp  when Meta issued the token (null if unknown)
//	issuedFrom     string     meta, refresh or estimate: whose clock issuedAt is
//	expiresAt      timestamp  when the token itself expires (null if unknown)
//	expiryFrom     string     meta, refresh or estimate: whose clock expiresAt is
//	dataAccessExpiresAt
//	               timestamp  when the app's access to the user's data ends, as
//	                          Meta's inspection said (null if unknown)
//	scopes         array      the token's permissions, as Meta's inspection
//	                          said (absent if unknown)
//	status         string     ok, failing or needs_reauth
//	lastError      string     why the last attempt failed; "" when ok
//	failures       integer    attempts failed in a row
//	lastAttemptAt  timestamp  when a pass last tried the account (null if never)
//	announced      string     the health consumers were last told of: ok,
//	                          expiring, failing or needs_reauth (absent: none
//	                          told yet, taken as ok)
//	unannounced    string     refreshed or adopted: a change of the current
//	                          token not told yet (absent: none)
//	leaseOwner     string     the pass holding the lease; absent when free
//	leaseExpiresAt timestamp  when that lease ends; absent when free
//
// A document without a status holds no state yet, only a lease.
//
// Leases are taken and given back with single conditional writes, not
// transactions: see Lease, Commit and Release.
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
	fieldIssuedAt       = "issuedAt"
	fieldIssuedFrom     = "issuedFrom"
	fieldExpiresAt      = "expiresAt"
	fieldExpiryFrom     = "expiryFrom"
	fieldDataAccess     = "dataAccessExpiresAt"
	fieldScopes         = "scopes"
	fieldStatus         = "status"
	fieldLastError      = "lastError"
	fieldFailures       = "failures"
	fieldLastAttemptAt  = "lastAttemptAt"
	fieldAnnounced      = "announced"
	fieldUnannounced    = "unannounced"
	fieldLeaseOwner     = "leaseOwner"
	fieldLeaseExpiresAt = "leaseExpiresAt"
)

// DefaultDatabase is the database New uses when given none.
const DefaultDatabase = "(default)"

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

// Load reads every account's document in one BatchGetDocuments call. Each
// State's Rev holds the document's update time and its lease as read, for
// Lease.
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
		if !rec.exists {
			continue
		}
		st := rec.state()
		st.Rev = revision{updateTime: snap.UpdateTime, leaseOwner: rec.LeaseOwner, leaseExpiresAt: rec.LeaseExpiresAt}
		states[accounts[i].ID] = st
	}
	return states, nil
}

// revision is what a State's Rev holds in this store: the document's update
// time, which Firestore changes with every write that changes the document
// (and only then), and the lease it held; the zero revision is no document.
// Every lease write names a new owner or expiry, so it always changes the
// document, and its update time.
type revision struct {
	updateTime     time.Time
	leaseOwner     string
	leaseExpiresAt time.Time
}

// revisionOf returns st's revision; a State without one (no document was
// read) gives the zero revision.
func revisionOf(st refresh.State) (revision, error) {
	switch r := st.Rev.(type) {
	case nil:
		return revision{}, nil
	case revision:
		return r, nil
	default:
		return revision{}, fmt.Errorf("the state's revision (a %T) is not a Firestore one", st.Rev)
	}
}

// preconditionFailed reports whether a conditional write was refused
// because the document was not as the condition said. Firestore answers
// ALREADY_EXISTS to a Create of a document that exists, FAILED_PRECONDITION
// to an update time that is not the document's, and NOT_FOUND to an update
// of a document that does not exist (the emulator answers
// FAILED_PRECONDITION there too).
//
// The client retries a write that met UNAVAILABLE; should the first try
// have landed after all, the retry is refused as if another pass had
// written. The lease is then held until it expires, as after any write
// whose answer was lost.
func preconditionFailed(err error) bool {
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound:
		return true
	}
	return false
}

// lastUpdated is the precondition that the document is still as rev saw it
// ("the target document must exist and have been last updated at that
// time", Firestore's Precondition.update_time; Load's and a write's update
// times are the server's own, microsecond-aligned as it requires).
func lastUpdated(rev revision) firestore.Precondition {
	return firestore.LastUpdateTime(rev.updateTime)
}

// Lease implements refresh.StateStore with one write and no read: a Create
// (the document must not exist) when read found none, otherwise an update
// of the lease fields on condition that the document's update time is still
// read's. A lease another owner held unexpired when the document was read
// is busy at once, with no call to Firestore.
func (s *Store) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
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
	rev, err := revisionOf(read)
	if err != nil {
		return fail(err)
	}
	if rev.leaseOwner != "" && rev.leaseOwner != owner && rev.leaseExpiresAt.After(s.now()) {
		return fail(fmt.Errorf("%s holds it until %s: %w",
			rev.leaseOwner, rev.leaseExpiresAt.UTC().Format(time.RFC3339), refresh.ErrBusy))
	}
	var wr *firestore.WriteResult
	if rev.updateTime.IsZero() {
		// A document holding only the lease fields: no state yet.
		wr, err = ref.Create(ctx, map[string]any{fieldLeaseOwner: owner, fieldLeaseExpiresAt: until})
	} else {
		wr, err = ref.Update(ctx, []firestore.Update{
			{Path: fieldLeaseOwner, Value: owner},
			{Path: fieldLeaseExpiresAt, Value: until},
		}, lastUpdated(rev))
	}
	switch {
	case preconditionFailed(err):
		// Another pass wrote the document since this one read it: it
		// took the lease, or finished with the account.
		return fail(fmt.Errorf("the document changed since this pass read it: %w: %w", refresh.ErrBusy, err))
	case status.Code(err) == codes.Aborted:
		// Contention with another client's transaction on the document
		// (a pass of an older version): nothing was written; it is theirs
		// for now.
		return fail(fmt.Errorf("%w: %w", refresh.ErrBusy, err))
	}
	if err != nil {
		return fail(err)
	}
	st := read
	st.Rev = revision{updateTime: wr.UpdateTime, leaseOwner: owner, leaseExpiresAt: until}
	return st, nil
}

// Commit implements refresh.StateStore: one update of every field, the
// lease's deleted, on condition that the document's update time is still
// the one owner's lease write gave it.
func (s *Store) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	fail := func(err error) error {
		return fmt.Errorf("committing state of account %s: %w", a.ID, err)
	}
	if owner == "" {
		return fail(errors.New("empty lease owner"))
	}
	ref, err := s.doc(a)
	if err != nil {
		return fail(err)
	}
	rev, err := revisionOf(st)
	if err != nil {
		return fail(err)
	}
	if rev.updateTime.IsZero() || rev.leaseOwner != owner {
		return fail(fmt.Errorf("%s took no lease on it: %w", owner, refresh.ErrLeaseLost))
	}
	_, err = ref.Update(ctx, []firestore.Update{
		{Path: fieldSecret, Value: st.Secret},
		{Path: fieldVersion, Value: st.Version},
		{Path: fieldPlatform, Value: orDelete(st.Platform)},
		{Path: fieldRefreshedAt, Value: timestamp(st.RefreshedAt)},
		{Path: fieldIssuedAt, Value: timestamp(st.IssuedAt)},
		{Path: fieldIssuedFrom, Value: orDelete(string(st.IssuedFrom))},
		{Path: fieldExpiresAt, Value: timestamp(st.ExpiresAt)},
		{Path: fieldExpiryFrom, Value: orDelete(string(st.ExpiryFrom))},
		{Path: fieldDataAccess, Value: timestamp(st.DataAccessExpiresAt)},
		{Path: fieldScopes, Value: scopesOrDelete(st.Scopes)},
		{Path: fieldStatus, Value: string(st.Status)},
		{Path: fieldLastError, Value: st.LastError},
		{Path: fieldFailures, Value: int64(st.Failures)},
		{Path: fieldLastAttemptAt, Value: timestamp(st.LastAttemptAt)},
		{Path: fieldAnnounced, Value: orDelete(string(st.Announced))},
		{Path: fieldUnannounced, Value: orDelete(string(st.Unannounced))},
		{Path: fieldLeaseOwner, Value: firestore.Delete},
		{Path: fieldLeaseExpiresAt, Value: firestore.Delete},
	}, lastUpdated(rev))
	if preconditionFailed(err) {
		return fail(fmt.Errorf("the document changed since %s leased it (the lease expired and another pass took it): %w: %w",
			owner, refresh.ErrLeaseLost, err))
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// Release implements refresh.StateStore: one write on condition that the
// document's update time is still the one owner's lease write gave it. A
// document that holds nothing but the lease is deleted, so that an account
// that never got state leaves nothing behind.
func (s *Store) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	fail := func(err error) error {
		return fmt.Errorf("releasing the lease on account %s: %w", a.ID, err)
	}
	if owner == "" {
		return fail(errors.New("empty lease owner"))
	}
	ref, err := s.doc(a)
	if err != nil {
		return fail(err)
	}
	rev, err := revisionOf(leased)
	if err != nil {
		return fail(err)
	}
	if rev.updateTime.IsZero() || rev.leaseOwner != owner {
		return nil // not a lease of owner's: nothing of ours to give up
	}
	if leased.Known() {
		_, err = ref.Update(ctx, []firestore.Update{
			{Path: fieldLeaseOwner, Value: firestore.Delete},
			{Path: fieldLeaseExpiresAt, Value: firestore.Delete},
		}, lastUpdated(rev))
	} else {
		_, err = ref.Delete(ctx, lastUpdated(rev))
	}
	if preconditionFailed(err) {
		return nil // the lease expired and another pass took it
	}
	if err != nil {
		return fail(err)
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
	IssuedAt       time.Time `firestore:"issuedAt"`
	IssuedFrom     string    `firestore:"issuedFrom"`
	ExpiresAt      time.Time `firestore:"expiresAt"`
	ExpiryFrom     string    `firestore:"expiryFrom"`
	DataAccess     time.Time `firestore:"dataAccessExpiresAt"`
	Scopes         []string  `firestore:"scopes"`
	Status         string    `firestore:"status"`
	LastError      string    `firestore:"lastError"`
	Failures       int64     `firestore:"failures"`
	LastAttemptAt  time.Time `firestore:"lastAttemptAt"`
	Announced      string    `firestore:"announced"`
	Unannounced    string    `firestore:"unannounced"`
	LeaseOwner     string    `firestore:"leaseOwner"`
	LeaseExpiresAt time.Time `firestore:"leaseExpiresAt"`
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
		Secret:              r.Secret,
		Version:             r.Version,
		Platform:            r.Platform,
		RefreshedAt:         r.RefreshedAt,
		IssuedAt:            r.IssuedAt,
		IssuedFrom:          refresh.ClockSource(r.IssuedFrom),
		ExpiresAt:           r.ExpiresAt,
		ExpiryFrom:          refresh.ClockSource(r.ExpiryFrom),
		DataAccessExpiresAt: r.DataAccess,
		Scopes:              r.Scopes,
		Status:              refresh.Status(r.Status),
		LastError:           r.LastError,
		Failures:            int(r.Failures),
		LastAttemptAt:       r.LastAttemptAt,
		Announced:           refresh.Health(r.Announced),
		Unannounced:         refresh.ChangeEvent(r.Unannounced),
		Held:                refresh.Lease{Owner: r.LeaseOwner, Until: r.LeaseExpiresAt},
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

// scopesOrDelete leaves unknown scopes out of the document.
func scopesOrDelete(scopes []string) any {
	if len(scopes) == 0 {
		return firestore.Delete
	}
	return scopes
}

// timestamp stores the zero time as null, not as year 1.
func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
