package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// This file holds invariants 10 to 12: what Meta issues is kept, one
// refresh per token, and no write that ends an account's work is lost.

// issuedTo records that Meta issued t in answer to a refresh by pass a,
// and the engine either got the answer (delivered) or gave up on it before
// the client's own per-request timeout (its pass was cancelled, or ran
// out of time): both are tokens Meta issued to the engine (invariant 10).
// An answer lost on its way, or later than the per-request timeout, is
// Meta's or the network's doing: invariant 5 covers a token that loses.
func (m *model) issuedTo(t *token, a *actor, delivered bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.pass, t.delivered = a, delivered
	m.issued[a.id] = append(m.issued[a.id], t)
}

// takeIssued returns the tokens issued to pass id, and forgets them.
func (m *model) takeIssued(id int) []*token {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.issued[id]
	delete(m.issued, id)
	return ts
}

// stored records that a version holding p's token was added.
func (m *model) stored(p []byte) {
	parsed, err := payload.Parse(p)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tokens[parsed.Token()]; t != nil {
		t.stored = true
	}
}

// isStored reports whether a version holding t was ever added.
func (m *model) isStored(t *token) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return t.stored
}

// replacedLocked checks invariant 11 as a refresh of t by pass reaches
// Meta: no token is refreshed again once the engine holds what its last
// refresh issued. A token the engine got from a refresh of t (delivered to
// a pass) that is stored, or whose pass still runs and has not died,
// replaces t; asking Meta to refresh t again means two passes worked on one
// account at once, or the engine refreshed a token that is no longer the
// newest. A token lost (its pass died, or ended without storing it) does
// not: asking again is right.
func (m *model) replacedLocked(t *token, pass int, now time.Time) {
	for _, c := range t.children {
		if !c.delivered || c.pass.crashed {
			continue
		}
		if c.stored || !c.pass.ended.Load() {
			held := "is stored"
			if !c.stored {
				held = fmt.Sprintf("is held by pass %d, still running", c.pass.id)
			}
			m.breakLocked(11, now, "account %s: pass %d asked Meta to refresh a token again, though the token its refresh at %s issued %s",
				t.account, pass, c.issued.Format(time.RFC3339Nano), held)
			return
		}
	}
}

// conserve checks invariant 10 for an ended pass a that did not die: every
// token Meta issued to it is stored as a version, or the pass's line for
// its account says failed or needs_reauth (the alert), and the loss is
// counted; and none is lost where Meta killed the old token with the
// refresh (an account that retires), whatever a person does afterwards.
func (s *sim) conserve(a *actor, results map[string]string, now time.Time) {
	for _, t := range s.model.takeIssued(a.id) {
		if s.model.isStored(t) {
			continue
		}
		s.stats.lost++
		how := "its answer reached the engine"
		if !t.delivered {
			how = "the engine gave up on its answer before the client's own timeout"
		}
		acct := s.accts[t.account]
		switch res := results[t.account]; {
		case acct != nil && acct.retire:
			s.fail(10, now, "pass %d lost the token Meta issued for %s at %s (%s), and Meta killed the old one with that refresh; the pass reported %q",
				a.id, t.account, t.issued.Format(time.RFC3339Nano), how, res)
		case !alerting(res):
			s.fail(10, now, "pass %d lost the token Meta issued for %s at %s (%s) and reported %q, which no alert reads",
				a.id, t.account, t.issued.Format(time.RFC3339Nano), how, res)
		}
	}
}

// leaseLife is what became of one pass's lease on one account (invariant
// 12): taken (the engine holds it), given back (a commit or release the
// store carried out), or left for a reason the store is to blame for (a
// fault, or a store slower than slowWrite). lost says how an ending write
// was lost otherwise.
type leaseLife struct {
	held, ended    bool
	excused, lost  string
	lastWrite, why string
}

// leaseOf returns the lease record of ctx's pass on account.
func (s *sim) leaseOf(ctx context.Context, account string) *leaseLife {
	a := actorOf(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.leases == nil {
		a.leases = map[string]*leaseLife{}
	}
	l := a.leases[account]
	if l == nil {
		l = &leaseLife{}
		a.leases[account] = l
	}
	return l
}

// noteStoreCall records what became of a commit or release (invariant 12);
// lost is set when the call never reached the store, and says why.
//
// It also counts a destroy that did not happen, which leaves a version
// invariant 3 then allows. It runs in the caller's goroutine before the
// call passes the turnstile again, which orders it before the driver reads
// what it wrote.
func (s *sim) noteStoreCall(f *flight, inj *injection, lost string) {
	if f.op == opDestroy && !inj.carried {
		s.accts[f.account].allowance++
	}
	if f.op != opCommit && f.op != opRelease {
		return
	}
	l := s.leaseOf(f.ctx, f.account)
	l.lastWrite = string(f.op)
	switch {
	case inj.carried:
		l.ended = true
	case lost != "" && f.v.land >= slowWrite:
		l.excused = fmt.Sprintf("the store took %v to get to the %s", f.v.land.Round(time.Millisecond), f.op)
	case lost != "":
		l.lost = fmt.Sprintf("the %s was lost: %s", f.op, lost)
	case inj.kind != "":
		l.excused = fmt.Sprintf("the store refused the %s (%s)", f.op, inj.kind)
	default:
		l.ended = true
	}
}

// leasesLeft checks invariant 12 for an ended pass a that did not die: it
// gave back every lease it took, unless the store refused the write that
// would have or took more than slowWrite to get to it.
func (s *sim) leasesLeft(a *actor, now time.Time) {
	for _, account := range slices.Sorted(maps.Keys(a.leases)) {
		l := a.leases[account]
		if !l.held || l.ended || l.excused != "" {
			continue
		}
		why := l.lost
		if why == "" {
			why = "no commit or release reached the store"
		}
		s.fail(12, now, "pass %d ended (cancelled: %v) with its lease on %s still held: %s", a.id, a.cancelled, account, why)
		return
	}
}

// alerting reports whether an account line's result opens the "Token not
// refreshed" alert, whose filter reads result failed or needs_reauth.
func alerting(result string) bool {
	return result == "failed" || result == "needs_reauth" || result == string(passFailed)
}
