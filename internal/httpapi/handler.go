// Package httpapi is the HTTP surface of the RefreshTokens function: POST
// runs a refresh pass, or, with a check in its body, the check of one
// account, the watchdog's check of the pipeline or its alert delivery test
// (checks.go); GET shows stored state (as JSON, or, for a browser, as a
// status page: statuspage.go), and the status code tells Cloud Scheduler
// whether the run failed.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Engine is what the handler needs of the refresh engine.
type Engine interface {
	Pass(ctx context.Context) (refresh.Report, error)
	Status(ctx context.Context) (refresh.Report, error)
	Watch(ctx context.Context, overdueAfter time.Duration) (refresh.Watch, error)
	Check(ctx context.Context, account string) (refresh.Report, error)
}

// Handler serves RefreshTokens.
type Handler struct {
	Engine Engine
	Logger *slog.Logger
	// PassTimeout, when positive, bounds a pass started by POST, so that it
	// stops starting accounts in time to answer before the platform's
	// request timeout (Cloud Run does not put a deadline on the request).
	PassTimeout time.Duration
	// Owners, when set, names each account's user on the status page;
	// without it the page shows "-".
	Owners OwnersFunc
	// Now is the engine's clock, for the status page's "ago" and "in";
	// time.Now when nil.
	Now func() time.Time
}

// allowed is the Allow header of a 405 answer.
const allowed = "GET, HEAD, POST"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer h.recoverPanic(w, r)
	switch r.Method {
	case http.MethodPost:
		req, err := readRequest(w, r)
		if err != nil {
			WriteJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
			return
		}
		if req.Check != "" {
			h.check(w, r, req)
			return
		}
		ctx := r.Context()
		if h.PassTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, h.PassTimeout)
			defer cancel()
		}
		rep, err := h.Engine.Pass(ctx)
		if err != nil {
			h.fail(w, r, "refresh pass failed", err)
			return
		}
		// The engine has logged each account and "refresh pass done".
		status := http.StatusOK
		if !rep.OK() {
			status = http.StatusInternalServerError
		}
		WriteJSON(w, status, rep)
	case http.MethodGet, http.MethodHead:
		rep, err := h.Engine.Status(r.Context())
		if err != nil {
			h.fail(w, r, "reading status failed", err)
			return
		}
		// The answer depends on Accept: caches must not hand a browser's
		// page to a script, nor the other way round.
		w.Header().Add("Vary", "Accept")
		if prefersHTML(r.Header.Get("Accept")) {
			h.writeStatusPage(w, r, rep)
			return
		}
		WriteJSON(w, http.StatusOK, rep)
	default:
		w.Header().Set("Allow", allowed)
		WriteJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: r.Method + " is not allowed; use POST to run a pass or GET to read the status"})
	}
}

// recoverPanic, deferred by ServeHTTP, turns a panic of the request (or of
// an account worker, which the engine raises again in the request's
// goroutine) into a 500 and one ERROR line, "message":"panic", without the
// panic value's text (see logging.Panic). Left to the functions framework,
// the panic would be printed whole to stderr, value included, as plain text
// that alerting does not read.
func (h *Handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v) // net/http's own way to abort a response, not a failure
	}
	v, stack := refresh.Recovered(v)
	logging.Panic(logging.ForAlerts(r.Context()), h.logger(), v, stack)
	WriteJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error: the refresher panicked; its log has the stack (message \"panic\")"})
}

// fail answers 500 and logs one ERROR line, msg, which the alerts read.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, msg string, err error) {
	h.logger().ErrorContext(logging.ForAlerts(r.Context()), msg, "error", err.Error())
	WriteJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ErrorBody is the answer when no report can be given.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
