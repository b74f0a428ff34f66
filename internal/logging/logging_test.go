package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestCloudLoggingKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		log      func(*slog.Logger)
		severity string
	}{
		{func(l *slog.Logger) { l.Debug("hello", "account", "main") }, "DEBUG"},
		{func(l *slog.Logger) { l.Info("hello", "account", "main") }, "INFO"},
		{func(l *slog.Logger) { l.Warn("hello", "account", "main") }, "WARNING"},
		{func(l *slog.Logger) { l.Error("hello", "account", "main") }, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.severity, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug))
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line is not JSON: %v: %s", err, buf.Bytes())
			}
			want := map[string]any{"severity": tt.severity, "message": "hello", "account": "main"}
			if len(line) != len(want) {
				t.Errorf("line = %v, want exactly %v", line, want)
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("line[%q] = %v, want %v", k, line[k], v)
				}
			}
		})
	}
}

func TestLevelFilters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, slog.LevelWarn)
	l.Info("quiet")
	if buf.Len() != 0 {
		t.Errorf("info line written at warn level: %s", buf.Bytes())
	}
}

// TestAlertLinesAtAnyLevel: a line logged with a ForAlerts context is
// written at every level, with its own severity, also through a logger
// derived with With; an unmarked line below the level is not.
func TestAlertLinesAtAnyLevel(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		t.Run(Severity(level), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := New(&buf, level)
			alerts := ForAlerts(context.Background())
			l.InfoContext(alerts, "account processed", "account", "main")
			l.With("pass", "p1").LogAttrs(alerts, slog.LevelInfo, "refresh pass done")
			l.DebugContext(context.Background(), "unmarked debug")
			l.InfoContext(context.Background(), "unmarked info")
			var got []string
			for raw := range strings.Lines(buf.String()) {
				var line map[string]any
				if err := json.Unmarshal([]byte(raw), &line); err != nil {
					t.Fatalf("log line is not JSON: %v: %s", err, raw)
				}
				got = append(got, line["severity"].(string)+" "+line["message"].(string))
			}
			want := []string{"INFO account processed", "INFO refresh pass done"}
			if level <= slog.LevelDebug {
				want = append(want, "DEBUG unmarked debug")
			}
			if level <= slog.LevelInfo {
				want = append(want, "INFO unmarked info")
			}
			if strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("at %s wrote %q, want %q", Severity(level), got, want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"", slog.LevelInfo, false},
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"verbose", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
