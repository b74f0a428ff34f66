// Package localstore keeps tokens and refresh state in one bbolt database file
// on the local machine, so that the refresh engine runs without Google Cloud.
// A Store implements both refresh.SecretStore (in place of Secret Manager) and
// refresh.StateStore (in place of Firestore), with the same semantics.
//
// The database is not held open between operations: bbolt takes an exclusive
// flock for as long as a database is open for writing, so a Store that kept it
// open would lock every other process (a second "refresher run", "refresher
// token") out for its whole life. Instead every operation opens the file, does
// its work in one transaction and closes it again. The flock then serialises
// operations across processes, which makes each of them atomic across
// processes: that is what gives the per-account lease its meaning.
package localstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Compile-time checks that the Store serves both of the engine's stores.
var (
	_ refresh.SecretStore = (*Store)(nil)
	_ refresh.StateStore  = (*Store)(nil)
)

// DefaultLockTimeout is how long an operation waits for another process to
// let go of the database file. Operations take milliseconds, so waiting this
// long means the other process is stuck or is not a refresher.
const DefaultLockTimeout = 10 * time.Second

// schemaVersion is the layout this package writes; Open refuses newer files
// rather than misreading them.
const schemaVersion = "1"

// Bucket and key names of the layout:
//
//	meta/schema                     = schemaVersion
//	secrets/<id>/                   (bucket; its sequence numbers versions)
//	secrets/<id>/versions/<n>       = versionRecord as JSON
//	secrets/<id>/payloads/<n>       = payload bytes (absent once destroyed)
//	state/<id>                      = stateRecord as JSON
//
// <n> is the version number as 8 big-endian bytes, so that keys sort by
// number.
var (
	bucketMeta     = []byte("meta")
	keySchema      = []byte("schema")
	bucketSecrets  = []byte("secrets")
	bucketVersions = []byte("versions")
	bucketPayloads = []byte("payloads")
	bucketState    = []byte("state")
)

// Errors of this package, for callers that classify with errors.Is.
var (
	// ErrInsecureFile: the database file can be read or written by users
	// other than its owner. It holds tokens, so Open refuses it.
	ErrInsecureFile = errors.New("database file is accessible to other users")
	// ErrNotEnabled: the secret version is disabled or destroyed, so its
	// payload cannot be read.
	ErrNotEnabled = errors.New("secret version is not enabled")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrNotDatabase: the file exists but is not a refresher database (not
	// a bbolt file, or one that holds another program's data). Open
	// refuses it rather than write into it.
	ErrNotDatabase = errors.New("not a refresher database")
	// ErrNoDatabase: Options.MustExist was set and there is no file.
	ErrNoDatabase = errors.New("no refresher database")
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock for version create times and lease expiry; time.Now
	// when nil.
	Now func() time.Time
	// LockTimeout bounds the wait for another process holding the file;
	// DefaultLockTimeout when zero. A context deadline shortens it.
	LockTimeout time.Duration
	// MustExist makes Open refuse a missing file (ErrNoDatabase) instead
	// of creating it: a command that only reads must not leave an empty
	// database behind a mistyped path and then report it empty.
	MustExist bool
}

// Store is the embedded secret and state store. It is safe for concurrent
// use by several goroutines and several processes.
type Store struct {
	path        string
	now         func() time.Time
	lockTimeout time.Duration
	// sem lets one operation of this process at a time at the file. The
	// flock would serialise them anyway, but it polls every 50 ms without
	// any fairness; a channel queues goroutines promptly and honours their
	// contexts.
	sem chan struct{}
	// closed is guarded by sem.
	closed bool
}

// DefaultPath returns where the database lives unless the user says
// otherwise: threads-token-refresher/refresher.db in the user's config
// directory (~/.config on Linux).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user config directory: %w", err)
	}
	return filepath.Join(dir, "threads-token-refresher", "refresher.db"), nil
}

// Open opens the database at path, creating it (mode 0600) and any missing
// parent directories (mode 0700) when needed, unless opts.MustExist. It
// refuses an existing file that is not a refresher database
// (ErrNotDatabase), and then one that users other than its owner may
// access (ErrInsecureFile).
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("opening local store: empty path")
	}
	s := &Store{
		path:        path,
		now:         opts.Now,
		lockTimeout: opts.LockTimeout,
		sem:         make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lockTimeout <= 0 {
		s.lockTimeout = DefaultLockTimeout
	}
	existed, err := checkDatabase(path)
	if err != nil {
		return nil, err
	}
	if !existed && opts.MustExist {
		return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("creating directory for %s: %w", path, err)
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	if existed && s.ready() {
		// Nothing to create: no write, so no fsync, on every command.
		return s, nil
	}
	// Create the file and its buckets now, so that read-only operations
	// find them and a wrong path fails here rather than on first use.
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil && hasBuckets(tx) {
			// Another program's bbolt file: leave its data alone.
			return fmt.Errorf("%s is %w (a bbolt file of another program)", path, ErrNotDatabase)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keySchema); {
		case v == nil:
			if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
				return err
			}
		case string(v) != schemaVersion:
			return fmt.Errorf("database layout %q is not %q, the one this refresher knows", v, schemaVersion)
		}
		if _, err := tx.CreateBucketIfNotExists(bucketSecrets); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(bucketState)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("initialising %s: %w", path, err)
	}
	return s, nil
}

// ready reports whether the database holds this layout's buckets already.
// Whatever it cannot tell, Open's write transaction finds out and reports.
func (s *Store) ready() bool {
	ready := false
	_ = s.view(context.Background(), func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		ready = meta != nil && string(meta.Get(keySchema)) == schemaVersion &&
			tx.Bucket(bucketSecrets) != nil && tx.Bucket(bucketState) != nil
		return nil
	})
	return ready
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close makes the Store unusable. The database is only open during an
// operation, so there is nothing else to release; Close waits for an
// operation in progress.
func (s *Store) Close() error {
	s.sem <- struct{}{}
	s.closed = true
	<-s.sem
	return nil
}

// Account returns the account whose secret has the given ID. In this store a
// secret's full name is "secrets/<id>".
func (s *Store) Account(id string) refresh.Account {
	return refresh.Account{ID: id, Secret: secretName(id)}
}

func secretName(id string) string { return "secrets/" + id }

func versionName(id string, n uint64) string {
	return fmt.Sprintf("secrets/%s/versions/%d", id, n)
}

// validID is Secret Manager's rule for secret IDs, kept so that names move
// between the two stores.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func checkID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("invalid account name %q: want 1 to 255 letters, digits, '-' or '_'", id)
	}
	return nil
}

// checkAccount rejects accounts that this store did not name, such as a
// Secret Manager account handed over by mistake.
func checkAccount(a refresh.Account) error {
	if err := checkID(a.ID); err != nil {
		return err
	}
	if a.Secret != secretName(a.ID) {
		return fmt.Errorf("account %q: secret %q is not a local store name (want %q)", a.ID, a.Secret, secretName(a.ID))
	}
	return nil
}

// acquire waits for this process's turn at the file.
func (s *Store) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed {
		<-s.sem
		return ErrClosed
	}
	return nil
}

func (s *Store) release() { <-s.sem }

// open opens the file for one operation, waiting for other processes at most
// the lock timeout or until ctx's deadline. Failing to get the file means the
// operation certainly did not happen, so errors wrap ErrUnavailable.
func (s *Store) open(ctx context.Context, readOnly bool) (*bolt.DB, error) {
	timeout, byDeadline := s.lockTimeout, false
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, fmt.Errorf("opening %s: %w: %w", s.path, refresh.ErrUnavailable, context.DeadlineExceeded)
		}
		if left < timeout {
			timeout, byDeadline = left, true
		}
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{
		Timeout:  timeout,
		ReadOnly: readOnly,
		// NoSync stays off: every commit reaches the disk before it
		// returns.
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolterrors.ErrTimeout) && byDeadline:
		// bbolt gives up a little before the deadline itself.
		return nil, fmt.Errorf("opening %s: %w: %w", s.path, refresh.ErrUnavailable, context.DeadlineExceeded)
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("another refresher holds %s for too long (waited %s): %w", s.path, timeout, refresh.ErrUnavailable)
	default:
		return nil, fmt.Errorf("opening %s: %w", s.path, err)
	}
}

// view runs fn in one read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	db, err := s.open(ctx, true)
	if err != nil {
		return err
	}
	// A read-only close cannot lose anything; its error is of no use.
	defer db.Close()
	return db.View(fn)
}

// update runs fn in one write transaction and commits it when fn succeeds.
// An error from fn leaves the file untouched and is returned as it is; a
// failed commit wraps ErrUncertain, since bbolt may have written the new
// meta page before failing.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	db, err := s.open(ctx, false)
	if err != nil {
		return err
	}
	// Once the commit has returned the data is on disk; a failing close
	// cannot undo it, and the kernel drops the flock with the descriptor.
	defer db.Close()
	tx, err := db.Begin(true)
	if err != nil {
		return fmt.Errorf("starting transaction on %s: %w: %w", s.path, refresh.ErrUnavailable, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("committing to %s: %w: %w", s.path, refresh.ErrUncertain, err)
	}
	return nil
}
