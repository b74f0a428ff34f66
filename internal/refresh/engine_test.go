package refresh_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// These tests run the engine on the embedded store (the real bbolt file)
// against the Threads fake, with one fake clock shared by the engine, the
// store and the fake, so that days pass in microseconds. function_test.go at
// the root runs the same engine through the Google adapters.

// t0 is where every fake clock starts; a fixed instant keeps failures
// reproducible.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness is one engine on its own embedded store and Threads fake.
type harness struct {
	t      *testing.T
	clock  *fakeclock.Clock
	th     *threadsfake.Server
	store  *localstore.Store
	logs   *syncbuf.Buffer
	engine *refresh.Engine

	// seen holds every token the test has known of, and errs every error a
	// report carried, for the no-token-in-output check.
	seen map[string]bool
	errs []string
}

const defaultThreadsTimeout = 2 * time.Second

// newHarness builds an engine as the brief describes; configure may change
// it before use.
func newHarness(t *testing.T, configure func(*refresh.Engine), fakeOpts ...threadsfake.Option) *harness {
	t.Helper()
	th := threadsfake.Start(t, fakeOpts...)
	// The Threads fake follows the clock, so that token ages agree everywhere.
	clk := &fakeclock.Clock{OnSet: th.SetNow}
	clk.Set(t0)
	store, err := localstore.Open(filepath.Join(t.TempDir(), "refresher.db"), localstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("opening the embedded store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	logs := &syncbuf.Buffer{}
	e := &refresh.Engine{
		Secrets:        store,
		States:         store,
		Platforms:      map[string]refresh.TokenRefresher{payload.PlatformThreads: threads.New(th.URL(), defaultThreadsTimeout, nil).Refresher()},
		Accounts:       store.Accounts,
		Logger:         logging.New(logs, slog.LevelDebug),
		RefreshAfter:   24 * time.Hour,
		KeepVersions:   2,
		Concurrency:    4,
		ThreadsTimeout: defaultThreadsTimeout,
		Now:            clk.Now,
		RetryBase:      10 * time.Millisecond,
	}
	if configure != nil {
		configure(e)
	}
	return &harness{t: t, clock: clk, th: th, store: store, logs: logs, engine: e, seen: map[string]bool{}}
}

func (h *harness) account(id string) refresh.Account { return h.store.Account(id) }

// addVersion stores p as a new version of id's secret (creating the secret)
// as if it had been added age ago.
func (h *harness) addVersion(id string, age time.Duration, p []byte) refresh.Version {
	h.t.Helper()
	ctx := context.Background()
	now := h.clock.Now()
	h.clock.Set(now.Add(-age))
	defer h.clock.Set(now)
	a, err := h.store.CreateSecret(ctx, id)
	if err != nil {
		h.t.Fatalf("creating secret %s: %v", id, err)
	}
	v, err := h.store.Add(ctx, a, p)
	if err != nil {
		h.t.Fatalf("adding a version to %s: %v", id, err)
	}
	return v
}

// seed issues a long-lived token of the given age in Threads and stores it
// as a new version, in the usual JSON shape, created when it was issued.
func (h *harness) seed(id string, age time.Duration) (string, refresh.Version) {
	h.t.Helper()
	tok := h.th.IssueLongLived("1789"+id, "user_"+id, h.clock.Now().Add(-age))
	h.seen[tok] = true
	return tok, h.addVersion(id, age, payload.New(tok, "1789"+id, "user_"+id))
}

// pass runs one pass with ctx and checks the per-account log lines.
func (h *harness) passCtx(ctx context.Context) refresh.Report {
	h.t.Helper()
	mark := len(h.logs.String())
	rep, err := h.engine.Pass(ctx)
	if err != nil {
		h.t.Fatalf("pass: %v", err)
	}
	for _, tok := range h.th.Tokens() {
		h.seen[tok] = true
	}
	for _, r := range rep.Accounts {
		h.errs = append(h.errs, r.Error)
	}
	h.checkLogLines(h.logs.String()[mark:], rep)
	return rep
}

func (h *harness) pass() refresh.Report {
	h.t.Helper()
	return h.passCtx(context.Background())
}

// checkLogLines asserts the alerting contract on one pass's log: exactly one
// "account processed" line per account, agreeing with the report, at ERROR
// for failed and needs_reauth and INFO otherwise.
func (h *harness) checkLogLines(out string, rep refresh.Report) {
	h.t.Helper()
	lines := map[string][]map[string]any{}
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			h.t.Errorf("log line is not JSON: %v: %s", err, raw)
			continue
		}
		if m["message"] == "account processed" {
			id, _ := m["account"].(string)
			lines[id] = append(lines[id], m)
		}
	}
	if len(lines) != len(rep.Accounts) {
		h.t.Errorf("%d accounts have an \"account processed\" line, want %d:\n%s", len(lines), len(rep.Accounts), out)
	}
	for _, r := range rep.Accounts {
		got := lines[r.Account]
		if len(got) != 1 {
			h.t.Errorf("account %s has %d \"account processed\" lines in one pass, want 1:\n%s", r.Account, len(got), out)
			continue
		}
		want := "INFO"
		if r.Result == refresh.ResultFailed || r.Result == refresh.ResultNeedsReauth {
			want = "ERROR"
		}
		if got[0]["severity"] != want || got[0]["result"] != string(r.Result) {
			h.t.Errorf("account %s logged %v, want severity %s and result %s", r.Account, got[0], want, r.Result)
		}
	}
}

func (h *harness) state(id string) (refresh.State, bool) {
	h.t.Helper()
	states, err := h.store.Load(context.Background(), []refresh.Account{h.account(id)})
	if err != nil {
		h.t.Fatalf("loading state of %s: %v", id, err)
	}
	st, ok := states[id]
	return st, ok
}

// writeState records st as an earlier pass would have: under a lease.
func (h *harness) writeState(id string, st refresh.State) {
	h.t.Helper()
	ctx := context.Background()
	a := h.account(id)
	leased, err := leases.Take(ctx, h.store, a, "earlier-pass", h.clock.Now().Add(time.Minute))
	if err != nil {
		h.t.Fatalf("leasing %s: %v", id, err)
	}
	st.Rev = leased.Rev
	if err := h.store.Commit(ctx, a, "earlier-pass", st); err != nil {
		h.t.Fatalf("committing state of %s: %v", id, err)
	}
}

// versions lists id's versions, oldest first.
func (h *harness) versions(id string) []refresh.Version {
	h.t.Helper()
	vs, err := h.store.Versions(context.Background(), h.account(id))
	if err != nil {
		h.t.Fatalf("listing versions of %s: %v", id, err)
	}
	slices.SortFunc(vs, func(a, b refresh.Version) int { return int(a.Number - b.Number) })
	return vs
}

// currentToken is the token of id's newest enabled version.
func (h *harness) currentToken(id string) (string, refresh.Version) {
	h.t.Helper()
	v, raw, err := refresh.Current(context.Background(), h.store, h.account(id))
	if err != nil {
		h.t.Fatalf("reading the newest version of %s: %v", id, err)
	}
	p, err := payload.Parse(raw)
	if err != nil {
		h.t.Fatalf("newest version of %s: %v", id, err)
	}
	h.seen[p.Token()] = true
	return p.Token(), v
}

func (h *harness) refreshCalls() int { return h.th.Calls(threadsfake.PathRefresh) }

// assertNoTokenLeak searches the whole log, every report error and every
// stored lastError for every token the test has known of.
func (h *harness) assertNoTokenLeak(ids ...string) {
	h.t.Helper()
	for _, tok := range h.th.Tokens() {
		h.seen[tok] = true
	}
	out := h.logs.String()
	if out == "" {
		h.t.Fatal("nothing was logged; the token search would prove nothing")
	}
	texts := map[string]string{"the log": out, "report errors": strings.Join(h.errs, "\n")}
	for _, id := range ids {
		if st, ok := h.state(id); ok {
			texts["lastError of "+id] = st.LastError
		}
	}
	for tok := range h.seen {
		for where, text := range texts {
			if strings.Contains(text, tok) {
				h.t.Errorf("a token appears in %s:\n%s", where, text)
			}
		}
	}
}

func result(t *testing.T, rep refresh.Report, id string) refresh.AccountReport {
	t.Helper()
	r, ok := rep.Find(id)
	if !ok {
		t.Fatalf("account %s missing from %+v", id, rep)
	}
	return r
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

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
	if r := result(t, rep, "main"); r.Result != refresh.ResultRefreshed || r.RefreshedAt != stamp(t0) ||
		r.ExpiresAt != stamp(t0.Add(expiresIn*time.Second)) {
		t.Fatalf("first pass: %+v, want refreshed at %s expiring %s", r, stamp(t0), stamp(t0.Add(expiresIn*time.Second)))
	}
	tok, v := h.currentToken("main")
	if tok == first || !h.th.Valid(tok) {
		t.Fatal("the newest version does not hold the new, valid token")
	}
	st, _ := h.state("main")
	if st.Version != v.Name || !st.RefreshedAt.Equal(t0) || !st.ExpiresAt.Equal(t0.Add(expiresIn*time.Second)) ||
		st.Status != refresh.StatusOK || st.Failures != 0 {
		t.Fatalf("state after the first pass: %+v", st)
	}

	// 23 hours later the token is fresh: no Threads call, no new version,
	// no state write.
	h.clock.Advance(23 * time.Hour)
	calls, nv := h.th.TotalCalls(), len(h.versions("main"))
	secretCalls, _ := secrets.snapshot()
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
		t.Fatalf("after 23h: %+v, want fresh", r)
	}
	if h.th.TotalCalls() != calls || len(h.versions("main")) != nv {
		t.Errorf("a fresh pass called Threads (%d calls, had %d) or added a version (%d, had %d)",
			h.th.TotalCalls(), calls, len(h.versions("main")), nv)
	}
	if n, _ := secrets.snapshot(); n != secretCalls {
		t.Errorf("a fresh pass made %d secret store calls", n-secretCalls)
	}
	if again, _ := h.state("main"); again != st {
		t.Errorf("a fresh pass wrote state: %+v, was %+v", again, st)
	}

	h.clock.Advance(time.Hour + time.Minute)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
		t.Fatalf("after 24h01m: %+v, want refreshed", r)
	}
	st, _ = h.state("main")
	if now := h.clock.Now(); !st.RefreshedAt.Equal(now) || !st.ExpiresAt.Equal(now.Add(expiresIn*time.Second)) {
		t.Errorf("state after the second refresh: %+v, want refreshedAt %s", st, now)
	}

	// Passes every 6 hours until day 70: each token is refreshed by the
	// first pass at least 24 hours after its own refresh.
	const every = 6 * time.Hour
	last := st.RefreshedAt
	refreshes := 2
	for h.clock.Now().Before(t0.Add(70 * 24 * time.Hour)) {
		h.clock.Advance(every)
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
			t.Fatalf("at %s: %+v", h.clock.Now(), r)
		}
		if tok, _ := h.currentToken("main"); !h.th.Valid(tok) {
			t.Fatalf("at %s the current token is not valid", h.clock.Now())
		}
	}
	if h.th.Valid(first) {
		t.Error("the first token is still valid 70 days on; the fake's lifetime rule did not apply")
	}
	if n := h.th.TooYoungRefreshes(); n != 0 {
		t.Errorf("Threads was asked %d times to refresh a token younger than 24h", n)
	}
	if got := h.refreshCalls(); got != refreshes {
		t.Errorf("%d refresh calls for %d refreshes", got, refreshes)
	}
	// Once at day 0, then once a day on days 1 to 70 (at 24h01m past t0
	// each day).
	if refreshes != 71 {
		t.Errorf("%d refreshes in 70 days, want 71", refreshes)
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
		{"24h refreshes a 30h-old token", 24 * time.Hour, 30 * time.Hour, []step{
			{0, refresh.ResultRefreshed}, {23*time.Hour + 59*time.Minute, refresh.ResultFresh}, {time.Minute, refresh.ResultRefreshed},
		}},
		{"36h adopts a 30h-old token", 36 * time.Hour, 30 * time.Hour, []step{
			{0, refresh.ResultRolledForward}, {5*time.Hour + 59*time.Minute, refresh.ResultFresh}, {time.Minute, refresh.ResultRefreshed},
			{35 * time.Hour, refresh.ResultFresh}, {time.Hour, refresh.ResultRefreshed},
		}},
		{"36h refreshes a 36h-old token", 36 * time.Hour, 36 * time.Hour, []step{
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
				h.clock.Advance(s.advance)
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
			if n := h.th.TooYoungRefreshes(); n != 0 {
				t.Errorf("Threads was asked %d times to refresh a token younger than 24h", n)
			}
		})
	}
}

// TestFailuresCountConsecutivePasses: failures counts the passes that ended
// failing in a row, every attempt sets lastAttemptAt, the secret is never
// touched, and one success resets the count.
func TestFailuresCountConsecutivePasses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.seed("main", 72*time.Hour)
	passes := []struct {
		failure threadsfake.Failure
		n       int // queued failures: transient ones are retried within the pass
	}{
		{threadsfake.HTML5xx, 3},
		{threadsfake.Unsupported, 1},
		{threadsfake.Transient, 3},
	}
	for i, p := range passes {
		h.clock.Advance(time.Hour)
		h.th.FailNext(threadsfake.PathRefresh, p.failure, p.n)
		calls := h.refreshCalls()
		r := result(t, h.pass(), "main")
		if r.Result != refresh.ResultFailed || r.Error == "" || r.Failures != i+1 {
			t.Fatalf("pass %d (%s): %+v, want failed with an error and failures %d", i+1, p.failure, r, i+1)
		}
		if got := h.refreshCalls() - calls; got != p.n {
			t.Errorf("pass %d (%s): %d Threads calls, want %d", i+1, p.failure, got, p.n)
		}
		st, _ := h.state("main")
		if st.Status != refresh.StatusFailing || st.Failures != i+1 || !st.LastAttemptAt.Equal(h.clock.Now()) || st.LastError == "" {
			t.Errorf("pass %d: state %+v, want failing, failures %d, lastAttemptAt %s", i+1, st, i+1, h.clock.Now())
		}
		if vs := h.versions("main"); len(vs) != 1 {
			t.Errorf("pass %d: a failure touched the secret: %d versions", i+1, len(vs))
		}
	}

	h.clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed || r.Error != "" {
		t.Fatalf("after the failures: %+v, want refreshed", r)
	}
	st, _ := h.state("main")
	if st.Status != refresh.StatusOK || st.Failures != 0 || st.LastError != "" || !st.LastAttemptAt.Equal(h.clock.Now()) {
		t.Errorf("state after the success: %+v, want ok, failures 0, no error, lastAttemptAt %s", st, h.clock.Now())
	}
	h.assertNoTokenLeak("main")
}

// TestNeedsReauthIsSticky: Threads is not asked again about a refused token,
// however many passes run, until a person adds a new version.
func TestNeedsReauthIsSticky(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		newAge time.Duration
		want   refresh.Result
		calls  int
	}{
		{"new token not due is rolled forward", time.Hour, refresh.ResultRolledForward, 0},
		{"new token due is refreshed", 72 * time.Hour, refresh.ResultRefreshed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			dead, _ := h.seed("main", 72*time.Hour)
			h.th.Revoke(dead)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultNeedsReauth || r.Failures != 1 {
				t.Fatalf("first pass: %+v, want needs_reauth, failures 1", r)
			}
			calls := h.th.TotalCalls()
			for i, advance := range []time.Duration{time.Hour, 25 * time.Hour} {
				h.clock.Advance(advance)
				r := result(t, h.pass(), "main")
				if r.Result != refresh.ResultNeedsReauth || r.Failures != i+2 || r.Error == "" {
					t.Fatalf("pass %d: %+v, want needs_reauth with failures %d", i+2, r, i+2)
				}
				if st, _ := h.state("main"); !st.LastAttemptAt.Equal(h.clock.Now()) || st.Status != refresh.StatusNeedsReauth {
					t.Errorf("pass %d: state %+v", i+2, st)
				}
			}
			if h.th.TotalCalls() != calls {
				t.Fatalf("a needs_reauth token was sent to Threads again (%d calls, had %d)", h.th.TotalCalls(), calls)
			}

			_, v := h.seed("main", tt.newAge)
			r := result(t, h.pass(), "main")
			if r.Result != tt.want || r.Failures != 0 || r.Error != "" {
				t.Fatalf("after a new version: %+v, want %s with failures 0", r, tt.want)
			}
			if got := h.th.TotalCalls() - calls; got != tt.calls {
				t.Errorf("%d Threads calls after the new version, want %d", got, tt.calls)
			}
			st, _ := h.state("main")
			if st.Status != refresh.StatusOK || st.Version == "" || (tt.want == refresh.ResultRolledForward && st.Version != v.Name) {
				t.Errorf("state %+v, want ok on the new version", st)
			}
			h.assertNoTokenLeak("main")
		})
	}
}

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
			st.RefreshedAt = h.clock.Now().Add(-tt.stAge)
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
				if h.th.Valid(newTok) || !h.th.Valid(oldTok) {
					t.Error("the refresh did not use the newer version's token")
				}
				if _, cur := h.currentToken("main"); got.Version != cur.Name || cur.Number != newer.Number+1 || !got.RefreshedAt.Equal(h.clock.Now()) {
					t.Errorf("state %+v, want the version the refresh added (%s)", got, cur.Name)
				}
			}
		})
	}
}

// countingSecrets counts the calls that reach the secret store.
type countingSecrets struct {
	refresh.SecretStore
	mu        sync.Mutex
	calls     int
	destroyed []int64
}

func (c *countingSecrets) count() {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
}

func (c *countingSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	c.count()
	return c.SecretStore.Versions(ctx, a)
}

func (c *countingSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	c.count()
	return c.SecretStore.Access(ctx, a, v)
}

func (c *countingSecrets) Add(ctx context.Context, a refresh.Account, p []byte) (refresh.Version, error) {
	c.count()
	return c.SecretStore.Add(ctx, a, p)
}

func (c *countingSecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	c.count()
	c.mu.Lock()
	c.destroyed = append(c.destroyed, v.Number)
	c.mu.Unlock()
	return c.SecretStore.Destroy(ctx, a, v)
}

func (c *countingSecrets) snapshot() (int, []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, slices.Sorted(slices.Values(c.destroyed))
}

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
			v1 := h.addVersion("main", 96*time.Hour, []byte("first-token"))
			v2 := h.addVersion("main", 95*time.Hour, []byte("second-token"))
			h.addVersion("main", 94*time.Hour, []byte("third-token"))
			h.seed("main", 72*time.Hour)
			if err := h.store.Destroy(ctx, a, v1); err != nil {
				t.Fatal(err)
			}
			if err := h.store.DisableVersion(ctx, a, v2); err != nil {
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
			if tok, cur := h.currentToken("main"); cur.Number != 5 || !h.th.Valid(tok) {
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

// TestSkippedNearDeadline: with less than 3 x ThreadsTimeout + 10s left, a
// pass starts no account, and still reports fresh ones as fresh.
func TestSkippedNearDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		deadline time.Duration
		want     refresh.Result
	}{
		{10 * time.Second, refresh.ResultSkipped}, // 3 x 2s + 10s = 16s needed
		{15 * time.Second, refresh.ResultSkipped},
		{time.Minute, refresh.ResultRefreshed},
	}
	for _, tt := range tests {
		t.Run(tt.deadline.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			h.seed("fresh", time.Hour)
			if r := result(t, h.pass(), "fresh"); r.Result != refresh.ResultRolledForward {
				t.Fatalf("setting up: %+v", r)
			}
			h.seed("due", 72*time.Hour)
			h.seed("new", 48*time.Hour)
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()

			rep := h.passCtx(ctx)
			if r := result(t, rep, "fresh"); r.Result != refresh.ResultFresh {
				t.Errorf("fresh account: %+v, want fresh", r)
			}
			for _, id := range []string{"due", "new"} {
				r := result(t, rep, id)
				if r.Result != tt.want {
					t.Errorf("%s: %+v, want %s", id, r, tt.want)
				}
				if tt.want != refresh.ResultSkipped {
					continue
				}
				if r.Error == "" {
					t.Errorf("%s skipped without saying why", id)
				}
				if len(h.versions(id)) != 1 {
					t.Errorf("skipped %s got a new version", id)
				}
				if _, ok := h.state(id); ok {
					t.Errorf("skipped %s got state", id)
				}
				// No lease was left behind.
				if _, err := leases.Take(ctx, h.store, h.account(id), "next-pass", h.clock.Now().Add(time.Minute)); err != nil {
					t.Errorf("leasing skipped %s: %v", id, err)
				}
			}
			if tt.want == refresh.ResultSkipped {
				if h.th.TotalCalls() != 0 {
					t.Errorf("Threads called %d times in a pass that skipped everything", h.th.TotalCalls())
				}
				if !rep.OK() || rep.Failed != 0 {
					t.Errorf("skipped accounts made the pass fail: %+v", rep)
				}
			}
		})
	}
}

// TestBusy: an account whose lease another pass holds is reported busy and
// left alone; once that lease expires the next pass works on it.
func TestBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state bool // the account already has state (ok, due)
	}{
		{"no state yet", false},
		{"due state", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			ctx := context.Background()
			a := h.account("main")
			_, v := h.seed("main", 72*time.Hour)
			if tt.state {
				h.writeState("main", refresh.State{
					Secret: a.Secret, Version: v.Name, Status: refresh.StatusOK,
					RefreshedAt: v.CreateTime, ExpiresAt: v.CreateTime.Add(60 * 24 * time.Hour),
				})
			}
			if _, err := leases.Take(ctx, h.store, a, "another-pass", h.clock.Now().Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			before, _ := h.state("main")

			rep := h.pass()
			if r := result(t, rep, "main"); r.Result != refresh.ResultBusy || !rep.OK() {
				t.Fatalf("%+v, want busy without failing the pass", rep)
			}
			if h.th.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Error("a busy account was worked on")
			}
			// Not even the record's revision moved: a busy account costs
			// no write.
			if after, _ := h.state("main"); after != before {
				t.Errorf("busy account's record changed: %+v, was %+v", after, before)
			}
			if _, err := leases.Take(ctx, h.store, a, "third-pass", h.clock.Now().Add(time.Minute)); !errors.Is(err, refresh.ErrBusy) {
				t.Errorf("the other pass's lease was not left in place: leasing gave %v", err)
			}

			h.clock.Advance(10*time.Minute + time.Second)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
				t.Fatalf("after the lease expired: %+v, want refreshed", r)
			}
		})
	}
}

// inflight counts concurrent Threads calls. It wraps the real client: the
// engine's own TokenRefresher interface, not a Google client.
type inflight struct {
	next     refresh.TokenRefresher
	cur, max atomic.Int32
}

func (f *inflight) Refresh(ctx context.Context, token string) (threads.Token, error) {
	n := f.cur.Add(1)
	defer f.cur.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	return f.next.Refresh(ctx, token)
}

// TestConcurrencyBound: CONCURRENCY bounds the accounts worked on at once.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	const latency = 200 * time.Millisecond
	tests := []struct {
		concurrency int
		accounts    int
	}{
		{2, 6},
		{3, 6},
	}
	for _, tt := range tests {
		t.Run("CONCURRENCY="+strconv.Itoa(tt.concurrency), func(t *testing.T) {
			t.Parallel()
			counter := &inflight{}
			h := newHarness(t, func(e *refresh.Engine) {
				e.Concurrency = tt.concurrency
				counter.next = e.Platforms[payload.PlatformThreads]
				e.Platforms[payload.PlatformThreads] = counter
			}, threadsfake.Latency(latency))
			for i := range tt.accounts {
				h.seed("acct"+strconv.Itoa(i), 72*time.Hour)
			}
			start := time.Now()
			rep := h.pass()
			elapsed := time.Since(start)
			if rep.Refreshed != tt.accounts {
				t.Fatalf("%+v, want %d refreshed", rep, tt.accounts)
			}
			waves := (tt.accounts + tt.concurrency - 1) / tt.concurrency
			if least := time.Duration(waves) * latency; elapsed < least {
				t.Errorf("pass took %s, less than %d waves of %s", elapsed, waves, latency)
			}
			if got := int(counter.max.Load()); got != tt.concurrency {
				t.Errorf("at most %d Threads calls at once, want exactly %d", got, tt.concurrency)
			}
		})
	}
}

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
	h.th.Revoke(dead)
	if _, err := h.store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	h.pass()
	h.clock.Advance(time.Hour)
	h.seed("new", 72*time.Hour)

	states := map[string]refresh.State{}
	for _, id := range []string{"fresh", "dead", "empty"} {
		states[id], _ = h.state(id)
	}
	calls := h.th.TotalCalls()
	secretCalls, _ := secrets.snapshot()

	rep, err := h.engine.Status(ctx)
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
	if h.th.TotalCalls() != calls {
		t.Errorf("Status called Threads")
	}
	if n, _ := secrets.snapshot(); n != secretCalls {
		t.Errorf("Status made %d secret store calls", n-secretCalls)
	}
	for id, st := range states {
		if now, _ := h.state(id); now != st {
			t.Errorf("Status changed the state of %s: %+v, was %+v", id, now, st)
		}
	}
}

// TestLogLines: one "account processed" line per account per pass, ERROR for
// failed and needs_reauth, INFO otherwise, for every kind of result.
func TestLogLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	h.seed("refreshed", 72*time.Hour)
	h.seed("rolled", time.Hour)
	dead, _ := h.seed("dead", 72*time.Hour)
	h.th.Revoke(dead)
	if _, err := h.store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	h.addVersion("broken", 72*time.Hour, []byte(`{"access_token": "THAAsecret`))
	h.seed("busy", 72*time.Hour)
	if _, err := leases.Take(ctx, h.store, h.account("busy"), "another-pass", h.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	passes := []map[string]refresh.Result{
		{"refreshed": "refreshed", "rolled": "rolled_forward", "dead": "needs_reauth", "empty": "failed", "broken": "failed", "busy": "busy"},
		{"refreshed": "fresh", "rolled": "fresh", "dead": "needs_reauth", "empty": "failed", "broken": "failed", "busy": "busy"},
	}
	for i, want := range passes {
		mark := len(h.logs.String())
		rep := h.pass() // checks the lines against the report
		for id, res := range want {
			if r := result(t, rep, id); r.Result != res {
				t.Errorf("pass %d: %s: %+v, want %s", i+1, id, r, res)
			}
		}
		if n := strings.Count(h.logs.String()[mark:], `"message":"account processed"`); n != len(want) {
			t.Errorf("pass %d: %d \"account processed\" lines for %d accounts", i+1, n, len(want))
		}
		h.clock.Advance(time.Minute)
	}
	if !strings.Contains(h.logs.String(), `"severity":"ERROR"`) || !strings.Contains(h.logs.String(), `"severity":"INFO"`) {
		t.Error("the log lacks ERROR or INFO lines")
	}
	h.seen["THAAsecret"] = true
	h.assertNoTokenLeak("refreshed", "rolled", "dead", "empty", "broken", "busy")
}

// TestNoTokenInOutput: whatever Threads or the network does, no token reaches
// the log, an AccountReport.Error or a stored lastError.
func TestNoTokenInOutput(t *testing.T) {
	t.Parallel()
	want := map[threadsfake.Failure]refresh.Result{
		threadsfake.Expired: refresh.ResultNeedsReauth, threadsfake.Revoked: refresh.ResultNeedsReauth,
		threadsfake.InvalidToken: refresh.ResultNeedsReauth,
	}
	type tcase struct {
		name    string
		failure threadsfake.Failure // 0: none
		refused bool                // Threads is a closed port
		want    refresh.Result
	}
	tests := []tcase{{name: "success", want: refresh.ResultRefreshed}, {name: "connection refused", refused: true, want: refresh.ResultFailed}}
	for _, f := range threadsfake.Failures() {
		res, ok := want[f]
		if !ok {
			res = refresh.ResultFailed
		}
		tests = append(tests, tcase{name: f.String(), failure: f, want: res})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			h := newHarness(t, func(e *refresh.Engine) { e.ThreadsTimeout = timeout })
			base := h.th.URL()
			if tt.refused {
				base = "http://" + closedAddr(t)
			}
			h.engine.Platforms[payload.PlatformThreads] = threads.New(base, timeout, nil).Refresher()
			h.seed("main", 72*time.Hour)
			if tt.failure != 0 {
				h.th.FailNext(threadsfake.PathRefresh, tt.failure, 3)
			}
			r := result(t, h.pass(), "main")
			if r.Result != tt.want {
				t.Errorf("%+v, want %s", r, tt.want)
			}
			if tt.want != refresh.ResultRefreshed && r.Error == "" {
				t.Errorf("%s without an error", r.Result)
			}
			h.assertNoTokenLeak("main")
		})
	}
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestMisconfiguredEngine: an Engine missing a required field refuses to
// run, with an error wrapping ErrConfig, before touching anything.
func TestMisconfiguredEngine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		misconfigure func(*refresh.Engine)
	}{
		{"no secret store", func(e *refresh.Engine) { e.Secrets = nil }},
		{"no state store", func(e *refresh.Engine) { e.States = nil }},
		{"no platform refresher", func(e *refresh.Engine) { e.Platforms = nil }},
		{"no accounts", func(e *refresh.Engine) { e.Accounts = nil }},
		{"RefreshAfter zero", func(e *refresh.Engine) { e.RefreshAfter = 0 }},
		{"RefreshAfter negative", func(e *refresh.Engine) { e.RefreshAfter = -time.Hour }},
		{"KeepVersions zero", func(e *refresh.Engine) { e.KeepVersions = 0 }},
		{"Concurrency zero", func(e *refresh.Engine) { e.Concurrency = 0 }},
		{"ThreadsTimeout zero", func(e *refresh.Engine) { e.ThreadsTimeout = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.misconfigure)
			h.seed("main", 72*time.Hour)
			rep, err := h.engine.Pass(context.Background())
			if !errors.Is(err, refresh.ErrConfig) {
				t.Fatalf("Pass: %v, want an error wrapping ErrConfig", err)
			}
			if len(rep.Accounts) != 0 || h.th.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Errorf("a misconfigured engine did something: %+v", rep)
			}
			if _, ok := h.state("main"); ok {
				t.Error("a misconfigured engine wrote state")
			}
		})
	}

	// Status needs the state store and the accounts; without them it must
	// say so rather than crash the command or the GET handler.
	for _, name := range []string{"zero Engine", "no state store", "no accounts"} {
		t.Run("Status/"+name, func(t *testing.T) {
			t.Parallel()
			e := &refresh.Engine{}
			if name != "zero Engine" {
				h := newHarness(t, nil)
				h.seed("main", time.Hour)
				e = h.engine
				if name == "no state store" {
					e.States = nil
				} else {
					e.Accounts = nil
				}
			}
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Status on a misconfigured engine panicked: %v", p)
				}
			}()
			if _, err := e.Status(context.Background()); !errors.Is(err, refresh.ErrConfig) {
				t.Errorf("Status: %v, want an error wrapping ErrConfig", err)
			}
		})
	}
}

// A pass cancelled while Threads is answering (Ctrl-C on `refresher run`)
// still records the attempt and gives the lease back, so that the next pass
// is not kept out for the lease's lifetime.
func TestCancelledPassReleasesTheLease(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, threadsfake.Latency(500*time.Millisecond))
	h.seed("main", 72*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rep := h.passCtx(ctx)
	if r := rep.Accounts[0]; r.Result != refresh.ResultFailed {
		t.Fatalf("cancelled pass: %+v, want failed", r)
	}
	states, err := h.store.Load(context.Background(), []refresh.Account{h.account("main")})
	if err != nil {
		t.Fatal(err)
	}
	if st := states["main"]; st.Status != refresh.StatusFailing || st.Failures != 1 {
		t.Errorf("state after the cancelled pass: %+v, want the attempt recorded as failing", st)
	}
	if r := h.pass().Accounts[0]; r.Result != refresh.ResultRefreshed {
		t.Errorf("next pass: %+v, want refreshed (not busy)", r)
	}
}
