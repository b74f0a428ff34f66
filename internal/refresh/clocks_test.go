package refresh_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

const day = 24 * time.Hour

// handAdded is a token a person brings: issued by Meta `issued` ago, added
// to the account's secret now, as `refresher add` (or gcloud) would.
type handAdded struct {
	name string
	// opts start the Threads fake; instagram puts the token on Instagram.
	opts      []threadsfake.Option
	instagram bool
	// inspectable: Meta tells the engine the token's clocks.
	inspectable bool
}

var handAddedKinds = []handAdded{
	{name: "Threads, a tester's", inspectable: true},
	{name: "Threads, not a tester's", opts: []threadsfake.Option{threadsfake.Testers("someone-else")}},
	{name: "Instagram", instagram: true},
}

// add starts the harness for k and adds the token, issued age ago, to
// account "main"; it returns the token and the fake that issued it.
func (k handAdded) add(t *testing.T, age time.Duration) (*harness, *threadsfake.Server, string) {
	t.Helper()
	var h *harness
	fake := (*threadsfake.Server)(nil)
	if k.instagram {
		h, fake = newPlatformsHarness(t)
		tok := fake.IssueLongLived("1784main", "shop", h.Clock.Now().Add(-age))
		h.seen[tok] = true
		h.AddVersion("main", 0, payload.NewFor(payload.PlatformInstagram, tok, "1784main", "shop"))
		return h, fake, tok
	}
	h = newHarness(t, nil, k.opts...)
	tok := h.TH.IssueLongLived("1789main", "alice", h.Clock.Now().Add(-age))
	h.seen[tok] = true
	h.AddVersion("main", 0, payload.New(tok, "1789main", "alice"))
	return h, h.TH, tok
}

// TestHandAddedOldTokenIsRefreshedAtOnce: a token Meta issued 59.5 days
// ago, added by hand today, has 12 hours to live. The first pass refreshes
// it: by Meta's issue time where Meta tells it, and otherwise because its
// age is unknown and a refresh is the one way to find out (Meta accepts
// it). No token younger than 24 hours is ever sent.
func TestHandAddedOldTokenIsRefreshedAtOnce(t *testing.T) {
	t.Parallel()
	for _, k := range handAddedKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			h, fake, old := k.add(t, 59*day+12*time.Hour)
			r := result(t, h.pass(), "main")
			if r.Result != refresh.ResultRefreshed {
				t.Fatalf("first pass: %+v, want refreshed", r)
			}
			tok, _ := h.currentToken("main")
			if tok == old || !fake.Valid(tok) {
				t.Error("the newest version does not hold a new, valid token")
			}
			// 1439 hours, the new token's life; where Meta tells it, the
			// app's access to the user's data, granted at the login 59.5
			// days ago for 90 days, ends sooner.
			want := threadsfake.DefaultExpiresIn / 3600
			if k.inspectable {
				want = int(threadsfake.DataAccessLifetime-(59*day+12*time.Hour)) / int(time.Hour)
			}
			if r.HoursLeft == nil || *r.HoursLeft != want {
				t.Errorf("hoursLeft %v after the refresh, want %d", r.HoursLeft, want)
			}
			if n := fake.TooYoungRefreshes(); n != 0 {
				t.Errorf("%d refreshes of a token younger than 24 hours", n)
			}
			st, _ := h.state("main")
			wantFrom := refresh.ClockRefresh
			if k.inspectable {
				wantFrom = refresh.ClockMeta
			}
			if st.ExpiryFrom != wantFrom || r.ExpiryFrom != string(wantFrom) || st.IssuedAt.IsZero() {
				t.Errorf("state %+v, report %+v: want the new token's clocks from %s", st, r, wantFrom)
			}
			h.assertNoTokenLeak("main")
		})
	}
}

// TestHandAddedYoungToken: a token Meta issued 2 hours ago, added now, is
// not refreshed. Where Meta tells its clocks, its remaining life is
// Meta's; where it cannot, the engine tries one refresh (its age is
// unknown), Meta refuses it as too young, and the account is ok, not
// failed, with an estimated expiry that is never later than the real one.
// Once its version is 24 hours old, it is refreshed.
func TestHandAddedYoungToken(t *testing.T) {
	t.Parallel()
	for _, k := range handAddedKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			h, fake, tok := k.add(t, 2*time.Hour)
			issued := h.Clock.Now().Add(-2 * time.Hour)
			r := result(t, h.pass(), "main")
			if r.Result != refresh.ResultRolledForward || r.Error != "" {
				t.Fatalf("first pass: %+v, want rolled_forward without an error", r)
			}
			if n := fake.Calls(threadsfake.PathRefresh); k.inspectable && n != 0 {
				t.Errorf("%d refresh calls for a token Meta says is 2 hours old", n)
			}
			info, _ := fake.Info(tok)
			realLeft := info.ExpiresAt.Sub(h.Clock.Now())
			st, _ := h.state("main")
			switch {
			case k.inspectable:
				if st.ExpiryFrom != refresh.ClockMeta || r.ExpiryFrom != "meta" || !st.ExpiresAt.Equal(info.ExpiresAt) || !st.IssuedAt.Equal(issued) ||
					r.HoursLeft == nil || *r.HoursLeft != int(realLeft/time.Hour) {
					t.Errorf("state %+v, report %+v; want Meta's clocks, %d hours left", st, r, int(realLeft/time.Hour))
				}
			default:
				// One refresh tried, refused as too young: not a failure.
				if n := fake.TooYoungRefreshes(); n != 1 {
					t.Errorf("%d refreshes of the young token tried, want exactly one", n)
				}
				if st.Status != refresh.StatusOK || st.ExpiryFrom != refresh.ClockEstimate || r.ExpiryFrom != "estimate" ||
					r.HoursLeft == nil || time.Duration(*r.HoursLeft)*time.Hour > realLeft || *r.HoursLeft < 1380 {
					t.Errorf("state %+v, report %+v; want ok with an estimated expiry no later than the real one (%s left)", st, r, realLeft)
				}
				if line := h.logLine("main"); line["severity"] != "INFO" || line["expiryFrom"] != "estimate" {
					t.Errorf("account line %v, want INFO with expiryFrom estimate", line)
				}
			}

			// Fresh from then on, without a call, until the token is a day
			// old by Meta's clock (22 hours on), or else until its version
			// is (24 hours on); then refreshed.
			calls := fake.TotalCalls() + h.TH.TotalCalls()
			h.Clock.Advance(21 * time.Hour)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
				t.Errorf("21h later: %+v, want fresh", r)
			}
			if n := fake.TotalCalls() + h.TH.TotalCalls(); n != calls {
				t.Errorf("a fresh pass made %d calls to Meta", n-calls)
			}
			h.Clock.Advance(time.Hour + time.Second) // Meta's issue time is in whole seconds
			if !k.inspectable {
				if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
					t.Errorf("22h later: %+v, want fresh: nothing says the token is 24 hours old", r)
				}
				h.Clock.Advance(2 * time.Hour)
			}
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
				t.Errorf("a day after it was issued (or added, if that is all the engine knows): %+v, want refreshed", r)
			}
			if n := fake.TooYoungRefreshes(); (k.inspectable && n != 0) || n > 1 {
				t.Errorf("%d refreshes of a young token in all", n)
			}
			h.assertNoTokenLeak("main")
		})
	}
}

// TestDataAccessClock: a token whose app may read the user's data for 5
// more days has at most 120 hours of use left, whatever its own expiry: the
// account line and the status say so (hoursLeft, dataAccessExpiresAt),
// and the engine does not refresh it for that (a refresh does not renew
// data access; a new login does).
func TestDataAccessClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.seed("main", 72*time.Hour)
	until := h.Clock.Now().Add(5 * day)
	h.TH.SetDataAccess("1789main", until)

	mark := len(h.Logs.String())
	r := result(t, h.pass(), "main")
	if r.Result != refresh.ResultRefreshed || r.HoursLeft == nil || *r.HoursLeft > 120 || r.DataAccessExpiresAt != stamp(until) {
		t.Fatalf("%+v, want refreshed with hoursLeft <= 120 and the data-access expiry", r)
	}
	line := hoursLeftLines(t, h.Logs.String()[mark:])["main"]
	if n, err := line.Int64(); err != nil || n > 120 {
		t.Errorf("account line hoursLeft %s, want at most 120", line)
	}
	if l := h.logLine("main"); l["dataAccessExpiresAt"] != stamp(until) || l["expiresAt"] == nil {
		t.Errorf("account line %v lacks the data-access expiry", l)
	}
	refreshes := h.refreshCalls()
	for range 20 {
		h.Clock.Advance(time.Hour)
		if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh || r.HoursLeft == nil || *r.HoursLeft > 120 {
			t.Fatalf("%+v, want fresh with hoursLeft <= 120", r)
		}
	}
	if n := h.refreshCalls() - refreshes; n != 0 {
		t.Errorf("%d refreshes for a data-access clock that a refresh does not renew", n)
	}
	status, err := h.Engine.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, status, "main"); r.HoursLeft == nil || *r.HoursLeft > 100 || r.DataAccessExpiresAt != stamp(until) {
		t.Errorf("status %+v, want hoursLeft <= 100 and the data-access expiry", r)
	}
	if end, which := result(t, status, "main").LifeEnds(); !end.Equal(until) || which != refresh.LifeDataAccess {
		t.Errorf("LifeEnds = %s %q, want %s, data access", end, which, until)
	}
}

// TestDueByRemainingLife: with REFRESH_AFTER at 30 days, a token Meta gave
// 3 days of life is refreshed as soon as it is 24 hours old, not after 30
// days (dead by then).
func TestDueByRemainingLife(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(e *refresh.Engine) { e.RefreshAfter = 30 * day }, threadsfake.ExpiresIn(3*24*3600))
	h.seed("main", 31*day)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed || r.ExpiryFrom != "meta" {
		t.Fatalf("first pass: %+v, want refreshed, Meta's expiry", r)
	}
	h.Clock.Advance(23 * time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
		t.Fatalf("23h later: %+v, want fresh (too young)", r)
	}
	for i := range 10 {
		h.Clock.Advance(time.Hour + time.Second) // Meta's issue time is in whole seconds
		if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
			t.Fatalf("day %d: %+v, want refreshed: 2 days of life left is under the margin", i+1, r)
		}
		h.Clock.Advance(23 * time.Hour)
	}
	if tok, _ := h.currentToken("main"); !h.TH.Valid(tok) {
		t.Error("the current token died")
	}
	if n := h.TH.TooYoungRefreshes(); n != 0 {
		t.Errorf("%d refreshes of a token younger than 24 hours", n)
	}
}

// TestStateWithoutClocksAsksMetaOnce: a state recorded before clocks were
// kept (refreshedAt and expiresAt only) is not taken as fresh: the next
// pass asks Meta, records its clocks, and from then on the account is
// fresh without a call.
func TestStateWithoutClocksAsksMetaOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(e *refresh.Engine) { e.RefreshAfter = 48 * time.Hour })
	_, v := h.seed("main", 30*time.Hour)
	h.writeState("main", refresh.State{Secret: h.account("main").Secret, Version: v.Name, Status: refresh.StatusOK,
		RefreshedAt: v.CreateTime, ExpiresAt: v.CreateTime.Add(60 * day)})
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh || r.ExpiryFrom != "meta" {
		t.Fatalf("%+v, want fresh with Meta's expiry", r)
	}
	st, _ := h.state("main")
	if st.IssuedFrom != refresh.ClockMeta || !st.IssuedAt.Equal(v.CreateTime) || len(st.Scopes) == 0 {
		t.Errorf("state %+v, want Meta's clocks and scopes recorded", st)
	}
	calls := h.TH.TotalCalls()
	h.Clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh || h.TH.TotalCalls() != calls {
		t.Errorf("%+v after %d calls, want fresh without one", r, h.TH.TotalCalls()-calls)
	}
}

// TestInspectorAccount: with an inspector account (a tester's token), the
// token of an account that is not a tester's is inspected with it and its
// clocks are Meta's; without, they are estimates.
func TestInspectorAccount(t *testing.T) {
	t.Parallel()
	for _, inspector := range []string{"", "insp"} {
		t.Run("inspector="+inspector, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(e *refresh.Engine) { e.Inspector = inspector }, threadsfake.Testers("1789insp"))
			h.seed("insp", 2*time.Hour)
			tok := h.TH.IssueLongLived("1789other", "bob", h.Clock.Now().Add(-2*time.Hour))
			h.seen[tok] = true
			h.AddVersion("other", 0, payload.New(tok, "1789other", "bob"))
			rep := h.pass()
			want := "estimate"
			if inspector != "" {
				want = "meta"
			}
			if r := result(t, rep, "other"); r.Result != refresh.ResultRolledForward || r.ExpiryFrom != want {
				t.Errorf("other: %+v, want rolled_forward with expiryFrom %s", r, want)
			}
			if r := result(t, rep, "insp"); r.Result != refresh.ResultRolledForward || r.ExpiryFrom != "meta" {
				t.Errorf("insp: %+v, want rolled_forward with Meta's expiry", r)
			}
			h.assertNoTokenLeak("insp", "other")
		})
	}
}

// TestUnusableAnswerLeavesThePreviousToken: whatever is wrong with Meta's
// answer to a refresh (a redirect to another host, an absurd expires_in, a
// token that could not be stored and read back), the previous token stays
// current, the account fails with an error that says why, and neither the
// error nor the state holds a token. The host a redirect names gets
// nothing.
func TestUnusableAnswerLeavesThePreviousToken(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "THAAfromanotherhost", "token_type": "bearer", "expires_in": 5183944})
	}))
	t.Cleanup(other.Close)
	tests := []struct {
		name, why string
		answer    threadsfake.Answer
	}{
		{"redirect to another host", "redirect", threadsfake.Answer{Status: http.StatusFound, Header: http.Header{"Location": {other.URL + "/refresh_access_token"}}}},
		{"expires_in 0", "expires_in is 0", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew","expires_in":0}`}},
		{"expires_in -1", "expires_in is -1", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew","expires_in":-1}`}},
		{"expires_in 10000000000", "more than the 90 days", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew","expires_in":10000000000}`}},
		{"expires_in not a number", "not a whole number", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew","expires_in":"sixty days"}`}},
		{"token with a newline", "control character", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew\nTHAAline","expires_in":5183944}`}},
		{"token with a space", "a space", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew THAAspace","expires_in":5183944}`}},
		{"token with a control character", "control character", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnew\u0007","expires_in":5183944}`}},
		{"token not ASCII", "not ASCII", threadsfake.Answer{Status: 200, Body: `{"access_token":"THAAnewé","expires_in":5183944}`}},
		{"empty token", "no access_token", threadsfake.Answer{Status: 200, Body: `{"access_token":"","expires_in":5183944}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			old, v := h.seed("main", 72*time.Hour)
			h.TH.AnswerNext(threadsfake.PathRefresh, tt.answer, 3) // a redirect is retried
			r := result(t, h.pass(), "main")
			if r.Result != refresh.ResultFailed || !strings.Contains(r.Error, tt.why) {
				t.Errorf("%+v, want failed saying %q", r, tt.why)
			}
			if tok, cur := h.currentToken("main"); tok != old || cur.Number != v.Number {
				t.Error("the previous token is no longer current")
			}
			st, _ := h.state("main")
			if st.Status != refresh.StatusFailing || !strings.Contains(st.LastError, tt.why) {
				t.Errorf("state %+v, want failing with the reason", st)
			}
			for _, text := range []string{r.Error, st.LastError, h.Logs.String()} {
				if strings.Contains(text, "THAAnew") || strings.Contains(text, "THAAfromanotherhost") {
					t.Errorf("the answered token appears in %q", text)
				}
			}
			h.assertNoTokenLeak("main")
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the host a redirect named got %d requests", n)
	}
}
