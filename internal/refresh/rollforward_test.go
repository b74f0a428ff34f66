package refresh_test

import (
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestRollForward: a version newer than the one the state records (added by
// hand, or stored by a pass that crashed before recording it) is adopted.
func TestRollForward(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		state  refresh.State // Version and times are filled in relative to now
		stAge  time.Duration // age of the recorded refresh
		newAge time.Duration // age of the newer version
		want   refresh.Result
	}{
		{"newer version not due", refresh.State{Status: refresh.StatusOK}, 25 * time.Hour, 2 * time.Hour, refresh.ResultRolledForward},
		{"newer version due", refresh.State{Status: refresh.StatusOK}, 25 * time.Hour, 48 * time.Hour, refresh.ResultRefreshed},
		{"failing account", refresh.State{Status: refresh.StatusFailing, Failures: 2, LastError: "Threads: boom"}, time.Hour, 2 * time.Hour, refresh.ResultRolledForward},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil, threadsfake.RetireOnRefresh())
			oldTok, old := h.seed("main", 72*time.Hour)
			st := tt.state
			st.Secret = h.account("main").Secret
			st.Version = old.Name
			st.RefreshedAt = h.Clock.Now().Add(-tt.stAge)
			st.ExpiresAt = st.RefreshedAt.Add(60 * 24 * time.Hour)
			h.writeState("main", st)
			newTok, newer := h.seed("main", tt.newAge)

			r := result(t, h.pass(), "main")
			if r.Result != tt.want || r.Failures != 0 || r.Error != "" {
				t.Fatalf("%+v, want %s with failures 0", r, tt.want)
			}
			got, _ := h.state("main")
			switch tt.want {
			case refresh.ResultRolledForward:
				if h.refreshCalls() != 0 {
					t.Errorf("roll-forward called Threads %d times", h.refreshCalls())
				}
				if got.Version != newer.Name || !got.RefreshedAt.Equal(newer.CreateTime) ||
					!got.ExpiresAt.Equal(newer.CreateTime.Add(60*24*time.Hour)) || got.Status != refresh.StatusOK || got.LastError != "" {
					t.Errorf("state %+v, want ok on %s refreshed at its create time %s", got, newer.Name, newer.CreateTime)
				}
				if len(h.versions("main")) != 2 {
					t.Error("roll-forward changed the secret's versions")
				}
			case refresh.ResultRefreshed:
				// The adopted token is the one refreshed: the fake retires
				// it, and the recorded one is left alone.
				if h.TH.Valid(newTok) || !h.TH.Valid(oldTok) {
					t.Error("the refresh did not use the newer version's token")
				}
				if _, cur := h.currentToken("main"); got.Version != cur.Name || cur.Number != newer.Number+1 || !got.RefreshedAt.Equal(h.Clock.Now()) {
					t.Errorf("state %+v, want the version the refresh added (%s)", got, cur.Name)
				}
			}
		})
	}
}
