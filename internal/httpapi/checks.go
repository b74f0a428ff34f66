package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Request is what a POST body asks for. No body, or a JSON object without
// check, runs a refresh pass: what Cloud Scheduler's refresh job sends. The
// Terraform module's watchdog and alert-test jobs send the pipeline and
// alert checks; a consumer sends the account check. Only the scheduler's
// account, and the members the module's extra_invokers names, may invoke
// the function at all (Cloud Run IAM), so a check comes from the same
// authorised callers as a pass.
type Request struct {
	// Check is CheckPipeline, CheckAlertTest or CheckAccount.
	Check string `json:"check,omitempty"`
	// Account (CheckAccount only) is the ID of the account to check.
	Account string `json:"account,omitempty"`
	// OverdueAfter (CheckPipeline only) is how long, as a Go duration, an
	// account may wait for a pass before it counts as overdue;
	// DefaultOverdueAfter when empty. The module sends its no-pass wait
	// (alert_if_no_pass_for), 3 scheduled intervals by default.
	OverdueAfter string `json:"overdueAfter,omitempty"`
}

// The checks a POST body may ask for.
const (
	// CheckPipeline reads the stored state and logs one line saying
	// whether passes still reach every account: ERROR "refreshes overdue"
	// when an account is overdue, else INFO "pipeline checked".
	CheckPipeline = "pipeline"
	// CheckAlertTest logs one ERROR line "alert delivery test", labelled
	// as a test, so that every notification channel receives one test
	// alert through the real policy.
	CheckAlertTest = "alert-test"
	// CheckAccount checks one account now (refresh.Engine.Check): /me and
	// the token's clocks, its health recorded and any change told. It
	// answers as a pass, with that one account.
	CheckAccount = "account"
)

// DefaultOverdueAfter is the wait of a pipeline check that names none:
// three hourly passes.
const DefaultOverdueAfter = 3 * time.Hour

// maxRequestBody bounds a POST body; the checks are a few dozen bytes.
const maxRequestBody = 64 << 10

// usage ends every refusal of a body.
const usage = `send no body to run a pass, {"check":"account","account":"NAME"} to check one account's token now, {"check":"pipeline"} (with an optional "overdueAfter":"3h") to check that passes still reach every account, or {"check":"alert-test"} to send a test alert`

// readRequest reads the POST body as a Request, or says in one sentence
// what is wrong with it.
func readRequest(w http.ResponseWriter, r *http.Request) (Request, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return Request{}, fmt.Errorf("the request body is larger than %d bytes; %s", maxRequestBody, usage)
		}
		return Request{}, fmt.Errorf("reading the request body: %w", err)
	}
	var req Request
	if len(bytes.TrimSpace(raw)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("the request body is not a request this function knows (%v); %s", err, usage)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("the request body holds more than one JSON value; %s", usage)
	}
	if req.Account != "" && req.Check != CheckAccount {
		return Request{}, fmt.Errorf(`"account" goes with "check":"account" only; %s`, usage)
	}
	switch req.Check {
	case "":
		if req.OverdueAfter != "" {
			return Request{}, fmt.Errorf(`"overdueAfter" goes with "check":"pipeline" only; %s`, usage)
		}
	case CheckAccount:
		if req.OverdueAfter != "" {
			return Request{}, fmt.Errorf(`"overdueAfter" goes with "check":"pipeline" only; %s`, usage)
		}
		if !config.ValidAccountName(req.Account) {
			return Request{}, fmt.Errorf(`"account" is %q, which is not an account name (1 to 255 letters, digits, '-' and '_'); %s`, req.Account, usage)
		}
	case CheckPipeline:
		if req.OverdueAfter != "" {
			d, err := time.ParseDuration(req.OverdueAfter)
			if err != nil || d <= 0 {
				return Request{}, fmt.Errorf(`"overdueAfter" is %q, which is not a positive Go duration such as "3h"; %s`, req.OverdueAfter, usage)
			}
		}
	case CheckAlertTest:
		if req.OverdueAfter != "" {
			return Request{}, fmt.Errorf(`"overdueAfter" goes with "check":"pipeline" only; %s`, usage)
		}
	default:
		return Request{}, fmt.Errorf(`"check" is %q, which this function does not know; %s`, req.Check, usage)
	}
	return req, nil
}

// check serves a request readRequest accepted with a check.
func (h *Handler) check(w http.ResponseWriter, r *http.Request, req Request) {
	switch req.Check {
	case CheckPipeline:
		h.checkPipeline(w, r, req)
	case CheckAlertTest:
		h.alertTest(w, r)
	case CheckAccount:
		h.checkAccount(w, r, req.Account)
	}
}

// checkAccount checks one account and answers as a pass does, with that
// account alone: 200 when its token works (result alive) and its refreshes
// do too (health ok or expiring), 500 otherwise: the account needs a
// person (needs_reauth, failing) or the check could not be made (failed,
// busy, skipped); the line's result, health and error say which. An
// account the function does not keep is 404, the state unreadable 500
// with the ERROR line "account check failed". The engine has logged the
// account's line ("account checked").
func (h *Handler) checkAccount(w http.ResponseWriter, r *http.Request, account string) {
	ctx := r.Context()
	if h.PassTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.PassTimeout)
		defer cancel()
	}
	rep, err := h.Engine.Check(ctx, account)
	switch {
	case errors.Is(err, refresh.ErrUnknownAccount):
		WriteJSON(w, http.StatusNotFound, ErrorBody{Error: err.Error() + "; check one of the accounts in THREADS_SECRETS"})
		return
	case err != nil:
		h.fail(w, r, "account check failed", err)
		return
	}
	status := http.StatusInternalServerError
	if line, ok := rep.Find(account); ok && Alive(line) {
		status = http.StatusOK
	}
	WriteJSON(w, status, rep)
}

// Alive reports whether a check's line says the token works and its
// refreshes do too: the check's 200, and `refresher check`'s exit 0 (or 3
// for an expiring one).
func Alive(r refresh.AccountReport) bool {
	return r.Result == refresh.ResultAlive && (r.Health == refresh.HealthOK || r.Health == refresh.HealthExpiring)
}

// PipelineAnswer is the answer of a pipeline check.
type PipelineAnswer struct {
	Check   string `json:"check"`
	Summary string `json:"summary"`
	refresh.Watch
}

// checkPipeline reads the state and logs what it found. It answers 200
// whether or not an account is overdue: the check itself worked, and its
// ERROR line has told the alert once; Cloud Scheduler counts any status
// outside 200-299 as a failed attempt and retries it (HttpTarget, RetryConfig
// in the Cloud Scheduler API), which would log the finding again and raise
// "Refresh not started" as well. It answers 500 only when the state cannot
// be read ("pipeline check failed").
func (h *Handler) checkPipeline(w http.ResponseWriter, r *http.Request, req Request) {
	overdueAfter := DefaultOverdueAfter
	if req.OverdueAfter != "" {
		overdueAfter, _ = time.ParseDuration(req.OverdueAfter) // checked by readRequest
	}
	found, err := h.Engine.Watch(r.Context(), overdueAfter)
	if err != nil {
		h.fail(w, r, "pipeline check failed", err)
		return
	}
	answer := PipelineAnswer{Check: CheckPipeline, Summary: summarize(found), Watch: found}
	attrs := []slog.Attr{
		slog.String("check", CheckPipeline),
		slog.String("summary", answer.Summary),
		slog.Int("accounts", found.Accounts),
		slog.Int("unprocessed", found.Unprocessed),
		slog.Int("overdue", found.Overdue),
	}
	if found.Overdue > 0 {
		attrs = append(attrs, slog.String("oldestOverdue", found.OldestOverdue), slog.Int("overdueHours", found.OverdueHours))
	}
	if found.FirstToDie != "" {
		attrs = append(attrs, slog.String("firstToDie", found.FirstToDie), slog.String("firstExpiresAt", found.FirstExpiresAt))
		if found.HoursLeft != nil {
			attrs = append(attrs, slog.Int("hoursLeft", *found.HoursLeft))
		}
	}
	if found.Overdue > 0 {
		// The watchdog's alert reads this line (check "pipeline"), at any
		// LOG_LEVEL.
		h.logger().LogAttrs(logging.ForAlerts(r.Context()), slog.LevelError, "refreshes overdue", attrs...)
	} else {
		h.logger().LogAttrs(r.Context(), slog.LevelInfo, "pipeline checked", attrs...)
	}
	WriteJSON(w, http.StatusOK, answer)
}

// summarize says in one line, for a person and for the alert's subject,
// what a check found. The subject is cut at 255 bytes after its variables
// are expanded (AlertPolicy.Documentation.subject, Monitoring API v3), so
// the finding comes first; and it starts with a digit or a letter, because
// a documentation variable whose value starts otherwise is not reported
// (cloud.google.com/monitoring/alerts/doc-variables).
func summarize(found refresh.Watch) string {
	var s string
	if found.Overdue > 0 {
		s = fmt.Sprintf("%d of %d accounts not refreshed or tried for %d h although due (longest: %s)",
			found.Overdue, found.Accounts, found.OverdueHours, found.OldestOverdue)
	} else {
		s = fmt.Sprintf("passes reach all %d accounts with state", found.Accounts-found.Unprocessed)
	}
	if found.Unprocessed > 0 {
		s += fmt.Sprintf(" (%d more not processed yet)", found.Unprocessed)
	}
	switch {
	case found.HoursLeft == nil:
		return s + "; no token expiry is known yet"
	case *found.HoursLeft < 0:
		return s + fmt.Sprintf("; the token of %s expired %d h ago", found.FirstToDie, -*found.HoursLeft)
	default:
		return s + fmt.Sprintf("; the first token to die (%s) has %d h left", found.FirstToDie, *found.HoursLeft)
	}
}

// AlertTestAnswer is the answer of an alert delivery test.
type AlertTestAnswer struct {
	Check   string `json:"check"`
	Summary string `json:"summary"`
}

// alertTestSummary labels the test line, and so the test alert's subject,
// as a test.
const alertTestSummary = "TEST alert, nothing is wrong: this proves that the refresher's alerts reach this channel"

// alertTest logs the one ERROR line that the watchdog's alert turns into a
// test notification on every channel, and answers 200.
func (h *Handler) alertTest(w http.ResponseWriter, r *http.Request) {
	h.logger().LogAttrs(logging.ForAlerts(r.Context()), slog.LevelError, "alert delivery test",
		slog.String("check", CheckAlertTest),
		slog.String("summary", alertTestSummary),
		slog.Bool("test", true),
	)
	WriteJSON(w, http.StatusOK, AlertTestAnswer{Check: CheckAlertTest, Summary: alertTestSummary})
}
