package threadsfake_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// The in-process fake answers as the listening one, through its Client
// only: the sandbox's Meta must be the model the tests use, and reach
// nothing else.
func TestInProcess(t *testing.T) {
	t.Parallel()
	f := start(t, threadsfake.InProcess())
	if u, err := url.Parse(f.URL()); err != nil || !strings.HasSuffix(u.Host, "."+threadsfake.InProcessDomain) {
		t.Fatalf("URL() = %q, want a host under %s", f.URL(), threadsfake.InProcessDomain)
	}
	old := f.IssueLongLived("42", "alice", epoch.Add(-25*time.Hour))
	a := get(t, f, threadsfake.PathRefresh, refreshQuery(old))
	if a.status != http.StatusOK {
		t.Fatalf("refresh answered %d %s", a.status, a.body)
	}
	var tok string
	a.field(t, "access_token", &tok)
	if !f.Valid(tok) || f.Calls(threadsfake.PathRefresh) != 1 {
		t.Errorf("the refresh did not reach the model: new token valid %v, calls %d", f.Valid(tok), f.Calls(threadsfake.PathRefresh))
	}

	// Another host is refused by the transport, not looked up.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://graph.threads.net/refresh_access_token", nil)
	if resp, err := f.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("the in-process client answered a request for graph.threads.net")
	}

	// A reset connection is an error in process too.
	f.FailNext(threadsfake.PathRefresh, threadsfake.Reset, 1)
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL()+threadsfake.PathRefresh+"?"+refreshQuery(tok).Encode(), nil)
	if resp, err := f.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("a Reset answered in process")
	}

	// A hung request ends with its context.
	f.FailNext(threadsfake.PathRefresh, threadsfake.Hang, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, f.URL()+threadsfake.PathRefresh+"?"+refreshQuery(tok).Encode(), nil)
	if resp, err := f.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("a Hang answered in process")
	}
}

// An outage fails every request until it ends; queued failures go first.
func TestOutage(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch.Add(-25*time.Hour))
	f.SetOutage(threadsfake.HTML5xx)
	for i := range 3 {
		if a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok)); a.status != http.StatusBadGateway {
			t.Fatalf("request %d in the outage answered %d, want 502", i, a.status)
		}
	}
	f.FailNext(threadsfake.PathRefresh, threadsfake.Revoked, 1)
	if a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok)); a.status != http.StatusBadRequest {
		t.Errorf("a queued failure in the outage answered %d, want the queued 400", a.status)
	}
	f.SetOutage(0)
	if a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok)); a.status != http.StatusOK {
		t.Errorf("after the outage the refresh answered %d %s", a.status, a.body)
	}
}

// Meta's rate limit: per user, over a rolling 24 hours, code 4 with
// Retry-After when passed, and calls count again once a day old.
func TestDailyCallLimit(t *testing.T) {
	t.Parallel()
	f := start(t, threadsfake.DailyCallLimit(3))
	alice := f.IssueLongLived("42", "alice", epoch.Add(-48*time.Hour))
	bob := f.IssueLongLived("43", "bob", epoch.Add(-48*time.Hour))
	me := func(tok string) answer {
		return get(t, f, threadsfake.PathMe, url.Values{"fields": {"id"}, "access_token": {tok}})
	}
	for i := range 3 {
		if a := me(alice); a.status != http.StatusOK {
			t.Fatalf("call %d within the limit answered %d %s", i+1, a.status, a.body)
		}
		f.Advance(time.Hour)
	}
	a := me(alice)
	if _, code, _, _ := a.graphError(t); a.status != http.StatusBadRequest || code != 4 {
		t.Fatalf("the 4th call in 24 hours answered %d code %d, want 400 code 4", a.status, code)
	}
	if b := me(bob); b.status != http.StatusOK {
		t.Errorf("another user's call answered %d: the limit is per user", b.status)
	}
	// The first call leaves the window 24 hours after it was made: 21
	// hours from now.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL()+threadsfake.PathMe+"?"+url.Values{"access_token": {alice}}.Encode(), nil)
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := strconv.Atoi(resp.Header.Get("Retry-After")); got != int((21 * time.Hour).Seconds()) {
		t.Errorf("Retry-After = %q, want %d (21 hours)", resp.Header.Get("Retry-After"), int((21 * time.Hour).Seconds()))
	}
	f.Advance(21 * time.Hour)
	if a := me(alice); a.status != http.StatusOK {
		t.Errorf("a call once the first left the window answered %d %s", a.status, a.body)
	}
}
