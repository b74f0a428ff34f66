package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestRelink: `refresher add` into an account that needs a new login (a
// check found its token revoked)
// stores the same user's new token as a new version of the same secret,
// checks the account at once, and so tells consumers adopted and
// recovered without waiting for a pass; a token of another user, or of
// another platform, is refused with exit 1 and one sentence naming both
// users, and nothing is stored, unless --replace-user.
func TestRelink(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		events := w.eventsFile()
		old, owner := w.seed("main", 3*day)
		if r := w.run("run"); r.code != 0 {
			t.Fatalf("first pass: %v", r)
		}
		w.th.Revoke(w.newestToken("main"))
		w.th.Revoke(old)
		if r := w.run("check", "main"); r.code != exitWarn {
			t.Fatalf("check with the token revoked: %v, want exit 3", r)
		}
		if got := eventNames(events()); !slices.Equal(got, []string{"refreshed", "needs_reauth"}) {
			t.Fatalf("events %v, want refreshed then needs_reauth", got)
		}
		versions := len(w.versions("main"))

		// Another user's token.
		stranger := w.newUser("other")
		r := w.runIn(w.longLived(stranger, 0)+"\n", "add", "main")
		if r.code != 1 || !strings.Contains(r.stderr, "@"+owner.name) || !strings.Contains(r.stderr, "@"+stranger.name) ||
			!strings.Contains(r.stderr, "--replace-user") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("add of another user's token: %v, want exit 1 and one line naming both users and --replace-user", r)
		}
		// Another platform's token.
		igUser := w.newUser("main")
		r = w.runCall(call{stdin: strings.NewReader(w.igLongLived(igUser, 0) + "\n"), env: w.igEnv()}, "add", "--platform", "instagram", "main")
		if r.code != 1 || !strings.Contains(r.stderr, "a Threads token") || !strings.Contains(r.stderr, "Instagram") {
			t.Errorf("add of an Instagram token into a Threads account: %v, want exit 1 naming both platforms", r)
		}
		if n := len(w.versions("main")); n != versions || len(events()) != 0 {
			t.Fatalf("a refused relink stored something: %d versions, was %d", n, versions)
		}

		// The same user, after a new login: stored, checked, told.
		fresh := w.longLived(owner, 0)
		r = w.runIn(fresh+"\n", "add", "main")
		if r.code != 0 || !strings.Contains(r.stdout, "Checked: main is ok") {
			t.Fatalf("relink of the same user: %v", r)
		}
		if n := len(w.versions("main")); n != versions+1 || w.newestToken("main") != fresh {
			t.Errorf("after the relink: %d versions (was %d), newest is the new token: %v", n, versions, w.newestToken("main") == fresh)
		}
		got := events()
		if !slices.Equal(eventNames(got), []string{"adopted", "recovered"}) || got[0]["secret"] != got[1]["secret"] || got[1]["health"] != "ok" {
			t.Errorf("events of the relink %v, want adopted then recovered, of the same secret", got)
		}
		if rep := parseReport(t, w.run("status", "--json").stdout); accountIn(t, rep, "main").Result != "ok" {
			t.Errorf("status after the relink: %+v", rep)
		}
		if r := w.run("run"); r.code != 0 || len(events()) != 0 {
			t.Errorf("the pass after the relink: %v, and told something again", r)
		}

		// Another user on purpose.
		r = w.runIn(w.longLived(stranger, 0)+"\n", "add", "--replace-user", "main")
		if r.code != 0 || w.newest("main")["user_id"] != stranger.id {
			t.Errorf("add --replace-user: %v, stored user %v", r, w.newest("main")["user_id"])
		}
	})
}

// TestLoginRelinkKeepsTheScopes: a login into an account whose token had
// more than the default scope asks for all of them, and says which ones
// the new grant lacks.
func TestLoginRelinkKeepsTheScopes(t *testing.T) {
	const redirect = "https://example.com/cb"
	eachStore(t, func(t *testing.T, w *world) {
		_, owner := w.seed("main", 3*day)
		if r := w.run("run"); r.code != 0 {
			t.Fatalf("first pass: %v", r)
		}
		env := map[string]string{"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": w.th.AppSecret()}
		r, authorize := w.login(t, []string{"--redirect-uri", redirect, "main"}, env, func(a *url.URL) string {
			code := w.th.IssueCode(w.th.AppID(), redirect, owner.id, owner.name)
			w.forbid(code)
			// Meta's inspection of the new token lists one scope only.
			now := time.Now()
			w.th.AnswerNext(threadsfake.PathDebugToken, threadsfake.Answer{Status: 200, Body: fmt.Sprintf(
				`{"data":{"type":"USER","is_valid":true,"issued_at":%d,"expires_at":%d,"scopes":["threads_basic"],"user_id":%q}}`,
				now.Unix(), now.Add(60*day).Unix(), owner.id)}, 1)
			return code + "#_"
		})
		if r.code != 0 || authorize == nil {
			t.Fatalf("login: %v", r)
		}
		if got := authorize.Query().Get("scope"); got != "threads_basic,threads_content_publish" {
			t.Errorf("the login asked for %q, want the scopes the token had", got)
		}
		if !strings.Contains(r.stdout, "the new grant lacks threads_content_publish, which the previous token had") {
			t.Errorf("login does not say what the new grant lacks:\n%s", r.stdout)
		}
	})
}
