package sim

import (
	"context"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// Meta's clocks, as the model keeps them (/work/shared/threads-api.md):
// debug_token, the 90-day data-access grant of private profiles, testers,
// and refresh answers that give a token less than the usual 60 days.
const (
	pathDebugToken = "/v1.0/debug_token"
	// dataAccessLife is how long the app may read a private profile's data
	// after the user logs in ("now valid for 90 days"). Meta does not say
	// whether a refresh extends it; here only a login does.
	dataAccessLife = 90 * 24 * time.Hour
	// alertHours is the life-left alert's threshold, Terraform's default
	// alert_if_hours_left_below: a person answers an alert about the data
	// access of a private profile, whose only fix is a new login.
	alertHours = 336
	// shortLifeMin and shortLifeMax bound the life a refresh answer gives
	// when it gives less than 60 days (rates.shortLife): from a little over
	// a day, so that a refresh at 24 hours can save it, to ten days.
	shortLifeMin = 30 * time.Hour
	shortLifeMax = 10 * 24 * time.Hour
)

// metaClocks is what the model knows of clocks beyond each token's own.
// Set before the run; the maps are read only after that.
type metaClocks struct {
	// testers: accounts whose tokens Meta lets inspect tokens.
	testers map[string]bool
	// private: accounts whose data access is a 90-day grant; grants holds
	// when each ends (under the model's lock).
	private map[string]bool
	grants  map[string]time.Time
	// told: Meta has answered an inspection of a token of the account
	// since its grant began (the engine could know the grant's end).
	told map[string]bool
	// json: accounts whose payload is JSON, into which the engine writes
	// a refreshed token's clocks.
	json map[string]bool
	// shortLife is the chance that a refresh answer gives a short life.
	shortLife float64

	// Counts for the summary, under the model's lock.
	inspections, refusedInspections, youngTries, shortLives int
}

// grantLocked renews a private profile's data access at a login.
func (m *model) grantLocked(account string, at time.Time) {
	if m.clocks.private[account] {
		if until := at.Add(dataAccessLife); until.After(m.clocks.grants[account]) {
			m.clocks.grants[account] = until
			m.clocks.told[account] = false
		}
	}
}

// accessEndedLocked reports whether the app may no longer read the
// account's data at now.
func (m *model) accessEndedLocked(account string, now time.Time) bool {
	until, ok := m.clocks.grants[account]
	return ok && !now.Before(until)
}

// lifeLocked is the expires_in of a refresh answer: Meta's usual value, or
// now and then a short life.
func (m *model) lifeLocked() int64 {
	if m.clocks.shortLife > 0 && m.rng.Float64() < m.clocks.shortLife {
		m.clocks.shortLives++
		return int64(shortLifeMin/time.Second) + m.rng.Int64N(int64((shortLifeMax-shortLifeMin)/time.Second))
	}
	return expiresIn
}

// debugToken answers GET /v1.0/debug_token as Meta's "Debug Access Token"
// page documents it: access_token must be a live token of a tester of the
// app (an error otherwise, whose shape Meta does not document), and the
// answer describes input_token in Unix seconds.
func (m *model) debugToken(w http.ResponseWriter, r *http.Request, now time.Time) {
	q := r.URL.Query()
	m.mu.Lock()
	defer m.mu.Unlock()
	inspector := m.tokens[q.Get("access_token")]
	switch {
	case inspector == nil || inspector.retired || !now.Before(inspector.expires):
		m.clocks.refusedInspections++
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{Message: "Invalid OAuth access token - Cannot parse access token", Type: "OAuthException", Code: 190})
		return
	case !m.clocks.testers[inspector.account]:
		m.clocks.refusedInspections++
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{Message: "(#100) The access token must belong to a Threads tester of the app.", Type: "OAuthException", Code: 100})
		return
	}
	t := m.tokens[q.Get("input_token")]
	if t == nil {
		threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"is_valid": false, "scopes": []string{}}})
		return
	}
	m.clocks.inspections++
	if a := actorOf(r.Context()); a != nil {
		t.inspected[a.id] = true
	}
	data := map[string]any{
		"type": "USER", "application": "sim", "user_id": "1789" + t.account,
		"issued_at": t.issued.Unix(), "expires_at": t.expires.Unix(),
		"is_valid": now.Before(t.expires) && !(t.retired && !t.retiredAt.After(now)),
		"scopes":   []string{"threads_basic"},
	}
	if until, ok := m.clocks.grants[t.account]; ok {
		data["data_access_expires_at"] = until.Unix()
		m.clocks.told[t.account] = true
	}
	threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"data": data})
}

// accessEnded reports whether the app may no longer read the account's
// data at now.
func (m *model) accessEnded(account string, now time.Time) (bool, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.accessEndedLocked(account, now), m.clocks.grants[account]
}

// knowableEnd is the end of t's useful life as far as Meta has told the
// engine: its expiry and, once Meta has answered an inspection of one of
// the account's tokens since the grant began, the end of its data access
// (only Meta's inspection tells it, and an inspection can fail). What Meta
// tells nobody (that a refresh killed the token) is not counted.
func (m *model) knowableEnd(t *token) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := t.expires
	if until, ok := m.clocks.grants[t.account]; ok && m.clocks.told[t.account] && until.Before(end) {
		end = until
	}
	return end
}

// wholeSecond is how much later than Meta's issued_at (whole seconds) the
// engine takes a token to have been issued, on the safe side: a token is
// due to it a second after it is 24 hours old.
const wholeSecond = time.Second

// wouldRefresh reports whether Meta would have refreshed t at, and the
// engine could have known it: alive, at least 24 hours old (and the
// second the engine allows Meta's clock), not replaced, the app's access
// to the data on.
func (m *model) wouldRefresh(t *token, at time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return at.Before(t.expires) && at.Sub(t.issued) >= minRefreshAge+wholeSecond &&
		!(t.retired && !t.retiredAt.After(at)) && !m.accessEndedLocked(t.account, at)
}

// clockCounts returns the summary's counts.
func (m *model) clockCounts() metaClocks {
	m.mu.Lock()
	defer m.mu.Unlock()
	return metaClocks{inspections: m.clocks.inspections, refusedInspections: m.clocks.refusedInspections,
		youngTries: m.clocks.youngTries, shortLives: m.clocks.shortLives}
}

// record notes that the state recorded t's issue time.
func (m *model) record(t *token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.recorded = true
}

// checkClocks checks a completed pass's line for account a against Meta's
// clocks (invariants 8 and 9), and has a person answer the life-left alert
// when it is about data access.
func (s *sim) checkClocks(a *simAccount, p *actor, r refresh.AccountReport, now time.Time) {
	n, ok := refresh.VersionNumber(r.Version)
	if !ok {
		return
	}
	t := s.tokenAt(a, n, now)
	if t == nil {
		return
	}
	if r.HoursLeft != nil {
		end := s.model.knowableEnd(t)
		if documented := t.issued.Add(expiresIn * time.Second); r.ExpiryFrom == string(refresh.ClockEstimate) && documented.After(end) {
			// An estimate rests on Meta's documented life, 60 days from the
			// issue: a shorter one, given in a refresh answer whose record
			// was lost (a bare payload, a state write that failed), nobody
			// can know until the next refresh, which the engine makes as
			// soon as the token is a day old.
			end = documented
		}
		if told := time.Duration(*r.HoursLeft) * time.Hour; told > end.Sub(now)+time.Hour {
			s.fail(8, now, "pass %d reported %d hours left for %s (version %d, expiry from %s); Meta's clocks leave %v",
				p.id, *r.HoursLeft, a.id, n, r.ExpiryFrom, end.Sub(now).Round(time.Minute))
		}
	}
	switch r.Result {
	case refresh.ResultFresh, refresh.ResultRolledForward:
		if life := t.expires.Sub(p.started); life < minRefreshAge && s.model.wouldRefresh(t, p.started) {
			s.fail(9, now, "pass %d, begun with %v left of the token of %s (version %d), reported %q though Meta would have refreshed it",
				p.id, life.Round(time.Minute), a.id, n, r.Result)
		}
	}
	if _, which := r.LifeEnds(); which == refresh.LifeDataAccess && r.HoursLeft != nil && *r.HoursLeft < alertHours && !a.pending && !s.quiet {
		// The life-left alert, about data access: a person logs in again.
		a.pending = true
		s.stats.accessRelogins++
		delay := time.Hour + time.Duration(s.rng.Int64N(int64(71*time.Hour)))
		s.push(now.Add(delay), func() {
			a.pending = false
			s.stats.relogins++
			s.personAdds(a, 0)
		})
	}
}

// tokenAt returns the token version n of a holds, reading the version if
// it was not read yet; nil when it cannot be read (destroyed since).
func (s *sim) tokenAt(a *simAccount, n int64, now time.Time) *token {
	if t, ok := a.tokens[n]; ok {
		return t
	}
	versions, err := calm(s.be, func() ([]refresh.Version, error) { return s.be.secrets.Versions(context.Background(), a.acct) })
	if err != nil {
		s.t.Fatalf("listing the versions of %s: %v", a.id, err)
	}
	for _, v := range versions {
		if v.Number == n && v.State == refresh.VersionEnabled {
			s.learn(a, v, now)
			return a.tokens[n]
		}
	}
	return nil
}

// noteRecorded tells the model which tokens the state records an issue
// time of: the engine may never send those to be refreshed young.
func (s *sim) noteRecorded(a *simAccount) {
	n, ok := refresh.VersionNumber(a.state.Version)
	if !ok || a.state.IssuedAt.IsZero() {
		return
	}
	if t := a.tokens[n]; t != nil {
		s.model.record(t)
	}
}
