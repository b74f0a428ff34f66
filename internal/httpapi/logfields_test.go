package httpapi_test

// TestAlertFields pins what the Terraform module's alerts read in the
// function's log (README, "Logs and alerts"): the message texts, the fields
// account, result and hoursLeft, the pass's seconds (which the dashboard
// charts), and the severities. Renaming any of them must break this test,
// not the alerting. function_test.go at the root pins
// the lines written before a handler exists ("configuration refused", "start
// failed; the next request tries again").

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/httpapi"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/localengine"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

// rig is a handler over a real engine (localengine).
type rig struct {
	*localengine.Rig
	t       *testing.T
	handler *httpapi.Handler
	secrets []string // besides the fake's tokens, never to be printed
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{Rig: localengine.New(t), t: t}
	r.handler = &httpapi.Handler{Engine: r.Engine, Logger: r.Logger}
	t.Cleanup(func() { r.CheckNoToken(r.secrets...) })
	return r
}

// serve sends one request and returns the answer and the log lines it
// wrote, decoded with numbers kept as JSON numbers.
func (r *rig) serve(h http.Handler, method string) (*httptest.ResponseRecorder, []map[string]any) {
	r.t.Helper()
	mark := len(r.Logs.String())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/", nil))
	r.Logs.Write(rec.Body.Bytes()) // searched for secrets with the log
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(r.Logs.String()[mark:]), "\n") {
		if !strings.HasPrefix(raw, `{"severity"`) {
			continue // the answer's body, appended above
		}
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			r.t.Fatalf("log line is not JSON: %v: %s", err, raw)
		}
		lines = append(lines, m)
	}
	return rec, lines
}

// isInteger reports whether v is a JSON number holding a whole number.
func isInteger(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

func TestAlertFields(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.Seed("refreshed", 72*time.Hour)
	r.Seed("rolled", time.Hour)
	r.TH.Revoke(r.Seed("dead", 72*time.Hour))
	if _, err := r.Store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	r.Seed("busy", time.Hour)
	if _, err := leases.Take(ctx, r.Store, r.Store.Account("busy"), "another-pass", localengine.T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	rec, lines := r.serve(r.handler, http.MethodPost)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("POST answered %d, want 500 (dead and empty fail)", rec.Code)
	}
	wantResult := map[string]string{"refreshed": "refreshed", "rolled": "rolled_forward", "dead": "needs_reauth", "empty": "failed", "busy": "busy"}
	wantSeverity := map[string]string{"refreshed": "INFO", "rolled_forward": "INFO", "busy": "INFO", "needs_reauth": "ERROR", "failed": "ERROR"}
	// busy has no state yet, empty no token, and dead's clocks nobody
	// knows: Meta refused both its inspection and its refresh (its line is
	// the ERROR needs_reauth that alerts).
	withLife := map[string]bool{"refreshed": true, "rolled": true}
	seen := map[string]bool{}
	done := 0
	for _, l := range lines {
		switch l["message"] {
		case "account processed":
			account, _ := l["account"].(string)
			result, _ := l["result"].(string)
			if seen[account] {
				t.Errorf("two account lines for %q", account)
			}
			seen[account] = true
			if result != wantResult[account] {
				t.Errorf("%s: result %v, want %s: %v", account, l["result"], wantResult[account], l)
			}
			if l["severity"] != wantSeverity[result] {
				t.Errorf("%s (%s): severity %v, want %s", account, result, l["severity"], wantSeverity[result])
			}
			hl, has := l["hoursLeft"]
			switch {
			case withLife[account] && !isInteger(hl):
				t.Errorf("%s: hoursLeft %#v, want a JSON integer: %v", account, hl, l)
			case !withLife[account] && has:
				t.Errorf("%s: hoursLeft %v without a known expiry", account, hl)
			case has && l["expiresAt"] == nil:
				t.Errorf("%s: hoursLeft without expiresAt", account)
			}
			if p, has := l["platform"]; has && p != "threads" && p != "instagram" {
				t.Errorf("%s: platform %v", account, p)
			}
		case "refresh pass done":
			done++
			if l["severity"] != "INFO" || l["accounts"] != json.Number("5") || l["refreshed"] != json.Number("1") || l["failed"] != json.Number("2") {
				t.Errorf(`"refresh pass done" line %v, want INFO with accounts 5, refreshed 1, failed 2 as numbers`, l)
			}
			// The pass's duration, which the dashboard charts: a JSON
			// number of seconds (internal/refresh measures it).
			if s, ok := l["seconds"].(json.Number); !ok || s.String() == "" || strings.HasPrefix(s.String(), "-") {
				t.Errorf(`"refresh pass done" line %v, want seconds as a JSON number of at least 0`, l)
			}
		default:
			// Anything else is a per-account diagnostic: never ERROR, so
			// that ERROR lines are account lines and whole-pass failures.
			if l["severity"] == "ERROR" {
				t.Errorf("an ERROR line that is neither an account line nor a whole-pass failure: %v", l)
			}
		}
	}
	if len(seen) != len(wantResult) || done != 1 {
		t.Errorf("%d account lines, %d \"refresh pass done\" lines; want %d and 1", len(seen), done, len(wantResult))
	}
	// A hoursLeft a filter can compare: 60 days less a little after a
	// refresh.
	if got := r.lineOf(lines, "refreshed")["hoursLeft"]; got != json.Number("1439") {
		t.Errorf("refreshed: hoursLeft %v, want 1439", got)
	}
	// Whose clock the expiry is, and when the app's access to the user's
	// data ends (the earlier of the two is what hoursLeft counts down to).
	if l := r.lineOf(lines, "refreshed"); l["expiryFrom"] != "meta" || l["dataAccessExpiresAt"] == nil {
		t.Errorf("refreshed: expiryFrom %v, dataAccessExpiresAt %v; want meta and Meta's data-access expiry", l["expiryFrom"], l["dataAccessExpiresAt"])
	}

	// The answers carry hoursLeft as a number too (POST and GET).
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		r.Clock.Advance(time.Minute)
		rec, _ := r.serve(r.handler, method)
		var answer struct {
			Accounts []map[string]any `json:"accounts"`
		}
		dec := json.NewDecoder(rec.Body)
		dec.UseNumber()
		if err := dec.Decode(&answer); err != nil {
			t.Fatalf("%s answer: %v", method, err)
		}
		found := false
		for _, a := range answer.Accounts {
			if a["account"] == "refreshed" {
				found = true
				if a["hoursLeft"] != json.Number("1439") {
					t.Errorf("%s answer: refreshed has hoursLeft %#v, want the number 1439", method, a["hoursLeft"])
				}
			}
		}
		if !found {
			t.Errorf("%s answer lacks the account refreshed", method)
		}
	}
}

func (r *rig) lineOf(lines []map[string]any, account string) map[string]any {
	for _, l := range lines {
		if l["message"] == "account processed" && l["account"] == account {
			return l
		}
	}
	r.t.Fatalf("no account line for %s", account)
	return nil
}

// wholeFailure checks that lines are exactly one ERROR line with msg.
func wholeFailure(t *testing.T, what string, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	var errs []map[string]any
	for _, l := range lines {
		if l["severity"] == "ERROR" {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || errs[0]["message"] != msg {
		t.Fatalf("%s: ERROR lines %v, want exactly one with message %q", what, errs, msg)
	}
	return errs[0]
}

// TestWholePassFailures: a pass or status that cannot read the state logs
// one ERROR line of its own, which the "whole pass failed" alert counts.
func TestWholePassFailures(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.Engine.Accounts = func(context.Context) ([]refresh.Account, error) {
		return nil, errors.New("state store unreachable")
	}
	for method, msg := range map[string]string{http.MethodPost: "refresh pass failed", http.MethodGet: "reading status failed"} {
		rec, lines := r.serve(r.handler, method)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%s answered %d, want 500", method, rec.Code)
		}
		if l := wholeFailure(t, method, lines, msg); !strings.Contains(l["error"].(string), "unreachable") {
			t.Errorf("%s: the line does not give the error: %v", method, l)
		}
	}
}

// panicky is a refresh.Platform (the engine's own interface) that panics
// in the account's worker with a value that holds the token.
type panicky struct{}

func (panicky) Refresh(_ context.Context, token string) (graph.Token, error) {
	panic(&url.Error{Op: "Get", URL: "https://graph.threads.net/refresh_access_token?access_token=" + token, Err: errors.New("boom")})
}

func (p panicky) Inspect(ctx context.Context, _, token string) (graph.TokenInfo, error) {
	_, err := p.Refresh(ctx, token)
	return graph.TokenInfo{}, err
}

func (p panicky) Me(ctx context.Context, token string) (graph.User, error) {
	_, err := p.Refresh(ctx, token)
	return graph.User{}, err
}

// panickingEngine panics in the request's own goroutine.
type panickingEngine struct{ value any }

func (e panickingEngine) Pass(context.Context) (refresh.Report, error)   { panic(e.value) }
func (e panickingEngine) Status(context.Context) (refresh.Report, error) { panic(e.value) }
func (e panickingEngine) Watch(context.Context, time.Duration) (refresh.Watch, error) {
	panic(e.value)
}
func (e panickingEngine) Check(context.Context, string) (refresh.Report, error) { panic(e.value) }

// TestPanicIsOneErrorLine: a panic, in an account's worker or in the
// request, is answered 500 and logged as one ERROR line "panic" with the
// stack, never the panic value's text (it may hold a token), except the
// runtime's own error texts.
func TestPanicIsOneErrorLine(t *testing.T) {
	t.Parallel()
	const secret = "THAAsecretinapanicvalue"
	var nilMap map[string]int
	tests := []struct {
		name    string
		handler func(r *rig) http.Handler
		method  string
		inStack []string
	}{
		{"in an account worker", func(r *rig) http.Handler {
			r.Seed("main", 72*time.Hour)
			r.Engine.Platforms[payload.PlatformThreads] = panicky{}
			return r.handler
		}, http.MethodPost, []string{"panicky.Refresh", "a *url.Error"}},
		{"in the request", func(r *rig) http.Handler {
			return &httpapi.Handler{Engine: panickingEngine{errors.New("reading " + secret)}, Logger: r.handler.Logger}
		}, http.MethodGet, []string{"panickingEngine.Status", "a *errors.errorString"}},
		{"a runtime error", func(r *rig) http.Handler {
			return &httpapi.Handler{Engine: panickingEngine{func() (err error) {
				defer func() { err = recover().(error) }()
				nilMap["x"] = 1
				return nil
			}()}, Logger: r.handler.Logger}
		}, http.MethodPost, []string{"panic: assignment to entry in nil map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.secrets = append(r.secrets, secret)
			rec, lines := r.serve(tt.handler(r), tt.method)
			if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("answered %d %s, want 500 with an error", rec.Code, rec.Body.String())
			}
			l := wholeFailure(t, tt.name, lines, "panic")
			stack, _ := l["stack_trace"].(string)
			if !strings.HasPrefix(stack, "panic: ") || !strings.Contains(stack, "goroutine ") {
				t.Errorf("stack_trace is not a Go panic trace:\n%s", stack)
			}
			for _, want := range tt.inStack {
				if !strings.Contains(stack, want) {
					t.Errorf("stack_trace lacks %q:\n%s", want, stack)
				}
			}
			if l["panicType"] == nil {
				t.Errorf("no panicType: %v", l)
			}
			if strings.Contains(r.Logs.String(), "access_token=") || strings.Contains(r.Logs.String(), "reading THAA") {
				t.Errorf("the panic value's text was logged:\n%s", r.Logs.String())
			}
		})
	}
}

// TestAbortHandlerIsNotAFailure: http.ErrAbortHandler is net/http's way to
// abort a response; it passes through, unlogged.
func TestAbortHandlerIsNotAFailure(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	h := &httpapi.Handler{Engine: panickingEngine{http.ErrAbortHandler}, Logger: logging.New(&logs, slog.LevelDebug)}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler raised again", v)
		}
		if logs.String() != "" {
			t.Errorf("an aborted response was logged: %s", logs.String())
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
}
