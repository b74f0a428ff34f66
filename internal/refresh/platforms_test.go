package refresh_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/localengine"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// newPlatformsHarness is newHarness with an Instagram fake beside the
// Threads one, on the same clock, and an engine that knows both platforms.
func newPlatformsHarness(t *testing.T) (*harness, *threadsfake.Server) {
	t.Helper()
	ig := threadsfake.Start(t, threadsfake.Instagram())
	h := newHarness(t, func(e *refresh.Engine) {
		e.Platforms[payload.PlatformInstagram] = instagram.New(ig.URL(), ig.OAuthURL(), localengine.ThreadsTimeout, nil).Refresher()
	})
	th := h.TH
	h.Clock.OnSet = func(now time.Time) { th.SetNow(now); ig.SetNow(now) }
	h.Clock.Set(h.Clock.Now())
	return h, ig
}

// seedInstagram issues a long-lived Instagram token of the given age and
// stores it as `refresher add --platform instagram` does.
func (h *harness) seedInstagram(ig *threadsfake.Server, id string, age time.Duration) (string, refresh.Version) {
	h.t.Helper()
	tok := ig.IssueLongLived("1784"+id, "ig_"+id, h.Clock.Now().Add(-age))
	h.seen[tok] = true
	return tok, h.AddVersion(id, age, payload.NewFor(payload.PlatformInstagram, tok, "1784"+id, "ig_"+id))
}

// logLine returns the last "account processed" line of the account.
func (h *harness) logLine(id string) map[string]any {
	h.t.Helper()
	var last map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(h.Logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) == nil && m["message"] == "account processed" && m["account"] == id {
			last = m
		}
	}
	return last
}

// TestPlatformsSideBySide: one pass refreshes a Threads and an Instagram
// account, each once, each on its own platform, and records, reports and
// logs each one's platform.
func TestPlatformsSideBySide(t *testing.T) {
	t.Parallel()
	h, ig := newPlatformsHarness(t)
	oldTh, _ := h.seed("main", 72*time.Hour)
	oldIG, _ := h.seedInstagram(ig, "shop", 72*time.Hour)

	rep := h.pass()
	for id, want := range map[string]string{"main": payload.PlatformThreads, "shop": payload.PlatformInstagram} {
		r := result(t, rep, id)
		if r.Result != refresh.ResultRefreshed || r.Platform != want {
			t.Errorf("%s: %+v, want refreshed on %s", id, r, want)
		}
		if st, _ := h.state(id); st.Platform != want {
			t.Errorf("%s: stored platform %q, want %q", id, st.Platform, want)
		}
		if line := h.logLine(id); line["platform"] != want {
			t.Errorf("%s: log line %v, want platform %s", id, line, want)
		}
	}
	if th, n := h.TH.Calls(threadsfake.PathRefresh), ig.Calls(threadsfake.PathRefresh); th != 1 || n != 1 {
		t.Errorf("refresh calls: Threads %d, Instagram %d; want one each", th, n)
	}
	// Threads inspects the adopted token and the new one; Instagram has no
	// inspection, so its adopted token, of unknown age but in a version
	// three days old, is refreshed at once.
	if th, n := h.TH.Calls(threadsfake.PathDebugToken), ig.TotalCalls(); th != 2 || n != 1 || h.TH.TotalCalls() != 3 {
		t.Errorf("calls: Threads %d (%d inspections), Instagram %d; want a refresh and two inspections, and one refresh", h.TH.TotalCalls(), th, n)
	}
	newIG, _ := h.currentToken("shop")
	if newIG == oldIG || !ig.Valid(newIG) || !strings.HasPrefix(newIG, "IGAA") {
		t.Error("the Instagram account's newest version does not hold a new Instagram token")
	}
	if newTh, _ := h.currentToken("main"); newTh == oldTh || !h.TH.Valid(newTh) {
		t.Error("the Threads account's newest version does not hold a new Threads token")
	}
	if p, _ := h.Store.Access(t.Context(), h.account("shop"), h.versions("shop")[1]); !strings.Contains(string(p), `"platform":"instagram"`) {
		t.Errorf("the refreshed Instagram payload lost its platform")
	}
	for _, tok := range ig.Tokens() {
		h.seen[tok] = true
	}
	h.assertNoTokenLeak("main", "shop")
}

// TestPlatformKnownFromAdoption: a version adopted and not yet due already
// names its platform, and a bare payload is Threads. Adopting costs Threads
// one inspection; Instagram, which has none, one refresh tried on a token
// of unknown age (refused: it is an hour old) and the /me that tells it
// works.
func TestPlatformKnownFromAdoption(t *testing.T) {
	t.Parallel()
	h, ig := newPlatformsHarness(t)
	h.seedInstagram(ig, "shop", time.Hour)
	bare := h.TH.IssueLongLived("1", "u", h.Clock.Now().Add(-time.Hour))
	h.seen[bare] = true
	h.AddVersion("bare", time.Hour, []byte(bare))

	rep := h.pass()
	for id, want := range map[string]string{"shop": payload.PlatformInstagram, "bare": payload.PlatformThreads} {
		if r := result(t, rep, id); r.Result != refresh.ResultRolledForward || r.Platform != want {
			t.Errorf("%s: %+v, want rolled_forward on %s", id, r, want)
		}
	}
	// Fresh on the next pass, with the platform from the state.
	h.Clock.Advance(time.Hour)
	status, err := h.Engine.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, status, "shop"); r.Platform != payload.PlatformInstagram {
		t.Errorf("status of shop: %+v, want platform instagram", r)
	}
	if r := result(t, h.pass(), "shop"); r.Result != refresh.ResultFresh || r.Platform != payload.PlatformInstagram {
		t.Errorf("fresh pass: %+v, want fresh on instagram", r)
	}
	if th, n := h.TH.TotalCalls(), h.TH.Calls(threadsfake.PathDebugToken); th != 1 || n != 1 {
		t.Errorf("adopting the bare Threads token made %d calls, %d inspections; want one inspection", th, n)
	}
	if n, young := ig.TotalCalls(), ig.TooYoungRefreshes(); n != 2 || young != 1 {
		t.Errorf("adopting the Instagram token made %d calls, %d refreshes of a young token; want the refresh tried once and /me", n, young)
	}
}

// TestUnknownPlatform: a payload naming a platform the engine has no
// refresher for fails the account, every pass, with one sentence; nothing
// is sent anywhere and the version is not adopted.
func TestUnknownPlatform(t *testing.T) {
	t.Parallel()
	h, ig := newPlatformsHarness(t)
	h.AddVersion("odd", time.Hour, []byte(`{"platform":"myspace","access_token":"MSsecrettoken"}`))
	h.seen["MSsecrettoken"] = true
	for pass := 1; pass <= 2; pass++ {
		r := result(t, h.pass(), "odd")
		if r.Result != refresh.ResultFailed || !strings.Contains(r.Error, `"myspace"`) ||
			!strings.Contains(r.Error, `"instagram" or "threads"`) || strings.Contains(r.Error, "\n") {
			t.Errorf("pass %d: %+v, want failed with one sentence naming the platform and the known ones", pass, r)
		}
		if st, _ := h.state("odd"); st.Version != "" || st.Status != refresh.StatusFailing || st.Failures != pass {
			t.Errorf("pass %d: state %+v, want failing without adopting the version", pass, st)
		}
		h.Clock.Advance(time.Hour)
	}
	if h.TH.TotalCalls()+ig.TotalCalls() != 0 {
		t.Error("a token of an unknown platform was sent to Meta")
	}
	h.assertNoTokenLeak("odd")
}

// TestDeadTokenAndPermission: refusals whose code does not say the token is
// dead are judged with /me; a missing permission asks for a new login that
// grants it; a needs_reauth account is not sent to Meta again.
func TestDeadTokenAndPermission(t *testing.T) {
	t.Parallel()
	type fail struct {
		me bool
		f  threadsfake.Failure
	}
	tests := []struct {
		name  string
		fail  []fail
		want  refresh.Result
		texts []string
	}{
		{"code 100, token dead", []fail{{false, threadsfake.Unsupported}, {true, threadsfake.Unsupported}},
			refresh.ResultNeedsReauth, []string{"code 100/33", "fails /me too", "log in again"}},
		{"code 100, token alive", []fail{{false, threadsfake.Unsupported}}, refresh.ResultFailed, []string{"code 100/33"}},
		{"permission missing", []fail{{false, threadsfake.PermissionMissing}}, refresh.ResultNeedsReauth, []string{"(code 10)", "the %s permission"}},
		{"permission denied", []fail{{false, threadsfake.PermissionDenied}}, refresh.ResultNeedsReauth, []string{"(code 200)", "the %s permission"}},
	}
	platforms := []struct {
		name, permission string
	}{{payload.PlatformThreads, "threads_basic"}, {payload.PlatformInstagram, "instagram_business_basic"}}
	for _, p := range platforms {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				h, ig := newPlatformsHarness(t)
				f := h.TH
				if p.name == payload.PlatformInstagram {
					f = ig
					h.seedInstagram(ig, "main", 72*time.Hour)
				} else {
					h.seed("main", 72*time.Hour)
				}
				for _, q := range tt.fail {
					path := threadsfake.PathRefresh
					if q.me {
						path = f.MePath()
					}
					f.FailNext(path, q.f, 1)
				}
				r := result(t, h.pass(), "main")
				if r.Result != tt.want {
					t.Fatalf("%+v, want %s", r, tt.want)
				}
				st, _ := h.state("main")
				for _, text := range tt.texts {
					text = strings.ReplaceAll(text, "%s", p.permission)
					if !strings.Contains(r.Error, text) || st.LastError != r.Error {
						t.Errorf("error %q (stored %q) does not say %q", r.Error, st.LastError, text)
					}
				}
				if f.Calls(threadsfake.PathRefresh) != 1 {
					t.Errorf("%d refresh calls, want 1", f.Calls(threadsfake.PathRefresh))
				}

				// The next pass, a day on.
				h.Clock.Advance(25 * time.Hour)
				calls := f.TotalCalls()
				r = result(t, h.pass(), "main")
				if tt.want == refresh.ResultNeedsReauth && (r.Result != refresh.ResultNeedsReauth || f.TotalCalls() != calls) {
					t.Errorf("next pass: %+v after %d calls to Meta; want needs_reauth and none", r, f.TotalCalls()-calls)
				}
				if tt.want == refresh.ResultFailed && r.Result != refresh.ResultRefreshed {
					t.Errorf("next pass: %+v; a live token whose refusal has passed is refreshed", r)
				}
				for _, tok := range ig.Tokens() {
					h.seen[tok] = true
				}
				h.assertNoTokenLeak("main")
			})
		}
	}
}
