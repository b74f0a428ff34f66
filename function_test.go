package refresher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/googleenv"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/pubsubemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// These tests drive RefreshTokens over HTTP, as Cloud Scheduler does, with
// the real Secret Manager and Firestore clients: Firestore is the real
// emulator, Secret Manager an in-process gRPC server, Threads and Instagram
// fakes that answer as Meta documents.

func TestMain(m *testing.M) { os.Exit(firestoreemu.Main(m)) }

// harness is one isolated deployment (internal/testing/googleenv) and the
// function deployed in it.
type harness struct{ *googleenv.Env }

func newHarness(t *testing.T, accounts []string, env map[string]string) *harness {
	t.Helper()
	return &harness{googleenv.New(t, accounts, env)}
}

// function is a fresh instance of RefreshTokens, as a new Cloud Functions
// instance would be.
func (h *harness) function() *function {
	return &function{lookup: h.Lookup, logs: &h.Output}
}

func result(t *testing.T, rep refresh.Report, account string) refresh.AccountReport {
	t.Helper()
	r, ok := rep.Find(account)
	if !ok {
		t.Fatalf("account %s missing from %+v", account, rep)
	}
	return r
}

func TestFirstRunRefreshesAndSecondPassDoesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main"}, nil)
	old := h.SeedToken("main", 72*time.Hour)
	f := h.function()

	code, rep := h.Post(f)
	if code != http.StatusOK || rep.Refreshed != 1 || rep.Failed != 0 {
		t.Fatalf("first pass: %d %+v, want 200 with one refreshed", code, rep)
	}
	r := result(t, rep, "main")
	if r.Result != refresh.ResultRefreshed || r.Error != "" {
		t.Fatalf("first pass result %+v, want refreshed", r)
	}

	// The new token is stored as version 2, in the payload's JSON shape.
	if vs := h.Versions("main"); len(vs) != 2 {
		t.Fatalf("versions after refresh: %d, want 2", len(vs))
	}
	p := h.NewestPayload("main")
	tok, _ := p["access_token"].(string)
	if tok == "" || tok == old || !h.TH.Valid(tok) {
		t.Fatalf("stored token is not a new valid Threads token")
	}
	if p["user_id"] != "1789main" || p["token_type"] != "bearer" || p["expires_in"] != float64(threadsfake.DefaultExpiresIn) {
		t.Errorf("payload fields = user_id %v token_type %v expires_in %v; other fields must be kept and Threads' added", p["user_id"], p["token_type"], p["expires_in"])
	}

	// State records it; the version is compared by number, stored as named.
	d := h.Doc("main")
	if d["status"] != "ok" || d["lastError"] != "" || d["failures"] != int64(0) {
		t.Errorf("state = %v, want status ok, no error, 0 failures", d)
	}
	if d["version"] != "projects/"+googleenv.ProjectNumber+"/secrets/main/versions/2" || d["secret"] != h.Secret("main") {
		t.Errorf("state version %v secret %v", d["version"], d["secret"])
	}
	// The new token's clocks are Meta's (debug_token, in whole seconds):
	// issued when it was refreshed, expiring expires_in later.
	refreshedAt, _ := d["refreshedAt"].(time.Time)
	issuedAt, _ := d["issuedAt"].(time.Time)
	expiresAt, _ := d["expiresAt"].(time.Time)
	if time.Since(refreshedAt) > time.Minute || refreshedAt.Sub(issuedAt) < 0 || refreshedAt.Sub(issuedAt) > time.Second ||
		expiresAt.Sub(issuedAt) != threadsfake.DefaultExpiresIn*time.Second || d["expiryFrom"] != "meta" || d["issuedFrom"] != "meta" {
		t.Errorf("refreshedAt %v issuedAt %v (%v) expiresAt %v (%v): want now, and Meta's clocks for now + expires_in", refreshedAt, issuedAt, d["issuedFrom"], expiresAt, d["expiryFrom"])
	}
	if _, leased := d["leaseOwner"]; leased && d["leaseOwner"] != "" {
		t.Errorf("lease still held after the pass: %v", d["leaseOwner"])
	}

	// A second pass, from another instance, finds the account fresh and
	// makes no call beyond the state read.
	smBefore, thBefore := h.SM.CallCounts(), h.TH.TotalCalls()
	snapBefore, _ := h.FS.Collection("threads_tokens").Doc("main").Get(context.Background())
	code, rep = h.Post(h.function())
	if code != http.StatusOK || result(t, rep, "main").Result != refresh.ResultFresh || rep.Refreshed != 0 {
		t.Fatalf("second pass: %d %+v, want 200 with main fresh", code, rep)
	}
	if got := h.SM.CallCounts(); fmt.Sprint(got) != fmt.Sprint(smBefore) {
		t.Errorf("fresh pass called Secret Manager: before %v after %v", smBefore, got)
	}
	if h.TH.TotalCalls() != thBefore {
		t.Errorf("fresh pass called Threads")
	}
	snapAfter, _ := h.FS.Collection("threads_tokens").Doc("main").Get(context.Background())
	if !snapAfter.UpdateTime.Equal(snapBefore.UpdateTime) {
		t.Errorf("fresh pass wrote to Firestore")
	}
	if h.TH.TooYoungRefreshes() != 0 {
		t.Errorf("a token younger than 24 hours was sent to Threads")
	}
}

func TestRollForward(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main", "reauth"}, nil)
	ctx := context.Background()
	h.SeedToken("main", 72*time.Hour)
	h.SeedToken("reauth", 72*time.Hour)
	// An earlier pass recorded version 1 two days ago (so it is due); since
	// then a person added version 2 by hand, an hour ago.
	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	for _, a := range []string{"main", "reauth"} {
		st := map[string]any{
			"secret": h.Secret(a), "version": h.Secret(a) + "/versions/1",
			"refreshedAt": twoDaysAgo, "expiresAt": twoDaysAgo.Add(60 * 24 * time.Hour),
			"status": "ok", "lastError": "", "failures": 3, "lastAttemptAt": twoDaysAgo,
		}
		if a == "reauth" {
			st["status"], st["lastError"] = "needs_reauth", "Threads: token expired (code 190/463)"
		}
		if _, err := h.FS.Collection("threads_tokens").Doc(a).Set(ctx, st); err != nil {
			t.Fatal(err)
		}
		h.SeedToken(a, time.Hour)
	}

	code, rep := h.Post(h.function())
	if code != http.StatusOK {
		t.Fatalf("pass: %d %+v, want 200", code, rep)
	}
	for _, a := range []string{"main", "reauth"} {
		if r := result(t, rep, a); r.Result != refresh.ResultRolledForward {
			t.Errorf("%s: result %+v, want rolled_forward", a, r)
		}
		d := h.Doc(a)
		created := h.Versions(a)[1].CreateTime
		if d["status"] != "ok" || d["failures"] != int64(0) || d["lastError"] != "" ||
			!strings.HasSuffix(d["version"].(string), "/secrets/"+a+"/versions/2") || !d["refreshedAt"].(time.Time).Equal(created) {
			t.Errorf("%s: state %v, want version 2 adopted at its create time %v, ok, 0 failures", a, d, created)
		}
		if len(h.Versions(a)) != 2 {
			t.Errorf("%s: roll-forward added a version", a)
		}
	}
	if h.TH.Calls(threadsfake.PathRefresh) != 0 {
		t.Errorf("roll-forward called Threads %d times", h.TH.Calls(threadsfake.PathRefresh))
	}
}

func TestConcurrentPassesRefreshOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main"}, nil)
	h.SeedToken("main", 72*time.Hour)

	const passes = 20
	results := make([]refresh.Result, passes)
	codes := make([]int, passes)
	var wg sync.WaitGroup
	for i := range passes {
		f := h.function() // each pass as its own function instance
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, rep := h.Post(f)
			codes[i], results[i] = code, result(t, rep, "main").Result
		}()
	}
	wg.Wait()

	refreshed := 0
	for i, r := range results {
		switch r {
		case refresh.ResultRefreshed:
			refreshed++
		case refresh.ResultBusy, refresh.ResultFresh:
		default:
			t.Errorf("pass %d: result %s, want refreshed, busy or fresh", i, r)
		}
		if codes[i] != http.StatusOK {
			t.Errorf("pass %d answered %d", i, codes[i])
		}
	}
	if refreshed != 1 {
		t.Errorf("%d passes refreshed, want exactly 1 (results %v)", refreshed, results)
	}
	if n := h.TH.Calls(threadsfake.PathRefresh); n != 1 {
		t.Errorf("Threads refresh called %d times, want 1", n)
	}
	if vs := h.Versions("main"); len(vs) != 2 {
		t.Errorf("%d versions, want 2 (one refresh)", len(vs))
	}
}

func TestThreadsFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failure   threadsfake.Failure
		times     int
		result    refresh.Result
		status    string
		calls     int
		code      int
		errorPart string
	}{
		{"expired", threadsfake.Expired, 1, refresh.ResultNeedsReauth, "needs_reauth", 1, 500, "code 190/463"},
		{"revoked", threadsfake.Revoked, 1, refresh.ResultNeedsReauth, "needs_reauth", 1, 500, "code 190/460"},
		{"invalid", threadsfake.InvalidToken, 1, refresh.ResultNeedsReauth, "needs_reauth", 1, 500, "code 190"},
		{"html 5xx three times", threadsfake.HTML5xx, 3, refresh.ResultFailed, "failing", 3, 500, "502"},
		{"transient then ok", threadsfake.Transient, 1, refresh.ResultRefreshed, "ok", 2, 200, ""},
		{"rate limited twice then ok", threadsfake.RateLimited, 2, refresh.ResultRefreshed, "ok", 3, 200, ""},
		{"hung three times", threadsfake.Hang, 3, refresh.ResultFailed, "failing", 3, 500, ""},
		{"reset three times", threadsfake.Reset, 3, refresh.ResultFailed, "failing", 3, 500, ""},
		{"empty token", threadsfake.EmptyToken, 1, refresh.ResultFailed, "failing", 1, 500, "access_token"},
		{"non-JSON 200", threadsfake.NonJSON200, 1, refresh.ResultFailed, "failing", 1, 500, ""},
		{"zero expiry", threadsfake.ZeroExpiry, 1, refresh.ResultFailed, "failing", 1, 500, "expires_in"},
		{"flat error", threadsfake.FlatError, 1, refresh.ResultFailed, "failing", 1, 500, "Invalid platform app"},
		{"unsupported", threadsfake.Unsupported, 1, refresh.ResultFailed, "failing", 1, 500, "code 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, []string{"main"}, map[string]string{"THREADS_TIMEOUT": "500ms"})
			old := h.SeedToken("main", 72*time.Hour)
			h.TH.FailNext(threadsfake.PathRefresh, tt.failure, tt.times)

			code, rep := h.Post(h.function())
			r := result(t, rep, "main")
			if code != tt.code || r.Result != tt.result {
				t.Fatalf("answer %d, result %+v; want %d, %s", code, r, tt.code, tt.result)
			}
			if n := h.TH.Calls(threadsfake.PathRefresh); n != tt.calls {
				t.Errorf("Threads called %d times, want %d", n, tt.calls)
			}
			d := h.Doc("main")
			if d["status"] != tt.status {
				t.Errorf("stored status %v, want %s", d["status"], tt.status)
			}
			if tt.result == refresh.ResultRefreshed {
				return
			}
			if !strings.Contains(r.Error, tt.errorPart) || d["lastError"] != r.Error || r.Error == "" {
				t.Errorf("error %q (stored %q), want it to mention %q", r.Error, d["lastError"], tt.errorPart)
			}
			if d["failures"] != int64(1) {
				t.Errorf("failures = %v, want 1", d["failures"])
			}
			if lastAttempt, _ := d["lastAttemptAt"].(time.Time); time.Since(lastAttempt) > time.Minute {
				t.Errorf("lastAttemptAt %v not set by the attempt", lastAttempt)
			}
			// The secret is untouched: the old token is still current.
			if vs := h.Versions("main"); len(vs) != 1 || h.NewestPayload("main")["access_token"] != old {
				t.Errorf("a failed refresh touched the secret: %d versions", len(vs))
			}
		})
	}
}

func TestNeedsReauthIsNotRetriedUntilANewVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main"}, nil)
	h.SeedToken("main", 72*time.Hour)
	h.TH.FailNext(threadsfake.PathRefresh, threadsfake.Expired, 1)
	f := h.function()
	if code, _ := h.Post(f); code != 500 {
		t.Fatalf("first pass answered %d, want 500", code)
	}
	code, rep := h.Post(f)
	if code != 500 || result(t, rep, "main").Result != refresh.ResultNeedsReauth {
		t.Fatalf("second pass: %d %+v, want 500 needs_reauth", code, rep)
	}
	if n := h.TH.Calls(threadsfake.PathRefresh); n != 1 {
		t.Errorf("needs_reauth token sent to Threads again (%d calls)", n)
	}
	if d := h.Doc("main"); d["failures"] != int64(2) {
		t.Errorf("failures = %v after two needs_reauth passes, want 2", d["failures"])
	}
	// A person logs in again: a new (3-day-old here, so due) version.
	h.SeedToken("main", 72*time.Hour)
	code, rep = h.Post(f)
	if code != 200 || result(t, rep, "main").Result != refresh.ResultRefreshed {
		t.Fatalf("after a new version: %d %+v, want 200 refreshed", code, rep)
	}
}

func TestBadPayloadsDoNotStopOtherAccounts(t *testing.T) {
	t.Parallel()
	payloads := map[string]string{
		"empty":     "",
		"noaccess":  `{"user_id":"1"}`,
		"broken":    `{"access_token":"THAAbroken`,
		"innerword": "two words",
	}
	accounts := []string{"good"}
	for a := range payloads {
		accounts = append(accounts, a)
	}
	h := newHarness(t, accounts, nil)
	h.SeedToken("good", 72*time.Hour)
	for a, p := range payloads {
		h.SM.AddVersion(h.Secret(a), []byte(p), time.Now().Add(-72*time.Hour))
	}
	code, rep := h.Post(h.function())
	if code != 500 || rep.Failed != len(payloads) || rep.Refreshed != 1 {
		t.Fatalf("answer %d %+v, want 500 with %d failed and good refreshed", code, rep, len(payloads))
	}
	for a := range payloads {
		r := result(t, rep, a)
		if r.Result != refresh.ResultFailed || !strings.Contains(r.Error, "payload") {
			t.Errorf("%s: %+v, want failed naming the payload", a, r)
		}
		if len(h.Versions(a)) != 1 {
			t.Errorf("%s: secret touched", a)
		}
		if d := h.Doc(a); d["status"] != "failing" || d["lastError"] != r.Error {
			t.Errorf("%s: state %v", a, d)
		}
	}
	if n := h.TH.Calls(threadsfake.PathRefresh); n != 1 {
		t.Errorf("Threads called %d times; only the good account should be", n)
	}
}

func TestBarePayloadStaysBare(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main"}, nil)
	issued := time.Now().Add(-72 * time.Hour)
	old := h.TH.IssueLongLived("1", "u", issued)
	h.SM.AddVersion(h.Secret("main"), []byte(old+"\n"), issued)
	if code, rep := h.Post(h.function()); code != 200 {
		t.Fatalf("%d %+v", code, rep)
	}
	vs := h.Versions("main")
	got := string(vs[len(vs)-1].Payload)
	if got == old || !h.TH.Valid(got) {
		t.Errorf("bare payload not replaced by a bare new token (%d bytes)", len(got))
	}
}

func TestPruneKeepsNewestVersions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main"}, map[string]string{"KEEP_VERSIONS": "2"})
	for range 3 {
		h.SeedToken("main", 96*time.Hour)
	}
	h.SM.SetVersionState(h.Secret("main")+"/versions/1", secretmanagerpb.SecretVersion_DESTROYED)
	if code, rep := h.Post(h.function()); code != 200 {
		t.Fatalf("%d %+v", code, rep)
	}
	want := map[int64]secretmanagerpb.SecretVersion_State{
		1: secretmanagerpb.SecretVersion_DESTROYED,
		2: secretmanagerpb.SecretVersion_DESTROYED,
		3: secretmanagerpb.SecretVersion_ENABLED,
		4: secretmanagerpb.SecretVersion_ENABLED,
	}
	vs := h.Versions("main")
	if len(vs) != len(want) {
		t.Fatalf("%d versions, want 4", len(vs))
	}
	for _, v := range vs {
		if v.State != want[v.Number] {
			t.Errorf("version %d is %s, want %s", v.Number, v.State, want[v.Number])
		}
	}
}

func TestSecretManagerFailuresKeepTheToken(t *testing.T) {
	t.Parallel()
	t.Run("unavailable is retried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, []string{"main"}, nil)
		h.SeedToken("main", 72*time.Hour)
		h.SM.FailNext("AddSecretVersion", codes.Unavailable, 2)
		code, rep := h.Post(h.function())
		if code != 200 || rep.Refreshed != 1 {
			t.Fatalf("%d %+v, want the add retried into success", code, rep)
		}
		if vs := h.Versions("main"); len(vs) != 2 {
			t.Errorf("%d versions, want 2", len(vs))
		}
	})
	t.Run("deadline after the write makes no duplicate", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, []string{"main"}, nil)
		h.SeedToken("main", 72*time.Hour)
		h.SM.FailNextAfterApplying("AddSecretVersion", codes.DeadlineExceeded, 1)
		code, rep := h.Post(h.function())
		if code != 200 || rep.Refreshed != 1 {
			t.Fatalf("%d %+v, want refreshed", code, rep)
		}
		if vs := h.Versions("main"); len(vs) != 2 {
			t.Errorf("%d versions, want exactly 2: one refresh must make one version", len(vs))
		}
		if d := h.Doc("main"); !strings.HasSuffix(d["version"].(string), "/versions/2") {
			t.Errorf("state records %v, want version 2", d["version"])
		}
	})
	t.Run("disabled newest version", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, []string{"main"}, nil)
		h.SeedToken("main", 72*time.Hour)
		h.SM.SetVersionState(h.Secret("main")+"/versions/1", secretmanagerpb.SecretVersion_DISABLED)
		code, rep := h.Post(h.function())
		if r := result(t, rep, "main"); code != 500 || r.Result != refresh.ResultFailed || !strings.Contains(r.Error, "DISABLED") {
			t.Fatalf("%d %+v, want failed naming the disabled version", code, r)
		}
		if h.TH.TotalCalls() != 0 {
			t.Error("Threads called for a disabled version")
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, []string{"main"}, nil)
		h.Vars["THREADS_SECRETS"] = "main,ghost"
		h.SeedToken("main", 72*time.Hour)
		code, rep := h.Post(h.function())
		if r := result(t, rep, "ghost"); code != 500 || r.Result != refresh.ResultFailed || !strings.Contains(r.Error, "does not exist") {
			t.Fatalf("%d %+v, want ghost failed: does not exist", code, r)
		}
		if r := result(t, rep, "main"); r.Result != refresh.ResultRefreshed {
			t.Errorf("main: %+v, want refreshed despite ghost", r)
		}
	})
}

func TestHTTPSurface(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main", "second"}, nil)
	h.SeedToken("main", 72*time.Hour)
	f := h.function()

	// GET before any pass: accounts without state are unknown.
	code, rep, body := h.Call(f, http.MethodGet)
	if code != 200 || result(t, rep, "main").Result != refresh.ResultUnknown || result(t, rep, "main").RefreshedAt != "" {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, _ := h.Post(f); code != 500 { // second has no version: failed
		t.Fatalf("POST answered %d, want 500", code)
	}
	code, rep, body = h.Call(f, http.MethodGet)
	if code != 200 {
		t.Fatalf("GET after a failing pass answered %d, want 200: %s", code, body)
	}
	if r := result(t, rep, "main"); r.Result != "ok" || r.RefreshedAt == "" || r.ExpiresAt == "" {
		t.Errorf("GET main: %+v, want stored status ok with times", r)
	}
	if r := result(t, rep, "second"); r.Result != "failing" || !strings.Contains(r.Error, "no version") {
		t.Errorf("GET second: %+v, want failing with the reason", r)
	}

	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("PUT: %d, Allow %q; want 405 with Allow", rec.Code, rec.Header().Get("Allow"))
	}
}

// errorLines returns the ERROR lines of a log, decoded.
func errorLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Errorf("log line is not JSON: %q", raw)
			continue
		}
		if m["severity"] == "ERROR" {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestBadConfigurationAnswers500WithTheSentence also pins the line the
// "whole pass failed" alert counts: one ERROR "configuration refused" per
// request (the other such lines: internal/httpapi/logfields_test.go).
func TestBadConfigurationAnswers500WithTheSentence(t *testing.T) {
	t.Parallel()
	tests := []struct{ variable, value string }{
		{"REFRESH_AFTER", "1h"},
		{"THREADS_SECRETS", ""},
		{"KEEP_VERSIONS", "0"},
		{"GOOGLE_CLOUD_PROJECT", ""},
		{"TOKEN_CHANGES_TOPIC", "token-changes"},
		// Every due account would be skipped on every pass, each answered 200.
		{"PASS_TIMEOUT", "20s"},
		{"WARN_WITHIN", "1440h"},
		// On Cloud Run the file would live in the instance's memory, read
		// by nobody.
		{"TOKEN_EVENTS_FILE", "/tmp/token-events.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "K_SERVICE": "refresh-tokens",
				tt.variable: tt.value,
			}
			var logs bytes.Buffer
			f := &function{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logs: &logs}
			for range 2 { // every request, not only the first
				rec := httptest.NewRecorder()
				f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
				var body struct{ Error string }
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != 500 || !strings.HasPrefix(body.Error, tt.variable+" ") {
					t.Fatalf("answer %d %q, want 500 with a sentence naming %s", rec.Code, rec.Body.String(), tt.variable)
				}
			}
			lines := errorLines(t, logs.String())
			if len(lines) != 2 {
				t.Fatalf("%d ERROR lines for two requests, want 2:\n%s", len(lines), logs.String())
			}
			for _, l := range lines {
				if l["message"] != "configuration refused" || !strings.HasPrefix(l["error"].(string), tt.variable+" ") {
					t.Errorf("ERROR line %v, want message \"configuration refused\" and the sentence naming %s", l, tt.variable)
				}
			}
		})
	}
}

// TestStartFailureIsLogged: when the clients cannot be built (here the
// local store, which a function outside Cloud Run may use, is a
// directory), every request answers 500 and logs one ERROR "start failed;
// the next request tries again", which the "whole pass failed" alert counts.
func TestStartFailureIsLogged(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REFRESHER_DB": t.TempDir()}
	var logs syncbuf.Buffer
	f := &function{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logs: &logs}
	for range 2 {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), "REFRESHER_DB") {
			t.Fatalf("answer %d %s, want 500 naming REFRESHER_DB", rec.Code, rec.Body.String())
		}
	}
	lines := errorLines(t, logs.String())
	if len(lines) != 2 {
		t.Fatalf("%d ERROR lines for two requests, want 2:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if l["message"] != "start failed; the next request tries again" || l["error"] == nil {
			t.Errorf("ERROR line %v, want message \"start failed; the next request tries again\" with the error", l)
		}
	}
}

// TestBaseURLPasswordNotInAnswersOrLogs: a password in a base URL (a
// proxy's) appears neither in the 500 answer and ERROR line that refuse the
// URL for another reason, nor in the debug "refresher started" line of a
// configuration that is accepted.
func TestBaseURLPasswordNotInAnswersOrLogs(t *testing.T) {
	t.Parallel()
	const password = "Planted-Pw-4242"
	for _, tt := range []struct {
		url  string
		code int
	}{
		{"https://proxy-user:" + password + "@graph.threads.net/?v=1", 500},
		{"http://proxy-user:" + password + "@10.0.0.5:8080", 500},
		{"http://proxy-user:" + password + "@127.0.0.1:1", 200}, // GET reads the state only
	} {
		env := map[string]string{"REFRESHER_DB": filepath.Join(t.TempDir(), "refresher.db"), "LOG_LEVEL": "debug", "THREADS_API_BASE_URL": tt.url}
		var logs syncbuf.Buffer
		f := &function{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logs: &logs}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != tt.code {
			t.Errorf("THREADS_API_BASE_URL=%s: answer %d %s, want %d", tt.url, rec.Code, rec.Body.String(), tt.code)
		}
		if out := rec.Body.String() + logs.String(); strings.Contains(out, password) || !strings.Contains(out, "proxy-user:xxxxx@") {
			t.Errorf("THREADS_API_BASE_URL=%s: want the URL shown with its password replaced, got:\n%s", tt.url, out)
		}
	}
}

// TestLogLinesPerAccount pins the lines the alerts read, written at
// LOG_LEVEL=error as at any other level: the INFO ones too, with their own
// severities, while LOG_LEVEL still drops every other line.
func TestLogLinesPerAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main", "dead"}, map[string]string{"LOG_LEVEL": "error"})
	h.SeedToken("main", 72*time.Hour)
	dead := h.SeedToken("dead", 72*time.Hour)
	h.TH.Revoke(dead)
	h.Post(h.function())

	out := h.Output.String()
	lines := map[string]map[string]any{}
	var logged []string
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["severity"] == nil {
			continue // the answer's body, kept in Output
		}
		logged = append(logged, fmt.Sprint(m["severity"], " ", m["message"]))
		if m["message"] == "account processed" {
			lines[m["account"].(string)] = m
		}
	}
	// At LOG_LEVEL=error: the contract lines, and nothing else (the debug
	// "refresher started" line, for one, is dropped).
	if got := strings.Join(logged, "; "); got != "INFO account processed; ERROR account processed; INFO refresh pass done" &&
		got != "ERROR account processed; INFO account processed; INFO refresh pass done" {
		t.Errorf("lines logged at LOG_LEVEL=error: %s; want the two account lines and \"refresh pass done\" only", got)
	}
	if m := lines["main"]; m["severity"] != "INFO" || m["result"] != "refreshed" || m["expiresAt"] == nil {
		t.Errorf("main line %v, want INFO refreshed with expiresAt", m)
	}
	if m := lines["dead"]; m["severity"] != "ERROR" || m["result"] != "needs_reauth" || m["error"] == nil {
		t.Errorf("dead line %v, want ERROR needs_reauth with the error", m)
	}
	// The token's remaining life, as a number: just under 60 days after a
	// refresh. Nobody knows dead's: Meta refused to inspect it and to
	// refresh it, so its line has no hoursLeft (it is the ERROR line that
	// alerts), rather than a guess.
	if m := lines["main"]; m["hoursLeft"] != float64(threadsfake.DefaultExpiresIn/3600) {
		t.Errorf("main: hoursLeft %#v, want the number %d", m["hoursLeft"], threadsfake.DefaultExpiresIn/3600)
	}
	if m := lines["dead"]; m["hoursLeft"] != nil || m["expiresAt"] != nil {
		t.Errorf("dead: hoursLeft %#v, expiresAt %#v; want neither", m["hoursLeft"], m["expiresAt"])
	}
	if n := strings.Count(out, `"severity":"INFO","message":"refresh pass done","accounts":2,"refreshed":1,"failed":1`); n != 1 {
		t.Errorf("%d \"refresh pass done\" lines with the counts, want 1:\n%s", n, out)
	}
}

// TestTokenChangesArePublished: with TOKEN_CHANGES_TOPIC set, a refresh
// publishes one message naming the account, its secret and the version
// Secret Manager returned, with the account's health, never the token; a
// fresh pass publishes none. (internal/notify's tests cover adoption,
// health events, crashes and failed publishes.)
func TestTokenChangesArePublished(t *testing.T) {
	t.Parallel()
	emu := pubsubemu.Start(t)
	topic := pubsubemu.NewTopic(t, emu.Host())
	h := newHarness(t, []string{"main"}, map[string]string{"TOKEN_CHANGES_TOPIC": topic.Name, "PUBSUB_EMULATOR_HOST": emu.Host()})
	h.SeedToken("main", 72*time.Hour)

	if code, rep := h.Post(h.function()); code != 200 || rep.Refreshed != 1 {
		t.Fatalf("%d %+v, want main refreshed", code, rep)
	}
	got := received(t, h, topic)
	want := map[string]string{"account": "main", "secret": h.Secret("main"), "schemaVersion": "2", "health": "ok",
		"version": "projects/" + googleenv.ProjectNumber + "/secrets/main/versions/2", "event": "refreshed", "platform": "threads"}
	if len(got) != 1 {
		t.Fatalf("messages %v, want one", got)
	}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("message %s = %q, want %q", k, got[0][k], v)
		}
	}
	if got[0]["hoursLeft"] != "1439" || got[0]["at"] == "" || len(got[0]) != len(want)+2 {
		t.Errorf("message %v, want exactly %v, hoursLeft 1439 and at", got[0], want)
	}
	if d := h.Doc("main"); d["version"] != got[0]["version"] {
		t.Errorf("the message names %s, the state records %v", got[0]["version"], d["version"])
	}

	if code, rep := h.Post(h.function()); code != 200 || result(t, rep, "main").Result != refresh.ResultFresh {
		t.Fatalf("second pass: %d %+v, want fresh", code, rep)
	}
	if got := received(t, h, topic); len(got) != 0 {
		t.Errorf("a fresh pass published %v", got)
	}
}

// received drains the topic and returns each message's attributes, after
// checking that the data holds the same keys and values (numbers as
// numbers). Every message is added to the output searched for tokens.
func received(t *testing.T, h *harness, topic *pubsubemu.Topic) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, m := range topic.Drain(t) {
		h.Output.Write(m.Data) // searched for tokens with the rest
		var data map[string]any
		if err := json.Unmarshal(m.Data, &data); err != nil {
			t.Fatalf("message data is not a JSON object: %v: %s", err, m.Data)
		}
		if len(data) != len(m.Attributes) {
			t.Errorf("attributes %v differ from the data %s", m.Attributes, m.Data)
		}
		for k, v := range data {
			if fmt.Sprint(v) != m.Attributes[k] {
				t.Errorf("attribute %s = %q, the data says %v", k, m.Attributes[k], v)
			}
		}
		out = append(out, m.Attributes)
	}
	return out
}

// TestInstagramBesideThreads: one POST refreshes an Instagram account and a
// Threads account, each once on its own platform; the answer, GET /, the
// Firestore documents and the log lines name each one's platform.
func TestInstagramBesideThreads(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []string{"main", "shop"}, nil)
	h.SeedToken("main", 72*time.Hour)
	issued := time.Now().Add(-72 * time.Hour)
	old := h.IG.IssueLongLived("17841400000000042", "shop", issued)
	h.SM.AddVersion(h.Secret("shop"), []byte(`{"platform":"instagram","access_token":"`+old+`","user_id":"17841400000000042","username":"shop"}`), issued)
	f := h.function()

	code, rep := h.Post(f)
	if code != http.StatusOK || rep.Refreshed != 2 {
		t.Fatalf("POST: %d %+v, want 200 with both refreshed", code, rep)
	}
	want := map[string]string{"main": "threads", "shop": "instagram"}
	for account, platform := range want {
		if r := result(t, rep, account); r.Platform != platform {
			t.Errorf("POST %s: %+v, want platform %s", account, r, platform)
		}
		if d := h.Doc(account); d["platform"] != platform {
			t.Errorf("Firestore document of %s: platform %v, want %s", account, d["platform"], platform)
		}
	}
	if th, ig := h.TH.Calls(threadsfake.PathRefresh), h.IG.Calls(threadsfake.PathRefresh); th != 1 || ig != 1 {
		t.Errorf("refresh calls: Threads %d, Instagram %d; want one each", th, ig)
	}
	p := h.NewestPayload("shop")
	if tok, _ := p["access_token"].(string); tok == old || !h.IG.Valid(tok) || p["platform"] != "instagram" || p["username"] != "shop" {
		t.Errorf("shop's new payload: platform %v, username %v, new valid token %v", p["platform"], p["username"], h.IG.Valid(tok))
	}

	_, rep, _ = h.Call(f, http.MethodGet)
	for account, platform := range want {
		if r := result(t, rep, account); r.Result != "ok" || r.Platform != platform {
			t.Errorf("GET %s: %+v, want ok on %s", account, r, platform)
		}
	}
	for _, line := range strings.Split(h.Output.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "account processed" && m["platform"] != want[m["account"].(string)] {
			t.Errorf("log line %v, want platform %s", m, want[m["account"].(string)])
		}
	}
}
