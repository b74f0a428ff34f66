package localstore

import (
	"context"
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
	ExpiresAt      time.Time `json:"expiresAt,omitzero"`
	Status         string    `json:"status,omitempty"`
	LastError      string    `json:"lastError,omitempty"`
	Failures       int       `json:"failures,omitempty"`
	LastAttemptAt  time.Time `json:"lastAttemptAt,omitzero"`
	LeaseOwner     string    `json:"leaseOwner,omitempty"`
	LeaseExpiresAt time.Time `json:"leaseExpiresAt,omitzero"`
}

func (r stateRecord) state() refresh.State {
	return refresh.State{
		Secret:        r.Secret,
		Version:       r.Version,
		Platform:      r.Platform,
		RefreshedAt:   r.RefreshedAt,
		ExpiresAt:     r.ExpiresAt,
		Status:        refresh.Status(r.Status),
		LastError:     r.LastError,
		Failures:      r.Failures,
		LastAttemptAt: r.LastAttemptAt,
	}
}

// setState replaces the record's state, keeping its lease fields. Times are
// kept in UTC, as Firestore returns them.
func (r *stateRecord) setState(st refresh.State) {
	r.Secret = st.Secret
	r.Version = st.Version
	r.Platform = st.Platform
	r.RefreshedAt = utc(st.RefreshedAt)
	r.ExpiresAt = utc(st.ExpiresAt)
	r.Status = string(st.Status)
	r.LastError = st.LastError
	r.Failures = st.Failures
	r.LastAttemptAt = utc(st.LastAttemptAt)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// getState reads the account's record; found is false when there is none.
func getState(tx *bolt.Tx, id string) (rec stateRecord, found bool, err error) {
	b := tx.Bucket(bucketState)
	if b == nil {
		return rec, false, nil
	}
	raw := b.Get([]byte(id))
	if raw == nil {
		return rec, false, nil
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, false, fmt.Errorf("decoding state of %q: %w", id, err)
	}
	return rec, true, nil
}

func putState(tx *bolt.Tx, id string, rec stateRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketState).Put([]byte(id), raw)
}

// Load reads the state of every account in one read transaction. Accounts
// without state, including those with only a lease, are absent from the map.
func (s *Store) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	for _, a := range accounts {
		if err := checkID(a.ID); err != nil {
			return nil, fmt.Errorf("loading state: %w", err)
		}
	}
	states := make(map[string]refresh.State, len(accounts))
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, a := range accounts {
			rec, found, err := getState(tx, a.ID)
			if err != nil {
				return err
			}
			if st := rec.state(); found && st.Known() {
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

// Lease gives owner the account's lease until the given time, unless another
// owner holds one that has not expired by the store's clock (error wrapping
// refresh.ErrBusy). The same owner may lease again to extend its lease. With
// no record yet, it writes a bare lease record that holds no state.
func (s *Store) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time) (refresh.State, error) {
	if err := checkID(a.ID); err != nil {
		return refresh.State{}, fmt.Errorf("leasing: %w", err)
	}
	if owner == "" {
		return refresh.State{}, fmt.Errorf("leasing %q: empty owner", a.ID)
	}
	var st refresh.State
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, _, err := getState(tx, a.ID)
		if err != nil {
			return err
		}
		if rec.LeaseOwner != "" && rec.LeaseOwner != owner && s.now().Before(rec.LeaseExpiresAt) {
			return fmt.Errorf("held by %s until %s: %w", rec.LeaseOwner, rec.LeaseExpiresAt.Format(time.RFC3339), refresh.ErrBusy)
		}
		rec.LeaseOwner = owner
		rec.LeaseExpiresAt = utc(until)
		st = rec.state()
		return putState(tx, a.ID, rec)
	})
	if err != nil {
		return refresh.State{}, fmt.Errorf("leasing %q: %w", a.ID, err)
	}
	return st, nil
}

// errNotHeld tells Release that there is nothing to write.
var errNotHeld = errors.New("lease not held")

// Commit writes st and drops the lease in one transaction, provided owner
// still holds the lease (error wrapping refresh.ErrLeaseLost otherwise, with
// nothing written). A lease that expired without anyone taking it over is
// still held: nobody else can have worked on the account meanwhile.
func (s *Store) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	if err := checkID(a.ID); err != nil {
		return fmt.Errorf("committing state: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, found, err := getState(tx, a.ID)
		if err != nil {
			return err
		}
		if !found || owner == "" || rec.LeaseOwner != owner {
			holder := rec.LeaseOwner
			if holder == "" {
				holder = "nobody"
			}
			return fmt.Errorf("%s does not hold the lease (holder: %s): %w", owner, holder, refresh.ErrLeaseLost)
		}
		rec.setState(st)
		rec.LeaseOwner = ""
		rec.LeaseExpiresAt = time.Time{}
		return putState(tx, a.ID, rec)
	})
	if err != nil {
		return fmt.Errorf("committing state of %q: %w", a.ID, err)
	}
	return nil
}

// Release drops owner's lease without touching the state. Releasing a lease
// owner does not hold does nothing. A bare lease record is deleted, so an
// account that never got state leaves nothing behind.
func (s *Store) Release(ctx context.Context, a refresh.Account, owner string) error {
	if err := checkID(a.ID); err != nil {
		return fmt.Errorf("releasing lease: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, found, err := getState(tx, a.ID)
		if err != nil {
			return err
		}
		if !found || owner == "" || rec.LeaseOwner != owner {
			return errNotHeld
		}
		if !rec.state().Known() {
			return tx.Bucket(bucketState).Delete([]byte(a.ID))
		}
		rec.LeaseOwner = ""
		rec.LeaseExpiresAt = time.Time{}
		return putState(tx, a.ID, rec)
	})
	if err != nil && !errors.Is(err, errNotHeld) {
		return fmt.Errorf("releasing lease of %q: %w", a.ID, err)
	}
	return nil
}
