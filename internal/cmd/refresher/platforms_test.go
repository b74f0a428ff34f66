package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// igLongLived issues a long-lived Instagram token issued age ago.
func (w *world) igLongLived(u user, age time.Duration) string { return w.issue(w.ig, true, u, age) }

// igShortLived issues a short-lived Instagram token issued age ago.
func (w *world) igShortLived(u user, age time.Duration) string { return w.issue(w.ig, false, u, age) }

// seedInstagram stores an Instagram token issued age ago as
// `refresher add --platform instagram` would have stored it then.
func (w *world) seedInstagram(account string, age time.Duration) (string, user) {
	w.t.Helper()
	return w.seedOn(payload.PlatformInstagram, w.ig, account, age)
}

// igEnv is the environment of Instagram onboarding: the Instagram app's ID
// and secret, and Threads' set to something else, which must not be used.
func (w *world) igEnv() map[string]string {
	return map[string]string{
		"INSTAGRAM_APP_ID": w.ig.AppID(), "INSTAGRAM_APP_SECRET": w.ig.AppSecret(),
		"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": w.th.AppSecret(),
	}
}

// platformOf returns the account's platform in a pass or status report.
func platformOf(t *testing.T, r passJSON, account string) string {
	t.Helper()
	return accountIn(t, r, account).Platform
}

// TestThreadsAndInstagramInOnePass: one pass refreshes a Threads account and
// an Instagram account, each once, on its own platform; the payloads keep
// their shape and platform; run, status and the log lines name the
// platform; a bare payload stays a bare Threads token.
func TestThreadsAndInstagramInOnePass(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		oldTh, _ := w.seed("main", 3*day)
		oldIG, _ := w.seedInstagram("shop", 3*day)
		bare := w.longLived(w.newUser("bare"), 3*day)
		w.storeVersion("bare", []byte(bare+"\n"), time.Now().Add(-3*day))
		w.env["THREADS_SECRETS"] = "main,shop,bare"

		r := w.run("run")
		if r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		rep := parseReport(t, r.stdout)
		for account, platform := range map[string]string{"main": "threads", "shop": "instagram", "bare": "threads"} {
			if got := resultOf(t, rep, account); got != "refreshed" {
				t.Errorf("%s: %s, want refreshed", account, got)
			}
			if got := platformOf(t, rep, account); got != platform {
				t.Errorf("%s: platform %q, want %q", account, got, platform)
			}
		}
		if th, ig := w.th.Calls(threadsfake.PathRefresh), w.ig.Calls(threadsfake.PathRefresh); th != 2 || ig != 1 {
			t.Errorf("refresh calls: Threads %d, Instagram %d; want 2 (main, bare) and 1 (shop)", th, ig)
		}
		// Besides, Threads inspects each adopted token and each new one;
		// Instagram has no inspection.
		if n, insp := w.th.TotalCalls()+w.ig.TotalCalls(), w.th.Calls(threadsfake.PathDebugToken); n != 7 || insp != 4 {
			t.Errorf("%d calls to Meta, %d inspections; want the 3 refreshes and 4 Threads inspections", n, insp)
		}

		p := w.newest("shop")
		if tok, _ := p["access_token"].(string); tok == oldIG || !w.ig.Valid(tok) || p["platform"] != "instagram" || p["expires_in"] == nil {
			t.Errorf("shop's new payload: platform %v, a new valid Instagram token %v; want both", p["platform"], w.ig.Valid(tok))
		}
		if tok := w.newestToken("main"); tok == oldTh || !w.th.Valid(tok) {
			t.Error("main's new payload does not hold a new Threads token")
		}
		vs := w.versions("bare")
		if got := string(vs[len(vs)-1].payload); got == bare || !w.th.Valid(got) {
			t.Error("the bare payload was not replaced by a bare new Threads token")
		}

		for _, line := range jsonLogs(t, r.stderr) {
			if line["message"] != "account processed" {
				continue
			}
			want := map[string]string{"main": "threads", "shop": "instagram", "bare": "threads"}[line["account"].(string)]
			if line["platform"] != want {
				t.Errorf("log line %v, want platform %s", line, want)
			}
		}

		r = w.run("status", "--json")
		if platformOf(t, parseReport(t, r.stdout), "shop") != "instagram" {
			t.Errorf("status --json does not give shop's platform: %s", r.stdout)
		}
		r = w.run("status")
		for _, l := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "shop" && (f[1] != "instagram" || f[2] != "@user_shop") {
				t.Errorf("status row of shop %q, want platform instagram and user @user_shop", l)
			}
		}
	})
}

// TestInstagramAdd: add --platform instagram checks the token with
// Instagram's /me and stores the Instagram payload; a refused token stores
// nothing.
func TestInstagramAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("shop")
		u := w.newUser("shop")
		tok := w.igLongLived(u, 0)
		r := w.runIn(tok+"\n", "add", "--platform", "instagram", "shop")
		if r.code != 0 {
			t.Fatalf("add --platform instagram: %v", r)
		}
		if !strings.Contains(r.stdout, "@"+u.name+" (Instagram user "+u.id+")") {
			t.Errorf("add does not say whose Instagram token it stored:\n%s", r.stdout)
		}
		wantStoredFor(t, w, "shop", "instagram", tok, u)
		if w.ig.Calls(threadsfake.PathInstagramMe) != 1 || w.th.TotalCalls() != 0 {
			t.Errorf("calls: Instagram /me %d, Threads %d; want 1 and 0", w.ig.Calls(threadsfake.PathInstagramMe), w.th.TotalCalls())
		}

		// The next pass adopts it as an Instagram account.
		w.env["THREADS_SECRETS"] = "shop"
		rep := parseReport(t, w.run("run").stdout)
		if resultOf(t, rep, "shop") != "rolled_forward" || platformOf(t, rep, "shop") != "instagram" {
			t.Errorf("the pass after add: %+v", rep)
		}

		w.terraform("dead")
		expired := w.igLongLived(w.newUser("dead"), 61*day)
		r = w.runIn(expired, "add", "--platform", "instagram", "dead")
		if line := wantOneLine(t, "add of an expired Instagram token", r.stderr); r.code != 1 ||
			!strings.Contains(line, "account dead") || !strings.Contains(line, "Instagram: token expired (code 190/463)") {
			t.Errorf("add of an expired Instagram token: want exit 1 and Instagram's refusal, got %v", r)
		}
		wantNothingStored(t, w, "dead")
	})
}

// TestInstagramExchange: the short-lived token is exchanged with the
// Instagram app secret (variable or file), never Threads'.
func TestInstagramExchange(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("shop")
		w.terraform("main")
		u := w.newUser("shop")
		r := w.runCall(call{stdin: strings.NewReader(w.igShortLived(u, 10*time.Minute)), env: w.igEnv()},
			"exchange", "--platform", "instagram", "shop")
		if r.code != 0 {
			t.Fatalf("exchange --platform instagram: %v", r)
		}
		long := w.newestToken("shop")
		if info, ok := w.ig.Info(long); !ok || !info.LongLived || info.UserID != u.id {
			t.Errorf("the stored token is not a long-lived Instagram token of the user: %+v", info)
		}
		wantStoredFor(t, w, "shop", "instagram", long, u)

		secretFile := filepath.Join(t.TempDir(), "ig-secret")
		if err := os.WriteFile(secretFile, []byte(w.ig.AppSecret()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := w.igEnv()
		env["INSTAGRAM_APP_SECRET"] = unset
		u2 := w.newUser("main")
		r = w.runCall(call{stdin: strings.NewReader(w.igShortLived(u2, 0)), env: env},
			"exchange", "--platform", "instagram", "--app-secret-file", secretFile, "main")
		if r.code != 0 {
			t.Fatalf("exchange --platform instagram --app-secret-file: %v", r)
		}
		wantStoredFor(t, w, "main", "instagram", w.newestToken("main"), u2)
	})
}

// TestInstagramExchangeFailures: a wrong app secret (Threads' included) or an
// expired short-lived token gives one line with Instagram's refusal, exit 1,
// and nothing stored; a missing INSTAGRAM_APP_SECRET is named, exit 2.
func TestInstagramExchangeFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		u := w.newUser("main")
		wrong := "0123456789abcdef0123456789abcdef"
		w.forbid(wrong)
		tests := []struct {
			name, short, secret, message string
		}{
			{"wrong app secret", w.igShortLived(u, 0), wrong, "Error validating client secret"},
			// Threads' app secret is not Instagram's.
			{"Threads' app secret", w.igShortLived(u, 0), w.th.AppSecret(), "Error validating client secret"},
			{"expired short-lived token", w.igShortLived(u, 2*time.Hour), w.ig.AppSecret(), "Session has expired"},
		}
		for _, tt := range tests {
			env := w.igEnv()
			env["INSTAGRAM_APP_SECRET"] = tt.secret
			r := w.runCall(call{stdin: strings.NewReader(tt.short), env: env}, "exchange", "--platform", "instagram", "main")
			wantAccountFailure(t, tt.name, r, tt.message)
			if line := lastLine(r.stderr); !strings.Contains(line, "Instagram") {
				t.Errorf("%s: the line does not name Instagram: %q", tt.name, line)
			}
		}

		// Only THREADS_APP_SECRET set: the command says which variable it needs.
		env := w.igEnv()
		env["INSTAGRAM_APP_SECRET"] = unset
		r := w.runCall(call{stdin: strings.NewReader(w.igShortLived(u, 0)), env: env}, "exchange", "--platform", "instagram", "main")
		if line := wantOneLine(t, "exchange without INSTAGRAM_APP_SECRET", r.stderr); r.code != 2 || !strings.Contains(line, "INSTAGRAM_APP_SECRET") {
			t.Errorf("exchange without INSTAGRAM_APP_SECRET: want exit 2 naming it, got %v", r)
		}
		wantNothingStored(t, w, "main")
		if n := w.ig.Calls(threadsfake.PathInstagramMe) + w.th.TotalCalls(); n != 0 {
			t.Errorf("%d /me or Threads calls after failed exchanges", n)
		}
	})
}

// TestInstagramLogin: the authorize URL is Instagram's with the Instagram
// app and instagram_business_basic; the code ("#_" and all) is exchanged on
// Instagram's OAuth host, in either answer shape; a wrong state or app
// secret stores nothing.
func TestInstagramLogin(t *testing.T) {
	const redirect = "https://example.com/instagram/callback"
	for _, shape := range []string{"data", "flat"} {
		t.Run(shape, func(t *testing.T) {
			eachStore(t, func(t *testing.T, w *world) {
				if shape == "flat" {
					w.startInstagram(threadsfake.FlatCodeAnswer())
				}
				w.terraform("shop")
				u := w.newUser("shop")
				args := []string{"--platform", "instagram", "--redirect-uri", redirect, "shop"}
				paste := func(state string) func(*url.URL) string {
					return func(a *url.URL) string {
						code := w.ig.IssueCode(w.ig.AppID(), redirect, u.id, u.name)
						w.forbid(code)
						if state == "" {
							state = a.Query().Get("state")
						}
						return redirect + "?code=" + url.QueryEscape(code) + "&state=" + state + "#_"
					}
				}

				// A wrong state: refused before any exchange.
				r, _ := w.login(t, args, w.igEnv(), paste("0123456789abcdef0123456789abcdef"))
				if line := lastLine(r.stderr); r.code != 2 || !strings.Contains(line, "state does not match") {
					t.Errorf("wrong state: want exit 2 and the state named, got %v", r)
				}

				// A wrong app secret: Instagram's refusal of the code exchange.
				env := w.igEnv()
				env["INSTAGRAM_APP_SECRET"] = "fedcba9876543210fedcba9876543210"
				w.forbid(env["INSTAGRAM_APP_SECRET"])
				r, _ = w.login(t, args, env, paste(""))
				if line := lastLine(r.stderr); r.code != 1 || !strings.Contains(line, "account shop") || !strings.Contains(line, "Error validating client secret") {
					t.Errorf("wrong app secret: want exit 1 and Meta's message, got %v", r)
				}
				wantNothingStored(t, w, "shop")
				if n := w.ig.Calls(threadsfake.PathExchange); n != 0 {
					t.Errorf("a refused login exchanged a token %d times", n)
				}

				r, authorize := w.login(t, args, w.igEnv(), paste(""))
				if r.code != 0 {
					t.Fatalf("login --platform instagram: %v", r)
				}
				if authorize.Scheme != "https" || authorize.Host != "www.instagram.com" || authorize.Path != "/oauth/authorize" {
					t.Errorf("authorize URL %s is not https://www.instagram.com/oauth/authorize", authorize.Redacted())
				}
				q := authorize.Query()
				for k, want := range map[string]string{
					"client_id": w.ig.AppID(), "redirect_uri": redirect, "scope": "instagram_business_basic", "response_type": "code",
				} {
					if got := q.Get(k); got != want {
						t.Errorf("authorize URL %s = %q, want %q", k, got, want)
					}
				}
				tok := w.newestToken("shop")
				if info, ok := w.ig.Info(tok); !ok || !info.LongLived || info.UserID != u.id {
					t.Errorf("the stored token is not a long-lived Instagram token of the user: %+v", info)
				}
				wantStoredFor(t, w, "shop", "instagram", tok, u)
				if w.th.TotalCalls() != 0 {
					t.Errorf("an Instagram login called Threads %d times", w.th.TotalCalls())
				}
			})
		})
	}
}

// TestPlatformFlagRefused: an unknown --platform is refused with one line
// naming the flag, exit 2, before anything is read or stored.
func TestPlatformFlagRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	for _, args := range [][]string{
		{"add", "--platform", "myspace", "main"},
		{"exchange", "--platform", "facebook", "main"},
		{"login", "--platform", "", "--redirect-uri", "https://example.com/cb", "main"},
	} {
		r := w.runIn("THAAnotreadatall", args...)
		line := wantOneLine(t, strings.Join(args, " "), r.stderr)
		if r.code != 2 || !strings.Contains(line, "--platform") || !strings.Contains(line, "threads or instagram") {
			t.Errorf("refresher %s: want exit 2 and one line naming --platform and its values, got %v", strings.Join(args, " "), r)
		}
	}
	wantNothingStored(t, w, "main")
}

// TestDeadTokenAndPermissionEndToEnd: a refresh refused with code 100 is
// needs_reauth when /me refuses the token too and failed when /me works; a
// missing permission is needs_reauth naming the permission; needs_reauth
// accounts are not sent to Meta again.
func TestDeadTokenAndPermissionEndToEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.seed("dead", 3*day)
		w.seed("alive", 3*day)
		w.seedInstagram("igdead", 3*day)
		w.seedInstagram("igperm", 3*day)
		w.seed("thperm", 3*day)

		tests := []struct {
			account string
			fake    *threadsfake.Server
			fail    map[string]threadsfake.Failure // path: failure
			result  string
			texts   []string
		}{
			{"dead", w.th, map[string]threadsfake.Failure{threadsfake.PathRefresh: threadsfake.Unsupported, threadsfake.PathMe: threadsfake.Unsupported},
				"needs_reauth", []string{"Threads: unsupported request (code 100/33)", "fails /me too", "reading Threads user"}},
			{"alive", w.th, map[string]threadsfake.Failure{threadsfake.PathRefresh: threadsfake.Unsupported},
				"failed", []string{"Threads: unsupported request (code 100/33)"}},
			{"igdead", w.ig, map[string]threadsfake.Failure{threadsfake.PathRefresh: threadsfake.Unsupported, threadsfake.PathInstagramMe: threadsfake.Revoked},
				"needs_reauth", []string{"Instagram: unsupported request (code 100/33)", "Instagram: session invalidated"}},
			{"igperm", w.ig, map[string]threadsfake.Failure{threadsfake.PathRefresh: threadsfake.PermissionMissing},
				"needs_reauth", []string{"Instagram: permission missing (code 10)", "instagram_business_basic"}},
			{"thperm", w.th, map[string]threadsfake.Failure{threadsfake.PathRefresh: threadsfake.PermissionDenied},
				"needs_reauth", []string{"Threads: permission missing (code 200)", "threads_basic"}},
		}
		// One account a pass, so that each one meets its own failures.
		for _, tt := range tests {
			w.env["THREADS_SECRETS"] = tt.account
			for path, f := range tt.fail {
				tt.fake.FailNext(path, f, 1)
			}
			refreshes := tt.fake.Calls(threadsfake.PathRefresh)
			r := w.run("run")
			rep := parseReport(t, r.stdout)
			if got := resultOf(t, rep, tt.account); r.code != 1 || got != tt.result {
				t.Errorf("%s: exit %d, %s; want exit 1 and %s", tt.account, r.code, got, tt.result)
			}
			for _, text := range tt.texts {
				if e := errorOf(rep, tt.account); !strings.Contains(e, text) {
					t.Errorf("%s: error %q does not say %q", tt.account, e, text)
				}
			}
			if n := tt.fake.Calls(threadsfake.PathRefresh) - refreshes; n != 1 {
				t.Errorf("%s: %d refresh calls, want 1", tt.account, n)
			}
		}

		// The next pass sends none of the needs_reauth tokens to Meta, and
		// status shows them all.
		w.env["THREADS_SECRETS"] = "dead,igdead,igperm,thperm"
		calls := w.th.TotalCalls() + w.ig.TotalCalls()
		rep := parseReport(t, w.run("run").stdout)
		for _, a := range rep.Accounts {
			if a.Result != "needs_reauth" {
				t.Errorf("%s: %s on the next pass, want needs_reauth", a.Account, a.Result)
			}
		}
		if n := w.th.TotalCalls() + w.ig.TotalCalls() - calls; n != 0 {
			t.Errorf("the next pass made %d calls to Meta for needs_reauth accounts", n)
		}
		status := parseReport(t, w.run("status", "--json").stdout)
		if platformOf(t, status, "igperm") != "instagram" || platformOf(t, status, "dead") != "threads" || *status.Failed != 4 {
			t.Errorf("status --json: %+v", status)
		}
	})
}

// TestUnknownPlatformPayload: a payload naming a platform the refresher
// does not know fails its account with one sentence, and no other.
func TestUnknownPlatformPayload(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.seed("main", 3*day)
		w.storeVersion("odd", []byte(`{"platform":"myspace","access_token":"MSAAsecretvalue123"}`), time.Now().Add(-time.Hour))
		w.forbid("MSAAsecretvalue123")
		w.env["THREADS_SECRETS"] = "main,odd"
		r := w.run("run")
		rep := parseReport(t, r.stdout)
		if resultOf(t, rep, "main") != "refreshed" || resultOf(t, rep, "odd") != "failed" || r.code != 1 {
			t.Fatalf("run: %v", r)
		}
		if e := errorOf(rep, "odd"); !strings.Contains(e, `"myspace"`) || !strings.Contains(e, "version 1") {
			t.Errorf("odd's error %q should name the version and the platform", e)
		}
		if n := w.ig.TotalCalls(); n != 0 {
			t.Errorf("Instagram called %d times", n)
		}
	})
}
