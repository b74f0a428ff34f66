// Package logging builds the structured JSON logger that Cloud Logging reads:
// each line carries "severity" and "message" in the names Cloud Logging
// expects, so that levels and alerts work without an agent.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
)

// New returns a JSON logger writing to w. It writes lines at level and
// above, and, whatever level says, every line logged with a context marked
// by ForAlerts.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(&handler{
		// The JSON handler writes whatever it is handed; handler decides.
		Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{
			Level:       slog.Level(math.MinInt),
			ReplaceAttr: replaceAttr,
		}),
		level: level,
	})
}

// alertsKey marks a context whose lines the alerts read.
type alertsKey struct{}

// ForAlerts marks ctx so that a logger built by New writes what is logged
// with it at any LOG_LEVEL: the lines the Terraform module's alerts read
// ("account processed", "refresh pass done", the ERROR lines of a failed
// request, the watchdog's findings). A line keeps its own severity; the
// alerts filter on it. LOG_LEVEL filters every other line.
func ForAlerts(ctx context.Context) context.Context {
	return context.WithValue(ctx, alertsKey{}, true)
}

func forAlerts(ctx context.Context) bool {
	marked, _ := ctx.Value(alertsKey{}).(bool)
	return marked
}

// handler filters by level, except the lines ForAlerts marks.
type handler struct {
	slog.Handler
	level slog.Level
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level || (ctx != nil && forAlerts(ctx))
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), level: h.level}
}

// replaceAttr renames slog's keys to Cloud Logging's and drops the time,
// which Cloud Logging records itself when it receives the line.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.Attr{}
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(Severity(a.Value.Any().(slog.Level)))
	}
	return a
}

// Severity names a slog level as Cloud Logging does.
func Severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// ParseLevel reads a LOG_LEVEL value: debug, info, warn (or warning), error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
}
