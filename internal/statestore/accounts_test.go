package statestore

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestAccountList reads the account list as the Terraform module writes
// it (a string field "secrets"), and says what is wrong when it cannot.
func TestAccountList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "threads-token-account-" + strings.Repeat("0", 28) + string(rune('a'+i%26))
	}
	want := strings.Join(ids, ",")
	if _, err := e.raw.Doc("deployments/main").Set(ctx, map[string]any{AccountsField: want}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.store.AccountList(ctx, "deployments/main"); err != nil || got != want {
		t.Fatalf("AccountList = %d characters, %v; want the %d written", len(got), err, len(want))
	}

	if _, err := e.store.AccountList(ctx, "deployments/missing"); !errors.Is(err, ErrNoAccountList) || !strings.Contains(err.Error(), "deployments/missing") {
		t.Errorf("a missing document: %v, want ErrNoAccountList naming it", err)
	}
	if _, err := e.raw.Doc("deployments/other").Set(ctx, map[string]any{"accounts": "a,b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AccountList(ctx, "deployments/other"); !errors.Is(err, ErrNoAccountList) || !strings.Contains(err.Error(), `"secrets"`) {
		t.Errorf("a document without the field: %v, want ErrNoAccountList naming the field", err)
	}
	if _, err := e.raw.Doc("deployments/array").Set(ctx, map[string]any{AccountsField: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AccountList(ctx, "deployments/array"); err == nil || !strings.Contains(err.Error(), "not a string") {
		t.Errorf("an array instead of a string: %v", err)
	}
	if _, err := e.store.AccountList(ctx, "deployments"); err == nil {
		t.Error("a collection path was read as a document")
	}
}
