package payload

import (
	"encoding/json"
	"time"
)

// Fields of a JSON payload that hold what the refresher learned of the
// token's clocks when it stored it, in Unix seconds as Meta's debug_token
// gives them.
const (
	fieldIssuedAt   = "issued_at"
	fieldExpiresAt  = "expires_at"
	fieldDataAccess = "data_access_expires_at"
	fieldClocksFrom = "clocks_from"
)

// Where a payload's clocks came from (its "clocks_from").
const (
	// ClocksFromMeta: Meta's inspection (debug_token) gave them.
	ClocksFromMeta = "meta"
	// ClocksFromRefresh: the answer that issued the token gave expires_in
	// (a refresh, or the exchange at onboarding); issued_at is when the
	// refresher received it.
	ClocksFromRefresh = "refresh"
)

// Clocks are a token's times as a payload records them; zero when unknown.
type Clocks struct {
	IssuedAt            time.Time
	ExpiresAt           time.Time
	DataAccessExpiresAt time.Time
	// FromMeta says that IssuedAt and ExpiresAt are Meta's own (debug_token)
	// rather than derived from an answer's expires_in.
	FromMeta bool
}

func (c Clocks) clocksFrom() string {
	switch {
	case c.IssuedAt.IsZero() && c.ExpiresAt.IsZero():
		return ""
	case c.FromMeta:
		return ClocksFromMeta
	}
	return ClocksFromRefresh
}

// Clocks returns the clocks a JSON payload records. A bare payload, or a
// field that is missing or not a positive whole number of seconds, gives
// the zero time: the payload is the refresher's note, read back, and a
// person may have written it by hand.
func (p Payload) Clocks() Clocks {
	c := Clocks{
		IssuedAt:            p.unixField(fieldIssuedAt),
		ExpiresAt:           p.unixField(fieldExpiresAt),
		DataAccessExpiresAt: p.unixField(fieldDataAccess),
		FromMeta:            p.Field(fieldClocksFrom) == ClocksFromMeta,
	}
	if !c.IssuedAt.IsZero() && !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(c.IssuedAt) {
		// Not a token's life: trust neither.
		c.IssuedAt, c.ExpiresAt = time.Time{}, time.Time{}
	}
	return c
}

// unixField reads a field holding Unix seconds.
func (p Payload) unixField(name string) time.Time {
	raw, ok := p.fields[name]
	if !ok {
		return time.Time{}
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || n <= 0 || n > maxUnix {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// maxUnix is 9999-12-31: a later time is not a clock.
const maxUnix = 253402300799

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
