package sim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// What a person is told is what the Terraform module's alerts read
// (terraform/alerting*.tf): the function's "account processed" lines, as
// Cloud Logging stores them (severity, result, hoursLeft), its other ERROR
// lines, and the HTTP status Cloud Scheduler sees, which internal/httpapi
// answers from the engine's report. The simulation reads those, not the
// engine's structures: every pass runs through httpapi.Handler, and every
// line through internal/logging's JSON handler into the run's log, where
// alertTap files each under the pass that wrote it.

// alertLine is one "account processed" line as Cloud Logging stores it.
type alertLine struct {
	severity string
	result   string
	// hoursLeft is nil when the line has none.
	hoursLeft                      *int
	expiresAt, dataAccessExpiresAt string
	// at is when it was written: Cloud Logging's receive time.
	at time.Time
}

// tapSink is where the engine's log lines go: the run's log (scanned for
// tokens), and, for a line written under a pass's context, that pass.
type tapSink struct {
	mu      sync.Mutex
	out     io.Writer
	current *actor
}

func (w *tapSink) Write(p []byte) (int, error) {
	// Called by the JSON handler while alertTap.Handle holds mu.
	if a := w.current; a != nil {
		a.file(p)
	}
	return w.out.Write(p)
}

// alertTap is the engine's slog.Handler: internal/logging's, writing into
// tapSink, which learns from the record's context which pass wrote it.
type alertTap struct {
	inner slog.Handler
	sink  *tapSink
}

func newAlertLogger(out io.Writer) *slog.Logger {
	sink := &tapSink{out: out}
	return slog.New(&alertTap{inner: logging.New(sink, slog.LevelDebug).Handler(), sink: sink})
}

func (h *alertTap) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *alertTap) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	if ctx != nil {
		h.sink.current = actorOf(ctx)
	}
	defer func() { h.sink.current = nil }()
	return h.inner.Handle(ctx, r)
}

func (h *alertTap) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &alertTap{inner: h.inner.WithAttrs(attrs), sink: h.sink}
}

func (h *alertTap) WithGroup(name string) slog.Handler {
	return &alertTap{inner: h.inner.WithGroup(name), sink: h.sink}
}

// file keeps a line the actor wrote that an alert reads: an account line,
// or any other ERROR line (the function-errors alert).
func (a *actor) file(line []byte) {
	var l struct {
		Severity            string   `json:"severity"`
		Message             string   `json:"message"`
		Account             string   `json:"account"`
		Result              string   `json:"result"`
		HoursLeft           *float64 `json:"hoursLeft"`
		ExpiresAt           string   `json:"expiresAt"`
		DataAccessExpiresAt string   `json:"dataAccessExpiresAt"`
	}
	if json.Unmarshal(line, &l) != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case l.Message == "account processed":
		if a.lines == nil {
			a.lines = map[string]alertLine{}
		}
		al := alertLine{severity: l.Severity, result: l.Result, expiresAt: l.ExpiresAt, dataAccessExpiresAt: l.DataAccessExpiresAt, at: time.Now()}
		if l.HoursLeft != nil {
			h := int(*l.HoursLeft)
			if float64(h) != *l.HoursLeft {
				h = math.MinInt // not a whole number: no alert compares it sensibly
			}
			al.hoursLeft = &h
		}
		a.lines[l.Account] = al
	case l.Severity == "ERROR":
		a.errorLines = append(a.errorLines, l.Message)
	}
}

// askedMeta records that the pass asked Meta to refresh account's token,
// and youngRefusal that Meta refused one as too young to refresh (the
// engine's young try, which is not a failure).
func (a *actor) askedMeta(account string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.asked == nil {
		a.asked = map[string]bool{}
	}
	a.asked[account] = true
}

func (a *actor) youngRefusal(account string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.young == nil {
		a.young = map[string]bool{}
	}
	a.young[account] = true
}

// recordingEngine is the engine as internal/httpapi's handler sees it,
// keeping each pass's report for the checks that need the version a line
// is about (which the line does not name).
type recordingEngine struct{ *refresh.Engine }

func (e recordingEngine) Pass(ctx context.Context) (refresh.Report, error) {
	rep, err := e.Engine.Pass(ctx)
	if a := actorOf(ctx); a != nil {
		a.report, a.passErr = rep, err
	}
	return rep, err
}

// alerts checks invariant 13 on what an ended pass a that did not die
// told, and returns each account's result as the alerts read it: the
// line's, or passFailed for every account of a pass that failed as a
// whole.
func (s *sim) alerts(a *actor, now time.Time) map[string]string {
	results := map[string]string{}
	if len(a.lines) == 0 {
		// No account line: the pass failed as a whole. The scheduler must
		// see it fail, and the function-errors alert must have its line.
		if a.status < 500 {
			s.fail(13, now, "pass %d wrote no account line and answered HTTP %d", a.id, a.status)
		} else if len(a.errorLines) == 0 {
			s.fail(13, now, "pass %d wrote no account line and no ERROR line", a.id)
		}
		for _, acct := range s.order {
			results[acct.id] = string(passFailed)
		}
		return results
	}
	failed := false
	for _, acct := range s.order {
		l, ok := a.lines[acct.id]
		if !ok {
			s.fail(13, now, "pass %d wrote no line for %s", a.id, acct.id)
			continue
		}
		results[acct.id] = l.result
		if alerting(l.result) {
			failed = true
			if l.severity != "ERROR" {
				s.fail(13, now, "pass %d wrote %s's %q line at %s, not ERROR", a.id, acct.id, l.result, l.severity)
			}
		}
		s.checkHoursLeft(a, acct.id, l, now)
		if a.asked[acct.id] && !a.young[acct.id] && !alerting(l.result) && !s.storedBy(a, acct.id) {
			s.fail(13, now, "pass %d asked Meta to refresh the token of %s and stored no new one, but reported %q, which no alert reads",
				a.id, acct.id, l.result)
		}
	}
	want := http.StatusOK
	if failed {
		want = http.StatusInternalServerError
	}
	if a.status != want {
		s.fail(13, now, "pass %d answered HTTP %d, but its lines call for %d (an account failed: %v)", a.id, a.status, want, failed)
	}
	return results
}

// storedBy reports whether a token Meta issued to pass a for account was
// stored.
func (s *sim) storedBy(a *actor, account string) bool {
	s.model.mu.Lock()
	defer s.model.mu.Unlock()
	for _, t := range s.model.issued[a.id] {
		if t.account == account && t.stored {
			return true
		}
	}
	return false
}

// checkHoursLeft checks that a line's hoursLeft is what its own clocks
// leave when it was written, in whole hours rounded down, as the life-left
// alert compares it ("Token about to die": hoursLeft below the threshold):
// one rounded up, or missing beside a known expiry, tells a person an hour
// late, or never. The line's times are in whole seconds, so either of the
// two whole-hour counts across that second will do.
func (s *sim) checkHoursLeft(a *actor, account string, l alertLine, now time.Time) {
	end, _ := (refresh.AccountReport{ExpiresAt: l.expiresAt, DataAccessExpiresAt: l.dataAccessExpiresAt}).LifeEnds()
	switch {
	case end.IsZero() && l.hoursLeft == nil:
		return
	case l.hoursLeft == nil:
		s.fail(13, now, "pass %d's line for %s has expiresAt %q but no hoursLeft", a.id, account, l.expiresAt)
		return
	case end.IsZero():
		s.fail(13, now, "pass %d's line for %s has hoursLeft %d but no expiry", a.id, account, *l.hoursLeft)
		return
	}
	lo, hi := floorHours(end.Sub(l.at)), floorHours(end.Add(time.Second).Sub(l.at))
	if h := *l.hoursLeft; h != lo && h != hi {
		s.fail(13, now, "pass %d's line for %s says hoursLeft %d; its clocks (ending %s) leave %d when it was written",
			a.id, account, h, end.Format(time.RFC3339), lo)
	}
}

// floorHours is d in whole hours, rounded down (toward the past).
func floorHours(d time.Duration) int {
	return int(math.Floor(d.Hours()))
}
