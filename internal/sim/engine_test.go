package sim

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// The deployment the simulation stands for: internal/config's defaults and
// the Terraform module's, except for what a deployment draws.
const (
	threadsTimeout = 10 * time.Second
	// leaseTTL is the engine's default, which the simulation leaves alone.
	leaseTTL = refresh.DefaultLeaseTTL
)

// deployment is what operators choose: KEEP_VERSIONS, CONCURRENCY,
// PASS_TIMEOUT, REFRESH_AFTER and INSPECTOR_ACCOUNT.
type deployment struct {
	keepVersions int
	concurrency  int
	passTimeout  time.Duration
	refreshAfter time.Duration
	inspector    string
}

// deployments are taken in turn by seed (seed 1 the first), so that the
// three seeds CI runs cover the defaults and both extremes. KEEP_VERSIONS
// 1 is the least allowed. CONCURRENCY stays below the default 8, which
// with three accounts would let none wait for a slot. PASS_TIMEOUT is what
// Terraform sets (the function's timeout less 30 s) for its default
// timeout, 540 s, and for 90 s, the least that leaves three Threads
// timeouts of margin.
// REFRESH_AFTER runs from the default (24h) through a week to the longest
// allowed (1104h), where a token's remaining life, not its age, is what
// makes it due when Meta gives it a short one; half name main, a tester,
// as the inspector of the others' tokens.
var deployments = []deployment{
	{keepVersions: 2, concurrency: 2, passTimeout: 510 * time.Second, refreshAfter: 24 * time.Hour},
	{keepVersions: 1, concurrency: 1, passTimeout: 60 * time.Second, refreshAfter: 24 * time.Hour, inspector: "main"},
	{keepVersions: 3, concurrency: 3, passTimeout: 60 * time.Second, refreshAfter: 168 * time.Hour},
	{keepVersions: 2, concurrency: 3, passTimeout: 510 * time.Second, refreshAfter: 720 * time.Hour, inspector: "main"},
	{keepVersions: 1, concurrency: 2, passTimeout: 510 * time.Second, refreshAfter: 1104 * time.Hour, inspector: "main"},
	{keepVersions: 3, concurrency: 1, passTimeout: 60 * time.Second, refreshAfter: 1104 * time.Hour},
}

func deploymentOf(seed uint64) deployment {
	return deployments[(seed+uint64(len(deployments))-1)%uint64(len(deployments))]
}

func (d deployment) String() string {
	inspector := d.inspector
	if inspector == "" {
		inspector = "self"
	}
	return fmt.Sprintf("keep=%d concurrency=%d pass-timeout=%s refresh-after=%s inspector=%s",
		d.keepVersions, d.concurrency, d.passTimeout, d.refreshAfter, inspector)
}

// newEngine builds the engine under test, configured as the deployed
// function configures it (internal/service), on the simulation's stores,
// Threads transport and seeded jitter. It is the one place that knows the
// Engine's fields.
func newEngine(d deployment, secrets refresh.SecretStore, states refresh.StateStore, rt http.RoundTripper, accounts []refresh.Account, logger *slog.Logger, jitter func() float64) *refresh.Engine {
	return &refresh.Engine{
		Secrets: secrets,
		States:  states,
		Platforms: map[string]refresh.Platform{
			payload.PlatformThreads: threads.New(threads.DefaultBaseURL, threadsTimeout, &http.Client{Transport: rt}).Refresher(),
		},
		Accounts:       refresh.Fixed(accounts),
		Logger:         logger,
		RefreshAfter:   d.refreshAfter,
		Inspector:      d.inspector,
		KeepVersions:   d.keepVersions,
		Concurrency:    d.concurrency,
		ThreadsTimeout: threadsTimeout,
		Rand:           jitter,
	}
}
