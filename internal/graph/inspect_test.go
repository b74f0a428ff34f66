package graph_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/errtext"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestInspectReadsMetasClocks: a Threads tester's token inspects another
// user's token of the app, and the answer's Unix times, scopes and user
// come back as Meta gave them.
func TestInspectReadsMetasClocks(t *testing.T) {
	t.Parallel()
	f, c := platforms[0].start(t, hangTimeout, threadsfake.Testers("1"))
	tester := f.IssueLongLived("1", "dev", epoch)
	issued := epoch.Add(-59*24*time.Hour - 12*time.Hour)
	tok := f.IssueLongLived(userID, "alice", issued)
	f.SetDataAccess(userID, epoch.Add(5*24*time.Hour))

	info, err := c.Inspect(t.Context(), tester, tok)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	want := graph.TokenInfo{
		UserID: userID, Type: "USER", Valid: true,
		IssuedAt: issued, ExpiresAt: issued.Add(threadsfake.LongLivedLifetime), DataAccessExpiresAt: epoch.Add(5 * 24 * time.Hour),
		Scopes: []string{"threads_basic", "threads_content_publish"},
	}
	if info.UserID != want.UserID || info.Type != want.Type || !info.Valid || !info.IssuedAt.Equal(want.IssuedAt) ||
		!info.ExpiresAt.Equal(want.ExpiresAt) || !info.DataAccessExpiresAt.Equal(want.DataAccessExpiresAt) || !slices.Equal(info.Scopes, want.Scopes) {
		t.Errorf("Inspect = %+v, want %+v", info, want)
	}

	// A token inspecting itself (the default) works for a tester.
	if info, err := c.Inspect(t.Context(), tester, tester); err != nil || !info.IssuedAt.Equal(epoch) {
		t.Errorf("self-inspection of a tester's token: %+v, %v", info, err)
	}

	// An expired token is described, not refused: is_valid false.
	f.SetNow(issued.Add(61 * 24 * time.Hour))
	f.SetDataAccess("1", issued.Add(200*24*time.Hour))
	live := f.IssueLongLived("1", "dev", time.Time{})
	if info, err := c.Inspect(t.Context(), live, tok); err != nil || info.Valid {
		t.Errorf("inspecting an expired token: %+v, %v; want is_valid false", info, err)
	}
}

// TestInspectRefusalIsNeverReauth: whatever Meta answers to an inspection
// it will not give (a token that is not a tester's, the inspector's own
// token dead with code 190, a refusal Meta does not document, an answer
// that describes nothing), the error is ErrCannotInspect and not
// ErrNeedsReauth: it says nothing of the inspected token. A temporary
// failure stays ErrTransient. No error shows either token.
func TestInspectRefusalIsNeverReauth(t *testing.T) {
	t.Parallel()
	type want int
	const (
		cannot want = iota
		transient
	)
	tests := []struct {
		name  string
		setup func(f *threadsfake.Server)
		want  want
	}{
		{"not a tester", func(*threadsfake.Server) {}, cannot},
		{"inspector expired (190/463)", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.Expired, 1) }, cannot},
		{"inspector revoked (190/460)", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.Revoked, 1) }, cannot},
		{"unsupported (100)", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.Unsupported, 1) }, cannot},
		{"flat error", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.FlatError, 1) }, cannot},
		{"permission (200)", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.PermissionDenied, 1) }, cannot},
		{"not JSON", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.NonJSON200, 1) }, cannot},
		{"no data", func(f *threadsfake.Server) {
			f.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200, Body: `{"result":"ok"}`}, 1)
		}, cannot},
		{"expires_at before issued_at", func(f *threadsfake.Server) {
			f.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200, Body: `{"data":{"is_valid":true,"issued_at":1752254132,"expires_at":1747070132}}`}, 1)
		}, cannot},
		{"a life of 300 years", func(f *threadsfake.Server) {
			f.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200, Body: `{"data":{"is_valid":true,"issued_at":1747070132,"expires_at":11747070132}}`}, 1)
		}, cannot},
		{"expires_at a word", func(f *threadsfake.Server) {
			f.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200, Body: `{"data":{"is_valid":true,"expires_at":"soon"}}`}, 1)
		}, cannot},
		{"HTML 502", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.HTML5xx, 1) }, transient},
		{"rate limited", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.RateLimited, 1) }, transient},
		{"hang", func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, threadsfake.Hang, 1) }, transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testers := []string{"1", userID}
			if tt.name == "not a tester" {
				testers = []string{"1"}
			}
			f, c := platforms[0].start(t, hangTimeout, threadsfake.Testers(testers...))
			tok := f.IssueLongLived(userID, "alice", epoch.Add(-48*time.Hour))
			tt.setup(f)
			_, err := c.Inspect(t.Context(), tok, tok)
			switch {
			case err == nil:
				t.Fatal("no error")
			case errors.Is(err, graph.ErrNeedsReauth):
				t.Errorf("%v is ErrNeedsReauth; an inspection says nothing of the token", err)
			case tt.want == cannot && (!errors.Is(err, graph.ErrCannotInspect) || errors.Is(err, graph.ErrTransient)):
				t.Errorf("%v: want ErrCannotInspect only", err)
			case tt.want == transient && (!errors.Is(err, graph.ErrTransient) || errors.Is(err, graph.ErrCannotInspect)):
				t.Errorf("%v: want ErrTransient only", err)
			}
			if !strings.HasPrefix(err.Error(), "inspecting Threads token: ") {
				t.Errorf("error %q does not name the call", err)
			}
			for _, text := range errtext.Of(err) {
				if strings.Contains(text, tok) || strings.Contains(text, url.QueryEscape(tok)) ||
					strings.Contains(text, "access_token=") || strings.Contains(text, "input_token=") {
					t.Errorf("error text %q shows a token or the query", text)
				}
			}
			if _, err := c.Inspect(t.Context(), tok, tok); tt.name != "not a tester" && err != nil {
				t.Errorf("inspection after the failure: %v", err)
			}
		})
	}
}

// TestInspectZeroMeansNoClock: Meta writes expires_at 0 for a token that
// does not expire ("Expires: Never" in its debugger); that is no clock at
// all, neither 1970 nor eternity. Absent and null fields are no clock too.
func TestInspectZeroMeansNoClock(t *testing.T) {
	t.Parallel()
	f, c := platforms[0].start(t, hangTimeout)
	tok := f.IssueLongLived(userID, "alice", epoch)
	f.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200,
		Body: `{"data":{"type":"USER","is_valid":true,"expires_at":0,"data_access_expires_at":null,"issued_at":1747070132,"scopes":[],"user_id":"7"}}`}, 1)
	info, err := c.Inspect(t.Context(), tok, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ExpiresAt.IsZero() || !info.DataAccessExpiresAt.IsZero() || !info.IssuedAt.Equal(time.Unix(1747070132, 0)) || info.UserID != "7" {
		t.Errorf("Inspect = %+v; want no expiry, no data-access clock, Meta's issue time", info)
	}
}

// TestInstagramHasNoInspection: Instagram documents no inspection of an
// Instagram Login token, so Inspect is ErrCannotInspect without a request.
func TestInstagramHasNoInspection(t *testing.T) {
	t.Parallel()
	f, c := platforms[1].start(t, hangTimeout)
	tok := f.IssueLongLived(userID, "shop", epoch)
	_, err := c.Inspect(t.Context(), tok, tok)
	if !errors.Is(err, graph.ErrCannotInspect) || errors.Is(err, graph.ErrNeedsReauth) || errors.Is(err, graph.ErrTransient) {
		t.Errorf("Instagram Inspect: %v, want ErrCannotInspect only", err)
	}
	if n := f.TotalCalls(); n != 0 {
		t.Errorf("Instagram Inspect made %d requests, want none", n)
	}
}

// TestInspectScrubsBothTokens: whatever an inspection meets (every failure
// the fake injects, a refusal, a dead connection), neither the inspecting
// token nor the inspected one, nor the query that carried them, is in any
// text of the error.
func TestInspectScrubsBothTokens(t *testing.T) {
	t.Parallel()
	cases := map[string]func(f *threadsfake.Server){
		"not a tester": func(*threadsfake.Server) {},
		"closed":       func(f *threadsfake.Server) { f.Close() },
	}
	for _, fl := range append(threadsfake.Failures(), threadsfake.PermissionFailures()...) {
		cases[fl.String()] = func(f *threadsfake.Server) { f.FailNext(threadsfake.PathDebugToken, fl, 1) }
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testers := []string{"1"}
			if name == "not a tester" {
				testers = []string{"nobody"}
			}
			f, c := platforms[0].start(t, hangTimeout, threadsfake.Testers(testers...))
			inspector := f.IssueLongLived("1", "dev", epoch)
			tok := f.IssueLongLived(userID, "alice", epoch.Add(-48*time.Hour))
			setup(f)
			_, err := c.Inspect(t.Context(), inspector, tok)
			if err == nil {
				t.Fatal("no error")
			}
			for _, text := range errtext.Of(err) {
				for _, s := range []string{inspector, tok, url.QueryEscape(inspector), url.QueryEscape(tok), "access_token=", "input_token="} {
					if strings.Contains(text, s) {
						t.Errorf("error text %q shows a token or the query", text)
					}
				}
			}
		})
	}
}
