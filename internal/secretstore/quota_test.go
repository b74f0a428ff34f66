package secretstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// TestQuotaRefusals spends a category of the project's quota for the
// minute (Google's defaults: 600 reads, 600 writes), as a large due pass
// or another application of the project would, then calls the store: the
// refusal (RESOURCE_EXHAUSTED with Google's details, from the server's
// quota, not an injected fault) is ErrUnavailable and ErrQuota, never
// ErrUncertain, and a refused write leaves nothing behind. So a refreshed
// token that meets the write quota is retried into the store, not dropped
// or checked for, and a list that meets it is made again once the quota
// refills.
func TestQuotaRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		category smfake.Category
		call     func(context.Context, *secretstore.Store, refresh.Version) error
		doing    string
	}{
		{"add", smfake.Write, func(ctx context.Context, st *secretstore.Store, _ refresh.Version) error {
			_, err := st.Add(ctx, mainAccount, []byte(token))
			return err
		}, "adding a version to "},
		{"destroy", smfake.Write, func(ctx context.Context, st *secretstore.Store, v refresh.Version) error {
			return st.Destroy(ctx, mainAccount, v)
		}, "destroying "},
		{"create secret", smfake.Write, func(ctx context.Context, st *secretstore.Store, _ refresh.Version) error {
			return st.CreateSecret(ctx, refresh.Account{ID: "new", Secret: "projects/p/secrets/new"}, nil)
		}, "creating secret "},
		{"list versions", smfake.Read, func(ctx context.Context, st *secretstore.Store, _ refresh.Version) error {
			_, err := st.Versions(ctx, mainAccount)
			return err
		}, "listing versions of "},
		{"secret exists", smfake.Read, func(ctx context.Context, st *secretstore.Store, _ refresh.Version) error {
			_, err := st.SecretExists(ctx, mainAccount)
			return err
		}, "looking up secret "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(time.Date(2026, 5, 1, 9, 0, 10, 0, time.UTC))
			fake, st := start(t, smfake.WithClock(clk.Now))
			fake.CreateSecret(mainAccount.Secret)
			name := fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
			v := refresh.Version{Name: name, Number: 1}
			fake.SpendQuota("projects/p", tt.category, smfake.GoogleQuota(tt.category))

			ctx := context.Background()
			err := tt.call(ctx, st, v)
			if !errors.Is(err, refresh.ErrUnavailable) || !errors.Is(err, refresh.ErrQuota) || errors.Is(err, refresh.ErrUncertain) {
				t.Fatalf("over the %s quota: %v, want ErrUnavailable and ErrQuota only", tt.category, err)
			}
			if !strings.HasPrefix(err.Error(), tt.doing) || !strings.Contains(err.Error(), "Quota exceeded") {
				t.Errorf("error %q does not say what was being done and why it was refused", err)
			}
			noPayload(t, err)
			if got := fake.QuotaRefusals()[tt.category]; got != 1 {
				t.Errorf("the server refused %d %s requests, want 1", got, tt.category)
			}
			if got := fake.Versions(mainAccount.Secret); len(got) != 1 || got[0].State != secretmanagerpb.SecretVersion_ENABLED {
				t.Errorf("after a refused call the secret has %+v, want version 1 enabled and nothing else", got)
			}
			if fake.HasSecret("projects/p/secrets/new") {
				t.Errorf("a refused create made the secret")
			}

			// The next minute has a new quota: the same call goes through.
			clk.Set(time.Date(2026, 5, 1, 9, 1, 0, 0, time.UTC))
			if err := tt.call(ctx, st, v); err != nil {
				t.Errorf("the next minute: %v", err)
			}
		})
	}
}

// The client library retries AccessSecretVersion on RESOURCE_EXHAUSTED by
// itself (2 s backoff, doubling, within its 60 s timeout), and the store
// keeps the library's retries for reads: an access refused by the quota is
// served once a new minute brings a new quota, without the engine seeing
// the refusal. (Listing is not retried by the library.)
func TestAccessRetriedPastQuota(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 5, 1, 9, 0, 59, 0, time.UTC))
	fake, st := start(t, smfake.WithClock(clk.Now))
	fake.CreateSecret(mainAccount.Secret)
	name := fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
	fake.SpendQuota("projects/p", smfake.Access, smfake.GoogleQuota(smfake.Access))

	// The minute turns once the first access has been refused.
	done, turned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(turned)
		for fake.QuotaRefusals()[smfake.Access] == 0 {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
		clk.Set(time.Date(2026, 5, 1, 9, 1, 0, 0, time.UTC))
	}()
	got, err := st.Access(context.Background(), mainAccount, refresh.Version{Name: name, Number: 1})
	close(done)
	<-turned
	if n := fake.QuotaRefusals()[smfake.Access]; n == 0 {
		t.Errorf("no access was refused: the test did not meet the quota")
	}
	if err != nil || string(got) != token {
		t.Fatalf("Access across a refusal: %v; want the payload", err)
	}
	if n := fake.Calls("AccessSecretVersion"); n < 2 {
		t.Errorf("the server saw %d accesses, want the refused one and the retry", n)
	}
}
