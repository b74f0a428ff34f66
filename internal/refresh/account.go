package refresh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// account works on one account under its lease: decide, refresh, store,
// record. It never returns an error: everything ends up in the report, and
// every failure leaves the previous token current.
func (e *Engine) account(ctx context.Context, a Account, owner string, read State, run *passRun) AccountReport {
	ctx, cancel := context.WithTimeout(ctx, AccountTimeout)
	defer cancel()
	log := e.logger().With("account", a.ID)

	now := e.now()
	st, err := e.States.Lease(ctx, a, owner, now.Add(e.leaseTTL()), read)
	if errors.Is(err, ErrBusy) {
		return AccountReport{Account: a.ID, Result: ResultBusy}
	}
	if err != nil {
		// Without the lease nothing may be recorded; the next pass retries.
		return AccountReport{Account: a.ID, Result: ResultFailed, Error: err.Error()}
	}
	w := &work{e: e, ctx: ctx, a: a, owner: owner, log: log, st: st, leased: st, slots: run.slots, inspector: run.inspector, phase: run.phases[a.ID]}
	w.st.Secret = a.Secret
	w.st.LastAttemptAt = now
	return w.run(now)
}

// work is one account's progress through a pass.
type work struct {
	e     *Engine
	ctx   context.Context
	a     Account
	owner string
	log   *slog.Logger
	// st is the state being built; it is written only by commit. Its Rev
	// is the lease's.
	st State
	// leased is the state as the lease found it, for Release and for a
	// skipped account's report.
	leased State
	slots  *slots
	// inspector is the pass's inspecting token, read once when first
	// needed; nil when each token inspects itself.
	inspector *inspector
	// phase is the account's place in the spread cycle (spread.go).
	phase phase
	// payload and its platform are set once the newest version's payload
	// has been read (platform is then not nil).
	payload  payload.Payload
	platform Platform
	// adopted: st records a version this pass adopted (not one it made).
	adopted bool
	// changed: this pass changed what st says of the token (its clocks,
	// its status), which must then be recorded even if it is not refreshed.
	changed bool
	// checking: this work is a check of the account (check.go), not a
	// pass: it refreshes nothing.
	checking bool
}

func (w *work) run(now time.Time) AccountReport {
	var versions []Version
	err := w.early(func(ctx context.Context) (err error) {
		versions, err = w.e.Secrets.Versions(ctx, w.a)
		return err
	})
	if errors.Is(err, errNoBudget) {
		return w.skip(noBudgetMsg)
	}
	if errors.Is(err, ErrNotFound) {
		return w.fail(ResultFailed, fmt.Sprintf("secret %s does not exist; create it (terraform apply does) or add a token with `refresher add --create %s`", w.a.Secret, w.a.ID))
	}
	if err != nil {
		return w.fail(ResultFailed, fmt.Sprintf("listing the versions of %s: %v", w.a.Secret, err))
	}
	newest, ok := newestVersion(versions)
	if !ok {
		return w.fail(ResultFailed, fmt.Sprintf("secret %s has no version; add a token with `refresher add %s`", w.a.Secret, w.a.ID))
	}
	if newest.State != VersionEnabled {
		return w.fail(ResultFailed, fmt.Sprintf("the newest version (%d) of %s is %s; enable it or add a new token", newest.Number, w.a.Secret, newest.State))
	}

	if !w.records(newest) {
		// First run, a version added by hand, or a state write lost after a
		// crash: the newest version is the truth. Its payload is read now,
		// so that the state names its platform from the start and a payload
		// that could never be refreshed is reported at once, every pass,
		// rather than adopted as ok (and announced as adopted).
		if rep, ok := w.readPayload(newest); !ok {
			return rep
		}
		w.adopt(newest)
	} else if w.st.Status == StatusNeedsReauth {
		// Meta has refused this token; asking again cannot help until a
		// person adds a new version.
		return w.fail(ResultNeedsReauth, w.st.LastError)
	}

	if w.adopted || w.st.ExpiryFrom == "" {
		// A token the state knows no clocks of (adopted now, or recorded
		// before clocks were kept): Meta is asked, this pass.
		if rep, ok := w.readPayload(newest); !ok {
			return rep
		}
		w.learnClocks(StartBudget(w.e.ThreadsTimeout) + w.e.ThreadsTimeout)
	}
	if w.checking {
		return w.checkToken(newest)
	}

	switch {
	case w.st.IssuedAt.IsZero():
		// Nobody knows when Meta issued the token: neither Meta nor the
		// payload said. It was issued no later than its version was made,
		// so it is at least as old as the version: refresh it now if that
		// is 24 hours, or else try once (ageUnknown).
		return w.refresh(newest, versions, true)
	case w.e.due(w.st, w.phase, now):
		return w.refresh(newest, versions, false)
	}
	if w.st.Status != StatusOK {
		// Failing to refresh a token that, its clocks now known, is not
		// due: nothing is wrong any more.
		w.st.Status, w.st.LastError, w.st.Failures = StatusOK, "", 0
		w.changed = true
	}
	switch {
	case w.adopted:
		return w.commit(ResultRolledForward)
	case w.changed, w.e.untold(w.st, now):
		return w.commit(ResultFresh)
	}
	w.release()
	return reportOf(w.a.ID, ResultFresh, w.st)
}

// adopt makes the state record version v, whose payload has been read, as
// the current token, with the clocks its payload records (the refresher
// writes them beside every token it stores) or none.
func (w *work) adopt(v Version) {
	w.adopted = true
	w.st.Version = v.Name
	w.st.RefreshedAt = v.CreateTime
	w.st.Status = StatusOK
	w.st.LastError = ""
	w.st.Failures = 0
	w.st.Scopes = nil
	w.setClocks(w.payload.Clocks())
}

// records reports whether the state already records version v, comparing
// secret ID and version number: Secret Manager may name the project by
// number where the configuration names it by ID.
func (w *work) records(v Version) bool {
	if !w.st.Known() {
		return false
	}
	id, ok := SecretID(w.st.Version)
	n, nok := VersionNumber(w.st.Version)
	return ok && nok && id == w.a.ID && n == v.Number
}

// readPayload reads and parses version v's payload and finds the platform
// it names, recording the platform in the state. When it cannot, it
// records the failure (or, when the store's quotas left no room before
// the account's start cutoff, gives the account back for the next pass)
// and returns its report, and ok false.
func (w *work) readPayload(v Version) (rep AccountReport, ok bool) {
	if w.platform != nil {
		return AccountReport{}, true
	}
	var raw []byte
	err := w.early(func(ctx context.Context) (err error) {
		raw, err = w.e.Secrets.Access(ctx, w.a, v)
		return err
	})
	if errors.Is(err, errNoBudget) {
		return w.skip(noBudgetMsg), false
	}
	if err != nil {
		return w.fail(ResultFailed, fmt.Sprintf("reading version %d of %s: %v", v.Number, w.a.Secret, err)), false
	}
	p, err := payload.Parse(raw)
	if err != nil {
		return w.fail(ResultFailed, fmt.Sprintf("version %d of %s: %v", v.Number, w.a.Secret, err)), false
	}
	r, err := w.e.platform(p.Platform())
	if err != nil {
		return w.fail(ResultFailed, fmt.Sprintf("version %d of %s: %v", v.Number, w.a.Secret, err)), false
	}
	w.payload, w.platform = p, r
	w.st.Platform = p.Platform()
	return AccountReport{}, true
}

// refresh exchanges the token of version current for a new one and stores
// it. With ageUnknown, nobody knows when Meta issued the token: if its
// version is younger than 24 hours, the refresh is a try whose refusal
// (Meta refusing a token that works) is taken to mean that the token is
// too young, and recorded as such (tooYoung), not as a failure.
func (w *work) refresh(current Version, versions []Version, ageUnknown bool) AccountReport {
	if rep, ok := w.readPayload(current); !ok {
		return rep
	}
	p := w.payload

	tok, err := w.callPlatform(p.Token())
	if errors.Is(err, errNoSlot) {
		// Meta was never asked: left for the next pass, like an account
		// not started at all, with the lease given back and nothing
		// recorded.
		return w.skip(skippedMsg)
	}
	if err != nil {
		if ageUnknown && errors.Is(err, graph.ErrRefusedLiveToken) && w.e.now().Sub(current.CreateTime) < MinRefreshAge {
			return w.tooYoung(current, err)
		}
		if errors.Is(err, graph.ErrNeedsReauth) {
			return w.fail(ResultNeedsReauth, fmt.Sprintf("%v; log in again and add the new token", err))
		}
		return w.fail(ResultFailed, err.Error())
	}
	refreshedAt := w.e.now()

	next, err := p.Refreshed(tok.AccessToken, tok.TokenType, tok.ExpiresIn, refreshedAt, w.st.DataAccessExpiresAt)
	if err != nil {
		return w.fail(ResultFailed, err.Error())
	}
	added, err := w.store(next, current)
	if err != nil {
		// The new token is lost; the old one is still current and, as far
		// as anyone knows, still valid until its own expiry.
		// WARNING, not ERROR: the account's line says failed, at ERROR.
		w.log.Warn("refreshed token could not be stored; the previous token stays current", "error", err.Error())
		return w.fail(ResultFailed, fmt.Sprintf("storing the refreshed token in %s: %v", w.a.Secret, err))
	}

	w.st.Version = added.Name
	w.st.RefreshedAt = refreshedAt
	// The answer's clocks, then Meta's if it says more. The data-access
	// clock and the scopes stay as they were: Meta does not say that a
	// refresh changes them.
	w.setClocks(payload.Clocks{IssuedAt: refreshedAt, ExpiresAt: refreshedAt.Add(time.Duration(tok.ExpiresIn) * time.Second),
		DataAccessExpiresAt: w.st.DataAccessExpiresAt})
	w.inspectToken(tok.AccessToken, w.e.ThreadsTimeout)
	w.st.Status = StatusOK
	w.st.LastError = ""
	w.st.Failures = 0
	rep := w.commit(ResultRefreshed)
	w.prune(append(versions, added))
	return rep
}

// finishing returns a context for the writes that end an account's work:
// recording the outcome and giving the lease back. They must happen even
// when the pass is cancelled (Ctrl-C, a caller gone), or the account stays
// leased, and wrongly recorded, until the lease expires.
func (w *work) finishing() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(w.ctx), finishTimeout)
}

// commit records the state and releases the lease in one step. Just
// before, the Notifier hears of what consumers have not been told (a new
// current version, refreshed or adopted, which is stored by then; a change
// of health), so that the write records it as told (tell, health.go).
func (w *work) commit(result Result) AccountReport {
	ctx, cancel := w.finishing()
	defer cancel()
	w.tell(ctx, result)
	if err := w.e.States.Commit(ctx, w.a, w.owner, w.st); err != nil {
		// The secret is already right; the next pass adopts its newest
		// version (roll-forward), so only the state is late, and that pass
		// tells what it finds untold again.
		w.log.Warn("state not recorded; the next pass repairs it", "error", err.Error())
		if result != ResultRefreshed {
			return AccountReport{Account: w.a.ID, Result: ResultFailed, Error: "recording state: " + err.Error()}
		}
		return reportOf(w.a.ID, result, w.st)
	}
	return reportOf(w.a.ID, result, w.st)
}

// fail records a failed attempt and reports it.
func (w *work) fail(result Result, msg string) AccountReport {
	w.st.Status = StatusFailing
	if result == ResultNeedsReauth {
		w.st.Status = StatusNeedsReauth
	}
	w.st.LastError = msg
	w.st.Failures++
	rep := w.commit(result)
	rep.Result = result
	rep.Error = msg
	return rep
}

// release gives the lease back without writing state.
func (w *work) release() {
	ctx, cancel := w.finishing()
	defer cancel()
	if err := w.e.States.Release(ctx, w.a, w.owner, w.leased); err != nil {
		w.log.Warn("lease not released; it expires by itself", "error", err.Error())
	}
}

// newestVersion is the highest-numbered version, whatever its state.
func newestVersion(vs []Version) (Version, bool) {
	if len(vs) == 0 {
		return Version{}, false
	}
	return slices.MaxFunc(vs, func(a, b Version) int { return cmp.Compare(a.Number, b.Number) }), true
}
