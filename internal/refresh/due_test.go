package refresh_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/localengine"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestSixtyDayLife keeps one token alive for 70 days, past the 60 days the
// first one would have lived, without ever asking Threads to refresh a token
// younger than 24 hours.
func TestSixtyDayLife(t *testing.T) {
	t.Parallel()
	const expiresIn = 5000000 // not 60 days: the engine must use the answer
	secrets := &countingSecrets{}
	h := newHarness(t, func(e *refresh.Engine) {
		secrets.SecretStore = e.Secrets
		e.Secrets = secrets
	}, threadsfake.ExpiresIn(expiresIn), threadsfake.RetireOnRefresh())
	first, _ := h.seed("main", 72*time.Hour)

	rep := h.pass()
	if r := result(t, rep, "main"); r.Result != refresh.ResultRefreshed || r.RefreshedAt != stamp(localengine.T0) ||
		r.ExpiresAt != stamp(localengine.T0.Add(expiresIn*time.Second)) {
		t.Fatalf("first pass: %+v, want refreshed at %s expiring %s", r, stamp(localengine.T0), stamp(localengine.T0.Add(expiresIn*time.Second)))
	}
	tok, v := h.currentToken("main")
	if tok == first || !h.TH.Valid(tok) {
		t.Fatal("the newest version does not hold the new, valid token")
	}
	st, _ := h.state("main")
	if st.Version != v.Name || !st.RefreshedAt.Equal(localengine.T0) || !st.ExpiresAt.Equal(localengine.T0.Add(expiresIn*time.Second)) ||
		st.Status != refresh.StatusOK || st.Failures != 0 {
		t.Fatalf("state after the first pass: %+v", st)
	}

	// 23 hours later the token is fresh: no Threads call, no new version,
	// no state write.
	h.Clock.Advance(23 * time.Hour)
	calls, nv := h.TH.TotalCalls(), len(h.versions("main"))
	secretCalls, _ := secrets.snapshot()
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
		t.Fatalf("after 23h: %+v, want fresh", r)
	}
	if h.TH.TotalCalls() != calls || len(h.versions("main")) != nv {
		t.Errorf("a fresh pass called Threads (%d calls, had %d) or added a version (%d, had %d)",
			h.TH.TotalCalls(), calls, len(h.versions("main")), nv)
	}
	if n, _ := secrets.snapshot(); n != secretCalls {
		t.Errorf("a fresh pass made %d secret store calls", n-secretCalls)
	}
	if again, _ := h.state("main"); !reflect.DeepEqual(again, st) {
		t.Errorf("a fresh pass wrote state: %+v, was %+v", again, st)
	}

	h.Clock.Advance(time.Hour + time.Minute)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
		t.Fatalf("after 24h01m: %+v, want refreshed", r)
	}
	st, _ = h.state("main")
	if now := h.Clock.Now(); !st.RefreshedAt.Equal(now) || !st.ExpiresAt.Equal(now.Add(expiresIn*time.Second)) {
		t.Errorf("state after the second refresh: %+v, want refreshedAt %s", st, now)
	}

	// Passes every 6 hours (and a minute) until day 70: each token is
	// refreshed by the first pass at least 24 hours after Meta issued it,
	// in whole seconds (so a second more, on the safe side): 24h04m after
	// its own refresh.
	const every = 6*time.Hour + time.Minute
	last := st.RefreshedAt
	refreshes := 2
	for h.Clock.Now().Before(localengine.T0.Add(70 * 24 * time.Hour)) {
		h.Clock.Advance(every)
		r := result(t, h.pass(), "main")
		switch r.Result {
		case refresh.ResultRefreshed:
			refreshes++
			st, _ := h.state("main")
			if age := st.RefreshedAt.Sub(last); age < 24*time.Hour || age >= 24*time.Hour+every {
				t.Fatalf("refreshed %s after the previous refresh; want the first pass at least 24h later", age)
			}
			last = st.RefreshedAt
		case refresh.ResultFresh:
		default:
			t.Fatalf("at %s: %+v", h.Clock.Now(), r)
		}
		if tok, _ := h.currentToken("main"); !h.TH.Valid(tok) {
			t.Fatalf("at %s the current token is not valid", h.Clock.Now())
		}
	}
	if h.TH.Valid(first) {
		t.Error("the first token is still valid 70 days on; the fake's lifetime rule did not apply")
	}
	if n := h.TH.TooYoungRefreshes(); n != 0 {
		t.Errorf("Threads was asked %d times to refresh a token younger than 24h", n)
	}
	if got := h.refreshCalls(); got != refreshes {
		t.Errorf("%d refresh calls for %d refreshes", got, refreshes)
	}
	// Once at day 0, once at 24h01m, then every 24h04m (4 passes) until the
	// last pass, the first at or after day 70.
	from := 24*time.Hour + time.Minute
	end := from + (70*24*time.Hour-from+every-1)/every*every
	if want := 2 + int((end-from)/(4*every)); refreshes != want {
		t.Errorf("%d refreshes in 70 days, want %d", refreshes, want)
	}
	h.assertNoTokenLeak("main")
}

// TestRefreshAfter follows the REFRESH_AFTER setting: a token is due once it
// is that old, not before.
func TestRefreshAfter(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		want    refresh.Result
	}
	tests := []struct {
		name         string
		refreshAfter time.Duration
		age          time.Duration
		steps        []step
	}{
		// Meta gives issue times in whole seconds, and the engine counts a
		// token's age from the end of that second: due a second after the
		// setting says.
		{"24h refreshes a 30h-old token", 24 * time.Hour, 30 * time.Hour, []step{
			{0, refresh.ResultRefreshed}, {24 * time.Hour, refresh.ResultFresh}, {time.Second, refresh.ResultRefreshed},
		}},
		{"36h adopts a 30h-old token", 36 * time.Hour, 30 * time.Hour, []step{
			{0, refresh.ResultRolledForward}, {6 * time.Hour, refresh.ResultFresh}, {time.Second, refresh.ResultRefreshed},
			{36 * time.Hour, refresh.ResultFresh}, {time.Second, refresh.ResultRefreshed},
		}},
		{"36h refreshes a 36h-old token", 36 * time.Hour, 36*time.Hour + time.Second, []step{
			{0, refresh.ResultRefreshed}, {24 * time.Hour, refresh.ResultFresh},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secrets := &countingSecrets{}
			h := newHarness(t, func(e *refresh.Engine) {
				e.RefreshAfter = tt.refreshAfter
				secrets.SecretStore = e.Secrets
				e.Secrets = secrets
			})
			h.seed("main", tt.age)
			for i, s := range tt.steps {
				h.Clock.Advance(s.advance)
				calls := h.refreshCalls()
				secretCalls, _ := secrets.snapshot()
				r := result(t, h.pass(), "main")
				if r.Result != s.want {
					t.Fatalf("step %d (+%s): %+v, want %s", i, s.advance, r, s.want)
				}
				// The cost rule: a fresh account costs the one batched read.
				if n, _ := secrets.snapshot(); s.want == refresh.ResultFresh && n != secretCalls {
					t.Errorf("step %d: a fresh account cost %d secret store calls", i, n-secretCalls)
				}
				wantCalls := calls
				if s.want == refresh.ResultRefreshed {
					wantCalls++
				}
				if got := h.refreshCalls(); got != wantCalls {
					t.Errorf("step %d: %d refresh calls, want %d", i, got, wantCalls)
				}
			}
			if n := h.TH.TooYoungRefreshes(); n != 0 {
				t.Errorf("Threads was asked %d times to refresh a token younger than 24h", n)
			}
		})
	}
}
