package refresh_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/localengine"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// These tests run the engine on the embedded store (the real bbolt file)
// against the Threads fake, with one fake clock shared by the engine, the
// store and the fake, so that days pass in microseconds: the rig that
// internal/testing/localengine builds for every test of the engine and of
// what sits around it. function_test.go at the root runs the same engine
// through the Google adapters.

// harness is one engine on its own embedded store and Threads fake, with
// the checks every test here makes.
type harness struct {
	*localengine.Rig
	t *testing.T

	// seen holds every token the test has known of, and errs every error a
	// report carried, for the no-token-in-output check.
	seen map[string]bool
	errs []string
}

// newHarness builds an engine as the brief describes; configure may change
// it before use.
func newHarness(t *testing.T, configure func(*refresh.Engine), fakeOpts ...threadsfake.Option) *harness {
	t.Helper()
	h := &harness{Rig: localengine.New(t, fakeOpts...), t: t, seen: map[string]bool{}}
	if configure != nil {
		configure(h.Engine)
	}
	return h
}

func (h *harness) account(id string) refresh.Account { return h.Store.Account(id) }

// seed issues a long-lived token of the given age in Threads and stores it
// as a new version, in the usual JSON shape, created when it was issued.
func (h *harness) seed(id string, age time.Duration) (string, refresh.Version) {
	h.t.Helper()
	tok, v := h.SeedVersion(id, age)
	h.seen[tok] = true
	return tok, v
}

// passCtx runs one pass with ctx and checks the per-account log lines.
func (h *harness) passCtx(ctx context.Context) refresh.Report {
	h.t.Helper()
	mark := len(h.Logs.String())
	rep, err := h.Engine.Pass(ctx)
	if err != nil {
		h.t.Fatalf("pass: %v", err)
	}
	for _, tok := range h.TH.Tokens() {
		h.seen[tok] = true
	}
	for _, r := range rep.Accounts {
		h.errs = append(h.errs, r.Error)
	}
	h.checkLogLines(h.Logs.String()[mark:], rep)
	return rep
}

// pass is passCtx without a deadline.
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
	states, err := h.Store.Load(context.Background(), []refresh.Account{h.account(id)})
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
	leased, err := leases.Take(ctx, h.Store, a, "earlier-pass", h.Clock.Now().Add(time.Minute))
	if err != nil {
		h.t.Fatalf("leasing %s: %v", id, err)
	}
	st.Rev = leased.Rev
	if err := h.Store.Commit(ctx, a, "earlier-pass", st); err != nil {
		h.t.Fatalf("committing state of %s: %v", id, err)
	}
}

// versions lists id's versions, oldest first.
func (h *harness) versions(id string) []refresh.Version {
	h.t.Helper()
	vs, err := h.Store.Versions(context.Background(), h.account(id))
	if err != nil {
		h.t.Fatalf("listing versions of %s: %v", id, err)
	}
	slices.SortFunc(vs, func(a, b refresh.Version) int { return int(a.Number - b.Number) })
	return vs
}

// currentToken is the token of id's newest enabled version.
func (h *harness) currentToken(id string) (string, refresh.Version) {
	h.t.Helper()
	v, raw, err := refresh.Current(context.Background(), h.Store, h.account(id))
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

func (h *harness) refreshCalls() int { return h.TH.Calls(threadsfake.PathRefresh) }

// assertNoTokenLeak searches the whole log, every report error and every
// stored lastError for every token the test has known of.
func (h *harness) assertNoTokenLeak(ids ...string) {
	h.t.Helper()
	for _, tok := range h.TH.Tokens() {
		h.seen[tok] = true
	}
	out := h.Logs.String()
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
