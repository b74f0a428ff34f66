package service

import (
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
)

// The writes the accounts in flight can hold when a pass stops starting
// accounts must be stored before the function's timeout, 30 s after
// PASS_TIMEOUT in the Terraform module (function.tf), at the pace the
// budget allows; and a pass always works on at least one account.
func TestStoreWorkDrainsBeforeTheFunctionsTimeout(t *testing.T) {
	t.Parallel()
	const margin = 30 * time.Second
	for _, b := range []secretstore.Budgets{
		{Reads: 500, Writes: 500, Accesses: 80000, Window: time.Minute},
		{Reads: 6000, Writes: 6000, Accesses: 80000, Window: time.Minute},
		{Reads: 1, Writes: 1, Accesses: 1, Window: time.Minute},
	} {
		n := StoreWork(b)
		if n < 1 {
			t.Fatalf("StoreWork(%d writes a minute) = %d; a pass must work on at least one account", b.Writes, n)
		}
		if b.Writes < 4 {
			continue // one account's two writes alone take longer
		}
		if drain := time.Duration(2*n) * b.Window / time.Duration(b.Writes); drain > margin {
			t.Errorf("StoreWork(%d writes a minute) = %d accounts: their %d writes take %v to drain, more than the %v before the function's timeout", b.Writes, n, 2*n, drain, margin)
		}
	}
}
