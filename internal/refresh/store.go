package refresh

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Account is one Threads or Instagram account: one secret holding its token
// and one state record keyed by the secret's ID.
type Account struct {
	// ID is the secret ID ("main"); it names the account in reports, logs and
	// the state store.
	ID string
	// Secret is the store's full name of the secret
	// ("projects/p/secrets/main" in Secret Manager).
	Secret string
}

// VersionState is the state of one secret version.
type VersionState string

// Version states, as Secret Manager names them.
const (
	VersionEnabled   VersionState = "ENABLED"
	VersionDisabled  VersionState = "DISABLED"
	VersionDestroyed VersionState = "DESTROYED"
)

// Version is one version of an account's secret.
type Version struct {
	// Name is the full name the store answered with
	// (".../secrets/main/versions/3").
	Name string
	// Number is the version number (3), the only part compared.
	Number     int64
	CreateTime time.Time
	State      VersionState
}

// SecretStore keeps every account's token as numbered, immutable versions of
// one secret. Secret Manager and the embedded store implement it.
type SecretStore interface {
	// Versions lists every version of the account's secret, in any order and
	// in any state. It returns an error wrapping ErrNotFound when the secret
	// does not exist.
	Versions(ctx context.Context, a Account) ([]Version, error)
	// Access returns the payload of version v, after checking its checksum.
	Access(ctx context.Context, a Account, v Version) ([]byte, error)
	// Add stores payload as a new, enabled version and returns it. Errors
	// wrap ErrUnavailable when the call certainly did not happen and may be
	// retried, and ErrUncertain when it may have happened.
	Add(ctx context.Context, a Account, payload []byte) (Version, error)
	// Destroy destroys version v. Destroying a destroyed version is not an
	// error.
	Destroy(ctx context.Context, a Account, v Version) error
}

// Status is an account's stored condition.
type Status string

// Stored statuses. The zero Status means the account has no state yet.
const (
	StatusOK          Status = "ok"
	StatusFailing     Status = "failing"
	StatusNeedsReauth Status = "needs_reauth"
)

// State is what the state store records of one account. Lease fields are the
// store's business and are not part of it.
type State struct {
	// Secret is the full name of the account's secret.
	Secret string
	// Version is the full name of the secret version holding the current
	// token, as the secret store returned it.
	Version string
	// Platform is the platform the current token belongs to ("threads",
	// "instagram"), as its payload names it; empty until a pass has read
	// the payload.
	Platform string
	// RefreshedAt is when the refresher got the current token: the time
	// its refresh was answered, or, for an adopted version, the version's
	// create time.
	RefreshedAt time.Time
	// IssuedAt is when Meta issued the current token, as IssuedFrom says;
	// zero while it is unknown (a version adopted without one), which the
	// pass that finds it so settles at once.
	IssuedAt   time.Time
	IssuedFrom ClockSource
	// ExpiresAt is when the token itself dies, as ExpiryFrom says; zero
	// when unknown.
	ExpiresAt  time.Time
	ExpiryFrom ClockSource
	// DataAccessExpiresAt is when the app's access to the user's data ends
	// (Meta's debug_token alone tells it); zero when unknown. The token
	// lives on after it, but is of no use, and only a new login renews it.
	DataAccessExpiresAt time.Time
	// Scopes are the permissions the token carries, as Meta's inspection
	// last listed them; nil when unknown.
	Scopes        []string
	Status        Status
	LastError     string
	Failures      int
	LastAttemptAt time.Time

	// Announced is the health consumers were last told of (the Notifier);
	// empty when nothing was told yet, which counts as ok. Unannounced is a
	// change of the current token that the state records and consumers
	// were not told of (its publish failed, or there was no Notifier); the
	// next pass tells it. See health.go.
	Announced   Health
	Unannounced ChangeEvent

	// Held is the lease the record held when Load read it, expired or not;
	// the zero Lease when it held none. It is for people: a status view
	// shows an account under another pass's unexpired lease as busy. Stores
	// fill it in Load and never write it; Lease, Commit and Release decide
	// by the record itself.
	Held Lease

	// Rev is the state store's mark of the record this State was read
	// from (Load) or left as (Lease): what the store needs to make its next
	// write conditional on nobody having written the record since (in
	// Firestore, the document's update time). The engine never looks
	// inside; it hands Rev back to Lease, Commit and Release. Nil means no
	// record. Stores keep it comparable.
	Rev any
}

// ClockSource says where one of a token's clocks came from.
type ClockSource string

// Clock sources. The zero ClockSource means unknown (or a state written
// before the refresher kept clocks apart).
const (
	// ClockMeta: Meta's inspection of the token (debug_token).
	ClockMeta ClockSource = "meta"
	// ClockRefresh: the expires_in of the answer that issued the token (a
	// refresh, or the exchange at onboarding), counted from when the
	// refresher received it.
	ClockRefresh ClockSource = "refresh"
	// ClockEstimate: neither; a bound the refresher worked out, on the safe
	// side (README, "The clocks").
	ClockEstimate ClockSource = "estimate"
)

// Lease is a pass's hold on an account: which pass, and until when.
type Lease struct {
	// Owner names the pass: host, process and a random part.
	Owner string
	Until time.Time
}

// HeldAt reports whether the lease is held at now: it has an owner and has
// not expired.
func (l Lease) HeldAt(now time.Time) bool { return l.Owner != "" && now.Before(l.Until) }

// Known reports whether the record holds state, as opposed to nothing or a
// bare lease.
func (s State) Known() bool { return s.Status != "" }

// StateStore records each account's state and hands out per-account leases so
// that one pass at a time works on an account. Firestore and the embedded
// store implement it.
//
// A lease costs one write and its end one more, with no read: Lease writes
// on condition that the record is still as the pass's batched read (Load)
// saw it, and Commit and Release write on condition that it is still as
// Lease left it. A record someone else wrote in between fails the
// condition, and the write does not happen.
type StateStore interface {
	// Load reads the state of every account in one batched read, keyed by
	// Account.ID, each with the Rev that Lease needs. An account without a
	// record is absent; one whose record holds only a lease (a pass that
	// took it died before recording anything) is present with no status
	// (Known is false).
	Load(ctx context.Context, accounts []Account) (map[string]State, error)
	// Lease gives owner the account's lease until the given time, with one
	// write conditional on the record being still as read says: read is
	// what Load returned for the account, or the zero State when Load found
	// no record. The write does not happen, and the error wraps ErrBusy,
	// when read shows another owner's unexpired lease (then nothing is
	// written or sent at all), or when the record changed since it was read:
	// another pass leased it or recorded a refresh in between, so that a
	// stale read costs a pass the account, never a second refresh. A lease
	// whose time has passed may be taken over; owner may extend its own.
	// Lease returns the state under the lease: read's, since nothing
	// changed, with the Rev that Commit and Release need.
	Lease(ctx context.Context, a Account, owner string, until time.Time, read State) (State, error)
	// Commit writes st and releases the lease, with one write conditional on
	// the record being still as owner's Lease left it (st.Rev is the Rev
	// Lease returned). If it is not (the lease expired and another pass took
	// it), the error wraps ErrLeaseLost and nothing is written.
	Commit(ctx context.Context, a Account, owner string, st State) error
	// Release gives the lease up without changing the state, with one write
	// conditional on the record being still as owner's Lease left it
	// (leased is the State Lease returned). A record that holds nothing but
	// the lease is deleted. A lease owner no longer holds, or never held, is
	// left alone without an error.
	Release(ctx context.Context, a Account, owner string, leased State) error
}

// Errors that stores wrap so that the engine can classify them.
var (
	// ErrNotFound: the secret (or version) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy: another pass holds, or is taking, the account's lease.
	ErrBusy = errors.New("account is leased by another pass")
	// ErrLeaseLost: the lease expired and was taken by another pass.
	ErrLeaseLost = errors.New("lease lost to another pass")
	// ErrUnavailable: a write certainly did not happen; retry it.
	ErrUnavailable = errors.New("store unavailable")
	// ErrUncertain: a write may or may not have happened (a deadline passed
	// while it was in flight); check before retrying it.
	ErrUncertain = errors.New("store write outcome unknown")
	// ErrChecksum: a payload did not match its stored checksum.
	ErrChecksum = errors.New("payload checksum mismatch")
)

// VersionNumber returns the number at the end of a version name
// (".../versions/12" gives 12).
func VersionNumber(name string) (int64, bool) {
	i := strings.LastIndex(name, "/versions/")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[i+len("/versions/"):], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// SecretID returns the secret ID inside a secret or version name
// ("projects/p/secrets/main/versions/3" gives "main").
func SecretID(name string) (string, bool) {
	const marker = "secrets/"
	i := strings.LastIndex(name, marker)
	if i < 0 || (i > 0 && name[i-1] != '/') {
		return "", false
	}
	id := name[i+len(marker):]
	if j := strings.IndexByte(id, '/'); j >= 0 {
		id = id[:j]
	}
	return id, id != ""
}

// Current returns the account's newest enabled version and its payload: the
// token consumers reading "latest" get. No enabled version is ErrNotFound.
func Current(ctx context.Context, s SecretStore, a Account) (Version, []byte, error) {
	versions, err := s.Versions(ctx, a)
	if err != nil {
		return Version{}, nil, err
	}
	var current Version
	for _, v := range versions {
		if v.State == VersionEnabled && v.Number > current.Number {
			current = v
		}
	}
	if current.Number == 0 {
		return Version{}, nil, fmt.Errorf("no enabled version of %s: %w", a.Secret, ErrNotFound)
	}
	payload, err := s.Access(ctx, a, current)
	if err != nil {
		return Version{}, nil, err
	}
	return current, payload, nil
}
