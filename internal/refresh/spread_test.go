package refresh_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestHerdSpreads: accounts that come due together (onboarded together,
// or all refreshed by one pass) spread themselves over the 25-hour cycle
// by their next refresh, and stay spread: a week of hourly passes after
// the herd refreshes about N/25 accounts a pass, none more than the
// busiest hour of the cycle plus the herd pass's slack, each token at its
// phase and then every 25 hours, never younger than 24 hours nor older than REFRESH_AFTER
// plus the cycle (and the hour a pass waits). The watchdog, which reads
// the same due rule, counts none of the waiting accounts as overdue.
func TestHerdSpreads(t *testing.T) {
	t.Parallel()
	const n = 50 // phases every 30 minutes: two a pass
	for _, herd := range []struct {
		name string
		age  time.Duration
		want refresh.Result
	}{
		{"due together", 72 * time.Hour, refresh.ResultRefreshed},
		{"onboarded together", time.Hour, refresh.ResultRolledForward},
	} {
		t.Run(herd.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(e *refresh.Engine) { e.Spread = true })
			for i := range n {
				h.seed(fmt.Sprintf("acct-%02d", i), herd.age)
			}
			if got := h.pass(); count(got, herd.want) != n {
				t.Fatalf("the herd pass: %v, want %d %s", counts(got), n, herd.want)
			}
			last := map[string]time.Time{}
			for i := range n {
				st, _ := h.state(fmt.Sprintf("acct-%02d", i))
				last[st.Secret] = st.IssuedAt
			}
			most, times := 0, map[string]int{}
			for hour := 1; hour <= 7*24; hour++ {
				h.Clock.Advance(time.Hour)
				rep := h.pass()
				now := h.Clock.Now()
				refreshed := 0
				for _, r := range rep.Accounts {
					switch r.Result {
					case refresh.ResultFresh:
						continue
					case refresh.ResultRefreshed:
					default:
						t.Fatalf("hour %d: %s %+v", hour, r.Account, r)
					}
					refreshed++
					times[r.Account]++
					st, _ := h.state(r.Account)
					age := now.Sub(last[st.Secret])
					if age < refresh.MinRefreshAge || age > h.Engine.RefreshAfter+refresh.SpreadPeriod+time.Hour {
						t.Errorf("hour %d: %s refreshed at %v old, want from 24h to REFRESH_AFTER + 25h + 1h", hour, r.Account, age)
					}
					last[st.Secret] = st.IssuedAt
				}
				most = max(most, refreshed)
				if hour%24 == 0 {
					w, err := h.Engine.Watch(context.Background(), 3*time.Hour)
					if err != nil || w.Overdue != 0 {
						t.Errorf("day %d: watchdog %+v, %v; want nothing overdue", hour/24, w, err)
					}
				}
			}
			// n/25 = 2 phases an hour; the first pass after the herd takes
			// also those its slack moves there.
			if most > 3 {
				t.Errorf("a pass of the week after the herd refreshed %d accounts, want at most 3 (N/25 = 2, and the slack)", most)
			}
			// The first refresh after the herd comes 24 to 49 hours after
			// it (the token's phase), then every 25 hours: 5 or 6 in a week.
			for i := range n {
				id := fmt.Sprintf("acct-%02d", i)
				if times[id] < 5 || times[id] > 6 {
					t.Errorf("%s was refreshed %d times in the week, want 5 or 6 (every 25 hours from its phase)", id, times[id])
				}
			}
		})
	}
}

// orderedSecrets records the order in which accounts list their versions.
type orderedSecrets struct {
	refresh.SecretStore
	mu    sync.Mutex
	order []string
}

func (s *orderedSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	s.mu.Lock()
	s.order = append(s.order, a.ID)
	s.mu.Unlock()
	return s.SecretStore.Versions(ctx, a)
}

// TestMostUrgentFirst: a pass starts the accounts whose tokens nobody
// knows the age of first, then those due the longest, so that accounts a
// pass had to leave (its deadline, the secret store's quotas) come first
// in the next.
func TestMostUrgentFirst(t *testing.T) {
	t.Parallel()
	secrets := &orderedSecrets{}
	h := newHarness(t, func(e *refresh.Engine) {
		e.StoreWork = 1 // one account at a time: starts are calls
		secrets.SecretStore = e.Secrets
		e.Secrets = secrets
	})
	h.seed("a", time.Hour)
	h.seed("b", 2*time.Hour)
	h.seed("c", 3*time.Hour)
	if rep := h.pass(); count(rep, refresh.ResultRolledForward) != 3 {
		t.Fatalf("setting up: %v", counts(rep))
	}
	h.seed("new", 30*time.Hour)
	h.Clock.Advance(30 * time.Hour) // a, b and c due, c the longest
	secrets.order = nil
	if rep := h.pass(); rep.Refreshed != 4 {
		t.Fatalf("%v, want all four refreshed", counts(rep))
	}
	if want := []string{"new", "c", "b", "a"}; !slices.Equal(secrets.order, want) {
		t.Errorf("accounts started in the order %v, want %v", secrets.order, want)
	}
}

func count(rep refresh.Report, r refresh.Result) int {
	n := 0
	for _, a := range rep.Accounts {
		if a.Result == r {
			n++
		}
	}
	return n
}

func counts(rep refresh.Report) string {
	m := map[refresh.Result]int{}
	var first []string
	for _, a := range rep.Accounts {
		m[a.Result]++
		if a.Error != "" && len(first) < 2 {
			first = append(first, a.Account+": "+a.Error)
		}
	}
	return fmt.Sprintf("%v %s", m, strings.Join(first, "; "))
}
