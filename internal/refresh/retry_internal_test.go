package refresh

import (
	"testing"
	"time"
)

// TestBackOffJitter checks that retry waits double from RetryBase up to
// their cap and take their jitter from Engine.Rand, so that a seeded source
// replays them (the simulation depends on it), and that without one they
// stay within the same spread.
func TestBackOffJitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		draw float64
		want []time.Duration
	}{
		{"lowest draw waits half", 0, []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond}},
		{"middle draw waits the exponential value", 0.5, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"highest draw waits just under one and a half", 0.75, []time.Duration{1250 * time.Millisecond, 2500 * time.Millisecond, 3750 * time.Millisecond, 3750 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			e := &Engine{RetryBase: time.Second, Rand: func() float64 { calls++; return tt.draw }}
			b := e.backOff(3 * time.Second)
			b.Reset()
			for i, want := range tt.want {
				if got := b.NextBackOff(); got != want {
					t.Errorf("wait %d = %v, want %v", i+1, got, want)
				}
			}
			if calls != len(tt.want) {
				t.Errorf("Rand was called %d times for %d waits", calls, len(tt.want))
			}
		})
	}

	t.Run("default source stays within the spread", func(t *testing.T) {
		t.Parallel()
		e := &Engine{RetryBase: time.Second}
		b := e.backOff(time.Minute)
		b.Reset()
		for i, exp := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			got := b.NextBackOff()
			if got < exp/2 || got >= exp*3/2 {
				t.Errorf("wait %d = %v, want within [%v, %v)", i+1, got, exp/2, exp*3/2)
			}
		}
	})
}
