package refresh

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// This file spreads the accounts' refreshes over the day (Engine.Spread).
// Accounts onboarded together, or all refreshed by one pass after an
// outage, come due together every day after: a herd of N accounts a pass
// (each one a list, an access and two writes of Secret Manager's
// per-minute quotas) where N/24 an hour would do. Each account gets a
// phase of its own in a cycle of SpreadPeriod, and a token that comes due
// by age waits for its account's next phase: a herd is spread over one
// cycle by its next refresh, and stays spread.

// SpreadPeriod is the cycle the accounts' phases divide. It is 25 hours,
// not 24, because that is the cadence the default deployment already has:
// with hourly passes and REFRESH_AFTER 24h, a token refreshed by one pass
// is 24 hours old a few seconds after the same hour next day, so the pass
// an hour later refreshes it. An account pinned to a 25-hour cycle keeps
// that cadence and never waits once it is on its phase; a 24-hour cycle
// would make it wait a day every other refresh. It is also the most a
// token waits past REFRESH_AFTER for its phase: the bound the spread adds
// to a token's age (README, "The clocks"). A token is never kept past its
// DueMargin nor refreshed younger than MinRefreshAge for it.
const SpreadPeriod = 25 * time.Hour

// spreadSlack is how long after a phase instant a token may come due by
// age and still be taken as on that phase: it is refreshed as soon as it
// is due, not a cycle later. A token is refreshed some seconds into the
// pass after its phase (the batched read, the store calls before it, its
// place among the accounts of that pass), so its next due instant lands
// that long after its next phase instant; ten minutes covers a pass's
// reads and a paced herd's Secret Manager waits, and at 1,000 accounts (40
// a pass) moves at most seven accounts of a herd into the pass after
// their phase's.
const spreadSlack = 10 * time.Minute

// phase is an account's place in the spread cycle: its refreshes by age
// fall on instants offset past a multiple of SpreadPeriod since the Unix
// epoch. The zero phase pins nothing (Engine.Spread is off).
type phase struct {
	offset time.Duration
	set    bool
}

// phases gives each account its phase: the accounts are ranked by a hash
// of their ID, and the r-th of n takes r × SpreadPeriod / n, so that the
// phases are evenly spaced (a hash alone would bunch them: at 1,000
// accounts its busiest hour holds about 55 of them, not 40) and each
// account keeps about its place when accounts come and go (one added or
// removed moves every other phase by at most SpreadPeriod / n). Nil when
// the engine does not spread.
func (e *Engine) phases(accounts []Account) map[string]phase {
	if !e.Spread || len(accounts) == 0 {
		return nil
	}
	type ranked struct {
		id   string
		hash uint64
	}
	rs := make([]ranked, len(accounts))
	for i, a := range accounts {
		h := fnv.New64a()
		h.Write([]byte(a.ID))
		rs[i] = ranked{a.ID, h.Sum64()}
	}
	slices.SortFunc(rs, func(x, y ranked) int {
		return cmp.Or(cmp.Compare(x.hash, y.hash), strings.Compare(x.id, y.id))
	})
	step := SpreadPeriod / time.Duration(len(rs))
	m := make(map[string]phase, len(rs))
	for r, x := range rs {
		m[x.id] = phase{offset: time.Duration(r) * step, set: true}
	}
	return m
}

// unixEpoch is where the phases' cycles are counted from.
var unixEpoch = time.Unix(0, 0)

// pin returns when a token that comes due by age at t is due: at the
// first instant of the account's phase from spreadSlack before t on, and
// never before t. So it waits less than SpreadPeriod.
func (p phase) pin(t time.Time) time.Time {
	from := t.Add(-spreadSlack)
	if !p.set || from.Before(unixEpoch) {
		return t
	}
	period := int64(SpreadPeriod)
	since := from.UnixNano() - int64(p.offset)
	cycles := (since + period - 1) / period // since ≥ -period: rounds up
	return latest(time.Unix(0, cycles*period+int64(p.offset)), t)
}

// urgency orders the accounts of a pass, most urgent first: those without
// known clocks (their token may be old), then by when they came due, so
// that accounts a pass skipped (its deadline, or the secret store's
// quotas) come first in the next one; ties by the earlier end of the
// token's life, then the configured order. Fresh accounts cost nothing,
// wherever they are.
func (e *Engine) urgency(accounts []Account, states map[string]State, phases map[string]phase) []int {
	type key struct {
		i        int
		due, end time.Time
	}
	keys := make([]key, len(accounts))
	for i, a := range accounts {
		k := key{i: i}
		if st, ok := states[a.ID]; ok && st.Known() && !st.IssuedAt.IsZero() {
			k.due = e.dueAt(st, phases[a.ID])
			k.end, _ = lifeEnds(st.ExpiresAt, st.DataAccessExpiresAt)
		}
		keys[i] = k
	}
	slices.SortStableFunc(keys, func(x, y key) int {
		return cmp.Or(x.due.Compare(y.due), x.end.Compare(y.end))
	})
	order := make([]int, len(keys))
	for j, k := range keys {
		order[j] = k.i
	}
	return order
}
