package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// wantStored checks that the account's newest (and only) version is the
// payload `add` writes for the token and user.
func wantStored(t *testing.T, w *world, account, token string, u user) {
	t.Helper()
	wantStoredFor(t, w, account, "", token, u)
}

// wantStoredFor is wantStored for a platform other than Threads, whose
// payload names it ("" for Threads). Beside the token and its user, the
// payload records the token's clocks: Meta's, on Threads (debug_token);
// on Instagram, which has no inspection, those of the answer that issued
// it (exchange, login), or none (add).
func wantStoredFor(t *testing.T, w *world, account, platform, token string, u user) {
	t.Helper()
	vs := w.versions(account)
	if len(vs) != 1 {
		t.Fatalf("%s has %d versions, want 1", account, len(vs))
	}
	got := w.newest(account)
	want := map[string]any{"access_token": token, "user_id": u.id, "username": u.name}
	fake := w.th
	if platform != "" {
		want["platform"] = platform
		fake = w.ig
	}
	info, _ := fake.Info(token)
	unix := func(t time.Time) any { return float64(t.Unix()) }
	switch {
	case platform == "":
		want["clocks_from"], want["issued_at"], want["expires_at"] = "meta", unix(info.IssuedAt), unix(info.ExpiresAt)
		want["data_access_expires_at"] = unix(fake.DataAccess(u.id))
	case got["clocks_from"] != nil:
		// The answer's expires_in, counted from when onboarding got it.
		want["clocks_from"] = "refresh"
		issued, _ := got["issued_at"].(float64)
		want["issued_at"], want["expires_at"] = issued, issued+threadsfake.DefaultExpiresIn
		if d := time.Unix(int64(issued), 0).Sub(info.IssuedAt); d <= -time.Second || d > time.Minute {
			t.Errorf("issued_at %v is not when the token was issued (%v)", got["issued_at"], info.IssuedAt)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored payload has fields %v, want exactly %v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stored %s = %v, want %v", k, got[k], v)
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func wantNothingStored(t *testing.T, w *world, account string) {
	t.Helper()
	if vs := w.versions(account); len(vs) != 0 {
		t.Errorf("%s has %d versions, want none", account, len(vs))
	}
}

// wantAccountFailure asserts a failure of account main: exit 1, nothing on
// stdout, and one line naming the account and saying message.
func wantAccountFailure(t *testing.T, what string, r result, message string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Errorf("%s: want exit 1 and nothing on stdout, got %v", what, r)
	}
	line := wantOneLine(t, what, r.stderr)
	if !strings.Contains(line, "account main") || !strings.Contains(line, message) {
		t.Errorf("%s: the line should name the account and say %q: %q", what, message, line)
	}
}

func TestAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		if w.kind == google {
			w.terraform("main") // as Terraform does
			w.terraform("other")
		}

		// From standard input, as `refresher add main < token.txt`.
		u := w.newUser("main")
		tok := w.longLived(u, 0)
		r := w.runIn(tok+"\n", "add", "main")
		if r.code != 0 {
			t.Fatalf("add from stdin: %v", r)
		}
		if !strings.Contains(r.stdout, "@"+u.name) {
			t.Errorf("add does not say whose token it stored:\n%s", r.stdout)
		}
		wantStored(t, w, "main", tok, u)
		if n := w.th.Calls(threadsfake.PathMe); n != 1 {
			t.Errorf("add called /v1.0/me %d times, want 1", n)
		}

		// From a file.
		u2 := w.newUser("other")
		tok2 := w.longLived(u2, 0)
		file := filepath.Join(t.TempDir(), "token.txt")
		if err := os.WriteFile(file, []byte(tok2+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = w.run("add", "--token-file", file, "other")
		if r.code != 0 {
			t.Fatalf("add --token-file: %v", r)
		}
		wantStored(t, w, "other", tok2, u2)
		if w.kind == google && !strings.Contains(r.stdout, "not in THREADS_SECRETS") {
			t.Errorf("add of an account the function does not list gives no warning:\n%s", r.stdout)
		}

		// The token command gives it back, and the next pass adopts it.
		if r := w.run("token", "main"); r.stdout != tok+"\n" {
			t.Errorf("token main after add: %v", r)
		}
		w.env["THREADS_SECRETS"] = "main,other"
		r = w.run("run")
		rep := parseReport(t, r.stdout)
		if r.code != 0 || resultOf(t, rep, "main") != "rolled_forward" || resultOf(t, rep, "other") != "rolled_forward" {
			t.Errorf("the pass after add did not adopt both tokens: %v", r)
		}
	})
}

func TestAddLocalCreatesPrivateDatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	tok := w.longLived(w.newUser("main"), 0)
	if r := w.runIn(tok, "add", "main"); r.code != 0 {
		t.Fatalf("add: %v", r)
	}
	fi, err := os.Stat(w.db)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("database mode %#o, want 0600", m)
	}
	for dir := filepath.Dir(w.db); dir != filepath.Dir(filepath.Dir(filepath.Dir(w.db))); dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("directory %s mode %#o, want 0700", dir, m)
		}
	}
	// A pass keeps it private.
	if r := w.run("run"); r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	if fi, err := os.Stat(w.db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after run: %v, %v", fi.Mode(), err)
	}
}

func TestAddGoogleSecretMustExistUnlessCreate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	u := w.newUser("main")
	tok := w.longLived(u, 0)

	r := w.runIn(tok, "add", "main")
	if r.code != 1 {
		t.Errorf("add to a missing secret: want exit 1, got %v", r)
	}
	line := wantOneLine(t, "add to a missing secret", r.stderr)
	for _, want := range []string{"main", "--create", "does not exist"} {
		if !strings.Contains(line, want) {
			t.Errorf("the line does not say %q: %q", want, line)
		}
	}
	if w.sm.HasSecret(w.secretName("main")) {
		t.Error("the secret was created without --create")
	}

	r = w.runIn(tok, "add", "--create", "main")
	if r.code != 0 {
		t.Fatalf("add --create: %v", r)
	}
	wantStored(t, w, "main", tok, u)
	if got := w.sm.Labels(w.secretName("main"))["managed-by"]; got != "threads-token-refresher" {
		t.Errorf("label managed-by = %q, want threads-token-refresher", got)
	}

	// --create on an existing secret adds a version to it.
	tok2 := w.longLived(u, 0)
	if r := w.runIn(tok2, "add", "--create", "main"); r.code != 0 {
		t.Fatalf("add --create to an existing secret: %v", r)
	}
	if got := w.newestToken("main"); got != tok2 || len(w.versions("main")) != 2 {
		t.Errorf("the second add did not store a second version")
	}
}

// TestAddRefusedToken: a token Threads refuses gives one line naming the
// account and Meta's message, exit 1, and nothing stored.
func TestAddRefusedToken(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		expired := w.longLived(w.newUser("main"), 61*24*time.Hour)
		revoked := w.longLived(w.newUser("main"), time.Hour)
		w.th.Revoke(revoked)
		tests := []struct {
			name, token, message string
		}{
			{"expired", expired, "Session has expired"},
			{"revoked", revoked, "session has been invalidated"},
			{"unknown", "THAAnotatokenthefakeeverissued", "Cannot parse access token"},
		}
		for _, tt := range tests {
			wantAccountFailure(t, tt.name+" token", w.runIn(tt.token+"\n", "add", "main"), tt.message)
		}
		wantNothingStored(t, w, "main")
	})
}

// TestAddOldTokenIsRefreshedAtOnce: a token Meta issued 59.5 days ago,
// added now, has 12 hours left. `add` says so, from Meta's inspection, and
// the first pass refreshes it. An Instagram token, which Meta will not
// inspect, is refreshed by the first pass too: its age is unknown, and a
// refresh is the way to find out.
func TestAddOldTokenIsRefreshedAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		if w.kind == google {
			w.terraform("main")
			w.terraform("shop")
		}
		old := w.longLived(w.newUser("main"), 59*day+12*time.Hour)
		r := w.runIn(old+"\n", "add", "main")
		if r.code != 0 || !strings.Contains(r.stdout, "Threads says the token expires ") || !strings.Contains(r.stdout, "(in 11h59m") && !strings.Contains(r.stdout, "(in 12h0m") {
			t.Fatalf("add: %v, want it to say the token has 12 hours left", r)
		}
		igOld := w.issue(w.ig, true, w.newUser("shop"), 59*day+12*time.Hour)
		r = w.runIn(igOld+"\n", "add", "--platform", "instagram", "shop")
		if r.code != 0 || !strings.Contains(r.stdout, "Instagram does not say when this token was issued") {
			t.Fatalf("add --platform instagram: %v, want it to say the age is unknown", r)
		}
		w.env["THREADS_SECRETS"] = "main,shop"
		r = w.run("run")
		rep := parseReport(t, r.stdout)
		for _, account := range []string{"main", "shop"} {
			if a := accountIn(t, rep, account); a.Result != "refreshed" || a.HoursLeft == nil || *a.HoursLeft < 700 {
				t.Errorf("%s: %+v, want refreshed, with weeks left", account, a)
			}
		}
		if n := w.th.TooYoungRefreshes() + w.ig.TooYoungRefreshes(); n != 0 {
			t.Errorf("%d refreshes of a token younger than 24 hours", n)
		}
	})
}
