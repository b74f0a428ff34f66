package refresh

import (
	"cmp"
	"slices"
)

// prune destroys versions older than the KeepVersions highest-numbered ones,
// whatever their state, skipping those already destroyed. The newest
// version is never destroyed. It runs after the lease is released: it only
// removes versions that nothing reads any more (the state and consumers use
// the newest), and destroying is idempotent, so two passes pruning at once
// do no harm. Failures are logged and retried by the next refresh.
func (w *work) prune(versions []Version) {
	slices.SortFunc(versions, func(a, b Version) int { return cmp.Compare(b.Number, a.Number) })
	versions = slices.CompactFunc(versions, func(a, b Version) bool { return a.Number == b.Number })
	if len(versions) <= w.e.KeepVersions {
		return
	}
	for _, v := range versions[w.e.KeepVersions:] {
		if v.State == VersionDestroyed {
			continue
		}
		if err := w.e.Secrets.Destroy(w.ctx, w.a, v); err != nil {
			w.log.Warn("old secret version not destroyed", "version", v.Number, "error", err.Error())
			continue
		}
		w.log.Debug("old secret version destroyed", "version", v.Number)
	}
}
