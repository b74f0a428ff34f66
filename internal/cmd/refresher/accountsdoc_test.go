package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/threads-token-refresher/threads-token-refresher/internal/statestore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestAccountsFromADocument: THREADS_SECRETS_DOCUMENT names the Firestore
// document that lists the accounts (the Terraform module's way: Cloud Run
// allows a service's environment variables 32 KiB in all, and 1,000
// secret IDs take 55 KB). A pass covers exactly the accounts it lists,
// read at each pass, so that an account added to the list is covered by
// the next pass without a new deployment of the function; a missing
// document fails the pass with a sentence that names it.
func TestAccountsFromADocument(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	w.seed("due", 3*day)
	w.seed("recent", 2*time.Hour)
	w.seed("later", 3*day)
	delete(w.env, "THREADS_SECRETS")
	w.env["THREADS_SECRETS_DOCUMENT"] = "deployments/test"

	ctx := context.Background()
	fs, err := firestore.NewClientWithDatabase(ctx, w.project, statestore.DefaultDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	list := func(ids string) {
		t.Helper()
		if _, err := fs.Doc("deployments/test").Set(ctx, map[string]any{statestore.AccountsField: ids}); err != nil {
			t.Fatal(err)
		}
	}

	list("due, recent")
	r := w.run("run")
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	rep := parseReport(t, r.stdout)
	if len(rep.Accounts) != 2 || resultOf(t, rep, "due") != "refreshed" || resultOf(t, rep, "recent") != "rolled_forward" {
		t.Fatalf("%s; want due refreshed and recent rolled forward, nothing else", r.stdout)
	}

	list("due,recent," + "projects/" + w.project + "/secrets/later")
	r = w.run("run")
	if got := resultOf(t, parseReport(t, r.stdout), "later"); r.code != 0 || got != "refreshed" {
		t.Fatalf("after adding later to the list: %s %v; want later refreshed", got, r)
	}
	if n := w.th.Calls(threadsfake.PathRefresh); n != 2 {
		t.Errorf("%d refreshes, want 2 (due, then later)", n)
	}

	if _, err := fs.Doc("deployments/test").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	r = w.run("run")
	if r.code == 0 || !strings.Contains(r.stderr, "deployments/test does not exist") {
		t.Errorf("without the document: %v; want a failure naming it", r)
	}
}
