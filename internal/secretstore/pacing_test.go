package secretstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// TestCategoriesAgree: the store paces each call under the quota Secret
// Manager counts it against, as the test server (which follows Google's
// definitions) sorts every method of the service.
func TestCategoriesAgree(t *testing.T) {
	t.Parallel()
	for _, m := range secretmanagerpb.SecretManagerService_ServiceDesc.Methods {
		want, ok := smfake.CategoryOf(m.MethodName)
		if got := secretstore.CategoryOf(m.MethodName); !ok || string(got) != string(want) {
			t.Errorf("%s: paced as a %s request; Secret Manager counts it as %s", m.MethodName, got, want)
		}
	}
}

func startPaced(t *testing.T, b secretstore.Budgets, opts ...smfake.Option) (*smfake.Server, *secretstore.Store) {
	t.Helper()
	fake := smfake.Start(t, opts...)
	st, err := secretstore.New(context.Background(), secretstore.Options{EmulatorHost: fake.Addr(), Budgets: &b})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return fake, st
}

// TestPacedUnderTheQuota: many calls at once, more than a window's quota,
// all go through without one refusal: the store spaces them evenly under
// its budget, so that no interval of the server's quota counts more than
// the budget and a few. (Time is compressed: the quotas and budgets count
// per second here, as they would per minute. The server allows the budget
// and three: a call the client sends on time may reach the server up to
// two fifths of a window late on a loaded machine, in the next window;
// unpaced, all 25 would arrive in one.)
func TestPacedUnderTheQuota(t *testing.T) {
	t.Parallel()
	const window = time.Second
	const calls = 25
	const quota = 5 + 3
	for _, tt := range []struct {
		category smfake.Category
		call     func(context.Context, *secretstore.Store, int) error
	}{
		{smfake.Read, func(ctx context.Context, st *secretstore.Store, _ int) error {
			_, err := st.Versions(ctx, mainAccount)
			return err
		}},
		{smfake.Access, func(ctx context.Context, st *secretstore.Store, _ int) error {
			_, err := st.Access(ctx, mainAccount, refresh.Version{Number: 1})
			return err
		}},
		{smfake.Write, func(ctx context.Context, st *secretstore.Store, i int) error {
			_, err := st.Add(ctx, mainAccount, fmt.Appendf(nil, "%s-%d", token, i))
			return err
		}},
	} {
		t.Run(string(tt.category), func(t *testing.T) {
			t.Parallel()
			fake, st := startPaced(t, secretstore.Budgets{Reads: 5, Writes: 5, Accesses: 5, Window: window},
				smfake.WithQuotaWindow(window), smfake.WithQuota(tt.category, quota))
			fake.CreateSecret(mainAccount.Secret)
			fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})

			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, calls)
			for i := range calls {
				wg.Go(func() { errs <- tt.call(context.Background(), st, i) })
			}
			wg.Wait()
			took := time.Since(start)
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a paced call failed: %v", err)
				}
			}
			if n := fake.QuotaRefusals()[tt.category]; n != 0 {
				t.Errorf("the server refused %d %s requests; the pacing should have kept under its quota", n, tt.category)
			}
			if peak := fake.QuotaPeaks()[tt.category]; peak > quota {
				t.Errorf("%d %s requests in one window, more than the quota (%d)", peak, tt.category, quota)
			}
			// Evenly spaced: the first at once, the others a fifth of a
			// window apart.
			if least := (calls - 1) * window / 5; took < least {
				t.Errorf("%d calls took %v, less than the %v their budget allows", calls, took, least)
			}
		})
	}
}

// TestNoBudgetBeforeTheDeadline: a call whose turn would come after its
// context's deadline is refused at once and never sent; the error is
// ErrNoBudget (not ErrUncertain, even for a write: nothing was sent), so
// that the engine skips the account instead of failing it.
func TestNoBudgetBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	fake, st := startPaced(t, secretstore.Budgets{Reads: 1, Writes: 1, Accesses: 1, Window: time.Hour})
	fake.CreateSecret(mainAccount.Secret)
	ctx := context.Background()
	if _, err := st.Add(ctx, mainAccount, []byte(token)); err != nil {
		t.Fatalf("the first write of the hour: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := st.Add(ctx, mainAccount, []byte(token+"-2"))
	if !errors.Is(err, refresh.ErrNoBudget) || errors.Is(err, refresh.ErrUncertain) || errors.Is(err, refresh.ErrUnavailable) {
		t.Fatalf("a write past the hour's budget: %v, want ErrNoBudget only", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %v; it should come at once", took)
	}
	noPayload(t, err)
	if n := fake.Calls("AddSecretVersion"); n != 1 {
		t.Errorf("the server saw %d adds, want 1: the refused one must not be sent", n)
	}
	// The other budgets are their own.
	if _, err := st.Versions(ctx, mainAccount); err != nil {
		t.Errorf("a read after the write budget ran out: %v", err)
	}
}
