package refresh_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestMisconfiguredEngine: an Engine missing a required field refuses to
// run, with an error wrapping ErrConfig, before touching anything.
func TestMisconfiguredEngine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		misconfigure func(*refresh.Engine)
	}{
		{"no secret store", func(e *refresh.Engine) { e.Secrets = nil }},
		{"no state store", func(e *refresh.Engine) { e.States = nil }},
		{"no platform refresher", func(e *refresh.Engine) { e.Platforms = nil }},
		{"no accounts", func(e *refresh.Engine) { e.Accounts = nil }},
		{"RefreshAfter zero", func(e *refresh.Engine) { e.RefreshAfter = 0 }},
		{"RefreshAfter negative", func(e *refresh.Engine) { e.RefreshAfter = -time.Hour }},
		{"KeepVersions zero", func(e *refresh.Engine) { e.KeepVersions = 0 }},
		{"Concurrency zero", func(e *refresh.Engine) { e.Concurrency = 0 }},
		{"ThreadsTimeout zero", func(e *refresh.Engine) { e.ThreadsTimeout = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.misconfigure)
			h.seed("main", 72*time.Hour)
			rep, err := h.Engine.Pass(context.Background())
			if !errors.Is(err, refresh.ErrConfig) {
				t.Fatalf("Pass: %v, want an error wrapping ErrConfig", err)
			}
			if len(rep.Accounts) != 0 || h.TH.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Errorf("a misconfigured engine did something: %+v", rep)
			}
			if _, ok := h.state("main"); ok {
				t.Error("a misconfigured engine wrote state")
			}
		})
	}

	// Status needs the state store and the accounts; without them it must
	// say so rather than crash the command or the GET handler.
	for _, name := range []string{"zero Engine", "no state store", "no accounts"} {
		t.Run("Status/"+name, func(t *testing.T) {
			t.Parallel()
			e := &refresh.Engine{}
			if name != "zero Engine" {
				h := newHarness(t, nil)
				h.seed("main", time.Hour)
				e = h.Engine
				if name == "no state store" {
					e.States = nil
				} else {
					e.Accounts = nil
				}
			}
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Status on a misconfigured engine panicked: %v", p)
				}
			}()
			if _, err := e.Status(context.Background()); !errors.Is(err, refresh.ErrConfig) {
				t.Errorf("Status: %v, want an error wrapping ErrConfig", err)
			}
		})
	}
}
