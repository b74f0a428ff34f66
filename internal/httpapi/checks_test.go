package httpapi_test

// The watchdog's requests (checks.go): a POST whose body names a check. The
// lines they log are what the watchdog's alert reads (check "pipeline" or
// "alert-test", summary), so they are pinned here like the others, at
// LOG_LEVEL=error.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/httpapi"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// post sends one POST with body to the rig's handler, whose logger writes
// at LOG_LEVEL=error, and returns the answer and the lines it logged.
func (r *rig) post(body string) (*httptest.ResponseRecorder, []map[string]any) {
	r.t.Helper()
	h := &httpapi.Handler{Engine: r.Engine, Logger: logging.New(&r.Logs, slog.LevelError)}
	mark := len(r.Logs.String())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	lines := decodeLines(r.t, r.Logs.String()[mark:])
	r.Logs.Write(rec.Body.Bytes())
	return rec, lines
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for raw := range strings.Lines(out) {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, raw)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestPipelineCheck: {"check":"pipeline"} reads the state and, when a due
// account has waited longer than overdueAfter for a pass, logs one ERROR
// line "refreshes overdue" with check, summary and the counts, at
// LOG_LEVEL=error; a healthy pipeline logs no ERROR. It answers 200 either
// way, with the finding, and never refreshes anything.
func TestPipelineCheck(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.Seed("main", 72*time.Hour)
	r.Seed("brand", 72*time.Hour)
	if rec, _ := r.serve(r.handler, http.MethodPost); rec.Code != http.StatusOK {
		t.Fatalf("first pass answered %d", rec.Code)
	}
	calls := r.TH.TotalCalls()

	r.Clock.Advance(26 * time.Hour)
	rec, lines := r.post(`{"check":"pipeline","overdueAfter":"3h"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("healthy check answered %d %s", rec.Code, rec.Body.String())
	}
	if len(lines) != 0 {
		t.Errorf("a healthy check logged at LOG_LEVEL=error: %v", lines)
	}

	// No pass for 4 hours past due (a token is due from a second after
	// Meta's issue time, refresh.Engine's due rule): both are overdue.
	r.Clock.Advance(2*time.Hour + time.Minute)
	rec, lines = r.post(`{"check":"pipeline","overdueAfter":"3h"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("check answered %d %s, want 200: the check itself worked", rec.Code, rec.Body.String())
	}
	if len(lines) != 1 {
		t.Fatalf("check logged %d lines, want one: %v", len(lines), lines)
	}
	l := lines[0]
	summary, _ := l["summary"].(string)
	if l["severity"] != "ERROR" || l["message"] != "refreshes overdue" || l["check"] != "pipeline" ||
		l["overdue"] != json.Number("2") || l["accounts"] != json.Number("2") || l["overdueHours"] != json.Number("4") ||
		l["hoursLeft"] == nil || l["firstToDie"] == nil {
		t.Errorf("finding %v, want ERROR \"refreshes overdue\", check pipeline, 2 of 2 overdue for 4 h, the first to die", l)
	}
	if !strings.HasPrefix(summary, "2 of 2 accounts not refreshed or tried for 4 h") || !strings.Contains(summary, " h left") || len(summary) > 255 {
		t.Errorf("summary %q: want the finding in one line, under 255 bytes", summary)
	}
	var answer httpapi.PipelineAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Check != "pipeline" || answer.Overdue != 2 || answer.Summary != summary {
		t.Errorf("answer %s (%v), want the finding", rec.Body.String(), err)
	}
	if r.TH.TotalCalls() != calls {
		t.Error("the check called Threads")
	}

	// Without overdueAfter: three hours.
	if _, lines := r.post(`{"check":"pipeline"}`); len(lines) != 1 || lines[0]["overdue"] != json.Number("2") {
		t.Errorf("check with the default wait: %v, want both overdue", lines)
	}
}

// TestPipelineCheckFailure: a check that cannot read the state answers 500
// and logs one ERROR "pipeline check failed", which the function-error
// alert reads (it carries no check field).
func TestPipelineCheckFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.Engine.Accounts = func(context.Context) ([]refresh.Account, error) {
		return nil, errors.New("state store unreachable")
	}
	rec, lines := r.post(`{"check":"pipeline"}`)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("answered %d, want 500", rec.Code)
	}
	l := wholeFailure(t, "pipeline check", lines, "pipeline check failed")
	if _, has := l["check"]; has || !strings.Contains(l["error"].(string), "unreachable") {
		t.Errorf("line %v, want the error and no check field", l)
	}
}

// TestAlertTest: {"check":"alert-test"} logs one ERROR line labelled as a
// test (its summary, the alert's subject, starts with TEST), at
// LOG_LEVEL=error, and answers 200.
func TestAlertTest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rec, lines := r.post(` {"check": "alert-test"} `)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"check": "alert-test"`) {
		t.Errorf("answered %d %s, want 200", rec.Code, rec.Body.String())
	}
	l := wholeFailure(t, "alert test", lines, "alert delivery test")
	if l["check"] != "alert-test" || l["test"] != true || !strings.HasPrefix(l["summary"].(string), "TEST alert, nothing is wrong") {
		t.Errorf("line %v, want check alert-test, test true, a summary that says it is a test", l)
	}
}

// TestRequestBodies: no body, or {}, is a pass (what Cloud Scheduler's
// refresh job sends); any other body that is not one of the checks is
// refused with 400 and one sentence naming what is wrong, logs no ERROR and
// runs nothing.
func TestRequestBodies(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "  ", "{}"} {
		r := newRig(t)
		r.Seed("main", 72*time.Hour)
		rec, _ := r.post(body)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"refreshed": 1`) {
			t.Errorf("body %q: %d %s, want a pass", body, rec.Code, rec.Body.String())
		}
	}
	tests := []struct{ body, names string }{
		{`{"check":"everything"}`, `"check" is "everything"`},
		{`{"check":"pipeline","overdueAfter":"soon"}`, `"overdueAfter" is "soon"`},
		{`{"check":"pipeline","overdueAfter":"-1h"}`, `"overdueAfter" is "-1h"`},
		{`{"check":"alert-test","overdueAfter":"3h"}`, `"overdueAfter" goes with "check":"pipeline" only`},
		{`{"overdueAfter":"3h"}`, `"overdueAfter" goes with "check":"pipeline" only`},
		{`{"check":"pipeline","verbose":true}`, `unknown field "verbose"`},
		{`{"check":"account"}`, `"account" is ""`},
		{`{"check":"account","account":"../main"}`, `"account" is "../main"`},
		{`{"account":"main"}`, `"account" goes with "check":"account" only`},
		{`{"check":"pipeline","account":"main"}`, `"account" goes with "check":"account" only`},
		{`{"check":"account","account":"main","overdueAfter":"3h"}`, `"overdueAfter" goes with "check":"pipeline" only`},
		{`{"check":"pipeline"} {"check":"alert-test"}`, "more than one JSON value"},
		{`check=pipeline`, "not a request this function knows"},
		{`{"check":` + strings.Repeat(" ", 70<<10) + `"pipeline"}`, "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		r := newRig(t)
		r.Seed("main", 72*time.Hour)
		rec, lines := r.post(tt.body)
		var answer httpapi.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if rec.Code != http.StatusBadRequest || !strings.Contains(answer.Error, tt.names) || !strings.Contains(answer.Error, "send no body to run a pass") {
			t.Errorf("body %.60q: %d %q, want 400 naming %s and saying what to send", tt.body, rec.Code, answer.Error, tt.names)
		}
		if len(lines) != 0 || r.TH.TotalCalls() != 0 {
			t.Errorf("body %.60q: logged %v and made %d Threads calls, want nothing", tt.body, lines, r.TH.TotalCalls())
		}
	}
}
