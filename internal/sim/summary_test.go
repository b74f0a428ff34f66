package sim

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedsFromEnv reads SIM_SEED (the first seed; default 1) and SIM_SEEDS
// (how many seeds from it; default n, or 1 when SIM_SEED is set).
func seedsFromEnv(t *testing.T, n int) []uint64 {
	first := uint64(1)
	if v := os.Getenv("SIM_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SIM_SEED is %q; want a whole number", v)
		}
		first, n = s, 1
	}
	if v := os.Getenv("SIM_SEEDS"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 {
			t.Fatalf("SIM_SEEDS is %q; want a positive whole number", v)
		}
		n = c
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = first + uint64(i)
	}
	return seeds
}

// daysFromEnv reads SIM_DAYS, the simulated days of each run.
func daysFromEnv(t *testing.T, def int) int {
	v := os.Getenv("SIM_DAYS")
	if v == "" {
		return def
	}
	d, err := strconv.Atoi(v)
	if err != nil || d < 1 {
		t.Fatalf("SIM_DAYS is %q; want a positive whole number", v)
	}
	return d
}

// summary is the run's one line.
func (s *sim) summary() string {
	var faults []string
	for _, k := range slices.Sorted(maps.Keys(s.stats.faults)) {
		faults = append(faults, fmt.Sprintf("%s:%d", k, s.stats.faults[k]))
	}
	verdict := "ok"
	if v := s.first; v != nil {
		verdict = fmt.Sprintf("FAILED(invariant %d at %s)", v.inv, v.at.Format(time.RFC3339))
	}
	c := s.model.clockCounts()
	return fmt.Sprintf("seed=%d store=%s %s days=%d passes=%d calls=%d refreshes=%d faults=[%s] outages=[threads:%d secrets:%d state:%d] crashes=%d cancels=%d lost-tokens=%d duplicate-passes=%d scheduler-retries=%d hand-adds=%d relogins=%d dead-tokens=%d least-life=%s longest-gap=%s clocks=[migrated:%d old-adds:%d inspections:%d refused:%d young-tries:%d short-lives:%d access-relogins:%d] trace=%016x verdict=%s",
		s.cfg.seed, s.be.name, s.deploy, s.cfg.days, s.stats.passes, s.stats.calls, s.stats.refreshed, strings.Join(faults, " "),
		len(s.plan.threads), len(s.plan.secrets), len(s.plan.state),
		s.stats.crashes, s.stats.cancels, s.stats.lost, s.stats.duplicates, s.stats.retries, s.stats.handAdds, s.stats.relogins, s.stats.dead,
		days(s.stats.leastLife), days(s.stats.longestGap),
		s.stats.migrated, s.stats.oldAdds, c.inspections, c.refusedInspections, c.youngTries, c.shortLives, s.stats.accessRelogins,
		s.digest.Sum64(), verdict)
}

// days prints a duration as days and hours ("58d23h").
func days(d time.Duration) string {
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
