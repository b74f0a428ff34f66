package refresh_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestStatus reports stored state without a pass: unknown without state, the
// stored status otherwise, and no call to Threads or the secret store.
func TestStatus(t *testing.T) {
	t.Parallel()
	secrets := &countingSecrets{}
	h := newHarness(t, func(e *refresh.Engine) {
		secrets.SecretStore = e.Secrets
		e.Secrets = secrets
	})
	ctx := context.Background()
	h.seed("fresh", time.Hour)
	dead, _ := h.seed("dead", 72*time.Hour)
	h.TH.Revoke(dead)
	if _, err := h.Store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	h.pass()
	h.Clock.Advance(time.Hour)
	h.seed("new", 72*time.Hour)

	states := map[string]refresh.State{}
	for _, id := range []string{"fresh", "dead", "empty"} {
		states[id], _ = h.state(id)
	}
	calls := h.TH.TotalCalls()
	secretCalls, _ := secrets.snapshot()

	rep, err := h.Engine.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]refresh.Result{"fresh": "ok", "dead": "needs_reauth", "empty": "failing", "new": refresh.ResultUnknown}
	if len(rep.Accounts) != len(want) {
		t.Fatalf("%d accounts in %+v, want %d", len(rep.Accounts), rep, len(want))
	}
	for id, res := range want {
		r := result(t, rep, id)
		if r.Result != res {
			t.Errorf("%s: %+v, want %s", id, r, res)
		}
		st, known := states[id]
		if !known {
			if r.RefreshedAt != "" || r.ExpiresAt != "" || r.Error != "" {
				t.Errorf("%s without state shows %+v, want no times", id, r)
			}
			continue
		}
		if r.Error != st.LastError || r.Failures != st.Failures || r.Version != st.Version || !r.LastAttemptAt.Equal(st.LastAttemptAt) ||
			(!st.RefreshedAt.IsZero() && r.RefreshedAt != stamp(st.RefreshedAt)) || (!st.ExpiresAt.IsZero() && r.ExpiresAt != stamp(st.ExpiresAt)) {
			t.Errorf("%s: %+v does not show its state %+v", id, r, st)
		}
	}
	if h.TH.TotalCalls() != calls {
		t.Errorf("Status called Threads")
	}
	if n, _ := secrets.snapshot(); n != secretCalls {
		t.Errorf("Status made %d secret store calls", n-secretCalls)
	}
	for id, st := range states {
		if now, _ := h.state(id); !reflect.DeepEqual(now, st) {
			t.Errorf("Status changed the state of %s: %+v, was %+v", id, now, st)
		}
	}
}
