// Package refresher is the deployable Cloud Function RefreshTokens: Cloud
// Scheduler POSTs to it, and it refreshes every configured Threads token
// that is due, keeping each one in Secret Manager and its state in Firestore.
package refresher

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/httpapi"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

func init() {
	functions.HTTP("RefreshTokens", NewHandler(os.LookupEnv, os.Stderr).ServeHTTP)
}

// NewHandler returns RefreshTokens as an http.Handler that reads its
// configuration through lookup and logs to logs: what the functions
// framework serves, for `refresher serve` to serve with its own server
// (the framework's Start sets no header or idle timeout).
func NewHandler(lookup config.LookupFunc, logs io.Writer) http.Handler {
	return &function{lookup: lookup, logs: logs}
}

// function is one instance of RefreshTokens. It builds its clients on the
// first request and keeps them for the life of the instance; a failed build
// is answered and tried again on the next request, never kept as a nil
// client.
type function struct {
	lookup config.LookupFunc
	logs   io.Writer

	mu      sync.Mutex
	handler http.Handler
}

func (f *function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := f.build()
	if err != nil {
		httpapi.WriteJSON(w, http.StatusInternalServerError, httpapi.ErrorBody{Error: err.Error()})
		return
	}
	h.ServeHTTP(w, r)
}

func (f *function) build() (http.Handler, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handler != nil {
		return f.handler, nil
	}
	bootLog := logging.New(f.logs, slog.LevelInfo)
	// The alerts read these ERROR lines at any LOG_LEVEL.
	alerts := logging.ForAlerts(context.Background())
	cfg, err := config.Load(f.lookup)
	if err != nil {
		bootLog.ErrorContext(alerts, "configuration refused", "error", err.Error())
		return nil, err
	}
	if err := onCloudRun(f.lookup, cfg); err != nil {
		bootLog.ErrorContext(alerts, "configuration refused", "error", err.Error())
		return nil, err
	}
	logger := logging.New(f.logs, cfg.LogLevel)
	// Clients outlive the request that happened to build them.
	svc, err := service.New(context.Background(), cfg, logger)
	if err != nil {
		err = fmt.Errorf("starting the refresher: %w", err)
		logger.ErrorContext(alerts, "start failed; the next request tries again", "error", err.Error())
		return nil, err
	}
	logger.Debug("refresher started", "config", cfg)
	f.handler = &httpapi.Handler{Engine: svc.Engine, Logger: logger, PassTimeout: cfg.PassTimeout,
		Owners: func(ctx context.Context, reports []refresh.AccountReport) []statusview.Owner {
			return statusview.Owners(ctx, svc.Secrets(), svc.Account, reports)
		},
		Now: svc.Engine.Now}
	return f.handler, nil
}

// onCloudRun refuses, on Cloud Run (K_SERVICE set), what works only on one
// machine: the local store, and TOKEN_EVENTS_FILE, since an instance's file
// system is in memory and goes with the instance (Cloud Run's container
// runtime contract), so no consumer could read it.
func onCloudRun(lookup config.LookupFunc, cfg *config.Config) error {
	if _, ok := lookup("K_SERVICE"); !ok {
		return nil
	}
	switch {
	case cfg.Store != config.StoreGoogle:
		return &config.Error{Variable: "GOOGLE_CLOUD_PROJECT", Problem: "is not set; a deployed function keeps tokens in Secret Manager and Firestore and needs it"}
	case cfg.TokenEventsFile != "":
		return &config.Error{Variable: "TOKEN_EVENTS_FILE", Problem: fmt.Sprintf("is %q, but a deployed function's files live in memory and go with its instance; unset it and use TOKEN_CHANGES_TOPIC", cfg.TokenEventsFile)}
	}
	return nil
}
