// Package fakeclock is a settable clock for tests that drive leases, token
// ages and expiry without waiting.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only when told. It is safe for concurrent use;
// its Now method fits every `Now func() time.Time` knob of this project.
type Clock struct {
	mu  sync.Mutex
	now time.Time
	// OnSet, when set, is told every new time (to keep another fake's
	// clock in step).
	OnSet func(time.Time)
}

// New returns a clock stopped at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	onSet := c.OnSet
	c.mu.Unlock()
	if onSet != nil {
		onSet(t)
	}
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }
