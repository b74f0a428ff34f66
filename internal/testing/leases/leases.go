// Package leases takes an account's lease the way a pass does, for the
// tests that need one held outside a pass ("another pass holds it"): the
// engine leases on condition that the record is still as its batched read
// saw it, so a lease is taken here by reading the record first.
package leases

import (
	"context"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Take reads the account's record and leases it to owner until the given
// time, on condition that the record is still as read. It returns the state
// under the lease, whose Rev Commit and Release need.
func Take(ctx context.Context, s refresh.StateStore, a refresh.Account, owner string, until time.Time) (refresh.State, error) {
	states, err := s.Load(ctx, []refresh.Account{a})
	if err != nil {
		return refresh.State{}, err
	}
	return s.Lease(ctx, a, owner, until, states[a.ID])
}
