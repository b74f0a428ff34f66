package refresh_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestPrune: after a refresh exactly the KEEP_VERSIONS newest versions
// survive, whatever their state; older ones are destroyed unless already
// destroyed.
func TestPrune(t *testing.T) {
	t.Parallel()
	// Before the pass: 1 destroyed, 2 disabled, 3 enabled, 4 enabled and
	// due. The pass adds 5.
	tests := []struct {
		keep        int
		destroyed   []int64 // Destroy calls the pass makes
		wantEnabled []int64
	}{
		{1, []int64{2, 3, 4}, []int64{5}},
		{3, []int64{2}, []int64{3, 4, 5}},
		{4, nil, []int64{3, 4, 5}}, // 1 is beyond KEEP_VERSIONS but already destroyed
		{5, nil, []int64{3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run("KEEP_VERSIONS="+strconv.Itoa(tt.keep), func(t *testing.T) {
			t.Parallel()
			secrets := &countingSecrets{}
			h := newHarness(t, func(e *refresh.Engine) {
				e.KeepVersions = tt.keep
				secrets.SecretStore = e.Secrets
				e.Secrets = secrets
			})
			ctx := context.Background()
			a := h.account("main")
			v1 := h.AddVersion("main", 96*time.Hour, []byte("first-token"))
			v2 := h.AddVersion("main", 95*time.Hour, []byte("second-token"))
			h.AddVersion("main", 94*time.Hour, []byte("third-token"))
			h.seed("main", 72*time.Hour)
			if err := h.Store.Destroy(ctx, a, v1); err != nil {
				t.Fatal(err)
			}
			if err := h.Store.DisableVersion(ctx, a, v2); err != nil {
				t.Fatal(err)
			}

			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
				t.Fatalf("%+v, want refreshed", r)
			}
			if _, got := secrets.snapshot(); !slices.Equal(got, tt.destroyed) {
				t.Errorf("destroyed versions %v, want %v", got, tt.destroyed)
			}
			vs := h.versions("main")
			if len(vs) != 5 {
				t.Fatalf("%d versions after the refresh, want 5", len(vs))
			}
			var enabled []int64
			for _, v := range vs {
				kept := v.Number > int64(5-tt.keep)
				switch {
				case v.State == refresh.VersionEnabled:
					enabled = append(enabled, v.Number)
				case !kept && v.State != refresh.VersionDestroyed:
					t.Errorf("version %d is %s, want destroyed", v.Number, v.State)
				case kept && v.Number == 2 && v.State != refresh.VersionDisabled:
					t.Errorf("kept version 2 is %s, want it left disabled", v.State)
				}
			}
			if !slices.Equal(enabled, tt.wantEnabled) {
				t.Errorf("enabled versions %v, want %v", enabled, tt.wantEnabled)
			}
			if tok, cur := h.currentToken("main"); cur.Number != 5 || !h.TH.Valid(tok) {
				t.Errorf("the newest version is %d, want 5 holding a valid token", cur.Number)
			}
		})
	}
}

// TestNoPruneWithoutRefresh: versions are destroyed only after a refresh, not
// when a pass merely adopts a version.
func TestNoPruneWithoutRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(e *refresh.Engine) { e.KeepVersions = 1 })
	h.seed("main", 96*time.Hour)
	h.seed("main", 90*time.Hour)
	h.seed("main", time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRolledForward {
		t.Fatalf("%+v, want rolled_forward", r)
	}
	for _, v := range h.versions("main") {
		if v.State != refresh.VersionEnabled {
			t.Errorf("version %d is %s after a roll-forward, want enabled", v.Number, v.State)
		}
	}
}
