package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// invariantNames name the invariants in failure messages; the package
// comment states them in full.
var invariantNames = map[int]string{
	1:  "the newest version's token is alive, or its death was reported for 14 days",
	2:  "no refresh of a token younger than 24 hours",
	3:  "one refresh makes one version; at most KEEP_VERSIONS+1 enabled",
	4:  "after faults stop, one pass makes the state agree with the secret",
	5:  "a dead token is reported needs_reauth, a live one never",
	6:  "no token in any log line, report or error",
	7:  "no retry of a rate-limited call without backing off",
	8:  "no reported hoursLeft beyond Meta's remaining life by more than an hour",
	9:  "no token with under a day to live left unrefreshed while Meta would refresh it",
	10: "every token Meta issues is stored, or its loss reported where an alert reads it",
	11: "one refresh per token, however long calls take",
	12: "no write that ends an account's work is lost to a cancelled pass",
	13: "what the alerts read tells the truth: lines, severities, hoursLeft, HTTP status",
}

// toldWindow is how long before a token dies its account must have been
// reported failed on every pass (invariant 1).
const toldWindow = 14 * 24 * time.Hour

// passFailed stands for every account of a pass that failed as a whole:
// its ERROR line tells a person as an account's does.
const passFailed refresh.Result = "pass failed"

// fail records a broken invariant; the first one fails the run.
func (s *sim) fail(inv int, at time.Time, format string, args ...any) {
	if s.first == nil {
		s.first = &violation{inv: inv, at: at, what: fmt.Sprintf(format, args...)}
	}
}

// report is the failure message: what broke, when, and how to replay it.
func (s *sim) report(test string) string {
	v := s.first
	pattern := "^" + strings.ReplaceAll(test, "/", "$/^") + "$"
	return fmt.Sprintf("seed %d: invariant %d (%s) broken at %s (day %d of the run): %s\nreplay: SIM_SEED=%d SIM_DAYS=%d go test -run '%s' ./internal/sim/ (SIM_TRACE=1 logs every call)",
		s.cfg.seed, v.inv, invariantNames[v.inv], v.at.Format(time.RFC3339Nano), day(v.at)+1, v.what,
		s.cfg.seed, s.cfg.days, pattern)
}

// record takes in what one ended pass told: its lines and its answer, as
// the alerts and Cloud Scheduler read them (alerts_test.go).
func (s *sim) record(a *actor, now time.Time) {
	// Output of a pass that died counts too: it was written.
	s.scan(a.body, now, fmt.Sprintf("the answer of pass %d", a.id))
	if out, err := json.Marshal(a.report); err == nil {
		s.scan(string(out), now, fmt.Sprintf("the report of pass %d", a.id))
	}
	if a.passErr != nil {
		s.scan(a.passErr.Error(), now, fmt.Sprintf("the error of pass %d", a.id))
	}
	if a.crashed {
		// What a dead process held is gone with it.
		s.model.takeIssued(a.id)
		for _, acct := range s.order {
			s.model.refused(a.id, acct.id)
		}
		return
	}
	results := s.alerts(a, now)
	s.conserve(a, results, now)
	s.leasesLeft(a, now)
	for _, acct := range s.order {
		refused := s.model.refused(a.id, acct.id)
		res := refresh.Result(results[acct.id])
		if res == "" {
			continue // a missing line: invariant 13
		}
		if refused && res != refresh.ResultNeedsReauth {
			s.fail(5, now, "Threads refused the token of %s (code 190) in pass %d, which reported %q", acct.id, a.id, res)
		}
		if r, ok := a.report.Find(acct.id); ok && a.passErr == nil {
			s.checkClocks(acct, a, r, now)
		}
		if res == refresh.ResultRefreshed {
			s.stats.refreshed++
		}
		if res == refresh.ResultNeedsReauth {
			acct.reauthFrom = a.started
		}
		acct.history = append(acct.history, told{at: now, began: a.started, result: res, actor: a.id})
		if old := now.Add(-toldWindow - 24*time.Hour); acct.history[0].at.Before(old) {
			i, _ := slices.BinarySearchFunc(acct.history, old, func(h told, t time.Time) int { return h.at.Compare(t) })
			acct.history = slices.Clone(acct.history[i:])
		}
		if res == refresh.ResultNeedsReauth && !acct.pending && !s.quiet {
			// The alert reaches a person, who logs in again within hours
			// or days.
			acct.pending = true
			delay := time.Hour + time.Duration(s.rng.Int64N(int64(71*time.Hour)))
			var age time.Duration
			if s.rng.Float64() < s.cfg.rates.oldHandAdd {
				age = s.oldAge()
				s.stats.oldAdds++
			}
			s.push(now.Add(delay), func() {
				acct.pending = false
				s.stats.relogins++
				s.personAdds(acct, age)
			})
		}
	}
}

// check checks the invariants; the driver calls it whenever passes have
// ended and none runs.
func (s *sim) check() {
	now := time.Now()
	s.clock.set(now)
	for _, v := range s.model.takeBroken() {
		s.fail(v.inv, v.at, "%s", v.what)
	}
	s.scan(s.logs.Take(), now, "the log")
	s.inspect(now, false)
	for _, a := range s.order {
		s.checkAlive(a, now)
	}
}

// inspect reads again, without faults, what was written since it last ran
// (everything when all is set): every account's state, versions and their
// tokens. It checks invariant 3 on the versions.
func (s *sim) inspect(now time.Time, all bool) {
	ctx := context.Background()
	if s.stateDirty || all {
		s.stateDirty = false
		accounts := make([]refresh.Account, len(s.order))
		for i, a := range s.order {
			accounts[i] = a.acct
		}
		states, err := calm(s.be, func() (map[string]refresh.State, error) { return s.be.states.Load(ctx, accounts) })
		if err != nil {
			s.t.Fatalf("inspecting the state: %v", err)
		}
		for _, a := range s.order {
			a.state = states[a.id]
		}
		defer func() {
			for _, a := range s.order {
				s.noteRecorded(a)
			}
		}()
	}
	for _, a := range s.order {
		if !a.dirty && !all {
			continue
		}
		a.dirty = false
		versions, err := calm(s.be, func() ([]refresh.Version, error) { return s.be.secrets.Versions(ctx, a.acct) })
		if err != nil {
			s.t.Fatalf("inspecting the versions of %s: %v", a.id, err)
		}
		a.enabled = 0
		a.versions = a.versions[:0]
		var newest refresh.Version
		for _, v := range versions {
			if v.State != refresh.VersionEnabled {
				continue
			}
			a.enabled++
			a.versions = append(a.versions, v)
			if v.Number > newest.Number {
				newest = v
			}
			if _, seen := a.tokens[v.Number]; !seen {
				s.learn(a, v, now)
			}
		}
		keep := s.deploy.keepVersions
		if a.enabled <= keep {
			a.allowance = 0
		}
		if a.enabled > keep+1+a.allowance {
			s.fail(3, now, "%s has %d enabled versions; KEEP_VERSIONS is %d", a.id, a.enabled, keep)
		}
		a.newest = newest
		tok := a.tokens[newest.Number]
		if tok != nil && a.newestTok != nil && tok != a.newestTok && tok.issued.After(a.newestTok.issued) {
			s.stats.longestGap = max(s.stats.longestGap, tok.issued.Sub(a.newestTok.issued))
		}
		a.newestTok = tok
	}
}

// learn reads version v's token and checks that no other version holds it
// or another token refreshed from the same one (invariant 3).
func (s *sim) learn(a *simAccount, v refresh.Version, now time.Time) {
	raw, err := calm(s.be, func() ([]byte, error) { return s.be.secrets.Access(context.Background(), a.acct, v) })
	if err != nil {
		s.t.Fatalf("inspecting version %d of %s: %v", v.Number, a.id, err)
	}
	p, err := payload.Parse(raw)
	if err != nil {
		s.fail(1, now, "version %d of %s holds no valid payload: %v", v.Number, a.id, err)
		a.tokens[v.Number] = nil
		return
	}
	tok := s.model.lookup(p.Token())
	if tok == nil {
		s.fail(1, now, "version %d of %s holds a token Meta never issued", v.Number, a.id)
	}
	for n, other := range a.tokens {
		switch {
		case other == nil || tok == nil:
		case other == tok:
			s.fail(3, now, "versions %d and %d of %s hold the same token", n, v.Number, a.id)
		case other.parent != nil && other.parent == tok.parent:
			s.fail(3, now, "versions %d and %d of %s hold two tokens refreshed from one", n, v.Number, a.id)
		}
	}
	a.tokens[v.Number] = tok
}

// okish results tell nobody that anything is wrong.
func okish(r refresh.Result) bool {
	switch r {
	case refresh.ResultFresh, refresh.ResultRefreshed, refresh.ResultRolledForward, refresh.ResultSkipped:
		return true
	}
	return false
}

// checkAlive checks invariants 1 and 5 on a's newest enabled version.
func (s *sim) checkAlive(a *simAccount, now time.Time) {
	if a.enabled == 0 {
		s.fail(1, now, "%s has no enabled version", a.id)
		return
	}
	t := a.newestTok
	if t == nil {
		return // reported by learn
	}
	if ended, at := s.model.accessEnded(a.id, now); ended {
		// A person is told (the life-left alert, a fortnight ahead) and
		// logs in again within three days: data access never ends unless
		// the engine hid how little was left.
		s.fail(1, now, "the app's access to the data of %s ended at %s; its newest token (version %d) is of no use",
			a.id, at.Format(time.RFC3339), a.newest.Number)
		return
	}
	dead, retired, since := s.model.dead(t, now)
	// needs_reauth sends a person to log in again: it must be true.
	if from := a.reauthFrom; !from.IsZero() {
		a.reauthFrom = time.Time{}
		if !dead && a.handAdded.Before(from) {
			s.fail(5, now, "%s was reported needs_reauth by a pass begun at %s, but its newest token (version %d) works",
				a.id, from.Format(time.RFC3339Nano), a.newest.Number)
			return
		}
	}
	if !dead {
		s.stats.leastLife = min(s.stats.leastLife, t.expires.Sub(now))
		return
	}
	if a.mourned != t {
		a.mourned = t
		s.stats.dead++
	}
	// A token that outlived its life is excused only when Threads was down
	// whenever the engine asked in its last 14 days, and the account was
	// reported failed on every pass of them (invariant 1). One killed by a
	// refresh whose new token was lost must be reported failed or
	// needs_reauth on every pass since (invariant 5).
	// Before the run there were no passes to ask, and before the token was
	// a day old (one Meta gave a short life) nothing to ask for.
	inv, from := 1, later(later(since.Add(-toldWindow), start), t.issued.Add(minRefreshAge+wholeSecond))
	if retired {
		inv, from = 5, since
	} else if !s.model.unreachable(t, from, since) {
		s.fail(1, now, "the token of %s (version %d) died at %s though Threads was not down whenever the engine asked in its last 14 days",
			a.id, a.newest.Number, since.Format(time.RFC3339))
		return
	}
	for _, h := range a.history {
		// A pass that did not get to the account (skipped: out of time)
		// says nothing of a token a refresh killed: the last pass that did
		// told.
		if !h.began.Before(from) && okish(h.result) && !(inv == 5 && h.result == refresh.ResultSkipped) {
			s.fail(inv, now, "the token of %s (version %d) died at %s, but pass %d at %s reported %q",
				a.id, a.newest.Number, since.Format(time.RFC3339), h.actor, h.at.Format(time.RFC3339), h.result)
			return
		}
	}
}

// agree checks invariant 4 after the final pass: each account's state
// records its newest version, status ok, with the times of its token.
func (s *sim) agree(now time.Time) {
	s.inspect(now, true)
	for _, a := range s.order {
		st, v := a.state, a.newest
		n, nok := refresh.VersionNumber(st.Version)
		id, iok := refresh.SecretID(st.Version)
		switch {
		case st.Status != refresh.StatusOK:
			s.fail(4, now, "%s is %q after the final pass (%s)", a.id, st.Status, st.LastError)
			continue
		case !nok || !iok || id != a.id:
			s.fail(4, now, "the state of %s records %q, not a version of its secret", a.id, st.Version)
			continue
		case n != v.Number:
			// A fresh account costs no secret read, so a token a person
			// added while it was fresh is adopted when it comes due (README,
			// "How a pass works"): the state may still record the one before.
			byPerson := near(v.CreateTime, a.handAdded, time.Millisecond) && v.CreateTime.After(st.RefreshedAt)
			recorded, ok := a.enabledVersion(n)
			if !byPerson || !s.freshAt(st, now) || !ok {
				s.fail(4, now, "the state of %s records %q; the newest version is %d", a.id, st.Version, v.Number)
				continue
			}
			v = recorded
		}
		if t := a.tokens[v.Number]; t != nil {
			if why := clocksDisagree(st, t, v); why != "" {
				s.fail(4, now, "the state of %s: %s (its token was issued %s, expires %s, added %s; state %+v)",
					a.id, why, t.issued, t.expires, v.CreateTime, st)
			}
		}
	}
}

// clocksDisagree says how the state's clocks of version v disagree with
// its token t's, or "". Meta's are the token's (in whole seconds); a
// refresh answer's are the token's as of when the answer arrived; an estimate is on the safe side: an issue
// time no earlier than the token's and at most a day after (the version's
// create time), an expiry no later than the token's and at most two days
// before (a lower bound).
func clocksDisagree(st refresh.State, t *token, v refresh.Version) string {
	switch st.IssuedFrom {
	case refresh.ClockMeta:
		if !near(st.IssuedAt, t.issued, time.Second) {
			return "issuedAt is not the token's issue time"
		}
	case refresh.ClockRefresh:
		if !answered(st.IssuedAt, t.issued) {
			return "issuedAt is not the token's issue time, or when its answer arrived"
		}
	case refresh.ClockEstimate:
		// The stores keep microseconds: the create time may read a little
		// before the issue it follows.
		if st.IssuedAt.Before(t.issued.Add(-time.Millisecond)) || st.IssuedAt.Sub(t.issued) > minRefreshAge || !st.IssuedAt.Equal(v.CreateTime) {
			return "the estimated issuedAt is not the version's create time, within a day after the issue"
		}
	default:
		return "the issue time is unknown"
	}
	switch st.ExpiryFrom {
	case refresh.ClockMeta:
		if !near(st.ExpiresAt, t.expires, time.Second) {
			return "expiresAt is not the token's expiry"
		}
	case refresh.ClockRefresh:
		if !answered(st.ExpiresAt, t.expires) {
			return "expiresAt is not the token's expiry, counted from when its answer arrived"
		}
	case refresh.ClockEstimate:
		if st.ExpiresAt.After(t.expires) || t.expires.Sub(st.ExpiresAt) > 2*24*time.Hour {
			return "the estimated expiresAt is not a bound within two days under the expiry"
		}
	default:
		return "the expiry is unknown"
	}
	return ""
}

// answered reports whether got is Meta's time want as a refresh answer's
// clocks give it: counted from when the answer arrived, which is later
// than Meta issued the token by the answer's way back, at most the
// client's own timeout (calls take time, calls_test.go).
func answered(got, want time.Time) bool {
	return !got.Before(want.Add(-time.Second)) && !got.After(want.Add(threadsTimeout))
}

// freshAt reports whether a pass at now leaves the account of st alone
// without a secret read (README, "How a pass works"): known clocks, and
// not due.
func (s *sim) freshAt(st refresh.State, now time.Time) bool {
	age := now.Sub(st.IssuedAt)
	return st.Status == refresh.StatusOK && st.ExpiryFrom != "" && !st.IssuedAt.IsZero() &&
		(age < minRefreshAge || (age < s.deploy.refreshAfter && st.ExpiresAt.Sub(now) >= refresh.DueMargin))
}

// enabledVersion returns version n if it was enabled at the last
// inspection.
func (a *simAccount) enabledVersion(n int64) (refresh.Version, bool) {
	i := slices.IndexFunc(a.versions, func(v refresh.Version) bool { return v.Number == n })
	if i < 0 {
		return refresh.Version{}, false
	}
	return a.versions[i], true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func near(a, b time.Time, d time.Duration) bool {
	diff := a.Sub(b)
	return diff < d && diff > -d
}

// scan checks text for tokens (invariant 6): the prefix every token has,
// and the middle of each recent token, in case something cut one.
func (s *sim) scan(text string, now time.Time, where string) {
	s.watch = append(s.watch, s.model.takeFresh()...)
	if n := len(s.watch); n > 32 {
		s.watch = slices.Delete(s.watch, 0, n-32)
	}
	if strings.Contains(text, tokenPrefix) {
		s.fail(6, now, "%s holds a token: %s", where, redactAll(text))
		return
	}
	for _, tok := range s.watch {
		if strings.Contains(text, tok[20:44]) {
			s.fail(6, now, "%s holds part of a token: %s", where, redactAll(text))
			return
		}
	}
}

// redactAll keeps the failure message itself free of tokens.
func redactAll(text string) string {
	for {
		i := strings.Index(text, tokenPrefix)
		if i < 0 {
			return text
		}
		end := i + len(tokenPrefix)
		for end < len(text) && strings.IndexByte(base62, text[end]) >= 0 {
			end++
		}
		text = text[:i] + "[TOKEN]" + text[end:]
	}
}

// final stops the faults, has a person answer any alert still open, lets
// the leases of dead passes expire, runs one pass and checks invariant 4.
func (s *sim) final() {
	if s.first != nil {
		return
	}
	s.quiet = true
	now := time.Now()
	s.clock.set(now)
	s.inspect(now, true)
	for _, a := range s.order {
		if a.newestTok == nil {
			continue
		}
		if dead, _, _ := s.model.dead(a.newestTok, now); dead && !a.pending {
			s.stats.relogins++
			s.personAdds(a, 0)
		}
	}
	s.loop()
	time.Sleep(leaseTTL + time.Minute)
	s.launchPass(&delivery{hour: -1}, -1)
	s.loop()
	if s.first == nil {
		s.agree(time.Now())
	}
}
