package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// user is a Threads user the fake knows.
type user struct {
	id, name string
}

// newUser makes a distinct Threads user.
func (w *world) newUser(account string) user {
	w.mu.Lock()
	w.users++
	n := w.users
	w.mu.Unlock()
	return user{id: fmt.Sprintf("178414%08d", n), name: "user_" + account}
}

// longLived issues a long-lived Threads token issued age ago.
func (w *world) longLived(u user, age time.Duration) string { return w.issue(w.th, true, u, age) }

// shortLived issues a short-lived Threads token issued age ago.
func (w *world) shortLived(u user, age time.Duration) string { return w.issue(w.th, false, u, age) }

// issue has fake f issue a token, long- or short-lived, issued age ago.
func (w *world) issue(f *threadsfake.Server, long bool, u user, age time.Duration) string {
	issue := f.IssueShortLived
	if long {
		issue = f.IssueLongLived
	}
	tok := issue(u.id, u.name, time.Now().Add(-age))
	w.forbid(tok)
	return tok
}

// seed gives the account a long-lived Threads token issued age ago, stored
// as the secret's newest version created at that time, as `refresher add`
// would have stored it then.
func (w *world) seed(account string, age time.Duration) (string, user) {
	w.t.Helper()
	return w.seedOn(payload.PlatformThreads, w.th, account, age)
}

// seedOn is seed for the platform whose fake is f.
func (w *world) seedOn(platform string, f *threadsfake.Server, account string, age time.Duration) (string, user) {
	w.t.Helper()
	u := w.newUser(account)
	tok := w.issue(f, true, u, age)
	w.storeVersion(account, payload.NewFor(platform, tok, u.id, u.name), time.Now().Add(-age))
	return tok, u
}

// createSecret makes the account's secret with no version, as Terraform
// does in Google Cloud.
func (w *world) createSecret(account string) {
	w.t.Helper()
	switch w.kind {
	case local:
		s := w.openStore(nil)
		if _, err := s.CreateSecret(context.Background(), account); err != nil {
			w.t.Fatal(err)
		}
	case google:
		w.sm.CreateSecret(w.secretName(account))
	}
}

// terraform creates the account's secret in Google mode, as the Terraform
// module does; the local store needs nothing beforehand.
func (w *world) terraform(account string) {
	if w.kind == google {
		w.createSecret(account)
	}
}

func (w *world) storeVersion(account string, p []byte, created time.Time) {
	w.t.Helper()
	switch w.kind {
	case local:
		s := w.openStore(func() time.Time { return created })
		a, err := s.CreateSecret(context.Background(), account)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := s.Add(context.Background(), a, p); err != nil {
			w.t.Fatal(err)
		}
	case google:
		name := w.secretName(account)
		if !w.sm.HasSecret(name) {
			w.sm.CreateSecret(name)
		}
		w.sm.AddVersion(name, p, created)
	}
}

// openStore opens the world's database as another process would; now is
// its clock (nil: the real one).
func (w *world) openStore(now func() time.Time) *localstore.Store {
	w.t.Helper()
	s, err := localstore.Open(w.db, localstore.Options{Now: now})
	if err != nil {
		w.t.Fatalf("opening the local store: %v", err)
	}
	w.t.Cleanup(func() { s.Close() })
	return s
}

func (w *world) secretName(account string) string {
	return "projects/" + w.project + "/secrets/" + account
}

// stored is one version of an account's secret, as the store holds it.
type stored struct {
	number  int64
	enabled bool
	payload []byte
}

// versions lists the account's versions, oldest first; none when the
// secret (or the database) does not exist.
func (w *world) versions(account string) []stored {
	w.t.Helper()
	var out []stored
	switch w.kind {
	case local:
		if _, err := os.Stat(w.db); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		s := w.openStore(nil)
		a := s.Account(account)
		vs, err := s.Versions(context.Background(), a)
		if errors.Is(err, refresh.ErrNotFound) {
			return nil
		}
		if err != nil {
			w.t.Fatal(err)
		}
		for _, v := range vs {
			st := stored{number: v.Number, enabled: v.State == refresh.VersionEnabled}
			if st.enabled {
				if st.payload, err = s.Access(context.Background(), a, v); err != nil {
					w.t.Fatal(err)
				}
			}
			out = append(out, st)
		}
	case google:
		if !w.sm.HasSecret(w.secretName(account)) {
			return nil
		}
		for _, v := range w.sm.Versions(w.secretName(account)) {
			out = append(out, stored{number: v.Number, enabled: v.State.String() == "ENABLED", payload: v.Payload})
		}
	}
	return out
}

// newest returns the payload of the account's newest version as a map.
func (w *world) newest(account string) map[string]any {
	w.t.Helper()
	vs := w.versions(account)
	if len(vs) == 0 {
		w.t.Fatalf("account %s has no version", account)
	}
	var m map[string]any
	if err := json.Unmarshal(vs[len(vs)-1].payload, &m); err != nil {
		w.t.Fatalf("the newest payload of %s is not a JSON object: %v", account, err)
	}
	return m
}

// newestToken returns the access_token of the account's newest version.
func (w *world) newestToken(account string) string {
	w.t.Helper()
	tok, _ := w.newest(account)["access_token"].(string)
	return tok
}
