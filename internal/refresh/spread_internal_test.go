package refresh

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func accountsNamed(n int, format string) []Account {
	as := make([]Account, n)
	for i := range as {
		id := fmt.Sprintf(format, i)
		as[i] = Account{ID: id, Secret: "projects/p/secrets/" + id}
	}
	return as
}

// TestPhasesAreEven: the phases divide the cycle evenly, whatever the
// accounts are called, so that every hour of it holds N/25 accounts (a
// hash alone puts about 55 of 1,000 in its busiest hour), and one account
// more moves each other's phase by at most one step.
func TestPhasesAreEven(t *testing.T) {
	t.Parallel()
	e := &Engine{Spread: true}
	for _, format := range []string{"acct-%05d", "brand-%d-jp", "x%d"} {
		accounts := accountsNamed(1000, format)
		phases := e.phases(accounts)
		perHour := map[time.Duration]int{}
		for _, a := range accounts {
			p := phases[a.ID]
			if !p.set || p.offset < 0 || p.offset >= SpreadPeriod {
				t.Fatalf("%s: phase %+v, want one within the cycle", a.ID, p)
			}
			perHour[p.offset.Truncate(time.Hour)]++
		}
		if len(perHour) != 25 {
			t.Errorf("%s: phases fall in %d hours of the cycle, want 25", format, len(perHour))
		}
		for h, n := range perHour {
			if n != 40 {
				t.Errorf("%s: hour %v of the cycle holds %d accounts, want 40", format, h, n)
			}
		}
		more := e.phases(append(accounts, Account{ID: "newcomer"}))
		step := SpreadPeriod / 1000
		for _, a := range accounts {
			if d := more[a.ID].offset - phases[a.ID].offset; d > step || d < -step {
				t.Errorf("%s: adding an account moved %s's phase by %v, more than a step (%v)", format, a.ID, d, step)
			}
		}
	}
	if (&Engine{}).phases(accountsNamed(3, "a%d")) != nil {
		t.Error("an engine that does not spread gave phases")
	}
}

// TestPinBounds: a token due by age at t waits for its phase, never less
// than nothing and less than a cycle; one that comes due just after its
// phase instant (a refresh some seconds into the pass after its phase) is
// on it and waits for nothing.
func TestPinBounds(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for range 100000 {
		p := phase{offset: time.Duration(r.Int64N(int64(SpreadPeriod))), set: true}
		at := base.Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
		got := p.pin(at)
		if got.Before(at) || !got.Before(at.Add(SpreadPeriod)) {
			t.Fatalf("pin(%v) with phase %v = %v: not within a cycle from it", at, p.offset, got)
		}
		onPhase := time.Duration(got.UnixNano()-int64(p.offset))%SpreadPeriod == 0
		if got.After(at) && !onPhase {
			t.Fatalf("pin(%v) with phase %v = %v: waits, but not for a phase instant", at, p.offset, got)
		}
		// One cycle's instant of this phase before at: within the slack,
		// at counts as on it.
		since := time.Duration(at.UnixNano()-int64(p.offset)) % SpreadPeriod
		if since <= spreadSlack && !got.Equal(at) {
			t.Fatalf("pin(%v) = %v: %v after its phase instant, within the slack, yet it waits", at, got, since)
		}
	}
	if t0 := base; (phase{}).pin(t0) != t0 {
		t.Error("the zero phase moved a due instant")
	}
}

// TestOnPhaseKeepsItsCadence: with REFRESH_AFTER 24h and hourly passes, an
// account refreshed at the pass after its phase instant (up to a few
// minutes into it) is due again at the pass after its next phase instant:
// every 25 hours, as without the spread, whatever its phase.
func TestOnPhaseKeepsItsCadence(t *testing.T) {
	t.Parallel()
	e := &Engine{RefreshAfter: 24 * time.Hour, Spread: true}
	base := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	for _, offset := range []time.Duration{0, time.Second, 30 * time.Minute, 59 * time.Minute, 24*time.Hour + 59*time.Minute} {
		for _, late := range []time.Duration{0, 3 * time.Second, 5 * time.Minute} {
			p := phase{offset: offset, set: true}
			// The first pass at or after a phase instant.
			instant := p.pin(base)
			pass := instant.Truncate(time.Hour)
			if pass.Before(instant) {
				pass = pass.Add(time.Hour)
			}
			for cycle := range 10 {
				issued := pass.Add(late).Truncate(time.Second)
				st := State{Status: StatusOK, IssuedAt: issued, ExpiresAt: issued.Add(60 * 24 * time.Hour), ExpiryFrom: ClockMeta}
				due := e.dueAt(st, p)
				next := due.Truncate(time.Hour)
				if next.Before(due) {
					next = next.Add(time.Hour)
				}
				if got := next.Sub(pass); got != 25*time.Hour {
					t.Fatalf("phase %v, refreshed %v into its pass, cycle %d: next refresh %v later, want 25h", offset, late, cycle, got)
				}
				pass = next
			}
		}
	}
}
