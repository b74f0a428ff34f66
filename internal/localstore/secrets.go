package localstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// MaxPayload is the largest payload a version takes, Secret Manager's limit,
// so that what works here also works there.
const MaxPayload = 64 << 10

// castagnoli is the CRC32C table, the checksum Secret Manager uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// versionRecord is what the store keeps of a version besides its payload.
type versionRecord struct {
	CreateTime  time.Time            `json:"createTime"`
	DestroyTime time.Time            `json:"destroyTime,omitzero"`
	State       refresh.VersionState `json:"state"`
	// CRC32C is the Castagnoli checksum of the payload, checked on every
	// read so that a damaged file gives an error instead of a bad token.
	CRC32C uint32 `json:"crc32c"`
}

func versionKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// secretBucket returns the account's secret bucket, or an error wrapping
// refresh.ErrNotFound.
func secretBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	root := tx.Bucket(bucketSecrets)
	if root == nil {
		return nil, fmt.Errorf("secret %q: %w", id, refresh.ErrNotFound)
	}
	b := root.Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("secret %q: %w", id, refresh.ErrNotFound)
	}
	return b, nil
}

// getVersion reads version n's record from the secret bucket b.
func getVersion(b *bolt.Bucket, id string, n int64) (versionRecord, error) {
	var rec versionRecord
	if n <= 0 {
		return rec, fmt.Errorf("version %d of secret %q: %w", n, id, refresh.ErrNotFound)
	}
	raw := b.Bucket(bucketVersions).Get(versionKey(uint64(n)))
	if raw == nil {
		return rec, fmt.Errorf("version %d of secret %q: %w", n, id, refresh.ErrNotFound)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("decoding version %d of secret %q: %w", n, id, err)
	}
	return rec, nil
}

func putVersion(b *bolt.Bucket, n int64, rec versionRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Bucket(bucketVersions).Put(versionKey(uint64(n)), raw)
}

func (r versionRecord) version(id string, n uint64) refresh.Version {
	return refresh.Version{
		Name:       versionName(id, n),
		Number:     int64(n),
		CreateTime: r.CreateTime,
		State:      r.State,
	}
}

// CreateSecret creates the secret with the given ID if it does not exist
// yet, and returns its account. Creating an existing secret is not an error
// and leaves its versions alone, so that "add --create" can be repeated.
func (s *Store) CreateSecret(ctx context.Context, id string) (refresh.Account, error) {
	if err := checkID(id); err != nil {
		return refresh.Account{}, err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketSecrets).CreateBucketIfNotExists([]byte(id))
		if err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists(bucketVersions); err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(bucketPayloads)
		return err
	})
	if err != nil {
		return refresh.Account{}, fmt.Errorf("creating secret %q: %w", id, err)
	}
	return s.Account(id), nil
}

// Accounts returns an account for every secret in the store, sorted by ID.
func (s *Store) Accounts(ctx context.Context) ([]refresh.Account, error) {
	var accounts []refresh.Account
	err := s.view(ctx, func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketSecrets)
		if root == nil {
			return nil
		}
		// Keys come in byte order, which for these IDs is string order.
		return root.ForEachBucket(func(k []byte) error {
			accounts = append(accounts, s.Account(string(k)))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing secrets: %w", err)
	}
	return accounts, nil
}

// Versions lists every version of the account's secret, oldest first.
func (s *Store) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	if err := checkAccount(a); err != nil {
		return nil, err
	}
	var versions []refresh.Version
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := secretBucket(tx, a.ID)
		if err != nil {
			return err
		}
		return b.Bucket(bucketVersions).ForEach(func(k, v []byte) error {
			n := binary.BigEndian.Uint64(k)
			var rec versionRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decoding version %d: %w", n, err)
			}
			versions = append(versions, rec.version(a.ID, n))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing versions of %s: %w", a.Secret, err)
	}
	return versions, nil
}

// Access returns the payload of version v after checking its checksum. A
// disabled or destroyed version gives an error wrapping ErrNotEnabled.
func (s *Store) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	if err := checkAccount(a); err != nil {
		return nil, err
	}
	var payload []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		payload, err = access(tx, a.ID, v.Number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("accessing version %d of %s: %w", v.Number, a.Secret, err)
	}
	return payload, nil
}

// access reads and checks version n's payload, copying it out of the
// memory map that closes with the transaction.
func access(tx *bolt.Tx, id string, n int64) ([]byte, error) {
	b, err := secretBucket(tx, id)
	if err != nil {
		return nil, err
	}
	rec, err := getVersion(b, id, n)
	if err != nil {
		return nil, err
	}
	if rec.State != refresh.VersionEnabled {
		return nil, fmt.Errorf("version is %s: %w", rec.State, ErrNotEnabled)
	}
	raw := b.Bucket(bucketPayloads).Get(versionKey(uint64(n)))
	if raw == nil {
		return nil, fmt.Errorf("payload is missing: %w", refresh.ErrChecksum)
	}
	if crc32.Checksum(raw, castagnoli) != rec.CRC32C {
		return nil, refresh.ErrChecksum
	}
	return bytes.Clone(raw), nil
}

// Add stores payload as a new, enabled version numbered one above the
// highest number the secret ever had. The secret must exist (CreateSecret).
func (s *Store) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	if err := checkAccount(a); err != nil {
		return refresh.Version{}, err
	}
	if len(payload) > MaxPayload {
		return refresh.Version{}, fmt.Errorf("adding version to %s: payload is %d bytes, more than %d", a.Secret, len(payload), MaxPayload)
	}
	var added refresh.Version
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := secretBucket(tx, a.ID)
		if err != nil {
			return err
		}
		// The sequence only grows, so a destroyed version's number is
		// never given out again, as in Secret Manager.
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec := versionRecord{
			CreateTime: s.now().UTC(),
			State:      refresh.VersionEnabled,
			CRC32C:     crc32.Checksum(payload, castagnoli),
		}
		if err := putVersion(b, int64(n), rec); err != nil {
			return err
		}
		if err := b.Bucket(bucketPayloads).Put(versionKey(n), bytes.Clone(payload)); err != nil {
			return err
		}
		added = rec.version(a.ID, n)
		return nil
	})
	if err != nil {
		return refresh.Version{}, fmt.Errorf("adding version to %s: %w", a.Secret, err)
	}
	return added, nil
}

// Destroy destroys version v: its payload is deleted and its record kept in
// state DESTROYED. Destroying a destroyed version is not an error.
func (s *Store) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	return s.setState(ctx, a, v, refresh.VersionDestroyed)
}

// DisableVersion disables version v, which keeps its payload but refuses to
// give it out. Disabling a disabled version is not an error; disabling a
// destroyed one is.
func (s *Store) DisableVersion(ctx context.Context, a refresh.Account, v refresh.Version) error {
	return s.setState(ctx, a, v, refresh.VersionDisabled)
}

func (s *Store) setState(ctx context.Context, a refresh.Account, v refresh.Version, to refresh.VersionState) error {
	if err := checkAccount(a); err != nil {
		return err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := secretBucket(tx, a.ID)
		if err != nil {
			return err
		}
		rec, err := getVersion(b, a.ID, v.Number)
		if err != nil {
			return err
		}
		switch {
		case rec.State == to:
			return nil
		case rec.State == refresh.VersionDestroyed:
			return fmt.Errorf("version is destroyed: %w", ErrNotEnabled)
		}
		rec.State = to
		if to == refresh.VersionDestroyed {
			rec.DestroyTime = s.now().UTC()
			if err := b.Bucket(bucketPayloads).Delete(versionKey(uint64(v.Number))); err != nil {
				return err
			}
		}
		return putVersion(b, v.Number, rec)
	})
	if err != nil {
		return fmt.Errorf("setting version %d of %s to %s: %w", v.Number, a.Secret, to, err)
	}
	return nil
}
