package refresh

import "time"

// Result is what happened to one account in a pass, or, in a status view,
// its stored status.
type Result string

// Results of a pass.
const (
	// ResultRefreshed: a new token was stored.
	ResultRefreshed Result = "refreshed"
	// ResultFresh: the token is younger than RefreshAfter; nothing was done.
	ResultFresh Result = "fresh"
	// ResultRolledForward: a newer secret version was adopted and is not due.
	ResultRolledForward Result = "rolled_forward"
	// ResultBusy: another pass holds the account's lease.
	ResultBusy Result = "busy"
	// ResultSkipped: too little time was left in the pass to start it.
	ResultSkipped Result = "skipped"
	// ResultFailed: the refresh failed; the previous token is still current.
	ResultFailed Result = "failed"
	// ResultNeedsReauth: Meta no longer accepts the token (it is expired,
	// revoked or dead, or lacks a permission); a person must log in again
	// and add a new one.
	ResultNeedsReauth Result = "needs_reauth"
	// ResultUnknown: (status view) the account has no state yet.
	ResultUnknown Result = "unknown"
)

// Failed reports whether r makes a pass fail: Cloud Scheduler should see
// it. In a status view, where results are stored statuses, "failing" and
// "needs_reauth" count.
func (r Result) Failed() bool {
	return r == ResultFailed || r == ResultNeedsReauth || r == Result(StatusFailing)
}

// AccountReport is one account's line in a Report. It never holds a token.
type AccountReport struct {
	Account string `json:"account"`
	Result  Result `json:"result"`
	// Platform is the platform the account's token belongs to ("threads",
	// "instagram"), once the engine has read its payload.
	Platform    string `json:"platform,omitempty"`
	RefreshedAt string `json:"refreshedAt,omitempty"`
	// ExpiresAt is when the token itself dies; ExpiryFrom says whose clock
	// that is: "meta" (Meta's inspection), "refresh" (the expires_in of
	// the answer that issued it) or "estimate" (a bound, on the safe side).
	ExpiresAt  string `json:"expiresAt,omitempty"`
	ExpiryFrom string `json:"expiryFrom,omitempty"`
	// DataAccessExpiresAt is when the app's access to the user's data ends,
	// where Meta said; a new login, not a refresh, renews it.
	DataAccessExpiresAt string `json:"dataAccessExpiresAt,omitempty"`
	// HoursLeft is the hours until the earlier of the token's expiry and
	// its data-access expiry, floor((that - now) / 1h), negative once it
	// has passed; nil when neither is known. Alerting compares it as a
	// number.
	HoursLeft *int   `json:"hoursLeft,omitempty"`
	Error     string `json:"error,omitempty"`
	// Health is the account's health, as consumers are told of it: ok,
	// expiring, failing or needs_reauth; empty for an account without
	// state. Fix is the command that brings it back, where a person is
	// needed (needs_reauth, expiring).
	Health Health `json:"health,omitempty"`
	Fix    string `json:"fix,omitempty"`
	// LeaseOwner and LeaseExpiresAt name, in a status view, the pass that
	// holds the account's lease and when the lease ends (result busy): a
	// pass that died keeps the account busy until then.
	LeaseOwner     string `json:"leaseOwner,omitempty"`
	LeaseExpiresAt string `json:"leaseExpiresAt,omitempty"`
	// Stored is, in a status view, the stored status (empty without
	// state), also when the result says busy.
	Stored Status `json:"-"`

	// Details kept for people (refresher status); not part of the HTTP answer.
	Failures      int       `json:"-"`
	LastAttemptAt time.Time `json:"-"`
	Version       string    `json:"-"`
	// DueAt is, in a status view, the instant the due rule (Engine.dueAt)
	// makes the stored token due: the first pass from then on refreshes
	// it. Zero without state. A failing or needs_reauth account is tried
	// on every pass whatever it says.
	DueAt time.Time `json:"-"`

	// expires and dataAccess are ExpiresAt and DataAccessExpiresAt as
	// times, for HoursLeft.
	expires, dataAccess time.Time
	// status is the stored status the line was made from, for Health.
	status Status
}

// LifeEnds returns the earlier of the token's expiry and its data-access
// expiry, and which it is (LifeToken or LifeDataAccess); the zero time when
// neither is known. HoursLeft counts down to it. A report decoded from JSON
// has them from ExpiresAt and DataAccessExpiresAt.
func (r AccountReport) LifeEnds() (time.Time, string) {
	expires, dataAccess := r.expires, r.dataAccess
	if expires.IsZero() && dataAccess.IsZero() {
		expires, dataAccess = parseStamp(r.ExpiresAt), parseStamp(r.DataAccessExpiresAt)
	}
	return lifeEnds(expires, dataAccess)
}

// lifeEnds is the earlier of a token's expiry and its data-access expiry,
// and which it is; the zero time when neither is known.
func lifeEnds(expires, dataAccess time.Time) (time.Time, string) {
	switch {
	case expires.IsZero() && dataAccess.IsZero():
		return time.Time{}, ""
	case dataAccess.IsZero(), !expires.IsZero() && !dataAccess.Before(expires):
		return expires, LifeToken
	}
	return dataAccess, LifeDataAccess
}

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// What ends a token's usable life first (AccountReport.LifeEnds).
const (
	LifeToken      = "token"
	LifeDataAccess = "data access"
)

// Report is the answer of a pass or a status view.
type Report struct {
	Accounts  []AccountReport `json:"accounts"`
	Refreshed int             `json:"refreshed"`
	Failed    int             `json:"failed"`
}

// Find returns the line of the account named id.
func (r Report) Find(id string) (AccountReport, bool) {
	for _, a := range r.Accounts {
		if a.Account == id {
			return a, true
		}
	}
	return AccountReport{}, false
}

// OK reports whether no account failed or needs re-authorisation.
func (r Report) OK() bool { return r.Failed == 0 }

func (r *Report) count() {
	r.Refreshed, r.Failed = 0, 0
	for _, a := range r.Accounts {
		switch {
		case a.Result == ResultRefreshed:
			r.Refreshed++
		case a.Result.Failed(), a.Stored == StatusFailing, a.Stored == StatusNeedsReauth:
			r.Failed++
		}
	}
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// reportOf describes an account from its state.
func reportOf(id string, result Result, st State) AccountReport {
	r := AccountReport{
		Account:       id,
		Result:        result,
		Platform:      st.Platform,
		RefreshedAt:   timestamp(st.RefreshedAt),
		Error:         st.LastError,
		Failures:      st.Failures,
		LastAttemptAt: st.LastAttemptAt,
		Version:       st.Version,
		status:        st.Status,
	}
	r.clocksFrom(st)
	return r
}

// clocksFrom sets the report's clocks from st's. An expiry recorded
// before the refresher kept clocks apart is an estimate.
func (r *AccountReport) clocksFrom(st State) {
	r.expires, r.ExpiresAt = st.ExpiresAt, timestamp(st.ExpiresAt)
	r.ExpiryFrom = string(st.ExpiryFrom)
	if r.ExpiryFrom == "" && !st.ExpiresAt.IsZero() {
		r.ExpiryFrom = string(ClockEstimate)
	}
	r.dataAccess, r.DataAccessExpiresAt = st.DataAccessExpiresAt, timestamp(st.DataAccessExpiresAt)
}

// knownFrom fills in what a report does not know (busy: another pass holds
// the account; the lease or the state write failed) from st, the state the
// pass read, so that every account line names its platform and carries the
// remaining life: the alert on it is the net under every other failure.
func (r *AccountReport) knownFrom(st State) {
	if r.Platform == "" {
		r.Platform = st.Platform
	}
	if r.status == "" {
		r.status = st.Status
	}
	// The clocks read are those of the version st records: a line about
	// another version (adopted, its clocks unknown) must not borrow them.
	if r.expires.IsZero() && r.dataAccess.IsZero() && (r.Version == "" || r.Version == st.Version) {
		r.clocksFrom(st)
		r.Version = st.Version
	}
}

// lifeLeft sets HoursLeft as of now.
func (r *AccountReport) lifeLeft(now time.Time) {
	end, _ := r.LifeEnds()
	r.HoursLeft = hoursLeft(end, now)
}

// hoursLeft is floor((end - now) / 1h), or nil when end is unknown. It
// rounds down, not toward zero, so that a token expired for 30 minutes
// has -1 hours left, not 0.
func hoursLeft(end, now time.Time) *int {
	if end.IsZero() {
		return nil
	}
	d := end.Sub(now)
	h := int(d / time.Hour)
	if d < 0 && d%time.Hour != 0 {
		h--
	}
	return &h
}
