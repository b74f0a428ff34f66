package localstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// stateRecord is one account's record, with the field names of the
// Firestore documents so that both stores read alike.
type stateRecord struct {
	Secret         string    `json:"secret,omitempty"`
	Version        string    `json:"version,omitempty"`
	Platform       string    `json:"platform,omitempty"`
	RefreshedAt    time.Time `json:"refreshedAt,omitzero"`
	IssuedAt       time.Time `json:"issuedAt,omitzero"`
	IssuedFrom     string    `json:"issuedFrom,omitempty"`
	ExpiresAt      time.Time `json:"expiresAt,omitzero"`
	ExpiryFrom     string    `json:"expiryFrom,omitempty"`
	DataAccess     time.Time `json:"dataAccessExpiresAt,omitzero"`
	Scopes         []string  `json:"scopes,omitempty"`
	Status         string    `json:"status,omitempty"`
	LastError      string    `json:"lastError,omitempty"`
	Failures       int       `json:"failures,omitempty"`
	LastAttemptAt  time.Time `json:"lastAttemptAt,omitzero"`
	Announced      string    `json:"announced,omitempty"`
	Unannounced    string    `json:"unannounced,omitempty"`
	LeaseOwner     string    `json:"leaseOwner,omitempty"`
	LeaseExpiresAt time.Time `json:"leaseExpiresAt,omitzero"`
}

func (r stateRecord) state() refresh.State {
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
		Failures:            r.Failures,
		LastAttemptAt:       r.LastAttemptAt,
		Announced:           refresh.Health(r.Announced),
		Unannounced:         refresh.ChangeEvent(r.Unannounced),
		Held:                refresh.Lease{Owner: r.LeaseOwner, Until: r.LeaseExpiresAt},
	}
}

// setState replaces the record's state, keeping its lease fields. Times are
// kept in UTC, as Firestore returns them.
func (r *stateRecord) setState(st refresh.State) {
	r.Secret = st.Secret
	r.Version = st.Version
	r.Platform = st.Platform
	r.RefreshedAt = utc(st.RefreshedAt)
	r.IssuedAt = utc(st.IssuedAt)
	r.IssuedFrom = string(st.IssuedFrom)
	r.ExpiresAt = utc(st.ExpiresAt)
	r.ExpiryFrom = string(st.ExpiryFrom)
	r.DataAccess = utc(st.DataAccessExpiresAt)
	r.Scopes = st.Scopes
	r.Status = string(st.Status)
	r.LastError = st.LastError
	r.Failures = st.Failures
	r.LastAttemptAt = utc(st.LastAttemptAt)
	r.Announced = string(st.Announced)
	r.Unannounced = string(st.Unannounced)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// getRecord reads the account's record and its bytes as stored (nil when
// there is none; valid until the transaction ends).
func getRecord(tx *bolt.Tx, id string) (rec stateRecord, raw []byte, err error) {
	b := tx.Bucket(bucketState)
	if b == nil {
		return rec, nil, nil
	}
	raw = b.Get([]byte(id))
	if raw == nil {
		return rec, nil, nil
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, nil, fmt.Errorf("decoding state of %q: %w", id, err)
	}
	return rec, raw, nil
}

// putState writes the account's record and returns its revision.
func putState(tx *bolt.Tx, id string, rec stateRecord) (revision, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return revision{}, err
	}
	return revisionOf(raw), tx.Bucket(bucketState).Put([]byte(id), raw)
}

// revision is what a State's Rev holds in this store: a digest of the
// record's bytes as read or written. Comparing it is the compare of a
// compare-and-set done inside one bbolt transaction. A record can come back
// to bytes it had before (a lease taken and given back), but then it holds
// the same state and the same lease, so a write conditional on those bytes
// is as right as it was; and every lease names its owner, unique to a pass,
// so a lease another pass took never looks like one's own.
type revision [sha256.Size]byte

func revisionOf(raw []byte) revision { return sha256.Sum256(raw) }

// unchanged reports whether the stored bytes raw (nil: no record) are still
// those that rev, a State's Rev, was taken from (nil: no record).
func unchanged(raw []byte, rev any) (bool, error) {
	switch r := rev.(type) {
	case nil:
		return raw == nil, nil
	case revision:
		return raw != nil && revisionOf(raw) == r, nil
	default:
		return false, fmt.Errorf("the state's revision (a %T) is not an embedded store one", rev)
	}
}

// Load reads the state of every account in one read transaction. Accounts
// without a record are absent from the map; a record holding only a lease
// is present with no status.
func (s *Store) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	for _, a := range accounts {
		if err := checkID(a.ID); err != nil {
			return nil, fmt.Errorf("loading state: %w", err)
		}
	}
	states := make(map[string]refresh.State, len(accounts))
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, a := range accounts {
			rec, raw, err := getRecord(tx, a.ID)
			if err != nil {
				return err
			}
			if raw != nil {
				st := rec.state()
				st.Rev = revisionOf(raw)
				states[a.ID] = st
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading state: %w", err)
	}
	return states, nil
}

// Lease gives owner the account's lease until the given time, in one write
// transaction that compares the record with read (what Load returned for
// the account, or the zero State for none) and sets the lease only if it is
// unchanged and no other owner holds an unexpired lease by the store's
// clock; otherwise the error wraps refresh.ErrBusy and nothing is written.
// The same owner may lease again to extend its lease. With no record yet,
// it writes a bare lease record that holds no state.
func (s *Store) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	if err := checkID(a.ID); err != nil {
		return refresh.State{}, fmt.Errorf("leasing: %w", err)
	}
	if owner == "" {
		return refresh.State{}, fmt.Errorf("leasing %q: empty owner", a.ID)
	}
	st := read
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, raw, err := getRecord(tx, a.ID)
		if err != nil {
			return err
		}
		switch same, err := unchanged(raw, read.Rev); {
		case err != nil:
			return err
		case !same:
			return fmt.Errorf("the record changed since this pass read it: %w", refresh.ErrBusy)
		}
		if rec.LeaseOwner != "" && rec.LeaseOwner != owner && s.now().Before(rec.LeaseExpiresAt) {
			return fmt.Errorf("held by %s until %s: %w", rec.LeaseOwner, rec.LeaseExpiresAt.Format(time.RFC3339), refresh.ErrBusy)
		}
		rec.LeaseOwner = owner
		rec.LeaseExpiresAt = utc(until)
		st.Rev, err = putState(tx, a.ID, rec)
		return err
	})
	if err != nil {
		return refresh.State{}, fmt.Errorf("leasing %q: %w", a.ID, err)
	}
	return st, nil
}

// errNotHeld tells Release that there is nothing to write.
var errNotHeld = errors.New("lease not held")

// heldBy reads the account's record and checks that it is still as owner's
// lease left it (rev, the Rev Lease returned).
func heldBy(tx *bolt.Tx, id, owner string, rev any) (stateRecord, bool, error) {
	rec, raw, err := getRecord(tx, id)
	if err != nil {
		return rec, false, err
	}
	same, err := unchanged(raw, rev)
	return rec, err == nil && same && rev != nil && owner != "" && rec.LeaseOwner == owner, err
}

// Commit writes st and drops the lease in one transaction, provided the
// record is still as owner's lease left it (st.Rev); otherwise the error
// wraps refresh.ErrLeaseLost and nothing is written. A lease that expired
// without anyone taking it over is still held: nobody else can have worked
// on the account meanwhile.
func (s *Store) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	if err := checkID(a.ID); err != nil {
		return fmt.Errorf("committing state: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, held, err := heldBy(tx, a.ID, owner, st.Rev)
		if err != nil {
			return err
		}
		if !held {
			holder := rec.LeaseOwner
			if holder == "" {
				holder = "nobody"
			}
			return fmt.Errorf("the record changed since %s leased it (lease holder: %s): %w", owner, holder, refresh.ErrLeaseLost)
		}
		rec.setState(st)
		rec.LeaseOwner = ""
		rec.LeaseExpiresAt = time.Time{}
		_, err = putState(tx, a.ID, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("committing state of %q: %w", a.ID, err)
	}
	return nil
}

// Release drops owner's lease without touching the state, provided the
// record is still as that lease left it (leased.Rev); otherwise it does
// nothing. A bare lease record is deleted, so an account that never got
// state leaves nothing behind.
func (s *Store) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	if err := checkID(a.ID); err != nil {
		return fmt.Errorf("releasing lease: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, held, err := heldBy(tx, a.ID, owner, leased.Rev)
		if err != nil {
			return err
		}
		if !held {
			return errNotHeld
		}
		if !rec.state().Known() {
			return tx.Bucket(bucketState).Delete([]byte(a.ID))
		}
		rec.LeaseOwner = ""
		rec.LeaseExpiresAt = time.Time{}
		_, err = putState(tx, a.ID, rec)
		return err
	})
	if err != nil && !errors.Is(err, errNotHeld) {
		return fmt.Errorf("releasing lease of %q: %w", a.ID, err)
	}
	return nil
}
