package graph_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestRefresherJudgesRefusals: Refresher calls /me once, and only, for a
// refusal whose code leaves the token's fate open, and calls the token dead
// exactly when /me refuses it too; a missing permission needs a new login
// that grants it.
func TestRefresherJudgesRefusals(t *testing.T) {
	t.Parallel()
	type queued struct {
		me bool // the failure is for /me, not the refresh
		f  threadsfake.Failure
	}
	tests := []struct {
		name    string
		fail    []queued
		want    class
		meCalls int
		// texts must all be in the error.
		texts []string
	}{
		{name: "success", want: success},
		{name: "expired", fail: []queued{{false, threadsfake.Expired}}, want: reauth, texts: []string{"token expired (code 190/463)"}},
		{name: "temporary", fail: []queued{{false, threadsfake.Transient}}, want: transient},
		{name: "unusable answer", fail: []queued{{false, threadsfake.EmptyToken}}, want: badAnswer},
		{name: "code 100, token alive", fail: []queued{{false, threadsfake.Unsupported}}, want: neither, meCalls: 1,
			texts: []string{"unsupported request (code 100/33)"}},
		{name: "unknown code, token alive", fail: []queued{{false, threadsfake.FlatError}}, want: neither, meCalls: 1,
			texts: []string{"(code 400): Invalid platform app"}},
		{name: "code 100, /me code 100", fail: []queued{{false, threadsfake.Unsupported}, {true, threadsfake.Unsupported}},
			want: reauth, meCalls: 1, texts: []string{"refreshing ", "reading ", "fails /me too", "(code 100/33)"}},
		{name: "code 100, /me revoked", fail: []queued{{false, threadsfake.Unsupported}, {true, threadsfake.Revoked}},
			want: reauth, meCalls: 1, texts: []string{"(code 100/33)", "(code 190/460)"}},
		{name: "unknown code, /me invalid", fail: []queued{{false, threadsfake.FlatError}, {true, threadsfake.InvalidToken}},
			want: reauth, meCalls: 1, texts: []string{"Invalid platform app", "token invalid (code 190)"}},
		{name: "code 100, /me down", fail: []queued{{false, threadsfake.Unsupported}, {true, threadsfake.Transient}},
			want: neither, meCalls: 1, texts: []string{"(code 100/33)"}},
		{name: "permission missing", fail: []queued{{false, threadsfake.PermissionMissing}}, want: reauth,
			texts: []string{"permission missing (code 10)", "needs the %s permission"}},
		{name: "permission denied", fail: []queued{{false, threadsfake.PermissionDenied}}, want: reauth,
			texts: []string{"permission missing (code 200)", "needs the %s permission"}},
	}
	for _, p := range platforms {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				f, c := p.start(t, 5*time.Second)
				tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
				for _, q := range tt.fail {
					path := threadsfake.PathRefresh
					if q.me {
						path = f.MePath()
					}
					f.FailNext(path, q.f, 1)
				}
				got, err := c.Refresher().Refresh(t.Context(), tok)
				if cl := classOf(err); len(cl) != 1 || cl[0] != tt.want {
					t.Fatalf("error %v classified %v, want exactly %v", err, cl, tt.want)
				}
				if tt.want == success && (got.AccessToken == "" || !f.Valid(got.AccessToken)) {
					t.Errorf("no valid new token")
				}
				if n := f.Calls(threadsfake.PathRefresh); n != 1 {
					t.Errorf("%d refresh requests, want 1", n)
				}
				if n := f.Calls(f.MePath()); n != tt.meCalls {
					t.Errorf("%d /me requests, want %d", n, tt.meCalls)
				}
				for _, text := range tt.texts {
					if strings.Contains(text, "%s") {
						text = strings.ReplaceAll(text, "%s", p.permission)
					}
					if !strings.Contains(err.Error(), text) {
						t.Errorf("error %q does not contain %q", err, text)
					}
				}
				if tt.meCalls == 1 && tt.want == neither {
					// The token works: the refusal is returned as it was.
					var apiErr *graph.APIError
					if !errors.As(err, &apiErr) || strings.Contains(err.Error(), "/me") {
						t.Errorf("a live token's refusal was changed: %v", err)
					}
				}
			})
		}
	}
}

// TestRefresherMeJudgesRefusals: Refresher.Me, what a check asks, judges
// /me's refusals as Refresh judges the /me it makes: a token error, a
// missing permission and a code 100 need a new login; a temporary failure
// does not, and says nothing of the token.
func TestRefresherMeJudgesRefusals(t *testing.T) {
	t.Parallel()
	for _, p := range platforms {
		for _, tt := range []struct {
			name  string
			fail  threadsfake.Failure
			want  class
			texts []string
		}{
			{name: "success", fail: -1, want: success},
			{name: "revoked", fail: threadsfake.Revoked, want: reauth, texts: []string{"(code 190/460)"}},
			{name: "expired", fail: threadsfake.Expired, want: reauth, texts: []string{"(code 190/463)"}},
			{name: "code 100", fail: threadsfake.Unsupported, want: reauth, texts: []string{"(code 100/33)", "no longer works"}},
			{name: "permission denied", fail: threadsfake.PermissionDenied, want: reauth, texts: []string{"(code 200)", "needs the %s permission"}},
			{name: "temporary", fail: threadsfake.Transient, want: transient},
		} {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				f, c := p.start(t, 5*time.Second)
				tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
				if tt.fail >= 0 {
					f.FailNext(f.MePath(), tt.fail, 1)
				}
				u, err := c.Refresher().Me(t.Context(), tok)
				if cl := classOf(err); len(cl) != 1 || cl[0] != tt.want {
					t.Fatalf("error %v classified %v, want exactly %v", err, cl, tt.want)
				}
				if tt.want == success && u.ID == "" {
					t.Errorf("no user: %+v", u)
				}
				for _, text := range tt.texts {
					text = strings.ReplaceAll(text, "%s", p.permission)
					if !strings.Contains(err.Error(), text) {
						t.Errorf("error %q does not contain %q", err, text)
					}
				}
				if n := f.Calls(f.MePath()); n != 1 || f.Calls(threadsfake.PathRefresh) != 0 {
					t.Errorf("%d /me requests and %d refreshes, want one /me", n, f.Calls(threadsfake.PathRefresh))
				}
			})
		}
	}
}
