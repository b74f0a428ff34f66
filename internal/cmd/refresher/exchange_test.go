package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

func TestExchange(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		w.terraform("other")
		appSecret := w.th.AppSecret()

		// App secret from THREADS_APP_SECRET.
		u := w.newUser("main")
		short := w.shortLived(u, 10*time.Minute)
		r := w.runCall(call{stdin: strings.NewReader(short + "\n"), env: map[string]string{"THREADS_APP_SECRET": appSecret}}, "exchange", "main")
		if r.code != 0 {
			t.Fatalf("exchange: %v", r)
		}
		long := w.newestToken("main")
		wantStored(t, w, "main", long, u)
		if info, ok := w.th.Info(long); !ok || !info.LongLived || info.UserID != u.id {
			t.Errorf("the stored token is not a long-lived token of the user: %+v, %v", info, ok)
		}

		// App secret from a file, short-lived token from a file.
		u2 := w.newUser("other")
		short2 := w.shortLived(u2, 0)
		dir := t.TempDir()
		secretFile, tokenFile := filepath.Join(dir, "app-secret"), filepath.Join(dir, "short")
		if err := os.WriteFile(secretFile, []byte(appSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tokenFile, []byte(short2), 0o600); err != nil {
			t.Fatal(err)
		}
		r = w.runCall(call{env: map[string]string{"THREADS_APP_SECRET": unset}},
			"exchange", "--app-secret-file", secretFile, "--token-file", tokenFile, "other")
		if r.code != 0 {
			t.Fatalf("exchange --app-secret-file: %v", r)
		}
		long2 := w.newestToken("other")
		if info, ok := w.th.Info(long2); !ok || !info.LongLived || info.UserID != u2.id {
			t.Errorf("the stored token is not a long-lived token of the user: %+v, %v", info, ok)
		}
	})
}

func TestExchangeFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		u := w.newUser("main")
		wrongSecret := "0123456789abcdef0123456789abcdef"
		w.forbid(wrongSecret)
		tests := []struct {
			name      string
			short     string
			appSecret string
			message   string
		}{
			{"wrong app secret", w.shortLived(u, 0), wrongSecret, "Error validating client secret"},
			{"expired short-lived token", w.shortLived(u, 2*time.Hour), w.th.AppSecret(), "Session has expired"},
			{"long-lived token given", w.longLived(u, 0), w.th.AppSecret(), "Cannot parse access token"},
		}
		for _, tt := range tests {
			r := w.runCall(call{stdin: strings.NewReader(tt.short), env: map[string]string{"THREADS_APP_SECRET": tt.appSecret}}, "exchange", "main")
			wantAccountFailure(t, tt.name, r, tt.message)
		}
		wantNothingStored(t, w, "main")
		if n := w.th.Calls(threadsfake.PathMe); n != 0 {
			t.Errorf("/v1.0/me called %d times after failed exchanges", n)
		}
	})
}
