// Package secretstore keeps each account's token in Google Secret Manager,
// as the versions of one secret per account. It is the Secret Manager
// implementation of refresh.SecretStore, plus the few calls that onboarding
// an account needs.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/clientopts"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// ErrExists: the secret being created already exists.
var ErrExists = errors.New("secret already exists")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// noRetry turns off the client library's retries for writes. The engine
// retries writes itself, checking first whether an uncertain one landed; a
// blind retry inside the library could add the token twice. (The library
// has no retryer for these calls today; this keeps it so should a release
// or a caller's client add one.) Reads keep the library's retries: they are
// idempotent and the engine does not retry them.
var noRetry = gax.WithRetry(nil)

var _ refresh.SecretStore = (*Store)(nil)

// Options configure New.
type Options struct {
	// EmulatorHost is the host:port of a Secret Manager stand-in, reached in
	// plaintext without credentials. Empty means the real service with
	// Application Default Credentials.
	EmulatorHost string
	// Budgets, when set, paces every call under them (pacing.go); nil
	// sends each call at once.
	Budgets *Budgets
}

// Store is a refresh.SecretStore backed by Secret Manager.
type Store struct {
	client *secretmanager.Client
	// owned: New built the client, so Close closes it.
	owned bool
}

// New connects to Secret Manager, or to opts.EmulatorHost.
func New(ctx context.Context, opts Options) (*Store, error) {
	copts := clientopts.Emulator(opts.EmulatorHost)
	if opts.Budgets != nil {
		copts = append(copts, Pacing(*opts.Budgets))
	}
	c, err := secretmanager.NewClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("creating Secret Manager client: %w", err)
	}
	return &Store{client: c, owned: true}, nil
}

// NewFromClient returns a Store using c, which the caller keeps and closes.
func NewFromClient(c *secretmanager.Client) *Store {
	return &Store{client: c}
}

// Close closes the client if New created it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("closing Secret Manager client: %w", err)
	}
	return nil
}

// Versions lists every version of the account's secret.
func (s *Store) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	it := s.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: a.Secret})
	var versions []refresh.Version
	for {
		pb, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return versions, nil
		}
		if err != nil {
			return nil, classify(ctx, "listing versions of "+a.Secret, err, false)
		}
		v, err := fromPB(pb)
		if err != nil {
			return nil, fmt.Errorf("listing versions of %s: %w", a.Secret, err)
		}
		versions = append(versions, v)
	}
}

// Access returns the payload of version v, checked against the CRC32C
// checksum the service computed when the version was added.
func (s *Store) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	name := versionName(a, v)
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return nil, classify(ctx, "accessing "+name, err, false)
	}
	p := resp.GetPayload()
	if p.DataCrc32C == nil {
		return nil, fmt.Errorf("accessing %s: %w: the answer has no checksum", name, refresh.ErrChecksum)
	}
	if int64(crc32.Checksum(p.GetData(), castagnoli)) != p.GetDataCrc32C() {
		return nil, fmt.Errorf("accessing %s: %w", name, refresh.ErrChecksum)
	}
	return p.GetData(), nil
}

// Add stores payload as a new version, with its checksum so that the
// service rejects a payload damaged on the way. It makes one attempt:
// retrying a write whose outcome is unknown is the engine's decision.
func (s *Store) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	crc := int64(crc32.Checksum(payload, castagnoli))
	req := &secretmanagerpb.AddSecretVersionRequest{
		Parent:  a.Secret,
		Payload: &secretmanagerpb.SecretPayload{Data: payload, DataCrc32C: &crc},
	}
	pb, err := s.client.AddSecretVersion(ctx, req, noRetry)
	if err != nil {
		return refresh.Version{}, classify(ctx, "adding a version to "+a.Secret, err, true)
	}
	v, err := fromPB(pb)
	if err != nil {
		return refresh.Version{}, fmt.Errorf("adding a version to %s: %w", a.Secret, err)
	}
	return v, nil
}

// Destroy destroys version v; a version already destroyed is left as is.
func (s *Store) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	name := versionName(a, v)
	_, err := s.client.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: name}, noRetry)
	if err == nil {
		return nil
	}
	// FAILED_PRECONDITION has other causes than an earlier destroy; ask the
	// version's state rather than read the message.
	if status.Code(err) == codes.FailedPrecondition {
		pb, gerr := s.client.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: name})
		if gerr == nil && pb.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
			return nil
		}
	}
	return classify(ctx, "destroying "+name, err, true)
}

// CreateSecret creates the account's secret, replicated automatically, with
// labels. It returns an error wrapping ErrExists if the secret exists.
func (s *Store) CreateSecret(ctx context.Context, a refresh.Account, labels map[string]string) error {
	parent, id, ok := splitSecret(a.Secret)
	if !ok {
		return fmt.Errorf("creating secret %s: not a secret name (projects/PROJECT/secrets/ID)", a.Secret)
	}
	req := &secretmanagerpb.CreateSecretRequest{
		Parent:   parent,
		SecretId: id,
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{
				Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
			},
			Labels: labels,
		},
	}
	if _, err := s.client.CreateSecret(ctx, req, noRetry); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return fmt.Errorf("creating secret %s: %w", a.Secret, ErrExists)
		}
		return classify(ctx, "creating secret "+a.Secret, err, true)
	}
	return nil
}

// SecretExists reports whether the account's secret exists.
func (s *Store) SecretExists(ctx context.Context, a refresh.Account) (bool, error) {
	_, err := s.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: a.Secret})
	switch {
	case err == nil:
		return true, nil
	case status.Code(err) == codes.NotFound:
		return false, nil
	default:
		return false, classify(ctx, "looking up secret "+a.Secret, err, false)
	}
}

// classify wraps err from a call with the refresh sentinel its status
// means. A write that ran out of time (or was cancelled) may still have
// landed, so it is uncertain rather than unavailable. RESOURCE_EXHAUSTED is
// a quota refusing the request before it is carried out, so it is
// unavailable, and a quota's (refresh.ErrQuota): Secret Manager allows 600
// write requests (adding or destroying a version) and 600 read requests
// (listing) a minute per project (cloud.google.com/secret-manager/quotas),
// shared with the project's other applications, and a refreshed token that
// met the quota must be retried into the store, not dropped, as a list
// must be retried once the quota refills. A call the store's own pacing
// never sent (refresh.ErrNoBudget) did not happen either, whatever the
// context says since.
func classify(ctx context.Context, doing string, err error, write bool) error {
	if errors.Is(err, refresh.ErrNoBudget) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	var kind error
	switch status.Code(err) {
	case codes.NotFound:
		kind = refresh.ErrNotFound
	case codes.ResourceExhausted:
		return fmt.Errorf("%s: %w: %w: %w", doing, refresh.ErrUnavailable, refresh.ErrQuota, err)
	case codes.Unavailable:
		kind = refresh.ErrUnavailable
	case codes.DeadlineExceeded, codes.Canceled:
		if write {
			kind = refresh.ErrUncertain
		}
	}
	if kind == nil && write && ctx.Err() != nil {
		kind = refresh.ErrUncertain
	}
	if kind == nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return fmt.Errorf("%s: %w: %w", doing, kind, err)
}

func fromPB(pb *secretmanagerpb.SecretVersion) (refresh.Version, error) {
	n, ok := refresh.VersionNumber(pb.GetName())
	if !ok {
		return refresh.Version{}, fmt.Errorf("unexpected version name %q", pb.GetName())
	}
	var state refresh.VersionState
	switch pb.GetState() {
	case secretmanagerpb.SecretVersion_ENABLED:
		state = refresh.VersionEnabled
	case secretmanagerpb.SecretVersion_DISABLED:
		state = refresh.VersionDisabled
	case secretmanagerpb.SecretVersion_DESTROYED:
		state = refresh.VersionDestroyed
	default:
		return refresh.Version{}, fmt.Errorf("version %s is in unknown state %s", pb.GetName(), pb.GetState())
	}
	return refresh.Version{
		Name:       pb.GetName(),
		Number:     n,
		CreateTime: pb.GetCreateTime().AsTime(),
		State:      state,
	}, nil
}

// versionName is v's name as the store gave it, or, for a version known
// only by number, its name under the account's secret.
func versionName(a refresh.Account, v refresh.Version) string {
	if v.Name != "" {
		return v.Name
	}
	return a.Secret + "/versions/" + strconv.FormatInt(v.Number, 10)
}

// splitSecret splits "projects/p/secrets/id" into "projects/p" and "id".
func splitSecret(name string) (parent, id string, ok bool) {
	parent, id, ok = strings.Cut(name, "/secrets/")
	if !ok || !strings.HasPrefix(parent, "projects/") || strings.Count(parent, "/") != 1 || id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	return parent, id, true
}
