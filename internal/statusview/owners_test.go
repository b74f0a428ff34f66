package statusview_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

// countingSecrets counts the calls made to the real local store.
type countingSecrets struct {
	*localstore.Store
	calls atomic.Int64
}

func (c *countingSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	c.calls.Add(1)
	return c.Store.Versions(ctx, a)
}

func (c *countingSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	c.calls.Add(1)
	return c.Store.Access(ctx, a, v)
}

// TestOwnersSpareTheQuota: usernames are read for a few accounts, and for
// many none at all, so that a status page left open cannot spend the
// Secret Manager read quota the passes need.
func TestOwnersSpareTheQuota(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, statusview.MaxOwnerLookups, statusview.MaxOwnerLookups + 1, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			store, err := localstore.Open(filepath.Join(t.TempDir(), "r.db"), localstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			secrets := &countingSecrets{Store: store}
			reports := make([]refresh.AccountReport, n)
			for i := range reports {
				id := fmt.Sprintf("acct%d", i)
				reports[i] = refresh.AccountReport{Account: id, Platform: payload.PlatformThreads}
				if i < 3 {
					p := fmt.Appendf(nil, `{"access_token":"THAAtoken%d","user_id":"%d","username":"user%d"}`, i, i, i)
					a, err := store.CreateSecret(t.Context(), id)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := store.Add(t.Context(), a, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			owners := statusview.Owners(t.Context(), secrets, store.Account, reports)
			calls := secrets.calls.Load()
			if n > statusview.MaxOwnerLookups {
				if calls != 0 || owners[0].User != "-" || owners[0].Platform != "threads" {
					t.Errorf("%d accounts: %d store calls, first owner %+v; want none and a \"-\" user", n, calls, owners[0])
				}
				return
			}
			if owners[0].User != "@user0" || calls < int64(n) {
				t.Errorf("%d accounts: first owner %+v after %d store calls; want @user0, read", n, owners[0], calls)
			}
		})
	}
}
