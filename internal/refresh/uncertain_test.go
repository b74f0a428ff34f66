package refresh_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// scriptedSecrets fails chosen calls of a secret store: an add that lands
// but answers "uncertain", and reads that fail after it.
type scriptedSecrets struct {
	refresh.SecretStore
	mu sync.Mutex
	// uncertainAdds: the next adds land, then report ErrUncertain.
	uncertainAdds int
	// failAccess, failVersions: once an uncertain add has happened, the
	// next calls fail with ErrUnavailable without doing anything.
	failAccess, failVersions int
	uncertainSeen            bool
}

func (s *scriptedSecrets) take(n *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uncertainSeen && *n > 0 {
		*n--
		return true
	}
	return false
}

func (s *scriptedSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	if s.take(&s.failVersions) {
		return nil, fmt.Errorf("listing: %w", refresh.ErrUnavailable)
	}
	return s.SecretStore.Versions(ctx, a)
}

func (s *scriptedSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	if s.take(&s.failAccess) {
		return nil, fmt.Errorf("accessing: %w", refresh.ErrUnavailable)
	}
	return s.SecretStore.Access(ctx, a, v)
}

func (s *scriptedSecrets) Add(ctx context.Context, a refresh.Account, p []byte) (refresh.Version, error) {
	v, err := s.SecretStore.Add(ctx, a, p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.uncertainAdds > 0 {
		s.uncertainAdds--
		s.uncertainSeen = true
		return refresh.Version{}, fmt.Errorf("adding: %w", refresh.ErrUncertain)
	}
	return v, err
}

// TestUncertainAddIsCheckedUntilTheCheckAnswers: after an add whose outcome
// is unknown, a check that cannot read the secret must not be taken for
// "not added". Found by the simulation (internal/sim: without the fix,
// seed 3 breaks its invariant 3 on day 47): an add landed but answered
// DEADLINE_EXCEEDED, the check's Access failed, and the engine added the
// same token again. Here the add lands as version 2; a second add would be
// version 3.
func TestUncertainAddIsCheckedUntilTheCheckAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		failVersions int
		failAccess   int
	}{
		{"the check's read of the version fails", 0, 1},
		{"the check's listing fails", 1, 0},
		{"both fail, twice", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var secrets *scriptedSecrets
			h := newHarness(t, func(e *refresh.Engine) {
				secrets = &scriptedSecrets{SecretStore: e.Secrets, uncertainAdds: 1, failAccess: tt.failAccess, failVersions: tt.failVersions}
				e.Secrets = secrets
			})
			h.seed("main", 48*time.Hour)
			rep := h.pass()
			if r, _ := rep.Find("main"); r.Result != refresh.ResultRefreshed {
				t.Fatalf("main: %+v, want refreshed", r)
			}
			if vs := h.versions("main"); len(vs) != 2 {
				t.Errorf("%d versions, want 2: one refresh must make one version", len(vs))
			}
			if st, _ := h.state("main"); st.Version != h.account("main").Secret+"/versions/2" {
				t.Errorf("state records %q, want version 2", st.Version)
			}
		})
	}
}
